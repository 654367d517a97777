import type { Readable } from 'node:stream';
import type { ChannelInputsConfig } from '../config/service-config.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { IngestFeed, InputRole } from '../ingest/ingest-feed.js';
import { InputSelector, type InputSelectorStatus, type InputSwitch, type SelectedInput, type SlateClip } from '../ingest/input-selector.js';
import { PulledInput } from '../ingest/pulled-input.js';
import { renderSlateClip, type SlateSpec } from '../ingest/slate-clip.js';

/** How an input reaches the channel. */
export type InputKind = 'rtmp' | 'srt' | 'pull';

/** The channel view's `input` block. */
export interface ChannelInputView extends Omit<InputSelectorStatus, 'inputs'> {
  inputs: Array<InputSelectorStatus['inputs'][number] & { kind: InputKind }>;
  /** Seconds left before the slate ends the stream, while the slate plays with no input connected. */
  slateSecondsLeft?: number;
}

export interface ChannelInputsDeps {
  channel: string;
  logger: Logger;
  /** A switch (the first selection included: `from` is `none`). */
  onSwitch: (event: InputSwitch) => void;
  /** An input started delivering: the channel starts its ladder if it has none. */
  onInputAvailable: () => void;
  /** The slate played `slateSeconds` with no input connected: the channel ends the stream. */
  onSlateTimeout: () => void;
  /** Renders the slate clip; default `renderSlateClip` (ffmpeg). */
  renderSlate?: (spec: SlateSpec) => Promise<SlateClip>;
}

/**
 * A channel's inputs when it has an `inputs:` block: the input selector (one FLV stream for the
 * encoder), the pushed feeds attached to it (RTMP directly; SRT's MPEG-TS remuxed to FLV by an
 * ffmpeg copy), the pulled sources, the slate clip, and the slate timer. The channel keeps the
 * ladder; this keeps the inputs.
 */
export class ChannelInputs {
  readonly selector: InputSelector;
  private readonly kinds = new Map<InputRole, InputKind>();
  private readonly pulls = new Map<InputRole, PulledInput>();
  /** SRT feeds remuxed to FLV, per role. */
  private readonly remuxes = new Map<InputRole, PulledInput>();
  private slateTimer: NodeJS.Timeout | undefined;
  private slateTimerStartedAt: number | undefined;
  private slateRendering: Promise<void> | undefined;
  private readonly log: Logger;
  private closed = false;

  constructor(
    readonly config: ChannelInputsConfig,
    private readonly deps: ChannelInputsDeps,
  ) {
    this.log = deps.logger.child({ component: 'channel-inputs', channel: deps.channel });
    this.selector = new InputSelector({
      inputLossMs: config.inputLossMs,
      failback: config.failback,
      failbackMs: config.failbackSeconds * 1000,
      onSwitch: (event) => this.onSwitch(event),
    });
  }

  /**
   * A fresh FLV stream for a transcoder run whose encoder forces a keyframe every `gopSeconds` (the
   * ladder's GOP): switches then land on those keyframes. `keyframeMarks` (the ladder's `keyframes:
   * marked`): the encoder keys on marked frames instead; the selector marks the GOP and switches at
   * once. `frameRateCap`: the ladder's `frameRate: { cap }` (how long an output frame may be).
   */
  open(gopSeconds?: number, keyframeMarks = false, frameRateCap?: number): Readable {
    if (gopSeconds !== undefined) this.selector.keyframeIntervalMs = gopSeconds * 1000;
    this.selector.keyframeMarks = keyframeMarks;
    this.selector.frameRateCap = frameRateCap;
    return this.selector.open();
  }

  /** Starts pulling the configured `source` / `backupSource`. */
  startPulls(): void {
    const pulls: Array<[InputRole, string | undefined]> = [
      ['primary', this.config.source],
      ['backup', this.config.backupSource],
    ];
    for (const [role, url] of pulls) {
      if (url === undefined || this.pulls.has(role) || this.closed) continue;
      const pull = new PulledInput({
        source: { url },
        logger: this.log.child({ role }),
        onStream: (stream) => {
          this.kinds.set(role, 'pull');
          this.selector.attach(role, stream);
          // Available once it delivers, not when its ffmpeg starts: a retry that cannot reach the
          // source restarted the ladder of a channel whose slate had timed out, every few seconds.
          stream.once('data', () => this.deps.onInputAvailable());
        },
        onEnded: () => this.selector.detach(role),
      });
      this.pulls.set(role, pull);
      pull.start();
    }
  }

