import { ErrorCode, LivepipeError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { clusterKeys } from './cluster-keys.js';
import { LeaseTiming, leaseValue, nextAttemptDelay, parseAcquireReply, validateLeaseTiming, type LeaseTimingSettings } from './lease-timing.js';
import type { RedisConnection } from './redis-connection.js';

/**
 * One writer per channel: a lease per channel in Redis (`livepipe:lease:<channel>`, value
 * `<nodeId>:<epoch>`), taken with SET NX PX, renewed with a compare-and-PEXPIRE, released with a
 * compare-and-DEL. `livepipe:epoch:<channel>` counts takeovers (INCR on every acquisition): the
 * epoch is the fencing token the writer records with every object it stores (`FencedStorage`).
 *
 * A node claims a channel's lease while it has the channel's feed (`claim`); the holder transcodes,
 * packages and writes, the others are hot standbys retrying every `acquireIntervalMs` — and at the
 * instant the holder's lease expires, which each refused attempt learns (PTTL). The holder
 * renews every `renewIntervalMs`; a renewal that fails (Redis unreachable, timed out) is retried at
 * the next tick, and once the deadline of `LeaseTiming` has passed the lease is reported lost
 * (`onChange(false)`) — but the write gate (`fence`) already refuses writes from that instant,
 * whether or not any timer ran.
 */

/** What the leases report to metrics (a narrow view of `Metrics`). */
export interface LeaseMetricsPort {
  setLeasesHeld(count: number): void;
  /** An acquisition that followed another holder (epoch > 1). */
  countTakeover(channel: string): void;
  countRenewalFailure(channel: string, reason: 'lost' | 'error'): void;
}

export interface ChannelLeasesOptions {
  redis: RedisConnection;
  nodeId: string;
  timing: LeaseTimingSettings;
  /** How often a standby tries to take a lease it wants, ms (default 200). */
  acquireIntervalMs?: number;
  logger: Logger;
  metrics?: LeaseMetricsPort;
  /** Monotonic ms (default `performance.now()`). */
  clock?: () => number;
}

/** What the write gate of a channel learns: the epoch to record, or a `Fenced` error. */
export interface WriteFence {
  nodeId: string;
  epoch: number;
  /**
   * Which of this node's acquisitions of the lease is current: +1 on every acquisition, in this
   * process. Unlike the epoch it never repeats, even when Redis comes back empty and epochs restart
   * at 1: a writer pinned to a reign (`FencedStorage`) stays fenced off once that acquisition is over.
   */
  reign: number;
}

export interface LeaseSnapshot {
  channel: string;
  held: boolean;
  epoch?: number;
  /** ms since the last confirmed renewal was sent. */
  ageMs?: number;
}

// Atomic in Redis: only one node can see the SET NX succeed, and the epoch it records is the INCR's.
// Taken: {1, epoch}. Held elsewhere: {0, ms until the key expires} (PTTL: -1 without an expiry), so a
// standby tries again the moment the holder's lease runs out instead of at its next poll.
const ACQUIRE = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local epoch = redis.call('INCR', KEYS[2])
  redis.call('SET', KEYS[1], ARGV[1] .. ':' .. epoch, 'PX', ARGV[2])
  return {1, epoch}
end
return {0, redis.call('PTTL', KEYS[1])}`;
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

interface Claim {
  channel: string;
  onChange: (held: boolean) => void;
  lease: LeaseTiming | undefined;
  /** This node's acquisition the held lease came from (`WriteFence.reign`). */
  reign: number;
  timer: NodeJS.Timeout | undefined;
  /** Fires at the held lease's deadline (re-armed by each confirmed renewal). */
  expiryTimer: NodeJS.Timeout | undefined;
  /** A command of this claim is in flight (ticks never overlap). */
  busy: boolean;
  /** Standby: when (clock ms) the holder's lease expires in Redis, as its last answer said; the next attempt is due then at the latest. */
  heldElsewhereUntil: number | undefined;
  /** ms of the last logged acquisition failure, to keep the log quiet while Redis is down. */
  lastErrorLog: number;
}

export class ChannelLeases {
  private readonly claims = new Map<string, Claim>();
  private readonly logger: Logger;
  private readonly clock: () => number;
  private readonly acquireIntervalMs: number;
  /** Acquisitions so far, of every channel: the last reign handed out. */
  private reigns = 0;
  private closed = false;

  constructor(private readonly options: ChannelLeasesOptions) {
    validateLeaseTiming(options.timing);
    this.logger = options.logger.child({ component: 'leases', node: options.nodeId });
    this.clock = options.clock ?? (() => performance.now());
    this.acquireIntervalMs = options.acquireIntervalMs ?? 200;
  }

  get nodeId(): string {
    return this.options.nodeId;
  }

  /**
   * Wants the channel's lease: tries to take it now and every `acquireIntervalMs` while another node
   * holds it; `onChange(true)` once held, `onChange(false)` when lost. Returns the release: stops
   * trying, and deletes the lease key if it still names this node (a graceful hand-over: the standby
   * takes it at its next attempt instead of waiting for the TTL).
   */
  claim(channel: string, onChange: (held: boolean) => void): () => Promise<void> {
    if (this.closed) throw new LivepipeError(ErrorCode.Closed, 'leases are closed');
    const existing = this.claims.get(channel);
    if (existing !== undefined) {
      existing.onChange = onChange;
      if (existing.lease !== undefined) queueMicrotask(() => onChange(true));
      return () => this.release(channel);
    }
    const claim: Claim = { channel, onChange, lease: undefined, reign: 0, timer: undefined, expiryTimer: undefined, busy: false, heldElsewhereUntil: undefined, lastErrorLog: 0 };
    this.claims.set(channel, claim);
    void this.tick(claim);
    return () => this.release(channel);
  }

  /** Whether this node holds the channel's lease and may write now. */
  holds(channel: string): boolean {
    const lease = this.claims.get(channel)?.lease;
    return lease !== undefined && lease.writable(this.clock());
  }

  /**
   * The reign (`WriteFence.reign`) of the lease this node holds for the channel, whether or not its
   * write deadline has passed (a renewal may still reopen the gate); undefined when not held. A writer
   * created now belongs to this reign (`FencedStorage`).
   */
  heldReign(channel: string): number | undefined {
    const claim = this.claims.get(channel);
    return claim?.lease !== undefined ? claim.reign : undefined;
  }

  /**
   * The write gate's check, synchronous: the epoch to record, or `Fenced` when this node does not
   * hold the lease or its deadline has passed (a renewal overdue, a frozen process waking up).
   */
  fence(channel: string): WriteFence {
    const claim = this.claims.get(channel);
    const lease = claim?.lease;
    if (lease === undefined || !lease.writable(this.clock())) {
      throw new LivepipeError(ErrorCode.Fenced, `not the writer of channel ${channel}: lease not held or renewal overdue`, { details: { channel } });
    }
    return { nodeId: this.options.nodeId, epoch: lease.epoch, reign: claim!.reign };
  }

  snapshot(): LeaseSnapshot[] {
    const now = this.clock();
    return [...this.claims.values()].map((c) => {
      const held = c.lease !== undefined && c.lease.writable(now);
      return { channel: c.channel, held, ...(held ? { epoch: c.lease!.epoch, ageMs: Math.round(c.lease!.age(now)) } : {}) };
    });
  }

  heldCount(): number {
    return this.snapshot().filter((s) => s.held).length;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.claims.keys()].map((channel) => this.release(channel)));
  }

  private async release(channel: string): Promise<void> {
    const claim = this.claims.get(channel);
    if (claim === undefined) return;
    this.claims.delete(channel);
    if (claim.timer !== undefined) clearTimeout(claim.timer);
    if (claim.expiryTimer !== undefined) clearTimeout(claim.expiryTimer);
    const lease = claim.lease;
    claim.lease = undefined;
    this.reportHeld();
    if (lease === undefined) return;
    try {
      await this.options.redis.client.eval(RELEASE, 1, clusterKeys.lease(channel), leaseValue(this.options.nodeId, lease.epoch));
      this.logger.info({ channel, epoch: lease.epoch }, 'lease released');
    } catch (err) {
      // It expires by itself within the TTL.
      this.logger.warn({ channel, err: errorMessage(err) }, 'lease not released (it expires by itself)');
    }
  }

  private schedule(claim: Claim, delayMs: number): void {
    if (this.claims.get(claim.channel) !== claim) return;
    claim.timer = setTimeout(() => void this.tick(claim), Math.max(0, delayMs));
    claim.timer.unref();
  }

  private async tick(claim: Claim): Promise<void> {
    if (claim.busy || this.claims.get(claim.channel) !== claim) return;
    claim.busy = true;
    const started = this.clock();
    try {
      if (claim.lease === undefined) await this.tryAcquire(claim);
      else await this.renew(claim);
    } finally {
      claim.busy = false;
    }
    // Fixed rate: a slow reply does not push the next renewal later.
    const period = claim.lease !== undefined ? this.options.timing.renewIntervalMs : this.acquireIntervalMs;
    this.schedule(claim, nextAttemptDelay(period - (this.clock() - started), claim.lease === undefined ? claim.heldElsewhereUntil : undefined, this.clock()));
  }

  private async tryAcquire(claim: Claim): Promise<void> {
    const { channel } = claim;
    const sentAt = this.clock();
    let reply: unknown;
    try {
      reply = await this.options.redis.client.eval(ACQUIRE, 2, clusterKeys.lease(channel), clusterKeys.epoch(channel), this.options.nodeId, this.options.timing.ttlMs);
    } catch (err) {
      // Whatever expiry it last heard of is stale now: poll at the regular pace until Redis answers.
      claim.heldElsewhereUntil = undefined;
      if (sentAt - claim.lastErrorLog > 5000) {
        claim.lastErrorLog = sentAt;
        this.logger.warn({ channel, err: errorMessage(err) }, 'lease acquisition failed (redis unreachable?)');
      }
      return;
    }
    if (this.claims.get(channel) !== claim) return;
    const answer = parseAcquireReply(reply);
    if (answer.taken === false) {
      claim.heldElsewhereUntil = answer.expiresInMs !== undefined ? this.clock() + answer.expiresInMs : undefined;
      return;
    }
    const { epoch } = answer;
    claim.heldElsewhereUntil = undefined;
    claim.lease = new LeaseTiming(epoch, sentAt, this.options.timing);
    claim.reign = ++this.reigns;
    if (!claim.lease.writable(this.clock())) {
      // The reply took longer than the writable window: treat as not held; it expires in Redis.
      claim.lease = undefined;
      return;
    }
    this.logger.info({ channel, epoch }, 'lease acquired: this node writes the channel');
    if (epoch > 1) this.options.metrics?.countTakeover(channel);
    this.reportHeld();
    this.armExpiry(claim);
    claim.onChange(true);
  }

  private async renew(claim: Claim): Promise<void> {
    const lease = claim.lease!;
    const sentAt = this.clock();
    if (sentAt >= lease.expiresAt) return this.lose(claim, 'no renewal confirmed within the TTL');
    // Sent even past the write deadline: while the key is still ours in Redis (a stalled event loop,
    // a slow reply), a confirmed renewal reopens the gate without a takeover.
    let result: unknown;
    try {
      result = await this.options.redis.client.eval(RENEW, 1, clusterKeys.lease(claim.channel), leaseValue(this.options.nodeId, lease.epoch), this.options.timing.ttlMs);
    } catch (err) {
      this.options.metrics?.countRenewalFailure(claim.channel, 'error');
      this.logger.warn({ channel: claim.channel, err: errorMessage(err), writable: lease.writable(this.clock()) }, 'lease renewal failed: retrying');
      return;
    }
    if (claim.lease !== lease) return;
    if (result === 1) {
      lease.renewed(sentAt);
      this.armExpiry(claim);
      return;
    }
    this.options.metrics?.countRenewalFailure(claim.channel, 'lost');
    this.lose(claim, 'the lease key no longer names this node');
  }

  /**
   * Reports the loss once the key may have expired in Redis, even if renewals hang (the write gate
   * has refused writes since the earlier write deadline anyway).
   */
  private armExpiry(claim: Claim): void {
    const lease = claim.lease;
    if (lease === undefined) return;
    if (claim.expiryTimer !== undefined) clearTimeout(claim.expiryTimer);
    claim.expiryTimer = setTimeout(() => {
      if (claim.lease === lease && this.clock() >= lease.expiresAt) this.lose(claim, 'no renewal confirmed within the TTL');
    }, Math.max(0, lease.expiresAt - this.clock()) + 1);
    claim.expiryTimer.unref();
  }

  private lose(claim: Claim, why: string): void {
    const lease = claim.lease;
    if (lease === undefined) return;
    claim.lease = undefined;
    this.logger.warn({ channel: claim.channel, epoch: lease.epoch, why }, 'lease lost: this node stops writing the channel');
    this.reportHeld();
    claim.onChange(false);
  }

  private reportHeld(): void {
    this.options.metrics?.setLeasesHeld([...this.claims.values()].filter((c) => c.lease !== undefined).length);
  }
}
