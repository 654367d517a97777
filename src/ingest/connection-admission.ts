import { isIP } from 'node:net';

/**
 * Admission of connections that have not authenticated yet, as plain state without sockets or
 * timers: the RTMP listener asks it on every accept, tells it how far each connection got, and
 * closes whatever it names.
 *
 * Why evict instead of refuse: issue 15 found 256 idle TCP connections from one address refusing
 * a real ffmpeg publisher (Node's `server.maxConnections` closed every connection past 256 at once,
 * which ffmpeg reported as "Connection reset by peer"). Refusing the newest connection hands the
 * listener to whoever connected first; a flood is always first. And a flood can come from the
 * publisher's own address (a NAT, a shared host, loopback in tests), so a per-address cap that
 * refuses locks the real publisher out too. So a new connection is always admitted (unless every
 * slot holds an authenticated publisher) and a full cap evicts a pending connection, in this order:
 *  1. stalled ones (no progress for `STALLED_AFTER_MS`) before ones still moving: a real encoder
 *     advances a stage every round trip, an idle or half-sent flood connection stops;
 *  2. then the least advanced: silent before handshaking, before handshaken, before connected;
 *  3. then the oldest.
 * A real encoder sends C0+C1 in its first packet and leaves the pending set within a few round
 * trips, so idle and garbage floods never reach it; only a client that completes handshakes faster
 * than the publisher can compete with it (see docs/ingest.md, "Floods").
 */

/** A pending connection that has not advanced a stage for this long is stalled (first to go). */
export const STALLED_AFTER_MS = 1000;

/** How far a pending connection got; later stages are evicted last. */
export const AdmissionStage = {
  /** Accepted, nothing (or not yet a whole C0) received. */
  Silent: 0,
  /** A valid C0 (RTMP version 3) came; C1/C2 are under way. */
  Handshaking: 1,
  /** C0, C1 and C2 received. */
  Handshaken: 2,
  /** The RTMP `connect` command was answered; `publish` and its key are next. */
  Connected: 3,
} as const;
export type AdmissionStage = (typeof AdmissionStage)[keyof typeof AdmissionStage];

/**
 * Why a connection was closed before it authenticated. Values are metric label values
 * (`livepipe_ingest_connections_shed_total{reason}`); a fixed set.
 */
export type ShedReason =
  /** Its address had `maxPendingPerAddress` pending connections and a newer one came. */
  | 'evicted_address'
  /** `maxPending` (or `maxConnections`) was reached and a newer connection came. */
  | 'evicted_total'
  /** Every one of `maxConnections` slots holds an authenticated publisher: the new one was refused. */
  | 'refused_full'
  /** It had not authenticated within `pendingTimeoutMs`. */
  | 'deadline'
  /** It sent something that is not RTMP (a bad C0, a malformed chunk or command) before publishing. */
  | 'malformed'
  /** SRT: a caller failed libsrt's passphrase check. */
  | 'auth_failed';

export const SHED_REASONS: readonly ShedReason[] = ['evicted_address', 'evicted_total', 'refused_full', 'deadline', 'malformed', 'auth_failed'];

export interface AdmissionLimits {
  /** Connections in all, authenticated publishers included (file descriptors and memory). */
  maxConnections: number;
  /** Connections not yet authenticated, from all addresses together. */
  maxPending: number;
  /** Connections not yet authenticated from one address (one IPv6 /64). */
  maxPendingPerAddress: number;
  /** A connection must have authenticated (handshake, connect, publish with its key) within this many ms. */
  pendingTimeoutMs: number;
}

/**
 * Defaults. A pending connection costs a few KiB (socket buffers, NMS's 1.5 KiB handshake buffer),
 * so 256 of them is under 4 MiB. 32 per address leaves a NAT'd studio with several encoders plenty,
 * and keeps one address to an eighth of the pending set. 5 s is ten round trips of a 500 ms
 * satellite link — a real publish needs five (handshake 2, connect, createStream, publish).
 */
export const DEFAULT_ADMISSION_LIMITS: Readonly<AdmissionLimits> = Object.freeze({
  maxConnections: 1024,
  maxPending: 256,
  maxPendingPerAddress: 32,
  pendingTimeoutMs: 5000,
});

/** Returns the problems of a set of limits (empty when usable). */
export function admissionLimitProblems(limits: AdmissionLimits): string[] {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isInteger(value) || value < 1) problems.push(`${name} must be a positive integer, got ${String(value)}`);
  }
  if (limits.maxPending > limits.maxConnections) problems.push(`maxPending (${limits.maxPending}) exceeds maxConnections (${limits.maxConnections})`);
  if (limits.maxPendingPerAddress > limits.maxPending) problems.push(`maxPendingPerAddress (${limits.maxPendingPerAddress}) exceeds maxPending (${limits.maxPending})`);
  return problems;
}

export type AdmitDecision<K> =
  | { admitted: true; evict: Array<{ key: K; reason: ShedReason }> }
  | { admitted: false; reason: 'refused_full' };

interface Pending {
  address: string;
  stage: AdmissionStage;
  /** Arrival order (a counter, not a clock: ties cannot happen). */
  seq: number;
  since: number;
  /** When it was accepted or last advanced a stage. */
  movedAt: number;
}

/** Pending and authenticated connections, keyed by whatever the caller uses (a session object). */
export class ConnectionAdmission<K> {
  private readonly pending = new Map<K, Pending>();
  private readonly byAddress = new Map<string, Set<K>>();
  private readonly authenticatedKeys = new Set<K>();
  private seq = 0;

