import { EventEmitter } from 'node:events';
import type { ChannelState } from './channel-state.js';

/**
 * One typed event hub per process. Event names live in one enum; `EventPayloads` gives each its
 * payload type, so `on`/`emit` are checked by the compiler (the hls.js Events/EventMap pattern).
 */
export enum LivepipeEvent {
  /** A channel's transcoder supervisor changed state. */
  TranscoderState = 'transcoder:state',
  /** A publisher started pushing a channel. */
  PublishStarted = 'ingest:publish-started',
  /** A publisher stopped (disconnect, kick, error, unusable media). */
  PublishEnded = 'ingest:publish-ended',
  /** Storage calls started failing or recovered. */
  StorageHealth = 'storage:health',
  /** A channel changed state (idle, live, reconnecting, stopped, failed); emitted by the channel. */
  ChannelStateChanged = 'channel:state',
  /** A channel restarts its ladder on purpose (operator restart, ladder change); crash restarts are `TranscoderState` `restarting`. */
  LadderRestarted = 'channel:ladder-restarted',
  /** A publish was refused (bad key, unknown channel, busy, stopped channel); emitted by ingest and the channel. */
  PublishRefused = 'ingest:publish-refused',
  /** A channel switched inputs (primary, backup, slate); emitted by the channel. */
  InputSwitched = 'channel:input-switched',
}

export type TranscoderStateName = 'idle' | 'starting' | 'running' | 'restarting' | 'stopping' | 'stopped' | 'failed';

export interface EventPayloads {
  [LivepipeEvent.TranscoderState]: {
    channel: string;
    state: TranscoderStateName;
    previous: TranscoderStateName;
    reason?: string;
  };
  /** `role`: which input of the channel (absent: the primary). */
  [LivepipeEvent.PublishStarted]: { channel: string; protocol: 'rtmp' | 'srt'; role?: 'primary' | 'backup'; remoteAddress?: string };
  /** `detail`: why, in words, when the reason alone does not say (reason `unusable`: what is wrong with the media). */
  [LivepipeEvent.PublishEnded]: { channel: string; protocol: 'rtmp' | 'srt'; role?: 'primary' | 'backup'; reason: string; detail?: string };
  /** `channel`: the channel whose upload queue saw the change (storage is shared, so others follow). */
  [LivepipeEvent.StorageHealth]: { healthy: boolean; error?: string; channel?: string };
  [LivepipeEvent.ChannelStateChanged]: { channel: string; state: ChannelState; previous: ChannelState; reason: string };
  [LivepipeEvent.LadderRestarted]: { channel: string; reason: string };
  /**
   * `from`/`to`: `primary`, `backup`, `slate` (`from` `none` never: the first selection is no switch);
   * `kind`: `seamless` (the encoder kept running) or `restart` (a new encoder run).
   */
  [LivepipeEvent.InputSwitched]: { channel: string; from: string; to: string; reason: string; kind: 'seamless' | 'restart' };
  /** `reason`: a short code (`wrong-key`, `unknown-channel`, `busy`, `channel-stopped`…); never the key. */
  [LivepipeEvent.PublishRefused]: { channel: string; protocol: 'rtmp' | 'srt'; reason: string; remoteAddress?: string; detail?: string };
}

export type Listener<E extends LivepipeEvent> = (payload: EventPayloads[E]) => void;

export class EventBus {
  private readonly emitter = new EventEmitter();

  constructor() {
    // Thousands of held origin requests may wait on one event; they are tracked, not leaked.
    this.emitter.setMaxListeners(0);
  }

  on<E extends LivepipeEvent>(event: E, listener: Listener<E>): () => void {
    this.emitter.on(event, listener as (payload: unknown) => void);
    return () => this.off(event, listener);
  }

  once<E extends LivepipeEvent>(event: E, listener: Listener<E>): () => void {
    this.emitter.once(event, listener as (payload: unknown) => void);
    return () => this.off(event, listener);
  }

  off<E extends LivepipeEvent>(event: E, listener: Listener<E>): void {
    this.emitter.off(event, listener as (payload: unknown) => void);
  }

  emit<E extends LivepipeEvent>(event: E, payload: EventPayloads[E]): void {
    this.emitter.emit(event, payload);
  }

  removeAllListeners(): void {
    this.emitter.removeAllListeners();
  }
}
