import { Redis } from 'ioredis';
import { errorMessage } from '../core/errors.js';
import { isValidId } from '../core/ids.js';
import type { Logger } from '../core/logger.js';
import { lastPosition, type MediaPlaylist } from '../hls/playlist-model.js';
import { redactRedisUrl, redisClientOptions } from './redis-connection.js';

/**
 * Playlist notifications: the writer of a channel (the `serve` node holding its lease) tells every
 * standalone origin that a media playlist was stored, over Redis pub/sub, so that origins read it at
 * once instead of polling storage every PART-TARGET/4 (docs/cluster.md, "Origins").
 *
 * ```
 *  packager ─putLatest(playlist) stored─▶ PlaylistNotificationPublisher ─PUBLISH livepipe:playlists─▶ Redis
 *  Redis ─message─▶ PlaylistNotificationSubscriber ─onNotification─▶ origin: conditional GET of that playlist
 * ```
 *
 * Pub/sub is at-most-once: a message sent while an origin is disconnected is lost. So an origin
 * that is not subscribed (Redis unreachable, or just reconnected) polls as it did without a cluster,
 * and reads every watched playlist once when the subscription is back (`onStateChange('notified')`).
 *
 * The message is one small JSON object (`encodePlaylistNotification`), pure functions below; the two
 * classes are thin over an ioredis client each (a subscribed connection can do nothing else), both
 * configured by `redisClientOptions` (`redis-connection.ts`), as the cluster's command connection is.
 */

/** The Redis pub/sub channel every writer publishes on and every origin subscribes to. */
export const PLAYLIST_NOTIFICATIONS_CHANNEL = 'livepipe:playlists';

/** One stored media playlist: `live/{channel}/{rendition}/playlist.m3u8` now holds (msn, part). */
export interface PlaylistNotification {
  channel: string;
  rendition: string;
  /** Media sequence number of the last part the stored playlist names (-1: none yet). */
  msn: number;
  /** Index of that part in its segment (-1: a segment without parts, or none yet). */
  part: number;
  /** The playlist carries EXT-X-ENDLIST. */
  ended: boolean;
  /** The writer's fencing epoch for the channel, when it holds a lease (cluster leases). */
  epoch?: number;
  /** When the writer published it, ms since the Unix epoch (its clock): the receiver's lag. */
  publishedAt: number;
  /**
   * The stored playlist's text itself (what the PUT just stored), when it is at most
   * `MAX_CARRIED_PLAYLIST_BYTES`: an origin answers held requests from it without reading storage.
   */
  playlist?: string;
}

/**
 * Largest playlist text a notification carries (64 KiB). A live LL-HLS media playlist is a few KB
 * (parts are listed for the last 3 target durations only); a long DVR window can exceed this, and
 * its notification then carries the position only, as before (the origin reads storage).
 */
export const MAX_CARRIED_PLAYLIST_BYTES = 64 * 1024;

/** Why a message was not taken (counted by the subscriber, never thrown). */
export type MalformedReason = 'not-json' | 'not-an-object' | 'bad-field';

/**
 * The wire form: short keys, one line of JSON (~90 bytes, plus the playlist text in `b` when
 * carried), `v` for the format's version. `b` is optional: a subscriber of an older release ignores it.
 */
export function encodePlaylistNotification(n: PlaylistNotification): string {
  return JSON.stringify({
    v: 1,
    c: n.channel,
    r: n.rendition,
    m: n.msn,
    p: n.part,
    ...(n.ended ? { x: 1 } : {}),
    ...(n.epoch !== undefined ? { e: n.epoch } : {}),
    t: n.publishedAt,
    ...(n.playlist !== undefined ? { b: n.playlist } : {}),
  });
}

/**
 * Pure: the notification in `text`, or why it is not one. Anything another version or another
 * program might put on the channel is refused field by field (ids as the registry accepts them,
 * integers in range), so a stray message can neither name an arbitrary storage key nor throw.
 */
export function decodePlaylistNotification(text: string): { notification: PlaylistNotification } | { malformed: MalformedReason } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { malformed: 'not-json' };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { malformed: 'not-an-object' };
  const o = raw as Record<string, unknown>;
  const position = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= -1;
  if (
    o.v !== 1 ||
    typeof o.c !== 'string' ||
    !isValidId(o.c) ||
    typeof o.r !== 'string' ||
    !isValidId(o.r) ||
    !position(o.m) ||
    !position(o.p) ||
    (o.x !== undefined && o.x !== 1) ||
    (o.e !== undefined && !(Number.isSafeInteger(o.e) && (o.e as number) >= 0)) ||
    typeof o.t !== 'number' ||
    !Number.isFinite(o.t) ||
    o.t < 0 ||
    (o.b !== undefined && (typeof o.b !== 'string' || Buffer.byteLength(o.b) > MAX_CARRIED_PLAYLIST_BYTES))
  ) {
    return { malformed: 'bad-field' };
  }
  return {
    notification: {
      channel: o.c,
      rendition: o.r,
      msn: o.m,
      part: o.p,
      ended: o.x === 1,
      ...(o.e !== undefined ? { epoch: o.e as number } : {}),
      publishedAt: o.t,
      ...(o.b !== undefined ? { playlist: o.b as string } : {}),
    },
  };
}

