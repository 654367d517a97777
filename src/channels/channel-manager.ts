import { randomBytes } from 'node:crypto';
import type { ChannelConfig } from '../config/service-config.js';
import type { NamedLadder } from '../ladder/ladder-loader.js';
import { ErrorCode, LivepipeError, errorMessage } from '../core/errors.js';
import type { EventBus } from '../core/event-bus.js';
import { byId, foldId } from '../core/ids.js';
import type { Logger } from '../core/logger.js';
import type { ChannelPublishSettings, ChannelRegistry as IngestChannelRegistry } from '../ingest/publish-auth.js';
import type { IngestFeed, InputRole } from '../ingest/ingest-feed.js';
import type { ChannelRegistry } from './channel-registry.js';
import { Channel, routePublishEvents } from './channel.js';
import type { ChannelLeadershipPort, ChannelMetricsPort, ChannelPackagerPort } from './channel-ports.js';
import type { ChannelPatch, ChannelService, ChannelSpec, ChannelView, NodeView } from './channel-service.js';
import type { AdCueAccepted, AdCueRequest } from './ad-cues.js';
import type { NodeCapacity, TranscodeAdmission } from '../transcode/admission.js';
import type { RealtimeTrackerOptions } from '../transcode/realtime-tracker.js';
import type { BehindPolicy } from '../transcode/behind-policy.js';

export interface ChannelManagerOptions {
  registry: ChannelRegistry;
  ingest: {
    feed(channel: string, role?: InputRole): IngestFeed | undefined;
    /** `refusal`: why the publisher is dropped, told to it where its protocol can. */
    kick(channel: string, role?: InputRole, refusal?: string): boolean;
    publishUrls(channel: string, publicHost: string): { rtmp?: string; srt?: string };
    /** The channel definitions changed: ingest re-reads `ingestRegistry` (SRT listeners). */
    channelsChanged?(): Promise<void>;
  };
  bus: EventBus;
  logger: Logger;
  loadLadder: (name: string) => Promise<NamedLadder>;
  createPackager: (channel: string) => Promise<ChannelPackagerPort>;
  admission?: TranscodeAdmission;
  metrics?: ChannelMetricsPort & {
    setIngestBitrate(channel: string, bps: number): void;
    setIngestAudioDelay?(channel: string, seconds: number): void;
    removeChannel(channel: string): void;
    setInputHealth?(channel: string, role: InputRole, healthy: boolean | undefined): void;
  };
  /** Host name viewers and publishers use, for the URLs in views and the start-up banner. */
  publicHost: string;
  originPort: number;
  reconnectGraceSeconds: number;
  /** Seconds an encoder may fail without a healthy run before its channel ends the stream (default 60). */
  encoderGiveUpSeconds?: number;
  /** Allocates SRT ports to channels that have SRT settings without an explicit port. */
  srtPorts: { base: number; count: number };
  stallTimeoutMs?: number;
  /** Thresholds of the below-realtime detection of every channel (docs/capacity.md). */
  realtime?: RealtimeTrackerOptions;
  /** What a channel behind realtime does to its own encoder (docs/capacity.md); default `warn`. */
  behindPolicy?: BehindPolicy;
  /** The node's transcoding capacity for `GET /api/v1/node` (admission's snapshot). */
  nodeCapacity?: () => NodeCapacity;
  /** Cluster mode: each channel writes only while it holds its lease (`cluster/channel-leases.ts`). */
  leadership?: ChannelLeadershipPort;
}

/**
 * Runs every channel: one `Channel` per registry entry (plus ad-hoc channels in open mode), routes
 * publish events to them, and implements the ops API's `ChannelService` on top of the registry
 * (which validates and persists definitions). Also adapts the registry to what ingest reads
 * (`getChannel` with SRT ports allocated from the configured range).
 */
export class ChannelManager implements ChannelService {
  private readonly channels = new Map<string, Channel>();
  private readonly logger: Logger;
  private unsubscribe: Array<() => void> = [];
  private sampler: NodeJS.Timeout | undefined;
  /** SRT ports allocated from the configured range to channels without an explicit one. */
  private readonly srtAllocations = new Map<string, number>();
  /**
   * What a registry change set going, per channel: the ladder stopping or re-reading its spec, and
   * ingest arming or stopping the SRT listener. The ops API's create/update/delete await it, so a 204
   * to DELETE means the publisher is gone and the ladder stopped, not that they soon will be.
   */
  private readonly followUps = new Map<string, Promise<void>>();

