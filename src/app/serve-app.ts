import { resolve } from 'node:path';
import { apiTokenFromEnv, type ApiServer } from '../api/api-server.js';
import { binaryReadinessCheck, listenersReadinessCheck, storageReadinessCheck, uploadHealthReadinessCheck } from '../api/readiness.js';
import type { ChannelManager } from '../channels/channel-manager.js';
import { ChannelRegistry, defaultStateFile } from '../channels/channel-registry.js';
import { FileRegistryStore } from '../channels/channel-registry-store.js';
import { PlaylistNotificationMetrics } from '../cluster/cluster-metrics.js';
import { isLoopbackHost, type ServiceConfig } from '../config/service-config.js';
import { ErrorCode, LivepipeError } from '../core/errors.js';
import { EventBus } from '../core/event-bus.js';
import type { Logger } from '../core/logger.js';
import type { IngestServer } from '../ingest/ingest-server.js';
import { DEFAULT_LADDERS_DIR, listLadders } from '../ladder/ladder-loader.js';
import { Metrics } from '../observability/metrics.js';
import type { OriginServer } from '../origin/origin-server.js';
import { buildChannelPipeline, loadLadderCostSeeds } from './build-channel-pipeline.js';
import type { BuiltCluster } from './build-cluster.js';
import { buildOpsApi } from './build-ops-api.js';
import { buildEmbeddedOrigin } from './build-origin.js';
import { buildStorage } from './build-storage.js';
import { buildWebhooks } from './build-webhooks.js';
import { ComponentRunner } from './component-runner.js';
import { component } from './component.js';

/**
 * `livepipe serve`, composed: ingest (RTMP, SRT), a supervised ladder and an LL-HLS packager per
 * live channel, the embedded origin and the ops API, in one process.
 *
 * Start order: event bus → webhooks → storage → channel registry → open-publish guard → origin →
 * playlist notifications (cluster mode) → channels
 * (admission, manager) → ingest → API. `close()` stops in reverse: the origin's drain first (no new
 * connections, held requests answered by the parts still coming, at most 1 s), then API, ingest (no new
 * publishers; live ones end), then the ladders (each packager finishes its segment in flight and
 * its uploads), then origin, registry, storage, webhooks (the shutdown's events get a moment to go
 * out), and the bus's listeners.
 */

/** A running `serve`: for tests and for the CLI action. */
export interface ServeHandle {
  config: ServiceConfig;
  origin: OriginServer;
  api: ApiServer;
  ingest: IngestServer;
  manager: ChannelManager;
  /** The channel definitions (config file + ops API changes: the state file, or Redis in cluster mode). */
  registry: ChannelRegistry;
  /** The process's event bus (what the ops API's event stream and the webhooks forward). */
  bus: EventBus;
  /** Stops everything in reverse order; idempotent. */
  close(): Promise<void>;
}

/** Listening sockets a service manager passed (systemd socket activation: `src/core/socket-activation.ts`). */
export interface InheritedListeners {
  /** The origin's socket: a restart then queues viewers' connections instead of refusing them. */
  originFd?: number;
}

