import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { LeaseMetricsPort } from './channel-leases.js';

/**
 * Every cluster metric family, in one place, registered on a process's registry (`Metrics.registry`)
 * only where cluster mode is on — a single node or an origin without `--redis` exports none of them:
 *
 * Writer leases (`serve`, `ClusterMetrics`):
 * - `livepipe_cluster_leases_held`: writer leases this node holds now;
 * - `livepipe_cluster_takeovers_total{channel}`: leases this node took after another holder;
 * - `livepipe_cluster_lease_renewal_failures_total{reason}`: `error` (Redis unreachable or slow:
 *   retried until the deadline), `lost` (the key named another node: someone took over).
 *
 * Playlist notifications (`serve` publishes, standalone origins receive; `PlaylistNotificationMetrics`):
 * - `livepipe_cluster_playlist_notifications_published_total{outcome}`: `sent`, `failed`;
 * - `livepipe_cluster_playlist_notifications_received_total{outcome}`: `accepted`, `malformed`;
 * - `livepipe_cluster_playlist_notification_lag_seconds`: publish (writer's clock) → receipt;
 * - `livepipe_cluster_playlist_notifications_fallback`: 1 while an origin polls for want of Redis.
 *
 * Both classes may be built more than once on one registry (a test process holding a writer and an
 * origin): a family registered already is reused, not registered twice.
 */
export class ClusterMetrics implements LeaseMetricsPort {
  private readonly leasesHeld: Gauge;
  private readonly takeovers: Counter<'channel'>;
  private readonly renewalFailures: Counter<'reason'>;

  constructor(registry: Registry) {
    this.leasesHeld = family(registry, Gauge, { name: 'livepipe_cluster_leases_held', help: 'Channel writer leases this node holds.' });
    this.takeovers = family(registry, Counter<'channel'>, {
      name: 'livepipe_cluster_takeovers_total',
      help: 'Channel writer leases this node acquired after another node held them (failovers and hand-overs).',
      labelNames: ['channel'],
    });
    this.renewalFailures = family(registry, Counter<'reason'>, {
      name: 'livepipe_cluster_lease_renewal_failures_total',
      help: 'Lease renewals that failed: error (Redis unreachable or too slow; retried until the deadline), lost (another node holds the lease).',
      labelNames: ['reason'],
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

/** Pub/sub lag: sub-millisecond on one host, a few ms across a data centre; beyond 1 s something is wrong. */
export const NOTIFICATION_LAG_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** The writer's publishes, and a standalone origin's receipts, lag and fallback to polling (`playlist-notifications.ts`). */
export class PlaylistNotificationMetrics {
  private readonly published: Counter<'outcome'>;
  private readonly received: Counter<'outcome'>;
  private readonly lag: Histogram;
  private readonly fallback: Gauge;

  constructor(registry: Registry) {
    this.published = family(registry, Counter<'outcome'>, {
      name: 'livepipe_cluster_playlist_notifications_published_total',
      help: 'Playlist notifications the writer sent on Redis pub/sub (sent), or could not send (failed: Redis unreachable; origins poll meanwhile).',
      labelNames: ['outcome'],
    });
    this.received = family(registry, Counter<'outcome'>, {
      name: 'livepipe_cluster_playlist_notifications_received_total',
      help: 'Playlist notifications an origin received: accepted, or malformed (ignored).',
      labelNames: ['outcome'],
    });
    this.lag = family(registry, Histogram, {
      name: 'livepipe_cluster_playlist_notification_lag_seconds',
      help: "Pub/sub lag of playlist notifications: the writer's publish time to the origin's receipt, seconds (across hosts it includes their clock skew).",
      buckets: NOTIFICATION_LAG_BUCKETS,
    });
    this.fallback = family(registry, Gauge, {
      name: 'livepipe_cluster_playlist_notifications_fallback',
      help: '1 while the origin polls storage for playlist changes because Redis is unreachable, 0 while notifications arrive.',
    });
    // Known label sets start at zero so that rate() and absent() queries see them from the start.
    for (const outcome of ['sent', 'failed']) this.published.inc({ outcome }, 0);
    for (const outcome of ['accepted', 'malformed']) this.received.inc({ outcome }, 0);
  }

  countPlaylistNotificationPublished(ok: boolean): void {
    this.published.inc({ outcome: ok ? 'sent' : 'failed' });
  }

  /** `ok` false: a malformed message, ignored. */
  countPlaylistNotificationReceived(ok: boolean): void {
    this.received.inc({ outcome: ok ? 'accepted' : 'malformed' });
  }

  /** Publish (writer's clock) → receipt (origin's clock), seconds. */
  observePlaylistNotificationLag(seconds: number): void {
    if (Number.isFinite(seconds) && seconds >= 0) this.lag.observe(seconds);
  }

  /** True while the origin polls storage because Redis is unreachable. */
  setPlaylistNotificationsFallback(polling: boolean): void {
    this.fallback.set(polling ? 1 : 0);
  }
}

/** The family `config.name` on `registry`: the one registered already, or a new one registered there. */
function family<M>(registry: Registry, Family: new (config: never) => M, config: { name: string; help: string; labelNames?: string[]; buckets?: number[] }): M {
  const existing = registry.getSingleMetric(config.name);
  if (existing !== undefined) return existing as M;
  return new Family({ ...config, registers: [registry] } as never);
}
