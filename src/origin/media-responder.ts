import type { IncomingMessage, ServerResponse } from 'node:http';
import type { OriginMetrics } from '../observability/metrics.js';
import { mediaAvailability, type MediaRef } from './blocking-request.js';
import type { CorsPolicy } from './cors-policy.js';
import type { ErrorResponder } from './error-responder.js';
import type { HoldGate } from './hold-gate.js';
import type { HoldRequest } from './held-requests.js';
import { etagMatches, headerValue, ifRangeAllows, notModifiedSince, parseRange } from './http-negotiation.js';
import type { MediaCache, MediaEntry } from './media-cache.js';
import type { OriginSource } from './origin-source.js';
import { requestClassOf } from './request-class.js';
import type { OriginResource } from './request-path.js';
import { mediaHeaders } from './response-headers.js';

export interface MediaResponderOptions {
  cache: MediaCache;
  source: Pick<OriginSource, 'get'>;
  holds: HoldGate;
  errors: ErrorResponder;
  cors: CorsPolicy;
  metrics: OriginMetrics | undefined;
  /** Target duration for errors about playlists the source does not know, s. */
  defaultTargetDuration: number;
}

/**
 * Init segments, parts and segments: from memory when cached (a prebuilt header list and a shared
 * Buffer), else from storage through the cache; a part the playlist hints or is about to list is
 * held until it is complete (§6.2.5.3). Answers 304 to `If-None-Match`/`If-Modified-Since` and
 * one byte range (206/416, `If-Range`). Anything neither stored nor awaited is 404.
 */
export class MediaResponder {
  private readonly cache: MediaCache;
  private readonly errors: ErrorResponder;
  private readonly metrics: OriginMetrics | undefined;
  /** `cors.any`, read once: the hot path tests it per request. */
  private readonly corsAny: boolean;

  constructor(private readonly options: MediaResponderOptions) {
    this.cache = options.cache;
    this.errors = options.errors;
    this.metrics = options.metrics;
    this.corsAny = options.cors.any;
  }

  /**
   * A cache hit found by request path (the hot path): answered synchronously, with the entry's
   * prebuilt 200 header list when nothing conditional or ranged is asked and CORS allows everyone.
   */
  sendFromMemory(req: IncomingMessage, res: ServerResponse, entry: MediaEntry, isHead: boolean): void {
    const h = req.headers;
    if (this.corsAny && h['if-none-match'] === undefined && h.range === undefined && h['if-modified-since'] === undefined) {
      res.writeHead(200, entry.head);
      res.end(isHead ? undefined : entry.body);
      this.metrics?.countCacheHit();
      this.metrics?.countOriginRequest(entry.requestClass, 200);
      return;
    }
    this.metrics?.countCacheHit();
    this.send(req, res, entry);
  }

  /** A media request whose path is not cached (or was not when it arrived). */
  async serve(req: IncomingMessage, res: ServerResponse, resource: OriginResource): Promise<void> {
    const cacheKey = `/${resource.key}`;
    const cls = requestClassOf(resource, false);
    const entry = await this.cache.readThrough(cacheKey, resource, 'media');
    if (entry) return this.send(req, res, entry);
    const playlistPath = resource.playlistPath!;
    const snapshot = await this.options.source.get(resource.channel, playlistPath);
    const td = snapshot?.model.targetDuration ?? this.options.defaultTargetDuration;
    const notFound = { requestClass: cls, status: 404, responseClass: 'media', targetDuration: td, reason: 'not found' } as const;
    if (!snapshot) return this.errors.send(req, res, notFound);
    const ref = mediaRef(resource);
    const availability = mediaAvailability(snapshot.model, playlistPath, ref);
    if (availability === 'listed') {
      // Listed after our read began: read again once.
      const again = await this.cache.readThrough(cacheKey, resource, 'media');
      return again ? this.send(req, res, again) : this.errors.send(req, res, notFound);
    }
    if (availability === 'unknown') return this.errors.send(req, res, notFound);

    // §6.2.5.3: a hinted (or just-ahead) part is held until it is complete, then answered.
    const request: HoldRequest = {
      channel: resource.channel,
      path: playlistPath,
      conditionKey: `m:${resource.path}`,
      test: (s) => s === undefined || mediaAvailability(s.model, playlistPath, ref) !== 'awaited',
      testedVersion: snapshot.version,
      timeoutMs: 3 * td * 1000,
      handlers: {
        release: () => {
          this.cache.readThrough(cacheKey, resource, 'media').then(
            (found) => (found ? this.send(req, res, found) : this.errors.send(req, res, notFound)),
            (err: unknown) => this.errors.sendFailure(req, res, cls, err),
          );
        },
        timeout: () =>
          this.errors.sendHoldTimeout(req, res, { requestClass: cls, responseClass: 'held-media', targetDuration: td, reason: 'the part did not appear in time' }),
        abort: () => this.errors.sendShutdown(req, res, cls),
      },
    };
    this.options.holds.hold(req, res, cls, request, snapshot.model.partTarget);
  }

  /** Full, conditional (304) and range (206/416) responses for a stored object. */
  send(req: IncomingMessage, res: ServerResponse, entry: MediaEntry): void {
    if (res.writableEnded || res.destroyed) return;
    const headers = mediaHeaders(entry);
    this.options.cors.apply(req, headers);
    const ifNoneMatch = headerValue(req.headers, 'if-none-match');
    const ifModifiedSince = headerValue(req.headers, 'if-modified-since');
    if (
      etagMatches(ifNoneMatch, entry.etag) ||
      (ifNoneMatch === undefined && ifModifiedSince !== undefined && notModifiedSince(entry.lastModified, ifModifiedSince))
    ) {
      res.writeHead(304, headers);
      res.end();
      this.metrics?.countOriginRequest(entry.requestClass, 304);
      return;
    }
    const range = ifRangeAllows(headerValue(req.headers, 'if-range'), entry.etag, entry.lastModified)
      ? parseRange(headerValue(req.headers, 'range'), entry.size)
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
}

/** What `mediaAvailability` needs to know about a requested rendition file. */
function mediaRef(resource: OriginResource): MediaRef {
  const kind = resource.kind === 'part' || resource.kind === 'segment' || resource.kind === 'init' ? resource.kind : 'media';
  return { path: resource.path, kind, msn: resource.msn, partIndex: resource.partIndex };
}
