/**
 * When to restart a crashed ffmpeg run, and when to give up. Pure: time and randomness come in.
 *
 * Backoff: `min(maxDelay, initialDelay × 2^(n-1))` for the n-th consecutive failure, with "full
 * jitter" on the upper half (`delay × (0.5 + 0.5 × random())`) so that channels crashed by the same
 * event (a shared storage outage, a machine hiccup) do not restart in lockstep.
 * A run that stayed up for `stableAfterMs` resets the consecutive count.
 *
 * Crash-loop guard: more than `maxRestarts` failures within `windowMs` → give up (`failed`).
 */
export interface RestartPolicyOptions {
  /** First backoff; default 500 ms. */
  initialDelayMs?: number;
  /** Backoff ceiling; default 15 s. */
  maxDelayMs?: number;
  /** Failures tolerated within `windowMs`; default 5. */
  maxRestarts?: number;
  /** Crash-loop window; default 60 s. */
  windowMs?: number;
  /** A run this long resets the backoff; default 30 s. */
  stableAfterMs?: number;
}

export type RestartDecision = { restart: true; delayMs: number } | { restart: false; reason: string };

export class RestartPolicy {
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxRestarts: number;
  private readonly windowMs: number;
  private readonly stableAfterMs: number;
  private failures: number[] = [];
  private consecutive = 0;

  constructor(
    options: RestartPolicyOptions = {},
    private readonly random: () => number = Math.random,
  ) {
    this.initialDelayMs = options.initialDelayMs ?? 500;
    this.maxDelayMs = options.maxDelayMs ?? 15_000;
    this.maxRestarts = options.maxRestarts ?? 5;
    this.windowMs = options.windowMs ?? 60_000;
    this.stableAfterMs = options.stableAfterMs ?? 30_000;
  }

  /** Records a failed run (`now` and how long it ran) and decides. */
  onFailure(now: number, runDurationMs: number): RestartDecision {
    if (runDurationMs >= this.stableAfterMs) this.consecutive = 0;
    this.failures = this.failures.filter((t) => now - t < this.windowMs);
    this.failures.push(now);
    this.consecutive += 1;
    if (this.failures.length > this.maxRestarts) {
      return {
        restart: false,
        reason: `crash loop: ${this.failures.length} failures within ${Math.round(this.windowMs / 1000)} s (limit ${this.maxRestarts})`,
      };
    }
    const base = Math.min(this.maxDelayMs, this.initialDelayMs * 2 ** (this.consecutive - 1));
    return { restart: true, delayMs: Math.round(base * (0.5 + 0.5 * this.random())) };
  }

  /** Failures currently inside the window. */
  recentFailures(now: number): number {
    return this.failures.filter((t) => now - t < this.windowMs).length;
  }
}
