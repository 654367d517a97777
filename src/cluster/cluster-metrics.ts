import { Counter, Gauge, type Registry } from 'prom-client';
import type { LeaseMetricsPort } from './channel-leases.js';

/**
 * The cluster's metric families, registered on the node's registry (`Metrics.registry`) when cluster
 * mode is on — a single node exports none of them:
 *
 * - `livepipe_cluster_leases_held`: writer leases this node holds now;
 * - `livepipe_cluster_takeovers_total{channel}`: leases this node took after another holder;
 * - `livepipe_cluster_lease_renewal_failures_total{reason}`: `error` (Redis unreachable or slow:
 *   retried until the deadline), `lost` (the key named another node: someone took over).
 */
export class ClusterMetrics implements LeaseMetricsPort {
  private readonly leasesHeld: Gauge;
  private readonly takeovers: Counter<'channel'>;
  private readonly renewalFailures: Counter<'reason'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.leasesHeld = new Gauge({ name: 'livepipe_cluster_leases_held', help: 'Channel writer leases this node holds.', registers });
    this.takeovers = new Counter({
      name: 'livepipe_cluster_takeovers_total',
      help: 'Channel writer leases this node acquired after another node held them (failovers and hand-overs).',
      labelNames: ['channel'],
      registers,
    });
    this.renewalFailures = new Counter({
      name: 'livepipe_cluster_lease_renewal_failures_total',
      help: 'Lease renewals that failed: error (Redis unreachable or too slow; retried until the deadline), lost (another node holds the lease).',
      labelNames: ['reason'],
      registers,
    });
    this.leasesHeld.set(0);
    for (const reason of ['error', 'lost']) this.renewalFailures.inc({ reason }, 0);
  }

  setLeasesHeld(count: number): void {
    this.leasesHeld.set(count);
  }

  countTakeover(channel: string): void {
    this.takeovers.inc({ channel });
  }

  countRenewalFailure(_channel: string, reason: 'lost' | 'error'): void {
    this.renewalFailures.inc({ reason });
  }
}
