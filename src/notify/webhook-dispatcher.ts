import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, LivepipeError, errorMessage } from '../core/errors.js';
import type { EventBus, EventPayloads } from '../core/event-bus.js';
import type { Logger } from '../core/logger.js';
import { WEBHOOK_EVENT_TYPES, WEBHOOK_SOURCES, webhookDataOf, webhookEvent, webhookTypeOf, type WebhookEvent, type WebhookEventType, type WebhookSource } from './webhook-events.js';
import {
  DEFAULT_BACKOFF,
  DELIVERY_HEADER,
  EVENT_HEADER,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  backoffDelay,
  isRetryableStatus,
  signWebhook,
  type BackoffPolicy,
} from './webhook-signing.js';

/**
 * Webhooks: every configured receiver gets the channel, publish and transcoder events of the bus
 * (`webhook-events.ts`) as signed JSON POSTs (`webhook-signing.ts`).
 *
 * A slow or dead receiver never slows the pipeline: the bus listener only builds the event and
 * appends it to the receiver's queue (no I/O, no await, never throws into the emitter); each receiver
 * has one delivery loop that sends its events in order, one at a time, each request bounded by
 * `timeoutMs`, and retries a failed one (network error, timeout, 5xx, 408, 429) with exponential
 * backoff up to `maxAttempts`. The queue is bounded per receiver (`maxQueued`); when full, the oldest
 * waiting event is dropped and counted, never the newest. One receiver's trouble never delays another's.
 *
 * p-queue is not used: it cannot drop its oldest waiting task, which is what the bound needs.
 */

/** One receiver, as configured (`webhooks:` in the service config). */
export interface WebhookTarget {
  /** http(s) URL the events are POSTed to. */
  url: string;
  /** HMAC-SHA256 key of the signature. Never logged. */
  secret: string;
  /** The event types this receiver wants; omitted = all of them. */
  events?: readonly string[] | undefined;
}

export type WebhookOutcome = 'delivered' | 'retried' | 'failed' | 'dropped';
export const WEBHOOK_OUTCOMES: readonly WebhookOutcome[] = ['delivered', 'retried', 'failed', 'dropped'];

/** What the dispatcher reports (implemented by `observability/metrics.ts`). */
export interface WebhookMetricsPort {
  /** `delivered`: a 2xx; `retried`: an attempt failed and another follows; `failed`: given up; `dropped`: pushed out of a full queue, or left at close. */
  countWebhookDelivery(outcome: WebhookOutcome): void;
  /** Events waiting for delivery, all receivers together. */
  setWebhookQueueDepth(depth: number): void;
}

export interface WebhookDispatcherOptions {
  targets: readonly WebhookTarget[];
  bus: EventBus;
  logger: Logger;
  metrics?: WebhookMetricsPort;
  /** Events waiting per receiver before the oldest is dropped (default 1000). */
  maxQueued?: number;
  /** Per-request timeout, ms (default 5000). */
  timeoutMs?: number;
  /** Attempts per event, the first included (default 8: with the default backoff, about 2 minutes of trying). */
  maxAttempts?: number;
  backoff?: BackoffPolicy;
  /** How long `close()` lets deliveries in progress finish before aborting them, ms (default 2000). */
  drainMs?: number;
  /** Clock, ms (default `Date.now`): the signature's timestamp. */
  now?: () => number;
}

type Settings = Required<Pick<WebhookDispatcherOptions, 'maxQueued' | 'timeoutMs' | 'maxAttempts' | 'backoff' | 'drainMs' | 'now'>>;

