import { Readable } from 'node:stream';
import { stampFirstFrameArrival } from '../core/media-clock.js';
import { classifyFlvTag, flvFileHeader, muxFlvTag, videoCompositionTime, withVideoCompositionTime, FlvTagType, type FlvTag } from './flv-tags.js';
import { FlvTagReader } from './flv-tag-reader.js';
import { KeyframeMarker, isAvcVideoBody, type ScheduledMarkResult } from './keyframe-marks.js';
import { silentAudioFor, type SilentAudio } from './input-outage-fill.js';
import type { InputRole } from './ingest-feed.js';

/**
 * The input selector: one continuous FLV stream for the transcoder, made from a channel's primary
 * input, its backup input and a looped slate, so that a switch between them never restarts the
 * encoder (no new run, no discontinuity in the playlists: the ladder's output timeline simply goes on).
 *
 * - Every input is read all the time (its FLV bytes cut back into tags): the selector always knows
 *   each input's health and holds its latest GOP (from its last video keyframe), so a switch starts
 *   the new input at a keyframe, after its sequence headers, without waiting for the next one.
 * - The output timeline follows the wall clock. It is anchored to the clock at the first selection
 *   (`wallOut(t)`: the output time that wall-clock instant t stands for), and every switch places
 *   the new input so that its live edge lands at the wall-clock position of its arrival — never
 *   ahead of it. A cached keyframe older than the outage cannot go where it would belong (before the
 *   last output): its GOP up to the live edge is then packed into a few milliseconds after the
 *   switch point (decoded, since the later frames need it, but mostly dropped by the encoder's
 *   constant-frame-rate output) rather than pushed after the last output, which used to move the
 *   timeline ahead of the clock by up to one GOP per switch. The encoder's input timeline stays
 *   continuous; the constant-frame-rate output fills an outage by repeating the last frame, and the
 *   packager's PROGRAM-DATE-TIME (the run's anchor plus media time; each output stream is stamped
 *   with the wall-clock time its first frame stands for) follows the clock.
 * - Switches land on the encoder's keyframe cadence. With `keyframeIntervalMs` (the ladder's GOP:
 *   `-force_key_frames expr:gte(t,n_forced*GOP)`, t counted from the start of the run's input), the
 *   first frame of the new selection goes exactly on a forced-keyframe time of the output timeline,
 *   so the encoder emits a keyframe — and a segment boundary — at the first frame of the new input.
 *   The switch point is the forced-keyframe time after the last output that is not ahead of the
 *   clock; when there is none yet, the switch waits for the clock to reach the next one (at most
 *   one GOP): the old input (failback, operator) or the slate plays on until then, and after a lost
 *   input the output is filled up to it (`fillOutage`: the old input's last keyframe repeated and
 *   silent audio), so that the encoder's output keeps moving with the clock and has no audio hole.
 * - With `keyframeMarks` (the ladder's `keyframes: marked`: the encoder forces a keyframe on every
 *   frame its decoder flags as one, `-force_key_frames source`), there is no grid to wait for: a
 *   switch is made at once, as without `keyframeIntervalMs` — its first frame, the new input's IDR
 *   (or the slate's), becomes the output's keyframe — and the selector itself marks the first frame
 *   at or after each GOP grid point of the run (`keyframe-marks.ts`: an H.264 recovery point SEI),
 *   so that the packager's segment boundaries still find their keyframes. `markNextFrame()` makes
 *   the next frame written a keyframe (the hook for an ad splice).
 * - The slate is a short pre-encoded clip (one GOP of a card, H.264, see `slate-clip.ts`) whose video
 *   frames are looped, and a silent AAC frame repeated, paced by the wall clock: almost no CPU.
 * - Health: an input is healthy when it is connected, has a keyframe cached and delivered video in
 *   the last `inputLossMs`. Automatic choice: the active input while healthy; else primary, backup,
 *   slate in that order. A backup in use hands back to the primary once the primary has been healthy
 *   for `failbackMs` (`failback: 'auto'`), or only on `force('primary')` (`'manual'`). A forced input
 *   stays until it is lost (then the automatic choice applies again); a forced slate stays until
 *   another force.
 *
 * No processes and no sockets: Readables of FLV bytes in, Readables out; the clock is injected and
 * `tick()` may be driven by the caller (tests) instead of the internal timer.
 */

export type { InputRole };
export type SelectedInput = InputRole | 'slate';
export type FailbackMode = 'auto' | 'manual';

export interface InputSwitch {
  from: SelectedInput | 'none';
  to: SelectedInput;
  /** `input-lost`, `input-ended`, `failback`, `input-returned`, `operator`, `first-input`. */
  reason: string;
  /** Wall-clock ms of the switch. */
  at: number;
  /** Wall-clock ms when the previous selection last delivered a video frame (benchmarks: switch latency). */
  lastFrameAt?: number;
  /** Output timestamp (ms, FLV timeline) of the new selection's first frame: the switch point. */
  point?: number;
}

/** A slate clip cut into tags (see `slate-clip.ts`). */
export interface SlateClip {
  videoSequenceHeader: FlvTag;
  audioSequenceHeader?: FlvTag;
  /** The clip's video frames in decode order, the first a keyframe; looped. */
  videoFrames: Buffer[];
  /** One silent AAC frame body, repeated. */
  audioFrame?: Buffer;
  /** Video frame interval, ms. */
  frameMs: number;
  /** Audio frame duration, ms (1024 / sample rate). */
  audioFrameMs: number;
  width: number;
  height: number;
}

export interface InputHealth {
  role: InputRole;
  connected: boolean;
  healthy: boolean;
  /** Ms since the input's last video frame; absent before the first. */
  lastVideoAgeMs?: number;
  /** Times this input became the active one. */
  activations: number;
}

