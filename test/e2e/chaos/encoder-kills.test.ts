/**
 * Chaos (issue 15, point 1): the transcoder's ffmpeg is SIGKILLed again and again while hls.js plays
 * the channel: the 10 kills 6 s apart (as `npm run bench -- chaos`), more failures in a
 * minute than the old restart policy tolerated before giving up. The channel must keep retrying and stay live, the player must go on without a
 * fatal error, media sequence numbers only increase, and every playlist served meets the LL-HLS rules.
 *
 * The spacing. While the encoder is down the packager fills each rendition with the last
 * picture held and silence (`OutageFill`). Until it did (GAP parts), hls.js sometimes stood still
 * 10–40 s in front of the hole an encoder restart leaves — GAP parts are skipped in low-latency mode
 * without being tracked, so its gap controller could not "walk" the hole — about 1 run in 7, and one CI
 * run ended inside such a stall (27 % advance). The share of wall time spent advancing is asserted at
 * 85 % here (on a machine that may be loaded); the target, ≥ 90 %, is what
 * `npm run bench -- chaos` reports (98–99 % on a quiet machine). The hls.js log is printed when the share falls below the
 * bar (or written to LIVEPIPE_DUMP_HLS_LOG).
 */
import { writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { encoderKills, observeFault, servePid, summarize, transcoderPids, useChaosStage } from '../../helpers/serve/chaos.js';

const KILLS = 10;
const SPACING_MS = 6000;
const MIN_ADVANCE_SHARE = 0.85;

describe('chaos: repeated encoder SIGKILLs while hls.js plays', () => {
  const chaos = useChaosStage();

  it(`${KILLS} kills ${SPACING_MS} ms apart: the channel keeps retrying, playback goes on, playlists stay valid`, async () => {
    const stage = await chaos.start({ player: { hlsConfig: { captureLog: true } } });
    expect(transcoderPids(servePid(stage.serve))).toHaveLength(1);

    const figures = await observeFault('encoder kills', stage, () => encoderKills(stage.serve, KILLS, SPACING_MS), 4000);
    const stalls = JSON.stringify({ longStalls: figures.player.longStalls, lastNonFatalErrors: figures.player.lastNonFatalErrors });
    console.log(summarize(figures), JSON.stringify(figures.details), stalls);

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
    if (figures.player.advanceShare < MIN_ADVANCE_SHARE || process.env.LIVEPIPE_DUMP_HLS_LOG) {
      // What hls.js said while it stood still (its warnings, and its stall / gap / seek decisions).
      const log = await stage.player.logTail();
      if (process.env.LIVEPIPE_DUMP_HLS_LOG) await writeFile(process.env.LIVEPIPE_DUMP_HLS_LOG, log.join('\n'));
      const said = log.filter((l) => / (warn|error) |stall|gap|hole|seek|nudge|retry|Loading fragment/i.test(l));
      console.log('hls.js log (filtered):\n' + said.slice(-300).join('\n'));
    }
    // The viewer goes on advancing through the kills, not standing still at a restart's hole.
    expect(figures.player.advanceShare, stalls).toBeGreaterThanOrEqual(MIN_ADVANCE_SHARE);
  }, 240_000);
});
