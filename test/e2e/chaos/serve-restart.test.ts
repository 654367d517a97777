/**
 * Chaos (issue 15, point 7): SIGTERM of `livepipe serve` (the CLI) while hls.js plays, then a restart
 * with the same config and data directory. The process exits cleanly; the restarted serve answers
 * every rendition's playlist (and the multivariant playlist) with 200 from the very first request;
 * the publisher comes back and the same playlists go on (numbers only increase, LL-HLS rules kept);
 * a new viewer plays without a fatal error.
 *
 * Not asserted: the viewer that watched through the restart. hls.js's defaults cannot ride it out: while the one process restarts (3–4 s in the bench, longer under load)
 * its origin answers held requests 503 and then refuses connections, and hls.js retries a failed
 * playlist load twice, after 1 s and 2 s, with one count shared by the audio and video playlists and
 * reset only by a video playlist update — so it gives up (`audioTrackLoadError`) about 3 s into the
 * outage, whatever the server does after. Nothing a single process can send while it is down changes
 * that; riding out the loss of a node with stock players belongs to the fleet (several nodes behind
 * the CDN, issue 13), and `npm run bench -- chaos` reports what a default viewer saw. A viewer whose
 * retries outlast the restart (`startLiveStage`'s `player` option, e.g. playlist and fragment
 * errorRetry of 12 × ≤ 4 s) should play on, since the playlists continue at the same URLs; that
 * case was written but could not be verified on the loaded machine of 2026-12-05, so it is not here.
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