export interface InputSelectorStatus {
  active: SelectedInput | 'none';
  forced?: SelectedInput;
  failback: FailbackMode;
  inputs: InputHealth[];
  /** Switches since the selector started (the first selection not counted). */
  switches: number;
  slateReady: boolean;
  /** A switch decided and waiting for its switch point (the next forced-keyframe time), if any. */
  pending?: SelectedInput;
}

export interface InputSelectorOptions {
  /** No video from the active input for this long: switch. Default 700 ms. */
  inputLossMs?: number;
  failback?: FailbackMode;
  /** With `failback: 'auto'`: the primary must be healthy this long before the switch back. Default 5 000 ms. */
  failbackMs?: number;
  now?: () => number;
  onSwitch?: (event: InputSwitch) => void;
  /** Health check and slate pacing interval; default 20 ms. 0: no timer (the caller calls `tick()`). */
  tickMs?: number;
  /** Most unread bytes a consumer may hold before it is ended (a stuck transcoder); default 32 MiB. */
  maxConsumerBufferBytes?: number;
  /** Most bytes of an input's GOP kept; default 16 MiB (a larger GOP is not cached). */
  maxGopBytes?: number;
  /**
   * The encoder's forced-keyframe interval (the ladder's GOP, ms), if switches should land on it;
   * settable later (`keyframeIntervalMs`). Without it a switch happens at once, wherever it falls.
   */
  keyframeIntervalMs?: number;
  /**
   * The encoder keys on marked frames (`-force_key_frames source`): switches are made at once and
   * the selector marks the grid (see the module comment); settable later (`keyframeMarks`). Default false.
   */
  keyframeMarks?: boolean;
  /**
   * The ladder's frame-rate cap (`frameRate: { cap }`), if it has one; settable later (`frameRateCap`).
   * With `keyframeMarks`: the encoder's output frame interval is then up to 1000/cap ms, however fast
   * the input (see `markSwitchSlot`).
   */
  frameRateCap?: number;
}

const DEFAULT_INPUT_LOSS_MS = 700;
const DEFAULT_FAILBACK_MS = 5000;
/** Frame interval when nothing better is known: one frame at 30 fps. */
const DEFAULT_STEP_MS = 33;
/** An active input's timestamps going back more than this, or ahead of the wall clock by more than that, is a jump. */
const MAX_BACKWARD_MS = 500;
const MAX_FORWARD_GAP_MS = 3000;

interface InputState {
  role: InputRole;
  reader: FlvTagReader;
  stream: Readable;
  connected: boolean;
  videoSequenceHeader?: FlvTag;
  audioSequenceHeader?: FlvTag;
  /** Tags since the latest keyframe (the keyframe first). */
  gop: FlvTag[];
  gopBytes: number;
  lastVideoAt?: number;
  lastVideoTs?: number;
  /** The input's video frame interval, ms, from its timestamps. */
  frameMs: number;
  healthySince?: number;
  activations: number;
}

interface Consumer {
  stream: Readable;
  /** Drops video until a keyframe (a consumer that joined between keyframes). */
  needsKeyframe: boolean;
  /** PTS of the first video frame and timestamp of the first audio frame written: the run's start time. */
  firstVideoPts?: number;
  firstAudioTs?: number;
}

interface PendingSwitch {
  target: SelectedInput;
  reason: string;
  /** The switch point: output time of the new selection's first frame (a forced-keyframe time). */
  point: number;
}

export class InputSelector {
  private readonly inputs = new Map<InputRole, InputState>();
  private readonly consumers = new Set<Consumer>();
  private active: SelectedInput | undefined;
  private forced: SelectedInput | undefined;
  private pending: PendingSwitch | undefined;
  private slate: SlateClip | undefined;
  private switchCount = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly now: () => number;
  private readonly inputLossMs: number;
  private readonly failbackMs: number;
  private readonly maxConsumerBytes: number;
  private readonly maxGopBytes: number;
  failback: FailbackMode;
  /** The encoder's forced-keyframe interval, ms (see the module comment); undefined: switch at once. */
  keyframeIntervalMs: number | undefined;
  /** The encoder keys on marked frames (see the module comment). */
  keyframeMarks: boolean;
  /** The ladder's frame-rate cap, fps (see `InputSelectorOptions.frameRateCap`). */
  frameRateCap: number | undefined;
  /** Marks the output's frames while `keyframeMarks` is on (created with the first frame written then). */
  private marker: KeyframeMarker | undefined;
  /** The last video sequence header written (a marker created later learns the NAL length size from it). */
  private lastVideoSequenceHeader: Buffer | undefined;
  /** The output's video is H.264, by its last sequence header (until one is written: assumed, as marks need it). */
  private outputVideoAvc = true;

  // The output timeline.
  /** Output time ↔ wall clock: output time `out` stands for wall-clock instant `at`. Set at the first selection. */
  private anchor: { out: number; at: number } | undefined;
  /**
   * Whether a run's packager has read the anchor (its PROGRAM-DATE-TIME stamp): until then a frame
   * of the active input arriving ahead of the anchor moves it (a source's start-up burst — ffmpeg's
   * remux of an SRT feed writes its probed seconds at once — is not ahead of the clock but late).
   */
  private anchorRead = false;
  /** Added to the active input's timestamps. */
  private offset = 0;
  /** Output timestamp of the switch point: the active input's audio before it is dropped. */
  private switchOut = 0;
  private lastVideoOut = -1;
  /** Largest presentation time of a video frame written. */
  private lastVideoPts = -1;
  private lastAudioOut = -1;
  /** Wall-clock time the active selection last delivered a video frame. */
  private lastFrameAt: number | undefined;
  /** The active input's frame interval when it was selected, ms. */
  private activeFrameMs = DEFAULT_STEP_MS;
  /** The consumer whose run's start time defines the forced-keyframe grid (the newest). */
  private gridConsumer: Consumer | undefined;
  // While a switch after a loss waits for its point (`fillOutage`): the last keyframe of an input
  // written (repeated), the audio stream's silence (from its last sequence header written), and the
  // output time of the next silent frame (fractional: AAC frames are not whole milliseconds).
  private fillKeyframe: FlvTag | undefined;
  private silence: SilentAudio | undefined;
  private nextSilenceOut: number | undefined;
  /**
   * A filler keyframe was written since the active input's last frame: should that input come back
   * before the switch (a stall shorter than the wait), its frames wait for its next keyframe — its
   * inter frames refer to pictures the decoder no longer holds after the filler.
   */
  private activeNeedsKeyframe = false;
  // Slate pacing: output time of slate frame 0; frames written so far.
  private slateStartOut = 0;
  private slateVideoFrames = 0;
  private slateAudioFrames = 0;