export async function startServe(config: ServiceConfig, logger: Logger, laddersDir = DEFAULT_LADDERS_DIR, inherited: InheritedListeners = {}): Promise<ServeHandle> {
  const loopback = isLoopbackHost(config.host);
  const token = apiTokenFromEnv();
  if (token === undefined && !loopback) {
    throw new LivepipeError(ErrorCode.ConfigInvalid, `LIVEPIPE_API_TOKEN is required when binding ${config.host} (the ops API would be open)`);
  }
  const bus = new EventBus();
  const metrics = new Metrics();
  const webhooks = buildWebhooks({ targets: config.webhooks, bus, logger, metrics });
  const knownLadders = new Set(await listLadders(laddersDir));
  const costSeeds = await loadLadderCostSeeds(laddersDir, logger);
  const { storage, component: storageComponent } = buildStorage({ location: config.storage ?? resolve(config.dataDir), logger, metrics });
  const origin = buildEmbeddedOrigin(storage, logger, { metrics, host: config.host, port: config.origin.port, listenFd: inherited.originFd });
  // Cluster mode's modules are imported only in cluster mode: they load ioredis, which costs a
  // single-node start some 0.02–0.1 s for nothing (bench/results/serve-startup.md).
  // Cluster mode: standalone origins learn of every stored playlist over Redis pub/sub.
  const notifications =
    config.cluster !== undefined
      ? new (await import('../cluster/playlist-notifications.js')).PlaylistNotificationPublisher({ url: config.cluster.redis, logger, metrics: new PlaylistNotificationMetrics(metrics.registry) })
      : undefined;
  // Cluster mode (docs/cluster.md): a Redis connection, writer leases, heartbeats.
  const cluster: BuiltCluster | undefined =
    config.cluster === undefined
      ? undefined
      : (await import('./build-cluster.js')).buildCluster({
          config: config.cluster,
          logger,
          metrics,
          configuredApiPort: config.api.port,
          ports: () => ({
            apiPort: api.isListening() ? api.port : config.api.port,
            originPort: origin.server.isListening() ? origin.server.address().port : config.origin.port,
          }),
        });
  // Single node: API changes in the state file. Cluster mode: in Redis, shared by every node (seeded
  // once from this node's state file if Redis has never held a registry: docs/cluster.md).
  const stateFile = new FileRegistryStore(defaultStateFile(resolve(config.dataDir)));
  const registry = new ChannelRegistry({
    configChannels: config.channels,
    ...(cluster !== undefined ? { store: cluster.registryStore, seedFrom: stateFile } : { store: stateFile }),
    logger,
    ladderExists: (name) => knownLadders.has(name),
    maxChannels: config.maxChannelDefinitions,
  });
  metrics.trackUploadBacklog(() => ({ objects: origin.pending.size, bytes: origin.pending.bytes }));
  const channels = buildChannelPipeline({
    config,
    registry,
    bus,
    logger,
    metrics,
    storage,
    playlists: origin.playlists,
    ...(notifications !== undefined ? { stored: notifications } : {}),
    pending: origin.pending,
    laddersDir,
    ...(costSeeds !== undefined ? { costSeeds } : {}),
    // The bound port: with `origin.port: 0` (any free port) the configured one says nothing.
    originPort: () => (origin.server.isListening() ? origin.server.address().port : config.origin.port),
    ...(cluster !== undefined ? { cluster } : {}),
  });
  const uploadHealth = uploadHealthReadinessCheck(bus);
  const { api, component: apiComponent } = buildOpsApi({
    host: config.host,
    port: config.api.port,
    token,
    channels: channels.manager,
    bus,
    // The web console at `/`, built into dist/console by `npm run build`.
    console: {},
    ...(cluster !== undefined ? { cluster: () => cluster.state.describe(channels.manager.list().map((view) => view.id)) } : {}),
    metrics,
    readiness: [
      // Storage trouble degrades serve (the live edge is kept in memory) rather than taking it out of service.
      storageReadinessCheck(storage, 'storage', true),
      uploadHealth,
      binaryReadinessCheck('ffmpeg'),
      listenersReadinessCheck([
        { name: 'origin', isListening: () => origin.server.isListening() },
        { name: 'rtmp', isListening: () => channels.ingest.rtmp !== undefined && channels.ingest.rtmp.port > 0 },
      ]),
      ...(cluster !== undefined ? [cluster.readiness] : []),
    ],
    logger,
  });

  const runner = new ComponentRunner({ logger });
  await runner.start(
    // Closed last: no listener outlives the components that subscribed.
    component('event-bus', { close: () => bus.removeAllListeners() }),
    webhooks.component,
    component('upload-health', { close: () => uploadHealth.close() }),
    storageComponent,
    // Before the registry (which reads Redis in cluster mode); closed after the channels released their leases.
    ...(cluster !== undefined ? [cluster.component] : []),
    component('registry', registry),
    // Channels may come from the config file or from the state file of the ops API: checked once
    // the registry has loaded both.
    component('publish-guard', { start: () => assertNotOpenOnPublicBind(config, registry.list().length), close: () => undefined }),
    ...origin.components,
    ...(notifications !== undefined ? [component('playlist-notifications', notifications)] : []),
    ...channels.components,
    apiComponent,
    // Closed first, while the ladders still make parts: held requests are answered with media and
    // players' next requests go to the next process (the socket unit's queue) or another origin.
    component('origin-drain', { close: () => origin.server.drain() }),
  );
  return {
    config,
    origin: origin.server,
    api,
    ingest: channels.ingest,
    manager: channels.manager,
    registry,
    bus,
    close: async () => {
      await runner.close();
    },
  };
}

/** Open publishing (no channels) is for loopback binds, unless the config allows it deliberately. */
function assertNotOpenOnPublicBind(config: ServiceConfig, channelCount: number): void {
  if (channelCount === 0 && !isLoopbackHost(config.host) && !config.allowOpenPublish) {
    throw new LivepipeError(
      ErrorCode.ConfigInvalid,
      `no channels are configured and the bind address ${config.host} is not loopback: open publishing would let anyone ` +
        'publish. Configure channels with keys (--config), bind 127.0.0.1, or set allowOpenPublish: true deliberately.',
    );
  }
}
