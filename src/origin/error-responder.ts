import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { OriginMetrics, OriginRequestClass } from '../observability/metrics.js';
import { cacheControlFor, type ResponseClass } from './cache-control-policy.js';
import type { CorsPolicy } from './cors-policy.js';
import { httpStatusOf } from './origin-errors.js';
import { errorBody, errorHeaders } from './response-headers.js';

/** One error response: what was asked for, the status, and which Cache-Control rule applies. */
export interface ErrorResponse {
  /** The metrics class of the request. */
  requestClass: OriginRequestClass;
  status: number;
  /** The Cache-Control rule of the error (Appendix B.1; `overload`/`malformed`: `no-store`). */
  responseClass: ResponseClass;
  /** Target duration the error's max-age derives from, s; default 0 (rules that do not use it). */
  targetDuration?: number;
  /** One of our fixed phrases, never request data. */
  reason: string;
  /** Added after the standard headers: `Retry-After`, `Allow`, `Connection`. */
  headers?: Readonly<Record<string, string>>;
}

const SHUTDOWN_HEADERS: Readonly<Record<string, string>> = { 'Retry-After': '1', Connection: 'close' };
const RETRY_SOON: Readonly<Record<string, string>> = { 'Retry-After': '1' };

/**
 * Short plain-text error responses: never a stack trace or request data in the body, CORS applied
 * (players must be able to read the status), counted like every other response. Coded errors
 * become statuses here through `httpStatusOf` and nowhere else.
 */
export class ErrorResponder {
  constructor(
    private readonly cors: CorsPolicy,
    private readonly metrics: OriginMetrics | undefined,
    private readonly logger: Logger,
    /** max-age of the multivariant playlist, s (its rule takes it as an option). */
    private readonly multivariantMaxAge: number,
  ) {}

  /** Sends `error`, unless a response has already started or the client is gone. */
  send(req: IncomingMessage, res: ServerResponse, error: ErrorResponse): void {
    if (res.headersSent || res.destroyed) return;
    const body = errorBody(error.status, error.reason);
    const cacheControl = cacheControlFor(error.responseClass, false, error.targetDuration ?? 0, { multivariantMaxAge: this.multivariantMaxAge });
    const headers = errorHeaders(body.length, cacheControl, error.headers);
    this.cors.apply(req, headers);
    res.writeHead(error.status, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
    this.metrics?.countOriginRequest(error.requestClass, error.status);
  }

  /** 503 while the origin closes: come back in a second, to another instance. */
  sendShutdown(req: IncomingMessage, res: ServerResponse, requestClass: OriginRequestClass): void {
    this.send(req, res, { requestClass, status: 503, responseClass: 'overload', reason: 'origin is shutting down', headers: SHUTDOWN_HEADERS });
  }

  /**
   * 503 for a held request whose playlist did not get there within 3 target durations (§6.2.5.2): a
   * passing condition — a writer taking over, a stalled encoder. Cached by CDNs for Appendix B.1's
   * error time, never by the player's browser (see `held-playlist` in cache-control-policy.ts), and
   * `Retry-After: 1`: by then the new writer is usually there.
   */
  sendHoldTimeout(
    req: IncomingMessage,
    res: ServerResponse,
    held: { requestClass: OriginRequestClass; responseClass: 'held-playlist' | 'held-media'; targetDuration: number; reason: string },
  ): void {
    this.send(req, res, { ...held, status: 503, headers: RETRY_SOON });
  }

  /** 503 when the cap on held requests is reached: retry after about one part. */
  sendCapacity(req: IncomingMessage, res: ServerResponse, requestClass: OriginRequestClass, partTarget: number): void {
    const headers = { 'Retry-After': String(Math.max(1, Math.ceil(partTarget))) };
    this.send(req, res, { requestClass, status: 503, responseClass: 'overload', reason: 'too many held requests', headers });
  }

  /** An unexpected or coded failure: the status comes from the code, the body never carries details. */
  sendFailure(req: IncomingMessage, res: ServerResponse, requestClass: OriginRequestClass, err: unknown): void {
    const status = httpStatusOf(err);
    if (status >= 500) this.logger.error({ err: errorMessage(err), cause: causeOf(err), url: req.url }, 'origin request failed');
    const headers = status === 503 ? RETRY_SOON : undefined;
    this.send(req, res, { requestClass, status, responseClass: 'overload', reason: STATUS_CODES[status] ?? 'error', headers });
  }
}

function causeOf(err: unknown): string | undefined {
  return err instanceof Error && err.cause !== undefined ? errorMessage(err.cause) : undefined;
}
