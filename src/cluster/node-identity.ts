/**
 * A node's id in the cluster: the configured `cluster.nodeId`, else `<hostname>-<ops API port>` —
 * unique per process on one host (each `serve` binds its own API port), stable across restarts, and
 * readable in `GET /api/v1/cluster`. Pure.
 */
export function clusterNodeId(configured: string | undefined, hostname: string, apiPort: number): string {
  if (configured !== undefined) return configured;
  // Node ids allow letters, digits, '.', '_' and '-' (the lease value is `<nodeId>:<epoch>`).
  const host = hostname.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 50) || 'node';
  return `${host}-${apiPort}`;
}
