/**
 * Keeps an RTMP publisher's timeline continuous when its timestamps jump.
 *
 * Why in ingest: the transcoder reads FLV, and ffmpeg treats FLV timestamps as gospel (its
 * discontinuity correction is only for formats flagged `AVFMT_TS_DISCONT`, such as MPEG-TS; for FLV
 * it only discards DTS more than 30 hours off). With a ladder's constant output frame rate, a jump of
 * one hour forward makes ffmpeg duplicate the last frame 108 000 times (an hour of media, encoded as
 * fast as the CPU allows, flooding the playlists); a jump backwards drops every frame until the
 * timestamps catch up again and makes the muxer rewrite audio timestamps. Encoders do jump: a clock
 * resynchronised mid-stream, a source switch that restarts the timestamps at 0, a 32-bit wrap.
 *
 * What counts as a jump, per stream (audio and video separately, since each has its own clock and
 * one may jump alone):
 * - forward: the timestamp advances more than `maxForwardGapMs` beyond the wall-clock time since the
 *   previous tag of the stream. A publisher that stalls and resumes (timestamps and clock advance
 *   together) or sends a burst of buffered media (small steps, arriving fast) is not a jump;
 * - backward: the timestamp is more than `maxBackwardMs` behind the previous one (FLV timestamps are
 *   decode times: they never go back in a well-formed stream).
 * A jumping tag is placed one usual frame interval (the stream's last regular step) after the
 * previous tag of its stream, and every later tag of the stream keeps that offset until the next
 * jump. A stream's first tag is checked against the other stream's latest tag, so a stream that
 * starts an hour away from the other is aligned too. Configuration tags (sequence headers) and
 * other non-frame tags take the stream's current offset without being checked (encoders often send
 * a mid-stream sequence header at timestamp 0).
 *
 * Pure: no clock of its own, the caller passes the arrival time.
 */

export type FlvStream = 'audio' | 'video';

export interface TimestampJump {
  stream: FlvStream;
  /** The publisher's timestamp of the previous tag and of this one, ms. */
  previous: number;
  timestamp: number;
  /** timestamp − previous, ms (negative: backwards). */
  jumpMs: number;
  /** Where the tag was placed instead, ms. */
  rebasedTo: number;
}

export interface FlvTimestampRebaserOptions {
  /** Forward tolerance beyond the wall-clock time between two tags of a stream; default 3 000 ms. */
  maxForwardGapMs?: number;
  /** Backward tolerance; default 500 ms. */
  maxBackwardMs?: number;
}

interface StreamClock {
  /** Publisher timestamp, rebased timestamp and arrival time of the previous frame tag. */
  lastIn: number;
  lastOut: number;
  lastArrival: number;
  /** Added to the publisher's timestamps. */
  offset: number;
  /** The last regular step between two frames, ms (the placement of a jumping tag). */
  step: number;
}

/** Step used for a jumping tag before a regular one was seen (one frame at 30 fps, roughly). */
const DEFAULT_STEP_MS = 33;
/** A step longer than this is a gap, not a frame interval. */
const MAX_STEP_MS = 1000;

export class FlvTimestampRebaser {
  private readonly maxForwardGapMs: number;
  private readonly maxBackwardMs: number;
  private readonly clocks: Partial<Record<FlvStream, StreamClock>> = {};
  private jumpCount = 0;

  constructor(options: FlvTimestampRebaserOptions = {}) {
    this.maxForwardGapMs = options.maxForwardGapMs ?? 3000;
    this.maxBackwardMs = options.maxBackwardMs ?? 500;
  }

  /** Jumps smoothed over since the start. */
  get jumps(): number {
    return this.jumpCount;
  }

  /**
   * A frame tag (audio frame, video frame): returns its timestamp on the continuous timeline, and the
   * jump when there was one.
   */
  frame(stream: FlvStream, timestamp: number, arrivalMs: number): { timestamp: number; jump?: TimestampJump } {
    const own = this.clocks[stream];
    const reference = own ?? this.clocks[stream === 'audio' ? 'video' : 'audio'];
    if (reference === undefined) {
      this.clocks[stream] = { lastIn: timestamp, lastOut: timestamp, lastArrival: arrivalMs, offset: 0, step: DEFAULT_STEP_MS };
      return { timestamp };
    }
    const offset = own?.offset ?? reference.offset;
    const out = timestamp + offset;
    const delta = out - reference.lastOut;
    const wall = Math.max(0, arrivalMs - reference.lastArrival);
    const jumped = delta < -this.maxBackwardMs || delta > wall + this.maxForwardGapMs;
    if (!jumped) {
      const clock = own ?? { lastIn: timestamp, lastOut: out, lastArrival: arrivalMs, offset, step: reference.step };
      if (own !== undefined && delta > 0 && delta <= MAX_STEP_MS) clock.step = delta;
      clock.lastIn = timestamp;
      clock.lastOut = Math.max(0, out);
      clock.lastArrival = arrivalMs;
      this.clocks[stream] = clock;
      return { timestamp: Math.max(0, out) };
    }
    // Own stream: one regular step after its previous tag; first tag of a stream: beside the other's.
    const rebasedTo = own !== undefined ? reference.lastOut + reference.step : reference.lastOut;
    const jump: TimestampJump = {
      stream,
      previous: reference.lastIn,
      timestamp,
      jumpMs: timestamp - reference.lastIn,
      rebasedTo,
    };
    this.jumpCount += 1;
    this.clocks[stream] = {
      lastIn: timestamp,
      lastOut: rebasedTo,
      lastArrival: arrivalMs,
      offset: rebasedTo - timestamp,
      step: own?.step ?? reference.step,
    };
    return { timestamp: rebasedTo, jump };
  }

  /** A configuration or other non-frame tag: the stream's current offset, unchecked. */
  other(stream: FlvStream, timestamp: number): number {
    const offset = this.clocks[stream]?.offset ?? 0;
    return Math.max(0, timestamp + offset);
  }
}
