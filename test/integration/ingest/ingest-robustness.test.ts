import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import fc from 'fast-check';
import { EventBus, LivepipeEvent } from '../../../src/core/event-bus.js';
import { IngestFeedRegistry } from '../../../src/ingest/ingest-feed.js';
import { PublishAuthorizer, StaticChannelRegistry } from '../../../src/ingest/publish-auth.js';
import { RtmpIngest } from '../../../src/ingest/rtmp-ingest.js';
import { SrtIngest, srtPublisherUrl } from '../../../src/ingest/srt-ingest.js';
import type { ChannelSrtSettings } from '../../../src/ingest/publish-auth.js';
import { captureLogs } from '../../helpers/logs/log-capture.js';
import { probeFeed, publish, type Publisher } from '../../helpers/ingest/media.js';
import { RawRtmpClient, chunkMessage, encodeCommand, throwBytes } from '../../helpers/ingest/rtmp-raw-client.js';
import { waitFor } from '../../helpers/wait.js';
import { freePort } from '../../helpers/ports.js';

const KEY = 'robust-key-123';

describe('ingest robustness against garbage', () => {
  const logs = captureLogs();
  const bus = new EventBus();
  const registry = new IngestFeedRegistry(bus, logs.logger);
  const channels = new StaticChannelRegistry([{ id: 'live1', key: KEY }, { id: 'live2', key: KEY }, { id: 'live3', key: KEY }]);
  const rtmp = new RtmpIngest(
    { registry, authorizer: new PublishAuthorizer(channels, '127.0.0.1', logs.logger), logger: logs.logger },
    { port: 0, publishTimeoutMs: 3000, staleAfterMs: 1000 },
  );
  let srt: ChannelSrtSettings;
  let srtIngest: SrtIngest;
  const publishers: Publisher[] = [];
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => uncaught.push(err);

  beforeAll(async () => {
    process.on('uncaughtException', onUncaught);
    await rtmp.start();
    srt = { port: await freePort('udp'), passphrase: 'robust-srt-pass' };
    srtIngest = new SrtIngest({ registry, logger: logs.logger }, [{ id: 'live2', srt }], { reArmDelayMs: 100 });
    await srtIngest.start();
  });
  afterAll(async () => {
    process.off('uncaughtException', onUncaught);
    await Promise.all(publishers.map((p) => p.stop()));
    await rtmp.close();
    await srtIngest.close();
  });

  it('keeps a live channel running while garbage hits the RTMP port', async () => {
    // A legitimate publisher is live the whole time.
    const pub = publish(`rtmp://127.0.0.1:${rtmp.port}/live/live1?key=${KEY}`, 'flv');
    publishers.push(pub);
    await waitFor(() => registry.get('live1') !== undefined, { timeoutMs: 20_000, message: 'live1 feed' });
    const feed = registry.get('live1')!;

    // Random bytes of random sizes, including first bytes that look like C0.
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 5000 }), async (bytes) => {
        await throwBytes(rtmp.port, Buffer.from(bytes), 30);
      }),
      { numRuns: 40 },
    );
    // Truncated handshakes: C0 alone, C0 + part of C1, C0+C1 and part of C2.
    await throwBytes(rtmp.port, Buffer.from([3]), 300);
    await throwBytes(rtmp.port, Buffer.concat([Buffer.from([3]), randomBytes(700)]), 300);
    await throwBytes(rtmp.port, Buffer.concat([Buffer.from([3]), randomBytes(1536 + 900)]), 300);
    // A full handshake followed by random chunk bytes.
    for (let i = 0; i < 10; i++) {
      const c = await RawRtmpClient.connect(rtmp.port);
      await c.handshake();
      c.write(randomBytes(1 + Math.floor(Math.random() * 4000)));
      await c.closedWithin(200);
      c.destroy();
    }

    expect(feed.ended).toBe(false);
    expect(registry.get('live1')).toBe(feed);
    expect(uncaught).toEqual([]);
  });

  it('survives malformed RTMP commands, one connection at a time', async () => {
    const cases: Array<[string, Buffer[]]> = [
      ['connect with an invalid tcUrl (kills a stock NMS 4.4.3 server)', [chunkMessage(20, encodeCommand({ cmd: 'connect', transId: 1, cmdObj: { app: 'live', tcUrl: 'not a url' } }))]],
      ['connect without command object (kills a stock NMS 4.4.3 server)', [chunkMessage(20, encodeCommand({ cmd: 'connect', transId: 1, cmdObj: null }))]],
      ['truncated AMF', [chunkMessage(20, encodeCommand({ cmd: 'connect', transId: 1, cmdObj: { app: 'live', tcUrl: 'rtmp://h/live' } }).subarray(0, 20))]],
      ['unknown AMF type (kills a stock NMS 4.4.3 server)', [chunkMessage(20, Buffer.from([0x02, 0x00, 0x07, ...Buffer.from('connect'), 0x0d, 0xff, 0xff]))]],
      ['publish with a numeric name (kills a stock NMS 4.4.3 server)', [
        chunkMessage(20, encodeCommand({ cmd: 'connect', transId: 1, cmdObj: { app: 'live', tcUrl: 'rtmp://127.0.0.1/live' } })),
        chunkMessage(20, encodeCommand({ cmd: 'publish', transId: 2, cmdObj: null, streamName: 42, type: 'live' })),
      ]],
      ['publish before connect', [chunkMessage(20, encodeCommand({ cmd: 'publish', transId: 2, cmdObj: null, streamName: 'live1', type: 'live' }))]],
      ['publish with no stream name', [
        chunkMessage(20, encodeCommand({ cmd: 'connect', transId: 1, cmdObj: { app: 'live', tcUrl: 'rtmp://127.0.0.1/live' } })),
        chunkMessage(20, encodeCommand({ cmd: 'publish', transId: 2, cmdObj: null })),
      ]],
      ['set chunk size 0', [chunkMessage(1, Buffer.from([0, 0, 0, 0]), { cid: 2 }), chunkMessage(20, encodeCommand({ cmd: 'connect', transId: 1, cmdObj: { app: 'live', tcUrl: 'rtmp://127.0.0.1/live' } }))]],
      ['short set chunk size', [chunkMessage(1, Buffer.from([0, 1]), { cid: 2 })]],
      ['a 16 MiB message length', [chunkMessage(9, Buffer.alloc(100), { declaredLength: 0xffffff })]],
      ['many chunk streams', Array.from({ length: 100 }, (_, i) => chunkMessage(9, Buffer.alloc(10), { cid: 4 + i }))],
      ['media before publish', [chunkMessage(9, Buffer.from([0x17, 0x01, 0, 0, 0, 1, 2, 3]), { cid: 6 })]],
      ['play request (this is an ingest)', [
        chunkMessage(20, encodeCommand({ cmd: 'connect', transId: 1, cmdObj: { app: 'live', tcUrl: 'rtmp://127.0.0.1/live' } })),
        chunkMessage(20, encodeCommand({ cmd: 'play', transId: 2, cmdObj: null, streamName: 'live1' })),
      ]],
      ['publish with a traversal name', [
        chunkMessage(20, encodeCommand({ cmd: 'connect', transId: 1, cmdObj: { app: 'live', tcUrl: 'rtmp://127.0.0.1/live' } })),
        chunkMessage(20, encodeCommand({ cmd: 'publish', transId: 2, cmdObj: null, streamName: `../../etc?key=${KEY}`, type: 'live' })),
      ]],
    ];
    for (const [name, messages] of cases) {
      const c = await RawRtmpClient.connect(rtmp.port);
      await c.handshake();
      for (const m of messages) c.write(m);
      const closed = await c.closedWithin(4000);
      c.destroy();
      // Either refused/closed by the server, or harmlessly ignored until the publish timeout: never a crash.
      expect({ name, uncaught }).toEqual({ name, uncaught: [] });
      void closed;
    }
    const entries = logs.entries();
    expect(entries.some((e) => e.msg === 'malformed RTMP input, closing connection')).toBe(true);
    expect(entries.some((e) => typeof e.err === 'string' && /exceeds the \d+-byte limit/.test(e.err))).toBe(true);
    expect(entries.some((e) => typeof e.err === 'string' && /invalid RTMP chunk size 0/.test(e.err))).toBe(true);
    expect(entries.some((e) => typeof e.err === 'string' && /more than 8 RTMP chunk streams before publish/.test(e.err))).toBe(true);
    expect(entries.some((e) => e.err === 'Invalid URL')).toBe(true);
    expect(entries.some((e) => e.msg === 'play requested')).toBe(true);
    expect(registry.list().map((f) => f.channel)).toEqual(['live1']);
  });

  it('ends an accepted publish with reason "error" when its publisher sends an oversized message', async () => {
    const ends: string[] = [];
    const off = bus.on(LivepipeEvent.PublishEnded, (p) => {
      if (p.channel === 'live3') ends.push(p.reason);
    });
    const c = await RawRtmpClient.connect(rtmp.port);
    await c.handshake();
    c.write(chunkMessage(20, encodeCommand({ cmd: 'connect', transId: 1, cmdObj: { app: 'live', tcUrl: `rtmp://127.0.0.1:${rtmp.port}/live` } })));
    c.write(chunkMessage(20, encodeCommand({ cmd: 'createStream', transId: 2, cmdObj: null })));
    c.write(chunkMessage(20, encodeCommand({ cmd: 'publish', transId: 3, cmdObj: null, streamName: `live3?key=${KEY}`, type: 'live' }), { cid: 8, streamId: 1 }));
    await waitFor(() => registry.get('live3') !== undefined, { timeoutMs: 20_000, message: 'live3 feed' });
    await c.waitFor(1);
    expect(c.receivedText()).toContain('NetStream.Publish.Start');
    expect(c.receivedText()).not.toContain(KEY);
    c.write(chunkMessage(9, Buffer.alloc(100), { cid: 6, streamId: 1, declaredLength: 0xffffff }));
    expect(await c.closedWithin(5000)).toBe(true);
    await waitFor(() => ends.length === 1, { timeoutMs: 20_000, message: 'live3 end' });
    expect(ends).toEqual(['error']);
    expect(logs.entries().some((e) => e.err === 'RTMP message of 16777215 bytes exceeds the 8388608-byte limit')).toBe(true);
    off();
  });

  it('replaces a publisher that went silent (a dead connection TCP has not noticed) with a new authenticated one', async () => {
    const ends: string[] = [];
    const off = bus.on(LivepipeEvent.PublishEnded, (p) => {
      if (p.channel === 'live3') ends.push(p.reason);
    });
    const silent = await RawRtmpClient.connect(rtmp.port);
    await silent.handshake();
    silent.write(chunkMessage(20, encodeCommand({ cmd: 'connect', transId: 1, cmdObj: { app: 'live', tcUrl: `rtmp://127.0.0.1:${rtmp.port}/live` } })));
    silent.write(chunkMessage(20, encodeCommand({ cmd: 'publish', transId: 3, cmdObj: null, streamName: `live3?key=${KEY}`, type: 'live' }), { cid: 8, streamId: 1 }));
    await waitFor(() => registry.get('live3') !== undefined, { timeoutMs: 20_000, message: 'silent live3 feed' });
    const silentFeed = registry.get('live3')!;
    // Then nothing more from it; staleAfterMs is 1 s in this suite.
    await new Promise((r) => setTimeout(r, 1200));
    const pub = publish(`rtmp://127.0.0.1:${rtmp.port}/live/live3?key=${KEY}`, 'flv');
    publishers.push(pub);
    await waitFor(() => registry.get('live3') !== undefined && registry.get('live3') !== silentFeed, { timeoutMs: 20_000, message: 'replacement feed' });
    expect(silentFeed.ended).toBe(true);
    expect(ends).toEqual(['disconnect']);
    expect(await silent.closedWithin(2000)).toBe(true);
    expect(logs.entries().some((e) => e.msg === 'replacing a silent RTMP publisher with a new authenticated one')).toBe(true);
    await pub.stop();
    await waitFor(() => ends.length === 2, { timeoutMs: 20_000, message: 'replacement end' });
    off();
  });

  it('acknowledges received bytes once the window of the peer is reached (RTMP §5.4.3)', async () => {
    const c = await RawRtmpClient.connect(rtmp.port);
    await c.handshake();
    const window = Buffer.alloc(4);
    window.writeUInt32BE(2000);
    c.write(chunkMessage(5, window, { cid: 2 }));
    c.write(chunkMessage(20, encodeCommand({ cmd: 'connect', transId: 1, cmdObj: { app: 'live', tcUrl: `rtmp://127.0.0.1:${rtmp.port}/live` } })));
    // Harmless unknown commands until well past the window.
    for (let i = 0; i < 5; i++) c.write(chunkMessage(20, encodeCommand({ cmd: 'noop', transId: 10 + i, cmdObj: null, padding: 'x'.repeat(600) })));
    // Acknowledgement: chunk stream 2, type 3, 4-byte sequence number.
    const ack = Buffer.from('0200000000000403', 'hex');
    await waitFor(() => c.receivedBytes().includes(ack), { timeoutMs: 5000, message: 'an Acknowledgement' });
    const at = c.receivedBytes().indexOf(ack);
    expect(c.receivedBytes().readUInt32BE(at + 12)).toBeGreaterThanOrEqual(2000);
    c.destroy();
  });

  it('survives random datagrams on the SRT port and still takes a publisher', async () => {
    await waitFor(() => srtIngest.listenerPid('live2') !== undefined, { timeoutMs: 20_000, message: 'SRT listener' });
    const pid = srtIngest.listenerPid('live2');
    const socket = createSocket('udp4');
    for (let i = 0; i < 200; i++) {
      const size = 1 + Math.floor(Math.random() * 1400);
      const datagram = randomBytes(size);
      // Some look like SRT control packets (first bit set), handshake type included.
      if (i % 3 === 0) datagram[0] = 0x80;
      await new Promise<void>((r) => socket.send(datagram, srt.port, '127.0.0.1', () => r()));
    }
    socket.close();
    const pub = publish(srtPublisherUrl('127.0.0.1', 'live2', srt), 'mpegts');
    publishers.push(pub);
    await waitFor(() => registry.get('live2') !== undefined, { timeoutMs: 20_000, message: 'live2 feed after garbage' });
    // The listener either survived the garbage or was re-armed; either way the channel works.
    expect(typeof pid).toBe('number');
    const probed = await probeFeed(registry.get('live2')!.open(), 'mpegts', 3);
    expect(probed.frames.length).toBeGreaterThanOrEqual(3);
  });

  it('still serves the legitimate RTMP channel, decodable, after all of it', async () => {
    const feed = registry.get('live1')!;
    expect(feed.ended).toBe(false);
    const probed = await probeFeed(feed.open(), 'flv', 5);
    expect(probed.code).toBe(0);
    expect(probed.frames[0]?.key_frame).toBe(1);
    expect(probed.stderr).toBe('');
    // And a new publisher can still connect.
    await publishers[0]!.stop();
    await waitFor(() => registry.get('live1') === undefined, { timeoutMs: 20_000, message: 'live1 end' });
    const again = publish(`rtmp://127.0.0.1:${rtmp.port}/live/live1?key=${KEY}`, 'flv');
    publishers.push(again);
    await waitFor(() => registry.get('live1') !== undefined, { timeoutMs: 20_000, message: 'live1 again' });
    expect(uncaught).toEqual([]);
  });
});