  constructor(private readonly options: InputSelectorOptions = {}) {
    this.now = options.now ?? Date.now;
    this.inputLossMs = options.inputLossMs ?? DEFAULT_INPUT_LOSS_MS;
    this.failbackMs = options.failbackMs ?? DEFAULT_FAILBACK_MS;
    this.failback = options.failback ?? 'auto';
    this.maxConsumerBytes = options.maxConsumerBufferBytes ?? 32 * 1024 * 1024;
    this.maxGopBytes = options.maxGopBytes ?? 16 * 1024 * 1024;
    this.keyframeIntervalMs = options.keyframeIntervalMs;
    this.keyframeMarks = options.keyframeMarks ?? false;
    this.frameRateCap = options.frameRateCap;
    const tickMs = options.tickMs ?? 20;
    if (tickMs > 0) {
      this.timer = setInterval(() => this.tick(), tickMs);
      this.timer.unref();
    }
  }

  /** The active selection (`undefined` before the first input or slate). */
  get selected(): SelectedInput | undefined {
    return this.active;
  }

  /** Whether `role` is attached and has not ended. */
  connected(role: InputRole): boolean {
    return this.inputs.get(role)?.connected ?? false;
  }

  /** The slate to fall back to when no input is healthy (none until set: the selector then holds the last frame). */
  setSlate(clip: SlateClip): void {
    this.slate = clip;
    this.tick();
  }

  get slateReady(): boolean {
    return this.slate !== undefined;
  }

  /** The output time that wall-clock instant `at` stands for (undefined before the first selection). */
  wallOut(at: number = this.now()): number | undefined {
    return this.anchor === undefined ? undefined : this.anchor.out + (at - this.anchor.at);
  }

  /** Largest output timestamp of a video frame written so far (-1 before the first). */
  get lastVideoTimestamp(): number {
    return this.lastVideoOut;
  }

  /** With `keyframeMarks`: the next video frame written becomes a keyframe of the output. */
  markNextFrame(): void {
    this.markerNow()?.markNext();
  }

  /**
   * With `keyframeMarks`: the first video frame written at or after the output time of wall-clock
   * instant `at` (`wallOut(at)`; one already past: the next frame) becomes a keyframe of the output,
   * when it is written (an ad splice). `done` gets its time in the newest run's media timeline (ms
   * from that run's start, where ffmpeg counts its time from: the packager dates that run's media time
   * 0 at the same wall-clock instant, see `open`) and whether it was keyed. Returns false (nothing
   * scheduled) without `keyframeMarks`.
   */
  markFrameAt(at: number, done: (result: ScheduledMarkResult & { mediaMs: number }) => void): boolean {
    const marker = this.markerNow();
    if (marker === undefined) return false;
    marker.markAt(this.wallOut(at) ?? Number.NEGATIVE_INFINITY, (result) => {
      const start = this.gridConsumer === undefined ? undefined : runStart(this.gridConsumer);
      done({ ...result, mediaMs: result.pts - (start ?? result.pts) });
    });
    return true;
  }

  /** Reads `source` (FLV bytes from a keyframe, e.g. `IngestFeed.open()`) as input `role`, replacing any previous one. */
  attach(role: InputRole, source: Readable): void {
    if (this.closed) {
      source.destroy();
      return;
    }
    this.detach(role);
    const input: InputState = { role, reader: new FlvTagReader(), stream: source, connected: true, gop: [], gopBytes: 0, frameMs: DEFAULT_STEP_MS, activations: 0 };
    this.inputs.set(role, input);
    source.on('data', (chunk: Buffer) => {
      if (this.inputs.get(role) !== input) return;
      let tags: FlvTag[];
      try {
        tags = input.reader.push(chunk);
      } catch {
        this.detach(role);
        return;
      }
      for (const tag of tags) this.onInputTag(input, tag);
    });
    const ended = () => {
      if (this.inputs.get(role) === input) this.detach(role);
    };
    source.once('end', ended);
    source.once('close', ended);
    source.on('error', ended);
  }

  /** Stops reading input `role` (its publisher left); a switch away is decided at once if it was active. */
  detach(role: InputRole): void {
    const input = this.inputs.get(role);
    if (input === undefined) return;
    this.inputs.delete(role);
    input.connected = false;
    input.stream.destroy();
    if (this.active === role || this.pending?.target === role) this.decide('input-ended');
  }

  /**
   * An operator's choice. An input must be healthy (else a `Error` naming why); the slate needs a
   * slate clip. Returns the resulting status (the switch may be `pending` until its switch point).
   */
  force(target: SelectedInput): InputSelectorStatus {
    if (target === 'slate') {
      if (this.slate === undefined) throw new Error('no slate is ready yet');
    } else if (!this.healthy(this.inputs.get(target))) {
      throw new Error(`input ${target} is not healthy (${this.inputs.has(target) ? 'no video recently' : 'not connected'})`);
    }
    this.forced = target;
    this.requestSwitch(target, 'operator');
    return this.status();
  }

