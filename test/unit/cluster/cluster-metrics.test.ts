/**
 * The cluster's metric families (src/cluster/cluster-metrics.ts): their names and types, what the
 * update methods move, that a node without cluster mode exports none of them, and that building the
 * classes twice on one registry (a writer and an origin in one process) reuses the families.
 */
import { describe, expect, it } from 'vitest';
import { ClusterMetrics, PlaylistNotificationMetrics } from '../../../src/cluster/cluster-metrics.js';
import { Metrics } from '../../../src/observability/metrics.js';
import { parsePrometheusText, sampleValue, type ParsedExposition } from '../../helpers/observability/prometheus-text-parser.js';

async function scrape(metrics: Metrics): Promise<ParsedExposition> {
  return parsePrometheusText((await metrics.render()).body);
}

const CLUSTER_FAMILIES = {
  livepipe_cluster_leases_held: 'gauge',
  livepipe_cluster_takeovers_total: 'counter',
  livepipe_cluster_lease_renewal_failures_total: 'counter',
  livepipe_cluster_playlist_notifications_published_total: 'counter',
  livepipe_cluster_playlist_notifications_received_total: 'counter',
  livepipe_cluster_playlist_notification_lag_seconds: 'histogram',
  livepipe_cluster_playlist_notifications_fallback: 'gauge',
};

describe('cluster metrics', () => {
  it('exist only where cluster mode registers them, under their documented names and types', async () => {
    const single = await scrape(new Metrics({ processMetrics: false }));
    expect([...single.types.keys()].filter((name) => name.startsWith('livepipe_cluster_'))).toEqual([]);
    const metrics = new Metrics({ processMetrics: false });
    new ClusterMetrics(metrics.registry);
    new PlaylistNotificationMetrics(metrics.registry);
    const parsed = await scrape(metrics);
    const types = Object.fromEntries([...parsed.types].filter(([name]) => name.startsWith('livepipe_cluster_')));
    expect(types).toEqual(CLUSTER_FAMILIES);
    for (const name of Object.keys(CLUSTER_FAMILIES)) expect(parsed.help.get(name), name).toBeTruthy();
  });

  it('counts leases held, takeovers and renewal failures', async () => {
    const metrics = new Metrics({ processMetrics: false });
    const leases = new ClusterMetrics(metrics.registry);
    leases.setLeasesHeld(2);
    leases.countTakeover('news');
    leases.countRenewalFailure('news', 'lost');
    const parsed = await scrape(metrics);
    expect(sampleValue(parsed, 'livepipe_cluster_leases_held')).toBe(2);
    expect(sampleValue(parsed, 'livepipe_cluster_takeovers_total', { channel: 'news' })).toBe(1);
    expect(sampleValue(parsed, 'livepipe_cluster_lease_renewal_failures_total', { reason: 'lost' })).toBe(1);
    expect(sampleValue(parsed, 'livepipe_cluster_lease_renewal_failures_total', { reason: 'error' })).toBe(0);
  });

  it('counts playlist notifications published and received, their lag, and the fallback to polling', async () => {
    const metrics = new Metrics({ processMetrics: false });
    const writer = new PlaylistNotificationMetrics(metrics.registry);
    // The origin side in the same process: the same families, not a second registration.
    const origin = new PlaylistNotificationMetrics(metrics.registry);
    writer.countPlaylistNotificationPublished(true);
    writer.countPlaylistNotificationPublished(false);
    writer.countPlaylistNotificationPublished(true);
    origin.countPlaylistNotificationReceived(true);
    origin.countPlaylistNotificationReceived(false);
    origin.observePlaylistNotificationLag(0.002);
    origin.observePlaylistNotificationLag(-1); // skew is recorded by the caller as 0, never negative
    origin.setPlaylistNotificationsFallback(true);
    const parsed = await scrape(metrics);
    expect(sampleValue(parsed, 'livepipe_cluster_playlist_notifications_published_total', { outcome: 'sent' })).toBe(2);
    expect(sampleValue(parsed, 'livepipe_cluster_playlist_notifications_published_total', { outcome: 'failed' })).toBe(1);
    expect(sampleValue(parsed, 'livepipe_cluster_playlist_notifications_received_total', { outcome: 'accepted' })).toBe(1);
    expect(sampleValue(parsed, 'livepipe_cluster_playlist_notifications_received_total', { outcome: 'malformed' })).toBe(1);
    expect(sampleValue(parsed, 'livepipe_cluster_playlist_notification_lag_seconds_count')).toBe(1);
    expect(sampleValue(parsed, 'livepipe_cluster_playlist_notification_lag_seconds_bucket', { le: '0.0025' })).toBe(1);
    expect(sampleValue(parsed, 'livepipe_cluster_playlist_notifications_fallback')).toBe(1);
    origin.setPlaylistNotificationsFallback(false);
    expect(sampleValue(await scrape(metrics), 'livepipe_cluster_playlist_notifications_fallback')).toBe(0);
  });
});
