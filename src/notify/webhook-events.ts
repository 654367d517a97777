import { randomUUID } from 'node:crypto';
import { LivepipeEvent, type EventPayloads } from '../core/event-bus.js';

/**
 * The events a webhook receiver gets, and how bus events become them (pure). Each delivery's body is
 * one `WebhookEvent` as JSON:
 *
 *   { "id": "…uuid…", "type": "channel.live", "time": "2026-12-05T04:00:00.000Z",
 *     "data": { "channel": "demo", "state": "live", "previous": "idle", "reason": "publishing over rtmp" } }
 *
 * `data` is the bus payload as it is (documented in `core/event-bus.ts`). Stream keys are never in it.
 */
export const WEBHOOK_EVENT_TYPES = [
  'channel.idle',
  'channel.live',
  'channel.reconnecting',
  /** Cluster mode: this node has the channel's publisher, another node writes it (hot standby). */
  'channel.standby',
  'channel.stopped',
  'channel.failed',
  'publish.started',
  'publish.ended',
  'publish.refused',
  /**
   * A channel's ladder (its ffmpeg) is restarting: `data.cause` is `crash` (the run ended unexpectedly;
   * the supervisor restarts it after its backoff) or `operator` (restart, ladder change); `data.reason` says more.
   */
  'transcoder.restarting',
  /** A channel switched inputs: `data.from`, `data.to` (`primary`, `backup`, `slate`), `data.reason`, `data.kind`. */
  'input.switched',
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export interface WebhookEvent {
  /** Unique per event (also `X-Livepipe-Delivery`): retries of one event keep it, so receivers can deduplicate. */
  id: string;
  type: WebhookEventType;
  /** When livepipe saw the event (ISO 8601). */
  time: string;
  data: Record<string, unknown>;
}

/** The bus events the dispatcher subscribes to. */
export const WEBHOOK_SOURCES = [
  LivepipeEvent.ChannelStateChanged,
  LivepipeEvent.PublishStarted,
  LivepipeEvent.PublishEnded,
  LivepipeEvent.PublishRefused,
  LivepipeEvent.TranscoderState,
  LivepipeEvent.LadderRestarted,
  LivepipeEvent.InputSwitched,
] as const;

export type WebhookSource = (typeof WEBHOOK_SOURCES)[number];

/** The webhook type of a bus event, or undefined when receivers are not told about it. */
export function webhookTypeOf<E extends WebhookSource>(event: E, payload: EventPayloads[E]): WebhookEventType | undefined {
  switch (event) {
    case LivepipeEvent.ChannelStateChanged:
      return `channel.${(payload as EventPayloads[LivepipeEvent.ChannelStateChanged]).state}`;
    case LivepipeEvent.PublishStarted:
      return 'publish.started';
    case LivepipeEvent.PublishEnded:
      return 'publish.ended';
    case LivepipeEvent.PublishRefused:
      return 'publish.refused';
    case LivepipeEvent.TranscoderState:
      return (payload as EventPayloads[LivepipeEvent.TranscoderState]).state === 'restarting' ? 'transcoder.restarting' : undefined;
    case LivepipeEvent.LadderRestarted:
      return 'transcoder.restarting';
    case LivepipeEvent.InputSwitched:
      return 'input.switched';
  }
  return undefined;
}

/**
 * The `data` of a webhook event: the bus payload as it is, except `transcoder.restarting`, which has
 * one shape whichever bus event caused it: `{ channel, cause: 'crash' | 'operator', reason }`.
 */
export function webhookDataOf<E extends WebhookSource>(event: E, payload: EventPayloads[E]): Record<string, unknown> {
  if (event === LivepipeEvent.TranscoderState) {
    const p = payload as EventPayloads[LivepipeEvent.TranscoderState];
    return { channel: p.channel, cause: 'crash', reason: p.reason ?? 'the ffmpeg run ended' };
  }
  if (event === LivepipeEvent.LadderRestarted) {
    const p = payload as EventPayloads[LivepipeEvent.LadderRestarted];
    return { channel: p.channel, cause: 'operator', reason: p.reason };
  }
  return { ...payload };
}

export function webhookEvent(type: WebhookEventType, data: object, now: Date = new Date(), id: string = randomUUID()): WebhookEvent {
  return { id, type, time: now.toISOString(), data: { ...data } };
}