  constructor(private readonly options: ChannelManagerOptions) {
    this.logger = options.logger.child({ component: 'channels' });
  }

  /** What ingest's authorizer and SRT listeners read. */
  readonly ingestRegistry: IngestChannelRegistry = {
    getChannel: (id) => this.publishSettings().find((c) => c.id === id),
    channelCount: () => this.options.registry.list().length,
    channels: () => this.publishSettings(),
    openPublishRefusal: (id) => this.openModeRefusal(id),
  };

  /**
   * Lifecycle start (named `open` because `start(id)` is the ops API's "start a channel"): creates
   * the configured channels and subscribes to registry changes and publish events.
   */
  async open(): Promise<void> {
    for (const spec of this.options.registry.list()) this.channelFor(spec.id, spec);
    // What the previous process left in storage is served until publishers are back (not awaited:
    // storage reads must not delay start-up; each channel serializes it before its first publish).
    for (const channel of this.channels.values()) {
      channel.restore().catch((err: unknown) => this.logger.warn({ channel: channel.id, err: errorMessage(err) }, 'stored playlists not restored'));
    }
    this.unsubscribe.push(
      this.options.registry.onChange((change) => {
        const id = change.channel.id;
        let channelFollowUp: Promise<void> | undefined;
        if (change.type === 'created') this.channelFor(id, change.channel);
        else if (change.type === 'updated') channelFollowUp = this.channels.get(id)?.updateSpec(change.channel, change.changed);
        else channelFollowUp = this.drop(id);
        // Both are logged, never rejected: nothing else awaits them when the API is not the caller,
        // and an unhandled rejection would end the process.
        const settled = Promise.all([
          channelFollowUp?.catch((err: unknown) => this.logger.error({ channel: id, err: errorMessage(err) }, 'channel could not follow the change')),
          this.options.ingest.channelsChanged?.().catch((err: unknown) => this.logger.error({ err: errorMessage(err) }, 'ingest could not follow the channel change')),
        ]).then(() => undefined);
        this.followUps.set(id, settled);
        void settled.finally(() => {
          if (this.followUps.get(id) === settled) this.followUps.delete(id);
        });
      }),
      routePublishEvents(this.options.bus, this.options.ingest, { forPublish: (id) => this.channelFor(id), running: (id) => this.channels.get(id) }, this.logger),
    );
    // Ingest bitrate and encoder progress are sampled, not pushed: cheap and bounded.
    this.sampler = setInterval(() => this.sample(), 2000);
    this.sampler.unref();
  }

  /** Every channel, sorted by id (as the registry lists them), whatever order they were created in. */
  list(): ChannelView[] {
    return [...this.channels.values()].sort(byId).map((c) => c.view());
  }

  node(): NodeView {
    const capacity = this.options.nodeCapacity?.() ?? { maxChannels: 0, running: 0, channels: [] };
    return { ...capacity, behindChannels: capacity.channels.filter((c) => c.behind).map((c) => c.channel) };
  }

  get(id: string): ChannelView | undefined {
    return this.channels.get(id)?.view();
  }

  async create(spec: ChannelSpec): Promise<ChannelView> {
    // The registry sees only defined channels: the open-mode ones running beside them are checked here.
    const adHoc = [...this.channels.keys()].filter((id) => !this.options.registry.has(id));
    const clash = adHoc.find((id) => id !== spec.id && foldId(id) === foldId(spec.id));
    if (clash !== undefined) {
      throw new LivepipeError(ErrorCode.Conflict, `channel "${clash}" exists already: ids that differ only in letter case name the same channel`, {
        details: { channel: clash },
      });
    }
    const { maxChannels } = this.options.registry;
    if (adHoc.length > 0 && this.options.registry.list().length + adHoc.length >= maxChannels) {
      throw new LivepipeError(ErrorCode.LimitReached, `${maxChannels} channels are defined, the most maxChannelDefinitions allows: delete one first`, {
        details: { limit: maxChannels },
      });
    }
    const created = await this.options.registry.create(spec);
    await this.followUps.get(created.id);
    return this.channelFor(created.id, created)!.view();
  }