export class WebhookDispatcher {
  private readonly receivers: WebhookReceiver[];
  private readonly unsubscribe: Array<() => void> = [];
  private readonly logger: Logger;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: WebhookDispatcherOptions) {
    this.logger = options.logger.child({ component: 'webhooks' });
    const settings: Settings = {
      maxQueued: options.maxQueued ?? 1000,
      timeoutMs: options.timeoutMs ?? 5000,
      maxAttempts: options.maxAttempts ?? 8,
      backoff: options.backoff ?? DEFAULT_BACKOFF,
      drainMs: options.drainMs ?? 2000,
      now: options.now ?? Date.now,
    };
    this.receivers = options.targets.map((target) => new WebhookReceiver(target, settings, this.logger, options.metrics, () => this.reportDepth()));
  }

  /** Validates the receivers (URL, event names) and subscribes to the bus. */
  async start(): Promise<void> {
    const problems = this.options.targets.flatMap((target, i) => targetProblems(target).map((p) => `webhooks.${i}: ${p}`));
    if (problems.length > 0) throw new LivepipeError(ErrorCode.ConfigInvalid, problems.join('\n'));
    if (this.receivers.length === 0) return;
    for (const source of WEBHOOK_SOURCES) {
      this.unsubscribe.push(this.options.bus.on(source, (payload) => this.onBusEvent(source, payload)));
    }
    this.reportDepth();
    this.logger.info({ receivers: this.receivers.map((r) => r.origin) }, 'webhooks armed');
  }

  /** Unsubscribes, lets deliveries in progress finish for `drainMs`, then aborts the rest (counted as dropped). Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const off of this.unsubscribe.splice(0)) off();
      await Promise.all(this.receivers.map((r) => r.close()));
      this.reportDepth();
    })();
    return this.closing;
  }

  /** Events waiting, all receivers together (the queue-depth gauge). */
  queued(): number {
    return this.receivers.reduce((sum, r) => sum + r.depth, 0);
  }

  /** The bus listener: builds the event and queues it; no I/O, and never throws into the emitter. */
  private onBusEvent<E extends WebhookSource>(source: E, payload: EventPayloads[E]): void {
    try {
      const type = webhookTypeOf(source, payload);
      if (type === undefined) return;
      const event = webhookEvent(type, webhookDataOf(source, payload));
      for (const receiver of this.receivers) if (receiver.wants(type)) receiver.enqueue(event);
    } catch (err) {
      this.logger.error({ err: errorMessage(err) }, 'webhook event could not be queued');
    }
  }

  private reportDepth(): void {
    this.options.metrics?.setWebhookQueueDepth(this.queued());
  }
}

/** What is wrong with a receiver's settings (empty: nothing). */
export function targetProblems(target: WebhookTarget): string[] {
  const problems: string[] = [];
  let url: URL | undefined;
  try {
    url = new URL(target.url);
  } catch {
    problems.push('url: not a URL');
  }
  if (url !== undefined && url.protocol !== 'http:' && url.protocol !== 'https:') problems.push(`url: ${url.protocol} is not http: or https:`);
  if (target.secret.length < 16) problems.push('secret: at least 16 characters');
  for (const name of target.events ?? []) {
    if (!(WEBHOOK_EVENT_TYPES as readonly string[]).includes(name)) problems.push(`events: unknown event "${name}" (known: ${WEBHOOK_EVENT_TYPES.join(', ')})`);
  }
  return problems;
}

/** One receiver: its bounded queue and its delivery loop. */
class WebhookReceiver {
  /** Where deliveries go, for logs: scheme, host and port only (a URL's path or query may hold a token). */
  readonly origin: string;
  private readonly queue: WebhookEvent[] = [];
  private readonly wanted: ReadonlySet<string> | undefined;
  private readonly abort = new AbortController();
  private pumping: Promise<void> | undefined;
  private closed = false;
  /** Drops since the queue was last empty (one warning per episode, not one per event). */
  private droppedInEpisode = 0;
  private readonly log: Logger;

  constructor(
    private readonly target: WebhookTarget,
    private readonly settings: Settings,
    logger: Logger,
    private readonly metrics: WebhookMetricsPort | undefined,
    private readonly depthChanged: () => void,
  ) {
    let origin = '(invalid url)';
    try {
      origin = new URL(target.url).origin;
    } catch {
      // Reported by start().
    }
    this.origin = origin;
    this.wanted = target.events === undefined ? undefined : new Set(target.events);
    this.log = logger.child({ receiver: origin });
  }

  get depth(): number {
    return this.queue.length;
  }

