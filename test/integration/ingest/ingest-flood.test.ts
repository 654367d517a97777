import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBus } from '../../../src/core/event-bus.js';
import type { ShedReason } from '../../../src/ingest/connection-admission.js';
import { IngestServer } from '../../../src/ingest/ingest-server.js';
import { StaticChannelRegistry } from '../../../src/ingest/publish-auth.js';
import { captureLogs } from '../../helpers/logs/log-capture.js';
import { srtPublisherUrl } from '../../../src/ingest/srt-ingest.js';
import type { ChannelSrtSettings } from '../../../src/ingest/publish-auth.js';
import {
  openIdleConnections,
  sendGarbageConnections,
  sendGarbageDatagrams,
  sendSrtCallers,
  type GarbageFlood,
  type IdleFlood,
  type SrtCallerFlood,
} from '../../helpers/ingest/flood.js';
import { probeFeed, publish, type Publisher } from '../../helpers/ingest/media.js';
import { RawRtmpClient } from '../../helpers/ingest/rtmp-raw-client.js';
import { waitFor } from '../../helpers/wait.js';
import { freePort } from '../../helpers/ports.js';

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

  it('closes a connection whose first byte is not RTMP version 3 at once (NMS would start a handshake)', async () => {
    const port = server.rtmp!.port;
    const http = await RawRtmpClient.connect(port);
    http.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    expect(await http.closedWithin(2000)).toBe(true);
    const rtmp = await RawRtmpClient.connect(port);
    rtmp.write(Buffer.from([3]));
    expect(await rtmp.closedWithin(500)).toBe(false);
    rtmp.destroy();
  });

  it('lets a publisher with its key in past 1 000 idle connections and ongoing garbage', async () => {
    const startedAt = Date.now();
    const port = server.rtmp!.port;
    idle = await openIdleConnections(port, 1000, { reconnect: true });
    expect(idle.connected()).toBeGreaterThanOrEqual(1000);
    garbage = sendGarbageConnections(port, { workers: 10 });
    await waitFor(() => garbage!.sent() >= 100, { message: 'garbage connections under way' });

    const pub = publish(`rtmp://127.0.0.1:${port}/live/flooded?key=${KEY}`, 'flv', { seconds: 30 });
    publishers.push(pub);
    await waitFor(() => server.feed('flooded') !== undefined, { message: `the publisher's feed (ffmpeg: ${pub.stderr().slice(-300)})`, timeoutMs: 20_000 });
    const feed = server.feed('flooded')!;
    // Once published it no longer counts as pending: the flood goes on without touching it.
    const garbageBefore = garbage.sent();
    await waitFor(() => garbage!.sent() >= garbageBefore + 50, { message: 'more garbage after the publish' });
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
    const summaries = warnings.filter((e) => e.msg === 'RTMP connections closed before they published (idle, garbage or a flood?)');
    expect(summaries.length).toBeGreaterThanOrEqual(1);
    expect(summaries.length).toBeLessThanOrEqual(1 + Math.ceil((Date.now() - startedAt) / 10_000));
    expect(warnings.filter((e) => e.msg !== 'RTMP connections closed before they published (idle, garbage or a flood?)')).toEqual([]);
  }, 60_000);

  it('closes pending connections that do not publish within the deadline (5 s by default)', async () => {
    idle!.stop();
    await garbage!.stop();
    const port = server.rtmp!.port;
    // What the flood left half-open on the server side goes at its own deadline first.
    await waitFor(() => server.rtmp!.connectionCounts().pending === 0, { message: 'the flood drained', timeoutMs: 15_000 });
    const before = shed.filter((s) => s.reason === 'deadline').length;
    const openedAt = Date.now();
    const late = await openIdleConnections(port, 10);
    await waitFor(() => late.closedByServer() === 10, { message: 'idle connections closed at their deadline', timeoutMs: 15_000 });
    expect(Date.now() - openedAt).toBeGreaterThanOrEqual(4500);
    expect(shed.filter((s) => s.reason === 'deadline').length - before).toBe(10);
    expect(server.feed('flooded')?.ended).toBe(false);
    // Only the publisher is left.
    expect(server.rtmp!.connectionCounts()).toEqual({ pending: 0, total: 1 });
  }, 40_000);
});

