import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { OriginMetrics, OriginRequestClass } from '../observability/metrics.js';
import type { ErrorResponder } from './error-responder.js';
import { HeldRequests, type HoldRequest } from './held-requests.js';
import type { OriginSource } from './origin-source.js';

/** Whether the origin still takes requests (false before `start()` and from `close()` on). */
export interface OriginLifecycle {
  readonly accepting: boolean;
}

/**
 * The way into `HeldRequests` for HTTP responses (blocking playlist reloads and preload-hint
 * holds): a request is held only while the origin accepts requests and below the cap on held
 * requests, else answered 503 at once; a held response is counted as held until it ends, and its
 * waiter is forgotten when the client goes away.
 */
export class HoldGate {
  private readonly held: HeldRequests;

  constructor(
    source: Pick<OriginSource, 'subscribe' | 'get'>,
    /** Cap on concurrently held requests (origin default 20 000). */
    maxHeld: number,
    private readonly lifecycle: OriginLifecycle,
    private readonly errors: ErrorResponder,
    private readonly metrics: OriginMetrics | undefined,
    logger: Logger,
  ) {
    this.held = new HeldRequests(source, maxHeld, (err) => logger.error({ err: errorMessage(err) }, 'releasing a held request failed'));
  }

  /** Requests held now. */
  get size(): number {
    return this.held.size;
  }

  /**
   * Holds `res` until `request`'s condition holds (its handlers answer it), or answers 503 at once:
   * shutting down (a request may have awaited the source while `close()` ran: never hold past
   * `abortAll()`), or the cap is reached (`Retry-After` about one part target).
   */
  hold(req: IncomingMessage, res: ServerResponse, requestClass: OriginRequestClass, request: HoldRequest, partTarget: number): void {
    if (!this.lifecycle.accepting) return this.errors.sendShutdown(req, res, requestClass);
    const ticket = this.held.hold(request);
    if (!ticket) return this.errors.sendCapacity(req, res, requestClass, partTarget);
    const released = this.metrics?.trackHeldRequest();
    res.once('close', () => {
      ticket.cancel();
      released?.();
    });
  }

  /** Answers every held request through its `abort` handler (shutdown). */
  abortAll(): void {
    this.held.abortAll();
  }
}
