/**
 * The timing of one writer lease, as pure state: when this node may still write, and when it should
 * renew. No timers, no Redis: `ChannelLeases` feeds it the instants (monotonic ms, `performance.now()`).
 *
 * Why the deadline counts from when a renewal was SENT: Redis starts the new expiry when it executes
 * the PEXPIRE, which is at or after the moment we sent it. So `sentAt + ttl` is never later than the
 * expiry Redis holds, whatever the network and Redis took. A node writes only before
 * `sentAt + ttl − safetyMargin`; the margin covers clock-rate drift between the hosts and the time
 * between the write gate's check and the bytes leaving the process. A frozen process (SIGSTOP, a long
 * GC pause) checks the same deadline when it wakes, at the write gate itself, before any timer had a
 * chance to run: it finds the deadline past and writes nothing.
 */

/** Lease settings (the service config's `cluster.lease`). */
export interface LeaseTimingSettings {
  /** Expiry of the lease key in Redis, ms (default 1200). */
  ttlMs: number;
  /** How often the holder renews, ms (default 300; at most half of ttlMs − safetyMarginMs). */
  renewIntervalMs: number;
  /** How long before the TTL runs out (from the renewal's send time) the holder stops writing, ms (default 300). */
  safetyMarginMs: number;
}

/**
 * The defaults of `cluster.lease` (the config schema repeats them). 1.2 s: a dead writer's lease is
 * gone at most 1.2 s after its last renewal, which with the new writer's start (~0.5 s) aims at
 * failover under 2 s (bench/failover.bench.ts); a node must confirm a renewal every 0.9 s to keep writing, and
 * loses the channel after 1.2 s without one (an event-loop or Redis stall that long). Renewals every
 * 0.3 s: one may be lost without the writer stopping (2 × 300 ≤ 1200 − 300).
 */
export const DEFAULT_LEASE_TIMING: LeaseTimingSettings = Object.freeze({ ttlMs: 1200, renewIntervalMs: 300, safetyMarginMs: 300 });

/** Throws unless the settings leave a holder time to renew before it must stop writing. */
export function validateLeaseTiming(settings: LeaseTimingSettings): void {
  const { ttlMs, renewIntervalMs, safetyMarginMs } = settings;
  if (!(ttlMs > 0 && renewIntervalMs > 0 && safetyMarginMs >= 0)) throw new RangeError('lease timings must be positive');
  if (safetyMarginMs >= ttlMs) throw new RangeError(`lease safetyMarginMs (${safetyMarginMs}) must be below ttlMs (${ttlMs})`);
  // Two renewals must fit in the writable window, so one lost renewal does not stop the writer.
  if (2 * renewIntervalMs > ttlMs - safetyMarginMs) {
    throw new RangeError(`lease renewIntervalMs (${renewIntervalMs}) must be at most half of ttlMs − safetyMarginMs (${ttlMs - safetyMarginMs})`);
  }
}

/**
 * One held lease: its epoch (the fencing token) and the instant this node may write until. Created
 * when an acquisition succeeded (sent at `sentAt`), extended by each confirmed renewal.
 */
export class LeaseTiming {
  private writableUntilMs: number;
  /** Send time of the latest confirmed renewal (or of the acquisition). */
  private confirmedSentAt: number;

  constructor(
    readonly epoch: number,
    sentAt: number,
    private readonly settings: LeaseTimingSettings,
  ) {
    this.confirmedSentAt = sentAt;
    this.writableUntilMs = sentAt + settings.ttlMs - settings.safetyMarginMs;
  }

  /** A renewal sent at `sentAt` was confirmed by Redis (the key was still ours). */
  renewed(sentAt: number): void {
    // Replies can arrive out of order only across reconnects; an older send never moves the deadline back.
    if (sentAt <= this.confirmedSentAt) return;
    this.confirmedSentAt = sentAt;
    this.writableUntilMs = sentAt + this.settings.ttlMs - this.settings.safetyMarginMs;
  }

  /** Until when (monotonic ms) this node may write under the lease. */
  get writableUntil(): number {
    return this.writableUntilMs;
  }

  /**
   * The earliest instant Redis may expire the key (send time of the last confirmed renewal + TTL):
   * past it, another node may hold the lease, so this node counts it lost. Between `writableUntil`
   * and this the gate is shut but a late renewal reply can still reopen it (a stalled event loop).
   */
  get expiresAt(): number {
    return this.confirmedSentAt + this.settings.ttlMs;
  }

  /** Whether a write may start at `now`. */
  writable(now: number): boolean {
    return now < this.writableUntilMs;
  }

  /** How long ago the last confirmed renewal was sent, ms (the lease's age as `/api/v1/cluster` shows it). */
  age(now: number): number {
    return Math.max(0, now - this.confirmedSentAt);
  }
}

/** The lease key's value: who holds it and under which epoch. */
export function leaseValue(nodeId: string, epoch: number): string {
  return `${nodeId}:${epoch}`;
}

/** Parses `leaseValue`'s output (node ids may contain `:`? no: they are `[A-Za-z0-9._-]`). */
export function parseLeaseValue(value: string | null | undefined): { nodeId: string; epoch: number } | undefined {
  if (value === null || value === undefined) return undefined;
  const at = value.lastIndexOf(':');
  if (at <= 0) return undefined;
  const epoch = Number(value.slice(at + 1));
  if (!Number.isSafeInteger(epoch) || epoch < 1) return undefined;
  return { nodeId: value.slice(0, at), epoch };
}

/** The acquisition script's answer: the lease taken under an epoch, or held elsewhere for some ms more. */
export type AcquireAnswer = { taken: true; epoch: number } | { taken: false; expiresInMs: number | undefined };

/**
 * Reads the acquisition script's reply (`{1, epoch}` or `{0, PTTL}`). PTTL −2 (the key expired between
 * the SET and the PTTL) means free now; −1 (a key without expiry, never written by livepipe) or
 * anything unexpected gives no expiry, so the standby polls as usual.
 */
export function parseAcquireReply(reply: unknown): AcquireAnswer {
  if (!Array.isArray(reply) || reply.length !== 2) return { taken: false, expiresInMs: undefined };
  const [taken, value] = reply as [unknown, unknown];
  if (taken === 1 && typeof value === 'number' && Number.isSafeInteger(value) && value >= 1) return { taken: true, epoch: value };
  if (typeof value !== 'number') return { taken: false, expiresInMs: undefined };
  if (value === -2) return { taken: false, expiresInMs: 0 };
  return { taken: false, expiresInMs: value >= 0 ? value : undefined };
}

/**
 * Redis expires a key once its clock is past the expiry instant, not at it: a standby aiming at the
 * expiry it was told tries this much later.
 */
export const EXPIRY_SLACK_MS = 2;

/**
 * When a standby tries for the lease next, ms from `now`: at its regular poll (`pollDelayMs`), or
 * the moment the holder's lease runs out (`heldElsewhereUntil`, from the last answer's PTTL) if that
 * comes first — a dead holder's lease is taken within a few ms of its expiry, not up to a poll later.
 * Trying early is harmless (SET NX fails and tells the new expiry); so is trying after a renewal.
 */
export function nextAttemptDelay(pollDelayMs: number, heldElsewhereUntil: number | undefined, now: number): number {
  const poll = Math.max(0, pollDelayMs);
  if (heldElsewhereUntil === undefined) return poll;
  return Math.max(0, Math.min(poll, heldElsewhereUntil - now + EXPIRY_SLACK_MS));
}
