/**
 * Chaos (issue 15, point 7): SIGTERM of `livepipe serve` (the CLI) while hls.js plays, then a restart
 * with the same config and data directory. The process exits cleanly; the restarted serve answers
 * every rendition's playlist (and the multivariant playlist) with 200 from the very first request;
 * the publisher comes back and the same playlists go on (numbers only increase, LL-HLS rules kept);
 * a new viewer plays without a fatal error.
 *
 * Two deployments:
 * - serve binding its own port: the viewer who watched through the restart is not asserted. While
 *   the one process restarts its port refuses connections, and hls.js does not retry a refused
 *   playlist request (status 0: `retryForHttpStatus`), so a single refusal of the audio playlist is
 *   fatal; `npm run bench -- chaos` reports what that viewer saw.
 * - serve under a systemd-style socket unit (docker/systemd/livepipe.socket; the test holds the
 *   socket with systemd-socket-activate, see test/helpers/serve/socket-unit.ts): requests made
 *   while it restarts wait in the socket's queue, and the same viewer must play on with no fatal
 *   error. hls.js's playlist retries are few (two, one count shared by the audio and video
 *   playlists, reset by a video playlist update), so this also needs the restart and the
 *   publisher's return to be quick: the shutdown's 503s for held requests use both, the next
 *   blocking reload must then see media within its 3 target durations.
 */
import { describe, expect, it } from 'vitest';
import { observeFault, sigtermRestart, startChaosPlayer, summarize, useChaosStage, type LiveChaosStage } from '../../helpers/serve/chaos.js';

/**
 * SIGTERM + restart on `stage`, and what both deployments must show: a clean exit, every rendition
 * (and the multivariant playlist) 200 from the first request, the publisher back, the LL-HLS rules
 * kept, and the same playlists going on.
 */
async function restartAndCheck(stage: LiveChaosStage, fault: string) {
  const figures = await observeFault(fault, stage, () => sigtermRestart(stage), 4000);
  const d = figures.details;
  console.log(summarize(figures), JSON.stringify(d), JSON.stringify(figures.player.lastNonFatalErrors));
  expect(d.exitCode).toBe(0);
  expect(d.firstRequests).toEqual(Object.fromEntries([...stage.renditions, 'master'].map((r) => [r, 200])));
  expect(d.publisherBackLive).toBe(true);
  expect(figures.edge.violations).toEqual([]);
  for (const r of stage.renditions) expect(figures.edge.lastMsn[r]).toBeGreaterThan(d.lastMsnBefore[r]!);
  return figures;
}

describe('chaos: SIGTERM of serve and a restart on the same data directory', () => {
  const chaos = useChaosStage();

  it('serves every rendition from the first request after the restart, and a new viewer plays', async () => {
    const stage = await chaos.start();
    await restartAndCheck(stage, 'SIGTERM + restart');

    const fresh = await startChaosPlayer(chaos.browser, stage.serve);
    const played = await fresh.waitFor((s) => s.currentTime > 3 || s.fatalErrors.length > 0, 20_000);
    await fresh.close();
    expect(played.fatalErrors).toEqual([]);
    expect(played.currentTime).toBeGreaterThan(3);
  });

  it('under a socket unit (systemd socket activation), the viewer who watched through the restart plays on', async () => {
    const stage = await chaos.start({ socketActivation: true });
    const figures = await restartAndCheck(stage, 'SIGTERM + restart (socket unit)');
    // The same viewer: no fatal error, and it plays on past the restart.
    expect(figures.player.fatalErrors).toEqual([]);
    const before = (await stage.player.stats()).currentTime;
    const after = await stage.player.waitFor((s) => s.currentTime > before + 3 || s.fatalErrors.length > 0, 30_000);
    expect(after.fatalErrors).toEqual([]);
    expect(after.currentTime).toBeGreaterThan(before + 3);
  });
});
