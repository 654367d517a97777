/**
 * Chaos (issue 15, point 1): the transcoder's ffmpeg is SIGKILLed again and again while hls.js plays
 * the channel. Scaled down from the 10 kills 6 s apart (`npm run bench -- chaos` runs those):
 * 7 kills 3 s apart, more failures in a minute than the old restart policy tolerated before giving
 * up. The channel must keep retrying and stay live, the player must go on without a fatal error,
 * media sequence numbers only increase, and every playlist served meets the LL-HLS rules.
 */
import { describe, expect, it } from 'vitest';
import { encoderKills, observeFault, servePid, summarize, transcoderPids, useChaosStage } from '../../helpers/serve/chaos.js';

const KILLS = 7;
const SPACING_MS = 3000;

describe('chaos: repeated encoder SIGKILLs while hls.js plays', () => {
  const chaos = useChaosStage();

  it(`${KILLS} kills ${SPACING_MS} ms apart: the channel keeps retrying, playback goes on, playlists stay valid`, async () => {
    const stage = await chaos.start();
    expect(transcoderPids(servePid(stage.serve))).toHaveLength(1);

    const figures = await observeFault('encoder kills', stage, () => encoderKills(stage.serve, KILLS, SPACING_MS), 4000);
    console.log(summarize(figures), JSON.stringify(figures.details));

    // Valid playlists only, numbers only increasing, renditions in step.
    expect(figures.edge.violations).toEqual([]);
    expect(figures.edge.failedPolls).toEqual({});
    for (const r of stage.renditions) expect(figures.edge.lastMsn[r]).toBeGreaterThan(0);
    // Every kill found a running transcoder: the supervisor restarted it each time.
    expect(figures.details.kills, 'kills that found a running transcoder').toBe(KILLS);
    // Still retrying, not given up (a crash loop with the publisher connected is not `failed`).
    expect(figures.details.finalState, 'channel state after the kills').toBe('live');
    expect(figures.edge.ended).toBe(false);
    // The watcher saw the playlists move all along (a channel that gave up stops changing them).
    expect(figures.edge.playlistsChecked).toBeGreaterThan(KILLS * 5);
    expect(transcoderPids(servePid(stage.serve))).toHaveLength(1);
    // The viewer goes on.
    expect(figures.player.fatalErrors).toEqual([]);
    expect(figures.player.playedSeconds).toBeGreaterThan(figures.wallSeconds * 0.5);
  });
});
