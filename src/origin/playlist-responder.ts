import type { IncomingMessage, ServerResponse } from 'node:http';
import type { OriginMetrics, OriginRequestClass } from '../observability/metrics.js';
import { blockingRequestError, conditionKey, parseBlockingQuery, playlistContains, type BlockingQuery } from './blocking-request.js';
import { cacheControlFor, type ResponseClass } from './cache-control-policy.js';
import type { AcceptEncodingMemo } from './content-coding.js';
import type { CorsPolicy } from './cors-policy.js';
import type { ErrorResponder } from './error-responder.js';
import type { HoldGate } from './hold-gate.js';
import type { HoldRequest } from './held-requests.js';
import { etagMatches, headerValue } from './http-negotiation.js';
import type { OriginSource, PlaylistSnapshot, SkipMode } from './origin-source.js';
import { variantOf, type PlaylistRenderCache } from './playlist-render-cache.js';
import type { OriginResource } from './request-path.js';
import { PLAYLIST_TYPE, playlistHeaders } from './response-headers.js';

export interface PlaylistResponderOptions {
  source: Pick<OriginSource, 'get'>;
  renders: PlaylistRenderCache;
  codings: AcceptEncodingMemo;
  holds: HoldGate;
  errors: ErrorResponder;
  cors: CorsPolicy;
  metrics: OriginMetrics | undefined;
  /** Target duration for errors about playlists the source does not know, s. */
  defaultTargetDuration: number;
}

/**
 * Media playlists (draft-pantos-hls-rfc8216bis §6.2.5): the source's current model, rendered once
 * per (version, skip, coding) by the render cache; `_HLS_msn`/`_HLS_part` requests the playlist
 * does not satisfy yet are held until it does (503 after 3 target durations), refused with 400 when
 * out of range; `_HLS_skip` gets a delta update when the playlist allows one.
 */
export class PlaylistResponder {
  private readonly renders: PlaylistRenderCache;
  private readonly errors: ErrorResponder;
  private readonly metrics: OriginMetrics | undefined;
  /** `cors.any`, read once: every response of a wake-up tests it. */
  private readonly corsAny: boolean;

  constructor(private readonly options: PlaylistResponderOptions) {
    this.renders = options.renders;
    this.errors = options.errors;
    this.metrics = options.metrics;
    this.corsAny = options.cors.any;
  }

  /** A media playlist request; `rawQuery` is what follows `?` (undefined: no `?`). */
  async serve(req: IncomingMessage, res: ServerResponse, resource: OriginResource, rawQuery: string | undefined): Promise<void> {
    const parsed = parseBlockingQuery(rawQuery);
    const snapshot = await this.options.source.get(resource.channel, resource.path);
    const blockingAsked = parsed.ok ? parsed.query.msn !== undefined : /_HLS_(msn|part)/.test(rawQuery ?? '');
    const responseClass: ResponseClass = blockingAsked ? 'blocking-playlist' : 'playlist';
    const requestClass: OriginRequestClass = blockingAsked ? 'blocking_playlist' : 'playlist';
    const td = snapshot?.model.targetDuration ?? this.options.defaultTargetDuration;
    if (!parsed.ok) return this.errors.send(req, res, { requestClass, status: 400, responseClass, targetDuration: td, reason: parsed.reason });
    if (!snapshot) return this.errors.send(req, res, { requestClass, status: 404, responseClass, targetDuration: td, reason: 'no such playlist' });
    const query = parsed.query;
    const model = snapshot.model;
    // §6.2.5.2: "If the Playlist contains an EXT-X-ENDLIST tag, the server MUST ignore the _HLS_msn and _HLS_part parameters".
    if (query.msn === undefined || model.endList) return this.send(req, res, snapshot, query.skip, false);
    const refusal = blockingRequestError(model, query);
    if (refusal) {
      return this.errors.send(req, res, { requestClass: 'blocking_playlist', status: 400, responseClass: 'blocking-playlist', targetDuration: td, reason: refusal });
    }
    if (playlistContains(model, query.msn, query.part)) return this.send(req, res, snapshot, query.skip, true);
    this.hold(req, res, resource, snapshot, query);
  }

