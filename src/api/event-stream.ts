import type { ServerResponse } from 'node:http';
import { LivepipeEvent, type EventBus, type EventPayloads } from '../core/event-bus.js';
import type { Logger } from '../core/logger.js';

/**
 * `GET /api/v1/events`: the event bus as server-sent events (the HTML living standard's
 * `text/event-stream`), for the web console and any other watcher.
 *
 * What a client receives, in order:
 * - `snapshot`: every channel's view, once, right after connecting (so nothing between a list call and
 *   the subscription can be missed);
 * - one message per bus event, named after it (`channel:state`, `ingest:publish-started`…), carrying
 *   the payload and, for channel events, the channel's view after the event;
 * - `stats` every {@link DEFAULT_STATS_INTERVAL_MS}: the views of the channels that are live or
 *   reconnecting (their input bitrate, encoder speed and newest part move all the time without an
 *   event) and the ids of every channel (so created and deleted channels show up). It doubles as the
 *   heartbeat that keeps proxies and the client's reader from taking the stream for dead.
 *
 * Every message is serialized once and written to every client. A client whose socket has more than
 * `maxBufferedBytes` unsent is dropped (it reconnects and gets a fresh snapshot): a slow console costs
 * the pipeline one bounded buffer, never a wait — the bus's emit never blocks on a socket.
 */

/** A new `stats` message (and heartbeat) this often while at least one client is connected. */
export const DEFAULT_STATS_INTERVAL_MS = 2_000;
/** Unsent bytes a client may have queued before it is dropped: about 30 `stats` messages of 20 channels. */
export const DEFAULT_MAX_BUFFERED_BYTES = 512 * 1024;
/** Streams open at once; the next one is refused with 503 (each holds a socket and a buffer). */
export const DEFAULT_MAX_CLIENTS = 64;
/** Reconnection delay suggested to clients (the `retry` field). */
const RETRY_MS = 2_000;

/** One server-sent event, as the stream format defines its fields. */
export interface ServerSentEvent {
  event?: string;
  data?: string;
  id?: string;
  retry?: number;
  /** A comment line (ignored by clients; keeps the connection busy). */
  comment?: string;
}

/**
 * One message in the `text/event-stream` format. `data` is split on line breaks into one `data:`
 * line each (a client joins them with `\n` again); names and ids cannot hold line breaks.
 */
export function formatServerSentEvent(message: ServerSentEvent): string {
  let text = '';
  if (message.comment !== undefined) text += `: ${message.comment.replace(/[\r\n]+/g, ' ')}\n`;
  if (message.retry !== undefined) text += `retry: ${Math.max(0, Math.floor(message.retry))}\n`;
  if (message.id !== undefined) text += `id: ${oneLine(message.id)}\n`;
  if (message.event !== undefined) text += `event: ${oneLine(message.event)}\n`;
  if (message.data !== undefined) for (const line of message.data.split(/\r\n|\r|\n/)) text += `data: ${line}\n`;
  return `${text}\n`;
}

function oneLine(value: string): string {
  return value.replace(/[\r\n]/g, '');
}

/** What the stream needs of the channel layer: views as they may leave the process. */
export interface EventStreamChannels {
  /** Every channel's public view. */
  list(): readonly { id: string; state: string }[];
  /** One channel's public view; undefined once deleted. */
  get(id: string): unknown;
}

export interface EventStreamOptions {
  /** The events to forward; without a bus only snapshots and stats are sent. */
  bus?: EventBus;
  channels: EventStreamChannels;
  logger: Logger;
  statsIntervalMs?: number;
  maxBufferedBytes?: number;
  maxClients?: number;
}

/** The bus events forwarded, each with the field naming its channel (if any). */
const FORWARDED: readonly LivepipeEvent[] = Object.values(LivepipeEvent);

export class EventStreamHub {
  private readonly clients = new Set<ServerResponse>();
  private readonly unsubscribers: Array<() => void> = [];
  private readonly statsIntervalMs: number;
  private readonly maxBufferedBytes: number;
  private readonly maxClients: number;
  private readonly logger: Logger;
  private timer: NodeJS.Timeout | undefined;
  private sequence = 0;
  private closed = false;
  /** Clients dropped for falling behind, since start. */
  dropped = 0;

  constructor(private readonly options: EventStreamOptions) {
    this.statsIntervalMs = options.statsIntervalMs ?? DEFAULT_STATS_INTERVAL_MS;
    this.maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
    this.maxClients = options.maxClients ?? DEFAULT_MAX_CLIENTS;
    this.logger = options.logger.child({ component: 'event-stream' });
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Whether another stream may open now (below `maxClients` and not closed). */
  hasRoom(): boolean {
    return !this.closed && this.clients.size < this.maxClients;
  }

  /** Takes over `res` (headers not yet sent) as an event stream until the client leaves or `close()`. */
  attach(res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      // Never stored, never transformed (a compressing proxy would hold messages back).
      'cache-control': 'no-store, no-transform',
      // nginx buffers proxied responses unless told not to.
      'x-accel-buffering': 'no',
    });
    res.socket?.setNoDelay(true);
    if (this.clients.size === 0) this.subscribe();
    this.clients.add(res);
    res.on('close', () => this.detach(res));
    res.write(formatServerSentEvent({ retry: RETRY_MS, comment: 'livepipe events' }));
    this.write(res, this.message('snapshot', { channels: this.options.channels.list() }));
  }

  /** Ends every stream and stops listening to the bus. Idempotent. */
  close(): void {
    this.closed = true;
    this.unsubscribe();
    for (const res of this.clients) res.end();
    this.clients.clear();
  }

  private detach(res: ServerResponse): void {
    if (!this.clients.delete(res)) return;
    if (this.clients.size === 0) this.unsubscribe();
  }

  private subscribe(): void {
    const bus = this.options.bus;
    if (bus !== undefined) {
      for (const name of FORWARDED) {
        this.unsubscribers.push(bus.on(name, (payload) => this.onBusEvent(name, payload)));
      }
    }
    this.timer = setInterval(() => this.onStatsTick(), this.statsIntervalMs);
    this.timer.unref();
  }

  private unsubscribe(): void {
    for (const off of this.unsubscribers.splice(0)) off();
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private onBusEvent<E extends LivepipeEvent>(name: E, payload: EventPayloads[E]): void {
    const channel = (payload as { channel?: unknown }).channel;
    const view = typeof channel === 'string' ? this.options.channels.get(channel) : undefined;
    this.broadcast(this.message(name, view === undefined ? { payload } : { payload, view }));
  }

  private onStatsTick(): void {
    const all = this.options.channels.list();
    const active = all.filter((view) => view.state === 'live' || view.state === 'reconnecting');
    this.broadcast(this.message('stats', { ids: all.map((view) => view.id), active }));
  }

  private message(event: string, body: Record<string, unknown>): string {
    this.sequence += 1;
    return formatServerSentEvent({ id: String(this.sequence), event, data: JSON.stringify({ at: new Date().toISOString(), ...body }) });
  }

  /** Serialized once, written to every client; those too far behind are dropped, not waited for. */
  private broadcast(text: string): void {
    for (const res of this.clients) this.write(res, text);
  }

  private write(res: ServerResponse, text: string): void {
    if (res.writableLength > this.maxBufferedBytes) {
      this.dropped += 1;
      this.logger.warn({ remoteAddress: res.socket?.remoteAddress, buffered: res.writableLength }, 'event stream client too slow: dropped');
      this.detach(res);
      res.destroy();
      return;
    }
    res.write(text);
  }
}
