import type { Readable } from 'node:stream';
import { LivepipeEvent, type EventBus } from '../core/event-bus.js';
import type { Logger } from '../core/logger.js';

export type IngestProtocol = 'rtmp' | 'srt';
export type IngestFormat = 'flv' | 'mpegts';
/**
 * Which of a channel's inputs a feed is: its `primary` (every publish by default) or its `backup`
 * (RTMP `?key=…&role=backup`; see `input-selector.ts`). One publisher per channel and role.
 */
export type InputRole = 'primary' | 'backup';

/**
 * Why a publish ended; carried by `PublishEnded.reason`. The channel manager decides what follows
 * (grace period, reconnect window, stopping the transcoder).
 * - `disconnect`: the publisher closed the connection (or the network dropped it).
 * - `kicked`: an operator (or the channel manager) called `kick(channel)`.
 * - `error`: the publisher sent something livepipe could not parse, or the ingest process failed.
 * - `unusable`: the publisher's media cannot make a channel (no video, see `video-presence.ts`); the
 *   end's `detail` says what is wrong. Unlike `error`, retrying the same feed cannot help.
 * - `shutdown`: livepipe is stopping.
 */
export type PublishEndReason = 'disconnect' | 'kicked' | 'error' | 'unusable' | 'shutdown';

/** Listener of a feed's end: the reason, and for `unusable` what is wrong with the media. */
export type PublishEndListener = (reason: PublishEndReason, detail?: string) => void;

/** What is known about the publisher of a live feed (for the ops API and logs). */
export interface PublisherInfo {
  channel: string;
  protocol: IngestProtocol;
  format: IngestFormat;
  /** `ip:port` of the publisher when the protocol tells it (RTMP does; the SRT listener ffmpeg does not). */
  remoteAddress?: string;
  /** When the publish started (ISO 8601). */
  since: string;
  video?: { codec: string; width?: number; height?: number; frameRate?: number };
  audio?: { codec: string; sampleRate?: number; channels?: number };
  /**
   * Jumps of the publisher's timestamps (forward or backward) that ingest smoothed over since the
   * publish started (RTMP; see `flv-timestamp-rebaser.ts`). SRT jumps are corrected by ffmpeg.
   */
  timestampJumps?: number;
  /** Bytes received since the publish started. */
  bytesIn: number;
  /** When the publisher last sent anything (ISO 8601). */
  lastDataAt: string;
  /** Ingest bitrate measured over the last few seconds, in bits per second. */
  bitrateBps: number;
  /** Consumers currently reading the feed (transcoder runs). */
  consumers: number;
  /**
   * The longest the publisher's audio arrived after its video over the last 5 s, s (SRT: MPEG-TS
   * muxers may pack audio frames into large PES packets; `audio-lateness.ts`). Absent without audio.
   */
  audioDelaySeconds?: number;
}

/**
 * An ad cue carried in the publisher's own stream: a SCTE-35 splice_info_section in MPEG-TS (SRT), or
 * a cue message in RTMP data (`onCuePoint`, `onAdCue`…). The channel turns it into an EXT-X-DATERANGE
 * at the first segment boundary at or after `at`, as it does for the ops API's cues.
 */
export interface IngestCue {
  kind: 'out' | 'in';
  /** The splice instant, epoch ms: the splice time mapped onto the feed's arrival clock, or when it arrived. */
  at: number;
  /** splice_event_id / segmentation_event_id: an in closes the out with the same id. */
  eventId?: number;
  /** Out: the announced break length, seconds. */
  durationSeconds?: number;
  /** The splice_info_section as the publisher sent it (SCTE-35), for SCTE35-OUT / SCTE35-IN. */
  section?: Uint8Array;
  source: 'scte35' | 'rtmp-data';
}

export type IngestCueListener = (cue: IngestCue) => void;

/**
 * One live contribution feed, whatever the protocol. The transcoder supervisor calls `open()` once per
 * ffmpeg run and pipes the Readable into ffmpeg's stdin with `-f {format} -i pipe:0`.
 */
