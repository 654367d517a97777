import type { MediaPlaylist } from '../hls/playlist-model.js';

/**
 * Where the origin learns what each media playlist currently contains. The origin never reads media
 * playlist text from storage itself: it asks a source for the current model, renders it with the
 * injected serializer, and holds blocking requests until the source reports a change that satisfies
 * them. Two sources exist:
 *  - `EmbeddedSource`: fed in-process by the packager (`publish()`); wake-ups cost no I/O.
 *  - `StorageWatchSource`: for a standalone origin; watches playlist objects in storage with
 *    conditional GETs while someone is interested in them.
 */

/** `_HLS_skip` values (§6.2.5.1): `YES` skips old segments, `v2` also skips old date ranges. */
export type SkipMode = 'YES' | 'v2';

/** Renders a playlist model to text, in full or as a delta update (`playlist-serializer.ts`). */
export type RenderPlaylist = (model: MediaPlaylist, options: { skip?: SkipMode }) => string;

/** Parses media playlist text into a model (`playlist-parser.ts`); throws on malformed text. */
export type ParsePlaylist = (text: string) => MediaPlaylist;

/**
 * An immutable view of one media playlist. `version` increases with every change the source sees,
 * so `(playlist, version)` identifies a rendering; the model must not be mutated by anyone. A source
 * hands out the same snapshot object for a version until the next change: the origin keeps its
 * renderings with that object (a new object per `get()` would still be served right, just rendered
 * again each time).
 */
export interface PlaylistSnapshot {
  readonly model: MediaPlaylist;
  readonly version: number;
}

export type PlaylistListener = (snapshot: PlaylistSnapshot | undefined) => void;

export interface OriginSource {
  /** Validates and prepares the source; may fail loudly. */
  start(): Promise<void>;
  /**
   * The current snapshot of `live/{channel}/{path}` (`path` like `v0/playlist.m3u8`), or undefined
   * when the playlist does not exist. A request counts as interest for sources that watch storage.
   */
  get(channel: string, path: string): Promise<PlaylistSnapshot | undefined>;
  /**
   * Calls `listener` after every change of that playlist (also when it disappears: `undefined`).
   * Returns the unsubscribe function. Listeners must not throw; they are called synchronously.
   */
  subscribe(channel: string, path: string, listener: PlaylistListener): () => void;
  /** Idempotent; stops watching and releases listeners. */
  close(): Promise<void>;
}

/** `live/{channel}/{path}`: the storage key (and URL path without the leading `/`) of a playlist. */
export function playlistKey(channel: string, path: string): string {
  return `live/${channel}/${path}`;
}
