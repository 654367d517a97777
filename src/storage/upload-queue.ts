import { setMaxListeners } from 'node:events';
import PQueue from 'p-queue';
import { ErrorCode, LivepipeError, errorMessage } from '../core/errors.js';
import { LivepipeEvent, type EventBus } from '../core/event-bus.js';
import type { Logger } from '../core/logger.js';
import { assertSafeKey, type ObjectStorage, type PutOptions } from './object-storage.js';
import type { PendingObjects } from './pending-objects.js';

/** What the queue needs from storage. */
export type UploadTarget = Pick<ObjectStorage, 'put'>;
/** What the queue needs from the event bus. */
export type HealthSink = Pick<EventBus, 'emit'>;

export interface UploadQueueOptions {
  /** The channel this queue uploads for (logs, health events). */
  channel: string;
  /** Uploads running at once for this channel. Default 8. */
  concurrency?: number;
  /**
   * Each attempt is aborted after this long, plus the time the body takes at
   * `minBytesPerSecond`. Default 3000 ms (a 50 KB part: ~3.05 s; a 10 MB segment: ~13 s).
   */
  attemptTimeoutMs?: number;
  /** The slowest upload rate tolerated before an attempt times out. Default 1 MB/s (8 Mbit/s). */
  minBytesPerSecond?: number;
  /**
   * Attempts per object, first included. Default: no limit — during a storage outage an object waits
   * in memory, within `maxQueuedBytes`/`maxQueuedItems`, until storage takes it or it is evicted to
   * make room for newer media (the live edge must not depend on storage; see `put`).
   */
  maxAttempts?: number;
  /** Backoff before retry n is about `backoffBaseMs × 2^(n-1)`, capped, with jitter. Default 100 ms. */
  backoffBaseMs?: number;
  /** Cap of one backoff pause. Default 1000 ms. */
  backoffMaxMs?: number;
  /**
   * Bytes accepted by `put` and not yet written (queued, running or retrying). A put past it evicts
   * the oldest media still waiting (never one being written, nor a non-evictable one); when nothing
   * can be evicted it fails at once with `StorageUnavailable`. Default 64 MiB (~50 s of the `default`
   * ladder at ~10 Mbit/s, ~110 s of `low-latency`): the memory one channel may hold during an outage.
   */
  maxQueuedBytes?: number;
  /** Objects accepted by `put` and not yet written; same rule past it. Default 4096 (~3 min of parts). */
  maxQueuedItems?: number;
  /**
   * Where accepted media is registered until stored, so that the embedded origin can serve it from
   * memory (`PendingReadStorage`). Shared by every channel's queue. Optional.
   */
  pending?: PendingObjects;
  /** Consecutive failed attempts before the queue reports storage unhealthy. Default 3. */
  unhealthyAfterFailures?: number;
  /** Successful attempt latencies kept for metrics (a ring). Default 1024. */
  latencySampleSize?: number;
  /** Jitter source in [0, 1). Default `Math.random`. */
  random?: () => number;
}

export interface CloseOptions {
  /** Time given to queued and running uploads to finish before they are abandoned. Default 5000 ms. */
  drainTimeoutMs?: number;
}

/** Counters for metrics; a snapshot. */
export interface UploadStats {
  /** Objects written. */
  puts: number;
  /** Objects given up on after their last attempt (or abandoned by `close`). */
  failures: number;
  /** Attempts after the first. */
  retries: number;
  /** Puts refused at once because the queue was full and nothing could be evicted. */
  rejected: number;
  /** Waiting media dropped to make room for newer media (each becomes a gap in stored playlists). */
  evicted: number;
  /** Playlist versions dropped because a newer version of the same key came first. */
  superseded: number;
  queuedItems: number;
  queuedBytes: number;
  healthy: boolean;
  /** Latencies of recent successful attempts, oldest first, in milliseconds. */
  latencySamplesMs: number[];
}

type Outcome = 'written' | 'superseded';

interface LatestJob {
  body: Uint8Array;
  options: PutOptions;
  waiters: Array<{ resolve: () => void; reject: (err: unknown) => void }>;
}

/** A media `put` accepted and not yet written (see `UploadQueue.put`). */
interface MediaEntry {
  key: string;
  bytes: number;
  evictable: boolean;
  /** Its upload task has started (running or retrying): never evicted then. */
  started: boolean;
  evicted: boolean;
  /** Its bytes are no longer counted (evicted, or done). */
  released: boolean;
  pendingToken: object | undefined;
  /** Rejects the put's promise when the entry is evicted. */
  evict: (err: unknown) => void;
}

