import type { ChannelConfig } from '../config/service-config.js';
import type { NamedLadder } from '../ladder/ladder-loader.js';
import { withChannelAudioTracks } from '../ladder/audio-tracks.js';
import { ErrorCode, LivepipeError, errorMessage, isLivepipeError } from '../core/errors.js';
import { LivepipeEvent, type EventBus } from '../core/event-bus.js';
import type { Logger } from '../core/logger.js';
import { withKeyframeMarks } from '../ingest/flv-keyframe-marking.js';
import type { RunKeyframeMarking } from '../ingest/run-keyframe-marking.js';
import { withTsKeyframeMarks } from '../ingest/ts-keyframe-marking.js';
import type { IngestCue, IngestFeed, PublishEndReason } from '../ingest/ingest-feed.js';
import type { TranscodeRun } from '../ladder/run-contract.js';
import { TranscoderSupervisor } from '../transcode/transcoder-supervisor.js';
import type { RealtimeStatus } from '../transcode/realtime-tracker.js';
import { probeStream, type InputProbe } from '../transcode/input-probe.js';
import type { Cue } from '../package/cue-schedule.js';
import { AdCueBuilder, type AdCueAccepted, type AdCueRequest } from './ad-cues.js';
import { ChannelInputs } from './channel-inputs.js';
import type { InputRole, IngestProtocol } from '../ingest/ingest-feed.js';
import type { InputSwitch, SelectedInput } from '../ingest/input-selector.js';
import type { ChannelState, ChannelView } from './channel-service.js';
import { channelView } from './channel-view.js';
import { BehindRealtime } from './behind-realtime.js';
import { DEFAULT_ENCODER_GIVE_UP_MS, type ChannelDeps, type ChannelPackagerPort, type ChannelSupervisorPort } from './channel-ports.js';

/**
 * One live channel: the composition of its ingest feed, a transcoder supervisor per publish session
 * and its packager. States (see `ChannelState`): `idle` → publish → `live` → publisher leaves →
 * `reconnecting` → (publisher back within the grace period → `live`, same playlist after a
 * discontinuity) or (grace over → stream ended with EXT-X-ENDLIST → `idle`). `stop()` → `stopped`
 * (publishes refused until `start()`); a ladder or an input that cannot work at all → `failed`.
 *
 * An encoder that keeps crashing while the publisher is connected does not fail the channel: it
 * stays `live` and the supervisor keeps restarting it (at once, then every ≤ 2 s, see
 * `RestartPolicy`); the view's `stateReason` and `transcoder.crashLooping` say so. Once it has failed
 * for `encoderGiveUpMs` without a healthy run, the stream is ended (EXT-X-ENDLIST, no preload hint:
 * players and blocking reloads get an answer instead of waiting for a part that does not come) and
 * ended again after every further failure; the retries go on, and a run that produces media
 * continues the same playlists after a discontinuity.
 */
export class Channel {
  private state: ChannelState = 'idle';
  private feed: IngestFeed | undefined;
  private supervisor: ChannelSupervisorPort | undefined;
  private packager: ChannelPackagerPort | undefined;
  private graceTimer: NodeJS.Timeout | undefined;
  private lastError: string | undefined;
  /** Why the channel is in its state (the reason of its last transition). */
  private stateReason: string | undefined;
  /** `failingSince` of the supervisor's series of failures that made the channel end its stream. */
  private endedFailureSeries: number | undefined;
  /** Unsubscribes the current supervisor's state events. */
  private offTranscoderState: (() => void) | undefined;
  /** The latest run's resolved ladder: output sizes and bitrates for the view. */
  private lastRun: TranscodeRun | undefined;
  /** The feed `lastRun` encoded: while it is still the current one, its probe is still true. */
  private lastRunFeed: IngestFeed | undefined;
  /** Operator and crash restarts since the channel was created. */
  private restarts = 0;
  private readonly logger: Logger;
  /** Serializes lifecycle operations (publish events, API calls) so they never interleave. */
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;
  private adCues: AdCueBuilder | undefined;
  /** Unsubscribes the current feed's ad cues. */
  private offFeedCues: (() => void) | undefined;
  /** The realtime metric and log, and the behind-realtime policy's lighter ladders (`behind-policy.ts`). */
  private readonly behindRealtime: BehindRealtime;
  /** The running ladder says `keyframes: marked`: an ad cue keys its splice frame (`markSplice`). */
  private keyframeMarks = false;
  /** Without inputs, on a `keyframes: marked` ladder: the current run's FLV or MPEG-TS marking (where splices are keyed). */
  private runMarking: RunKeyframeMarking | undefined;
  /** A publish was refused for capacity: its end is not a publisher leaving (no reconnect wait). */
  private refusedPublish = false;
  /** The backup input, slate and pulled sources, when the channel has an `inputs:` block. */
  private inputs: ChannelInputs | undefined;
  /** Cluster mode: releases the claim on the lease (set while claiming). */
  private releaseLease: (() => Promise<void>) | undefined;
  /** Cluster mode: this node holds the lease (always true without leadership). */
  private leader: boolean;
  /** Cluster mode: the standby's probe of its open feed, so a takeover skips ffprobe (~0.6 s or more). */
  private standbyProbe: { feed: IngestFeed; probe: InputProbe } | undefined;