  constructor(readonly limits: Readonly<AdmissionLimits> = DEFAULT_ADMISSION_LIMITS) {}

  get pendingCount(): number {
    return this.pending.size;
  }

  get connectionCount(): number {
    return this.pending.size + this.authenticatedKeys.size;
  }

  pendingFrom(address: string): number {
    return this.byAddress.get(address)?.size ?? 0;
  }

  /**
   * A connection from `address` (an `addressKey()`) was accepted at `now`. Admits it and names the
   * pending connections to close to make room, or refuses it when every slot is authenticated.
   * The evicted keys are already forgotten: the caller just closes them.
   */
  admit(key: K, address: string, now: number): AdmitDecision<K> {
    const evict: Array<{ key: K; reason: ShedReason }> = [];
    if (this.connectionCount >= this.limits.maxConnections && this.pending.size === 0) return { admitted: false, reason: 'refused_full' };
    if (this.pendingFrom(address) >= this.limits.maxPendingPerAddress) {
      evict.push({ key: this.evictFrom(this.byAddress.get(address)!, now), reason: 'evicted_address' });
    } else if (this.pending.size >= this.limits.maxPending || this.connectionCount >= this.limits.maxConnections) {
      // From the address holding the most pending connections: a flood from one address pays for
      // itself before anyone else's half-open connection does.
      evict.push({ key: this.evictFrom(this.busiestAddress(), now), reason: 'evicted_total' });
    }
    this.pending.set(key, { address, stage: AdmissionStage.Silent, seq: this.seq++, since: now, movedAt: now });
    let set = this.byAddress.get(address);
    if (set === undefined) this.byAddress.set(address, (set = new Set()));
    set.add(key);
    return { admitted: true, evict };
  }

  /** The connection got further at `now` (stages only go up; the same stage again is no progress). */
  progress(key: K, stage: AdmissionStage, now: number): void {
    const entry = this.pending.get(key);
    if (entry === undefined || stage <= entry.stage) return;
    entry.stage = stage;
    entry.movedAt = now;
  }

  /** The connection authenticated: it leaves the pending set (and its caps) but keeps a slot. */
  authenticated(key: K): void {
    if (!this.pending.has(key)) return;
    this.forgetPending(key);
    this.authenticatedKeys.add(key);
  }

  /** The connection closed, for whatever reason. */
  release(key: K): void {
    this.forgetPending(key);
    this.authenticatedKeys.delete(key);
  }

  /** Pending connections whose deadline passed at `now`, oldest first. They are forgotten: close them. */
  expired(now: number): K[] {
    const out: K[] = [];
    // Map iteration is insertion order, which is arrival order.
    for (const [key, entry] of this.pending) {
      if (now - entry.since < this.limits.pendingTimeoutMs) break;
      out.push(key);
    }
    for (const key of out) this.forgetPending(key);
    return out;
  }

  /** Earliest time at which `expired()` will name someone, or undefined with nothing pending. */
  nextDeadline(): number | undefined {
    for (const entry of this.pending.values()) return entry.since + this.limits.pendingTimeoutMs;
    return undefined;
  }

  private busiestAddress(): Set<K> {
    let busiest: Set<K> | undefined;
    for (const set of this.byAddress.values()) if (busiest === undefined || set.size > busiest.size) busiest = set;
    return busiest!;
  }

  /** Forgets and returns the first pending connection of `keys` (not empty) in eviction order. */
  private evictFrom(keys: Set<K>, now: number): K {
    let victim: K | undefined;
    let best: [number, number, number] | undefined;
    for (const key of keys) {
      const entry = this.pending.get(key)!;
      const rank: [number, number, number] = [now - entry.movedAt >= STALLED_AFTER_MS ? 0 : 1, entry.stage, entry.seq];
      if (best === undefined || rank[0] < best[0] || (rank[0] === best[0] && (rank[1] < best[1] || (rank[1] === best[1] && rank[2] < best[2])))) {
        victim = key;
        best = rank;
      }
    }
    this.forgetPending(victim!);
    return victim!;
  }

  private forgetPending(key: K): void {
    const entry = this.pending.get(key);
    if (entry === undefined) return;
    this.pending.delete(key);
    const set = this.byAddress.get(entry.address);
    set?.delete(key);
    if (set?.size === 0) this.byAddress.delete(entry.address);
  }
}

/**
 * The address a per-address cap counts under: IPv4 as is (IPv4-mapped IPv6 unwrapped), IPv6 by its
 * /64 — one subscriber or one cloud host gets a whole /64, so counting single IPv6 addresses would
 * let one host open 2^64 separate quotas.
 */
export function addressKey(remoteAddress: string | undefined): string {
  if (remoteAddress === undefined) return '?';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remoteAddress);
  if (mapped !== null) return mapped[1]!;
  if (isIP(remoteAddress) !== 6) return remoteAddress;
  const zoneless = remoteAddress.split('%')[0]!.toLowerCase();
  const [head = '', tail] = zoneless.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? headGroups : [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/**
 * Counts sheds between two log lines, so a flood costs one warning per interval rather than one
 * per connection.
 */
export class ShedTally {
  private counts = new Map<ShedReason, number>();

  add(reason: ShedReason): void {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
  }

  /** The counts since the last `take()`, or undefined when there were none. */
  take(): Partial<Record<ShedReason, number>> | undefined {
    if (this.counts.size === 0) return undefined;
    const out = Object.fromEntries(this.counts) as Partial<Record<ShedReason, number>>;
    this.counts = new Map();
    return out;
  }
}
