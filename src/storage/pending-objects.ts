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

/**
 * Media accepted for upload and not stored yet, by storage key: the write-behind edge. Every upload
 * queue of a process registers what it holds here (and removes it once stored or given up), so the
 * embedded origin can serve the newest parts from memory while storage is slow or down
 * (`PendingReadStorage`). It holds no bytes of its own beyond the queues' references: its size is
 * bounded by the queues' `maxQueuedBytes`.
 */
export class PendingObjects {
  private readonly objects = new Map<string, PendingObject>();

  /** Registers `body` under `key`; returns the token `remove` needs (a later add of the same key replaces it). */
  add(key: string, body: Uint8Array, options: Pick<PutOptions, 'contentType' | 'cacheControl'>): object {
    const entry: PendingObject = { body, contentType: options.contentType, cacheControl: options.cacheControl, acceptedAt: new Date(), etag: undefined };
    this.objects.set(key, entry);
    return entry;
  }

  /** Forgets `key` if it still holds the object `token` was given for. */
  remove(key: string, token: object): void {
    if (this.objects.get(key) === token) this.objects.delete(key);
  }

  /** The pending object under `key`, as storage would return it. */
  get(key: string): StoredObject | undefined {
    const entry = this.objects.get(key);
    if (entry === undefined) return undefined;
    entry.etag ??= md5ETag(entry.body);
    return {
      body: Buffer.from(entry.body.buffer, entry.body.byteOffset, entry.body.byteLength),
      contentType: entry.contentType,
      ...(entry.cacheControl !== undefined ? { cacheControl: entry.cacheControl } : {}),
      etag: entry.etag,
      lastModified: entry.acceptedAt,
    };
  }

  get size(): number {
    return this.objects.size;
  }

  /** Bytes of the objects held (summed when asked: read at scrape time, not on the put path). */
  get bytes(): number {
    let total = 0;
    for (const entry of this.objects.values()) total += entry.body.byteLength;
    return total;
  }
}

/**
 * Reads see what the upload queues hold before it is stored: `get` answers a pending key from
 * memory (same ETag as the stored object will have: the MD5 of the body), anything else from the
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
