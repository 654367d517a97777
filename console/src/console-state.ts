import type { ChannelView } from './channel-view.js';
import type { SseMessage } from './sse-parser.js';

/**
 * The console's state as a pure reducer of event-stream messages (`GET /api/v1/events`): a `snapshot`
 * replaces the channels, a bus event carries the channel's view after it, `stats` refreshes the live
 * channels and names every id (so channels created or deleted elsewhere appear and go). No timers,
 * no I/O: the component layer feeds messages in and fetches the ids this says are missing.
 */

/** Events kept in the activity log (newest first). */
export const LOG_LENGTH = 50;

export interface LogEntry {
  /** The stream's message id (unique per connection) or a local counter. */
  key: string;
  at: string;
  channel?: string;
  text: string;
  tone: 'info' | 'good' | 'warn' | 'bad';
}

export interface ConsoleState {
  channels: ReadonlyMap<string, ChannelView>;
  log: readonly LogEntry[];
  /** Time of the newest message, ISO 8601. */
  lastMessageAt?: string;
}

export const EMPTY_STATE: ConsoleState = { channels: new Map(), log: [] };

export interface Applied {
  state: ConsoleState;
  /** Channel ids the stream named but the console has no view of (fetch them once). */
  missing: string[];
}

interface MessageBody {
  at?: string;
  channels?: ChannelView[];
  ids?: string[];
  active?: ChannelView[];
  payload?: Record<string, unknown>;
  view?: ChannelView;
}

export function applyMessage(state: ConsoleState, message: SseMessage): Applied {
  let body: MessageBody;
  try {
    body = JSON.parse(message.data) as MessageBody;
  } catch {
    return { state, missing: [] };
  }
  const at = body.at ?? new Date().toISOString();
  if (message.event === 'snapshot') {
    return { state: { ...state, channels: new Map((body.channels ?? []).map((view) => [view.id, view])), lastMessageAt: at }, missing: [] };
  }
  if (message.event === 'stats') {
    const ids = body.ids ?? [];
    const channels = new Map<string, ChannelView>();
    for (const id of ids) {
      const known = state.channels.get(id);
      if (known !== undefined) channels.set(id, known);
    }
    for (const view of body.active ?? []) channels.set(view.id, view);
    return { state: { ...state, channels, lastMessageAt: at }, missing: ids.filter((id) => !channels.has(id)) };
  }
  const payload = body.payload ?? {};
  const channels = new Map(state.channels);
  if (body.view !== undefined) channels.set(body.view.id, body.view);
  const entry = describeEvent(message.event, payload);
  const log = entry === undefined ? state.log : [{ ...entry, key: message.id ?? `${at}-${message.event}`, at }, ...state.log].slice(0, LOG_LENGTH);
  return { state: { channels, log, lastMessageAt: at }, missing: [] };
}

/** A channel's view replaced (after an action's answer) or removed (`undefined`, after a delete). */
export function withChannel(state: ConsoleState, id: string, view: ChannelView | undefined): ConsoleState {
  const channels = new Map(state.channels);
  if (view === undefined) channels.delete(id);
  else channels.set(id, view);
  return { ...state, channels };
}

/** Channels in the order the console lists them: by id, as the API does. */
export function sortedChannels(state: ConsoleState): ChannelView[] {
  return [...state.channels.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** One line of the activity log for a bus event; undefined for events not worth a line. */
export function describeEvent(event: string, payload: Record<string, unknown>): Omit<LogEntry, 'key' | 'at'> | undefined {
  const channel = typeof payload.channel === 'string' ? payload.channel : undefined;
  const str = (name: string): string => (typeof payload[name] === 'string' ? (payload[name] as string) : '');
  const base = channel !== undefined ? { channel } : {};
  switch (event) {
    case 'channel:state': {
      const state = str('state');
      const tone = state === 'live' ? 'good' : state === 'failed' ? 'bad' : state === 'reconnecting' ? 'warn' : 'info';
      return { ...base, tone, text: `${str('previous')} → ${state}${str('reason') ? ` (${str('reason')})` : ''}` };
    }
    case 'channel:ladder-restarted':
      return { ...base, tone: 'info', text: `ladder restarted (${str('reason')})` };
    case 'transcoder:state': {
      const state = str('state');
      if (state !== 'restarting' && state !== 'failed') return undefined;
      return { ...base, tone: state === 'failed' ? 'bad' : 'warn', text: `transcoder ${state}${str('reason') ? `: ${str('reason')}` : ''}` };
    }
    case 'ingest:publish-started':
      return { ...base, tone: 'good', text: `publish started (${str('protocol')}${str('remoteAddress') ? ` from ${str('remoteAddress')}` : ''})` };
    case 'ingest:publish-ended':
      return { ...base, tone: 'info', text: `publish ended (${str('reason')}${str('detail') ? `: ${str('detail')}` : ''})` };
    case 'ingest:publish-refused':
      return { ...base, tone: 'warn', text: `publish refused (${str('reason')})` };
    case 'storage:health':
      return payload.healthy === true ? { tone: 'good', text: 'storage recovered' } : { tone: 'bad', text: `storage failing${str('error') ? `: ${str('error')}` : ''}` };
    default:
      return undefined;
  }
}
