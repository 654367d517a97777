import type { Logger } from '../core/logger.js';
import { ErrorCode, LivepipeError, errorMessage } from '../core/errors.js';
import { lastPosition } from '../hls/playlist-model.js';
import type { ObjectStorage } from '../storage/object-storage.js';
import {
  playlistKey,
  type OriginSource,
  type ParsePlaylist,
  type PlaylistListener,
  type PlaylistSnapshot,
} from './origin-source.js';

/**
 * The origin's view of the playlists when it runs on its own (`livepipe origin --data-dir …` or
 * `--storage s3://…`), reading what a packager elsewhere writes.
 *
 * It learns of changes by conditional GETs (`ifNoneMatch` = last ETag; an unchanged playlist costs a
 * 304-sized answer, not a body or a parse), and only for playlists someone cares about: a playlist
 * is watched while requests wait on it or while it was requested in the last `interestWindowMs`;
 * after that its entry is dropped and the next request reads it afresh. Nothing is watched for
 * channels nobody plays.
 *
 * Poll interval: PART-TARGET / 4, bounded to [`minPollIntervalMs`, `maxPollIntervalMs`]
 * (defaults 50 ms and 500 ms; 250 ms until the part target is known).
 *
 * Latency cost compared with the embedded source (which wakes held requests at the instant the
 * packager publishes): a change is seen on the next poll, so held requests are released on average
 * interval / 2 later and at worst one interval + one storage GET + parse later. With PART-TARGET 1 s
 * that is ~125 ms on average, ≤ ~250 ms + GET (≈ 1 ms on local disk, ≈ 10–50 ms on S3). Plain
 * (non-blocking) playlist responses may be that much older too.
 *
 * Notified mode (cluster: `livepipe origin --redis …`, see src/cluster/playlist-notifications.ts):
 * while the writer's notifications arrive (`setNotified(true)`), a notified playlist is read at once
 * (`playlistStored`) and the timers only re-read each watched playlist every `notifiedRereadIntervalMs`
 * (default 5000), a safety net should a notification be lost. Entering notified mode reads every
 * watched playlist once (what changed while unsubscribed); leaving it resumes PART-TARGET/4 polling.
 * A notification that carries the stored text (`PlaylistNotification.playlist`) needs no read at all:
 * its text becomes the snapshot and held requests are released at once.
 */
export interface StorageWatchSourceOptions {
  storage: Pick<ObjectStorage, 'get'>;
  parse: ParsePlaylist;
  logger: Logger;
  /** Lower bound of the poll interval, ms; default 50. */
  minPollIntervalMs?: number;
  /** Upper bound of the poll interval, ms; default 500. */
  maxPollIntervalMs?: number;
  /** A playlist requested within this window stays watched even with no waiter, ms; default 10 000. */
  interestWindowMs?: number;
  /** In notified mode, how often a watched playlist is read without a notification, ms; default 5000. */
  notifiedRereadIntervalMs?: number;
  /** Clock, ms; default `Date.now`. */
  now?: () => number;
}

interface WatchEntry {
  readonly key: string;
  snapshot: PlaylistSnapshot | undefined;
  etag: string | undefined;
  /** When the last fetch completed (0: never). */
  fetchedAt: number;
  lastInterest: number;
  failing: boolean;
  readonly listeners: Set<PlaylistListener>;
  inflight: Promise<void> | undefined;
  /** A notification came while a read was in flight (which may have missed it): read again after it. */
  rereadAfterInflight: boolean;
  /** When the snapshot last came from a notification's carried text (0: never). */
  carriedAt: number;
  timer: NodeJS.Timeout | undefined;
}

const UNKNOWN_PART_TARGET_INTERVAL_MS = 250;

export class StorageWatchSource implements OriginSource {
  private readonly entries = new Map<string, WatchEntry>();
  private readonly storage: Pick<ObjectStorage, 'get'>;
  private readonly parse: ParsePlaylist;
  private readonly logger: Logger;
  private readonly minPollMs: number;
  private readonly maxPollMs: number;
  private readonly interestWindowMs: number;
  private readonly notifiedRereadMs: number;
  private readonly now: () => number;
  private notified = false;
  private nextVersion = 1;
  private started = false;
  private closed = false;
  /** Storage GETs issued (observability and tests). */
  fetches = 0;
  /** Storage GETs a notification caused (observability and tests). */
  notifiedFetches = 0;
  /** Snapshots taken from the text a notification carried, with no storage read (observability and tests). */
  carried = 0;

