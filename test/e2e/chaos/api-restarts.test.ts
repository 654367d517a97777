/**
 * Chaos (issue 15): 20 operator restarts in 10 s through the ops API
 * (`POST /api/v1/channels/{id}/restart`, not awaiting each other) while hls.js plays. Every answer
 * is a success or the documented error shape; the player goes on without a fatal error; every
 * playlist served meets the LL-HLS rules, numbers only increase; the channel is live afterwards and
 * its edge moves again.
 */
import { describe, expect, it } from 'vitest';
import { apiRestarts, observeFault, summarize, useChaosStage } from '../../helpers/serve/chaos.js';
import { mediaPlaylist, lastMsn } from '../../helpers/serve/serve-fixture.js';
import { waitFor } from '../../helpers/wait.js';

describe('chaos: 20 API restarts in 10 s while hls.js plays', () => {
  const chaos = useChaosStage();

  it('answers every call, keeps playlists valid, and the player never fails', async () => {
    const stage = await chaos.start();
    const figures = await observeFault('API restarts', stage, () => apiRestarts(stage.serve, 20, 10_000), 5000);
    console.log(summarize(figures), JSON.stringify(figures.details));

    const answered = Object.entries(figures.details.statuses).reduce((n, [, c]) => n + c, 0);
    expect(answered).toBe(20);
    expect(figures.details.statuses['0'], 'calls without an answer').toBeUndefined();
    expect(Object.keys(figures.details.statuses).every((s) => Number(s) < 500), JSON.stringify(figures.details.statuses)).toBe(true);
    expect(figures.details.statuses['200'] ?? 0).toBeGreaterThan(0);
    expect(figures.details.badErrorShapes).toEqual([]);

    expect(figures.edge.violations).toEqual([]);
    expect(figures.edge.failedPolls).toEqual({});
    expect(figures.player.fatalErrors).toEqual([]);
    expect(figures.details.finalState).toBe('live');
    expect(figures.edge.ended).toBe(false);

    // The edge moves again after the last restart, in every rendition.
    const base = stage.serve.live('chaos');
    for (const r of stage.renditions) {
      const now = lastMsn((await mediaPlaylist(base, r))!);
      await waitFor(async () => {
        const p = await mediaPlaylist(base, r);
        return p !== undefined && lastMsn(p) >= now + 2 ? p : undefined;
      }, { message: `${r} advancing after the restarts`, timeoutMs: 20_000 });
    }
    const after = await stage.player.waitFor((s) => s.fatalErrors.length > 0, 3000);
    expect(after.fatalErrors).toEqual([]);
  }, 240_000); // ~40–80 s on a quiet machine; one run under load took 110 s
});