  async update(id: string, patch: ChannelPatch): Promise<ChannelView> {
    await this.options.registry.update(id, patch);
    await this.followUps.get(id);
    return this.require(id).view();
  }

  async remove(id: string): Promise<void> {
    if (!this.options.registry.has(id)) {
      // An open-mode channel is not in the registry: removing it stops it.
      if (!this.channels.has(id)) throw notFound(id);
      await this.drop(id);
      return;
    }
    await this.options.registry.remove(id);
    await this.followUps.get(id);
  }

  restart(id: string): Promise<ChannelView> {
    return this.act(id, (c) => c.restart());
  }

  stop(id: string): Promise<ChannelView> {
    return this.act(id, (c) => c.stop());
  }

  start(id: string): Promise<ChannelView> {
    return this.act(id, (c) => c.start());
  }

  kick(id: string): Promise<ChannelView> {
    return this.act(id, (c) => c.kick());
  }

  cue(id: string, request: AdCueRequest): Promise<AdCueAccepted> {
    return this.require(id).cue(request);
  }

  selectInput(id: string, input: 'primary' | 'backup' | 'slate'): Promise<ChannelView> {
    return this.act(id, (c) => c.selectInput(input));
  }

  /** Runs an operator action on a channel and returns its view afterwards. */
  private async act(id: string, action: (channel: Channel) => Promise<void>): Promise<ChannelView> {
    const channel = this.require(id);
    await action(channel);
    return channel.view();
  }

  /** Stops every ladder (their packagers finish the segment in flight) in parallel. */
  async close(): Promise<void> {
    if (this.sampler !== undefined) clearInterval(this.sampler);
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
    await Promise.all([...this.channels.values()].map((c) => c.close().catch((err) => this.logger.error({ channel: c.id, err: errorMessage(err) }, 'channel close failed'))));
  }

  /** Views for the start-up banner. */
  urls(id: string): ChannelView['urls'] {
    const { publicHost, originPort } = this.options;
    const publish = this.options.ingest.publishUrls(id, publicHost);
    return {
      playback: `http://${publicHost}:${originPort}/live/${id}/master.m3u8`,
      rtmp: publish.rtmp ?? '',
      ...(publish.srt !== undefined ? { srt: publish.srt } : {}),
    };
  }

  private channelFor(id: string, spec?: ChannelConfig): Channel | undefined {
    const existing = this.channels.get(id);
    if (existing !== undefined) return existing;
    const definition = spec ?? this.options.registry.get(id) ?? this.openModeSpec(id);
    if (definition === undefined) return undefined;
    const channel = new Channel(definition, {
      bus: this.options.bus,
      logger: this.options.logger,
      loadLadder: this.options.loadLadder,
      createPackager: this.options.createPackager,
      kickPublisher: (channelId, role, refusal) => this.options.ingest.kick(channelId, role, refusal),
      ...(this.options.admission !== undefined ? { admission: this.options.admission } : {}),
      ...(this.options.metrics !== undefined ? { metrics: this.options.metrics } : {}),
      urls: (channelId) => this.urls(channelId),
      reconnectGraceMs: this.options.reconnectGraceSeconds * 1000,
      ...(this.options.encoderGiveUpSeconds !== undefined ? { encoderGiveUpMs: this.options.encoderGiveUpSeconds * 1000 } : {}),
      ...(this.options.stallTimeoutMs !== undefined ? { stallTimeoutMs: this.options.stallTimeoutMs } : {}),
      ...(this.options.realtime !== undefined ? { realtime: this.options.realtime } : {}),
      ...(this.options.behindPolicy !== undefined ? { behindPolicy: this.options.behindPolicy } : {}),
      ...(this.options.leadership !== undefined ? { leadership: this.options.leadership } : {}),
    });
    this.channels.set(id, channel);
    channel.startPulls();
    return channel;
  }

