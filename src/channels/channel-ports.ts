/**
 * What a channel needs from the rest of livepipe: narrow ports declared here by their user
 * (`Channel`), implemented by the packager, the metrics, the cluster leases and the transcoder
 * supervisor, and handed in through `ChannelDeps` by the channel manager.
 */
import type { NamedLadder } from '../ladder/ladder-loader.js';
import type { EventBus } from '../core/event-bus.js';
import type { Logger } from '../core/logger.js';
import type { InputRole } from '../ingest/ingest-feed.js';
import type { TranscodeAdmission } from '../transcode/admission.js';
import type { TranscodeRun } from '../ladder/run-contract.js';
import type { TranscoderSupervisor, TranscoderSupervisorOptions } from '../transcode/transcoder-supervisor.js';
import type { RealtimeTrackerOptions } from '../transcode/realtime-tracker.js';
import type { BehindPolicy } from '../transcode/behind-policy.js';
import type { Cue } from '../package/cue-schedule.js';
import type { ChannelState, ChannelView } from './channel-service.js';

/** Default of `ChannelDeps.encoderGiveUpMs` (the service config's `encoderGiveUpSeconds`). */
export const DEFAULT_ENCODER_GIVE_UP_MS = 60_000;

/** What a channel needs from its packager (implemented by `ChannelPackager`). */
export interface ChannelPackagerPort {
  /** Consumes a transcoder run's outputs; every run after the first is a discontinuity. */
  attachRun(run: TranscodeRun): void;
  /** Closes the stream (EXT-X-ENDLIST) once the publisher is gone for good. */
  endStream(): Promise<void>;
  /**
   * After a process start: serves the channel's stored playlists until a publisher is back; `live`
   * counts those without EXT-X-ENDLIST. Optional: a packager without storage has nothing to restore.
   */
  restore?(): Promise<{ restored: number; live: number }>;
  /** Last published position per rendition. */
  positions(): Array<{ rendition: string; lastMsn: number; lastPart: number }>;
  /** An ad cue: EXT-X-DATERANGE at the first segment boundary at or after its time, in every rendition. */
  addCue?(cue: Cue): void;
  /** The splice frame of `cue` was keyed at `mediaSeconds` of the current run: a segment starts there, and the cue with it. */
  spliceAt?(cue: Cue, mediaSeconds: number): boolean;
  /**
   * Keep the playlists moving until the next run has media: `held` (the encoder failed and restarts)
   * with the last picture held and silence; else (the publisher left) with GAP parts.
   */
  bridgeEncoderGap?(fill: 'held' | 'gap'): void;
  close(): Promise<void>;
}

export interface ChannelMetricsPort {
  setChannelState(channel: string, state: ChannelState): void;
  setEncoderProgress(channel: string, progress: { fps?: number; speed?: number }): void;
  /** Operator restarts and restarts after encoder failures. */
  countTranscoderRestart(channel: string): void;
  setTranscoderCrashLooping(channel: string, crashLooping: boolean): void;
  /** Edge lag behind arrival and the behind flag (docs/capacity.md); `undefined` lag clears the series. */
  setChannelRealtime?(channel: string, realtime: { edgeLagSeconds: number | undefined; behind: boolean }): void;
  /** How far the behind-realtime policy lightened the ladder (zeros: as configured). */
  setChannelLadderAdjustment?(channel: string, adjustment: { presetSteps: number; droppedRenditions: number }): void;
  /** A publish refused because the node has no transcoding capacity for it. */
  countAdmissionRefusal?(reason: string): void;
  setActiveInput?(channel: string, active: string): void;
  countInputSwitch?(channel: string, from: string, to: string): void;
}

/**
 * Cluster mode: the channel's writer lease (implemented by `cluster/channel-leases.ts`). Without it
 * the channel always writes (one node on its own).
 */
export interface ChannelLeadershipPort {
  /**
   * Wants the lease of `channel`: `onChange(true)` once this node holds it, `onChange(false)` when it
   * is lost. Returns the release (stops wanting it, and hands it over at once if held).
   */
  claim(channel: string, onChange: (held: boolean) => void): () => Promise<void>;
  /** How long a lease lasts without renewal, ms: how long a node waits for one it wants before giving up. */
  readonly leaseTtlMs: number;
}

/** What a channel needs from the transcoder supervisor of a publish session (implemented by `TranscoderSupervisor`). */
export type ChannelSupervisorPort = Pick<TranscoderSupervisor, 'start' | 'stop' | 'state' | 'finished'> & Partial<Pick<TranscoderSupervisor, 'reconfigure'>>;

export interface ChannelDeps {
  bus: EventBus;
  logger: Logger;
  loadLadder: (name: string) => Promise<NamedLadder>;
  createPackager: (channel: string) => Promise<ChannelPackagerPort>;
  /**
   * Drops the publisher of input `role`, or of every input of the channel. `refusal`: why its publish
   * is refused, told to the publisher where its protocol can (RTMP: an error onStatus, `Server
   * error: …` in ffmpeg).
   */
  kickPublisher: (channel: string, role?: InputRole, refusal?: string) => boolean;
  admission?: TranscodeAdmission;
  metrics?: ChannelMetricsPort;
  /** Public URLs for the view (playback, publish). */
  urls: (channel: string) => ChannelView['urls'];
  /** How long a channel waits for its publisher to come back before ending the stream (ms). */
  reconnectGraceMs: number;
  /**
   * How long the encoder may fail without a healthy run, its publisher connected, before the channel
   * ends the stream (EXT-X-ENDLIST) while the encoder keeps retrying (ms); default 60 s, as the
   * service config's `encoderGiveUpSeconds`.
   */
  encoderGiveUpMs?: number;
  /** Stall watchdog of the transcoder, ms (default: the supervisor's). */
  stallTimeoutMs?: number;
  /** Thresholds of the below-realtime detection (default: `RealtimeTracker`'s). */
  realtime?: RealtimeTrackerOptions;
  /** What a channel behind realtime does to its own encoder (`behind-policy.ts`); default `warn` (nothing). */
  behindPolicy?: BehindPolicy;
  /** Cluster mode: write only while holding the channel's lease. */
  leadership?: ChannelLeadershipPort;
  /** Builds a publish session's supervisor; default a `TranscoderSupervisor` (the unit tests give a stand-in). */
  createSupervisor?: (options: TranscoderSupervisorOptions) => ChannelSupervisorPort;
}
