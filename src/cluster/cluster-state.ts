import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { ChannelLeases } from './channel-leases.js';
import { clusterKeys } from './cluster-keys.js';
import { parseLeaseValue } from './lease-timing.js';
import type { RedisConnection } from './redis-connection.js';

/**
 * This node's presence in the cluster (a heartbeat key, `livepipe:node:<nodeId>`, expiring after
 * three missed beats) and the cluster as `GET /api/v1/cluster` shows it: the nodes alive, and per
 * channel who holds the writer lease, for how long since its last renewal, under which epoch.
 */

/** What a node's heartbeat holds. */
export interface NodeHeartbeat {
  nodeId: string;
  /** Ports of the node's faces (its host is the operator's to know). */
  apiPort: number;
  originPort: number;
  /** ISO 8601 */
  startedAt: string;
  /** Channels whose lease this node holds. */
  leases: string[];
}

export interface ClusterChannelView {
  id: string;
  /** The node holding the writer lease; absent when nobody writes the channel. */
  holder?: string;
  epoch?: number;
  /** ms since the holder's last renewal (TTL minus what is left of it). */
  leaseAgeMs?: number;
}

export interface ClusterView {
  nodeId: string;
  redis: string;
  leaseTtlMs: number;
  nodes: Array<NodeHeartbeat & { self: boolean; channels: string[] }>;
  channels: ClusterChannelView[];
}

export interface ClusterStateOptions {
  redis: RedisConnection;
  leases: ChannelLeases;
  nodeId: string;
  leaseTtlMs: number;
  ports: () => { apiPort: number; originPort: number };
  logger: Logger;
  /** Heartbeat period, ms (default 1000); the key expires after 3 periods. */
  heartbeatMs?: number;
}

export class ClusterState {
  private timer: NodeJS.Timeout | undefined;
  private readonly startedAt = new Date().toISOString();
  private readonly logger: Logger;
  private readonly heartbeatMs: number;

  constructor(private readonly options: ClusterStateOptions) {
    this.logger = options.logger.child({ component: 'cluster-state' });
    this.heartbeatMs = options.heartbeatMs ?? 1000;
  }

  start(): void {
    const beat = (): void => {
      void this.beat();
      this.timer = setTimeout(beat, this.heartbeatMs);
      this.timer.unref();
    };
    beat();
  }

  async close(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.options.redis.client.del(clusterKeys.node(this.options.nodeId)).catch(() => undefined);
  }

  /** The cluster's nodes and the leases of `channelIds` (the registry's channels). */
  async describe(channelIds: readonly string[]): Promise<ClusterView> {
    const { client } = this.options.redis;
    const nodeKeys: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', clusterKeys.nodePattern, 'COUNT', 200);
      cursor = next;
      nodeKeys.push(...keys);
    } while (cursor !== '0');
    const beats = nodeKeys.length > 0 ? await client.mget(...nodeKeys) : [];
    const nodes = beats.flatMap((text) => {
      try {
        return text === null ? [] : [JSON.parse(text) as NodeHeartbeat];
      } catch {
        return [];
      }
    });
    const pipeline = client.pipeline();
    for (const id of channelIds) pipeline.get(clusterKeys.lease(id)).pttl(clusterKeys.lease(id));
    const replies = channelIds.length > 0 ? ((await pipeline.exec()) ?? []) : [];
    const channels = channelIds.map((id, i): ClusterChannelView => {
      const lease = parseLeaseValue(replies[2 * i]?.[1] as string | null);
      const pttl = replies[2 * i + 1]?.[1] as number | undefined;
      if (lease === undefined) return { id };
      return {
        id,
        holder: lease.nodeId,
        epoch: lease.epoch,
        ...(typeof pttl === 'number' && pttl >= 0 ? { leaseAgeMs: Math.max(0, this.options.leaseTtlMs - pttl) } : {}),
      };
    });
    return {
      nodeId: this.options.nodeId,
      redis: this.options.redis.state,
      leaseTtlMs: this.options.leaseTtlMs,
      nodes: nodes
        .map((n) => ({ ...n, self: n.nodeId === this.options.nodeId, channels: channels.filter((c) => c.holder === n.nodeId).map((c) => c.id) }))
        .sort((a, b) => (a.nodeId < b.nodeId ? -1 : 1)),
      channels,
    };
  }

  private async beat(): Promise<void> {
    const heartbeat: NodeHeartbeat = {
      nodeId: this.options.nodeId,
      ...this.options.ports(),
      startedAt: this.startedAt,
      leases: this.options.leases.snapshot().filter((l) => l.held).map((l) => l.channel),
    };
    try {
      await this.options.redis.client.set(clusterKeys.node(this.options.nodeId), JSON.stringify(heartbeat), 'PX', 3 * this.heartbeatMs);
    } catch (err) {
      this.logger.debug({ err: errorMessage(err) }, 'heartbeat not written');
    }
  }
}