  /** A new output stream for a transcoder run: FLV header, the active selection's sequence headers and GOP, then live. */
  open(): Readable {
    const stream = new Readable({ read() {} });
    const consumer: Consumer = { stream, needsKeyframe: true };
    if (this.closed) {
      stream.push(null);
      return stream;
    }
    stream.push(flvFileHeader(true, true));
    this.consumers.add(consumer);
    this.gridConsumer = consumer;
    stream.once('close', () => {
      this.consumers.delete(consumer);
      if (this.gridConsumer === consumer) this.gridConsumer = undefined;
    });
    // The packager anchors PROGRAM-DATE-TIME on this: the wall-clock instant the run's first frame stands for.
    stampFirstFrameArrival(stream, () => {
      const start = runStart(consumer);
      if (start === undefined || this.anchor === undefined) return this.now();
      this.anchorRead = true;
      return this.anchor.at + (start - this.anchor.out);
    });
    const active = this.active;
    if (active === 'slate' && this.slate !== undefined) {
      const at = this.nextSlateVideoOut();
      this.write([consumer], { ...this.slate.videoSequenceHeader, timestamp: at });
      if (this.slate.audioSequenceHeader !== undefined) this.write([consumer], { ...this.slate.audioSequenceHeader, timestamp: at });
    } else if (active !== undefined && active !== 'slate') {
      const input = this.inputs.get(active);
      const first = input?.gop[0];
      if (input !== undefined && first !== undefined) {
        const at = Math.max(0, first.timestamp + this.offset);
        if (input.videoSequenceHeader !== undefined) this.write([consumer], { ...input.videoSequenceHeader, timestamp: at });
        if (input.audioSequenceHeader !== undefined) this.write([consumer], { ...input.audioSequenceHeader, timestamp: at });
        for (const tag of input.gop) {
          const out = tag.timestamp + this.offset;
          if (out < at) continue;
          this.write([consumer], { ...tag, timestamp: out });
        }
      }
    }
    return stream;
  }

  status(): InputSelectorStatus {
    const now = this.now();
    const inputs: InputHealth[] = (['primary', 'backup'] as const).flatMap((role) => {
      const input = this.inputs.get(role);
      if (input === undefined) return [];
      return [
        {
          role,
          connected: input.connected,
          healthy: this.healthy(input),
          ...(input.lastVideoAt !== undefined ? { lastVideoAgeMs: now - input.lastVideoAt } : {}),
          activations: input.activations,
        },
      ];
    });
    return {
      active: this.active ?? 'none',
      ...(this.forced !== undefined ? { forced: this.forced } : {}),
      failback: this.failback,
      inputs,
      switches: this.switchCount,
      slateReady: this.slate !== undefined,
      ...(this.pending !== undefined ? { pending: this.pending.target } : {}),
    };
  }

  /** Health checks, automatic switches, due switch points and slate pacing; called every `tickMs`. */
  tick(): void {
    if (this.closed) return;
    const now = this.now();
    for (const input of this.inputs.values()) {
      if (this.healthy(input)) input.healthySince ??= now;
      else input.healthySince = undefined;
    }
    this.decide(this.active === undefined ? 'first-input' : 'input-lost');
    this.commitIfDue();
    if (this.active === 'slate') this.paceSlate();
    else this.fillOutage();
  }

  /** Ends every output and stops reading the inputs. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    for (const input of this.inputs.values()) input.stream.destroy();
    this.inputs.clear();
    for (const c of this.consumers) c.stream.push(null);
    this.consumers.clear();
  }

  private healthy(input: InputState | undefined): boolean {
    if (input === undefined || !input.connected || input.gop.length === 0 || input.lastVideoAt === undefined) return false;
    return this.now() - input.lastVideoAt <= this.inputLossMs;
  }

  /**
   * Whether a pending switch to `input` still stands: it was healthy when the switch was decided and
   * has not been silent for longer than `inputLossMs` plus the wait for the switch point (one
   * keyframe interval). Not `healthy`: a source that delivers in bursts (a pulled HLS stream: one
   * segment at a time, a segment per GOP) is healthy for `inputLossMs` after each burst and not in
   * between, and a switch point one GOP on falls at the same phase of that cycle every time — the
   * switch was dropped at every point and decided again at every burst, pending for good.
   */
  private viable(input: InputState | undefined): boolean {
    if (input === undefined || !input.connected || input.gop.length === 0 || input.lastVideoAt === undefined) return false;
    return this.now() - input.lastVideoAt <= this.inputLossMs + (this.keyframeIntervalMs ?? 0);
  }

  /** Whether the pending switch goes to an input that still stands (see `viable`). */
  private pendingInputStands(): boolean {
    const target = this.pending?.target;
    return target !== undefined && target !== 'slate' && this.viable(this.inputs.get(target));
  }

  /** The selection rules of the module comment; asks for a switch when they pick another. */
  private decide(lostReason: string): void {
    const now = this.now();
    const primary = this.inputs.get('primary');
    const backup = this.inputs.get('backup');
    if (this.forced !== undefined && this.forced !== 'slate' && !this.healthy(this.inputs.get(this.forced))) this.forced = undefined;
    if (this.forced !== undefined) {
      this.requestSwitch(this.forced, 'operator');
      return;
    }
    const current = this.active;
    if (current === 'primary' || current === 'backup') {
      if (this.healthy(this.inputs.get(current))) {
        const primaryHealthyFor = primary?.healthySince !== undefined ? now - primary.healthySince : 0;
        if (current === 'backup' && this.failback === 'auto' && this.healthy(primary) && primaryHealthyFor >= this.failbackMs) this.requestSwitch('primary', 'failback');
        else this.requestSwitch(current, '');
        return;
      }
    }
    const reason = current === 'slate' ? 'input-returned' : current === undefined ? 'first-input' : lostReason;
    if (this.healthy(primary)) this.requestSwitch('primary', reason);
    else if (this.healthy(backup)) this.requestSwitch('backup', reason);
    else if (this.pendingInputStands()) return; // between two bursts of a pending target: wait for its point
    else if (current !== undefined && current !== 'slate' && this.slate !== undefined) this.requestSwitch('slate', reason);
    else if (this.pending !== undefined && this.pending.target !== 'slate') this.pending = undefined; // its target is lost too
  }

