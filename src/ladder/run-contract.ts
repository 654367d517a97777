import type { Readable } from 'node:stream';
import type { ProcessExit } from '../core/supervised-process.js';
import type { ProbedAudioTrack } from './audio-tracks.js';
import type { ResolvedAudioRendition, ResolvedLadder, ResolvedVideoRendition } from './ladder-loader.js';

export type { ProbedAudioTrack };

/**
 * The run contract: what a transcoder produces and a packager consumes. It lives in the ladder layer
 * so that `transcode` and `package` meet here and never import each other.
 *
 * Every ffmpeg (re)start is a new `TranscodeRun` with a new `runId` (1, 2, …). For each output:
 * - `stream` is fragmented MP4: an init segment (ftyp + moov with one track) followed by moof+mdat
 *   fragments of one frame each (audio: one AAC frame), or for video with long enough parts one part
 *   each, never longer than PART-TARGET; decode timestamps of all outputs of a run share one timeline
 *   starting near 0 (video in a 90 kHz timescale, audio in its sample rate);
 * - video keyframes fall on the same timestamps in every rendition, every `gop` seconds of the
 *   resolved ladder (the ladder's, or its segment where a mid-segment keyframe would split a part);
 * - the stream ends when the run ends (input end, crash, stall, stop); a new run means a new init
 *   segment and timestamps starting again near 0: a discontinuity for the packager.
 * The consumer MUST read every output stream promptly: an unread pipe blocks the encoder, which the
 * stall watchdog then treats as a stall.
 */
export interface TranscodeRun {
  channel: string;
  runId: number;
  /** Epoch ms when the run was spawned. */
  startedAt: number;
  /**
   * Epoch ms at which the media at stream time 0 of this run reached livepipe: for live stdin input,
   * the arrival of the first frame fed to ffmpeg (stamped by ingest, see `core/media-clock.ts`);
   * otherwise the spawn time (files and URLs are read by ffmpeg itself from then on). The packager
   * anchors EXT-X-PROGRAM-DATE-TIME on it. Call it once the first output bytes have arrived.
   */
  mediaStartedAt(): number;
  probe: InputProbe;
  ladder: ResolvedLadder;
  outputs: TranscodeRunOutput[];
  /** Resolves when this run's encoder process has exited. */
  ended: Promise<RunExit>;
}

export interface TranscodeRunOutput {
  name: string;
  kind: 'video' | 'audio';
  rendition: ResolvedVideoRendition | ResolvedAudioRendition;
  stream: Readable;
}

/** How a run's encoder process ended. */
export type RunExit = ProcessExit;

/** What the transcoder learned of its input (ffprobe): the source side of `resolveLadder`. */
export interface InputProbe {
  width: number;
  height: number;
  /** Frames per second (avg_frame_rate, else r_frame_rate); 0 when the container does not say. Not
   * bounded here: see `transcode/input-limits.ts`. */
  frameRate: number;
  videoCodec: string;
  hasAudio: boolean;
  audioCodec?: string;
  audioChannels?: number;
  audioSampleRate?: number;
  /** Known for files; absent for live inputs. */
  durationSec?: number;
  /**
   * The video carries CEA-608/708 captions (ATSC A/53 SEI: ffprobe's "Closed Captions"), as seen
   * while probing: the encoders keep them (`-a53cc`) and the multivariant playlist signals CC1.
   */
  closedCaptions?: boolean;
  /**
   * Every decodable audio stream of the input, in stream order: `index` is its position among the
   * input's audio streams (ffmpeg's `0:a:N`, which counts undecodable ones too). Absent or one entry:
   * the channel has one audio language, as before issue 17 (see `ladder/audio-tracks.ts`).
   */
  audioTracks?: ProbedAudioTrack[];
}
