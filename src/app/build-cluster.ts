import { hostname } from 'node:os';
import { ChannelLeases } from '../cluster/channel-leases.js';
import { ClusterMetrics } from '../cluster/cluster-metrics.js';
import { ClusterState } from '../cluster/cluster-state.js';
import { FencedStorage } from '../cluster/fenced-storage.js';
import { clusterNodeId } from '../cluster/node-identity.js';
import { RedisConnection } from '../cluster/redis-connection.js';
import { RedisRegistryStore } from '../cluster/redis-registry-store.js';
import type { ClusterConfig } from '../config/service-config.js';
import type { Logger } from '../core/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { ObjectStorage } from '../storage/object-storage.js';
import type { ReadinessCheck } from '../api/readiness.js';
import type { ChannelLeadershipPort } from '../channels/channel-ports.js';
import { component, type Component } from './component.js';

export interface ClusterSettings {
  config: ClusterConfig;
  logger: Logger;
  metrics: Metrics;
  /** The ports this node's faces are bound to (the heartbeat shows them; the API port names the node). */
  ports: () => { apiPort: number; originPort: number };
  configuredApiPort: number;
}

export interface BuiltCluster {
  nodeId: string;
  redis: RedisConnection;
  leases: ChannelLeases;
  state: ClusterState;
  /** The channel registry's shared store (the Redis hash every node reads and writes). */
  registryStore: RedisRegistryStore;
  /** What channels hold: the lease per channel. */
  leadership: ChannelLeadershipPort;
  /**
   * The write gate of one channel over the shared storage, for the reign that holds the lease now:
   * call it when the channel's writer (its packager) is created; it writes only during this acquisition.
   */
  fencedStorage(storage: ObjectStorage, channel: string): ObjectStorage;
  /**
   * `/readyz`'s `cluster-redis` check: Redis answers a PING within the command timeout. Not merely
   * degrading: a node that cannot reach Redis can take no lease, so it writes no channel — the load
   * balancer should send publishers to a node that can (docs/cluster.md, "Readiness").
   */
  readiness: ReadinessCheck;
  /** `cluster`: connects before the registry loads, closes after the channels released their leases. */
  component: Component;
}

/** Cluster mode's parts: the Redis connection, the writer leases, the heartbeat and cluster view. */
export function buildCluster(settings: ClusterSettings): BuiltCluster {
  const { config, logger } = settings;
  const nodeId = clusterNodeId(config.nodeId, hostname(), settings.configuredApiPort);
  // A reply later than the next renewal is of no use to a lease: that bounds every command.
  const redis = new RedisConnection({ url: config.redis, logger, connectionName: `livepipe:${nodeId}`, commandTimeoutMs: config.lease.renewIntervalMs });
  const leases = new ChannelLeases({ redis, nodeId, timing: config.lease, logger, metrics: new ClusterMetrics(settings.metrics.registry) });
  const state = new ClusterState({ redis, leases, nodeId, leaseTtlMs: config.lease.ttlMs, ports: settings.ports, logger });
  return {
    nodeId,
    redis,
    leases,
    state,
    registryStore: new RedisRegistryStore({ redis, logger }),
    leadership: { claim: (channel, onChange) => leases.claim(channel, onChange), leaseTtlMs: config.lease.ttlMs },
    fencedStorage: (storage, channel) => new FencedStorage(storage, () => leases.fence(channel), leases.heldReign(channel)),
    readiness: {
      name: 'cluster-redis',
      check: async () => {
        // Commands are not queued while disconnected: a PING then fails at once, with ioredis's reason.
        if (redis.state !== 'ready') throw new Error(`redis ${redis.state}: this node can take no writer lease`);
        await redis.client.ping();
      },
    },
    component: component('cluster', {
      start: async () => {
        const connected = await redis.connect();
        logger.info({ nodeId, connected }, connected ? 'cluster mode: connected to redis' : 'cluster mode: redis not reachable yet, retrying');
        state.start();
      },
      close: async () => {
        await leases.close();
        await state.close();
        await redis.close();
      },
    }),
  };
}
