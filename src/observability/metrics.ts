import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CHANNEL_STATES, type ChannelState } from '../core/channel-state.js';
import { isValidId } from '../core/ids.js';

/**
 * livepipe's Prometheus metrics: one `Metrics` object per process, with its own prom-client
 * `Registry` (never the global default registry), handed to components through their constructors as
 * the narrow interface each one needs (`IngestMetrics`, `TranscoderMetrics`, …).
 *
 * Label cardinality is bounded by construction: the only unbounded-looking labels are `channel` and
 * `rendition`, which are validated ids (`isValidId`; anything else is dropped, never recorded), capped
 * by `maxChannels` and the ladder; every other label takes values from a fixed set (`state`,
 * `operation`, `class`, HTTP `status`). Series of a channel disappear with `removeChannel`.
 *
 * Only channels that are live or were live recently have series: a channel's series appear when it
 * goes `live`, stay while it is `live`, `reconnecting` or `failed` (the alerts on those states must
 * keep firing), and are removed at the first scrape {@link QUIET_SERIES_TTL_MS} after it turned `idle`
 * or `stopped`. A defined channel that never went live has none; `livepipe_channels` counts every
 * channel by state either way.
 */

/** States whose channels keep their series; see the header. */
const SERIES_STATES: readonly ChannelState[] = ['live', 'reconnecting', 'failed'];
/**
 * How long a channel keeps its series after it turned idle or stopped (10 minutes): many scrapes see
 * its final values, and the 10-minute windows of the alert rules see the end of its counters.
 */
export const QUIET_SERIES_TTL_MS = 10 * 60_000;

export type StorageOperation = 'put' | 'get' | 'delete' | 'list';
const STORAGE_OPERATIONS: readonly StorageOperation[] = ['put', 'get', 'delete', 'list'];

/** What the origin served (the `class` label of `livepipe_origin_requests_total`). */
export type OriginRequestClass =
  | 'multivariant'
  | 'playlist'
  | 'blocking_playlist'
  | 'init'
  | 'part'
  | 'segment'
  | 'other';
const ORIGIN_REQUEST_CLASSES: readonly OriginRequestClass[] = [
  'multivariant',
  'playlist',
  'blocking_playlist',
  'init',
  'part',
  'segment',
  'other',
];

/** Seconds from ingest (capture time) to a part being downloadable: LL-HLS lives between 0.1 and 5 s. */
export const PART_LATENCY_BUCKETS = [0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 4, 5, 7.5, 10];
/** Storage call durations: local disk is sub-millisecond, S3 tens to hundreds of milliseconds. */
export const STORAGE_LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** For the RTMP/SRT ingest. */
export interface IngestMetrics {
  /** Measured ingest bitrate of the channel's publisher, bits/s. */
  setIngestBitrate(channel: string, bitsPerSecond: number): void;
  /** A connection closed before it authenticated; `reason` from a fixed set (`INGEST_SHED_REASONS`). */
  countIngestConnectionShed(protocol: 'rtmp' | 'srt', reason: string): void;
}

/** The `reason` label values of `livepipe_ingest_connections_shed_total` (ingest's `ShedReason`). */
const INGEST_SHED_REASONS = ['evicted_address', 'evicted_total', 'refused_full', 'deadline', 'malformed', 'auth_failed'];