  wants(type: WebhookEventType): boolean {
    return this.wanted === undefined || this.wanted.has(type);
  }

  enqueue(event: WebhookEvent): void {
    if (this.closed) return;
    if (this.queue.length >= this.settings.maxQueued) {
      this.queue.shift();
      this.metrics?.countWebhookDelivery('dropped');
      if (this.droppedInEpisode++ === 0) this.log.warn({ maxQueued: this.settings.maxQueued }, 'webhook queue full: dropping the oldest events');
    }
    this.queue.push(event);
    this.depthChanged();
    this.pumping ??= this.pump().finally(() => {
      this.pumping = undefined;
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.pumping !== undefined) {
      const drained = await Promise.race([this.pumping.then(() => true), sleep(this.settings.drainMs, false, { ref: false })]);
      if (!drained) this.abort.abort();
      await this.pumping;
    }
    const left = this.queue.splice(0).length;
    for (let i = 0; i < left; i++) this.metrics?.countWebhookDelivery('dropped');
    if (left > 0) this.log.warn({ undelivered: left }, 'webhook events left undelivered at shutdown');
  }

  /** Sends the queued events in order, one at a time, until the queue is empty (or aborted). */
  private async pump(): Promise<void> {
    for (;;) {
      const event = this.queue.shift();
      if (event === undefined || this.abort.signal.aborted) {
        if (event !== undefined) this.queue.unshift(event);
        break;
      }
      this.depthChanged();
      await this.deliver(event);
      if (this.queue.length === 0) {
        if (this.droppedInEpisode > 0) this.log.warn({ dropped: this.droppedInEpisode }, 'webhook queue drained: events were dropped while it was full');
        this.droppedInEpisode = 0;
      }
    }
  }

  /** One event, with retries; resolves when delivered, given up, or aborted. Never rejects. */
  private async deliver(event: WebhookEvent): Promise<void> {
    const body = JSON.stringify(event);
    for (let attempt = 1; ; attempt++) {
      const result = await this.attempt(event, body);
      if (result.ok) {
        this.metrics?.countWebhookDelivery('delivered');
        return;
      }
      const last = !result.retryable || attempt >= this.settings.maxAttempts || this.abort.signal.aborted;
      if (last) {
        this.metrics?.countWebhookDelivery(this.abort.signal.aborted ? 'dropped' : 'failed');
        this.log.warn({ event: event.type, id: event.id, attempts: attempt, error: result.error }, 'webhook delivery failed: giving up on this event');
        return;
      }
      this.metrics?.countWebhookDelivery('retried');
      this.log.debug({ event: event.type, id: event.id, attempt, error: result.error }, 'webhook delivery failed: retrying');
      try {
        await sleep(backoffDelay(attempt, this.settings.backoff), undefined, { signal: this.abort.signal, ref: false });
      } catch {
        // Aborted at close: the next attempt sees it.
      }
    }
  }

  private async attempt(event: WebhookEvent, body: string): Promise<{ ok: true } | { ok: false; retryable: boolean; error: string }> {
    const timestamp = Math.floor(this.settings.now() / 1000);
    try {
      const response = await fetch(this.target.url, {
        method: 'POST',
        body,
        redirect: 'manual',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'livepipe-webhooks',
          [EVENT_HEADER]: event.type,
          [DELIVERY_HEADER]: event.id,
          [TIMESTAMP_HEADER]: String(timestamp),
          [SIGNATURE_HEADER]: signWebhook(this.target.secret, timestamp, body),
        },
        signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.settings.timeoutMs)]),
      });
      // The answer's body is not needed; reading it (bounded by the same signal) frees the connection.
      await response.body?.cancel().catch(() => undefined);
      if (response.status >= 200 && response.status < 300) return { ok: true };
      return { ok: false, retryable: isRetryableStatus(response.status), error: `HTTP ${response.status}` };
    } catch (err) {
      const name = (err as Error).name;
      return { ok: false, retryable: true, error: name === 'TimeoutError' ? `no answer within ${this.settings.timeoutMs} ms` : errorMessage(err) };
    }
  }
}