  /** Holds a blocking request until the playlist contains the segment (and part) it asks for. */
  private hold(req: IncomingMessage, res: ServerResponse, resource: OriginResource, snapshot: PlaylistSnapshot, query: BlockingQuery): void {
    const msn = query.msn!;
    const part = query.part;
    const td = snapshot.model.targetDuration;
    const request: HoldRequest = {
      channel: resource.channel,
      path: resource.path,
      conditionKey: `p:${conditionKey(msn, part)}`,
      test: (s) => s === undefined || playlistContains(s.model, msn, part),
      testedVersion: snapshot.version,
      // §6.2.5.2: a request that cannot be satisfied within 3 target durations gets 503.
      timeoutMs: 3 * td * 1000,
      handlers: {
        release: (s) => {
          if (s === undefined) {
            this.errors.send(req, res, { requestClass: 'blocking_playlist', status: 404, responseClass: 'blocking-playlist', targetDuration: td, reason: 'playlist removed' });
          } else {
            this.send(req, res, s, query.skip, true);
          }
        },
        timeout: () =>
          this.errors.sendHoldTimeout(req, res, {
            requestClass: 'blocking_playlist',
            responseClass: 'held-playlist',
            targetDuration: td,
            reason: 'the playlist did not advance in time',
          }),
        abort: () => this.errors.sendShutdown(req, res, 'blocking_playlist'),
      },
    };
    this.options.holds.hold(req, res, 'blocking_playlist', request, snapshot.model.partTarget);
  }

  /** A 200 (or 304) with the snapshot rendered for this request's skip mode and coding. */
  private send(req: IncomingMessage, res: ServerResponse, snapshot: PlaylistSnapshot, skip: SkipMode | undefined, blocking: boolean): void {
    if (res.writableEnded || res.destroyed) return;
    const model = snapshot.model;
    // A delta update is only possible when the playlist declares CAN-SKIP-UNTIL (§6.2.5.1).
    const skipMode = skip !== undefined && model.serverControl.canSkipUntil > 0 ? skip : undefined;
    const coding = this.options.codings.codingOf(headerValue(req.headers, 'accept-encoding'));
    const variant = variantOf(skipMode, coding);
    const requestClass: OriginRequestClass = blocking ? 'blocking_playlist' : 'playlist';
    const renders = this.renders.of(snapshot);
    let rendered;
    try {
      rendered = this.renders.body(renders, variant, model, skipMode, coding);
    } catch (err) {
      return this.errors.sendFailure(req, res, requestClass, err);
    }
    const ifNoneMatch = headerValue(req.headers, 'if-none-match');
    if (this.corsAny && ifNoneMatch === undefined) {
      // The common case, and every response of a wake-up: a prebuilt header list and a shared body.
      res.writeHead(200, this.renders.head(renders, variant, rendered, blocking, model.targetDuration));
      res.end(req.method === 'HEAD' ? undefined : rendered.body);
      this.metrics?.countOriginRequest(requestClass, 200);
      return;
    }
    const cacheControl = cacheControlFor(blocking ? 'blocking-playlist' : 'playlist', true, model.targetDuration);
    const headers = playlistHeaders(PLAYLIST_TYPE, cacheControl, rendered.etag, rendered.lastModified);
    this.options.cors.apply(req, headers);
    if (etagMatches(ifNoneMatch, rendered.etag)) {
      res.writeHead(304, headers);
      res.end();
      this.metrics?.countOriginRequest(requestClass, 304);
      return;
    }
    if (coding !== 'identity') headers['Content-Encoding'] = coding;
    headers['Content-Length'] = String(rendered.size);
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : rendered.body);
    this.metrics?.countOriginRequest(requestClass, 200);
  }
}
