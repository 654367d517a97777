/**
 * Every Redis key and pub/sub channel livepipe uses, in one place (prefix `livepipe:`):
 *
 * | Key | Type | What |
 * | --- | --- | --- |
 * | `livepipe:node:<nodeId>` | string, PX | a node's heartbeat (JSON: ports, held leases), expires after 3 heartbeats |
 * | `livepipe:channels` | hash | channel id → definition JSON (the registry in cluster mode) |
 * | `livepipe:channels:changed` | pub/sub | a channel id was created, updated or removed |
 * | `livepipe:lease:<channel>` | string, PX | the writer lease: `<nodeId>:<epoch>` |
 * | `livepipe:epoch:<channel>` | counter | INCR on every acquisition: the fencing epoch |
 * | `livepipe:playlists` | pub/sub | playlist updates for standalone origins (`playlist-notifications.ts`) |
 */
export const CLUSTER_PREFIX = 'livepipe:';

export const clusterKeys = {
  node: (nodeId: string) => `${CLUSTER_PREFIX}node:${nodeId}`,
  nodePattern: `${CLUSTER_PREFIX}node:*`,
  channels: `${CLUSTER_PREFIX}channels`,
  channelsChanged: `${CLUSTER_PREFIX}channels:changed`,
  lease: (channel: string) => `${CLUSTER_PREFIX}lease:${channel}`,
  epoch: (channel: string) => `${CLUSTER_PREFIX}epoch:${channel}`,
  playlists: `${CLUSTER_PREFIX}playlists`,
} as const;