  /**
   * Whether open mode may create channel `id`: the bounds the registry keeps for defined channels
   * hold for ad-hoc ones too (no two ids differing only in case, at most `maxChannels`).
   */
  private openModeRefusal(id: string): 'id-case-clash' | 'channel-limit' | undefined {
    if (this.channels.has(id)) return undefined;
    const folded = foldId(id);
    for (const other of this.channels.keys()) if (foldId(other) === folded) return 'id-case-clash';
    return this.channels.size >= this.options.registry.maxChannels ? 'channel-limit' : undefined;
  }

  /** Open mode: no channel configured, so ingest let an unknown id publish; run it on `default`. */
  private openModeSpec(id: string): ChannelConfig | undefined {
    if (this.options.registry.list().length > 0) return undefined;
    // Ingest checked this when it authorized the publish; a channel made since may have changed it.
    if (this.openModeRefusal(id) !== undefined) return undefined;
    this.logger.warn({ channel: id }, 'open mode: creating channel on the default ladder (configure channels with keys for production)');
    return { id, ladder: 'default', key: randomBytes(24).toString('base64url') };
  }

  private async drop(id: string): Promise<void> {
    const channel = this.channels.get(id);
    if (channel === undefined) return;
    this.channels.delete(id);
    this.options.ingest.kick(id);
    await channel.stop();
    await channel.close();
    this.options.metrics?.removeChannel(id);
  }

  private require(id: string): Channel {
    const channel = this.channels.get(id);
    if (channel === undefined) throw notFound(id);
    return channel;
  }

  private publishSettings(): ChannelPublishSettings[] {
    const specs = this.options.registry.list();
    const explicit = new Set(specs.flatMap((s) => [s.srt?.port, s.srt?.backupPort].filter((p): p is number => p !== undefined)));
    // Allocations are sticky for the life of the process: deleting or adding a channel never moves
    // another channel's port (which would drop its publisher). Released when the channel is gone,
    // has no SRT any more, or got an explicit port.
    for (const [id, port] of this.srtAllocations) {
      const spec = specs.find((s) => s.id === id);
      if (spec?.srt === undefined || spec.srt.port !== undefined || explicit.has(port)) this.srtAllocations.delete(id);
    }
    const used = new Set([...explicit, ...this.srtAllocations.values()]);
    let next = this.options.srtPorts.base;
    const end = this.options.srtPorts.base + this.options.srtPorts.count;
    // Channels without an explicit port get the next free one of the range, in registry order.
    return specs.map((s) => {
      if (s.srt === undefined) return { id: s.id, key: s.key };
      let port = s.srt.port ?? this.srtAllocations.get(s.id);
      if (port === undefined) {
        while (used.has(next) && next < end) next++;
        if (next < end) {
          port = next;
          used.add(port);
          this.srtAllocations.set(s.id, port);
        }
      }
      if (port === undefined) {
        this.logger.error({ channel: s.id }, 'SRT port range exhausted: channel has no SRT listener');
        return { id: s.id, key: s.key };
      }
      return { id: s.id, key: s.key, srt: { port, passphrase: s.srt.passphrase, latencyMs: s.srt.latencyMs, ...(s.srt.backupPort !== undefined ? { backupPort: s.srt.backupPort } : {}) } };
    });
  }

  private sample(): void {
    const metrics = this.options.metrics;
    if (metrics === undefined) return;
    for (const [id, channel] of this.channels) {
      const view = channel.view();
      if (view.publisher?.bitrate !== undefined) metrics.setIngestBitrate(id, view.publisher.bitrate);
      if (view.publisher?.audioDelaySeconds !== undefined) metrics.setIngestAudioDelay?.(id, view.publisher.audioDelaySeconds);
      if (view.state === 'live') metrics.setTranscoderCrashLooping(id, view.transcoder.crashLooping);
      for (const role of ['primary', 'backup'] as const) metrics.setInputHealth?.(id, role, view.input?.inputs.find((i) => i.role === role)?.healthy);
      const video = view.transcoder.renditions.find((r) => r.kind === 'video');
      if (video?.fps !== undefined || video?.speed !== undefined) {
        metrics.setEncoderProgress(id, { ...(video.fps !== undefined ? { fps: video.fps } : {}), ...(video.speed !== undefined ? { speed: video.speed } : {}) });
      }
    }
  }
}

function notFound(id: string): LivepipeError {
  return new LivepipeError(ErrorCode.NotFound, `no channel "${id}"`);
}
