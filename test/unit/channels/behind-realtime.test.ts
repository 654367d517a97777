/**
 * `BehindRealtime` on its own: the realtime metric and log as statuses come in, when the channel is
 * told to lighten, the lighter ladders of `cheaper-preset` / `drop-top-rendition` asked of the
 * supervisor (a recording stand-in for its `reconfigure`), the adjustment's metric and view, and the
 * reset of a new publish session. The ladder is the real `low-latency` from ladders/; the logger a
 * real pino logger kept in memory.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { BehindRealtime } from '../../../src/channels/behind-realtime.js';
import type { ChannelMetricsPort } from '../../../src/channels/channel-ports.js';
import { loadLadder, resolveLadder, type ResolvedVideoRendition } from '../../../src/ladder/ladder-loader.js';
import type { Ladder } from '../../../src/ladder/ladder-schema.js';
import type { BehindPolicy } from '../../../src/transcode/behind-policy.js';
import type { RealtimeStatus } from '../../../src/transcode/realtime-tracker.js';
import { captureLogger } from '../../helpers/logs/api-log-capture.js';

const BEHIND: RealtimeStatus = { behind: true, edgeLagSeconds: 4.2, speed: 0.6, reason: 'behind: encoding at 0.60× realtime, edge 4.2 s behind arrival' };
const CAUGHT_UP: RealtimeStatus = { behind: false, edgeLagSeconds: 0.5, speed: 1.02 };

let configured: Ladder;
/** What a run of `low-latency` encodes from a 1280x720 source: 720p, 480p, 360p. */
let encoded: ResolvedVideoRendition[];

beforeAll(async () => {
  configured = (await loadLadder('low-latency')).ladder;
  encoded = resolveLadder(configured, { width: 1280, height: 720, frameRate: 30, hasAudio: true }).video;
});

class RecordingMetrics implements Pick<ChannelMetricsPort, 'setChannelRealtime' | 'setChannelLadderAdjustment'> {
  readonly realtime: Array<{ edgeLagSeconds: number | undefined; behind: boolean }> = [];
  readonly adjustments: Array<{ presetSteps: number; droppedRenditions: number }> = [];
  setChannelRealtime(channel: string, realtime: { edgeLagSeconds: number | undefined; behind: boolean }): void {
    expect(channel).toBe('news');
    this.realtime.push(realtime);
  }
  setChannelLadderAdjustment(channel: string, adjustment: { presetSteps: number; droppedRenditions: number }): void {
    expect(channel).toBe('news');
    this.adjustments.push(adjustment);
  }
}

/** The supervisor's `reconfigure`: records each ladder asked for; `accepts` false refuses them (no run to restart). */
class RecordingSupervisor {
  readonly reconfigured: Array<{ ladder: Ladder; reason: string }> = [];
  accepts = true;
  reconfigure(ladder: Ladder, reason: string): boolean {
    if (this.accepts) this.reconfigured.push({ ladder, reason });
    return this.accepts;
  }
}

function setup(policy: BehindPolicy) {
  const metrics = new RecordingMetrics();
  const logs = captureLogger();
  const behindRealtime = new BehindRealtime({ channel: 'news', policy, logger: logs.logger, metrics });
  const supervisor = new RecordingSupervisor();
  return { behindRealtime, metrics, logs, supervisor };
}

const presets = (ladder: Ladder) => ladder.video.map((v) => `${v.name} ${v.preset}`);