  /** A pushed publish for `role`; false when that role is pulled (the publish is refused). */
  attachFeed(feed: IngestFeed): boolean {
    const role = feed.role ?? 'primary';
    if (this.pulls.has(role) || this.closed) return false;
    this.kinds.set(role, feed.protocol);
    if (feed.format === 'flv') {
      this.selector.attach(role, feed.open());
    } else {
      // MPEG-TS (SRT): copied into FLV by ffmpeg, so that the selector can switch it without a restart.
      void this.remuxes.get(role)?.close();
      const remux = new PulledInput({
        source: { stdin: () => feed.open(), format: 'mpegts' },
        logger: this.log.child({ role }),
        onStream: (stream) => this.selector.attach(role, stream),
        onEnded: () => this.selector.detach(role),
        minBackoffMs: 200,
      });
      this.remuxes.set(role, remux);
      remux.start();
    }
    this.deps.onInputAvailable();
    return true;
  }

  /** The publish of `role` ended. */
  detachFeed(role: InputRole): void {
    if (this.pulls.has(role)) return;
    const remux = this.remuxes.get(role);
    this.remuxes.delete(role);
    void remux?.close();
    this.selector.detach(role);
  }

  /** Whether any input is connected (pushed or pulled, delivering or not). */
  anyConnected(): boolean {
    return this.selector.connected('primary') || this.selector.connected('backup');
  }

  /**
   * Whether the slate plays for want of a healthy input — what `slateSeconds` limits. Not "no input
   * connected": a pulled source retrying counts as connected while its ffmpeg tries to reach the
   * source (an SRT caller for seconds), so the slate of a channel whose pulled source had gone never
   * timed out. An operator's slate with inputs still connected is no outage: the stream goes on.
   */
  slateOutage(): boolean {
    const status = this.selector.status();
    if (status.active !== 'slate' || status.inputs.some((i) => i.healthy)) return false;
    return status.forced !== 'slate' || !this.anyConnected();
  }

  /** Whether the slate can take over when inputs are lost. */
  get slateReady(): boolean {
    return this.selector.slateReady;
  }

  /**
   * Renders the slate in the input's picture format (once; a later call with a new format is
   * ignored while the first renders). A failure is logged: the channel then has no slate.
   */
  prepareSlate(format: { width: number; height: number; frameRate: number; sampleRate?: number; channels?: number }): Promise<void> {
    this.slateRendering ??= (async () => {
      const spec: SlateSpec = {
        width: format.width,
        height: format.height,
        frameRate: format.frameRate,
        title: this.deps.channel,
        ...(format.sampleRate !== undefined ? { sampleRate: format.sampleRate } : {}),
        ...(format.channels !== undefined ? { channels: format.channels } : {}),
        ...(this.config.slateImage !== undefined ? { image: this.config.slateImage } : {}),
      };
      try {
        const clip = await (this.deps.renderSlate ?? renderSlateClip)(spec);
        if (!this.closed) this.selector.setSlate(clip);
        this.log.info({ width: clip.width, height: clip.height, frames: clip.videoFrames.length }, 'slate ready');
      } catch (err) {
        this.log.error({ err: errorMessage(err) }, 'slate could not be rendered: the channel has no slate');
      }
    })();
    return this.slateRendering;
  }

  force(target: SelectedInput): InputSelectorStatus {
    return this.selector.force(target);
  }

  view(): ChannelInputView {
    const status = this.selector.status();
    const view: ChannelInputView = { ...status, inputs: status.inputs.map((i) => ({ ...i, kind: this.kinds.get(i.role) ?? 'rtmp' })) };
    if (this.slateTimerStartedAt !== undefined) {
      view.slateSecondsLeft = Math.max(0, Math.round(this.config.slateSeconds - (Date.now() - this.slateTimerStartedAt) / 1000));
    }
    return view;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.clearSlateTimer();
    await Promise.all([...this.pulls.values(), ...this.remuxes.values()].map((p) => p.close()));
    this.selector.close();
  }

  private onSwitch(event: InputSwitch): void {
    if (event.to === 'slate') this.armSlateTimer();
    else this.clearSlateTimer();
    this.deps.onSwitch(event);
  }

  private armSlateTimer(): void {
    this.clearSlateTimer();
    this.slateTimerStartedAt = Date.now();
    this.slateTimer = setTimeout(() => {
      this.slateTimer = undefined;
      if (this.slateOutage()) this.deps.onSlateTimeout();
      else this.armSlateTimer();
    }, this.config.slateSeconds * 1000);
    this.slateTimer.unref();
  }

  private clearSlateTimer(): void {
    clearTimeout(this.slateTimer);
    this.slateTimer = undefined;
    this.slateTimerStartedAt = undefined;
  }
}
