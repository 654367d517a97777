import { ErrorCode, LivepipeError } from '../core/errors.js';
import type { OriginMetrics, OriginRequestClass } from '../observability/metrics.js';
import type { ObjectStorage } from '../storage/object-storage.js';
import { ByteLruCache } from './byte-lru-cache.js';
import { cacheControlFor } from './cache-control-policy.js';
import type { ContentCoding } from './http-negotiation.js';
import { requestClassOf } from './request-class.js';
import { contentTypeOf, type OriginResource } from './request-path.js';
import { storedObjectHead } from './response-headers.js';

/** A body in one content coding. */
export interface EncodedBody {
  readonly size: number;
  readonly body: Buffer;
  readonly etag: string;
}

/** A stored object ready to send. */
export interface MediaEntry extends EncodedBody {
  readonly lastModified: Date;
  readonly contentType: string;
  readonly cacheControl: string;
  /** The metrics class of responses carrying this object. */
  readonly requestClass: OriginRequestClass;
  /** Complete header list of a 200 response when CORS allows every origin (hot path). */
  readonly head: string[];
  /** For the multivariant playlist: when to read storage again (ms epoch); undefined for immutable media. */
  readonly expiresAt?: number;
  /** Compressed variants (playlists only). */
  readonly encoded?: Map<ContentCoding, EncodedBody>;
}

export interface MediaCacheOptions {
  storage: Pick<ObjectStorage, 'get'>;
  metrics: OriginMetrics | undefined;
  /** Memory budget, bytes (origin default 256 MiB). */
  maxBytes: number;
  /** Largest object kept, bytes (origin default 16 MiB). */
  maxEntryBytes: number;
  /** max-age of the multivariant playlist, s. */
  multivariantMaxAge: number;
  /** How long a read multivariant playlist is reused before storage is asked again, ms. */
  multivariantRefreshMs: number;
}

/**
 * Stored objects in memory: immutable media (init segments, parts, segments) in a byte-bounded LRU,
 * and the multivariant playlist for `multivariantRefreshMs`. Keyed by the validated URL path
 * (`/live/…`, the storage key with a leading `/`), so the request path of a later request can be
 * looked up before it is parsed again: an exact match is a path that passed the checks. Concurrent
 * misses for one key share one storage read.
 */
export class MediaCache {
  private readonly entries: ByteLruCache<MediaEntry>;
  private readonly inflightReads = new Map<string, Promise<MediaEntry | undefined>>();
  /** Storage reads issued (observability and tests). */
  storageReads = 0;

  constructor(private readonly options: MediaCacheOptions) {
    this.entries = new ByteLruCache(options.maxBytes, options.maxEntryBytes);
  }

  /** Bytes held. */
  get bytes(): number {
    return this.entries.bytes;
  }

  /** The entry under a URL path, fresh or not (the hot path checks `expiresAt` itself). */
  get(path: string): MediaEntry | undefined {
    return this.entries.get(path);
  }

  /**
   * Cache first, then one storage read shared by every concurrent request for the same key.
   * Immutable media stays cached (LRU by bytes); the multivariant playlist for `multivariantRefreshMs`.
   */
  readThrough(cacheKey: string, resource: OriginResource, kind: 'media' | 'multivariant'): Promise<MediaEntry | undefined> {
    const hit = this.entries.get(cacheKey);
    if (hit !== undefined && (hit.expiresAt === undefined || hit.expiresAt > Date.now())) {
      this.options.metrics?.countCacheHit();
      return Promise.resolve(hit);
    }
    this.options.metrics?.countCacheMiss();
    let pending = this.inflightReads.get(cacheKey);
    if (!pending) {
      pending = this.read(resource, kind).finally(() => this.inflightReads.delete(cacheKey));
      this.inflightReads.set(cacheKey, pending);
    }
    return pending;
  }

  clear(): void {
    this.entries.clear();
  }

  private async read(resource: OriginResource, kind: 'media' | 'multivariant'): Promise<MediaEntry | undefined> {
    this.storageReads++;
    let stored;
    try {
      stored = await this.options.storage.get(resource.key);
    } catch (err) {
      throw new LivepipeError(ErrorCode.StorageUnavailable, 'storage read failed', { cause: err });
    }
    if (stored === undefined || 'notModified' in stored) return undefined;
    const { body, etag, lastModified } = stored;
    const cacheControl =
      kind === 'multivariant'
        ? cacheControlFor('multivariant', true, 0, { multivariantMaxAge: this.options.multivariantMaxAge })
        : cacheControlFor('media', true, 0);
    const contentType = stored.contentType || contentTypeOf(resource.kind, resource.path);
    const head = storedObjectHead({ contentType, cacheControl, etag, lastModified }, body.length);
    const entry: MediaEntry =
      kind === 'multivariant'
        ? { size: body.length, body, etag, lastModified, contentType, cacheControl, requestClass: 'multivariant', head, expiresAt: Date.now() + this.options.multivariantRefreshMs, encoded: new Map() }
        : { size: body.length, body, etag, lastModified, contentType, cacheControl, requestClass: requestClassOf(resource, false), head };
    this.entries.set(`/${resource.key}`, entry);
    return entry;
  }
}
