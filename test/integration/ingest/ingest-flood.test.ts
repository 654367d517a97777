import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBus } from '../../../src/core/event-bus.js';
import type { ShedReason } from '../../../src/ingest/connection-admission.js';
import { IngestServer } from '../../../src/ingest/ingest-server.js';
import { StaticChannelRegistry } from '../../../src/ingest/publish-auth.js';
import { captureLogs } from '../../helpers/ingest-log-capture.js';
import { openIdleConnections, sendGarbageConnections, type IdleFlood, type GarbageFlood } from '../../helpers/ingest-flood.js';
import { probeFeed, publish, waitUntil, type Publisher } from '../../helpers/ingest-media.js';

const KEY = 'flood-key-123';

/**
 * Issue 15, point 4: 256 idle connections from one address kept a real ffmpeg publisher out of the
 * RTMP port ("Connection reset by peer"). Here 1 000 idle connections and a stream of garbage
 * connections come from 127.0.0.1 — the publisher's own address — and the publisher must get in.
 */
describe('RTMP ingest under a connection flood from the publisher\'s own address', () => {
  const logs = captureLogs();
  const shed: Array<{ protocol: string; reason: ShedReason }> = [];
  const server = new IngestServer(
    {
      bus: new EventBus(),
      logger: logs.logger,
      channels: new StaticChannelRegistry([{ id: 'flooded', key: KEY }]),
      metrics: { countIngestConnectionShed: (protocol, reason) => shed.push({ protocol, reason }) },
    },
    // The default limits: what a deployment gets.
    { rtmp: { port: 0 }, srt: false },
  );
  const publishers: Publisher[] = [];
  let idle: IdleFlood | undefined;
  let garbage: GarbageFlood | undefined;

  beforeAll(async () => {
    await server.start();
  });
  afterAll(async () => {
    idle?.stop();
    await garbage?.stop();
    await Promise.all(publishers.map((p) => p.stop()));
    await server.close();
  });

  it('lets a publisher with its key in past 1 000 idle connections and ongoing garbage', async () => {
    const port = server.rtmp!.port;
    idle = await openIdleConnections(port, 1000, { reconnect: true });
    expect(idle.connected()).toBeGreaterThanOrEqual(1000);
    garbage = sendGarbageConnections(port, { workers: 10 });
    await waitUntil(() => garbage!.sent() >= 100, 'garbage connections under way');

    const pub = publish(`rtmp://127.0.0.1:${port}/live/flooded?key=${KEY}`, 'flv', { seconds: 30 });
    publishers.push(pub);
    await waitUntil(() => server.feed('flooded') !== undefined, `the publisher's feed (ffmpeg: ${pub.stderr().slice(-300)})`, 20_000);
    const feed = server.feed('flooded')!;
    // Once published it no longer counts as pending: the flood goes on without touching it.
    const garbageBefore = garbage.sent();
    await waitUntil(() => garbage!.sent() >= garbageBefore + 50, 'more garbage after the publish');
    const probed = await probeFeed(feed.open(), 'flv', 5);
    expect(probed.frames.length).toBeGreaterThanOrEqual(5);
    expect(feed.ended).toBe(false);
    expect(pub.stderr()).toBe('');

    // The flood was held to the per-address cap: stalled and least advanced connections went first.
    expect(shed.filter((s) => s.reason === 'evicted_address').length).toBeGreaterThanOrEqual(1000 - 32);
    expect(server.rtmp!.connectionCounts().pending).toBeLessThanOrEqual(32);
    const reasons = new Set(shed.map((s) => s.reason));
    expect(reasons.has('evicted_address')).toBe(true);
    expect(reasons.has('malformed')).toBe(true);
    expect(shed.every((s) => s.protocol === 'rtmp')).toBe(true);
    // Thousands of connections shed, a handful of warnings: one, then one summary per 10 s.
    const warnings = logs.entries().filter((e) => (e.level as number) >= 40);
    expect(warnings.filter((e) => e.msg === 'RTMP connections closed before they published (idle, garbage or a flood?)').length).toBeLessThanOrEqual(3);
    expect(warnings.filter((e) => e.msg !== 'RTMP connections closed before they published (idle, garbage or a flood?)')).toEqual([]);
  }, 60_000);

  it('closes pending connections that do not publish within the deadline (5 s by default)', async () => {
    idle!.stop();
    await garbage!.stop();
    const port = server.rtmp!.port;
    const before = shed.filter((s) => s.reason === 'deadline').length;
    const late = await openIdleConnections(port, 10);
    await waitUntil(() => late.closedByServer() === 10, 'idle connections closed at their deadline', 15_000);
    expect(shed.filter((s) => s.reason === 'deadline').length - before).toBeGreaterThanOrEqual(10);
    expect(server.feed('flooded')?.ended).toBe(false);
    // Only the publisher is left.
    await waitUntil(() => server.rtmp!.connectionCounts().pending === 0, 'no pending connections', 10_000);
    expect(server.rtmp!.connectionCounts()).toEqual({ pending: 0, total: 1 });
  }, 30_000);
});
