import { resolve } from 'node:path';
import { listenersReadinessCheck, storageReadinessCheck, type ReadinessCheck } from '../api/readiness.js';
import { PlaylistNotificationMetrics } from '../cluster/cluster-metrics.js';
import type { PlaylistNotificationSubscriber } from '../cluster/playlist-notifications.js';
import type { Logger } from '../core/logger.js';
import { parseMediaPlaylist } from '../hls/playlist-parser.js';
import { serializeMediaPlaylist } from '../hls/playlist-serializer.js';
import { Metrics } from '../observability/metrics.js';
import type { ParsePlaylist, RenderPlaylist } from '../origin/origin-source.js';
import type { StorageWatchSource } from '../origin/storage-watch-source.js';
import type { ObjectStorage } from '../storage/object-storage.js';
import { createStorage, parseStorageUrl } from '../storage/storage-url.js';
import { buildOpsApi } from './build-ops-api.js';
import { buildStorageOrigin } from './build-origin.js';
import { storageOf } from './build-storage.js';
import { ComponentRunner } from './component-runner.js';
import { component, type Component } from './component.js';

/**
 * Cluster mode of the standalone origin: a subscriber to the writers' playlist notifications that
 * drives the storage watch (notified → read that playlist now; Redis lost → poll again). Its
 * readiness check degrades only: an origin that polls still serves, a little later.
 */
export async function buildPlaylistSubscriber(
  url: string,
  source: StorageWatchSource,
  metrics: Metrics,
  logger: Logger,
): Promise<{ subscriber: PlaylistNotificationSubscriber; readiness: ReadinessCheck; component: Component }> {
  // Imported here, with Redis configured: the module loads ioredis, which a polling origin (and
  // `serve`, which loads every command module) would otherwise pay for at start-up.
  const { PlaylistNotificationSubscriber } = await import('../cluster/playlist-notifications.js');
  const notificationMetrics = new PlaylistNotificationMetrics(metrics.registry);
  const subscriber = new PlaylistNotificationSubscriber({
    url,
    logger,
    metrics: notificationMetrics,
    onNotification: (n) => source.playlistStored(n.channel, n.rendition, n),
    onStateChange: (state) => {
      source.setNotified(state === 'notified');
      notificationMetrics.setPlaylistNotificationsFallback(state === 'polling');
    },
  });
  notificationMetrics.setPlaylistNotificationsFallback(true);
  const readiness: ReadinessCheck = {
    name: 'playlist-notifications',
    degradesOnly: true,
    check: () => {
      if (subscriber.state !== 'notified') throw new Error('redis unreachable: polling storage for playlist changes');
    },
  };
  return { subscriber, readiness, component: component('playlist-notifications', subscriber) };
}

/**
 * `livepipe origin`, composed: a standalone origin in front of what a packager (possibly on another
 * machine) writes to storage, and its ops port (`/healthz`, `/readyz`: storage reachable and origin
 * listening, `/metrics`), apart from the port CDNs reach.
 *
 * Start order: storage → origin source → origin → playlist notifications (cluster mode) → ops API;
 * stopped in reverse.
 */

export type StorageSpec = { kind: 'fs'; dir: string } | { kind: 's3'; bucket: string; prefix: string };

export interface OriginCommandConfig {
  storage: StorageSpec;
  host: string;
  port: number;
  /** A listening socket passed by a service manager (systemd socket activation), used instead of host/port. */
  listenFd?: number;
  /** Port of `/healthz`, `/readyz` and `/metrics` (same bind address). */
  opsPort: number;
  corsOrigins: '*' | string[];
  maxHeldRequests: number;
  cacheMaxBytes: number;
  /**
   * Cluster mode: the Redis of the `serve` nodes (`--redis`, `LIVEPIPE_REDIS_URL`). Held requests are
   * released on the writers' playlist notifications; storage is polled only while Redis is unreachable.
   */
  redis?: string;
  /** With `redis`: how often a watched playlist is re-read without a notification, ms (default 5000). */
  notifiedRereadMs?: number;
}

/** What the origin needs from other areas; `defaultDependencies` wires the real modules. */
export interface OriginDependencies {
  openStorage(spec: StorageSpec, logger: Logger): ObjectStorage;
  parse: ParsePlaylist;
  render: RenderPlaylist;
}

/**
 * The real storage drivers and the packager's playlist parser/serializer. S3 endpoint, region and
 * credentials come from the AWS SDK's standard environment (AWS_ENDPOINT_URL, AWS_REGION, …).
 */
export function defaultDependencies(): OriginDependencies {
  return {
    render: (model, options) => serializeMediaPlaylist(model, options),
    parse: parseMediaPlaylist,
    openStorage(spec, logger) {
      const url = spec.kind === 'fs' ? resolve(spec.dir) : `s3://${spec.bucket}${spec.prefix ? `/${spec.prefix}` : ''}`;
      return createStorage(parseStorageUrl(url), logger);
    },
  };
}

/** Runs the origin until `stop` resolves (SIGINT/SIGTERM in the CLI), then closes in reverse order. */
export async function runOrigin(config: OriginCommandConfig, deps: OriginDependencies, logger: Logger, stop: Promise<unknown>): Promise<void> {
  const storage = storageOf(deps.openStorage(config.storage, logger));
  const metrics = new Metrics();
  const origin = buildStorageOrigin(storage.storage, deps, logger, {
    metrics,
    host: config.host,
    port: config.port,
    listenFd: config.listenFd,
    corsOrigins: config.corsOrigins,
    maxHeldRequests: config.maxHeldRequests,
    cacheMaxBytes: config.cacheMaxBytes,
    ...(config.notifiedRereadMs !== undefined ? { notifiedRereadIntervalMs: config.notifiedRereadMs } : {}),
  });
  const notifications = config.redis !== undefined ? await buildPlaylistSubscriber(config.redis, origin.source, metrics, logger) : undefined;
  const ops = buildOpsApi({
    host: config.host,
    port: config.opsPort,
    metrics,
    readiness: [
      storageReadinessCheck(storage.storage),
      listenersReadinessCheck([{ name: 'origin', isListening: () => origin.server.isListening() }]),
      ...(notifications !== undefined ? [notifications.readiness] : []),
    ],
    logger,
  });
  const runner = new ComponentRunner({ logger });
  try {
    // The subscriber starts after the source (it drives it) and stops before it.
    await runner.start(
      storage.component,
      ...origin.components,
      ...(notifications !== undefined ? [notifications.component] : []),
      ops.component,
      // Closed first, while notifications still release held requests (see OriginServer.drain).
      component('origin-drain', { close: () => origin.server.drain() }),
    );
    logger.info({ host: config.host, port: origin.server.address().port, opsPort: ops.api.port }, 'origin ready');
    await stop;
  } finally {
    await runner.close();
  }
}
