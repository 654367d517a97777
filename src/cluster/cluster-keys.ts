/**
 * Every Redis key and pub/sub channel livepipe uses, in one place (prefix `livepipe:`):
 *
 * | Key | Type | What |
 * | --- | --- | --- |
 * | `livepipe:node:<nodeId>` | string, PX | a node's heartbeat (JSON: ports, held leases), expires after 3 heartbeats |
 * | `livepipe:channels` | hash | channel id → definition JSON (the registry in cluster mode: API-made definitions) |
 * | `livepipe:channels:removed` | set | config-file channel ids deleted through the API |
 * | `livepipe:channels:revision` | counter | INCR on every registry write (compare-and-set of `redis-registry-store.ts`) |
 * | `livepipe:channels:changed` | pub/sub | `{"id","revision"}`: a channel was created, updated or removed |
 * | `livepipe:lease:<channel>` | string, PX | the writer lease: `<nodeId>:<epoch>` |
 * | `livepipe:epoch:<channel>` | counter | INCR on every acquisition: the fencing epoch |
 * | `livepipe:playlists` | pub/sub | playlist updates for standalone origins (`playlist-notifications.ts`) |
 */
export const CLUSTER_PREFIX = 'livepipe:';

export const clusterKeys = {
  node: (nodeId: string) => `${CLUSTER_PREFIX}node:${nodeId}`,
  nodePattern: `${CLUSTER_PREFIX}node:*`,
  channels: `${CLUSTER_PREFIX}channels`,
  channelsRemoved: `${CLUSTER_PREFIX}channels:removed`,
  channelsRevision: `${CLUSTER_PREFIX}channels:revision`,
  channelsChanged: `${CLUSTER_PREFIX}channels:changed`,
  lease: (channel: string) => `${CLUSTER_PREFIX}lease:${channel}`,
  epoch: (channel: string) => `${CLUSTER_PREFIX}epoch:${channel}`,
  playlists: `${CLUSTER_PREFIX}playlists`,
} as const;
