import type { MediaPlaylist } from '../hls/playlist-model.js';
import { LivepipeError, ErrorCode } from '../core/errors.js';
import { MEDIA_PLAYLIST_NAME } from './request-path.js';
import type { OriginSource, PlaylistListener, PlaylistSnapshot } from './origin-source.js';

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
 */
export class EmbeddedSource implements OriginSource {
  private readonly playlists = new Map<string, PlaylistSnapshot>();
  private readonly listeners = new Map<string, Set<PlaylistListener>>();
  private nextVersion = 1;
  private closed = false;

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
    this.playlists.set(key, snapshot);
    this.notify(key, snapshot);
  }

  /** The playlist is gone (channel deleted): requests get 404 and held ones are released. */
  unpublish(channel: string, rendition: string): void {
    const key = mapKey(channel, `${rendition}/${MEDIA_PLAYLIST_NAME}`);
    if (this.playlists.delete(key)) this.notify(key, undefined);
  }

  async get(channel: string, path: string): Promise<PlaylistSnapshot | undefined> {
    return this.playlists.get(mapKey(channel, path));
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
