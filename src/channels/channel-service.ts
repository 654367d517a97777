/**
 * What operators can see and do with channels. Implemented by the channel manager (the composition
 * of ingest → transcoder → packager per channel); consumed by the ops API. Errors are thrown as
 * `LivepipeError` (NotFound, Conflict, BadRequest, CapacityExceeded…); the API maps them to statuses.
 */
import type { TranscoderStateName } from '../core/event-bus.js';
import type { AdCueAccepted, AdCueRequest } from './ad-cues.js';
import type { NodeCapacity } from '../transcode/admission.js';
import type { ChannelInputView } from './channel-inputs.js';
import type { ChannelInputsConfig } from '../config/service-config.js';

/** A channel's definition, as configured (YAML or API). */
export interface ChannelSpec {
  id: string;
  ladder: string;
  /** Publish key; never returned by the API (only `keyLast4`). */
  key: string;
  srt?: { port?: number; passphrase: string; latencyMs?: number; backupPort?: number };
  inputs?: ChannelInputsConfig;
}

export type { ChannelState } from '../core/channel-state.js';
import type { ChannelState } from '../core/channel-state.js';

export interface RenditionStats {
  name: string;
  kind: 'video' | 'audio';
  width?: number;
  height?: number;
  bitrate: number;
  /** Frames per second the encoder achieves (video). */
  fps?: number;
  /** Realtime speed factor of the encoder (1.0 = realtime). */
  speed?: number;
  /** Last media sequence number / part published for this rendition. */
  lastMsn?: number;
  lastPart?: number;
}

export interface ChannelView {
  id: string;
  ladder: string;
  state: ChannelState;
  /** Why the channel is in its state (its last transition, or the encoder failing while `live`). */
  stateReason?: string;
  /** Last 4 characters of the key, for operators checking which key is active. */
  keyLast4: string;
  publisher?: {
    protocol: 'rtmp' | 'srt';
    remoteAddress?: string;
    /** ISO 8601 */
    since: string;
    video?: { codec: string; width: number; height: number; frameRate?: number };
    audio?: { codec: string; sampleRate?: number; channels?: number };
    /** Measured ingest bitrate, bits/s. */
    bitrate?: number;
    /** Jumps of the publisher's timestamps that ingest smoothed over (RTMP), since the publish started. */
    timestampJumps?: number;
    /** How long after its video the publisher's audio arrives, s: the most over the last 5 s (SRT). */
    audioDelaySeconds?: number;
  };
  transcoder: {
    state: TranscoderStateName;
    runId: number;
    restarts: number;
    /** The encoder fails fast again and again (3+ in a row); it keeps being restarted. */
    crashLooping: boolean;
    /** Seconds since the encoder's first failure without a healthy run after it; absent while healthy. */
    failingSeconds?: number;
    uptimeSeconds: number;
    lastError?: string;
    renditions: RenditionStats[];
    /** Renditions dropped at start (e.g. above the source resolution) and why. */
    dropped: Array<{ name: string; reason: string }>;
    /** How the running encoder keeps up with its input (docs/capacity.md); absent between runs. */
    realtime?: {
      /** Below realtime: the edge falls further behind arrival (the state reason says `behind: …`). */
      behind: boolean;
      /** Seconds the encoded edge is behind the arrival of the same media. */
      edgeLagSeconds?: number;
      /** Media seconds encoded per wall second over the last 20 s. */
      speed?: number;
      /** The run's measured cost: CPU cores at realtime (CPU s per media s). */
      cores?: number;
    };
    /**
     * The behind-realtime policy lightened the ladder while live (`cheaper-preset`,
     * `drop-top-rendition`; docs/capacity.md): absent while it runs as configured.
     */
    ladderAdjustment?: {
      policy: string;
      /** x264 presets this many steps faster than the ladder's (bounded at ultrafast). */
      presetSteps: number;
      /** Each rendition's x264 preset now. */
      presets: Record<string, string>;
      /** Top renditions taken off, highest first. */
      droppedRenditions: string[];
    };
  };
  /** The channel's inputs (primary, backup, slate) when it has an `inputs:` block. */
  input?: ChannelInputView;
  mediaSequence?: number;
  urls: { playback: string; rtmp: string; srt?: string };
}

export interface ChannelPatch {
  ladder?: string;
  key?: string;
  srt?: ChannelSpec['srt'] | null;
  /** New inputs block (replaced as a whole), or null to remove it. */
  inputs?: ChannelInputsConfig | null;
}

/**
 * The node's transcoding capacity (`GET /api/v1/node`, docs/capacity.md): admission's view plus the
 * channels behind realtime. Cost fields are absent when cost-based admission is off.
 */
export interface NodeView extends NodeCapacity {
  behindChannels: string[];
}

export interface ChannelService {
  /** The node's transcoding capacity, used and free. Optional: services without admission omit it. */
  node?(): NodeView;
  list(): ChannelView[];
  get(id: string): ChannelView | undefined;
  create(spec: ChannelSpec): Promise<ChannelView>;
  update(id: string, patch: ChannelPatch): Promise<ChannelView>;
  remove(id: string): Promise<void>;
  /** Restarts the ladder workers; viewers keep playing across a discontinuity. */
  restart(id: string): Promise<ChannelView>;
  /** Stops the ladder and refuses publishes until `start`. */
  stop(id: string): Promise<ChannelView>;
  start(id: string): Promise<ChannelView>;
  /** Drops the current publisher. */
  kick(id: string): Promise<ChannelView>;
  /** An ad cue (SCTE-35 splice out / in) into the live stream: EXT-X-DATERANGE in every rendition. */
  cue(id: string, request: AdCueRequest): Promise<AdCueAccepted>;
  /** Forces the channel's input (`primary`, `backup`, `slate`); 409 when that cannot play now. */
  selectInput?(id: string, input: 'primary' | 'backup' | 'slate'): Promise<ChannelView>;
}