/** For the transcoder supervisor. */
export interface TranscoderMetrics {
  /**
   * Latest ffmpeg `-progress` of the channel's encoder (fps: frames/s; speed: 1.0 = realtime). One
   * ffmpeg encodes the whole ladder of a channel, so progress is per channel, not per rendition.
   */
  setEncoderProgress(channel: string, progress: { fps?: number; speed?: number }): void;
  /** One ffmpeg restart of the channel's ladder (crash or operator restart). */
  countTranscoderRestart(channel: string): void;
  /** The channel's encoder fails fast again and again (`RestartPolicy` crash loop), or no longer does. */
  setTranscoderCrashLooping(channel: string, crashLooping: boolean): void;
  /**
   * Edge lag behind arrival (seconds) and whether the channel is flagged behind realtime
   * (docs/capacity.md); an undefined lag removes the lag series (no run).
   */
  setChannelRealtime(channel: string, realtime: { edgeLagSeconds: number | undefined; behind: boolean }): void;
  /**
   * How far the behind-realtime policy lightened the channel's ladder (docs/capacity.md): x264 preset
   * steps faster, video renditions dropped; zeros when it runs its ladder as configured.
   */
  setChannelLadderAdjustment(channel: string, adjustment: { presetSteps: number; droppedRenditions: number }): void;
  /** A publish refused by admission; `reason` from `ADMISSION_REFUSALS`. */
  countAdmissionRefusal(reason: string): void;
  /** The channel's selected input (`primary`, `backup`, `slate`; `none` before the first). */
  setActiveInput(channel: string, active: string): void;
  /** Whether each connected input of the channel is healthy (delivering video). */
  setInputHealth(channel: string, role: 'primary' | 'backup', healthy: boolean | undefined): void;
  /** One switch of the channel's input. */
  countInputSwitch(channel: string, from: string, to: string): void;
}

/** The `reason` label values of `livepipe_admission_refusals_total` (transcode's `AdmissionRefusal`). */
const ADMISSION_REFUSALS = ['max-channels', 'over-capacity', 'node-behind'];

/** For whoever owns the node's transcoding capacity (transcode's `Admission`). */
export interface NodeCapacityMetrics {
  /** `probe` is read at every scrape: cores admission may fill, and the running channels' costs. */
  trackNodeCapacity(probe: () => { capacityCores?: number; usedCores?: number }): void;
}

/** For the LL-HLS packager. */
export interface PackagerMetrics {
  countPart(channel: string, rendition: string): void;
  countSegment(channel: string, rendition: string): void;
  /** Seconds from the part's first frame entering ingest to the part being in storage and the playlist. */
  observePartLatency(channel: string, rendition: string, seconds: number): void;
}

/** For the storage drivers (or a wrapper around them). */
export interface StorageMetrics {
  observeStorageOperation(operation: StorageOperation, seconds: number, ok: boolean): void;
}

/**
 * For the origin. Called on the request hot path, so an implementation must be cheap: fixed label
 * values, no allocation per call.
 */
export interface OriginMetrics {
  /** One response sent (any status), by what was asked for. */
  countOriginRequest(requestClass: OriginRequestClass, status: number): void;
  /** A request starts being held; the returned function (idempotent) is called once it no longer is. */
  trackHeldRequest(): () => void;
  /** Media or the multivariant playlist answered from memory. */
  countCacheHit(): void;
  /** Media or the multivariant playlist that needed a storage read (shared reads count each waiter). */
  countCacheMiss(): void;
}

/** For the channel manager. */
export interface ChannelMetrics {
  /** Call on every state change, including the first (`idle` when a channel is defined). */
  setChannelState(channel: string, state: ChannelState): void;
  /** Drops every series labelled with this channel (call when the channel is removed). */
  removeChannel(channel: string): void;
}

/** For whoever owns the process's upload backlog (serve: the embedded origin's pending objects). */
export interface UploadBacklogMetrics {
  /** `probe` is read at every scrape: media accepted by the upload queues and not in storage yet. */
  trackUploadBacklog(probe: () => { objects: number; bytes: number }): void;
}

/** For the webhook dispatcher (`notify/webhook-dispatcher.ts`, whose `WebhookMetricsPort` this matches). */
export interface WebhookMetrics {
  countWebhookDelivery(outcome: WebhookOutcomeLabel): void;
  setWebhookQueueDepth(depth: number): void;
}

/** The `outcome` label values of `livepipe_webhook_deliveries_total`. */
export type WebhookOutcomeLabel = 'delivered' | 'retried' | 'failed' | 'dropped';
const WEBHOOK_OUTCOMES: readonly WebhookOutcomeLabel[] = ['delivered', 'retried', 'failed', 'dropped'];

