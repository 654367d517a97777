import { ifNoneMatchHits, md5ETag } from './etag.js';
import type { GetOptions, GetResult, ObjectStorage, PutOptions, StoredObject } from './object-storage.js';

interface PendingObject {
  body: Uint8Array;
  contentType: string;
  cacheControl: string | undefined;
  acceptedAt: Date;
  /** Computed on the first read: most pending objects are stored before anyone reads them. */
  etag: string | undefined;
}

/** Default bytes of recently stored media kept in memory: 32 MiB, ~25 s of `default`, ~55 s of `low-latency`. */
export const DEFAULT_RECENT_BYTES = 32 * 1024 * 1024;
/** Init segments kept among the recently stored, whatever their age: one per rendition and run. */
const RECENT_INITS = 512;

/**
 * Media accepted for upload and not stored yet, by storage key — the write-behind edge — and the
 * media stored most recently. Every upload queue of a process registers what it holds here (and hands
 * it back once stored or given up), so the embedded origin serves the live window from memory
 * (`PendingReadStorage`): the newest parts while storage is slow or down, and what was stored just
 * before an outage (above all each run's init segment, which every player needs to start) while it
 * lasts.
 *
 * Memory: unstored bytes are bounded by the queues' `maxQueuedBytes`; recently stored ones by
 * `recentBytes` (least recently used dropped first; init segments, a few hundred bytes each, by count).
 */
export class PendingObjects {
  private readonly objects = new Map<string, PendingObject>();
  /** Stored media, least recently used first. */
  private readonly recent = new Map<string, PendingObject>();
  private readonly recentInits = new Map<string, PendingObject>();
  private readonly recentMaxBytes: number;
  private recentBytes = 0;

  constructor(options: { recentBytes?: number } = {}) {
    this.recentMaxBytes = options.recentBytes ?? DEFAULT_RECENT_BYTES;
  }

  /** Registers `body` under `key`; returns the token `remove` needs (a later add of the same key replaces it). */
  add(key: string, body: Uint8Array, options: Pick<PutOptions, 'contentType' | 'cacheControl'>): object {
    const entry: PendingObject = { body, contentType: options.contentType, cacheControl: options.cacheControl, acceptedAt: new Date(), etag: undefined };
    this.objects.set(key, entry);
    return entry;
  }

  /**
   * Hands back `key` if it still holds the object `token` was given for: kept among the recently
   * stored when `stored`, forgotten otherwise (dropped before storage took it).
   */
  remove(key: string, token: object, stored = false): void {
    if (this.objects.get(key) !== token) return;
    this.objects.delete(key);
    if (!stored) return;
    const entry = token as PendingObject;
    if (key.endsWith('.mp4')) {
      this.recentInits.set(key, entry);
      if (this.recentInits.size > RECENT_INITS) this.recentInits.delete(this.recentInits.keys().next().value!);
      return;
    }
    this.dropRecent(key);
    this.recent.set(key, entry);
    this.recentBytes += entry.body.byteLength;
    for (const [oldest] of this.recent) {
      if (this.recentBytes <= this.recentMaxBytes) break;
      this.dropRecent(oldest);
    }
  }

  /** The object under `key`, pending or recently stored, as storage would return it. */
  get(key: string): StoredObject | undefined {
    let entry = this.objects.get(key) ?? this.recentInits.get(key);
    if (entry === undefined) {
      entry = this.recent.get(key);
      if (entry === undefined) return undefined;
      // Least recently used: a read moves it to the end.
      this.recent.delete(key);
      this.recent.set(key, entry);
    }
    entry.etag ??= md5ETag(entry.body);
    return {
      body: Buffer.from(entry.body.buffer, entry.body.byteOffset, entry.body.byteLength),
      contentType: entry.contentType,
      ...(entry.cacheControl !== undefined ? { cacheControl: entry.cacheControl } : {}),
      etag: entry.etag,
      lastModified: entry.acceptedAt,
    };
  }

  /** Objects not stored yet. */
  get size(): number {
    return this.objects.size;
  }

  /** Bytes of the objects not stored yet (summed when asked: read at scrape time, not on the put path). */
  get bytes(): number {
    let total = 0;
    for (const entry of this.objects.values()) total += entry.body.byteLength;
    return total;
  }

  /** Bytes of recently stored media held. */
  get recentHeldBytes(): number {
    return this.recentBytes;
  }

  private dropRecent(key: string): void {
    const entry = this.recent.get(key);
    if (entry === undefined) return;
    this.recent.delete(key);
    this.recentBytes -= entry.body.byteLength;
  }
}

/**
 * Reads see what the upload queues hold before it is stored, and what they stored last: `get`
 * answers such a key from memory (same ETag as the stored object will have: the MD5 of the body), anything else from the
 * storage it wraps. The embedded origin reads through it, so a part listed while its upload is still
 * retrying is served all the same.
 */
export class PendingReadStorage implements Pick<ObjectStorage, 'get'> {
  constructor(
    private readonly inner: Pick<ObjectStorage, 'get'>,
    private readonly pending: PendingObjects,
  ) {}

  async get(key: string, options?: GetOptions): Promise<GetResult | undefined> {
    const held = this.pending.get(key);
    if (held === undefined) return this.inner.get(key, options);
    if (options?.ifNoneMatch !== undefined && ifNoneMatchHits(options.ifNoneMatch, held.etag)) return { notModified: true, etag: held.etag };
    return held;
  }
}