describe('BehindRealtime', () => {
  it('reports every status as a metric, logs only when behind flips, and says when the encoder just fell behind', () => {
    const { behindRealtime, metrics, logs } = setup('warn');
    expect(behindRealtime.onRealtime(CAUGHT_UP)).toBe(false);
    expect(behindRealtime.onRealtime(BEHIND)).toBe(true);
    expect(behindRealtime.onRealtime(BEHIND)).toBe(false);
    expect(behindRealtime.onRealtime(CAUGHT_UP)).toBe(false);
    expect(metrics.realtime).toEqual([
      { edgeLagSeconds: 0.5, behind: false },
      { edgeLagSeconds: 4.2, behind: true },
      { edgeLagSeconds: 4.2, behind: true },
      { edgeLagSeconds: 0.5, behind: false },
    ]);
    expect(logs.lines().map((l) => [l.level, l.msg])).toEqual([
      [40, `channel ${BEHIND.reason}`],
      [30, 'channel caught up with realtime'],
    ]);
  });

  it('clears the realtime metric when the encoder stops, and judges the next one afresh', () => {
    const { behindRealtime, metrics } = setup('warn');
    behindRealtime.encoderStopped(false);
    expect(metrics.realtime).toEqual([]); // nothing ran, nothing reported
    behindRealtime.onRealtime(BEHIND);
    behindRealtime.encoderStopped(false);
    expect(metrics.realtime.at(-1)).toEqual({ edgeLagSeconds: undefined, behind: false });
    expect(behindRealtime.onRealtime(BEHIND)).toBe(true);
    behindRealtime.encoderStopped(true);
    behindRealtime.encoderStopped(true);
    expect(metrics.realtime.slice(-2)).toEqual([
      { edgeLagSeconds: undefined, behind: false },
      { edgeLagSeconds: undefined, behind: false },
    ]);
  });

  it('runs the ladder as configured until the policy lightens it', () => {
    const { behindRealtime } = setup('cheaper-preset');
    expect(behindRealtime.ladderFor(configured)).toBe(configured);
    expect(behindRealtime.ladderAdjustment()).toEqual({ policy: 'cheaper-preset', baseLadder: configured, adjustment: { presetSteps: 0, droppedRenditions: [] } });
  });

  it.each(['warn', 'refuse-new'] as const)('%s: never restarts the encoder', (policy) => {
    const { behindRealtime, supervisor, metrics } = setup(policy);
    behindRealtime.ladderFor(configured);
    behindRealtime.onRealtime(BEHIND);
    behindRealtime.lighten(supervisor, encoded, BEHIND);
    expect(supervisor.reconfigured).toEqual([]);
    expect(metrics.adjustments).toEqual([]);
  });

  it('cheaper-preset: one x264 step faster each time it falls behind again, down to ultrafast; the next supervisor starts on it; a reset goes back', () => {
    const { behindRealtime, supervisor, metrics, logs } = setup('cheaper-preset');
    behindRealtime.ladderFor(configured);
    expect(behindRealtime.onRealtime(BEHIND)).toBe(true);
    behindRealtime.lighten(supervisor, encoded, BEHIND);
    expect(supervisor.reconfigured).toHaveLength(1);
    expect(presets(supervisor.reconfigured[0]!.ladder)).toEqual(['720p superfast', '480p superfast', '360p superfast']);
    expect(supervisor.reconfigured[0]!.reason).toBe(`behind realtime (${BEHIND.reason}): x264 preset one step faster (720p veryfast → superfast, 480p veryfast → superfast, 360p veryfast → superfast)`);
    expect(metrics.adjustments).toEqual([{ presetSteps: 1, droppedRenditions: 0 }]);
    expect(logs.lines().at(-1)).toMatchObject({ level: 40, policy: 'cheaper-preset', presetSteps: 1, msg: `encoder restarted on a lighter ladder: ${supervisor.reconfigured[0]!.reason}` });

    // The restarted run is judged afresh: still behind after its warm-up, it goes one step further.
    expect(behindRealtime.onRealtime(BEHIND)).toBe(true);
    behindRealtime.lighten(supervisor, encoded, BEHIND);
    expect(presets(supervisor.reconfigured[1]!.ladder)).toEqual(['720p ultrafast', '480p ultrafast', '360p ultrafast']);
    expect(behindRealtime.onRealtime(BEHIND)).toBe(true);
    behindRealtime.lighten(supervisor, encoded, BEHIND);
    expect(supervisor.reconfigured).toHaveLength(2);
    expect(logs.lines().at(-1)).toMatchObject({ level: 40, msg: 'behind realtime: the policy can lighten the ladder no further', why: 'every encoded rendition is at ultrafast already' });

    // An operator restart within the session keeps the lighter ladder.
    expect(presets(behindRealtime.ladderFor(configured))).toEqual(['720p ultrafast', '480p ultrafast', '360p ultrafast']);
    expect(behindRealtime.ladderAdjustment().adjustment).toEqual({ presetSteps: 2, droppedRenditions: [] });

    behindRealtime.resetAdjustment();
    expect(metrics.adjustments.at(-1)).toEqual({ presetSteps: 0, droppedRenditions: 0 });
    expect(behindRealtime.ladderFor(configured)).toBe(configured);
  });

  it('drop-top-rendition: drops the largest encoded rendition each time, never the last one', () => {
    const { behindRealtime, supervisor, metrics } = setup('drop-top-rendition');
    behindRealtime.ladderFor(configured);
    behindRealtime.onRealtime(BEHIND);
    behindRealtime.lighten(supervisor, encoded, BEHIND);
    expect(supervisor.reconfigured[0]!.ladder.video.map((v) => v.name)).toEqual(['480p', '360p']);
    expect(supervisor.reconfigured[0]!.reason).toBe(`behind realtime (${BEHIND.reason}): top rendition 720p dropped (2 video renditions left)`);
    expect(metrics.adjustments).toEqual([{ presetSteps: 0, droppedRenditions: 1 }]);

    const onlyLast = encoded.filter((v) => v.name === '360p');
    behindRealtime.onRealtime(BEHIND);
    behindRealtime.lighten(supervisor, onlyLast, BEHIND);
    expect(supervisor.reconfigured).toHaveLength(1);
  });

  it('keeps its adjustment and stays behind when the supervisor has no run to restart', () => {
    const { behindRealtime, supervisor, metrics } = setup('cheaper-preset');
    behindRealtime.ladderFor(configured);
    supervisor.accepts = false;
    behindRealtime.onRealtime(BEHIND);
    behindRealtime.lighten(supervisor, encoded, BEHIND);
    expect(metrics.adjustments).toEqual([]);
    expect(behindRealtime.ladderAdjustment().adjustment).toEqual({ presetSteps: 0, droppedRenditions: [] });
    // Still flagged behind: the next behind status is no new fall.
    expect(behindRealtime.onRealtime(BEHIND)).toBe(false);
  });

  it('does nothing before a ladder ran, or for a supervisor that cannot be reconfigured', () => {
    const { behindRealtime, supervisor, metrics } = setup('cheaper-preset');
    behindRealtime.onRealtime(BEHIND);
    behindRealtime.lighten(supervisor, encoded, BEHIND);
    behindRealtime.ladderFor(configured);
    behindRealtime.lighten({}, encoded, BEHIND);
    expect(supervisor.reconfigured).toEqual([]);
    expect(metrics.adjustments).toEqual([]);
  });

  it('reports no adjustment metric for a reset of a ladder running as configured', () => {
    const { behindRealtime, metrics } = setup('cheaper-preset');
    behindRealtime.resetAdjustment();
    behindRealtime.resetAdjustment();
    expect(metrics.adjustments).toEqual([]);
  });
});