/** What the packager side calls (`PlaylistStoredSink` in src/app/channel-pipeline.ts has the same shape). */
export interface PlaylistNotificationPublisherOptions {
  /** `redis://…` / `rediss://…` (the `cluster.redis` setting). */
  url: string;
  logger: Logger;
  /** The channel's fencing epoch while this node holds its lease; unset: no epoch in the messages. */
  epochOf?: (channel: string) => number | undefined;
  metrics?: { countPlaylistNotificationPublished(ok: boolean): void };
  /** Clock, ms since the Unix epoch; default `Date.now`. */
  now?: () => number;
}

/**
 * The writer's side: one PUBLISH per stored media playlist version, carrying the stored text. Never awaited by the packager and
 * never queued: while Redis is unreachable notifications are dropped (and counted), and origins poll.
 * A version is published once: `putLatest` resolves an older version's waiters when a newer one is
 * stored, so the same or an older position can come again and is skipped.
 */
export class PlaylistNotificationPublisher {
  private readonly client: Redis;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly lastSent = new Map<string, { msn: number; part: number; ended: boolean }>();
  private failing = false;
  private closed = false;

  constructor(private readonly options: PlaylistNotificationPublisherOptions) {
    this.logger = options.logger.child({ component: 'playlist-notifications', role: 'publisher' });
    this.now = options.now ?? Date.now;
    this.client = new Redis(options.url, redisClientOptions({ connectionName: 'livepipe-playlist-publisher' }));
    this.client.on('error', (err: Error) => this.onFailure(err));
    this.client.on('ready', () => {
      this.logger.info({ redis: redactRedisUrl(options.url) }, 'playlist notifications: connected to redis');
      this.failing = false;
    });
  }

  /** Connects in the background: serve starts (and writes) whether or not Redis answers yet. */
  async start(): Promise<void> {
    this.client.connect().catch((err: unknown) => this.onFailure(err));
  }

  /**
   * The `PlaylistStoredSink` of the packagers: `model` is the version now in storage; `stored`, when
   * given, is that version's text and position as written (the model object may have grown since:
   * the carried text must be exactly what storage holds, never a part it does not have yet).
   */
  playlistStored(channel: string, rendition: string, model: MediaPlaylist, stored?: { text: string; msn: number; part: number; ended: boolean }): void {
    if (this.closed) return;
    const { msn, part } = stored ?? lastPosition(model);
    const ended = stored?.ended ?? model.endList;
    const key = `${channel}/${rendition}`;
    const last = this.lastSent.get(key);
    if (last !== undefined && last.ended === ended && (msn < last.msn || (msn === last.msn && part <= last.part))) return;
    this.lastSent.set(key, { msn, part, ended });
    if (this.client.status !== 'ready') {
      this.options.metrics?.countPlaylistNotificationPublished(false);
      return;
    }
    const epoch = this.options.epochOf?.(channel);
    // The text storage now holds: origins answer from it at once. Without it, only the position goes.
    const playlist = stored?.text;
    const carried = playlist !== undefined && Buffer.byteLength(playlist) <= MAX_CARRIED_PLAYLIST_BYTES ? { playlist } : {};
    const text = encodePlaylistNotification({ channel, rendition, msn, part, ended, ...(epoch !== undefined ? { epoch } : {}), publishedAt: this.now(), ...carried });
    this.client.publish(PLAYLIST_NOTIFICATIONS_CHANNEL, text).then(
      () => this.options.metrics?.countPlaylistNotificationPublished(true),
      (err: unknown) => {
        this.options.metrics?.countPlaylistNotificationPublished(false);
        this.onFailure(err);
      },
    );
  }

  /** Forgets a channel's positions (its playlists may start again from a lower MSN). */
  forgetChannel(channel: string): void {
    for (const key of this.lastSent.keys()) if (key.startsWith(`${channel}/`)) this.lastSent.delete(key);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.client.disconnect();
  }