/**
 * The same for SRT: the channel's listener (ffmpeg, libsrt in listener mode) gets garbage datagrams,
 * 1 000 callers that never finish their handshake, legacy-handshake callers without a passphrase,
 * and ffmpeg callers with a wrong or no passphrase and a wrong streamid — all from 127.0.0.1 — and
 * the publisher with the passphrase must get in.
 */
describe('SRT ingest under a flood of bogus callers and garbage', () => {
  const logs = captureLogs();
  const shed: Array<{ protocol: string; reason: ShedReason }> = [];
  let srt: ChannelSrtSettings;
  let server: IngestServer;
  const publishers: Publisher[] = [];
  const floods: SrtCallerFlood[] = [];
  let stopped = false;
  const loops: Array<Promise<void>> = [];

  beforeAll(async () => {
    srt = { port: await freePort('udp'), passphrase: 'flood-srt-passphrase' };
    server = new IngestServer(
      {
        bus: new EventBus(),
        logger: logs.logger,
        channels: new StaticChannelRegistry([{ id: 'srtflood', key: KEY, srt }]),
        metrics: { countIngestConnectionShed: (protocol, reason) => shed.push({ protocol, reason }) },
      },
      { rtmp: false, srt: {} },
    );
    await server.start();
    await waitFor(() => server.srt!.listenerPid('srtflood') !== undefined, { message: 'SRT listener armed' });
  });
  afterAll(async () => {
    stopped = true;
    await Promise.all(floods.map((f) => f.stop()));
    await Promise.all(loops);
    await Promise.all(publishers.map((p) => p.stop()));
    await server.close();
  });

  /** An ffmpeg caller (audio only: cheap) connecting again and again with `url` until the test ends. */
  const bogusFfmpegCaller = (url: string) =>
    loops.push((async () => {
      while (!stopped) {
        const p = publish(url, 'mpegts', { seconds: 5, video: false });
        publishers.push(p);
        await p.exited;
      }
    })());

  it('lets the publisher with the passphrase in', async () => {
    const pid = server.srt!.listenerPid('srtflood');
    const idle = sendSrtCallers(srt.port, { workers: 8, pauseMs: 5 });
    const legacy = sendSrtCallers(srt.port, { workers: 2, conclude: true, pauseMs: 100 });
    floods.push(idle, legacy);
    bogusFfmpegCaller(srtPublisherUrl('127.0.0.1', 'srtflood', { ...srt, passphrase: 'not-the-passphrase' }));
    bogusFfmpegCaller(`srt://127.0.0.1:${srt.port}?streamid=publish:someone-else`);
    await sendGarbageDatagrams(srt.port, 3000);
    await waitFor(() => idle.started() >= 1000, { message: '1 000 idle callers', timeoutMs: 20_000 });
    expect(legacy.concluded()).toBeGreaterThan(0);

    const pub = publish(srtPublisherUrl('127.0.0.1', 'srtflood', srt), 'mpegts', { seconds: 30 });
    publishers.push(pub);
    await waitFor(() => server.feed('srtflood') !== undefined, { message: "the publisher's feed", timeoutMs: 20_000 });
    const probed = await probeFeed(server.feed('srtflood')!.open(), 'mpegts', 3);
    expect(probed.frames.length).toBeGreaterThanOrEqual(3);
    // The flood never took the listener: it is the process that was armed before it.
    expect(server.srt!.listenerPid('srtflood')).toBe(pid);

    // Refused callers are counted, and cost one warning (then one per 10 s), not one each.
    await waitFor(() => shed.some((s) => s.reason === 'auth_failed'), { message: 'refusals counted' });
    expect(shed.every((s) => s.protocol === 'srt')).toBe(true);
    const message = 'SRT callers refused or dropped before publishing (wrong passphrase, legacy handshake, or a flood?)';
    const warnings = logs.entries().filter((e) => (e.level as number) >= 40);
    expect(warnings.filter((e) => e.msg === message).length).toBeLessThanOrEqual(3);
    expect(warnings.filter((e) => e.msg !== message)).toEqual([]);
    expect(logs.text()).not.toContain(srt.passphrase);
  }, 60_000);
});