  /**
   * Selects `target`: at once when there is no keyframe grid (or on the first selection), else at
   * the switch point — the forced-keyframe time after the last output that is not ahead of the
   * clock, or, when there is none yet, the next one (the switch then waits for the clock).
   */
  private requestSwitch(target: SelectedInput, reason: string): void {
    if (target === this.active) {
      this.pending = undefined;
      return;
    }
    if (this.pending?.target === target) return;
    if (target === 'slate' ? this.slate === undefined : this.inputs.get(target)?.gop[0] === undefined) return;
    const point = this.switchPoint(target);
    this.pending = undefined;
    if (point === undefined) {
      this.commit(target, reason, undefined);
      return;
    }
    const wall = this.wallOut() ?? point;
    if (point <= wall) this.commit(target, reason, point);
    else this.pending = { target, reason, point };
  }

  /**
   * A pending switch whose point the clock has reached is made; one whose target is no longer
   * healthy is dropped and the choice made again.
   */
  private commitIfDue(): void {
    const pending = this.pending;
    if (pending === undefined) return;
    const wall = this.wallOut();
    if (wall !== undefined && wall < pending.point) return;
    this.pending = undefined;
    if (pending.target === 'slate' || this.viable(this.inputs.get(pending.target))) this.commit(pending.target, pending.reason, pending.point);
    else this.decide('input-lost');
  }

  /** The switch point to `target` on the forced-keyframe grid, or undefined when there is no grid yet (switch at once). */
  private switchPoint(target: SelectedInput): number | undefined {
    const interval = this.keyframeIntervalMs;
    const origin = this.gridConsumer === undefined ? undefined : runStart(this.gridConsumer);
    const wall = this.wallOut();
    if (this.marksInForce || interval === undefined || interval <= 0 || origin === undefined || wall === undefined || this.active === undefined || this.lastVideoPts < 0) return undefined;
    const step = target === 'slate' ? (this.slate?.frameMs ?? DEFAULT_STEP_MS) : (this.inputs.get(target)?.frameMs ?? DEFAULT_STEP_MS);
    // After every frame written (its presentation time), one frame interval on.
    const earliest = Math.max(this.lastVideoPts, this.lastVideoOut) + step;
    const first = origin + Math.ceil((earliest - origin) / interval) * interval;
    // Not reached yet: the switch waits for it (at most one interval). The old input plays up to it
    // (failback, operator), or the slate does, or — after a loss — `fillOutage` keeps the output
    // moving with the clock: the old input's last keyframe repeated, and silence.
    if (first > wall) return first;
    // Grid points in the outage that are not ahead of the clock: the one nearest where the new
    // input's keyframe belongs (no packing, no frozen frame), the latest one for the slate.
    const latest = origin + Math.floor((wall - origin) / interval) * interval;
    const input = target === 'slate' ? undefined : this.inputs.get(target);
    const keyframe = input?.gop[0];
    if (input === undefined || keyframe === undefined || input.lastVideoAt === undefined) return latest;
    const natural = (this.wallOut(input.lastVideoAt) ?? wall) - ((input.lastVideoTs ?? keyframe.timestamp) - keyframe.timestamp);
    const nearest = origin + Math.round((natural - origin) / interval) * interval;
    return Math.min(latest, Math.max(first, nearest));
  }

  /** Makes the switch: the new selection's first frame at `point` (or, without one, where the clock says). */
  private commit(target: SelectedInput, reason: string, point: number | undefined): void {
    const now = this.now();
    const from = this.active;
    const lastFrameAt = this.lastFrameAt;
    // An outage that spans the point (a lost input seen after a grid time): its audio hole is filled
    // up to the point too, as `fillOutage` does while a switch waits.
    if (point !== undefined) this.fillSilence(point - 1);
    // With keyframe marks a switch after a loss is made at once, without a point: the outage's audio
    // hole up to now is filled all the same (hls.js does not skip such a hole, see `fillOutage`).
    else if (this.marksInForce && target !== 'slate') this.fillSilence((this.wallOut(now) ?? 0) - 1);
    this.nextSilenceOut = undefined;
    this.activeNeedsKeyframe = false;
    if (target === 'slate') {
      const slate = this.slate;
      if (slate === undefined) return;
      this.active = 'slate';
      // With keyframe marks: right after the last output (see `placeInput`); the slate's pacing then fills up to the clock.
      this.slateStartOut = point ?? (this.marksInForce && this.lastVideoPts >= 0 ? this.lastVideoPts + slate.frameMs : Math.max(this.lastVideoPts + slate.frameMs, this.wallOut(now) ?? 0));
      this.anchor ??= { out: this.slateStartOut, at: now };
      this.slateVideoFrames = 0;
      this.slateAudioFrames = 0;
      this.switchOut = this.slateStartOut;
      this.writeAll({ ...slate.videoSequenceHeader, timestamp: this.slateStartOut });
      if (slate.audioSequenceHeader !== undefined) this.writeAll({ ...slate.audioSequenceHeader, timestamp: this.slateStartOut });
      this.markSwitchSlot(this.slateStartOut, slate.frameMs);
      this.paceSlate();
    } else {
      const input = this.inputs.get(target);
      const keyframe = input?.gop[0];
      if (input === undefined || keyframe === undefined) return;
      this.active = target;
      input.activations += 1;
      if (this.anchor === undefined) this.startTimeline(input);
      else this.placeInput(input, point, now);
    }
    const event: InputSwitch = {
      from: from ?? 'none',
      to: target,
      reason,
      at: now,
      point: target === 'slate' ? this.slateStartOut : this.switchOut,
      ...(lastFrameAt !== undefined && from !== undefined ? { lastFrameAt } : {}),
    };
    if (from !== undefined) this.switchCount += 1;
    this.options.onSwitch?.(event);
  }