export interface IngestFeed {
  readonly channel: string;
  readonly protocol: IngestProtocol;
  readonly format: IngestFormat;
  /** Which input of its channel this feed is; absent = `primary`. */
  readonly role?: InputRole;
  /**
   * A new Readable of the live bytes, starting at a point a demuxer can start from: for FLV the file
   * header, onMetaData, the sequence headers and the media from the most recent keyframe; for
   * MPEG-TS the next PAT. Ends when the publish ends; opening an ended feed gives an empty stream.
   * Destroy it to stop consuming. A consumer that falls more than its buffer limit behind skips to
   * the next keyframe (FLV) rather than growing memory.
   */
  open(): Readable;
  info(): PublisherInfo;
  /** Calls `listener` once when the publish ends (at once, asynchronously, if it already has). */
  onEnd(listener: PublishEndListener): () => void;
  /** Calls `listener` with every ad cue the publisher's stream carries (optional: feeds without cues). */
  onCue?(listener: IngestCueListener): () => void;
  readonly ended: boolean;
}

/** Bytes-per-second over a sliding window of one-second buckets; default window 5 s. */
export class RateMeter {
  private readonly buckets: Array<{ second: number; bytes: number }> = [];
  total = 0;
  /** Clock time of the last `add` (or of construction). */
  lastAt: number;

  constructor(
    private readonly windowSeconds = 5,
    private readonly now: () => number = Date.now,
  ) {
    this.lastAt = now();
  }

  add(bytes: number): void {
    this.total += bytes;
    this.lastAt = this.now();
    const second = Math.floor(this.now() / 1000);
    const last = this.buckets[this.buckets.length - 1];
    if (last !== undefined && last.second === second) last.bytes += bytes;
    else this.buckets.push({ second, bytes });
    while (this.buckets.length > this.windowSeconds + 1) this.buckets.shift();
  }

  /** Average bits per second over the complete seconds of the window (the current second is partial). */
  bitsPerSecond(): number {
    const current = Math.floor(this.now() / 1000);
    const from = current - this.windowSeconds;
    let bytes = 0;
    let firstSecond = current;
    for (const b of this.buckets) {
      if (b.second >= from && b.second < current) {
        bytes += b.bytes;
        firstSecond = Math.min(firstSecond, b.second);
      }
    }
    const seconds = current - firstSecond;
    return seconds > 0 ? Math.round((bytes * 8) / seconds) : 0;
  }
}

/**
 * Common lifecycle of a live feed: end listeners, kick, end-once. Protocol feeds extend it and call
 * `finish(reason)` when their publisher goes away.
 */
export abstract class LiveFeedBase implements IngestFeed {
  private endReason: PublishEndReason | undefined;
  private endDetail: string | undefined;
  private readonly endListeners = new Set<PublishEndListener>();
  private readonly cueListeners = new Set<IngestCueListener>();

  constructor(
    readonly channel: string,
    readonly protocol: IngestProtocol,
    readonly format: IngestFormat,
    readonly role: InputRole = 'primary',
  ) {}

  abstract open(): Readable;
  abstract info(): PublisherInfo;
  /**
   * Disconnects the publisher; the protocol then calls `finish('kicked')`. With `refusal`, the
   * publisher is told why first where its protocol can (RTMP: an error `onStatus`, which encoders
   * show; an SRT connection that is up has no way to carry a reason: the listener logs it).
   */
  abstract kick(refusal?: string): void;

  get ended(): boolean {
    return this.endReason !== undefined;
  }

  onEnd(listener: PublishEndListener): () => void {
    if (this.endReason !== undefined) {
      const reason = this.endReason;
      const detail = this.endDetail;
      queueMicrotask(() => listener(reason, detail));
      return () => {};
    }
    this.endListeners.add(listener);
    return () => this.endListeners.delete(listener);
  }

  onCue(listener: IngestCueListener): () => void {
    this.cueListeners.add(listener);
    return () => this.cueListeners.delete(listener);
  }

  /** Hands a cue from the publisher's stream to the listeners (none after the end). */
  protected emitCue(cue: IngestCue): void {
    if (this.endReason !== undefined) return;
    for (const l of [...this.cueListeners]) l(cue);
  }