  constructor(
    private spec: ChannelConfig,
    private readonly deps: ChannelDeps,
  ) {
    this.logger = deps.logger.child({ component: 'channel', channel: spec.id });
    this.leader = deps.leadership === undefined;
    this.behindRealtime = new BehindRealtime({ channel: spec.id, policy: deps.behindPolicy ?? 'warn', logger: this.logger, metrics: deps.metrics });
    deps.metrics?.setChannelState(spec.id, 'idle');
    this.inputs = this.createInputs();
  }

  /** Starts pulling the channel's `source` / `backupSource`, if any (the channel manager calls it once). */
  startPulls(): void {
    if (this.state !== 'stopped') this.inputs?.startPulls();
  }

  private createInputs(): ChannelInputs | undefined {
    const config = this.spec.inputs;
    if (config === undefined) return undefined;
    return new ChannelInputs(config, {
      channel: this.spec.id,
      logger: this.deps.logger,
      onSwitch: (event) => this.onInputSwitch(event),
      onInputAvailable: () => {
        void this.serialize(async () => {
          this.clearGrace();
          if (this.supervisor === undefined && this.state !== 'stopped' && !this.closed) await this.startLadder();
        });
      },
      onSlateTimeout: () => {
        void this.serialize(async () => {
          if (this.inputs?.slateOutage() !== true || this.supervisor === undefined) return;
          this.logger.info({ slateSeconds: this.spec.inputs?.slateSeconds }, 'no input came back while the slate played: ending the stream');
          await this.stopLadder();
          await this.packager?.endStream();
          this.setState('idle', 'slate time over, no input');
        });
      },
    });
  }

  private onInputSwitch(event: InputSwitch): void {
    this.deps.metrics?.setActiveInput?.(this.spec.id, event.to);
    if (event.from === 'none') return; // the first selection is no switch
    this.logger.info({ from: event.from, to: event.to, reason: event.reason }, 'input switched');
    this.deps.metrics?.countInputSwitch?.(this.spec.id, event.from, event.to);
    this.deps.bus.emit(LivepipeEvent.InputSwitched, { channel: this.spec.id, from: event.from, to: event.to, reason: event.reason, kind: 'seamless' });
    if (this.state === 'live') this.stateReason = event.to === 'slate' ? 'slate: no input is healthy' : `playing the ${event.to} input`;
  }

  /** An operator's input choice (`primary`, `backup`, `slate`); 409 when the channel has no inputs block or the input is not healthy. */
  selectInput(target: SelectedInput): Promise<void> {
    return this.serialize(async () => {
      const inputs = this.inputs;
      if (inputs === undefined) throw new LivepipeError(ErrorCode.Conflict, `channel ${this.spec.id} has no inputs block: nothing to switch`);
      if (this.supervisor === undefined) throw new LivepipeError(ErrorCode.Conflict, `channel ${this.spec.id} is ${this.state}: no input is playing`);
      try {
        inputs.force(target);
      } catch (err) {
        throw new LivepipeError(ErrorCode.Conflict, `cannot switch channel ${this.spec.id} to ${target}: ${errorMessage(err)}`);
      }
      this.logger.info({ input: target }, 'input forced by an operator');
    });
  }

  get id(): string {
    return this.spec.id;
  }

  get currentState(): ChannelState {
    return this.state;
  }

  /** Opens the packager (which resumes the channel's playlists from storage) on first use. */
  private async ensurePackager(): Promise<ChannelPackagerPort> {
    this.packager ??= await this.deps.createPackager(this.spec.id);
    return this.packager;
  }

  /** A new definition (ladder change, key rotation). A ladder change restarts a live ladder. */
  updateSpec(spec: ChannelConfig, changed: readonly string[]): Promise<void> {
    return this.serialize(async () => {
      this.spec = spec;
      if (changed.includes('inputs')) {
        this.logger.info('inputs changed: dropping the publishers and restarting the inputs');
        await this.stopLadder();
        await this.inputs?.close();
        this.deps.kickPublisher(this.spec.id);
        this.inputs = this.createInputs();
        this.startPulls();
        if (this.state === 'live') this.setState('idle', 'inputs changed');
        return;
      }
      if (changed.includes('key') && (this.feed !== undefined || this.inputs !== undefined)) {
        this.logger.info('publish key rotated: dropping the current publisher');
        this.deps.kickPublisher(this.spec.id);
      } else if ((changed.includes('ladder') || changed.includes('audioTracks')) && this.supervisor !== undefined) {
        this.behindRealtime.resetAdjustment();
        await this.restartLadder(changed.includes('ladder') ? 'ladder changed' : 'audio tracks changed');
      }
    });
  }

