import { Readable } from 'node:stream';
import { stampFirstFrameArrival, type ArrivalStamp } from '../core/media-clock.js';

/**
 * The GOP cache and fan-out shared by the FLV (RTMP) and MPEG-TS (SRT) feeds: one publisher's units
 * in, any number of consumer Readables out, each starting at a point a decoder can start from. No
 * I/O and no format knowledge: the format's fan-out (`flv-fanout.ts`, `ts-fanout.ts`) cuts its bytes
 * into units, says what each unit is, and gives the header a new consumer needs first.
 *
 * - A `keyframe` unit starts a GOP. The cache holds the latest GOP (its `lead`, then the keyframe,
 *   then every later non-config unit), bounded by bytes: a GOP that outgrows the bound is dropped
 *   and nothing is cached until the next keyframe.
 * - A new consumer gets the header, then the cached GOP, then live units. With nothing cached it
 *   waits for the next start point (`keyframe` or `join`), unless told it may start anywhere.
 * - A consumer with more than `maxConsumerBufferBytes` unread stops receiving media and waits for
 *   the next start point, so a slow consumer costs at most about that much memory.
 * - `config` units (a format's decoder configuration arriving mid-stream) go to every consumer at
 *   once, waiting or lagging, and are not cached: the format replays the current configuration in
 *   the header of later consumers.
 */

/** Default bound of the GOP cache and of each consumer's unread bytes: 16 MiB. */
export const DEFAULT_GOP_FANOUT_BYTES = 16 * 1024 * 1024;

export interface GopFanoutOptions {
  /** Most bytes kept from the latest keyframe (with its lead); default 16 MiB. A larger GOP is not
   * cached (new consumers then wait for the next keyframe). */
  maxGopCacheBytes?: number;
  /** Most bytes a consumer may have unread before it skips to the next start point; default 16 MiB. */
  maxConsumerBufferBytes?: number;
  /** Told when a consumer falls behind and skips media (for a log line). */
  onConsumerLag?: (bufferedBytes: number) => void;
}

/** What a unit is to the fan-out; see the module comment. */
export type GopUnitKind = 'config' | 'keyframe' | 'join' | 'media';

export interface GopUnit {
  bytes: Buffer;
  kind: GopUnitKind;
  /**
   * For a `keyframe`: units already pushed (as media) that a decoder needs before it, e.g. MPEG-TS's
   * PAT and PMT. The cached GOP and consumers starting here begin with them.
   */
  lead?: readonly Buffer[];
  /** For a start point: when its media reached livepipe; default now. */
  arrivedAt?: ArrivalStamp;
}

export interface GopOpenOptions {
  /** Sent to the new consumer first (file header, stream configuration). */
  header?: readonly Buffer[];
  /** With nothing cached, start at the next unit rather than the next start point (audio-only FLV). */
  startAnywhere?: boolean;
}

interface Consumer {
  stream: Readable;
  /** Drops units until the next start point (new consumer with no cached GOP, or a lagging one). */
  waiting: boolean;
}

export class GopFanout {
  /** The latest GOP; undefined before the first keyframe, or when it outgrew the bound. */
  private gop: Buffer[] | undefined;
  private gopBytes = 0;
  /** Arrival of the cached GOP's keyframe (stamped on consumers that start with it). */
  private gopArrivedAt: ArrivalStamp | undefined;
  private readonly consumers = new Set<Consumer>();
  private finished = false;
  private readonly maxGopCacheBytes: number;
  private readonly maxConsumerBufferBytes: number;

  constructor(private readonly options: GopFanoutOptions = {}) {
    this.maxGopCacheBytes = options.maxGopCacheBytes ?? DEFAULT_GOP_FANOUT_BYTES;
    this.maxConsumerBufferBytes = options.maxConsumerBufferBytes ?? DEFAULT_GOP_FANOUT_BYTES;
  }

  get consumerCount(): number {
    return this.consumers.size;
  }

  /** Bytes held by the GOP cache. */
  get cachedBytes(): number {
    return this.gop === undefined ? 0 : this.gopBytes;
  }

  get ended(): boolean {
    return this.finished;
  }

  /** Feeds one unit. Its bytes must not be reused by the caller afterwards. */
  push(unit: GopUnit): void {
    if (this.finished) return;
    this.cache(unit);
    for (const c of this.consumers) {
      if (c.stream.destroyed) continue;
      if (unit.kind === 'config') {
        c.stream.push(unit.bytes);
        continue;
      }
      if (c.stream.readableLength > this.maxConsumerBufferBytes) {
        if (!c.waiting) this.options.onConsumerLag?.(c.stream.readableLength);
        c.waiting = true;
        continue;
      }
      if (c.waiting) {
        if (unit.kind === 'media') continue;
        c.waiting = false;
        stampFirstFrameArrival(c.stream, unit.arrivedAt ?? Date.now());
        for (const lead of unit.lead ?? []) c.stream.push(lead);
      }
      c.stream.push(unit.bytes);
    }
  }

  /**
   * A new consumer: the header, then the cached GOP, then live units. With no cached GOP it waits for
   * the next start point (see `startAnywhere`). After `end()`, an empty ended stream.
   */
  open(options: GopOpenOptions = {}): Readable {
    // Pushed to from the publisher side; read() has nothing to pull.
    const stream = new Readable({ read() {}, highWaterMark: 1024 * 1024 });
    if (this.finished) {
      stream.push(null);
      return stream;
    }
    const consumer: Consumer = { stream, waiting: true };
    for (const bytes of options.header ?? []) stream.push(bytes);
    if (this.gop !== undefined && this.gop.length > 0) {
      for (const bytes of this.gop) stream.push(bytes);
      consumer.waiting = false;
      if (this.gopArrivedAt !== undefined) stampFirstFrameArrival(stream, this.gopArrivedAt);
    } else if (options.startAnywhere === true) {
      consumer.waiting = false;
    }
    this.consumers.add(consumer);
    stream.once('close', () => this.consumers.delete(consumer));
    return stream;
  }

  /** Ends every consumer stream; later `open()` calls get an empty ended stream. Idempotent. */
  end(): void {
    if (this.finished) return;
    this.finished = true;
    for (const c of this.consumers) c.stream.push(null);
    this.consumers.clear();
    this.gop = undefined;
  }

  private cache(unit: GopUnit): void {
    if (unit.kind === 'config') return;
    if (unit.kind === 'keyframe') {
      this.gop = [...(unit.lead ?? []), unit.bytes];
      this.gopBytes = this.gop.reduce((sum, b) => sum + b.length, 0);
      this.gopArrivedAt = unit.arrivedAt ?? Date.now();
    } else if (this.gop !== undefined) {
      this.gop.push(unit.bytes);
      this.gopBytes += unit.bytes.length;
    }
    if (this.gop !== undefined && this.gopBytes > this.maxGopCacheBytes) {
      // A GOP this large is not kept: consumers opened now wait for the next keyframe.
      this.gop = undefined;
      this.gopBytes = 0;
    }
  }
}