/** Options of one media `put` that are about the queue, not the stored object. */
export interface MediaPlacement {
  /** Default true. False for objects without which later ones are useless (init segments). */
  evictable?: boolean;
}

interface LatestSlot {
  running: boolean;
  pending: LatestJob | undefined;
}

/**
 * One channel's uploads: a p-queue with a concurrency cap, per-attempt timeouts, retries with
 * exponential backoff and jitter, a bound on memory, health reporting and ordered playlist writes.
 *
 * Ordering contract with the packager:
 * - `put` (media) resolves once the object is stored, and rejects when it never will be (evicted to
 *   make room, refused, or abandoned at close). Until then the object is registered in `pending`,
 *   so the embedded origin can serve it. The packager names media in a stored playlist only once its
 *   put resolved; if it rejects, the stored playlist marks a gap instead (LL-HLS: "missing media is
 *   marked EXT-X-GAP / GAP=YES, never silently skipped").
 * - During an outage media retries without a limit (by default) and waits in memory; the bound on
 *   memory is enforced by evicting the oldest waiting media, so what viewers need — the newest
 *   parts — is always accepted, and uploads resume in order when storage returns.
 * - `putLatest` (playlists) keeps at most one write per key in flight and one waiting: a newer
 *   version replaces the waiting one, and a version still retrying gives way to a newer one. Writes
 *   of one key never overlap, so an older version is never written after a newer one. Its promise
 *   resolves when that version *or a newer one* is stored. Playlists go ahead of queued media
 *   (priority): media they name was awaited already, so jumping the queue cannot expose a missing part.
 *   They count in `queuedBytes` but are never refused for it: at most two versions per key exist.
 *
 * Per-attempt timeouts are ours, not p-queue's `timeout` (which covers a task's whole retry loop and
 * does not stop the operation): each attempt gets an AbortSignal, and the drivers stop on it. Nor is
 * p-queue given the abandon signal: it would add and remove abort listeners and race a promise for
 * every object; `close` aborts the running attempts itself, and waiting tasks reject when they start.
 */
export class UploadQueue {
  private readonly channel: string;
  private readonly queue: PQueue;
  private readonly attemptTimeoutMs: number;
  private readonly minBytesPerSecond: number;
  private readonly maxAttempts: number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private readonly maxQueuedBytes: number;
  private readonly maxQueuedItems: number;
  private readonly unhealthyAfterFailures: number;
  private readonly latencySampleSize: number;
  private readonly random: () => number;
  private readonly logger: Logger;
  /** Aborted when `close` gives up draining: cancels waiting tasks, running attempts and backoffs. */
  private readonly abandon = new AbortController();
  /** The running attempts' controllers: `close` aborts them when it gives up draining. */
  private readonly attempts = new Set<AbortController>();
  private readonly latest = new Map<string, LatestSlot>();
  private readonly latencies: number[] = [];
  private idleWaiters: Array<() => void> = [];
  private closing: Promise<void> | undefined;
  private consecutiveFailures = 0;
  private readonly counters = { puts: 0, failures: 0, retries: 0, rejected: 0, evicted: 0, superseded: 0 };
  /** Media accepted and not started yet, oldest first (eviction order). */
  private readonly waiting = new Set<MediaEntry>();
  private readonly pending: PendingObjects | undefined;
  private lastEvictionLogAt = 0;
  private queuedItems = 0;
  private queuedBytes = 0;
  private healthy = true;

  constructor(
    private readonly storage: UploadTarget,
    private readonly bus: HealthSink,
    logger: Logger,
    options: UploadQueueOptions,
  ) {
    this.channel = options.channel;
    this.attemptTimeoutMs = positive('attemptTimeoutMs', options.attemptTimeoutMs ?? 3000);
    this.minBytesPerSecond = positive('minBytesPerSecond', options.minBytesPerSecond ?? 1_000_000);
    this.maxAttempts = positive('maxAttempts', options.maxAttempts ?? Number.POSITIVE_INFINITY, true);
    this.backoffBaseMs = positive('backoffBaseMs', options.backoffBaseMs ?? 100);
    this.backoffMaxMs = positive('backoffMaxMs', options.backoffMaxMs ?? 1000);
    this.maxQueuedBytes = positive('maxQueuedBytes', options.maxQueuedBytes ?? 64 * 1024 * 1024);
    this.maxQueuedItems = positive('maxQueuedItems', options.maxQueuedItems ?? 4096);
    this.pending = options.pending;
    this.unhealthyAfterFailures = positive('unhealthyAfterFailures', options.unhealthyAfterFailures ?? 3);
    this.latencySampleSize = positive('latencySampleSize', options.latencySampleSize ?? 1024);
    this.random = options.random ?? Math.random;
    this.queue = new PQueue({ concurrency: positive('concurrency', options.concurrency ?? 8) });
    this.logger = logger.child({ component: 'upload-queue', channel: this.channel });
    // Every backoff pause listens on it; their number is bounded by maxQueuedItems.
    setMaxListeners(0, this.abandon.signal);
  }