  /** The first selection: the input's own timeline, anchored to the clock at its live edge. */
  private startTimeline(input: InputState): void {
    const keyframe = input.gop[0]!;
    this.offset = 0;
    this.activeFrameMs = input.frameMs;
    this.switchOut = keyframe.timestamp;
    this.anchor = { out: input.lastVideoTs ?? keyframe.timestamp, at: input.lastVideoAt ?? this.now() };
    this.writeHeaders(input, keyframe.timestamp);
    for (const tag of input.gop) this.forward(tag, true);
  }

  /**
   * A switch to `input`: its keyframe at the switch point `point` (or, without one, where it belongs
   * on the clock but after the last output), its live edge where the clock says it arrived. Cached
   * frames that would fall before the keyframe's place are packed 1 ms apart after it (their
   * CompositionTime scaled alike, so their presentation order holds); their audio is dropped.
   */
  private placeInput(input: InputState, point: number | undefined, now: number): void {
    const gop = input.gop;
    const keyframe = gop[0]!;
    const liveEdgeTs = input.lastVideoTs ?? keyframe.timestamp;
    const natural = (this.wallOut(input.lastVideoAt ?? now) ?? 0) - liveEdgeTs;
    const afterLast = Math.max(this.lastVideoPts, this.lastVideoOut) + input.frameMs;
    // With keyframe marks the keyframe goes right after the last output, never after a gap: ffmpeg
    // 5.1's constant-frame-rate output fills a gap by repeating the previous frame first, and
    // `-force_key_frames source` keys a frame only when it is the first of its output step — so a
    // keyframe after a gap (the outage) would not be keyed. The outage shows the new input's first picture.
    const start = point ?? (this.marksInForce ? afterLast : Math.max(afterLast, keyframe.timestamp + natural));
    this.switchOut = start;
    this.writeHeaders(input, start);
    // The keyframe shows at the switch point exactly: its CompositionTime is dropped (an IDR comes first in its GOP).
    this.writeVideo({ ...keyframe, timestamp: start, body: withVideoCompositionTime(keyframe.body, 0) });
    this.markSwitchSlot(start, input.frameMs);
    let dts = start;
    for (const tag of gop.slice(1)) {
      const out = tag.timestamp + natural;
      if (tag.type !== FlvTagType.Video) {
        if (tag.type === FlvTagType.Audio && classifyFlvTag(tag.type, tag.body) === 'audio-frame' && out >= start && out > this.lastAudioOut) {
          this.lastAudioOut = out;
          this.writeAll({ ...tag, timestamp: out });
        }
        continue;
      }
      const kind = classifyFlvTag(tag.type, tag.body);
      if (kind !== 'video-frame' && kind !== 'video-keyframe') continue;
      if (out > dts) {
        dts = out;
        this.writeVideo({ ...tag, timestamp: dts });
      } else {
        dts += 1;
        // With keyframe marks: the encoder's constant-frame-rate output keeps one of these packed
        // frames per output slot, not necessarily the keyframe — each is marked, so the one kept is keyed.
        this.markerNow()?.markNext();
        const cts = Math.round(videoCompositionTime(tag.body) / Math.max(1, input.frameMs));
        this.writeVideo({ ...tag, timestamp: dts, body: withVideoCompositionTime(tag.body, cts) });
      }
    }
    // Live frames go on at their place on the clock; until that passes the packed frames, they are
    // packed after them too (`forward`), rather than moving the input ahead of the clock.
    this.offset = natural;
    this.activeFrameMs = input.frameMs;
    this.lastFrameAt = now;
  }

  private writeHeaders(input: InputState, at: number): void {
    if (input.videoSequenceHeader !== undefined) this.writeAll({ ...input.videoSequenceHeader, timestamp: at });
    if (input.audioSequenceHeader !== undefined) this.writeAll({ ...input.audioSequenceHeader, timestamp: at });
  }

  private onInputTag(input: InputState, tag: FlvTag): void {
    const kind = classifyFlvTag(tag.type, tag.body);
    const now = this.now();
    switch (kind) {
      case 'metadata':
        return; // the transcoder learns the streams from the FLV header and the sequence headers
      case 'video-sequence-header':
        input.videoSequenceHeader = tag;
        break;
      case 'audio-sequence-header':
        input.audioSequenceHeader = tag;
        break;
      case 'video-keyframe':
        input.gop = [tag];
        input.gopBytes = tag.body.length;
        this.onInputVideo(input, tag, now);
        break;
      default:
        if (input.gop.length > 0) {
          input.gop.push(tag);
          input.gopBytes += tag.body.length;
          if (input.gopBytes > this.maxGopBytes) {
            input.gop = [];
            input.gopBytes = 0;
          }
        }
        if (tag.type === FlvTagType.Video) this.onInputVideo(input, tag, now);
    }
    if (this.active === input.role) {
      // The old input plays on up to a pending switch point, not past it (an input ahead of the
      // clock loses those frames: the switch is made when the clock gets there).
      if (this.pending !== undefined && (kind === 'video-keyframe' || kind === 'video-frame' || kind === 'audio-frame')) {
        const at = tag.timestamp + this.offset + (tag.type === FlvTagType.Video ? videoCompositionTime(tag.body) : 0);
        if (at >= this.pending.point) {
          this.commitIfDue();
          return;
        }
      }
      this.forward(tag, false);
    } else if (this.active === undefined || this.active === 'slate' || this.pending?.target === input.role) this.tick();
  }

