import { finished, type Readable } from 'node:stream';
import { errorMessage, ErrorCode, isLivepipeError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { Fmp4Reader, type Fmp4Event, type FragmentEvent, type TrackInfo } from '../mp4/fmp4-reader.js';
import { mergeInitSegments } from '../mp4/mp4-mux.js';
import { malformed } from '../mp4/mp4-boxes.js';
import { AudioInterleaver, type TimedFragment } from './audio-interleaver.js';
import type { CutterFrame } from './segment-cutter.js';

/**
 * What a rendition packager reads from one transcoder run's output: an init segment, then fragments,
 * then an end. `streamFeed` reads one fMP4 output as it is; `MuxedFeed` puts the run's audio into a
 * video output (the ladder's `muxAudio`), reading the audio once for every video variant through a
 * `SharedAudioFeed`.
 */

export type FeedEvent =
  | {
      type: 'init';
      bytes: Uint8Array;
      /** The video (or only) track: codecs, size, timescale of the fragments' timing. */
      track: TrackInfo;
      /** The audio track muxed into this output's fragments, when there is one. */
      muxedAudio?: TrackInfo;
    }
  | ({ type: 'fragment' } & CutterFrame & Partial<Pick<FragmentEvent, 'samples' | 'dataStart' | 'sequenceNumber'>>);

export interface FeedHandlers {
  /** Each event in stream order; a throw (media the packager cannot use) fails the feed. */
  onEvent(event: FeedEvent): void;
  /** The media became unusable: no more events come (`onEnd` still does). */
  onFail(err: unknown): void;
  /** The output ended (once, after a failure too). */
  onEnd(): void;
}

export interface FragmentFeed {
  /** Starts delivering; call once, before the run's streams are resumed. */
  start(handlers: FeedHandlers): void;
}

/** One fMP4 output, read as it is. */
export function streamFeed(stream: Readable, logger: Logger): FragmentFeed {
  return {
    start(handlers) {
      const reader = new Fmp4Reader();
      let failed = false;
      stream.on('data', (chunk: Buffer) => {
        if (failed) return;
        try {
          for (const event of reader.push(chunk)) handlers.onEvent(event);
        } catch (err) {
          failed = true;
          handlers.onFail(err);
          stream.resume(); // keep draining so ffmpeg is never blocked on this pipe
        }
      });
      // finished(), not 'end': it also fires for a stream that ended or was destroyed before this
      // listener was attached, and for a close without an end.
      finished(stream, (err) => {
        if (err !== undefined && err !== null) logger.debug({ err: errorMessage(err) }, 'encoder output stream error');
        try {
          reader.end();
        } catch (e) {
          // A run killed mid-fragment (crash, stall, stop) ends with a truncated box: expected.
          if (!isLivepipeError(e, ErrorCode.MediaMalformed)) throw e;
          logger.debug({ err: errorMessage(e) }, 'run ended inside a box');
        } finally {
          handlers.onEnd();
        }
      });
    },
  };
}

interface AudioListener {
  onInit(bytes: Uint8Array, track: TrackInfo): void;
  onFragment(fragment: TimedFragment): void;
  /** `failed`: the audio was unusable from some point on. */
  onEnd(failed: boolean): void;
}

/**
 * A run's audio output, read once and handed to every muxed video variant. Reading starts at
 * construction (the stream stays paused until the run resumes it): subscribe before resuming.
 */
export class SharedAudioFeed {
  private readonly listeners = new Set<AudioListener>();
  private failed = false;

  constructor(stream: Readable, logger: Logger) {
    streamFeed(stream, logger).start({
      onEvent: (event) => {
        for (const l of this.listeners) {
          if (event.type === 'init') l.onInit(event.bytes, event.track);
          else l.onFragment(event);
        }
      },
      onFail: (err) => {
        this.failed = true;
        logger.error({ err: errorMessage(err) }, 'unusable audio from the encoder: the muxed variants of this run end');
        // At once, not at the stream's end: their video must not wait for audio that will not come.
        for (const l of this.listeners) l.onEnd(true);
        this.listeners.clear();
      },
      onEnd: () => {
        for (const l of this.listeners) l.onEnd(this.failed);
        this.listeners.clear();
      },
    });
  }

  subscribe(listener: AudioListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/**
 * A video output with the run's audio muxed in: the merged init once both init segments are known,
 * then the video's fragments with their audio (`AudioInterleaver`). An audio output that ends without
 * any init (a run with no audio) leaves the video as it is; audio that becomes unusable fails the
 * variant, whose CODECS promise both.
 */
export class MuxedFeed implements FragmentFeed {
  private handlers: FeedHandlers | undefined;
  private audioInit: { bytes: Uint8Array; track: TrackInfo } | undefined;
  private videoInit: { bytes: Uint8Array; track: TrackInfo } | undefined;
  private interleaver: AudioInterleaver | undefined;
  /** Fragments that came before both inits were known, in arrival order. */
  private early: Array<{ kind: 'audio' | 'video'; fragment: TimedFragment }> = [];
  private audioEnded = false;
  private failed = false;
  /** Video without audio: the audio output ended with no init. */
  private plain = false;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly video: Readable,
    audio: SharedAudioFeed,
    private readonly logger: Logger,
  ) {
    this.unsubscribe = audio.subscribe({
      onInit: (bytes, track) => this.guard(() => this.onAudioInit(bytes, track)),
      onFragment: (fragment) => this.guard(() => this.onAudioFragment(fragment)),
      onEnd: (failed) => this.guard(() => this.onAudioEnd(failed)),
    });
  }

  start(handlers: FeedHandlers): void {
    this.handlers = handlers;
    streamFeed(this.video, this.logger).start({
      onEvent: (event) => {
        if (this.failed) return;
        if (event.type === 'init') this.onVideoInit(event.bytes, event.track);
        else this.onVideoFragment(event);
      },
      onFail: (err) => this.fail(err),
      onEnd: () => {
        this.unsubscribe();
        // What waits for audio that will not come now goes with the audio there is (or, when no audio
        // init came at all, as plain video).
        this.guard(() => {
          if (this.interleaver !== undefined) this.forward(this.interleaver.endAudio());
          else this.onAudioEnd(false);
        });
        handlers.onEnd();
      },
    });
  }

  private guard(step: () => void): void {
    if (this.failed) return;
    try {
      step();
    } catch (err) {
      this.fail(err);
    }
  }

  private fail(err: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.early = [];
    this.handlers?.onFail(err);
  }

  private emit(event: FeedEvent): void {
    this.handlers!.onEvent(event);
  }

  private onVideoInit(bytes: Uint8Array, track: TrackInfo): void {
    if (this.videoInit !== undefined) throw malformed('a second video init segment within one run');
    this.videoInit = { bytes, track };
    this.tryStart();
  }

  private onAudioInit(bytes: Uint8Array, track: TrackInfo): void {
    if (this.audioInit !== undefined) throw malformed('a second audio init segment within one run');
    this.audioInit = { bytes, track };
    this.tryStart();
  }

  private tryStart(): void {
    const video = this.videoInit;
    if (video === undefined || this.interleaver !== undefined || this.plain) return;
    if (this.audioInit === undefined) {
      if (!this.audioEnded) return;
      this.plain = true;
      this.emit({ type: 'init', bytes: video.bytes, track: video.track });
    } else {
      const merged = mergeInitSegments(video.bytes, this.audioInit.bytes);
      this.interleaver = new AudioInterleaver({
        videoTimescale: video.track.timescale,
        audioTimescale: this.audioInit.track.timescale,
        audioTrackId: merged.audioTrackId,
      });
      this.emit({ type: 'init', bytes: merged.bytes, track: video.track, muxedAudio: this.audioInit.track });
    }
    const early = this.early;
    this.early = [];
    for (const { kind, fragment } of early) {
      if (kind === 'video') this.onVideoFragment(fragment);
      else this.onAudioFragment(fragment);
    }
    if (this.audioEnded) this.forward(this.interleaver?.endAudio() ?? []);
  }

  private onVideoFragment(fragment: TimedFragment): void {
    if (this.plain) this.emit({ type: 'fragment', ...pick(fragment) });
    else if (this.interleaver === undefined) this.early.push({ kind: 'video', fragment: pick(fragment) });
    else this.forward(this.interleaver.pushVideo(fragment));
  }

  private onAudioFragment(fragment: TimedFragment): void {
    if (this.plain) return;
    if (this.interleaver === undefined) this.early.push({ kind: 'audio', fragment: pick(fragment) });
    else this.forward(this.interleaver.pushAudio(pick(fragment)));
  }

  private onAudioEnd(failed: boolean): void {
    if (failed) throw malformed('the run’s audio output became unusable');
    this.audioEnded = true;
    if (this.interleaver !== undefined) this.forward(this.interleaver.endAudio());
    else this.tryStart();
  }

  private forward(frames: CutterFrame[]): void {
    for (const frame of frames) this.emit({ type: 'fragment', ...frame });
  }
}

/** The timing and bytes of a fragment event (dropping the reader's per-sample detail). */
function pick(f: TimedFragment): TimedFragment {
  return { decodeTime: f.decodeTime, duration: f.duration, independent: f.independent, bytes: f.bytes };
}