  onPublishStarted(feed: IngestFeed): Promise<void> {
    return this.serialize(async () => {
      if (this.state === 'stopped') {
        this.logger.warn({ protocol: feed.protocol }, 'publish refused: channel is stopped by an operator');
        this.deps.bus.emit(LivepipeEvent.PublishRefused, { channel: this.spec.id, protocol: feed.protocol, reason: 'channel-stopped' });
        this.deps.kickPublisher(this.spec.id, undefined, `channel ${this.spec.id} is stopped by an operator`);
        return;
      }
      const role = feed.role ?? 'primary';
      if (this.inputs !== undefined) {
        if (!this.inputs.attachFeed(feed)) this.refuseRole(feed.protocol, role, `${role}-is-pulled`);
        else this.clearGrace();
        // The ladder starts through onInputAvailable.
        return;
      }
      if (role !== 'primary') {
        this.refuseRole(feed.protocol, role, 'no-backup-input');
        return;
      }
      this.clearGrace();
      this.feed = feed;
      this.offFeedCues?.();
      this.offFeedCues = feed.onCue?.((cue) => void this.onFeedCue(cue));
      this.refusedPublish = false;
      // A new publish session runs the ladder as configured (its source may be lighter).
      this.behindRealtime.resetAdjustment();
      if (this.leader) {
        await this.startLadder();
        return;
      }
      // Cluster mode, lease held elsewhere: keep the feed open and take over when the lease is free.
      this.setState('standby', 'another node writes the channel');
      this.probeForStandby(feed);
      this.claimLease();
    });
  }

  private refuseRole(protocol: IngestProtocol, role: InputRole, reason: string): void {
    this.logger.warn({ protocol, role, reason }, 'publish refused: the channel takes no pushed input of this role');
    this.deps.bus.emit(LivepipeEvent.PublishRefused, { channel: this.spec.id, protocol, reason });
    this.deps.kickPublisher(this.spec.id, role, `channel ${this.spec.id} takes no pushed ${role} input (${reason})`);
  }

  /** Hot standby: probes the open feed once now, so that a takeover starts ffmpeg at once. */
  private probeForStandby(feed: IngestFeed): void {
    if (this.standbyProbe?.feed === feed) return;
    const source = feed.open();
    probeStream(source, feed.format)
      .then(({ probe, stream }) => {
        if (this.feed === feed) this.standbyProbe = { feed, probe };
        stream.destroy();
      })
      .catch((err: unknown) => this.logger.debug({ err: errorMessage(err) }, 'standby probe failed: a takeover probes again'))
      .finally(() => source.destroy());
  }

  /** Cluster mode: wants the lease (idempotent); the holder's changes come in serialized. */
  private claimLease(): void {
    const leadership = this.deps.leadership;
    if (leadership === undefined || this.releaseLease !== undefined) return;
    this.releaseLease = leadership.claim(this.spec.id, (held) => {
      this.serialize(() => this.onLeadership(held)).catch((err: unknown) => this.logger.error({ err: errorMessage(err) }, 'lease change not followed'));
    });
  }

  /** Cluster mode: stops wanting the lease, handing it over at once if held. */
  private async dropLease(): Promise<void> {
    const release = this.releaseLease;
    this.releaseLease = undefined;
    this.leader = this.deps.leadership === undefined;
    await release?.();
  }

  /**
   * Cluster mode: the lease came (take over: a fresh packager resumes the playlists the previous
   * writer stored, the ladder starts on the open feed — a discontinuity, MSN continuing) or went
   * (stop the ladder; the write gate has refused this node's writes since its deadline anyway).
   */
  private async onLeadership(held: boolean): Promise<void> {
    if (this.releaseLease === undefined) return;
    this.leader = held;
    if (held) {
      if (this.closed || this.state === 'stopped' || this.feed === undefined || this.supervisor !== undefined) return;
      this.logger.info('writer lease acquired: taking over the channel');
      await this.discardPackager();
      await this.startLadder();
      return;
    }
    this.logger.warn('writer lease lost: stopping the ladder, keeping the feed as a standby');
    await this.stopLadder();
    await this.discardPackager();
    if (this.feed !== undefined && this.state !== 'stopped' && !this.closed) this.setState('standby', 'writer lease lost');
  }