  private onInputVideo(input: InputState, tag: FlvTag, now: number): void {
    const delta = input.lastVideoTs === undefined ? 0 : tag.timestamp - input.lastVideoTs;
    if (delta > 0 && delta < 200) input.frameMs = delta;
    input.lastVideoAt = now;
    input.lastVideoTs = tag.timestamp;
  }

  /** Writes an active input's tag on the output timeline (`replay`: its cached GOP, written in one burst). */
  private forward(tag: FlvTag, replay: boolean): void {
    let out = tag.timestamp + this.offset;
    if (tag.type === FlvTagType.Audio) {
      const kind = classifyFlvTag(tag.type, tag.body);
      if (kind === 'audio-frame') {
        if (out < this.switchOut || out <= this.lastAudioOut) return; // before the switch point, or out of order
        // Far ahead of the clock (an input whose audio runs on another timeline than its video: a
        // pulled HLS source's separate audio rendition): dropped, or the output's audio would stop
        // for good after the next switch, every later frame "out of order" behind this one.
        const wall = this.wallOut();
        if (wall !== undefined && this.lastVideoOut >= 0 && out > Math.max(wall, this.lastVideoOut) + MAX_FORWARD_GAP_MS) return;
        this.lastAudioOut = out;
      } else {
        out = Math.max(out, this.switchOut);
      }
    } else if (tag.type === FlvTagType.Video) {
      const kind = classifyFlvTag(tag.type, tag.body);
      if (kind === 'video-keyframe' || kind === 'video-frame') {
        if (this.activeNeedsKeyframe && kind === 'video-frame') return;
        this.activeNeedsKeyframe = false;
        // The active input's own timeline jumped (a pulled HLS source across a discontinuity, an
        // encoder restarting its clock): re-anchor it where the wall clock says, as on a switch.
        const wall = this.wallOut();
        if (!replay && wall !== undefined && this.lastVideoOut >= 0 && (out < this.lastVideoOut - MAX_BACKWARD_MS || out > wall + MAX_FORWARD_GAP_MS)) {
          const shift = Math.max(this.lastVideoOut + DEFAULT_STEP_MS, wall) - out;
          this.offset += shift;
          this.switchOut = out + shift;
          out += shift;
        }
        if (out <= this.lastVideoOut) {
          // Packed after frames already written (a switch's packed GOP): CompositionTime scaled alike.
          out = this.lastVideoOut + 1;
          tag = { ...tag, body: withVideoCompositionTime(tag.body, Math.round(videoCompositionTime(tag.body) / Math.max(1, this.activeFrameMs))) };
        }
        if (!replay && !this.anchorRead && wall !== undefined && out > wall) this.anchor = { out, at: this.now() };
        this.writeVideo({ ...tag, timestamp: out });
        return;
      }
      out = Math.max(out, this.switchOut);
    }
    this.writeAll({ ...tag, timestamp: out });
  }

  private writeVideo(tag: FlvTag, filler = false): void {
    const marker = this.markerNow();
    if (marker !== undefined) {
      const origin = this.gridConsumer === undefined ? undefined : runStart(this.gridConsumer);
      // A source keyframe is one of the encoder's output on H.264 only (`isAvcVideoBody`).
      const keyframe = classifyFlvTag(tag.type, tag.body) === 'video-keyframe' && isAvcVideoBody(tag.body);
      // PTS and DTS (the tag timestamp): with B-frames, tags come in decode order (`KeyframeMarker`).
      tag = { ...tag, body: marker.onFrame(tag.body, tag.timestamp + videoCompositionTime(tag.body), keyframe, origin, tag.timestamp) };
    }
    this.lastVideoOut = Math.max(this.lastVideoOut, tag.timestamp);
    this.lastVideoPts = Math.max(this.lastVideoPts, tag.timestamp + videoCompositionTime(tag.body));
    if (!filler) this.lastFrameAt = this.now();
    if (this.active !== 'slate' && classifyFlvTag(tag.type, tag.body) === 'video-keyframe') this.fillKeyframe = tag;
    this.writeAll(tag);
  }

  /**
   * While a switch after a lost input waits for its point: the output up to the clock (not past the
   * point), so that the encoder's output keeps up with the clock and the player's buffer does not
   * run dry — silent audio from the old input's last audio frame on (no hole in the audio output:
   * hls.js does not skip one, see `input-outage-fill.ts`), and the old input's last keyframe
   * repeated once a frame interval is due (the picture freezes there; the constant-frame-rate
   * encoder output repeats it between). The switch point then gets the new input's first frame as
   * planned: a keyframe of the output, the first of a segment.
   */
  private fillOutage(): void {
    const pending = this.pending;
    const active = this.active;
    if (pending === undefined || active === undefined || active === 'slate' || this.healthy(this.inputs.get(active))) return;
    const wall = this.wallOut();
    if (wall === undefined) return;
    this.fillSilence(Math.min(wall, pending.point - 1));
    // Video a whole frame before the point at most: a filler the encoder's constant-frame-rate output
    // rounds onto the grid time would take the forced keyframe from the new input's first frame.
    const keyframe = this.fillKeyframe;
    const step = Math.max(1, this.activeFrameMs);
    const last = Math.max(this.lastVideoPts, this.lastVideoOut);
    const videoDue = Math.min(wall, pending.point - step);
    if (keyframe !== undefined && last >= 0 && last + step <= videoDue) {
      const frames = Math.floor((videoDue - last) / step);
      this.writeVideo({ ...keyframe, timestamp: Math.round(last + frames * step), body: withVideoCompositionTime(keyframe.body, 0) }, true);
      this.activeNeedsKeyframe = true;
    }
  }

