/**
 * Whether a live encoder keeps up with its input, from ffmpeg's progress reports. Pure: the caller
 * passes wall-clock times.
 *
 * - **Edge lag**: how far the encoded edge is behind the arrival of the same media —
 *   `now − (mediaStartedAt + out_time)`, the same arithmetic as a part's EXT-X-PROGRAM-DATE-TIME
 *   against the wall clock (the packager anchors PDT on `mediaStartedAt`). At realtime it stays flat
 *   (encoder delay plus a part); below realtime it grows by `1 − speed` seconds every second.
 * - **Speed**: media seconds encoded per wall second over the last `windowMs` (ffmpeg's own `speed=` is
 *   an average since the run started, so a fast start hides a slow present for minutes).
 *
 * A channel is **behind** when its edge lag reaches `lagSeconds`, or when it has encoded slower than
 * `minSpeed` over a full window with the lag already past `minLagSeconds` (growing, not yet large).
 * It is caught up again once the lag is under half of `lagSeconds` and the speed back to ≥ `minSpeed`
 * (hysteresis: no flapping on the threshold). The first `warmupMs` of a run are not judged: a run
 * starts from the feed's last keyframe, a GOP in the past, and catches up faster than realtime.
 */

export interface RealtimeTrackerOptions {
  /** Edge lag that flags a channel by itself; default 3 s. */
  lagSeconds?: number;
  /** Windowed speed below which a channel with a growing lag is flagged; default 0.97. */
  minSpeed?: number;
  /** Lag a slow channel must already have before the speed alone flags it; default 1.5 s. */
  minLagSeconds?: number;
  /** Speed window; default 20 s. */
  windowMs?: number;
  /** Not judged after a run starts; default 10 s. */
  warmupMs?: number;
}

export interface RealtimeStatus {
  /** Seconds the encoded edge is behind the arrival of the same media; undefined before the first report. */
  edgeLagSeconds: number | undefined;
  /** Media seconds per wall second over the window; undefined until half a window of reports. */
  speed: number | undefined;
  behind: boolean;
  /** Why it is behind (for the channel's state reason), when it is. */
  reason?: string;
}

interface Sample {
  atMs: number;
  outTimeSec: number;
}

const DEFAULTS: Required<RealtimeTrackerOptions> = { lagSeconds: 3, minSpeed: 0.97, minLagSeconds: 1.5, windowMs: 20_000, warmupMs: 10_000 };

export class RealtimeTracker {
  private readonly options: Required<RealtimeTrackerOptions>;
  private samples: Sample[] = [];
  private status: RealtimeStatus = { edgeLagSeconds: undefined, speed: undefined, behind: false };

  constructor(
    /** Epoch ms the run started (spawn): the warm-up counts from it. */
    private readonly runStartedAtMs: number,
    options: RealtimeTrackerOptions = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
  }

  /** One progress report: `mediaStartedAtMs` is the arrival time of the run's first frame. Returns the new status. */
  update(atMs: number, outTimeSec: number, mediaStartedAtMs: number): RealtimeStatus {
    const { lagSeconds, minSpeed, minLagSeconds, windowMs, warmupMs } = this.options;
    this.samples.push({ atMs, outTimeSec });
    while (this.samples.length > 2 && this.samples[1]!.atMs <= atMs - windowMs) this.samples.shift();
    const first = this.samples[0]!;
    const span = atMs - first.atMs;
    const speed = span >= windowMs / 2 ? (outTimeSec - first.outTimeSec) / (span / 1000) : undefined;
    const edgeLagSeconds = (atMs - mediaStartedAtMs) / 1000 - outTimeSec;
    const judged = atMs - this.runStartedAtMs >= warmupMs;
    const fullWindow = span >= windowMs * 0.9;
    let behind = this.status.behind;
    let reason: string | undefined;
    if (!judged) behind = false;
    else if (!behind) {
      if (edgeLagSeconds >= lagSeconds) behind = true;
      else if (fullWindow && speed !== undefined && speed < minSpeed && edgeLagSeconds >= minLagSeconds) behind = true;
    } else if (edgeLagSeconds < lagSeconds / 2 && (speed === undefined || speed >= minSpeed)) behind = false;
    if (behind) {
      const at = speed !== undefined ? `encoding at ${speed.toFixed(2)}× realtime, ` : '';
      reason = `behind: ${at}edge ${edgeLagSeconds.toFixed(1)} s behind arrival`;
    }
    this.status = { edgeLagSeconds, speed, behind, ...(reason !== undefined ? { reason } : {}) };
    return this.status;
  }

  current(): RealtimeStatus {
    return this.status;
  }
}