  /**
   * Closes the packager without waiting for what it cannot store any more (a fenced-off node's
   * uploads fail at the write gate). The next packager reads the stored playlists afresh.
   */
  private async discardPackager(): Promise<void> {
    const packager = this.packager;
    this.packager = undefined;
    packager?.close().catch((err: unknown) => this.logger.warn({ err: errorMessage(err) }, 'packager of a lost lease did not close cleanly'));
  }

  /**
   * Cluster mode, no publisher here: takes the lease for one write (ending the stream), unless
   * another node holds it beyond `2 × TTL` (it has a publisher: the stream goes on there).
   */
  private async withLeaseOnce(work: (packager: ChannelPackagerPort) => Promise<void>): Promise<void> {
    const leadership = this.deps.leadership!;
    let release: (() => Promise<void>) | undefined;
    const held = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 2 * leadership.leaseTtlMs);
      release = leadership.claim(this.spec.id, (ok) => {
        if (ok) {
          clearTimeout(timer);
          resolve(true);
        }
      });
    });
    try {
      if (!held) return;
      const packager = await this.deps.createPackager(this.spec.id);
      try {
        await packager.restore?.();
        await work(packager);
      } finally {
        await packager.close();
      }
    } finally {
      await release?.();
    }
  }

  /** `detail`: for reason `unusable`, what is wrong with the media (becomes the failure reason). */
  onPublishEnded(reason: PublishEndReason, detail?: string, role: InputRole = 'primary'): Promise<void> {
    return this.serialize(async () => {
      if (this.inputs !== undefined) {
        this.inputs.detachFeed(role);
        // Another input or the slate plays on; with neither, the stream waits out the grace period.
        if (this.inputs.anyConnected() || this.inputs.slateReady || this.supervisor === undefined) return;
      } else if (role !== 'primary') {
        return;
      }
      this.feed = undefined;
      this.offFeedCues?.();
      this.offFeedCues = undefined;
      if (this.refusedPublish) {
        this.refusedPublish = false;
        return;
      }
      // The view says so at once: stopping the ladder (its last segments, uploads) takes a second or
      // more, and `live` with no publisher and no run in between reads as a fault.
      if (this.state === 'live' && reason !== 'unusable' && reason !== 'shutdown' && !this.closed) this.setState('reconnecting', `publisher left (${reason})`);
      await this.stopLadder();
      if (this.deps.leadership !== undefined) {
        // Cluster mode: what the ladder packaged is stored under the lease, then the lease goes at
        // once — a standby with the same feed, or the node the publisher reconnects to, takes over
        // without waiting for the TTL. The grace period's end takes it again to end the stream.
        if (this.leader) await this.packager?.close();
        this.packager = undefined;
        await this.dropLease();
      }
      if (reason === 'unusable' && this.state !== 'stopped' && !this.closed) {
        // Ingest refused the media (no video…): the channel fails with that reason, which is clearer
        // than whatever the transcoder's probe made of the truncated feed. The next publish retries.
        this.logger.error({ reason: detail }, 'publisher refused: unusable media');
        this.fail(detail ?? 'the publisher\'s media cannot be used');
        return;
      }
      // Stopped by an operator, or failed (the reason stays visible until the next publish retries).
      if (this.state === 'stopped' || this.state === 'failed' || this.closed) return;
      if (reason === 'shutdown') return;
      this.setState('reconnecting', `publisher left (${reason})`);
      // Viewers at the live edge keep getting playlist updates (gap parts) while the publisher may
      // come back: a frozen playlist answers their blocking reloads 503 every 3 target durations,
      // and hls.js gives up after two. Cluster mode hands the channel over instead (lease dropped).
      // GAP parts, not the held picture of an encoder restart: the source's media is gone, and what
      // reads this channel's playlists (a relay pulling it as a backup input, a monitor) must see so.
      if (this.deps.leadership === undefined) this.packager?.bridgeEncoderGap?.('gap');
      this.armGrace();
    });
  }

  /**
   * After a process start, before any publisher: serves what the previous process left in storage,
   * so players get the stream rather than 404. A stream that was live when the process stopped is in
   * the same position as one whose publisher just left: the channel waits out the reconnect grace
   * period (`reconnecting`), then ends it with EXT-X-ENDLIST (`idle`). A publisher coming back in
   * time continues the same playlists after a discontinuity.
   */
  restore(): Promise<void> {
    return this.serialize(async () => {
      if (this.closed || this.state !== 'idle' || this.feed !== undefined) return;
      // Cluster mode: the stored playlists belong to whichever node writes the channel; a node reads
      // them when it takes the lease, not when it starts.
      if (this.deps.leadership !== undefined) return;
      const packager = await this.ensurePackager();
      const found = await packager.restore?.();
      if (found === undefined || found.restored === 0) return;
      this.logger.info({ renditions: found.restored, live: found.live }, 'serving the stored playlists until the publisher is back');
      if (found.live > 0 && this.state === 'idle' && this.feed === undefined) {
        this.setState('reconnecting', 'process restarted: waiting for the publisher');
        this.armGrace();
      }
    });
  }

  /** Ends the stream unless the publisher is back within the grace period. */
  private armGrace(): void {
    this.clearGrace();
    this.graceTimer = setTimeout(() => {
      void this.serialize(async () => {
        this.graceTimer = undefined;
        if (this.state !== 'reconnecting') return;
        this.logger.info({ graceMs: this.deps.reconnectGraceMs }, 'publisher did not come back: ending the stream');
        if (this.deps.leadership !== undefined) await this.withLeaseOnce((packager) => packager.endStream());
        else await this.packager?.endStream();
        this.setState('idle', 'grace period over');
      });
    }, this.deps.reconnectGraceMs);
    this.graceTimer.unref();
  }

  /** Restarts the ladder workers (new ffmpeg run, a discontinuity in the playlists). */
  restart(): Promise<void> {
    return this.serialize(async () => {
      const noInput = this.inputs !== undefined ? this.supervisor === undefined : this.feed === undefined || this.feed.ended;
      if (noInput) {
        throw new LivepipeError(ErrorCode.Conflict, `channel ${this.spec.id} has no publisher: nothing to restart`);
      }
      await this.restartLadder('operator restart');
    });
  }

  stop(): Promise<void> {
    return this.serialize(async () => {
      this.clearGrace();
      this.setState('stopped', 'operator stop');
      if (this.feed !== undefined || this.inputs !== undefined) this.deps.kickPublisher(this.spec.id);
      await this.stopLadder();
      if (this.inputs !== undefined) {
        await this.inputs.close();
        this.inputs = this.createInputs();
      }
      if (this.leader) await this.packager?.endStream();
    });
  }

  start(): Promise<void> {
    return this.serialize(async () => {
      if (this.state === 'stopped' || this.state === 'failed') this.setState('idle', 'operator start');
      this.inputs?.startPulls();
    });
  }

  kick(): Promise<void> {
    return this.serialize(async () => {
      if (!this.deps.kickPublisher(this.spec.id)) {
        throw new LivepipeError(ErrorCode.Conflict, `channel ${this.spec.id} has no publisher to kick`);
      }
    });
  }

  /**
   * An operator's ad cue (out: a break starts, in: it ends). Only while live — a cue must land on a
   * segment of this stream — else 409 CONFLICT, as is an in cue with no break open.
   */
  cue(request: AdCueRequest, now = Date.now()): Promise<AdCueAccepted> {
    return this.serialize(async () => {
      const packager = this.packager;
      if (this.state !== 'live' || packager?.addCue === undefined) {
        throw new LivepipeError(ErrorCode.Conflict, `channel ${this.spec.id} is ${this.state}: ad cues need a live stream`);
      }
      const { cue, accepted } = (this.adCues ??= new AdCueBuilder(this.spec.id)).build(request, now);
      packager.addCue(cue);
      this.markSplice(cue, packager, now);
      this.logger.info({ id: accepted.id, type: accepted.type, at: accepted.at }, 'ad cue accepted');
      return accepted;
    });
  }

  /**
   * An ad cue carried in the publisher's stream (SCTE-35 over SRT, an RTMP cue message): placed like
   * an operator's cue. One that cannot be (not live yet, an in with no break open) is logged and dropped.
   */
  private onFeedCue(ingestCue: IngestCue, now = Date.now()): Promise<void> {
    return this.serialize(async () => {
      const packager = this.packager;
      const fields = { source: ingestCue.source, type: ingestCue.kind, eventId: ingestCue.eventId, at: new Date(ingestCue.at).toISOString() };
      if (this.state !== 'live' || packager?.addCue === undefined) {
        this.logger.warn({ ...fields, state: this.state }, 'ad cue from the publisher dropped: the channel is not live');
        return;
      }
      try {
        const { cue, accepted } = (this.adCues ??= new AdCueBuilder(this.spec.id)).fromIngest(ingestCue, now);
        packager.addCue(cue);
        this.markSplice(cue, packager, now);
        this.logger.info({ ...fields, id: accepted.id }, 'ad cue from the publisher accepted');
      } catch (err) {
        this.logger.warn({ ...fields, err: errorMessage(err) }, 'ad cue from the publisher dropped');
      }
    });
  }

  /**
   * On a `keyframes: marked` ladder: the frame at the cue's splice — the first at or after its
   * instant, or the next frame for a splice now or past — is keyed when the relay writes it (the
   * input selector, or the run's FLV or MPEG-TS marking), and the packager then cuts a segment there in every
   * rendition and starts the DATERANGE with it (`ChannelPackager.spliceAt`). Without marks, or when
   * the frame could not be keyed (not H.264) or the run changed first, the cue lands at the next
   * segment boundary as before.
   */
  private markSplice(cue: Cue, packager: ChannelPackagerPort, now: number): void {
    const spliceAt = packager.spliceAt?.bind(packager);
    if (!this.keyframeMarks || spliceAt === undefined) return;
    const at = cue.at > now ? cue.at : Number.NEGATIVE_INFINITY;
    const done = (result: { keyed: boolean; mediaMs: number }): void => {
      if (!result.keyed) {
        this.logger.warn({ id: cue.id, mediaMs: result.mediaMs }, 'ad splice frame could not be keyed: the cue lands at the next boundary');
        return;
      }
      if (this.packager === packager) spliceAt(cue, result.mediaMs / 1000);
    };
    let scheduled = false;
    if (this.inputs !== undefined) scheduled = this.inputs.selector.markFrameAt(at, done);
    else if (this.runMarking !== undefined) {
      this.runMarking.markAtWall(at, done);
      scheduled = true;
    }
    if (!scheduled) this.logger.warn({ id: cue.id }, 'no keyframe marking on this run: the cue lands at the next boundary');
  }

  view(): ChannelView {
    return channelView({
      spec: this.spec,
      state: this.state,
      stateReason: this.stateReason,
      transcoder: this.supervisor?.state(),
      restarts: this.restarts,
      lastError: this.lastError,
      endedFailureSeries: this.endedFailureSeries,
      encoderGiveUpMs: this.deps.encoderGiveUpMs ?? DEFAULT_ENCODER_GIVE_UP_MS,
      ladder: this.lastRun?.ladder,
      positions: this.packager?.positions() ?? [],
      ladderAdjustment: this.behindRealtime.ladderAdjustment(),
      publisher: this.feed?.info(),
      input: this.inputs?.view(),
      urls: this.deps.urls(this.spec.id),
      now: Date.now(),
    });
  }

  /** Stops the ladder (the packager finishes the segment in flight) and closes the packager. */
  close(): Promise<void> {
    this.closed = true;
    return this.serialize(async () => {
      this.clearGrace();
      await this.stopLadder();
      await this.inputs?.close();
      await this.packager?.close();
      this.packager = undefined;
      await this.dropLease();
    });
  }

  private async startLadder(): Promise<void> {
    const inputs = this.inputs;
    let gopSeconds: number | undefined;
    let keyframeMarks = false;
    let frameRateCap: number | undefined;
    const feed: Pick<IngestFeed, 'format' | 'protocol' | 'open'> | undefined = inputs !== undefined ? { format: 'flv', protocol: 'rtmp', open: () => inputs.open(gopSeconds, keyframeMarks, frameRateCap) } : this.feed;
    if (feed === undefined) return;
    const packager = await this.ensurePackager();
    let ladder: NamedLadder;
    try {
      const loaded = await this.deps.loadLadder(this.spec.ladder);
      ladder = { ...loaded, ladder: withChannelAudioTracks(loaded.ladder, this.spec.audioTracks) };
      gopSeconds = ladder.ladder.gop;
      keyframeMarks = ladder.ladder.keyframes === 'marked';
      this.keyframeMarks = keyframeMarks;
      frameRateCap = ladder.ladder.frameRate === 'source' ? undefined : ladder.ladder.frameRate.cap;
    } catch (err) {
      const message = `ladder "${this.spec.ladder}": ${errorMessage(err)}`;
      this.fail(message);
      this.deps.kickPublisher(this.spec.id, undefined, `channel ${this.spec.id} cannot run: ${message}`);
      return;
    }
    const supervisor = (this.deps.createSupervisor ?? ((options) => new TranscoderSupervisor(options)))({
      channel: this.spec.id,
      ladder: this.behindRealtime.ladderFor(ladder.ladder),
      input: { kind: 'stdin', format: feed.format },
      // A restart of the same publish session (operator restart, ladder change) skips ffprobe.
      ...(this.lastRun !== undefined && this.lastRunFeed === feed
        ? { knownProbe: this.lastRun.probe }
        : this.standbyProbe?.feed === feed
          ? { knownProbe: this.standbyProbe.probe }
          : {}),
      // Every run (first, crash restart) reads the live feed from its most recent keyframe.
      // `keyframes: marked` without inputs: the run's FLV (RTMP) or MPEG-TS (SRT) marked on the GOP grid here (with inputs, the selector marks it).
      openInput: () => {
        const from = inputs !== undefined ? feed : (this.feed ?? feed);
        if (!keyframeMarks || inputs !== undefined) return from.open();
        const marking = (from.format === 'mpegts' ? withTsKeyframeMarks : withKeyframeMarks)(from.open(), ladder.ladder.gop * 1000, frameRateCap);
        this.runMarking = marking;
        return marking;
      },
      bus: this.deps.bus,
      logger: this.deps.logger,
      onRun: (run) => {
        this.lastRun = run;
        this.lastRunFeed = inputs !== undefined ? undefined : (feed as IngestFeed);
        packager.attachRun(run);
        // The slate takes the input's picture format, so the decoder sees one format whatever plays.
        void inputs?.prepareSlate({
          width: run.probe.width,
          height: run.probe.height,
          frameRate: run.probe.frameRate,
          ...(run.probe.audioSampleRate !== undefined ? { sampleRate: run.probe.audioSampleRate } : {}),
          ...(run.probe.audioChannels !== undefined ? { channels: run.probe.audioChannels } : {}),
        });
      },
      ...(this.deps.admission !== undefined ? { admission: this.deps.admission } : {}),
      ...(this.deps.stallTimeoutMs !== undefined ? { stallTimeoutMs: this.deps.stallTimeoutMs } : {}),
      ladderName: ladder.name,
      ...(this.deps.realtime !== undefined ? { realtime: this.deps.realtime } : {}),
      onRealtime: (status) => {
        if (this.supervisor === supervisor) this.onRealtime(status);
      },
    });
    this.supervisor = supervisor;
    // Synchronous with the supervisor's transitions: a stream ended on a failure is ended before the
    // next run can attach (the packager orders the end and the runs).
    this.offTranscoderState = this.deps.bus.on(LivepipeEvent.TranscoderState, (event) => {
      if (event.channel === this.spec.id && event.state === 'restarting' && this.supervisor === supervisor) this.onEncoderFailure(supervisor, packager);
    });
    try {
      await supervisor.start();
    } catch (err) {
      this.unsubscribeTranscoder();
      this.supervisor = undefined;
      if (isLivepipeError(err, ErrorCode.CapacityExceeded)) {
        this.refuseOverCapacity(feed.protocol, this.feed?.info().remoteAddress, err);
        return;
      }
      const message = errorMessage(err);
      this.logger.error({ err: message }, 'ladder could not start: dropping the publisher');
      this.fail(message);
      this.deps.kickPublisher(this.spec.id, undefined, `channel ${this.spec.id} cannot run: ${message}`);
      return;
    }
    this.setState('live', inputs !== undefined ? `playing the ${inputs.selector.selected ?? 'first'} input` : `publishing over ${feed.protocol}`);
    void supervisor.finished().then((final) => {
      if (final === 'failed' && this.supervisor === supervisor) {
        this.fail(supervisor.state().lastError ?? 'transcoder failed');
      }
    });
  }

  /**
   * Admission found no capacity for this channel (docs/capacity.md): the publisher is dropped with
   * the reason, told to receivers as `publish.refused`, and the channel stays where it was (idle, or
   * reconnecting with its stream waiting) rather than `failed`: nothing is wrong with it, the node is full.
   */
  private refuseOverCapacity(protocol: IngestProtocol, remoteAddress: string | undefined, err: LivepipeError): void {
    const refusal = typeof err.details?.refusal === 'string' ? err.details.refusal : 'over-capacity';
    this.logger.warn({ protocol, refusal, ...err.details }, `publish refused: ${err.message}`);
    this.deps.metrics?.countAdmissionRefusal?.(refusal);
    this.deps.bus.emit(LivepipeEvent.PublishRefused, {
      channel: this.spec.id,
      protocol,
      reason: refusal,
      detail: err.message,
      ...(remoteAddress !== undefined ? { remoteAddress } : {}),
    });
    this.stateReason = `publish refused: ${err.message}`;
    this.lastError = err.message;
    this.feed = undefined;
    this.refusedPublish = true;
    // A stream waiting for its publisher keeps waiting out its grace period (the publish cleared it).
    if (this.state === 'reconnecting') this.armGrace();
    this.deps.kickPublisher(this.spec.id, undefined, `publish refused: ${err.message}`);
  }

  /** A realtime status of the running encoder; falling behind, the policy may lighten its ladder. */
  private onRealtime(status: RealtimeStatus): void {
    if (!this.behindRealtime.onRealtime(status)) return;
    const supervisor = this.supervisor;
    if (supervisor !== undefined) void this.serialize(async () => this.applyBehindPolicy(supervisor, status));
  }

  /** `BehindRealtime.lighten`, while `supervisor` is still the current one and the channel live. */
  private applyBehindPolicy(supervisor: ChannelSupervisorPort, status: RealtimeStatus): void {
    if (this.supervisor !== supervisor || this.state !== 'live') return;
    this.behindRealtime.lighten(supervisor, this.lastRun?.ladder.video ?? [], status);
  }

  private async stopLadder(): Promise<void> {
    const supervisor = this.supervisor;
    this.supervisor = undefined;
    this.unsubscribeTranscoder();
    this.behindRealtime.encoderStopped(supervisor !== undefined);
    this.endedFailureSeries = undefined;
    if (supervisor !== undefined) {
      this.lastError = supervisor.state().lastError ?? this.lastError;
      this.restarts += supervisor.state().restarts;
      await supervisor.stop();
    }
  }

  private async restartLadder(why: string): Promise<void> {
    this.logger.info({ why }, 'restarting the ladder');
    this.restarts += 1;
    this.deps.metrics?.countTranscoderRestart(this.spec.id);
    this.deps.bus.emit(LivepipeEvent.LadderRestarted, { channel: this.spec.id, reason: why });
    await this.stopLadder();
    await this.startLadder();
  }

  /**
   * The supervisor is restarting after a failed run (that run's outputs have ended). Counted; past
   * `encoderGiveUpMs` of failing without a healthy run, with the publisher still connected, the
   * stream is ended — again after every further failure, since a run that produced media in between
   * reopened it. The supervisor keeps retrying either way.
   */
  private onEncoderFailure(supervisor: ChannelSupervisorPort, packager: ChannelPackagerPort): void {
    this.deps.metrics?.countTranscoderRestart(this.spec.id);
    const snapshot = supervisor.state();
    this.deps.metrics?.setTranscoderCrashLooping(this.spec.id, snapshot.crashLooping);
    const since = snapshot.failingSince;
    const giveUpMs = this.deps.encoderGiveUpMs ?? DEFAULT_ENCODER_GIVE_UP_MS;
    if (this.feed === undefined || this.state !== 'live') return;
    if (since === undefined || Date.now() - since < giveUpMs) {
      // Viewers at the live edge must not wait out the restart (see `bridgeEncoderGap`).
      packager.bridgeEncoderGap?.('held');
      return;
    }
    if (this.endedFailureSeries !== since) {
      this.endedFailureSeries = since;
      this.logger.error(
        { failingSeconds: Math.round((Date.now() - since) / 1000), failures: snapshot.consecutiveFailures, lastError: snapshot.lastError },
        'encoder failing for too long: ending the stream (EXT-X-ENDLIST); it keeps retrying and resumes the stream when it recovers',
      );
    }
    packager.endStream().catch((err: unknown) => this.logger.error({ err: errorMessage(err) }, 'stream could not be ended'));
  }

  private unsubscribeTranscoder(): void {
    this.offTranscoderState?.();
    this.offTranscoderState = undefined;
    this.deps.metrics?.setTranscoderCrashLooping(this.spec.id, false);
  }

  private fail(reason: string): void {
    this.lastError = reason;
    this.setState('failed', reason);
  }

  private setState(next: ChannelState, reason: string): void {
    if (next === this.state) return;
    this.logger.info({ from: this.state, to: next, reason }, 'channel state');
    const previous = this.state;
    this.state = next;
    this.stateReason = reason;
    this.deps.metrics?.setChannelState(this.spec.id, next);
    this.deps.bus.emit(LivepipeEvent.ChannelStateChanged, { channel: this.spec.id, state: next, previous, reason });
  }

  private clearGrace(): void {
    if (this.graceTimer !== undefined) clearTimeout(this.graceTimer);
    this.graceTimer = undefined;
  }

  private serialize<T>(task: () => Promise<T>): Promise<T> {
    const run = this.tail.then(task, task);
    this.tail = run.catch(() => undefined);
    return run;
  }
}