  /** Silent audio frames from the last audio frame written up to output time `due` (none without a silent frame for the stream). */
  private fillSilence(due: number): void {
    const silence = this.silence;
    if (silence === undefined || this.lastAudioOut < 0) return;
    if (this.nextSilenceOut === undefined || this.nextSilenceOut <= this.lastAudioOut) this.nextSilenceOut = this.lastAudioOut + silence.frameMs;
    for (; this.nextSilenceOut <= due; this.nextSilenceOut += silence.frameMs) {
      const out = Math.round(this.nextSilenceOut);
      if (out <= this.lastAudioOut) continue;
      this.lastAudioOut = out;
      this.writeAll({ type: FlvTagType.Audio, timestamp: out, body: silence.body });
    }
  }

  /** Writes the slate frames the clock has reached (video looped from the clip, audio a repeated silent frame), not past a pending switch point. */
  private paceSlate(): void {
    const slate = this.slate;
    if (slate === undefined || slate.videoFrames.length === 0) return;
    const wall = this.wallOut() ?? this.slateStartOut;
    const due = this.pending === undefined ? wall : Math.min(wall, this.pending.point - 1);
    for (;;) {
      const videoOut = Math.round(this.slateStartOut + this.slateVideoFrames * slate.frameMs);
      const audioOut = Math.round(this.slateStartOut + this.slateAudioFrames * slate.audioFrameMs);
      const audioDue = slate.audioFrame !== undefined && audioOut <= due;
      if (videoOut > due && !audioDue) break;
      if (videoOut <= due && (!audioDue || videoOut <= audioOut)) {
        const body = slate.videoFrames[this.slateVideoFrames % slate.videoFrames.length]!;
        this.slateVideoFrames += 1;
        this.writeVideo({ type: FlvTagType.Video, timestamp: Math.max(videoOut, this.lastVideoOut + 1), body });
      } else {
        this.slateAudioFrames += 1;
        if (audioOut <= this.lastAudioOut) continue;
        this.lastAudioOut = audioOut;
        this.writeAll({ type: FlvTagType.Audio, timestamp: audioOut, body: slate.audioFrame! });
      }
    }
  }

  /**
   * With keyframe marks: every frame that may share the encoder's output slot with a switch's first
   * frame (written at `start`) is marked (`KeyframeMarker.markOutputSlot`). The switch's IDR and the
   * packed frames after it were dropped by the `fps` filter for the unmarked live frame that followed
   * them a few ms later in the same slot, and the first keyframe of the new input came with its next
   * IDR (~20 frames later in 3 of 4 e2e runs).
   */
  private markSwitchSlot(start: number, inputFrameMs: number): void {
    this.markerNow()?.markOutputSlot(start, inputFrameMs);
  }

  /**
   * Marks are in force: `keyframeMarks` is on and the output's video is H.264. A run of any other
   * codec is compiled to key on the GOP grid (`markedKeyframesApply`: ffmpeg's HEVC decoder flags
   * IRAP pictures only, and a mark cannot be placed), so the selector then switches on the grid as
   * without marks — switching at once would put the next input's first frame off any keyframe.
   */
  private get marksInForce(): boolean {
    return this.keyframeMarks && this.outputVideoAvc;
  }

  /** The marker while marks are in force with a GOP to mark (its interval kept in step). */
  private markerNow(): KeyframeMarker | undefined {
    const interval = this.keyframeIntervalMs;
    if (!this.marksInForce || interval === undefined) return (this.marker = undefined);
    if (this.marker === undefined) {
      this.marker = new KeyframeMarker(interval);
      if (this.lastVideoSequenceHeader !== undefined) this.marker.onSequenceHeader(this.lastVideoSequenceHeader);
    }
    this.marker.intervalMs = interval;
    const cap = this.frameRateCap;
    this.marker.outputFrameMs = cap !== undefined && cap > 0 ? 1000 / cap : undefined;
    return this.marker;
  }

  /** Output time of the slate's next video frame. */
  private nextSlateVideoOut(): number {
    const slate = this.slate;
    return slate === undefined ? 0 : Math.round(this.slateStartOut + this.slateVideoFrames * slate.frameMs);
  }

  private writeAll(tag: FlvTag): void {
    this.write(this.consumers, tag);
  }

  private write(consumers: Iterable<Consumer>, tag: FlvTag): void {
    const kind = classifyFlvTag(tag.type, tag.body);
    if (kind === 'audio-sequence-header') this.silence = silentAudioFor(tag.body);
    if (kind === 'video-sequence-header') {
      this.lastVideoSequenceHeader = tag.body;
      this.outputVideoAvc = isAvcVideoBody(tag.body);
      this.marker?.onSequenceHeader(tag.body);
    }
    let bytes: Buffer | undefined;
    for (const consumer of consumers) {
      if (consumer.needsKeyframe && (kind === 'video-frame' || kind === 'audio-frame')) continue;
      if (kind === 'video-keyframe') consumer.needsKeyframe = false;
      if (consumer.stream.readableLength > this.maxConsumerBytes) {
        // A transcoder this far behind is stuck: ending its input lets its supervisor restart it.
        consumer.stream.push(null);
        this.consumers.delete(consumer);
        continue;
      }
      if (kind === 'video-keyframe' || kind === 'video-frame') consumer.firstVideoPts ??= tag.timestamp + videoCompositionTime(tag.body);
      else if (kind === 'audio-frame') consumer.firstAudioTs ??= tag.timestamp;
      bytes ??= muxFlvTag(tag);
      consumer.stream.push(bytes);
    }
  }
}

/**
 * Where a run's input starts, as ffmpeg counts it: the smallest first timestamp of its streams (the
 * first video frame's presentation time, the first audio frame's). The forced-keyframe times are
 * this plus multiples of the GOP.
 */
function runStart(consumer: Consumer): number | undefined {
  const { firstVideoPts: video, firstAudioTs: audio } = consumer;
  if (video === undefined) return audio;
  return audio === undefined ? video : Math.min(video, audio);
}
