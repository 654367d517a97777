import type { MediaPlaylist } from '../hls/playlist-model.js';
import { LivepipeError, ErrorCode, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { ObjectStorage } from '../storage/object-storage.js';
import { MEDIA_PLAYLIST_NAME } from './request-path.js';
import { playlistKey, type OriginSource, type ParsePlaylist, type PlaylistListener, type PlaylistSnapshot } from './origin-source.js';

export interface EmbeddedSourceOptions {
  /**
   * Where the packager stores its playlists, with the parser to read them: a playlist this process
   * has not published (yet) is answered from storage as it is there. After a process restart the
   * channels read their stored playlists back and publish them one rendition at a time, after the
   * origin has started listening; without this, a player asking in between got 404 for a rendition
   * whose neighbours answered 200. Without `stored`, an unpublished playlist is 404.
   */
  stored?: { storage: Pick<ObjectStorage, 'get'>; parse: ParsePlaylist; logger: Logger };
}

/**
 * The origin's view of the playlists when it runs in the packager's process (`livepipe run`).
 *
 * Choice: the packager calls `publish(channel, rendition, model)` after every change of a model
 * (after the part it names is in storage), rather than the origin listening to
 * `LivepipeEvent.PlaylistUpdated`/`PartReady`: those events carry no model, so the origin would need
 * a second way to look models up, and the call hands over exactly the state to serve. Held requests
 * are released synchronously from `publish()`: a wake-up costs no I/O and no polling.
 *
 * `publish()` stores a deep copy (structuredClone), so the packager may keep mutating its model; the
 * origin only ever sees whole published states, each with a new version.
 *
 * Playlists not published in this process are read from storage when `stored` is given (see
 * `EmbeddedSourceOptions`): published models always win, and an `unpublish()`ed playlist stays 404
 * until it is published again (its stored text is not served back). Nothing is watched in storage:
 * a held request on a stored playlist is released by the packager's next `publish()`.
 */
export class EmbeddedSource implements OriginSource {
  private readonly playlists = new Map<string, PlaylistSnapshot>();
  private readonly listeners = new Map<string, Set<PlaylistListener>>();
  /** Playlists unpublished in this process: not read back from storage. */
  private readonly gone = new Set<string>();
  private nextVersion = 1;
  private closed = false;

  constructor(private readonly options: EmbeddedSourceOptions = {}) {}

  async start(): Promise<void> {
    if (this.closed) throw new LivepipeError(ErrorCode.Closed, 'embedded source is closed');
  }

  /** The packager's entry point: `model` is the new complete state of `live/{channel}/{rendition}/playlist.m3u8`. */
  publish(channel: string, rendition: string, model: MediaPlaylist): void {
    this.publishPath(channel, `${rendition}/${MEDIA_PLAYLIST_NAME}`, model);
  }

  /** Same as `publish` for a playlist at another channel-relative path. */
  publishPath(channel: string, path: string, model: MediaPlaylist): void {
    if (this.closed) return;
    const key = mapKey(channel, path);
    const snapshot: PlaylistSnapshot = { model: structuredClone(model), version: this.nextVersion++ };
    this.gone.delete(key);
    this.playlists.set(key, snapshot);
    this.notify(key, snapshot);
  }

  /** The playlist is gone (channel deleted): requests get 404 and held ones are released. */
  unpublish(channel: string, rendition: string): void {
    const key = mapKey(channel, `${rendition}/${MEDIA_PLAYLIST_NAME}`);
    this.gone.add(key);
    if (this.playlists.delete(key)) this.notify(key, undefined);
  }

  async get(channel: string, path: string): Promise<PlaylistSnapshot | undefined> {
    const key = mapKey(channel, path);
    const published = this.playlists.get(key);
    if (published !== undefined || this.options.stored === undefined || this.gone.has(key) || this.closed) return published;
    return this.readStored(channel, path, key);
  }

  /** Synchronous variant of `get`, for callers in the same process. */
  peek(channel: string, path: string): PlaylistSnapshot | undefined {
    return this.playlists.get(mapKey(channel, path));
  }

  subscribe(channel: string, path: string, listener: PlaylistListener): () => void {
    const key = mapKey(channel, path);
    let set = this.listeners.get(key);
    if (!set) {
      set = new Set();
      this.listeners.set(key, set);
    }
    set.add(listener);
    return () => {
      const current = this.listeners.get(key);
      if (!current) return;
      current.delete(listener);
      if (current.size === 0) this.listeners.delete(key);
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    this.playlists.clear();
  }

  /** The stored playlist, parsed (a new snapshot each time: nothing is cached or watched); undefined when absent or unreadable. */
  private async readStored(channel: string, path: string, key: string): Promise<PlaylistSnapshot | undefined> {
    const { storage, parse, logger } = this.options.stored!;
    let model: MediaPlaylist;
    try {
      const object = await storage.get(playlistKey(channel, path));
      if (object === undefined || !('body' in object)) return undefined;
      model = parse(object.body.toString('utf8'));
    } catch (err) {
      logger.warn({ channel, path, err: errorMessage(err) }, 'stored playlist unreadable: answered as missing');
      return undefined;
    }
    // Published or unpublished while storage was read: that state wins.
    if (this.closed || this.gone.has(key)) return undefined;
    return this.playlists.get(key) ?? { model, version: this.nextVersion++ };
  }

  private notify(key: string, snapshot: PlaylistSnapshot | undefined): void {
    const set = this.listeners.get(key);
    if (!set) return;
    // Copy: listeners unsubscribe themselves while being called.
    for (const listener of [...set]) listener(snapshot);
  }
}

function mapKey(channel: string, path: string): string {
  return `${channel}/${path}`;
}
