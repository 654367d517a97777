import { Readable } from 'node:stream';
import { classifyFlvTag, flvFileHeader, muxFlvTag, FlvTagType, type FlvTag } from './flv-tags.js';
import { FlvTagReader } from './flv-tag-reader.js';
import type { InputRole } from './ingest-feed.js';

/**
 * The input selector: one continuous FLV stream for the transcoder, made from a channel's primary
 * input, its backup input and a looped slate, so that a switch between them never restarts the
 * encoder (no new run, no discontinuity in the playlists: the ladder's output timeline simply goes on).
 *
 * - Every input is read all the time (its FLV bytes cut back into tags): the selector always knows
 *   each input's health and holds its latest GOP (from its last video keyframe), so a switch starts
 *   the new input at a keyframe, after its sequence headers, without waiting for the next one.
 * - Timestamps are rebased per input: the new input's keyframe is placed where the output timeline
 *   would be had the media kept flowing in real time (last output timestamp + the wall-clock gap),
 *   minus the age of that keyframe at the live edge, and never before the last output. The encoder's
 *   input timeline therefore stays continuous and follows the wall clock (the packager's
 *   PROGRAM-DATE-TIME is the run's anchor plus media time); the constant-frame-rate output fills the
 *   gap by repeating the last frame.
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
}

const DEFAULT_INPUT_LOSS_MS = 700;
const DEFAULT_FAILBACK_MS = 5000;
/** Placement step when nothing better is known: one frame at 30 fps. */
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
  healthySince?: number;
  activations: number;
}

interface Consumer {
  stream: Readable;
  /** Drops video until a keyframe (a consumer that joined between keyframes). */
  needsKeyframe: boolean;
}

export class InputSelector {
  private readonly inputs = new Map<InputRole, InputState>();
  private readonly consumers = new Set<Consumer>();
  private active: SelectedInput | undefined;
  private forced: SelectedInput | undefined;
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

  // The output timeline.
  /** Added to the active input's timestamps. */
  private offset = 0;
  /** Output timestamp of the switch point: the active input's audio before it is dropped. */
  private switchOut = 0;
  private lastVideoOut = -1;
  private lastAudioOut = -1;
  /** Largest output timestamp and the wall-clock time it was written. */
  private lastOut: number | undefined;
  private lastOutAt = 0;
  /** Wall-clock time the active selection last delivered a video frame. */
  private lastFrameAt: number | undefined;
  /** While a switch writes the new input's cached GOP. */
  private replaying = false;
  // Slate pacing: output time of slate frame 0 and the wall clock then; frames written so far.
  private slateStartOut = 0;
  private slateStartAt = 0;
  private slateVideoFrames = 0;
  private slateAudioFrames = 0;

