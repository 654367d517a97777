import type { Logger } from '../core/logger.js';
import { parseMediaPlaylist } from '../hls/playlist-parser.js';
import { serializeMediaPlaylist } from '../hls/playlist-serializer.js';
import { EmbeddedSource } from '../origin/embedded-source.js';
import { OriginServer, type OriginServerOptions } from '../origin/origin-server.js';
import type { ParsePlaylist, RenderPlaylist } from '../origin/origin-source.js';
import { StorageWatchSource } from '../origin/storage-watch-source.js';
import type { ObjectStorage } from '../storage/object-storage.js';
import { PendingObjects, PendingReadStorage } from '../storage/pending-objects.js';
import type { PlaylistSink } from './channel-pipeline.js';
import { component, type Component } from './component.js';

/** Where the origin listens and how it answers (see `OriginServerOptions` for the defaults). */
export type OriginListenSettings = Pick<OriginServerOptions, 'host' | 'port' | 'listenFd' | 'metrics' | 'corsOrigins' | 'maxHeldRequests' | 'cacheMaxBytes'>;

export interface BuiltOrigin {
  server: OriginServer;
  /** `origin-source` then `origin`: the source is ready before the first request can reach it. */
  components: readonly Component[];
}

export interface BuiltEmbeddedOrigin extends BuiltOrigin {
  /** The packagers' side: every new media playlist model goes here (`EmbeddedSource.publish`). */
  playlists: PlaylistSink;
  /**
   * Media the packagers' upload queues hold and storage does not have yet: the origin serves it from
   * here, so the live edge goes on while storage is slow or down (give it to every upload queue).
   */
  pending: PendingObjects;
}

/**
 * The origin of `serve` and `package --origin-port`: packagers in this process publish playlist
 * models straight into it, and a part stored releases the blocking reloads waiting for it at once.
 */
export function buildEmbeddedOrigin(storage: Pick<ObjectStorage, 'get'>, logger: Logger, settings: OriginListenSettings): BuiltEmbeddedOrigin {
  // Until a channel has read its stored playlists back (after the origin starts listening), the origin
  // answers them from storage: every rendition from the first request after a restart.
  const source = new EmbeddedSource({ stored: { storage, parse: parseMediaPlaylist, logger } });
  const pending = new PendingObjects();
  const server = new OriginServer({
    source,
    storage: new PendingReadStorage(storage, pending),
    render: (model, options) => serializeMediaPlaylist(model, options),
    logger,
    ...settings,
  });
  return { server, playlists: source, pending, components: [component('origin-source', source), component('origin', server)] };
}

export interface BuiltStorageOrigin extends BuiltOrigin {
  /** Its view of storage: playlist notifications (cluster mode) go here (`playlistStored`, `setNotified`). */
  source: StorageWatchSource;
}

/**
 * The standalone origin (`livepipe origin`): it watches playlists in storage written by packagers
 * elsewhere, with conditional GETs (see `StorageWatchSource` for the latency this costs), or on
 * notification in cluster mode (`buildPlaylistSubscriber` in origin-app.ts).
 */
export function buildStorageOrigin(
  storage: Pick<ObjectStorage, 'get'>,
  playlists: { parse: ParsePlaylist; render: RenderPlaylist },
  logger: Logger,
  settings: OriginListenSettings & { notifiedRereadIntervalMs?: number },
): BuiltStorageOrigin {
  const { notifiedRereadIntervalMs, ...listen } = settings;
  const source = new StorageWatchSource({ storage, parse: playlists.parse, logger, ...(notifiedRereadIntervalMs !== undefined ? { notifiedRereadIntervalMs } : {}) });
  const server = new OriginServer({ source, storage, render: playlists.render, logger, ...listen });
  return { server, source, components: [component('origin-source', source), component('origin', server)] };
}