  constructor(options: StorageWatchSourceOptions) {
    this.storage = options.storage;
    this.parse = options.parse;
    this.logger = options.logger.child({ component: 'origin-storage-watch' });
    this.minPollMs = options.minPollIntervalMs ?? 50;
    this.maxPollMs = options.maxPollIntervalMs ?? 500;
    this.interestWindowMs = options.interestWindowMs ?? 10_000;
    this.notifiedRereadMs = options.notifiedRereadIntervalMs ?? 5000;
    this.now = options.now ?? Date.now;
  }

  async start(): Promise<void> {
    if (this.closed) throw new LivepipeError(ErrorCode.Closed, 'storage watch source is closed');
    if (!(this.minPollMs > 0 && this.maxPollMs >= this.minPollMs && this.interestWindowMs > 0 && this.notifiedRereadMs > 0)) {
      throw new LivepipeError(ErrorCode.ConfigInvalid, 'storage watch source: invalid poll interval bounds');
    }
    this.started = true;
  }

  /** Number of playlists currently watched. */
  get watchedCount(): number {
    return this.entries.size;
  }

  async get(channel: string, path: string): Promise<PlaylistSnapshot | undefined> {
    this.assertOpen();
    const entry = this.entry(playlistKey(channel, path));
    entry.lastInterest = this.now();
    if (entry.fetchedAt === 0 || this.now() - entry.fetchedAt >= this.intervalOf(entry)) await this.refresh(entry);
    this.schedule(entry);
    if (entry.failing && entry.snapshot === undefined) {
      throw new LivepipeError(ErrorCode.StorageUnavailable, 'cannot read playlist from storage');
    }
    return entry.snapshot;
  }

  subscribe(channel: string, path: string, listener: PlaylistListener): () => void {
    this.assertOpen();
    const entry = this.entry(playlistKey(channel, path));
    entry.listeners.add(listener);
    this.schedule(entry);
    return () => {
      entry.listeners.delete(listener);
    };
  }

  /**
   * Notified mode on (notifications arrive) or off (back to polling). Either way every watched
   * playlist is re-timed; turning it on also reads each of them once, since notifications sent
   * before the subscription were lost.
   */
  setNotified(notified: boolean): void {
    if (this.closed || notified === this.notified) return;
    this.notified = notified;
    for (const entry of this.entries.values()) {
      clearTimeout(entry.timer);
      entry.timer = undefined;
      if (notified) this.readNow(entry);
      else this.schedule(entry);
    }
  }

  get isNotified(): boolean {
    return this.notified;
  }

  /**
   * The writer stored `live/{channel}/{rendition}/playlist.m3u8` at (msn, part): if anyone watches it
   * and the snapshot held is not that version already, take the stored text the notification carries
   * (`playlist`: no storage read, held requests released at once), or read it now. Unwatched
   * playlists are not read (the next request reads them).
   */
  playlistStored(channel: string, rendition: string, position: { msn: number; part: number; ended: boolean; playlist?: string }): void {
    if (this.closed || !this.started) return;
    const entry = this.entries.get(playlistKey(channel, `${rendition}/playlist.m3u8`));
    if (entry === undefined) return;
    const model = entry.snapshot?.model;
    if (model !== undefined && model.endList === position.ended) {
      const held = lastPosition(model);
      if (held.msn === position.msn && held.part === position.part) return;
    }
    if (position.playlist !== undefined && this.takeCarried(entry, position.playlist, position)) return;
    this.notifiedFetches += 1;
    this.readNow(entry);
  }

  /**
   * A notification's copy of the stored playlist becomes the snapshot, unless it does not parse, is
   * not at the position announced, or is behind the snapshot held (an out-of-order message): then
   * storage is read instead. A read in flight, started before, cannot replace it (see `fetch`).
   */
  private takeCarried(entry: WatchEntry, text: string, position: { msn: number; part: number; ended: boolean }): boolean {
    let model;
    try {
      model = this.parse(text);
    } catch {
      return false;
    }
    const carried = lastPosition(model);
    if (carried.msn !== position.msn || carried.part !== position.part || model.endList !== position.ended) return false;
    const held = entry.snapshot !== undefined ? lastPosition(entry.snapshot.model) : undefined;
    if (held !== undefined && (carried.msn < held.msn || (carried.msn === held.msn && carried.part < held.part))) return false;
    entry.snapshot = { model, version: this.nextVersion++ };
    // The storage object's ETag is unknown: the next safety re-read is a full GET.
    entry.etag = undefined;
    entry.carriedAt = this.now();
    entry.fetchedAt = entry.carriedAt;
    this.carried += 1;
    this.notify(entry);
    return true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const inflight: Array<Promise<void>> = [];
    for (const entry of this.entries.values()) {
      clearTimeout(entry.timer);
      entry.listeners.clear();
      if (entry.inflight) inflight.push(entry.inflight);
    }
    this.entries.clear();
    await Promise.allSettled(inflight);
  }