export interface MetricsOptions {
  /** Collect prom-client's default process metrics (CPU, memory, event loop, GC). Default true. */
  processMetrics?: boolean;
  /** How long an idle or stopped channel keeps its series, ms (default {@link QUIET_SERIES_TTL_MS}). */
  quietSeriesTtlMs?: number;
  /** Clock for that, ms (default `Date.now`). */
  now?: () => number;
}

/** The inputs a channel can play out (`input-selector.ts`). */
const SELECTABLE_INPUTS: readonly string[] = ['primary', 'backup', 'slate'];

export class Metrics
  implements
    IngestMetrics,
    TranscoderMetrics,
    PackagerMetrics,
    StorageMetrics,
    OriginMetrics,
    ChannelMetrics,
    WebhookMetrics,
    UploadBacklogMetrics,
    NodeCapacityMetrics
{
  readonly registry = new Registry();

  private readonly ingestBitrate: Gauge<'channel'>;
  private readonly ingestAudioDelay: Gauge<'channel'>;
  private readonly ingestShed: Counter<'protocol' | 'reason'>;
  private readonly encoderFps: Gauge<'channel'>;
  private readonly encoderSpeed: Gauge<'channel'>;
  private readonly transcoderRestarts: Counter<'channel'>;
  private readonly activeInput: Gauge<'channel' | 'input'>;
  private readonly inputHealthy: Gauge<'channel' | 'input'>;
  private readonly inputSwitches: Counter<'channel' | 'from' | 'to'>;
  private readonly transcoderCrashLooping: Gauge<'channel'>;
  private readonly edgeLag: Gauge<'channel'>;
  private readonly channelBehind: Gauge<'channel'>;
  private readonly ladderAdjustment: Gauge<'channel' | 'adjustment'>;
  private readonly admissionRefusals: Counter<'reason'>;
  private nodeCapacity: (() => { capacityCores?: number; usedCores?: number }) | undefined;
  private readonly parts: Counter<'channel' | 'rendition'>;
  private readonly segments: Counter<'channel' | 'rendition'>;
  private readonly partLatency: Histogram<'channel' | 'rendition'>;
  private readonly storageDuration: Histogram<'operation'>;
  private readonly storageErrors: Counter<'operation'>;
  private readonly originRequests: Counter<'class' | 'status'>;
  private readonly heldRequests: Gauge;
  private readonly cacheHits: Counter;
  private readonly cacheMisses: Counter;
  private readonly channelState: Gauge<'channel' | 'state'>;
  private readonly channelsByState: Gauge<'state'>;
  private readonly webhookDeliveries: Counter<'outcome'>;
  private readonly webhookQueueDepth: Gauge;
  private uploadBacklog: (() => { objects: number; bytes: number }) | undefined;

  /**
   * Origin counts are plain numbers bumped on the request hot path (no label objects, no hashing) and
   * handed to prom-client when scraped: key = class index × 1000 + HTTP status (0 = not a status).
   */
  private readonly originCounts = new Map<number, number>();
  private readonly originTallies = { cacheHits: 0, cacheMisses: 0, held: 0 };

  /** Current state per channel (source of `livepipe_channels`). */
  private readonly states = new Map<string, ChannelState>();
  /** Renditions seen per channel, so that `removeChannel` can delete their exact series. */
  private readonly renditions = new Map<string, Set<string>>();
  /** Channels with series, and since when each has been idle or stopped (undefined: it keeps them). */
  private readonly withSeries = new Map<string, number | undefined>();
  private readonly quietSeriesTtlMs: number;
  private readonly now: () => number;

  constructor(options: MetricsOptions = {}) {
    const registers = [this.registry];
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.quietSeriesTtlMs = options.quietSeriesTtlMs ?? QUIET_SERIES_TTL_MS;
    this.now = options.now ?? Date.now;

    this.ingestBitrate = new Gauge({
      name: 'livepipe_ingest_bitrate_bits_per_second',
      help: 'Measured bitrate of the publisher feeding the channel, bits/s.',
      labelNames: ['channel'],
      registers,
      // The first family with channel series is collected first: quiet channels leave every family in the same scrape.
      collect: () => this.expireQuietSeries(),
    });
    this.ingestAudioDelay = new Gauge({
      name: 'livepipe_ingest_audio_delay_seconds',
      help: "How long after its video the publisher's audio arrives, s: the most over the last 5 s (SRT; an MPEG-TS muxer packing audio frames into large PES packets).",
      labelNames: ['channel'],
      registers,
    });
    this.ingestShed = new Counter({
      name: 'livepipe_ingest_connections_shed_total',
      help: 'Ingest connections closed before they authenticated, by protocol and reason (evicted, deadline, malformed, auth_failed, refused_full).',
      labelNames: ['protocol', 'reason'],
      registers,
    });
    this.encoderFps = new Gauge({
      name: 'livepipe_encoder_fps',
      help: 'Frames per second the channel encoder (one ffmpeg for the ladder) achieves.',
      labelNames: ['channel'],
      registers,
    });
    this.encoderSpeed = new Gauge({
      name: 'livepipe_encoder_speed_ratio',
      help: 'Encoder speed relative to realtime (1 = realtime; below 1 the channel falls behind).',
      labelNames: ['channel'],
      registers,
    });
    this.transcoderRestarts = new Counter({
      name: 'livepipe_transcoder_restarts_total',
      help: 'ffmpeg (re)starts of the channel ladder after the first run.',
      labelNames: ['channel'],
      registers,
    });
    this.activeInput = new Gauge({
      name: 'livepipe_channel_active_input',
      help: '1 for the input the channel is playing out (primary, backup, slate), 0 for the others.',
      labelNames: ['channel', 'input'],
      registers,
    });
    this.inputHealthy = new Gauge({
      name: 'livepipe_channel_input_healthy',
      help: '1 while the channel input delivers video (within inputLossMs), 0 when connected but silent; absent when not connected.',
      labelNames: ['channel', 'input'],
      registers,
    });
    this.inputSwitches = new Counter({
      name: 'livepipe_channel_input_switches_total',
      help: 'Switches of the channel input (primary, backup, slate), by origin and destination.',
      labelNames: ['channel', 'from', 'to'],
      registers,
    });
    this.transcoderCrashLooping = new Gauge({
      name: 'livepipe_transcoder_crash_looping',
      help: '1 while the channel encoder keeps failing fast (3+ failures in a row, still retrying), else 0.',
      labelNames: ['channel'],
      registers,
    });
    this.parts = new Counter({
      name: 'livepipe_parts_total',
      help: 'LL-HLS parts published.',
      labelNames: ['channel', 'rendition'],
      registers,
    });
    this.segments = new Counter({
      name: 'livepipe_segments_total',
      help: 'Media segments published.',
      labelNames: ['channel', 'rendition'],
      registers,
    });
    this.partLatency = new Histogram({
      name: 'livepipe_part_latency_seconds',
      help: 'Time from a part entering ingest to it being available at the origin, seconds.',
      labelNames: ['channel', 'rendition'],
      buckets: PART_LATENCY_BUCKETS,
      registers,
    });
    this.storageDuration = new Histogram({
      name: 'livepipe_storage_operation_duration_seconds',
      help: 'Duration of object storage calls, seconds (successful and failed).',
      labelNames: ['operation'],
      buckets: STORAGE_LATENCY_BUCKETS,
      registers,
    });
    this.storageErrors = new Counter({
      name: 'livepipe_storage_errors_total',
      help: 'Object storage calls that failed (after the driver retries).',
      labelNames: ['operation'],
      registers,
    });
    // The origin families are filled from plain counts at scrape time (see `originCounts`): each
    // collect() adds what was counted since the previous scrape, so the counters stay monotonic.
    const originCounts = this.originCounts;
    const reportedOrigin = new Map<number, number>();
    this.originRequests = new Counter({
      name: 'livepipe_origin_requests_total',
      help: 'Origin responses by HTTP status and what was requested.',
      labelNames: ['class', 'status'],
      registers,
      collect() {
        for (const [key, count] of originCounts) {
          const delta = count - (reportedOrigin.get(key) ?? 0);
          if (delta === 0 && reportedOrigin.has(key)) continue;
          reportedOrigin.set(key, count);
          const status = key % 1000;
          this.inc({ class: ORIGIN_REQUEST_CLASSES[Math.floor(key / 1000)]!, status: status === 0 ? 'other' : String(status) }, delta);
        }
      },
    });
    const tallies = this.originTallies;
    this.heldRequests = new Gauge({
      name: 'livepipe_origin_held_requests',
      help: 'Blocking playlist and preload-hint requests currently waiting.',
      registers,
      collect() {
        this.set(tallies.held);
      },
    });
    let reportedHits = 0;
    this.cacheHits = new Counter({
      name: 'livepipe_origin_cache_hits_total',
      help: 'Origin responses served from its in-memory cache.',
      registers,
      collect() {
        this.inc(tallies.cacheHits - reportedHits);
        reportedHits = tallies.cacheHits;
      },
    });
    let reportedMisses = 0;
    this.cacheMisses = new Counter({
      name: 'livepipe_origin_cache_misses_total',
      help: 'Origin responses that had to read storage.',
      registers,
      collect() {
        this.inc(tallies.cacheMisses - reportedMisses);
        reportedMisses = tallies.cacheMisses;
      },
    });
    this.channelState = new Gauge({
      name: 'livepipe_channel_state',
      help: 'State of each channel: 1 for its current state, 0 for the others.',
      labelNames: ['channel', 'state'],
      registers,
    });
    const states = this.states;
    this.channelsByState = new Gauge({
      name: 'livepipe_channels',
      help: 'Number of channels in each state.',
      labelNames: ['state'],
      registers,
      collect() {
        for (const state of CHANNEL_STATES) {
          let count = 0;
          for (const current of states.values()) if (current === state) count += 1;
          this.set({ state }, count);
        }
      },
    });
    this.webhookDeliveries = new Counter({
      name: 'livepipe_webhook_deliveries_total',
      help: 'Webhook deliveries by outcome: delivered (2xx), retried (an attempt failed, another follows), failed (given up), dropped (pushed out of a full queue or left at shutdown).',
      labelNames: ['outcome'],
      registers,
    });
    this.webhookQueueDepth = new Gauge({
      name: 'livepipe_webhook_queue_depth',
      help: 'Webhook events waiting for delivery, all receivers together.',
      registers,
    });
    this.edgeLag = new Gauge({
      name: 'livepipe_channel_edge_lag_seconds',
      help: 'Seconds the encoded edge of a live channel is behind the arrival of the same media (flat at realtime; growing below it).',
      labelNames: ['channel'],
      registers,
    });
    this.channelBehind = new Gauge({
      name: 'livepipe_channel_behind',
      help: '1 while the channel encoder runs below realtime (edge lag past the threshold, or slower than realtime with a growing lag), else 0.',
      labelNames: ['channel'],
      registers,
    });
    this.ladderAdjustment = new Gauge({
      name: 'livepipe_channel_ladder_adjustment',
      help: 'How far the behind-realtime policy lightened the channel ladder: adjustment="preset_steps" (x264 presets that many steps faster), "dropped_renditions" (top renditions taken off).',
      labelNames: ['channel', 'adjustment'],
      registers,
    });
    this.admissionRefusals = new Counter({
      name: 'livepipe_admission_refusals_total',
      help: 'Publishes refused because the node has no transcoding capacity for them, by reason (over-capacity, node-behind, max-channels).',
      labelNames: ['reason'],
      registers,
    });
    const capacity = () => this.nodeCapacity?.() ?? {};
    new Gauge({
      name: 'livepipe_node_capacity_cores',
      help: 'CPU cores admission may fill with ladders (cores × headroom); absent without cost-based admission.',
      registers,
      collect() {
        const cores = capacity().capacityCores;
        if (cores !== undefined) this.set(cores);
      },
    });
    new Gauge({
      name: 'livepipe_node_capacity_used_cores',
      help: 'CPU cores the running ladders cost at realtime (measured, else estimated from the benchmark).',
      registers,
      collect() {
        const used = capacity().usedCores;
        if (used !== undefined) this.set(used);
      },
    });
    const backlog = () => this.uploadBacklog?.() ?? { objects: 0, bytes: 0 };
    new Gauge({
      name: 'livepipe_upload_queued_objects',
      help: 'Media (parts, segments, init segments) accepted by the upload queues and not in storage yet; the origin serves them from memory meanwhile.',
      registers,
      collect() {
        this.set(backlog().objects);
      },
    });
    new Gauge({
      name: 'livepipe_upload_queued_bytes',
      help: 'Bytes of the media accepted by the upload queues and not in storage yet.',
      registers,
      collect() {
        this.set(backlog().bytes);
      },
    });
    // Known label sets start at zero so that rate() and absent() queries see them from the start.
    for (const outcome of WEBHOOK_OUTCOMES) this.webhookDeliveries.inc({ outcome }, 0);
    for (const reason of ADMISSION_REFUSALS) this.admissionRefusals.inc({ reason }, 0);
    for (const operation of STORAGE_OPERATIONS) {
      this.storageErrors.inc({ operation }, 0);
    }
    for (const state of CHANNEL_STATES) this.channelsByState.set({ state }, 0);
    this.cacheHits.inc(0);
    this.cacheMisses.inc(0);
  }

  /** The exposition text and its content type, for `GET /metrics`. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  setIngestBitrate(channel: string, bitsPerSecond: number): void {
    if (!isValidId(channel) || !Number.isFinite(bitsPerSecond)) return;
    this.noteSeries(channel);
    this.ingestBitrate.set({ channel }, bitsPerSecond);
  }

  setIngestAudioDelay(channel: string, seconds: number): void {
    if (!isValidId(channel) || !Number.isFinite(seconds)) return;
    this.noteSeries(channel);
    this.ingestAudioDelay.set({ channel }, seconds);
  }

  countIngestConnectionShed(protocol: 'rtmp' | 'srt', reason: string): void {
    if ((protocol !== 'rtmp' && protocol !== 'srt') || !INGEST_SHED_REASONS.includes(reason)) return;
    this.ingestShed.inc({ protocol, reason });
  }

  setEncoderProgress(channel: string, progress: { fps?: number; speed?: number }): void {
    if (!isValidId(channel)) return;
    this.noteSeries(channel);
    if (progress.fps !== undefined && Number.isFinite(progress.fps)) this.encoderFps.set({ channel }, progress.fps);
    if (progress.speed !== undefined && Number.isFinite(progress.speed)) this.encoderSpeed.set({ channel }, progress.speed);
  }

  countTranscoderRestart(channel: string): void {
    if (!isValidId(channel)) return;
    this.noteSeries(channel);
    this.transcoderRestarts.inc({ channel });
  }

  setTranscoderCrashLooping(channel: string, crashLooping: boolean): void {
    if (!isValidId(channel)) return;
    this.transcoderCrashLooping.set({ channel }, crashLooping ? 1 : 0);
  }

  setChannelRealtime(channel: string, realtime: { edgeLagSeconds: number | undefined; behind: boolean }): void {
    if (!isValidId(channel)) return;
    if (realtime.edgeLagSeconds === undefined) {
      this.edgeLag.remove({ channel });
      this.channelBehind.remove({ channel });
      return;
    }
    this.noteSeries(channel);
    if (Number.isFinite(realtime.edgeLagSeconds)) this.edgeLag.set({ channel }, realtime.edgeLagSeconds);
    this.channelBehind.set({ channel }, realtime.behind ? 1 : 0);
  }

  setChannelLadderAdjustment(channel: string, adjustment: { presetSteps: number; droppedRenditions: number }): void {
    this.noteSeries(channel);
    this.ladderAdjustment.set({ channel, adjustment: 'preset_steps' }, adjustment.presetSteps);
    this.ladderAdjustment.set({ channel, adjustment: 'dropped_renditions' }, adjustment.droppedRenditions);
  }

  countAdmissionRefusal(reason: string): void {
    if (ADMISSION_REFUSALS.includes(reason)) this.admissionRefusals.inc({ reason });
  }

  trackNodeCapacity(probe: () => { capacityCores?: number; usedCores?: number }): void {
    this.nodeCapacity = probe;
  }

  setActiveInput(channel: string, active: string): void {
    if (!isValidId(channel)) return;
    this.noteSeries(channel);
    for (const input of SELECTABLE_INPUTS) this.activeInput.set({ channel, input }, input === active ? 1 : 0);
  }

  setInputHealth(channel: string, role: 'primary' | 'backup', healthy: boolean | undefined): void {
    if (!isValidId(channel)) return;
    if (healthy === undefined) this.inputHealthy.remove({ channel, input: role });
    else this.inputHealthy.set({ channel, input: role }, healthy ? 1 : 0);
  }

  countInputSwitch(channel: string, from: string, to: string): void {
    if (!isValidId(channel) || !SELECTABLE_INPUTS.includes(from) || !SELECTABLE_INPUTS.includes(to)) return;
    this.noteSeries(channel);
    this.inputSwitches.inc({ channel, from, to });
  }

  countPart(channel: string, rendition: string): void {
    if (this.track(channel, rendition)) this.parts.inc({ channel, rendition });
  }

  countSegment(channel: string, rendition: string): void {
    if (this.track(channel, rendition)) this.segments.inc({ channel, rendition });
  }

  observePartLatency(channel: string, rendition: string, seconds: number): void {
    if (!Number.isFinite(seconds) || seconds < 0) return;
    if (this.track(channel, rendition)) this.partLatency.observe({ channel, rendition }, seconds);
  }

  observeStorageOperation(operation: StorageOperation, seconds: number, ok: boolean): void {
    if (!STORAGE_OPERATIONS.includes(operation)) return;
    if (Number.isFinite(seconds) && seconds >= 0) this.storageDuration.observe({ operation }, seconds);
    if (!ok) this.storageErrors.inc({ operation });
  }

  /** Hot path (every origin response): two array/map lookups and an integer add, nothing allocated. */
  countOriginRequest(requestClass: OriginRequestClass, status: number): void {
    let cls = ORIGIN_REQUEST_CLASSES.indexOf(requestClass);
    if (cls === -1) cls = ORIGIN_REQUEST_CLASSES.length - 1; // 'other'
    // Only real HTTP status codes become label values: the set stays small and fixed.
    const code = Number.isInteger(status) && status >= 100 && status <= 599 ? status : 0;
    const key = cls * 1000 + code;
    this.originCounts.set(key, (this.originCounts.get(key) ?? 0) + 1);
  }

  trackHeldRequest(): () => void {
    this.originTallies.held += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.originTallies.held -= 1;
    };
  }

  countCacheHit(): void {
    this.originTallies.cacheHits += 1;
  }

  countCacheMiss(): void {
    this.originTallies.cacheMisses += 1;
  }

  trackUploadBacklog(probe: () => { objects: number; bytes: number }): void {
    this.uploadBacklog = probe;
  }

  countWebhookDelivery(outcome: WebhookOutcomeLabel): void {
    if (WEBHOOK_OUTCOMES.includes(outcome)) this.webhookDeliveries.inc({ outcome });
  }

  setWebhookQueueDepth(depth: number): void {
    if (Number.isFinite(depth) && depth >= 0) this.webhookQueueDepth.set(depth);
  }

  setChannelState(channel: string, state: ChannelState): void {
    if (!isValidId(channel) || !CHANNEL_STATES.includes(state)) return;
    this.states.set(channel, state);
    // A channel that was not live recently gets no series for being defined, idle or stopped.
    if (!SERIES_STATES.includes(state) && !this.withSeries.has(channel)) return;
    this.noteSeries(channel);
    for (const candidate of CHANNEL_STATES) this.channelState.set({ channel, state: candidate }, candidate === state ? 1 : 0);
  }

  removeChannel(channel: string): void {
    this.states.delete(channel);
    this.removeSeries(channel);
  }

  /** Removes the series of channels idle or stopped for longer than the TTL (called when scraped). */
  private expireQuietSeries(): void {
    const cutoff = this.now() - this.quietSeriesTtlMs;
    for (const [channel, quietSince] of this.withSeries) {
      if (quietSince !== undefined && quietSince <= cutoff) this.removeSeries(channel);
    }
  }

  /** Records that `channel` has series, and whether its state keeps them (else: quiet since when). */
  private noteSeries(channel: string): void {
    const state = this.states.get(channel);
    const keeps = state !== undefined && SERIES_STATES.includes(state);
    const quietSince = this.withSeries.get(channel);
    this.withSeries.set(channel, keeps ? undefined : (quietSince ?? this.now()));
  }

  private removeSeries(channel: string): void {
    this.withSeries.delete(channel);
    for (const state of CHANNEL_STATES) this.channelState.remove({ channel, state });
    this.ingestBitrate.remove({ channel });
    this.ingestAudioDelay.remove({ channel });
    this.transcoderRestarts.remove({ channel });
    this.transcoderCrashLooping.remove({ channel });
    for (const input of SELECTABLE_INPUTS) {
      this.activeInput.remove({ channel, input });
      this.inputHealthy.remove({ channel, input });
      for (const to of SELECTABLE_INPUTS) this.inputSwitches.remove({ channel, from: input, to });
    }
    this.encoderFps.remove({ channel });
    this.encoderSpeed.remove({ channel });
    this.edgeLag.remove({ channel });
    this.channelBehind.remove({ channel });
    for (const adjustment of ['preset_steps', 'dropped_renditions']) this.ladderAdjustment.remove({ channel, adjustment });
    for (const rendition of this.renditions.get(channel) ?? []) {
      const labels = { channel, rendition };
      this.parts.remove(labels);
      this.segments.remove(labels);
      this.partLatency.remove(labels);
    }
    this.renditions.delete(channel);
  }

  /** Records that a (channel, rendition) pair has series; false when either id is not a valid id. */
  private track(channel: string, rendition: string): boolean {
    if (!isValidId(channel) || !isValidId(rendition)) return false;
    this.noteSeries(channel);
    let set = this.renditions.get(channel);
    if (set === undefined) this.renditions.set(channel, (set = new Set()));
    set.add(rendition);
    return true;
  }
}

/** Times an async storage call into `observeStorageOperation` (rethrows its error). */
export async function timeStorageOperation<T>(
  metrics: StorageMetrics,
  operation: StorageOperation,
  call: () => Promise<T>,
): Promise<T> {
  const started = process.hrtime.bigint();
  let ok = false;
  try {
    const result = await call();
    ok = true;
    return result;
  } finally {
    metrics.observeStorageOperation(operation, Number(process.hrtime.bigint() - started) / 1e9, ok);
  }
}

/**
 * Deletes a channel's series when the channel registry removes the channel, so that dashboards do not
 * keep showing a deleted channel's last values. Returns the unsubscribe function.
 */
export function removeSeriesOnChannelRemoval(
  registry: { onChange(listener: (change: { type: string; channel: { id: string } }) => void): () => void },
  metrics: Pick<ChannelMetrics, 'removeChannel'>,
): () => void {
  return registry.onChange((change) => {
    if (change.type === 'removed') metrics.removeChannel(change.channel.id);
  });
}
