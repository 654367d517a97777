import type { ChannelRegistry } from '../channels/channel-registry.js';
import { ChannelManager } from '../channels/channel-manager.js';
import type { ServiceConfig } from '../config/service-config.js';
import type { EventBus } from '../core/event-bus.js';
import type { Logger } from '../core/logger.js';
import type { IngestServer } from '../ingest/ingest-server.js';
import { loadLadder } from '../ladder/ladder-loader.js';
import type { Metrics } from '../observability/metrics.js';
import type { ObjectStorage } from '../storage/object-storage.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../core/errors.js';
import { DEFAULT_LADDERS_DIR } from '../ladder/ladder-loader.js';
import { Admission } from '../transcode/admission.js';
import { LadderCostModel, parseLadderCostSeeds, type LadderCostSeeds } from '../transcode/ladder-cost.js';
import { buildIngest } from './build-ingest.js';
import { DeferredIngestPort, packagerFactory, type PlaylistSink, type PlaylistStoredSink } from './channel-pipeline.js';
import { component, type Component } from './component.js';
import type { PendingObjects } from '../storage/pending-objects.js';
import type { BuiltCluster } from './build-cluster.js';

export interface ChannelPipelineSettings {
  config: ServiceConfig;
  /** The channel definitions (config file + ops API state file), started before the pipeline. */
  registry: ChannelRegistry;
  bus: EventBus;
  logger: Logger;
  metrics: Metrics;
  storage: ObjectStorage;
  /** The embedded origin's side of the packagers. */
  playlists: PlaylistSink;
  /** Cluster mode: told of every media playlist stored (`PlaylistNotificationPublisher`). */
  stored?: PlaylistStoredSink;
  /** Media held for upload, served by the embedded origin (`BuiltEmbeddedOrigin.pending`). */
  pending?: PendingObjects;
  laddersDir: string;
  /** Admission's ladder costs from the benchmark (`loadLadderCostSeeds`); default none. */
  costSeeds?: LadderCostSeeds;
  /** The origin's port for channel views: the bound one once listening (`origin.port: 0`). */
  originPort(): number;
  /** Cluster mode: the writer lease of each channel, and its write gate over `storage`. */
  cluster?: Pick<BuiltCluster, 'leadership' | 'fencedStorage'>;
}

export interface BuiltChannelPipeline {
  manager: ChannelManager;
  ingest: IngestServer;
  /** `admission`, `channels`, `ingest`: closed in reverse, ingest first (no new publishers), then the ladders. */
  components: readonly Component[];
}

/**
 * `serve`'s live channels: ingest feeds → per-channel ladder (admission-capped) → packager → storage
 * and the embedded origin. The ports between the stages are in `channel-pipeline.ts`.
 */
export function buildChannelPipeline(settings: ChannelPipelineSettings): BuiltChannelPipeline {
  const { config, registry, bus, logger, metrics, storage, playlists, stored, pending, laddersDir, originPort, cluster } = settings;
  const packagerSettings = {
    storage,
    bus,
    logger,
    metrics,
    dvrWindowSeconds: config.dvrWindowSeconds,
    playlists,
    ...(stored !== undefined ? { stored } : {}),
    ...(pending !== undefined ? { pending } : {}),
  };
  const singleNodePackager = packagerFactory(packagerSettings);
  // Cluster mode: everything a channel's packager and upload queue write passes its write gate.
  const createPackager =
    cluster === undefined ? singleNodePackager : (channel: string) => packagerFactory({ ...packagerSettings, storage: cluster.fencedStorage(storage, channel) })(channel);
  const { capacity } = config;
  const admission = new Admission({
    maxLadders: config.maxChannels,
    ...(capacity.enabled
      ? {
          capacity: {
            ...(capacity.cores !== undefined ? { cores: capacity.cores } : {}),
            headroom: capacity.headroom,
            behindPolicy: capacity.behindPolicy,
            costs: new LadderCostModel(settings.costSeeds),
          },
        }
      : {}),
  });
  metrics.trackNodeCapacity(() => admission.snapshot());
  const ingestPort = new DeferredIngestPort();
  const manager = new ChannelManager({
    registry,
    ingest: ingestPort,
    bus,
    logger,
    loadLadder: (name) => loadLadder(name, laddersDir),
    createPackager,
    ...(cluster !== undefined ? { leadership: cluster.leadership } : {}),
    admission,
    metrics,
    // A wildcard bind has no name of its own: views show localhost.
    publicHost: config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host,
    get originPort() {
      return originPort();
    },
    reconnectGraceSeconds: config.reconnectGraceSeconds,
    encoderGiveUpSeconds: config.encoderGiveUpSeconds,
    realtime: { lagSeconds: capacity.behindLagSeconds },
    behindPolicy: capacity.behindPolicy,
    nodeCapacity: () => admission.snapshot(),
    srtPorts: { base: config.srt.portBase, count: config.srt.portCount },
  });
  const ingest = buildIngest({
    bus,
    logger,
    channels: manager.ingestRegistry,
    metrics,
    host: config.host,
    rtmp: config.rtmp,
    srt: {},
    openOnAnyBind: config.allowOpenPublish,
  });
  ingestPort.bind(ingest.server);
  return {
    manager,
    ingest: ingest.server,
    components: [
      component('admission', { close: () => admission.close() }),
      component('channels', { start: () => manager.open(), close: () => manager.close() }),
      ingest.component,
    ],
  };
}

/**
 * Admission's cost seeds: `costs.json` in the ladders directory, else the shipped one (a custom
 * ladders directory may hold the shipped ladders without it). A missing or broken file is logged and
 * admission estimates from pixel rates until it has measured (docs/capacity.md).
 */
export async function loadLadderCostSeeds(laddersDir: string, logger: Logger): Promise<LadderCostSeeds | undefined> {
  for (const dir of new Set([laddersDir, DEFAULT_LADDERS_DIR])) {
    const file = join(dir, 'costs.json');
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      continue;
    }
    try {
      return parseLadderCostSeeds(JSON.parse(text));
    } catch (err) {
      logger.warn({ file, err: errorMessage(err) }, 'ladder cost seeds unusable: admission estimates costs from pixel rates until it has measured');
      return undefined;
    }
  }
  logger.warn({ laddersDir }, 'no ladder cost seeds (costs.json): admission estimates costs from pixel rates until it has measured');
  return undefined;
}
