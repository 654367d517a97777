import { createHash } from 'node:crypto';
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { brotliCompressSync, constants as zlibConstants, gzipSync } from 'node:zlib';
import { ErrorCode, LivepipeError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { OriginMetrics, OriginRequestClass } from '../observability/metrics.js';
import type { MediaPlaylist } from '../hls/playlist-model.js';
import type { ObjectStorage } from '../storage/object-storage.js';
import {
  blockingRequestError,
  conditionKey,
  mediaAvailability,
  parseBlockingQuery,
  playlistContains,
  type BlockingQuery,
  type MediaRef,
} from './blocking-request.js';
import { ByteLruCache } from './byte-lru-cache.js';
import { cacheControlFor, type ResponseClass } from './cache-control-policy.js';
import { HeldRequests } from './held-requests.js';
import { etagMatches, ifRangeAllows, negotiateEncoding, parseRange, type ContentCoding } from './http-negotiation.js';
import { httpStatusOf } from './origin-errors.js';
import type { OriginSource, PlaylistSnapshot, RenderPlaylist, SkipMode } from './origin-source.js';
import { checkRequestPath, contentTypeOf, type OriginResource } from './request-path.js';

/**
 * The origin CDNs pull from: LL-HLS media playlists rendered from the source's models with blocking
 * reload, delta updates and preload-hint holds (draft-pantos-hls-rfc8216bis §6.2.5, App. B.1), and
 * parts/segments/init segments from storage through a byte-bounded LRU with coalesced reads.
 *
 * Raw `node:http`: a cached part is answered from a prebuilt header array and a Buffer without
 * parsing the path again (the cache is keyed by validated paths, so an exact match is safe).
 */
export interface OriginServerOptions {
  source: OriginSource;
  storage: Pick<ObjectStorage, 'get'>;
  render: RenderPlaylist;
  logger: Logger;
  /** Where request, hold and cache counts go; default nowhere. */
  metrics?: OriginMetrics;
  /** Bind address; default `127.0.0.1` (put a CDN or proxy in front, or pass `0.0.0.0`). */
  host?: string;
  /** TCP port; default 8080, 0 for an ephemeral one. */
  port?: number;
  /** `Access-Control-Allow-Origin`: `'*'` (default) or the exact origins allowed. */
  corsOrigins?: '*' | readonly string[];
  /**
   * Memory cache budget for media and the multivariant playlist, bytes; default 256 MiB. Renderings
   * of media playlists are not in it: they live as long as their playlist version is current.
   */
  cacheMaxBytes?: number;
  /** Largest object kept in the cache, bytes; default 16 MiB. */
  cacheMaxEntryBytes?: number;
  /** Cap on concurrently held requests; default 20 000. Beyond it: 503 + Retry-After. */
  maxHeldRequests?: number;
  /** Target duration assumed for responses about playlists the source does not know, s; default 2. */
  defaultTargetDuration?: number;
  /** max-age of the multivariant playlist, s; default 2. */
  multivariantMaxAge?: number;
  /** How long a read multivariant playlist is reused before storage is asked again, ms; default 1000. */
  multivariantRefreshMs?: number;
  /** `server.headersTimeout`, ms; default 10 000 (slow-header clients). */
  headersTimeoutMs?: number;
  /** `server.requestTimeout` (receiving the whole request), ms; default 30 000. */
  requestTimeoutMs?: number;
  /**
   * `server.keepAliveTimeout`, ms; default 65 000: longer than the idle timeout of common CDN/load
   * balancer pools (60 s), so the client side closes idle connections first and never reuses one the
   * origin is closing.
   */
  keepAliveTimeoutMs?: number;
  /** How long `close()` lets in-flight responses finish before cutting connections, ms; default 5000. */
  closeGraceMs?: number;
}

/** A stored object ready to send. */
interface MediaEntry {
  readonly size: number;
  readonly body: Buffer;
  readonly etag: string;
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

interface EncodedBody {
  readonly size: number;
  readonly body: Buffer;
  readonly etag: string;
}

/** A rendered playlist in one skip mode and content coding. */
interface RenderedPlaylist extends EncodedBody {
  readonly lastModified: string;
  readonly coding: ContentCoding;
}

/**
 * Everything sent for one playlist snapshot, made on first use and shared by every later response:
 * a wake-up of 1,000 held requests renders (and compresses) each variant once and then only writes
 * the same Buffer with the same header list 1,000 times.
 */
interface PlaylistRenders {
  /** Bodies by variant: `skipIndex * 3 + codingIndex` (see `variantOf`). */
  readonly bodies: (RenderedPlaylist | undefined)[];
  /** Complete 200 header lists (CORS `*`) by `variant * 2 + (blocking ? 1 : 0)`. */
  readonly heads: (string[] | undefined)[];
}

const CODING_INDEX: Readonly<Record<ContentCoding, number>> = { identity: 0, gzip: 1, br: 2 };

/** Index of a (skip mode, coding) variant in `PlaylistRenders.bodies`. */
function variantOf(skip: SkipMode | undefined, coding: ContentCoding): number {
  return (skip === undefined ? 0 : skip === 'YES' ? 3 : 6) + CODING_INDEX[coding];
}

/** Distinct `Accept-Encoding` values remembered with their negotiated coding (CDNs send a handful). */
const MAX_REMEMBERED_CODINGS = 64;
/** Longer `Accept-Encoding` values are negotiated every time rather than remembered. */
const MAX_REMEMBERED_CODING_LENGTH = 256;

const EXPOSED_HEADERS = 'Age, Date, ETag, Content-Range, Accept-Ranges';
const ALLOW = 'GET, HEAD, OPTIONS';
const PLAYLIST_TYPE = 'application/vnd.apple.mpegurl';

export class OriginServer {
  private readonly server: Server;
  private readonly cache: ByteLruCache<MediaEntry>;
  private readonly inflightReads = new Map<string, Promise<MediaEntry | undefined>>();
  /**
   * Renderings per playlist snapshot. Sources hand out one snapshot object per version, so a
   * superseded version's renderings go with its snapshot (garbage-collected) and nothing is keyed
   * by strings or reordered on the release path.
   */
  private readonly renders = new WeakMap<PlaylistSnapshot, PlaylistRenders>();
  /** `Accept-Encoding` value → negotiated coding (see `codingOf`). */
  private readonly codings = new Map<string, ContentCoding>();
  private readonly held: HeldRequests;
  private readonly logger: Logger;
  private readonly metrics: OriginMetrics | undefined;
  private readonly corsAny: boolean;
  private readonly corsAllowed: ReadonlySet<string>;
  private readonly defaultTd: number;
  private readonly multivariantMaxAge: number;
  private readonly multivariantRefreshMs: number;
  private state: 'new' | 'started' | 'closing' | 'closed' = 'new';
  private closePromise: Promise<void> | undefined;
  /** Storage reads issued for media and multivariant playlists (observability and tests). */
  storageReads = 0;

  constructor(private readonly options: OriginServerOptions) {
    this.logger = options.logger.child({ component: 'origin' });
    this.metrics = options.metrics;
    this.cache = new ByteLruCache(options.cacheMaxBytes ?? 256 * 1024 * 1024, options.cacheMaxEntryBytes ?? 16 * 1024 * 1024);
    this.held = new HeldRequests(options.source, options.maxHeldRequests ?? 20_000, (err) =>
      this.logger.error({ err: errorMessage(err) }, 'releasing a held request failed'),
    );
    const cors = options.corsOrigins ?? '*';
    this.corsAny = cors === '*';
    this.corsAllowed = new Set(cors === '*' ? [] : cors);
    this.defaultTd = options.defaultTargetDuration ?? 2;
    this.multivariantMaxAge = options.multivariantMaxAge ?? 2;
    this.multivariantRefreshMs = options.multivariantRefreshMs ?? 1000;
    const headersTimeout = options.headersTimeoutMs ?? 10_000;
    const requestTimeout = options.requestTimeoutMs ?? 30_000;
    this.server = createServer(
      {
        maxHeaderSize: 16 * 1024,
        headersTimeout,
        requestTimeout,
        // How often Node enforces the two timeouts above (its default, 30 s, would let a slow
        // client hold a socket three times longer than headersTimeout).
        connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(headersTimeout / 4))),
      },
      (req, res) => this.onRequest(req, res),
    );
    this.server.keepAliveTimeout = options.keepAliveTimeoutMs ?? 65_000;
    this.server.maxHeadersCount = 100;
  }

  /** Number of requests currently held (blocking reloads and preload-hint holds). */
  get heldCount(): number {
    return this.held.size;
  }

  /** Bytes held by the memory cache. */
  get cacheBytes(): number {
    return this.cache.bytes;
  }

  isListening(): boolean {
    return this.server.listening;
  }

  /** The bound address (after `start()`). */
  address(): AddressInfo {
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new LivepipeError(ErrorCode.Closed, 'origin is not listening');
    return address;
  }

  async start(): Promise<void> {
    if (this.state !== 'new') throw new LivepipeError(ErrorCode.Closed, 'origin server can only be started once');
    const td = this.defaultTd;
    if (!(td > 0) || !((this.options.maxHeldRequests ?? 1) > 0)) {
      throw new LivepipeError(ErrorCode.ConfigInvalid, 'origin: defaultTargetDuration and maxHeldRequests must be positive');
    }
    if (!this.corsAny) {
      for (const origin of this.corsAllowed) {
        if (!/^https?:\/\/[^\s/]+$/.test(origin)) throw new LivepipeError(ErrorCode.ConfigInvalid, `origin: invalid CORS origin ${origin}`);
      }
    }
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(new LivepipeError(ErrorCode.ConfigInvalid, `origin cannot listen: ${err.message}`, { cause: err }));
      this.server.once('error', onError);
      this.server.listen(this.options.port ?? 8080, this.options.host ?? '127.0.0.1', () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    this.server.on('error', (err) => this.logger.error({ err: errorMessage(err) }, 'origin server error'));
    this.state = 'started';
    const { address, port } = this.address();
    this.logger.info({ address, port }, 'origin listening');
  }

  /**
   * Stops accepting connections, answers every held request with 503 (Retry-After), lets in-flight
   * responses finish for up to `closeGraceMs`, then cuts what is left. Idempotent.
   */
  close(): Promise<void> {
    if (!this.closePromise) this.closePromise = this.shutdown();
    return this.closePromise;
  }

  private async shutdown(): Promise<void> {
    const wasListening = this.state === 'started';
    this.state = 'closing';
    this.held.abortAll();
    if (wasListening) {
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      this.server.closeIdleConnections();
      const grace = setTimeout(() => this.server.closeAllConnections(), this.options.closeGraceMs ?? 5000);
      await closed;
      clearTimeout(grace);
    }
    this.cache.clear();
    this.state = 'closed';
  }

  // ---- request dispatch ------------------------------------------------------------------------

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const method = req.method;
    const isHead = method === 'HEAD';
    if (method !== 'GET' && !isHead) {
      if (method === 'OPTIONS') return this.preflight(req, res);
      return this.sendError(req, res, 'other', 405, 'malformed', 0, 'method not allowed', { Allow: ALLOW });
    }
    if (this.state !== 'started') {
      return this.sendError(req, res, 'other', 503, 'overload', 0, 'origin is shutting down', { 'Retry-After': '1', Connection: 'close' });
    }
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const rawPath = q === -1 ? url : url.slice(0, q);

    // Hot path: an object already in memory, answered synchronously.
    const cached = this.cache.get(rawPath);
    if (cached !== undefined) {
      if (cached.expiresAt === undefined) {
        const h = req.headers;
        if (this.corsAny && h['if-none-match'] === undefined && h.range === undefined && h['if-modified-since'] === undefined) {
          res.writeHead(200, cached.head);
          res.end(isHead ? undefined : cached.body);
          this.metrics?.countCacheHit();
          this.metrics?.countOriginRequest(cached.requestClass, 200);
          return;
        }
        this.metrics?.countCacheHit();
        return this.sendMedia(req, res, cached);
      }
      if (cached.expiresAt > Date.now()) {
        this.metrics?.countCacheHit();
        return this.sendMultivariant(req, res, cached);
      }
    }

    const checked = checkRequestPath(rawPath);
    if (!checked.ok) {
      return this.sendError(req, res, 'other', checked.status, checked.status === 400 ? 'malformed' : 'media', this.defaultTd, checked.reason);
    }
    const resource = checked.resource;
    let work: Promise<void>;
    switch (resource.kind) {
      case 'media-playlist':
        work = this.servePlaylist(req, res, resource, q === -1 ? undefined : url.slice(q + 1));
        break;
      case 'multivariant':
        work = this.serveMultivariant(req, res, resource);
        break;
      default:
        work = this.serveMedia(req, res, resource);
    }
    work.catch((err: unknown) => this.sendFailure(req, res, requestClassOf(resource, q !== -1 && url.includes('_HLS_msn')), err));
  }

  // ---- media playlists ---------------------------------------------------------------------------

  private async servePlaylist(req: IncomingMessage, res: ServerResponse, resource: OriginResource, rawQuery: string | undefined): Promise<void> {
    const parsed = parseBlockingQuery(rawQuery);
    const snapshot = await this.options.source.get(resource.channel, resource.path);
    const blockingAsked = parsed.ok ? parsed.query.msn !== undefined : /_HLS_(msn|part)/.test(rawQuery ?? '');
    const responseClass: ResponseClass = blockingAsked ? 'blocking-playlist' : 'playlist';
    const cls: OriginRequestClass = blockingAsked ? 'blocking_playlist' : 'playlist';
    const td = snapshot?.model.targetDuration ?? this.defaultTd;
    if (!parsed.ok) return this.sendError(req, res, cls, 400, responseClass, td, parsed.reason);
    if (!snapshot) return this.sendError(req, res, cls, 404, responseClass, td, 'no such playlist');
    const query = parsed.query;
    const model = snapshot.model;
    // §6.2.5.2: "If the Playlist contains an EXT-X-ENDLIST tag, the server MUST ignore the _HLS_msn and _HLS_part parameters".
    if (query.msn === undefined || model.endList) return this.sendPlaylist(req, res, resource, snapshot, query.skip, false);
    const refusal = blockingRequestError(model, query);
    if (refusal) return this.sendError(req, res, 'blocking_playlist', 400, 'blocking-playlist', td, refusal);
    if (playlistContains(model, query.msn, query.part)) return this.sendPlaylist(req, res, resource, snapshot, query.skip, true);
    this.holdPlaylist(req, res, resource, snapshot, query);
  }

  private holdPlaylist(req: IncomingMessage, res: ServerResponse, resource: OriginResource, snapshot: PlaylistSnapshot, query: BlockingQuery): void {
    // close() may have run while this request awaited the source: never hold past abortAll().
    if (this.state !== 'started') return this.sendShutdown(req, res, 'blocking_playlist');
    const msn = query.msn!;
    const part = query.part;
    const td = snapshot.model.targetDuration;
    const ticket = this.held.hold({
      channel: resource.channel,
      path: resource.path,
      conditionKey: `p:${conditionKey(msn, part)}`,
      test: (s) => s === undefined || playlistContains(s.model, msn, part),
      testedVersion: snapshot.version,
      // §6.2.5.2: a request that cannot be satisfied within 3 target durations gets 503.
      timeoutMs: 3 * td * 1000,
      handlers: {
        release: (s) => {
          if (s === undefined) this.sendError(req, res, 'blocking_playlist', 404, 'blocking-playlist', td, 'playlist removed');
          else this.sendPlaylist(req, res, resource, s, query.skip, true);
        },
        timeout: () => this.sendError(req, res, 'blocking_playlist', 503, 'blocking-playlist', td, 'the playlist did not advance in time'),
        abort: () => this.sendShutdown(req, res, 'blocking_playlist'),
      },
    });
    if (!ticket) return this.sendCapacity(req, res, 'blocking_playlist', snapshot.model.partTarget);
    this.whileHeld(res, ticket);
  }

  /** Forgets the waiter when the client goes away; counts the request as held until its response is done. */
  private whileHeld(res: ServerResponse, ticket: { cancel(): void }): void {
    const released = this.metrics?.trackHeldRequest();
    res.once('close', () => {
      ticket.cancel();
      released?.();
    });
  }

  private sendPlaylist(req: IncomingMessage, res: ServerResponse, resource: OriginResource, snapshot: PlaylistSnapshot, skip: SkipMode | undefined, blocking: boolean): void {
    if (res.writableEnded || res.destroyed) return;
    const model = snapshot.model;
    // A delta update is only possible when the playlist declares CAN-SKIP-UNTIL (§6.2.5.1).
    const skipMode = skip !== undefined && model.serverControl.canSkipUntil > 0 ? skip : undefined;
    const coding = this.codingOf(req);
    const variant = variantOf(skipMode, coding);
    const cls: OriginRequestClass = blocking ? 'blocking_playlist' : 'playlist';
    let renders = this.renders.get(snapshot);
    if (renders === undefined) {
      renders = { bodies: [], heads: [] };
      this.renders.set(snapshot, renders);
    }
    let rendered = renders.bodies[variant];
    if (rendered === undefined) {
      try {
        rendered = this.render(renders, model, skipMode, coding);
      } catch (err) {
        return this.sendFailure(req, res, cls, err);
      }
    }
    const ifNoneMatch = header(req, 'if-none-match');
    if (this.corsAny && ifNoneMatch === undefined) {
      // The common case, and every response of a wake-up: a prebuilt header list and a shared body.
      const slot = variant * 2 + (blocking ? 1 : 0);
      let head = renders.heads[slot];
      if (head === undefined) {
        head = [
          'Content-Type', PLAYLIST_TYPE,
          'Content-Length', String(rendered.size),
          'Cache-Control', cacheControlFor(blocking ? 'blocking-playlist' : 'playlist', true, model.targetDuration),
          'ETag', rendered.etag,
          'Last-Modified', rendered.lastModified,
          'Vary', 'Accept-Encoding',
          'Access-Control-Allow-Origin', '*',
          'Access-Control-Expose-Headers', EXPOSED_HEADERS,
        ];
        if (coding !== 'identity') head.push('Content-Encoding', coding);
        renders.heads[slot] = head;
      }
      res.writeHead(200, head);
      res.end(req.method === 'HEAD' ? undefined : rendered.body);
      this.metrics?.countOriginRequest(cls, 200);
      return;
    }
    const headers: Record<string, string> = {
      'Content-Type': PLAYLIST_TYPE,
      'Cache-Control': cacheControlFor(blocking ? 'blocking-playlist' : 'playlist', true, model.targetDuration),
      ETag: rendered.etag,
      'Last-Modified': rendered.lastModified,
      Vary: 'Accept-Encoding',
    };
    this.addCors(req, headers);
    if (etagMatches(ifNoneMatch, rendered.etag)) {
      res.writeHead(304, headers);
      res.end();
      this.metrics?.countOriginRequest(cls, 304);
      return;
    }
    if (coding !== 'identity') headers['Content-Encoding'] = coding;
    headers['Content-Length'] = String(rendered.size);
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : rendered.body);
    this.metrics?.countOriginRequest(cls, 200);
  }

  /** Renders (the identity body once per skip mode) and compresses one variant of a snapshot. */
  private render(renders: PlaylistRenders, model: MediaPlaylist, skip: SkipMode | undefined, coding: ContentCoding): RenderedPlaylist {
    const plainVariant = variantOf(skip, 'identity');
    let plain = renders.bodies[plainVariant];
    if (plain === undefined) {
      const body = Buffer.from(this.options.render(model, skip === undefined ? {} : { skip }), 'utf8');
      const etag = `"${createHash('sha1').update(body).digest('base64url').slice(0, 22)}"`;
      plain = { size: body.length, body, etag, lastModified: new Date().toUTCString(), coding: 'identity' };
      renders.bodies[plainVariant] = plain;
    }
    if (coding === 'identity') return plain;
    const body = compress(plain.body, coding);
    const result: RenderedPlaylist = { size: body.length, body, etag: `${plain.etag.slice(0, -1)}-${coding}"`, lastModified: plain.lastModified, coding };
    renders.bodies[variantOf(skip, coding)] = result;
    return result;
  }

  /**
   * The content coding for a playlist response. CDN edges send the same `Accept-Encoding` on every
   * request, so the negotiation result is remembered per value instead of parsed per response.
   */
  private codingOf(req: IncomingMessage): ContentCoding {
    const accept = header(req, 'accept-encoding');
    if (accept === undefined) return 'identity';
    let coding = this.codings.get(accept);
    if (coding === undefined) {
      coding = negotiateEncoding(accept);
      if (accept.length <= MAX_REMEMBERED_CODING_LENGTH) {
        // Odd values from a flood of clients cannot grow the table: it just starts over.
        if (this.codings.size >= MAX_REMEMBERED_CODINGS) this.codings.clear();
        this.codings.set(accept, coding);
      }
    }
    return coding;
  }

  // ---- multivariant playlist ---------------------------------------------------------------------

  private async serveMultivariant(req: IncomingMessage, res: ServerResponse, resource: OriginResource): Promise<void> {
    const entry = await this.readThrough(`/${resource.key}`, resource, 'multivariant');
    if (!entry) return this.sendError(req, res, 'multivariant', 404, 'multivariant', this.defaultTd, 'no such channel');
    this.sendMultivariant(req, res, entry);
  }

  private sendMultivariant(req: IncomingMessage, res: ServerResponse, entry: MediaEntry): void {
    const coding = this.codingOf(req);
    let body: EncodedBody = entry;
    if (coding !== 'identity' && entry.encoded) {
      let encoded = entry.encoded.get(coding);
      if (!encoded) {
        const compressed = compress(entry.body, coding);
        encoded = { size: compressed.length, body: compressed, etag: `${entry.etag.slice(0, -1)}-${coding}"` };
        entry.encoded.set(coding, encoded);
      }
      body = encoded;
    }
    const headers: Record<string, string> = {
      'Content-Type': entry.contentType,
      'Cache-Control': entry.cacheControl,
      ETag: body.etag,
      'Last-Modified': entry.lastModified.toUTCString(),
      Vary: 'Accept-Encoding',
    };
    this.addCors(req, headers);
    if (etagMatches(header(req, 'if-none-match'), body.etag)) {
      res.writeHead(304, headers);
      res.end();
      this.metrics?.countOriginRequest('multivariant', 304);
      return;
    }
    if (body !== entry) headers['Content-Encoding'] = coding;
    headers['Content-Length'] = String(body.size);
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : body.body);
    this.metrics?.countOriginRequest('multivariant', 200);
  }

  // ---- media (init, parts, segments) -------------------------------------------------------------

  private async serveMedia(req: IncomingMessage, res: ServerResponse, resource: OriginResource): Promise<void> {
    const cacheKey = `/${resource.key}`;
    const cls = requestClassOf(resource, false);
    const entry = await this.readThrough(cacheKey, resource, 'media');
    if (entry) return this.sendMedia(req, res, entry);
    const playlistPath = resource.playlistPath!;
    const snapshot = await this.options.source.get(resource.channel, playlistPath);
    const td = snapshot?.model.targetDuration ?? this.defaultTd;
    if (!snapshot) return this.sendError(req, res, cls, 404, 'media', td, 'not found');
    const ref = mediaRef(resource);
    const availability = mediaAvailability(snapshot.model, playlistPath, ref);
    if (availability === 'listed') {
      // Listed after our read began: read again once.
      const again = await this.readThrough(cacheKey, resource, 'media');
      return again ? this.sendMedia(req, res, again) : this.sendError(req, res, cls, 404, 'media', td, 'not found');
    }
    if (availability === 'unknown') return this.sendError(req, res, cls, 404, 'media', td, 'not found');

    // §6.2.5.3: a hinted (or just-ahead) part is held until it is complete, then answered.
    if (this.state !== 'started') return this.sendShutdown(req, res, cls);
    const ticket = this.held.hold({
      channel: resource.channel,
      path: playlistPath,
      conditionKey: `m:${resource.path}`,
      test: (s) => s === undefined || mediaAvailability(s.model, playlistPath, ref) !== 'awaited',
      testedVersion: snapshot.version,
      timeoutMs: 3 * td * 1000,
      handlers: {
        release: () => {
          this.readThrough(cacheKey, resource, 'media').then(
            (found) => (found ? this.sendMedia(req, res, found) : this.sendError(req, res, cls, 404, 'media', td, 'not found')),
            (err: unknown) => this.sendFailure(req, res, cls, err),
          );
        },
        timeout: () => this.sendError(req, res, cls, 503, 'media', td, 'the part did not appear in time'),
        abort: () => this.sendShutdown(req, res, cls),
      },
    });
    if (!ticket) return this.sendCapacity(req, res, cls, snapshot.model.partTarget);
    this.whileHeld(res, ticket);
  }

  /**
   * Cache first, then one storage read shared by every concurrent request for the same key.
   * Immutable media stays cached (LRU by bytes); the multivariant playlist for `multivariantRefreshMs`.
   */
  private readThrough(cacheKey: string, resource: OriginResource, kind: 'media' | 'multivariant'): Promise<MediaEntry | undefined> {
    const hit = this.cache.get(cacheKey);
    if (hit !== undefined && (hit.expiresAt === undefined || hit.expiresAt > Date.now())) {
      this.metrics?.countCacheHit();
      return Promise.resolve(hit);
    }
    this.metrics?.countCacheMiss();
    let pending = this.inflightReads.get(cacheKey);
    if (!pending) {
      pending = this.read(resource, kind).finally(() => this.inflightReads.delete(cacheKey));
      this.inflightReads.set(cacheKey, pending);
    }
    return pending;
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
    const cacheControl = kind === 'multivariant' ? cacheControlFor('multivariant', true, 0, { multivariantMaxAge: this.multivariantMaxAge }) : cacheControlFor('media', true, 0);
    const contentType = stored.contentType || contentTypeOf(resource.kind, resource.path);
    const body = stored.body;
    const head = [
      'Content-Type', contentType,
      'Content-Length', String(body.length),
      'Cache-Control', cacheControl,
      'ETag', stored.etag,
      'Last-Modified', stored.lastModified.toUTCString(),
      'Accept-Ranges', 'bytes',
      'Access-Control-Allow-Origin', '*',
      'Access-Control-Expose-Headers', EXPOSED_HEADERS,
    ];
    const entry: MediaEntry =
      kind === 'multivariant'
        ? { size: body.length, body, etag: stored.etag, lastModified: stored.lastModified, contentType, cacheControl, requestClass: 'multivariant', head, expiresAt: Date.now() + this.multivariantRefreshMs, encoded: new Map() }
        : { size: body.length, body, etag: stored.etag, lastModified: stored.lastModified, contentType, cacheControl, requestClass: requestClassOf(resource, false), head };
    this.cache.set(`/${resource.key}`, entry);
    return entry;
  }

  /** Full, conditional (304) and range (206/416) responses for a stored object. */
  private sendMedia(req: IncomingMessage, res: ServerResponse, entry: MediaEntry): void {
    if (res.writableEnded || res.destroyed) return;
    const headers: Record<string, string> = {
      'Content-Type': entry.contentType,
      'Cache-Control': entry.cacheControl,
      ETag: entry.etag,
      'Last-Modified': entry.lastModified.toUTCString(),
      'Accept-Ranges': 'bytes',
    };
    this.addCors(req, headers);
    const ifNoneMatch = header(req, 'if-none-match');
    const ifModifiedSince = header(req, 'if-modified-since');
    if (
      etagMatches(ifNoneMatch, entry.etag) ||
      (ifNoneMatch === undefined && ifModifiedSince !== undefined && notModifiedSince(entry.lastModified, ifModifiedSince))
    ) {
      res.writeHead(304, headers);
      res.end();
      this.metrics?.countOriginRequest(entry.requestClass, 304);
      return;
    }
    const range = ifRangeAllows(header(req, 'if-range'), entry.etag, entry.lastModified)
      ? parseRange(header(req, 'range'), entry.size)
      : ({ kind: 'full' } as const);
    const isHead = req.method === 'HEAD';
    if (range.kind === 'unsatisfiable') {
      headers['Content-Range'] = `bytes */${entry.size}`;
      headers['Cache-Control'] = 'no-store';
      headers['Content-Length'] = '0';
      res.writeHead(416, headers);
      res.end();
      this.metrics?.countOriginRequest(entry.requestClass, 416);
      return;
    }
    if (range.kind === 'partial') {
      headers['Content-Range'] = `bytes ${range.start}-${range.end}/${entry.size}`;
      headers['Content-Length'] = String(range.end - range.start + 1);
      res.writeHead(206, headers);
      res.end(isHead ? undefined : entry.body.subarray(range.start, range.end + 1));
      this.metrics?.countOriginRequest(entry.requestClass, 206);
      return;
    }
    headers['Content-Length'] = String(entry.size);
    res.writeHead(200, headers);
    res.end(isHead ? undefined : entry.body);
    this.metrics?.countOriginRequest(entry.requestClass, 200);
  }

  // ---- CORS, errors ------------------------------------------------------------------------------

  private preflight(req: IncomingMessage, res: ServerResponse): void {
    const headers: Record<string, string> = {
      'Access-Control-Allow-Methods': ALLOW,
      'Access-Control-Allow-Headers': 'Range, If-None-Match, If-Modified-Since, If-Range, Cache-Control',
      'Access-Control-Max-Age': '86400',
      Allow: ALLOW,
      'Cache-Control': 'public, max-age=86400',
      'Content-Length': '0',
    };
    this.addCors(req, headers);
    res.writeHead(204, headers);
    res.end();
    this.metrics?.countOriginRequest('other', 204);
  }

  private addCors(req: IncomingMessage, headers: Record<string, string>): void {
    if (this.corsAny) {
      headers['Access-Control-Allow-Origin'] = '*';
    } else {
      const origin = header(req, 'origin');
      headers.Vary = headers.Vary ? `${headers.Vary}, Origin` : 'Origin';
      if (origin === undefined || !this.corsAllowed.has(origin)) return;
      headers['Access-Control-Allow-Origin'] = origin;
    }
    headers['Access-Control-Expose-Headers'] = EXPOSED_HEADERS;
  }

  private sendCapacity(req: IncomingMessage, res: ServerResponse, cls: OriginRequestClass, partTarget: number): void {
    this.sendError(req, res, cls, 503, 'overload', 0, 'too many held requests', { 'Retry-After': String(Math.max(1, Math.ceil(partTarget))) });
  }

  private sendShutdown(req: IncomingMessage, res: ServerResponse, cls: OriginRequestClass): void {
    this.sendError(req, res, cls, 503, 'overload', 0, 'origin is shutting down', { 'Retry-After': '1', Connection: 'close' });
  }

  /** An unexpected or coded failure: the status comes from the code, the body never carries details. */
  private sendFailure(req: IncomingMessage, res: ServerResponse, cls: OriginRequestClass, err: unknown): void {
    const status = httpStatusOf(err);
    if (status >= 500) this.logger.error({ err: errorMessage(err), cause: causeOf(err), url: req.url }, 'origin request failed');
    this.sendError(req, res, cls, status, 'overload', 0, STATUS_CODES[status] ?? 'error', status === 503 ? { 'Retry-After': '1' } : {});
  }

  /** A short plain-text error. `reason` is always one of our fixed phrases, never request data. */
  private sendError(
    req: IncomingMessage,
    res: ServerResponse,
    cls: OriginRequestClass,
    status: number,
    responseClass: ResponseClass,
    targetDuration: number,
    reason: string,
    extra: Record<string, string> = {},
  ): void {
    if (res.headersSent || res.destroyed) return;
    const body = Buffer.from(`${status} ${STATUS_CODES[status] ?? ''}: ${reason}\n`, 'utf8');
    const headers: Record<string, string> = {
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': String(body.length),
      'Cache-Control': cacheControlFor(responseClass, false, targetDuration, { multivariantMaxAge: this.multivariantMaxAge }),
      'X-Content-Type-Options': 'nosniff',
      ...extra,
    };
    this.addCors(req, headers);
    res.writeHead(status, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
    this.metrics?.countOriginRequest(cls, status);
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

function compress(body: Buffer, coding: ContentCoding): Buffer {
  if (coding === 'br') {
    // Quality 5: a few-KB playlist compresses in well under a millisecond, close to q11's ratio.
    return brotliCompressSync(body, {
      params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 5, [zlibConstants.BROTLI_PARAM_SIZE_HINT]: body.length },
    });
  }
  if (coding === 'gzip') return gzipSync(body, { level: 6 });
  return body;
}

function notModifiedSince(lastModified: Date, ifModifiedSince: string): boolean {
  const since = Date.parse(ifModifiedSince);
  return Number.isFinite(since) && Math.floor(lastModified.getTime() / 1000) * 1000 <= since;
}

/** The metrics class of a request for `resource` (`blocking`: a media playlist request with `_HLS_msn`). */
function requestClassOf(resource: OriginResource, blocking: boolean): OriginRequestClass {
  switch (resource.kind) {
    case 'multivariant':
      return 'multivariant';
    case 'media-playlist':
      return blocking ? 'blocking_playlist' : 'playlist';
    case 'init':
    case 'part':
    case 'segment':
      return resource.kind;
    default:
      return 'other';
  }
}

function mediaRef(resource: OriginResource): MediaRef {
  const kind = resource.kind === 'part' || resource.kind === 'segment' || resource.kind === 'init' ? resource.kind : 'media';
  return { path: resource.path, kind, msn: resource.msn, partIndex: resource.partIndex };
}

function causeOf(err: unknown): string | undefined {
  return err instanceof Error && err.cause !== undefined ? errorMessage(err.cause) : undefined;
}