/** Routes the bus' publish events to channels (starts may create one, ends only reach running ones); returns the unsubscribe. */
export function routePublishEvents(
  bus: EventBus,
  feeds: { feed(channel: string, role?: InputRole): IngestFeed | undefined },
  channels: {
    /** The channel a new publish goes to (created on first use, e.g. in open mode). */
    forPublish(id: string): Channel | undefined;
    /** A running channel, never created: the end of a publish must not bring back a deleted channel. */
    running(id: string): Channel | undefined;
  },
  logger: Logger,
): () => void {
  const offStart = bus.on(LivepipeEvent.PublishStarted, ({ channel, role }) => {
    const feed = feeds.feed(channel, role ?? 'primary');
    const target = channels.forPublish(channel);
    if (feed === undefined || target === undefined) {
      logger.warn({ channel }, 'publish started for a channel livepipe does not run');
      return;
    }
    target.onPublishStarted(feed).catch((err) => logger.error({ channel, err: errorMessage(err) }, 'publish start failed'));
  });
  const offEnd = bus.on(LivepipeEvent.PublishEnded, ({ channel, reason, detail, role }) => {
    channels
      .running(channel)
      ?.onPublishEnded(reason as PublishEndReason, detail, role ?? 'primary')
      .catch((err) => logger.error({ channel, err: errorMessage(err) }, 'publish end failed'));
  });
  return () => {
    offStart();
    offEnd();
  };
}