  private assertOpen(): void {
    if (!this.started || this.closed) throw new LivepipeError(ErrorCode.Closed, 'storage watch source is not running');
  }

  private entry(key: string): WatchEntry {
    let entry = this.entries.get(key);
    if (!entry) {
      entry = {
        key,
        snapshot: undefined,
        etag: undefined,
        fetchedAt: 0,
        lastInterest: this.now(),
        failing: false,
        listeners: new Set(),
        inflight: undefined,
        rereadAfterInflight: false,
        carriedAt: 0,
        timer: undefined,
      };
      this.entries.set(key, entry);
    }
    return entry;
  }

  private intervalOf(entry: WatchEntry): number {
    if (this.notified) return this.notifiedRereadMs;
    const partTarget = entry.snapshot?.model.partTarget;
    const wanted = partTarget && partTarget > 0 ? (partTarget * 1000) / 4 : UNKNOWN_PART_TARGET_INTERVAL_MS;
    return Math.min(this.maxPollMs, Math.max(this.minPollMs, wanted));
  }

  private isActive(entry: WatchEntry): boolean {
    return entry.listeners.size > 0 || this.now() - entry.lastInterest < this.interestWindowMs;
  }

  /** Keeps one poll timer per active entry; forgets inactive entries. */
  private schedule(entry: WatchEntry): void {
    if (this.closed || entry.timer) return;
    if (!this.isActive(entry)) {
      if (!entry.inflight && this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
      return;
    }
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      void this.refresh(entry).then(() => this.schedule(entry));
    }, this.intervalOf(entry));
    entry.timer.unref();
  }

  /** A read outside the timer (a notification, entering notified mode); the timer starts over after it. */
  private readNow(entry: WatchEntry): void {
    if (entry.inflight) {
      entry.rereadAfterInflight = true;
      return;
    }
    clearTimeout(entry.timer);
    entry.timer = undefined;
    void this.refresh(entry).then(() => this.schedule(entry));
  }

  /** One conditional GET at a time per playlist; concurrent callers share it. */
  private refresh(entry: WatchEntry): Promise<void> {
    if (!entry.inflight) {
      entry.inflight = this.fetch(entry).finally(() => {
        entry.fetchedAt = this.now();
        entry.inflight = undefined;
        if (entry.rereadAfterInflight && !this.closed) {
          entry.rereadAfterInflight = false;
          this.readNow(entry);
        }
      });
    }
    return entry.inflight;
  }

  private async fetch(entry: WatchEntry): Promise<void> {
    this.fetches++;
    const startedAt = this.now();
    let result;
    try {
      result = await this.storage.get(entry.key, entry.etag ? { ifNoneMatch: entry.etag } : undefined);
    } catch (err) {
      if (!entry.failing) this.logger.warn({ key: entry.key, err: errorMessage(err) }, 'playlist read failed');
      entry.failing = true;
      return;
    }
    if (entry.failing) this.logger.info({ key: entry.key }, 'playlist readable again');
    entry.failing = false;
    if (this.closed) return;
    // A notification's copy arrived while this read was on its way: it is at least as new as what
    // the read saw (the writer notifies after storing), so the read's answer is dropped.
    if (entry.carriedAt >= startedAt && entry.carriedAt > 0) return;
    if (result === undefined) {
      entry.etag = undefined;
      if (entry.snapshot !== undefined) {
        entry.snapshot = undefined;
        this.notify(entry);
      }
      return;
    }
    if ('notModified' in result) return;
    // Remember the ETag even when the text does not parse: the next polls cost a 304 until the
    // object changes, and the warning is logged once per bad object.
    entry.etag = result.etag;
    let model;
    try {
      model = this.parse(result.body.toString('utf8'));
    } catch (err) {
      this.logger.warn({ key: entry.key, err: errorMessage(err) }, 'playlist in storage does not parse; serving the previous one');
      return;
    }
    entry.snapshot = { model, version: this.nextVersion++ };
    this.notify(entry);
  }

  private notify(entry: WatchEntry): void {
    for (const listener of [...entry.listeners]) listener(entry.snapshot);
  }
}