  /**
   * Uploads one media object (part, segment, init). Resolves once it is stored. Rejects with
   * `StorageUnavailable` when it is evicted to make room (see `maxQueuedBytes`), when the queue is
   * over its bound with nothing to evict, or after `maxAttempts`; with `Closed` after `close()`; with
   * `TypeError` for an unsafe key.
   */
  async put(key: string, body: Uint8Array, options: PutOptions, placement: MediaPlacement = {}): Promise<void> {
    this.assertOpen();
    assertSafeKey(key);
    if (!this.makeRoom(body.byteLength)) {
      this.counters.rejected += 1;
      throw new LivepipeError(
        ErrorCode.StorageUnavailable,
        `upload queue of channel ${this.channel} is full (${this.queuedItems} objects, ${this.queuedBytes} bytes waiting): storage is too slow or down`,
        { details: { channel: this.channel, key, queuedItems: this.queuedItems, queuedBytes: this.queuedBytes } },
      );
    }
    let evict: (err: unknown) => void = () => undefined;
    const evicted = new Promise<never>((_, reject) => (evict = reject));
    const entry: MediaEntry = {
      key,
      bytes: body.byteLength,
      evictable: placement.evictable ?? true,
      started: false,
      evicted: false,
      released: false,
      pendingToken: this.pending?.add(key, body, options),
      evict,
    };
    this.hold(body.byteLength);
    this.waiting.add(entry);
    const uploaded = this.queue.add(() => {
      entry.started = true;
      this.waiting.delete(entry);
      if (entry.evicted) return Promise.resolve<Outcome>('superseded');
      return this.upload(key, body, options, undefined);
    });
    let stored = false;
    try {
      await Promise.race([uploaded, evicted]);
      stored = true;
    } catch (err) {
      throw this.abandonedOr(err);
    } finally {
      this.waiting.delete(entry);
      this.settle(entry, stored);
    }
  }

  /**
   * Uploads the newest version of an object that is rewritten in place (a playlist): see the class
   * comment. Resolves when this version or a newer one is stored.
   */
  async putLatest(key: string, body: Uint8Array, options: PutOptions): Promise<void> {
    this.assertOpen();
    assertSafeKey(key);
    let slot = this.latest.get(key);
    if (slot === undefined) {
      slot = { running: false, pending: undefined };
      this.latest.set(key, slot);
    }
    const done = new Promise<void>((resolve, reject) => {
      const waiter = { resolve, reject };
      const replaced = slot.pending;
      if (replaced !== undefined) {
        this.counters.superseded += 1;
        this.release(replaced.body.byteLength);
        slot.pending = { body, options, waiters: [...replaced.waiters, waiter] };
      } else {
        slot.pending = { body, options, waiters: [waiter] };
      }
      this.hold(body.byteLength);
    });
    if (!slot.running) this.runLatest(key, slot);
    return done;
  }

  stats(): UploadStats {
    return {
      ...this.counters,
      queuedItems: this.queuedItems,
      queuedBytes: this.queuedBytes,
      healthy: this.healthy,
      latencySamplesMs: [...this.latencies],
    };
  }

  /**
   * Refuses new uploads, lets queued and running ones finish for up to `drainTimeoutMs`, then
   * abandons the rest (their promises reject with `Closed`). Idempotent.
   */
  close(options: CloseOptions = {}): Promise<void> {
    this.closing ??= this.shutdown(options.drainTimeoutMs ?? 5000);
    return this.closing;
  }