  constructor(private readonly options: InputSelectorOptions = {}) {
    this.now = options.now ?? Date.now;
    this.inputLossMs = options.inputLossMs ?? DEFAULT_INPUT_LOSS_MS;
    this.failbackMs = options.failbackMs ?? DEFAULT_FAILBACK_MS;
    this.failback = options.failback ?? 'auto';
    this.maxConsumerBytes = options.maxConsumerBufferBytes ?? 32 * 1024 * 1024;
    this.maxGopBytes = options.maxGopBytes ?? 16 * 1024 * 1024;
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

  /** Reads `source` (FLV bytes from a keyframe, e.g. `IngestFeed.open()`) as input `role`, replacing any previous one. */
  attach(role: InputRole, source: Readable): void {
    if (this.closed) {
      source.destroy();
      return;
    }
    this.detach(role);
    const input: InputState = { role, reader: new FlvTagReader(), stream: source, connected: true, gop: [], gopBytes: 0, activations: 0 };
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

  /** Stops reading input `role` (its publisher left); a switch away follows at once if it was active. */
  detach(role: InputRole): void {
    const input = this.inputs.get(role);
    if (input === undefined) return;
    this.inputs.delete(role);
    input.connected = false;
    input.stream.destroy();
    if (this.active === role) this.decide('input-ended');
  }

  /**
   * An operator's choice. An input must be healthy (else a `Error` naming why); the slate needs a
   * slate clip. Returns the resulting status.
   */
  force(target: SelectedInput): InputSelectorStatus {
    if (target === 'slate') {
      if (this.slate === undefined) throw new Error('no slate is ready yet');
    } else if (!this.healthy(this.inputs.get(target))) {
      throw new Error(`input ${target} is not healthy (${this.inputs.has(target) ? 'no video recently' : 'not connected'})`);
    }
    this.forced = target;
    if (this.active !== target) this.switchTo(target, 'operator');
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
    stream.once('close', () => this.consumers.delete(consumer));
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
    };
  }

  /** Health checks, automatic switches and slate pacing; called every `tickMs`. */
  tick(): void {
    if (this.closed) return;
    const now = this.now();
    for (const input of this.inputs.values()) {
      if (this.healthy(input)) input.healthySince ??= now;
      else input.healthySince = undefined;
    }
    this.decide(this.active === undefined ? 'first-input' : 'input-lost');
    if (this.active === 'slate') this.paceSlate(now);
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

  /** The selection rules of the module comment; switches when they pick another. */
  private decide(lostReason: string): void {
    const now = this.now();
    const primary = this.inputs.get('primary');
    const backup = this.inputs.get('backup');
    if (this.forced !== undefined && this.forced !== 'slate' && !this.healthy(this.inputs.get(this.forced))) this.forced = undefined;
    if (this.forced !== undefined) {
      if (this.active !== this.forced) this.switchTo(this.forced, 'operator');
      return;
    }
    const current = this.active;
    if (current === 'primary' || current === 'backup') {
      if (this.healthy(this.inputs.get(current))) {
        const primaryHealthyFor = primary?.healthySince !== undefined ? now - primary.healthySince : 0;
        if (current === 'backup' && this.failback === 'auto' && this.healthy(primary) && primaryHealthyFor >= this.failbackMs) this.switchTo('primary', 'failback');
        return;
      }
    }
    const reason = current === 'slate' ? 'input-returned' : current === undefined ? 'first-input' : lostReason;
    if (this.healthy(primary)) this.switchTo('primary', reason);
    else if (this.healthy(backup)) this.switchTo('backup', reason);
    else if (current !== undefined && current !== 'slate' && this.slate !== undefined) this.switchTo('slate', reason);
  }

  private switchTo(target: SelectedInput, reason: string): void {
    const now = this.now();
    const from = this.active;
    const step = DEFAULT_STEP_MS;
    const gap = this.lastOut === undefined ? 0 : Math.max(0, now - this.lastOutAt);
    if (target === 'slate') {
      const slate = this.slate;
      if (slate === undefined) return;
      this.active = 'slate';
      this.slateStartOut = this.lastOut === undefined ? 0 : this.lastOut + Math.max(slate.frameMs, gap);
      this.slateStartAt = now;
      this.slateVideoFrames = 0;
      this.slateAudioFrames = 0;
      this.writeAll({ ...slate.videoSequenceHeader, timestamp: this.slateStartOut });
      if (slate.audioSequenceHeader !== undefined) this.writeAll({ ...slate.audioSequenceHeader, timestamp: this.slateStartOut });
      this.lastVideoOut = Math.max(this.lastVideoOut, this.slateStartOut - 1);
      this.lastAudioOut = Math.max(this.lastAudioOut, this.slateStartOut - 1);
      this.paceSlate(now);
    } else {
      const input = this.inputs.get(target);
      const keyframe = input?.gop[0];
      if (input === undefined || keyframe === undefined) return;
      const age = Math.max(0, (input.lastVideoTs ?? keyframe.timestamp) - keyframe.timestamp);
      // First selection: keep the input's own timeline. Later: continue ours (see the module comment).
      const at = this.lastOut === undefined ? keyframe.timestamp : Math.max(this.lastOut + step, this.lastOut + gap - age);
      this.active = target;
      input.activations += 1;
      this.offset = at - keyframe.timestamp;
      this.switchOut = at;
      if (input.videoSequenceHeader !== undefined) this.writeAll({ ...input.videoSequenceHeader, timestamp: at });
      if (input.audioSequenceHeader !== undefined) this.writeAll({ ...input.audioSequenceHeader, timestamp: at });
      // The cached GOP arrives in one burst: its timestamps run ahead of the wall clock by design.
      this.replaying = true;
      for (const tag of input.gop) this.forward(tag);
      this.replaying = false;
    }
    const event: InputSwitch = { from: from ?? 'none', to: target, reason, at: now, ...(this.lastFrameAt !== undefined ? { lastFrameAt: this.lastFrameAt } : {}) };
    if (from !== undefined) this.switchCount += 1;
    this.options.onSwitch?.(event);
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
        input.lastVideoAt = now;
        input.lastVideoTs = tag.timestamp;
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
        if (tag.type === FlvTagType.Video) {
          input.lastVideoAt = now;
          input.lastVideoTs = tag.timestamp;
        }
    }
    if (this.active === input.role) this.forward(tag);
    else if (this.active === undefined || this.active === 'slate') this.tick();
  }

  /** Writes an active input's tag on the output timeline. */
  private forward(tag: FlvTag): void {
    let out = tag.timestamp + this.offset;
    if (tag.type === FlvTagType.Audio) {
      const kind = classifyFlvTag(tag.type, tag.body);
      if (kind === 'audio-frame') {
        if (out < this.switchOut || out <= this.lastAudioOut) return; // before the switch point, or out of order
        this.lastAudioOut = out;
      } else {
        out = Math.max(out, this.switchOut);
      }
    } else if (tag.type === FlvTagType.Video) {
      const kind = classifyFlvTag(tag.type, tag.body);
      if (kind === 'video-keyframe' || kind === 'video-frame') {
        // The active input's own timeline jumped (a pulled HLS source across a discontinuity, an
        // encoder restarting its clock): re-anchor it where the wall clock says, as on a switch.
        if (!this.replaying && this.lastFrameAt !== undefined && this.lastVideoOut >= 0) {
          const expected = this.lastVideoOut + (this.now() - this.lastFrameAt);
          if (out < this.lastVideoOut - MAX_BACKWARD_MS || out > expected + MAX_FORWARD_GAP_MS) {
            const shift = Math.max(this.lastVideoOut + DEFAULT_STEP_MS, expected) - out;
            this.offset += shift;
            this.switchOut = out + shift;
            out += shift;
          }
        }
        out = Math.max(out, this.lastVideoOut + 1);
        this.lastVideoOut = out;
        this.lastFrameAt = this.now();
      } else {
        out = Math.max(out, this.switchOut);
      }
    }
    this.writeAll({ ...tag, timestamp: out });
  }

  /** Writes the slate frames due by `now` (video looped from the clip, audio a repeated silent frame). */
  private paceSlate(now: number): void {
    const slate = this.slate;
    if (slate === undefined || slate.videoFrames.length === 0) return;
    const due = this.slateStartOut + (now - this.slateStartAt);
    for (;;) {
      const videoOut = Math.round(this.slateStartOut + this.slateVideoFrames * slate.frameMs);
      const audioOut = Math.round(this.slateStartOut + this.slateAudioFrames * slate.audioFrameMs);
      const audioDue = slate.audioFrame !== undefined && audioOut <= due;
      if (videoOut > due && !audioDue) break;
      if (videoOut <= due && (!audioDue || videoOut <= audioOut)) {
        const body = slate.videoFrames[this.slateVideoFrames % slate.videoFrames.length]!;
        this.slateVideoFrames += 1;
        const out = Math.max(videoOut, this.lastVideoOut + 1);
        this.lastVideoOut = out;
        this.lastFrameAt = now;
        this.writeAll({ type: FlvTagType.Video, timestamp: out, body });
      } else {
        this.slateAudioFrames += 1;
        if (audioOut <= this.lastAudioOut) continue;
        this.lastAudioOut = audioOut;
        this.writeAll({ type: FlvTagType.Audio, timestamp: audioOut, body: slate.audioFrame! });
      }
    }
  }

  /** Output time of the slate's next video frame. */
  private nextSlateVideoOut(): number {
    const slate = this.slate;
    return slate === undefined ? 0 : Math.round(this.slateStartOut + this.slateVideoFrames * slate.frameMs);
  }

  private writeAll(tag: FlvTag): void {
    if (this.lastOut === undefined || tag.timestamp >= this.lastOut) {
      this.lastOut = tag.timestamp;
      this.lastOutAt = this.now();
    }
    this.write(this.consumers, tag);
  }

  private write(consumers: Iterable<Consumer>, tag: FlvTag): void {
    const kind = classifyFlvTag(tag.type, tag.body);
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
      bytes ??= muxFlvTag(tag);
      consumer.stream.push(bytes);
    }
  }
}
