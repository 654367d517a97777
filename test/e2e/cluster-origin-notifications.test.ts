/**
 * Issue 13, point 5: a real `livepipe serve` with the cluster setting writes a live channel (ffmpeg
 * publisher) to a storage directory and publishes every stored playlist on Redis; a real standalone
 * `livepipe origin --redis` over the same directory releases blocking playlist reloads on those
 * notifications. Its safety re-read is set to 10 minutes, so while it is subscribed nothing but a
 * notification can release a held request. Then Redis is stopped for 10 s: the origin falls back to
 * polling (metrics and /readyz say so) and still answers; Redis started again: notifications again.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { parseMediaPlaylist } from '../../src/hls/playlist-parser.js';
import { lastPosition } from '../../src/hls/playlist-model.js';
import { runCli, waitForHttp, type CliProcess } from '../helpers/cli/livepipe-cli.js';
import { publish, type Publisher } from '../helpers/ingest/media.js';
import { parsePrometheusText, sampleValue } from '../helpers/observability/prometheus-text-parser.js';
import { freePorts } from '../helpers/ports.js';
import { startRedisServer, type RedisServerProcess } from '../helpers/redis/redis-server.js';
import { getText, mediaPlaylist, startServeCli, type ServeCli } from '../helpers/serve/serve-fixture.js';
import { waitFor } from '../helpers/wait.js';

const KEY = 'cluster-notify-key-0123456789';
const PLAYLIST = 'live/fleet/360p/playlist.m3u8';

describe('standalone origin notified over Redis by a serve node', () => {
  let redis: RedisServerProcess | undefined;
  let serve: ServeCli | undefined;
  let origin: CliProcess | undefined;
  let publisher: Publisher | undefined;

  afterAll(async () => {
    await publisher?.stop();
    await origin?.stop('SIGTERM');
    await serve?.close();
    await redis?.close();
  });

  it('releases held requests on notifications, polls while Redis is down for 10 s, and is notified again after', async () => {
    redis = await startRedisServer();
    serve = await startServeCli({ cluster: { redis: redis.url }, channels: [{ id: 'fleet', ladder: 'constrained', key: KEY }] });
    publisher = publish(serve.rtmpUrl('fleet', KEY), 'flv', { seconds: 300 });
    const [port, opsPort] = (await freePorts(2)) as [number, number];
    origin = runCli(['origin', '--data-dir', serve.dataDir, '--port', String(port), '--ops-port', String(opsPort), '--redis', redis.url, '--notified-reread-ms', '600000']);
    const base = `http://127.0.0.1:${port}`;
    const ops = `http://127.0.0.1:${opsPort}`;
    await waitForHttp(`${ops}/healthz`, 30_000);
    const metric = async (name: string, labels: Record<string, string> = {}) => sampleValue(parsePrometheusText((await getText(`${ops}/metrics`)).text), name, labels);
    const readiness = async () => JSON.parse((await getText(`${ops}/readyz`)).text) as { status: string; checks: Array<{ name: string; ok: boolean }> };

    await waitFor(async () => (await metric('livepipe_cluster_playlist_notifications_fallback')) === 0, { timeoutMs: 15_000, message: 'the origin subscribed' });
    expect((await readiness()).status).toBe('ready');
    await waitFor(async () => ((await mediaPlaylist(`${base}/live/fleet`, '360p'))?.segments.length ?? 0) >= 1, { timeoutMs: 60_000, message: 'the channel live at the standalone origin' });

    /** A blocking reload for the first part of the segment after the playlist's last one: answered 200 with it, or the status. */
    const blockingReload = async (): Promise<number> => {
      const now = (await mediaPlaylist(`${base}/live/fleet`, '360p'))!;
      const wanted = lastPosition(now).msn + 1;
      const { status, text } = await getText(`${base}/${PLAYLIST}?_HLS_msn=${wanted}&_HLS_part=0`);
      if (status !== 200) return status;
      const after = lastPosition(parseMediaPlaylist(text));
      expect(after.msn * 100 + after.part).toBeGreaterThanOrEqual(wanted * 100);
      return status;
    };

    // Notified: with re-reads 10 minutes apart, each release is a notification's doing.
    const acceptedBefore = (await metric('livepipe_cluster_playlist_notifications_received_total', { outcome: 'accepted' }))!;
    for (let i = 0; i < 3; i++) expect(await blockingReload()).toBe(200);
    expect(await metric('livepipe_cluster_playlist_notifications_received_total', { outcome: 'accepted' })).toBeGreaterThan(acceptedBefore);
    expect(await metric('livepipe_cluster_playlist_notification_lag_seconds_count')).toBeGreaterThan(0);

    // Redis down for 10 s: the origin polls storage, says so, and keeps answering. The writer cannot
    // renew its lease, so it stops writing (never two writers: docs/cluster.md, "Redis outage");
    // a reload blocking for a part not yet written may then wait out its hold, so the loop asks for
    // the playlist as it stands.
    const stoppedAt = Date.now();
    await redis.stop();
    await waitFor(async () => (await metric('livepipe_cluster_playlist_notifications_fallback')) === 1, { timeoutMs: 10_000, message: 'fallback to polling' });
    const degraded = await readiness();
    expect(degraded.status).toBe('degraded');
    expect(degraded.checks.find((c) => c.name === 'playlist-notifications')?.ok).toBe(false);
    let duringOutage = 0;
    while (Date.now() - stoppedAt < 10_000) {
      expect((await getText(`${base}/${PLAYLIST}`)).status).toBe(200);
      duringOutage += 1;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(duringOutage).toBeGreaterThanOrEqual(2);

    await redis.start();
    await waitFor(async () => (await metric('livepipe_cluster_playlist_notifications_fallback')) === 0, { timeoutMs: 15_000, message: 'subscribed again' });
    expect((await readiness()).status).toBe('ready');
    // serve reconnects on its own backoff (≤ 2 s), takes its lease again and writes on; its
    // notifications release blocking reloads again.
    const acceptedAfter = (await metric('livepipe_cluster_playlist_notifications_received_total', { outcome: 'accepted' }))!;
    await waitFor(async () => (await metric('livepipe_cluster_playlist_notifications_received_total', { outcome: 'accepted' }))! > acceptedAfter, {
      timeoutMs: 15_000,
      message: 'notifications from serve through the restarted Redis',
    });
    for (let i = 0; i < 2; i++) expect(await blockingReload()).toBe(200);
    expect(origin.stderr()).not.toMatch(/Error|uncaught/i);
  }, 150_000);
});