  private async shutdown(drainTimeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      this.idle().then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), drainTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (!drained) {
      this.logger.warn({ queuedItems: this.queuedItems, queuedBytes: this.queuedBytes }, 'abandoning uploads at close');
      this.abandon.abort(new LivepipeError(ErrorCode.Closed, `upload queue of channel ${this.channel} closed before this upload finished`));
      for (const attempt of this.attempts) attempt.abort(this.abandon.signal.reason);
      await this.idle();
    }
  }

  private runLatest(key: string, slot: LatestSlot): void {
    const job = slot.pending;
    if (job === undefined) {
      this.latest.delete(key);
      return;
    }
    slot.pending = undefined;
    slot.running = true;
    const newerWaiting = (): boolean => slot.pending !== undefined;
    this.queue
      .add(() => this.upload(key, job.body, job.options, newerWaiting), { priority: 1 })
      .then(
        (outcome) => {
          if (outcome === 'superseded' && slot.pending !== undefined) {
            // The newer version carries the older one's callers: they are satisfied when it lands.
            this.counters.superseded += 1;
            slot.pending.waiters.push(...job.waiters);
          } else {
            for (const waiter of job.waiters) waiter.resolve();
          }
        },
        (err: unknown) => {
          const error = this.abandonedOr(err);
          for (const waiter of job.waiters) waiter.reject(error);
        },
      )
      .finally(() => {
        this.release(job.body.byteLength);
        slot.running = false;
        if (this.abandon.signal.aborted && slot.pending !== undefined) {
          const dropped = slot.pending;
          slot.pending = undefined;
          this.release(dropped.body.byteLength);
          for (const waiter of dropped.waiters) waiter.reject(this.abandon.signal.reason);
        }
        this.runLatest(key, slot);
      });
  }

  /** The retry loop of one object. `newerWaiting` (playlists) stops retrying a stale version. */
  private async upload(
    key: string,
    body: Uint8Array,
    options: PutOptions,
    newerWaiting: (() => boolean) | undefined,
  ): Promise<Outcome> {
    if (this.abandon.signal.aborted) {
      // Waiting when `close` gave up: rejected as the queue reaches it (at once, nothing runs).
      this.counters.failures += 1;
      throw this.abandon.signal.reason;
    }
    const timeoutMs = Math.round(this.attemptTimeoutMs + (body.byteLength * 1000) / this.minBytesPerSecond);
    for (let attempt = 1; ; attempt += 1) {
      // One controller per attempt, aborted by its timer, by `close` giving up (see `attempts`) or by
      // the caller's signal: cheaper than `AbortSignal.any` of three signals for every part.
      const controller = new AbortController();
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        controller.abort(new Error(`attempt timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      if (this.abandon.signal.aborted) controller.abort(this.abandon.signal.reason);
      this.attempts.add(controller);
      const unfollow = options.signal !== undefined ? follow(options.signal, controller) : undefined;
      const signal = controller.signal;
      const started = performance.now();
      try {
        // Awaited even when aborted: drivers stop on the signal, and waiting for them keeps writes
        // of one key from overlapping (the ordering guarantee of putLatest).
        await this.storage.put(key, body, { ...options, signal });
        this.onSuccess(performance.now() - started);
        return 'written';
      } catch (err) {
        if (this.abandon.signal.aborted) {
          this.counters.failures += 1;
          throw this.abandon.signal.reason;
        }
        if (options.signal?.aborted === true) {
          // the caller gave up on this upload: no retry
          this.counters.failures += 1;
          throw new LivepipeError(ErrorCode.StorageUnavailable, `upload of ${key} aborted: ${errorMessage(options.signal.reason)}`, {
            cause: err,
            details: { channel: this.channel, key },
          });
        }
        const reason = timedOut ? errorMessage(signal.reason) : errorMessage(err);
        this.onAttemptFailed(reason);
        if (newerWaiting?.() === true) return 'superseded';
        if (attempt >= this.maxAttempts) {
          this.counters.failures += 1;
          this.logger.warn({ key, attempts: attempt, err: reason }, 'upload failed');
          throw new LivepipeError(ErrorCode.StorageUnavailable, `upload of ${key} failed after ${attempt} attempts: ${reason}`, {
            cause: err,
            details: { channel: this.channel, key, attempts: attempt },
          });
        }
        this.counters.retries += 1;
        try {
          await sleep(backoffDelay(attempt, this.backoffBaseMs, this.backoffMaxMs, this.random), this.abandon.signal);
        } catch (abandoned) {
          this.counters.failures += 1;
          throw abandoned;
        }
        if (newerWaiting?.() === true) return 'superseded';
      } finally {
        clearTimeout(timer);
        this.attempts.delete(controller);
        unfollow?.();
      }
    }
  }

  private onSuccess(latencyMs: number): void {
    this.counters.puts += 1;
    this.consecutiveFailures = 0;
    this.latencies.push(latencyMs);
    if (this.latencies.length > this.latencySampleSize) this.latencies.shift();
    if (!this.healthy) {
      this.healthy = true;
      this.logger.info('storage uploads recovered');
      this.bus.emit(LivepipeEvent.StorageHealth, { healthy: true, channel: this.channel });
    }
  }

  private onAttemptFailed(reason: string): void {
    this.consecutiveFailures += 1;
    if (this.healthy && this.consecutiveFailures >= this.unhealthyAfterFailures) {
      this.healthy = false;
      this.logger.error({ err: reason, consecutiveFailures: this.consecutiveFailures }, 'storage uploads failing');
      this.bus.emit(LivepipeEvent.StorageHealth, { healthy: false, error: reason, channel: this.channel });
    }
  }

  /**
   * Whether one more object of `bytes` fits, after evicting the oldest waiting evictable media if
   * needed. An evicted put rejects at once and its bytes are released.
   */
  private makeRoom(bytes: number): boolean {
    const fits = (): boolean => this.queuedItems + 1 <= this.maxQueuedItems && this.queuedBytes + bytes <= this.maxQueuedBytes;
    if (fits()) return true;
    if (bytes > this.maxQueuedBytes) return false;
    const victims: MediaEntry[] = [];
    let items = this.queuedItems;
    let queued = this.queuedBytes;
    for (const entry of this.waiting) {
      if (items + 1 <= this.maxQueuedItems && queued + bytes <= this.maxQueuedBytes) break;
      if (!entry.evictable || entry.started) continue;
      victims.push(entry);
      items -= 1;
      queued -= entry.bytes;
    }
    if (items + 1 > this.maxQueuedItems || queued + bytes > this.maxQueuedBytes) return false;
    for (const victim of victims) {
      victim.evicted = true;
      this.waiting.delete(victim);
      this.settle(victim);
      this.counters.evicted += 1;
      victim.evict(
        new LivepipeError(ErrorCode.StorageUnavailable, `upload of ${victim.key} dropped: channel ${this.channel} holds its maximum of unstored media`, {
          details: { channel: this.channel, key: victim.key },
        }),
      );
    }
    const now = Date.now();
    if (now - this.lastEvictionLogAt >= 5000) {
      this.lastEvictionLogAt = now;
      this.logger.warn({ evicted: this.counters.evicted, queuedItems: this.queuedItems, queuedBytes: this.queuedBytes }, 'unstored media dropped to make room for newer media (stored playlists mark it as gaps)');
    }
    return true;
  }

  /**
   * Stops counting a media entry's bytes and hands it back to `pending`, once: a stored object stays
   * there among the recently stored (see `PendingObjects`), a dropped one is forgotten.
   */
  private settle(entry: MediaEntry, stored = false): void {
    if (entry.released) return;
    entry.released = true;
    if (entry.pendingToken !== undefined) this.pending?.remove(entry.key, entry.pendingToken, stored);
    this.release(entry.bytes);
  }

  private assertOpen(): void {
    if (this.closing !== undefined) throw new LivepipeError(ErrorCode.Closed, `upload queue of channel ${this.channel} is closed`);
  }

  /** After `close` gave up, any error but a final StorageUnavailable becomes the abandon reason (`Closed`). */
  private abandonedOr(err: unknown): unknown {
    return this.abandon.signal.aborted && !(err instanceof LivepipeError && err.code === ErrorCode.StorageUnavailable)
      ? this.abandon.signal.reason
      : err;
  }

  private hold(bytes: number): void {
    this.queuedItems += 1;
    this.queuedBytes += bytes;
  }

  private release(bytes: number): void {
    this.queuedItems -= 1;
    this.queuedBytes -= bytes;
    if (this.queuedItems === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  private idle(): Promise<void> {
    if (this.queuedItems === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}

/**
 * Pause before retry `attempt` (1 = the first retry): exponential, capped, with "equal jitter" —
 * half fixed, half random — so retries of many uploads spread out but never come back at once.
 */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
  return ceiling / 2 + random() * (ceiling / 2);
}

/** Aborts `controller` when `signal` aborts; returns the function that stops following it. */
function follow(signal: AbortSignal, controller: AbortController): () => void {
  if (signal.aborted) {
    controller.abort(signal.reason);
    return () => undefined;
  }
  const onAbort = (): void => controller.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function positive(name: string, value: number, infinityAllowed = false): number {
  if (!(Number.isFinite(value) || (infinityAllowed && value === Number.POSITIVE_INFINITY)) || value <= 0) {
    throw new LivepipeError(ErrorCode.ConfigInvalid, `upload queue option ${name} must be a positive number, got ${value}`);
  }
  return value;
}
