import type { IncomingMessage, ServerResponse } from 'node:http';
import type { OriginMetrics } from '../observability/metrics.js';
import type { CorsPolicy } from './cors-policy.js';
import type { ErrorResponder } from './error-responder.js';
import type { OriginLifecycle } from './hold-gate.js';
import type { MediaCache } from './media-cache.js';
import type { MediaResponder } from './media-responder.js';
import type { MultivariantResponder } from './multivariant-responder.js';
import type { PlaylistResponder } from './playlist-responder.js';
import { requestClassOf } from './request-class.js';
import { checkRequestPath, type ResourceKind } from './request-path.js';
import { ALLOW, preflightHeaders } from './response-headers.js';

/** What a request method leads to: GET and HEAD are served, OPTIONS is a CORS preflight, the rest 405. */
export type MethodRoute = 'serve' | 'preflight' | 'not-allowed';

export function methodRoute(method: string | undefined): MethodRoute {
  if (method === 'GET' || method === 'HEAD') return 'serve';
  return method === 'OPTIONS' ? 'preflight' : 'not-allowed';
}

/** Which responder answers a checked path. */
export type ResourceRoute = 'playlist' | 'multivariant' | 'media';

export function resourceRoute(kind: ResourceKind): ResourceRoute {
  switch (kind) {
    case 'media-playlist':
      return 'playlist';
    case 'multivariant':
      return 'multivariant';
    default:
      return 'media';
  }
}

const NOT_ALLOWED_HEADERS: Readonly<Record<string, string>> = { Allow: ALLOW };

export interface RequestDispatcherOptions {
  lifecycle: OriginLifecycle;
  cache: MediaCache;
  playlists: PlaylistResponder;
  media: MediaResponder;
  multivariant: MultivariantResponder;
  errors: ErrorResponder;
  cors: CorsPolicy;
  metrics: OriginMetrics | undefined;
  /** Target duration for errors about paths that name no known playlist, s. */
  defaultTargetDuration: number;
}

/**
 * Every request's first stop: the method (preflight, 405), shutdown (503), then the path. A path
 * in the media cache is answered from memory at once, before it is parsed again (the cache is
 * keyed by validated paths, so an exact match is safe); any other path is checked
 * (`checkRequestPath`: 400/404 before anything reaches storage) and handed to the playlist, the
 * multivariant or the media responder. A responder's failure becomes a coded error response.
 */
export class RequestDispatcher {
  private readonly lifecycle: OriginLifecycle;
  private readonly cache: MediaCache;
  private readonly playlists: PlaylistResponder;
  private readonly media: MediaResponder;
  private readonly multivariant: MultivariantResponder;
  private readonly errors: ErrorResponder;

  constructor(private readonly options: RequestDispatcherOptions) {
    this.lifecycle = options.lifecycle;
    this.cache = options.cache;
    this.playlists = options.playlists;
    this.media = options.media;
    this.multivariant = options.multivariant;
    this.errors = options.errors;
  }

  dispatch(req: IncomingMessage, res: ServerResponse): void {
    const method = req.method;
    const route = methodRoute(method);
    if (route !== 'serve') {
      if (route === 'preflight') return this.preflight(req, res);
      return this.errors.send(req, res, { requestClass: 'other', status: 405, responseClass: 'malformed', reason: 'method not allowed', headers: NOT_ALLOWED_HEADERS });
    }
    if (!this.lifecycle.accepting) return this.errors.sendShutdown(req, res, 'other');
    const isHead = method === 'HEAD';
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const rawPath = q === -1 ? url : url.slice(0, q);

    // Hot path: an object already in memory, answered synchronously.
    const cached = this.cache.get(rawPath);
    if (cached !== undefined) {
      if (cached.expiresAt === undefined) return this.media.sendFromMemory(req, res, cached, isHead);
      if (cached.expiresAt > Date.now()) return this.multivariant.sendFromMemory(req, res, cached);
    }

    const checked = checkRequestPath(rawPath);
    if (!checked.ok) {
      const responseClass = checked.status === 400 ? 'malformed' : 'media';
      return this.errors.send(req, res, { requestClass: 'other', status: checked.status, responseClass, targetDuration: this.options.defaultTargetDuration, reason: checked.reason });
    }
    const resource = checked.resource;
    let work: Promise<void>;
    switch (resourceRoute(resource.kind)) {
      case 'playlist':
        work = this.playlists.serve(req, res, resource, q === -1 ? undefined : url.slice(q + 1));
        break;
      case 'multivariant':
        work = this.multivariant.serve(req, res, resource);
        break;
      case 'media':
        work = this.media.serve(req, res, resource);
    }
    work.catch((err: unknown) => this.errors.sendFailure(req, res, requestClassOf(resource, q !== -1 && url.includes('_HLS_msn')), err));
  }

  /** 204 to a CORS preflight: the methods and request headers players use, cacheable for a day. */
  private preflight(req: IncomingMessage, res: ServerResponse): void {
    const headers = preflightHeaders();
    this.options.cors.apply(req, headers);
    res.writeHead(204, headers);
    res.end();
    this.options.metrics?.countOriginRequest('other', 204);
  }
}
