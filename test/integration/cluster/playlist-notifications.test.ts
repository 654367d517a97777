import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPlaylistSubscriber } from '../../../src/app/origin-app.js';
import { PlaylistNotificationMetrics } from '../../../src/cluster/cluster-metrics.js';
import { PLAYLIST_NOTIFICATIONS_CHANNEL, PlaylistNotificationPublisher } from '../../../src/cluster/playlist-notifications.js';
import { silentLogger } from '../../../src/core/logger.js';
import { lastPosition, type MediaPlaylist } from '../../../src/hls/playlist-model.js';
import { parseMediaPlaylist } from '../../../src/hls/playlist-parser.js';
import { serializeMediaPlaylist } from '../../../src/hls/playlist-serializer.js';
import { Metrics } from '../../../src/observability/metrics.js';
import { OriginServer } from '../../../src/origin/origin-server.js';
import { StorageWatchSource } from '../../../src/origin/storage-watch-source.js';
import { parsePrometheusText, sampleValue } from '../../helpers/observability/prometheus-text-parser.js';
import { httpRequest } from '../../helpers/origin/http.js';
import { advance, liveModel } from '../../helpers/origin/playlists.js';
import { startRedisServer, type RedisServerProcess } from '../../helpers/redis/redis-server.js';
import { CountingFsStorage } from '../../helpers/storage/counting-storage.js';
import { waitFor } from '../../helpers/wait.js';

const KEY = 'live/news/v0/playlist.m3u8';

/**
 * The writer's publisher and a standalone origin's subscriber over a real redis-server, driving the
 * origin's real storage watch and HTTP server over a storage directory. Safety re-reads are set to a
 * minute, so in notified mode only a notification can release a held request.
 */
