/**
 * Chaos (issue 15, point 7): SIGTERM of `livepipe serve` (the CLI) while hls.js plays, then a restart
 * with the same config and data directory. The process exits cleanly; the restarted serve answers
 * every rendition's playlist (and the multivariant playlist) with 200 from the very first request;
 * the publisher comes back and the same playlists go on (numbers only increase, LL-HLS rules kept);
 * a new viewer plays without a fatal error.
 *
 * Not asserted: the viewer that watched through the restart. While one process restarts (2–4 s
 * here) its origin answers held requests 503 and then refuses connections; hls.js's default retries
 * for the audio playlist give up within that (`audioTrackLoadError`), so that viewer must reload.
 * Riding out the loss of a process belongs to the fleet (several nodes behind the CDN, issue 13);
 * the bench reports what the viewer saw.
 */
import { describe, expect, it } from 'vitest';
import { observeFault, sigtermRestart, startChaosPlayer, summarize, useChaosStage } from '../../helpers/serve/chaos.js';

describe('chaos: SIGTERM of serve and a restart on the same data directory', () => {
  const chaos = useChaosStage();

  it('serves every rendition from the first request after the restart, and a new viewer plays', async () => {
    const stage = await chaos.start();
    const figures = await observeFault('SIGTERM + restart', stage, () => sigtermRestart(stage), 4000);
    const d = figures.details;
    console.log(summarize(figures), JSON.stringify(d), JSON.stringify(figures.player.lastNonFatalErrors));

    expect(d.exitCode).toBe(0);
    expect(d.firstRequests).toEqual(Object.fromEntries([...stage.renditions, 'master'].map((r) => [r, 200])));
    expect(d.publisherBackLive).toBe(true);
    expect(figures.edge.violations).toEqual([]);
    for (const r of stage.renditions) expect(figures.edge.lastMsn[r]).toBeGreaterThan(d.lastMsnBefore[r]!);

    const fresh = await startChaosPlayer(chaos.browser, stage.serve);
    const played = await fresh.waitFor((s) => s.currentTime > 3 || s.fatalErrors.length > 0, 20_000);
    await fresh.close();
    expect(played.fatalErrors).toEqual([]);
    expect(played.currentTime).toBeGreaterThan(3);
  });
});
