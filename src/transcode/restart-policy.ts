/**
 * When to restart a crashed ffmpeg run. Pure: time and randomness come in.
 *
 * Viewers at the live edge wait for every millisecond of a restart (a blocking playlist reload
 * answers 503 after 3 target durations), so the policy restarts at once and backs off only when
 * restarting does not help:
 * - the first failure of a series restarts immediately (delay 0);
 * - each further *fast* failure in a row (the run failed before it had worked — encoded — for
 *   `stableAfterMs`) waits `min(maxDelayMs, backoffDelayMs × 2^(n-2))` for the n-th failure of the
 *   series, with "full
 *   jitter" on the upper half (`delay × (0.5 + 0.5 × random())`) so that channels crashed by the same
 *   event (a shared storage outage, a machine hiccup) do not restart in lockstep;
 * - a run that worked for `stableAfterMs` was healthy: it ends the series (the next failure restarts
 *   at once again). `onHealthy()` ends it as soon as the run reaches that age, without waiting for it
 *   to fail.
 * With the defaults the delays of a series are 0, 250, 500, 1000, 2000, 2000 … ms (before jitter):
 * an encoder that keeps failing is retried every ≤ 2 s for as long as its caller wants.
 *
 * A series of `crashLoopAfter` or more fast failures is a crash loop (`crashLooping()`), reported by
 * the supervisor; `failingSince()` is when the series began, which the channel uses to end a stream
 * whose encoder has been failing for too long (while it keeps retrying).
 *
 * An optional guard gives up (`restart: false`) after more than `maxRestarts` failures within
 * `windowMs`: for one-shot jobs (a file transcode). Live channels leave it off and never give up
 * while their publisher is connected.
 */
export interface RestartPolicyOptions {
  /** Delay before the second restart of a series of fast failures; doubles with each further one. Default 250 ms. */
  backoffDelayMs?: number;
  /** Backoff ceiling; default 2 s. */
  maxDelayMs?: number;
  /** A run that worked (encoded) this long was healthy: the next failure starts a new series (restarted at once). Default 5 s. */
  stableAfterMs?: number;
  /** Fast failures in a row from which the encoder counts as crash-looping; default 3. */
  crashLoopAfter?: number;
  /** Give up after more than this many failures within `windowMs`; default: never give up. */
  maxRestarts?: number;
  /** Window of the give-up guard; default 60 s. */
  windowMs?: number;
}

export type RestartDecision = { restart: true; delayMs: number } | { restart: false; reason: string };

export const DEFAULT_RESTART_POLICY = {
  backoffDelayMs: 250,
  maxDelayMs: 2_000,
  stableAfterMs: 5_000,
  crashLoopAfter: 3,
  windowMs: 60_000,
} as const;

export class RestartPolicy {
  private readonly backoffDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly stableAfterMs: number;
  private readonly crashLoopAfter: number;
  private readonly maxRestarts: number | undefined;
  private readonly windowMs: number;
  private failures: number[] = [];
  /** Fast failures in the current series. */
  private consecutive = 0;
  /** When the current series began (its first failure); undefined while healthy. */
  private seriesStart: number | undefined;

  constructor(
    options: RestartPolicyOptions = {},
    private readonly random: () => number = Math.random,
  ) {
    this.backoffDelayMs = options.backoffDelayMs ?? DEFAULT_RESTART_POLICY.backoffDelayMs;
    this.maxDelayMs = options.maxDelayMs ?? DEFAULT_RESTART_POLICY.maxDelayMs;
    this.stableAfterMs = options.stableAfterMs ?? DEFAULT_RESTART_POLICY.stableAfterMs;
    this.crashLoopAfter = options.crashLoopAfter ?? DEFAULT_RESTART_POLICY.crashLoopAfter;
    this.maxRestarts = options.maxRestarts;
    this.windowMs = options.windowMs ?? DEFAULT_RESTART_POLICY.windowMs;
  }

  /** How long a run must live to count as healthy, ms. */
  get healthyAfterMs(): number {
    return this.stableAfterMs;
  }

  /**
   * Records a failed run and decides. `runDurationMs`: how long the run worked — the supervisor
   * passes spawn → last encoded frame, so a run that hung without encoding never counts as healthy.
   */
  onFailure(now: number, runDurationMs: number): RestartDecision {
    if (runDurationMs >= this.stableAfterMs) this.onHealthy();
    this.failures = this.failures.filter((t) => now - t < this.windowMs);
    this.failures.push(now);
    this.consecutive += 1;
    this.seriesStart ??= now;
    if (this.maxRestarts !== undefined && this.failures.length > this.maxRestarts) {
      return {
        restart: false,
        reason: `crash loop: ${this.failures.length} failures within ${Math.round(this.windowMs / 1000)} s (limit ${this.maxRestarts})`,
      };
    }
    if (this.consecutive === 1) return { restart: true, delayMs: 0 };
    const base = Math.min(this.maxDelayMs, this.backoffDelayMs * 2 ** (this.consecutive - 2));
    return { restart: true, delayMs: Math.round(base * (0.5 + 0.5 * this.random())) };
  }

  /** The current run has worked for `stableAfterMs`: the series of failures is over. Returns whether one was. */
  onHealthy(): boolean {
    const was = this.seriesStart !== undefined;
    this.consecutive = 0;
    this.seriesStart = undefined;
    return was;
  }

  /** Fast failures in a row so far (0 once a run was healthy). */
  consecutiveFailures(): number {
    return this.consecutive;
  }

  /** `crashLoopAfter` or more fast failures in a row. */
  crashLooping(): boolean {
    return this.consecutive >= this.crashLoopAfter;
  }

  /** Epoch ms of the first failure of the current series; undefined when no run failed since the last healthy one. */
  failingSince(): number | undefined {
    return this.seriesStart;
  }

  /** Failures currently inside the window. */
  recentFailures(now: number): number {
    return this.failures.filter((t) => now - t < this.windowMs).length;
  }
}