describe('playlist notifications over a real Redis', () => {
  let redis: RedisServerProcess;
  let dir: string;
  let storage: CountingFsStorage;
  let source: StorageWatchSource;
  let server: OriginServer;
  let publisher: PlaylistNotificationPublisher;
  let subscribed: Awaited<ReturnType<typeof buildPlaylistSubscriber>>;
  let metrics: Metrics;
  let base: string;
  let model: MediaPlaylist;

  const write = (m: MediaPlaylist) => storage.put(KEY, Buffer.from(serializeMediaPlaylist(m)), { contentType: 'application/vnd.apple.mpegurl' });
  const scrape = async () => parsePrometheusText((await metrics.render()).body);
  /** A blocking reload for the part after `model`'s last, once the origin holds it. */
  const holdNextPart = async () => {
    const next = advance(model);
    const hint = next.pending!.parts.length > 0 ? { msn: next.pending!.msn, part: next.pending!.parts.length - 1 } : { msn: next.segments.at(-1)!.msn, part: 3 };
    const before = server.heldCount;
    const response = httpRequest(`${base}/${KEY}?_HLS_msn=${hint.msn}&_HLS_part=${hint.part}`);
    await waitFor(() => server.heldCount > before, { timeoutMs: 10_000, intervalMs: 5, message: 'the blocking request to be held' });
    return { next, response, uri: `part-${hint.msn}-${hint.part}.m4s` };
  };

  beforeAll(async () => {
    redis = await startRedisServer();
    dir = await mkdtemp(join(tmpdir(), 'livepipe-notify-'));
    storage = new CountingFsStorage(dir);
    await storage.start();
    metrics = new Metrics({ processMetrics: false });
    source = new StorageWatchSource({ storage, parse: parseMediaPlaylist, logger: silentLogger(), notifiedRereadIntervalMs: 60_000 });
    await source.start();
    server = new OriginServer({ source, storage, render: serializeMediaPlaylist, logger: silentLogger(), port: 0 });
    await server.start();
    base = `http://127.0.0.1:${server.address().port}`;
    subscribed = await buildPlaylistSubscriber(redis.url, source, metrics, silentLogger());
    await subscribed.component.start();
    publisher = new PlaylistNotificationPublisher({ url: redis.url, logger: silentLogger(), metrics: new PlaylistNotificationMetrics(metrics.registry), epochOf: () => 3 });
    await publisher.start();
    model = liveModel();
    await write(model);
    expect((await httpRequest(`${base}/${KEY}`)).status).toBe(200);
  });
  afterAll(async () => {
    await publisher?.close();
    await subscribed?.component.close();
    await server?.close();
    await source?.close();
    await redis?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('releases a held request on the notification, not by polling', async () => {
    await waitFor(() => subscribed.subscriber.state === 'notified' && source.isNotified, { timeoutMs: 10_000, message: 'subscribed' });
    expect(await subscribed.readiness.check()).toBeUndefined();
    const { next, response, uri } = await holdNextPart();
    await write(next);
    // Polling would read it within PART-TARGET/4 = 125 ms: four of those pass with no read and no release.
    const gets = storage.getsOf(KEY);
    await sleep(500);
    expect(storage.getsOf(KEY)).toBe(gets);
    expect(server.heldCount).toBe(1);
    // As the packager does: with the text it stored and its position at the PUT.
    publisher.playlistStored('news', 'v0', next, { text: serializeMediaPlaylist(next), ...lastPosition(next), ended: next.endList });
    const released = await response;
    expect(released.status).toBe(200);
    expect(released.body.toString()).toContain(uri);
    // Answered from the text the notification carried: storage was not read at all.
    expect(storage.getsOf(KEY)).toBe(gets);
    expect(source.carried).toBe(1);
    model = next;
    const parsed = await scrape();
    expect(sampleValue(parsed, 'livepipe_cluster_playlist_notifications_published_total', { outcome: 'sent' })).toBe(1);
    expect(sampleValue(parsed, 'livepipe_cluster_playlist_notifications_received_total', { outcome: 'accepted' })).toBe(1);
    expect(sampleValue(parsed, 'livepipe_cluster_playlist_notification_lag_seconds_count')).toBe(1);
    expect(sampleValue(parsed, 'livepipe_cluster_playlist_notifications_fallback')).toBe(0);
  });

  it('publishes each stored version once, and ignores malformed messages (counted)', async () => {
    const raw = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await raw.connect();
    const seen: string[] = [];
    const listener = raw.duplicate();
    await listener.subscribe(PLAYLIST_NOTIFICATIONS_CHANNEL);
    listener.on('message', (_c: string, m: string) => seen.push(m));
    try {
      publisher.playlistStored('news', 'v0', model); // the same version again (putLatest resolves older waiters late)
      await raw.publish(PLAYLIST_NOTIFICATIONS_CHANNEL, '{"v":1,"c":"../../etc","r":"v0","m":1,"p":0,"t":1}');
      await raw.publish(PLAYLIST_NOTIFICATIONS_CHANNEL, 'not json');
      await waitFor(() => subscribed.subscriber.malformed === 2, { timeoutMs: 5000, message: 'both malformed messages counted' });
      // The test's own listener may get them a moment after the origin's subscriber did.
      await waitFor(() => seen.length >= 2, { timeoutMs: 5000, message: "the test's listener to see both raw messages" });
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(seen).toHaveLength(2); // only the two raw ones: the repeated version was not published again
      expect(subscribed.subscriber.received).toBe(1);
      expect(sampleValue(await scrape(), 'livepipe_cluster_playlist_notifications_received_total', { outcome: 'malformed' })).toBe(2);
      expect(server.heldCount).toBe(0);
    } finally {
      listener.disconnect();
      raw.disconnect();
    }
  });

  it('polls storage while Redis is down, says so, and returns to notifications when it is back', async () => {
    await redis.stop();
    await waitFor(() => subscribed.subscriber.state === 'polling' && !source.isNotified, { timeoutMs: 10_000, message: 'fallback to polling' });
    expect(sampleValue(await scrape(), 'livepipe_cluster_playlist_notifications_fallback')).toBe(1);
    await expect(Promise.resolve().then(() => subscribed.readiness.check())).rejects.toThrow(/polling/);
    expect(subscribed.readiness.degradesOnly).toBe(true);

    // Released by polling alone: the publisher cannot reach Redis (and says so in its counter).
    const down = await holdNextPart();
    await write(down.next);
    publisher.playlistStored('news', 'v0', down.next);
    const byPolling = await down.response;
    expect(byPolling.status).toBe(200);
    expect(byPolling.body.toString()).toContain(down.uri);
    model = down.next;
    expect(sampleValue(await scrape(), 'livepipe_cluster_playlist_notifications_published_total', { outcome: 'failed' })).toBeGreaterThanOrEqual(1);

    await redis.start();
    await waitFor(() => subscribed.subscriber.state === 'notified' && source.isNotified, { timeoutMs: 15_000, message: 'subscribed again' });
    await waitFor(async () => sampleValue(await scrape(), 'livepipe_cluster_playlist_notifications_fallback') === 0, { timeoutMs: 5000, message: 'fallback gauge 0' });
    // The publisher reconnects too; once it has, a notification releases the next held request again.
    const up = await holdNextPart();
    await write(up.next);
    const received = subscribed.subscriber.received;
    await waitFor(
      () => {
        publisher.forgetChannel('news');
        publisher.playlistStored('news', 'v0', up.next);
        return subscribed.subscriber.received > received;
      },
      { timeoutMs: 15_000, intervalMs: 200, message: 'a notification through the restarted Redis' },
    );
    const byNotification = await up.response;
    expect(byNotification.status).toBe(200);
    expect(byNotification.body.toString()).toContain(up.uri);
  }, 60_000);
});