  /** Marks the feed ended (first reason wins) and tells the listeners. Idempotent. */
  protected finish(reason: PublishEndReason, detail?: string): void {
    if (this.endReason !== undefined) return;
    this.endReason = reason;
    this.endDetail = detail;
    for (const l of [...this.endListeners]) l(reason, detail);
    this.endListeners.clear();
    this.cueListeners.clear();
  }
}

/**
 * The live feeds of this node, one per channel whatever the protocol, and the one place that emits
 * `PublishStarted` / `PublishEnded` (and, for ingest's refusals, `PublishRefused`). Enforces one
 * publisher per channel and input role across RTMP and SRT.
 */
export class IngestFeedRegistry {
  private readonly feeds = new Map<string, LiveFeedBase>();
  private readonly log: Logger;

  constructor(
    private readonly bus: EventBus,
    logger: Logger,
  ) {
    this.log = logger.child({ component: 'ingest-feeds' });
  }

  /** The live feed of a channel's input `role` (default the primary), if one is publishing. */
  get(channel: string, role: InputRole = 'primary'): IngestFeed | undefined {
    return this.feeds.get(feedKey(channel, role));
  }

  list(): IngestFeed[] {
    return [...this.feeds.values()];
  }

  /** Who holds the channel now, if anyone (to refuse a second publisher with a clear message). */
  holder(channel: string, role: InputRole = 'primary'): PublisherInfo | undefined {
    return this.feeds.get(feedKey(channel, role))?.info();
  }

  /**
   * Makes `feed` the channel's live feed and emits `PublishStarted`. Returns false (and changes
   * nothing) if the channel already has a live publisher.
   */
  add(feed: LiveFeedBase, remoteAddress?: string): boolean {
    const key = feedKey(feed.channel, feed.role);
    if (this.feeds.has(key)) return false;
    this.feeds.set(key, feed);
    feed.onEnd((reason, detail) => {
      if (this.feeds.get(key) === feed) this.feeds.delete(key);
      const fields = { channel: feed.channel, protocol: feed.protocol, role: feed.role, reason, ...(detail !== undefined ? { detail } : {}) };
      if (reason === 'unusable') this.log.warn(fields, 'publish refused: unusable media');
      else this.log.info(fields, 'publish ended');
      this.bus.emit(LivepipeEvent.PublishEnded, fields);
    });
    this.log.info({ channel: feed.channel, protocol: feed.protocol, role: feed.role, remoteAddress }, 'publish started');
    const payload: { channel: string; protocol: IngestProtocol; role: InputRole; remoteAddress?: string } = { channel: feed.channel, protocol: feed.protocol, role: feed.role };
    if (remoteAddress !== undefined) payload.remoteAddress = remoteAddress;
    this.bus.emit(LivepipeEvent.PublishStarted, payload);
    return true;
  }

  /**
   * A publish to `channel` was refused before it started (wrong key, unknown channel, busy): emits
   * `PublishRefused`. The caller logs why; `reason` is a short code, never the key.
   */
  refused(channel: string, protocol: IngestProtocol, reason: string, remoteAddress?: string): void {
    this.bus.emit(LivepipeEvent.PublishRefused, { channel, protocol, reason, ...(remoteAddress !== undefined ? { remoteAddress } : {}) });
  }

  /**
   * Disconnects the channel's publisher of input `role` (default: every input of the channel);
   * `PublishEnded` follows with reason `kicked`. `refusal`: why, told to the publisher where the
   * protocol can (see `LiveFeedBase.kick`). False if none.
   */
  kick(channel: string, role?: InputRole, refusal?: string): boolean {
    let kicked = false;
    for (const r of role !== undefined ? [role] : (['primary', 'backup'] as const)) {
      const feed = this.feeds.get(feedKey(channel, r));
      if (feed === undefined) continue;
      this.log.info({ channel, protocol: feed.protocol, role: r, ...(refusal !== undefined ? { refusal } : {}) }, 'kicking publisher');
      feed.kick(refusal);
      kicked = true;
    }
    return kicked;
  }
}

function feedKey(channel: string, role: InputRole): string {
  return role === 'primary' ? channel : `${channel}\u0000${role}`;
}