  private onFailure(err: unknown): void {
    if (this.failing || this.closed) return;
    this.failing = true;
    this.logger.warn({ redis: redactRedisUrl(this.options.url), err: errorMessage(err) }, 'playlist notifications: redis unreachable, origins poll storage meanwhile');
  }
}

/** `notified`: subscribed, notifications arrive. `polling`: Redis unreachable (or not yet reached). */
export type NotificationState = 'notified' | 'polling';

export interface PlaylistNotificationSubscriberOptions {
  url: string;
  logger: Logger;
  /** A valid notification arrived. Must not throw. */
  onNotification(notification: PlaylistNotification): void;
  /** Called on every change of state (the subscriber starts in `polling`). Must not throw. */
  onStateChange(state: NotificationState): void;
  metrics?: {
    countPlaylistNotificationReceived(ok: boolean): void;
    observePlaylistNotificationLag(seconds: number): void;
  };
  /** PING on the subscribed connection this often, ms, to notice a Redis that stopped answering; default 1000. */
  pingIntervalMs?: number;
  now?: () => number;
}

/**
 * The origin's side: one subscribed connection. It is `notified` from the moment SUBSCRIBE is
 * acknowledged until the connection closes or a PING goes unanswered for the command timeout (a
 * frozen Redis keeps its sockets open); then `polling` until it is subscribed again.
 */
export class PlaylistNotificationSubscriber {
  private readonly client: Redis;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly pingIntervalMs: number;
  private pinger: NodeJS.Timeout | undefined;
  private current: NotificationState = 'polling';
  private closed = false;
  private warned = false;
  /** Valid notifications received (tests, readiness). */
  received = 0;
  /** Messages refused (tests). */
  malformed = 0;

  constructor(private readonly options: PlaylistNotificationSubscriberOptions) {
    this.logger = options.logger.child({ component: 'playlist-notifications', role: 'subscriber' });
    this.now = options.now ?? Date.now;
    this.pingIntervalMs = options.pingIntervalMs ?? 1000;
    this.client = new Redis(options.url, redisClientOptions({ connectionName: 'livepipe-origin-subscriber', autoResubscribe: false }));
    this.client.on('error', (err: Error) => this.onFailure(err));
    this.client.on('close', () => this.setState('polling'));
    this.client.on('ready', () => void this.subscribe());
    this.client.on('message', (_channel: string, message: string) => this.onMessage(message));
  }

  get state(): NotificationState {
    return this.current;
  }

  /** Connects in the background: the origin serves (polling) whether or not Redis answers. */
  async start(): Promise<void> {
    this.client.connect().catch((err: unknown) => this.onFailure(err));
    this.pinger = setInterval(() => void this.ping(), this.pingIntervalMs);
    this.pinger.unref();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.pinger);
    this.client.disconnect();
  }

  private async subscribe(): Promise<void> {
    try {
      await this.client.subscribe(PLAYLIST_NOTIFICATIONS_CHANNEL);
    } catch (err) {
      this.onFailure(err);
      this.client.disconnect(true);
      return;
    }
    if (this.warned) this.logger.info({ redis: redactRedisUrl(this.options.url) }, 'playlist notifications: subscribed again, polling stops');
    else this.logger.info({ redis: redactRedisUrl(this.options.url) }, 'playlist notifications: subscribed');
    this.warned = false;
    this.setState('notified');
  }

  private async ping(): Promise<void> {
    if (this.closed || this.current !== 'notified') return;
    try {
      await this.client.ping();
    } catch (err) {
      if (this.closed) return;
      this.onFailure(err);
      this.setState('polling');
      // A fresh connection: the subscription comes back with it once Redis answers again.
      this.client.disconnect(true);
    }
  }

  private onMessage(message: string): void {
    const decoded = decodePlaylistNotification(message);
    if ('malformed' in decoded) {
      this.malformed += 1;
      this.options.metrics?.countPlaylistNotificationReceived(false);
      return;
    }
    this.received += 1;
    this.options.metrics?.countPlaylistNotificationReceived(true);
    // Publisher and subscriber clocks differ across machines: a negative lag is skew, recorded as 0.
    this.options.metrics?.observePlaylistNotificationLag(Math.max(0, this.now() - decoded.notification.publishedAt) / 1000);
    this.options.onNotification(decoded.notification);
  }

  private setState(state: NotificationState): void {
    if (this.closed || state === this.current) return;
    this.current = state;
    this.options.onStateChange(state);
  }

  private onFailure(err: unknown): void {
    if (this.closed || this.warned) return;
    this.warned = true;
    this.logger.warn({ redis: redactRedisUrl(this.options.url), err: errorMessage(err) }, 'playlist notifications: redis unreachable, polling storage until it is back');
  }
}
