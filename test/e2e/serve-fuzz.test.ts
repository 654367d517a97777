/**
 * Garbage at the ingest ports of a running `livepipe serve` process (the real CLI, so a crash would
 * kill it): random and truncated bytes on RTMP, the RTMP command sequences that crash a stock
 * node-media-server 4.4.3, random and handshake-shaped datagrams on SRT. A live RTMP channel must
 * keep its publisher through it all; afterwards new RTMP and SRT publishes work and the process is
 * alive and exits cleanly.
 */
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publish, type Publisher } from '../helpers/ingest/media.js';
import { RawRtmpClient, chunkMessage, encodeCommand, throwBytes } from '../helpers/ingest/rtmp-raw-client.js';
import { getText, lastMsn, mediaPlaylist, startServeCli, type ServeCli } from '../helpers/serve/serve-fixture.js';
import { waitFor } from '../helpers/wait.js';
import { freePorts } from '../helpers/ports.js';

const KEY = 'fuzz-key-0123456789';
const PASSPHRASE = 'fuzz-srt-passphrase';

interface ChannelJson {
  state: string;
  publisher?: { protocol: string; since: string };
}

const connectCmd = (tcUrl: unknown = 'rtmp://127.0.0.1/live') => chunkMessage(20, encodeCommand({ cmd: 'connect', transId: 1, cmdObj: { app: 'live', tcUrl } }));

/** Malformed RTMP command sequences, sent after a valid handshake. */
const MALFORMED: Array<[string, Buffer[]]> = [
  ['connect with an invalid tcUrl', [connectCmd('not a url')]],
  ['connect without command object', [chunkMessage(20, encodeCommand({ cmd: 'connect', transId: 1, cmdObj: null }))]],
  ['truncated AMF', [connectCmd().subarray(0, 20)]],
  ['unknown AMF type', [chunkMessage(20, Buffer.from([0x02, 0x00, 0x07, ...Buffer.from('connect'), 0x0d, 0xff, 0xff]))]],
  ['publish with a numeric name', [connectCmd(), chunkMessage(20, encodeCommand({ cmd: 'publish', transId: 2, cmdObj: null, streamName: 42, type: 'live' }))]],
  ['publish before connect', [chunkMessage(20, encodeCommand({ cmd: 'publish', transId: 2, cmdObj: null, streamName: `fuzz?key=${KEY}`, type: 'live' }))]],
  ['publish with no stream name', [connectCmd(), chunkMessage(20, encodeCommand({ cmd: 'publish', transId: 2, cmdObj: null }))]],
  ['publish of the live channel with the right key while it is live', [connectCmd(), chunkMessage(20, encodeCommand({ cmd: 'publish', transId: 2, cmdObj: null, streamName: `fuzz?key=${KEY}`, type: 'live' }), { cid: 8, streamId: 1 })]],
  ['set chunk size 0', [chunkMessage(1, Buffer.from([0, 0, 0, 0]), { cid: 2 }), connectCmd()]],
  ['short set chunk size', [chunkMessage(1, Buffer.from([0, 1]), { cid: 2 })]],
  ['a 16 MiB message length', [chunkMessage(9, Buffer.alloc(100), { declaredLength: 0xffffff })]],
  ['many chunk streams', Array.from({ length: 100 }, (_, i) => chunkMessage(9, Buffer.alloc(10), { cid: 4 + i }))],
  ['media before publish', [chunkMessage(9, Buffer.from([0x17, 0x01, 0, 0, 0, 1, 2, 3]), { cid: 6 })]],
  ['play request', [connectCmd(), chunkMessage(20, encodeCommand({ cmd: 'play', transId: 2, cmdObj: null, streamName: 'fuzz' }))]],
  ['publish with a traversal name', [connectCmd(), chunkMessage(20, encodeCommand({ cmd: 'publish', transId: 2, cmdObj: null, streamName: `../../etc?key=${KEY}`, type: 'live' }))]],
  ['deleteStream and closeStream storms', Array.from({ length: 20 }, (_, i) => chunkMessage(20, encodeCommand({ cmd: i % 2 ? 'deleteStream' : 'closeStream', transId: i, cmdObj: null, streamId: i })))],
];

/** An SRT control packet header shaped like a handshake (type 0), with random body bytes. */
function srtHandshakeLike(): Buffer {
  const packet = randomBytes(64);
  packet.writeUInt16BE(0x8000, 0); // control bit, type 0 = handshake
  packet.writeUInt16BE(0, 2);
  packet.writeUInt32BE(4, 16); // version 4 (HSv4) or…
  if (Math.random() < 0.5) packet.writeUInt32BE(5, 16); // …5 (HSv5)
  return packet;
}

describe('livepipe serve against garbage on its ingest ports', () => {
  let serve: ServeCli;
  let srtPort: number;
  const publishers: Publisher[] = [];

  beforeAll(async () => {
    [srtPort] = (await freePorts(1, 'udp')) as [number];
    serve = await startServeCli({
      maxChannels: 4,
      channels: [
        { id: 'fuzz', ladder: 'low-latency', key: KEY },
        { id: 'fuzzsrt', ladder: 'low-latency', key: KEY, srt: { port: srtPort, passphrase: PASSPHRASE } },
      ],
    });
  });

  afterAll(async () => {
    await Promise.all(publishers.map((p) => p.stop()));
    const code = await serve?.cli.stop('SIGTERM');
    const stderr = serve?.cli.stderr() ?? '';
    await serve?.close();
    expect(code, stderr.slice(-3000)).toBe(0);
  });

  const channel = (id: string) => serve.api<ChannelJson>(`/api/v1/channels/${id}`);

  it('keeps a live RTMP publisher while random, truncated and malformed input hits the RTMP port', async () => {
    const live = publish(serve.rtmpUrl('fuzz', KEY), 'flv');
    publishers.push(live);
    const before = await waitFor(async () => {
      const c = await channel('fuzz');
      return c?.state === 'live' && c.publisher !== undefined ? c : undefined;
    }, { message: 'fuzz live' });

    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 5000 }), async (bytes) => {
        await throwBytes(serve.rtmpPort, Buffer.from(bytes), 20);
      }),
      { numRuns: 60 },
    );
    // Truncated handshakes: C0 alone, C0 + part of C1, C0 + C1 + part of C2, a wrong version byte.
    await throwBytes(serve.rtmpPort, Buffer.from([3]), 100);
    await throwBytes(serve.rtmpPort, Buffer.concat([Buffer.from([3]), randomBytes(700)]), 100);
    await throwBytes(serve.rtmpPort, Buffer.concat([Buffer.from([3]), randomBytes(1536 + 900)]), 100);
    await throwBytes(serve.rtmpPort, Buffer.concat([Buffer.from([0xff]), randomBytes(1536 * 2)]), 100);
    // Valid handshakes followed by random chunk bytes, and by truncated ones.
    for (let i = 0; i < 10; i++) {
      const c = await RawRtmpClient.connect(serve.rtmpPort);
      await c.handshake();
      c.write(randomBytes(1 + Math.floor(Math.random() * 4000)));
      await c.closedWithin(100);
      c.destroy();
    }
    for (const [name, messages] of MALFORMED) {
      const c = await RawRtmpClient.connect(serve.rtmpPort);
      await c.handshake();
      for (const m of messages) c.write(m);
      await c.closedWithin(1500);
      c.destroy();
      expect(serve.cli.child.exitCode, `${name}: ${serve.cli.stderr().slice(-2000)}`).toBeNull();
    }

    const after = await channel('fuzz');
    expect(after?.state).toBe('live');
    expect(after?.publisher?.since).toBe(before.publisher!.since);
    expect(live.child.exitCode).toBeNull();
    // Nothing of that reached the origin as a channel.
    expect((await getText(`${serve.live('etc')}/master.m3u8`)).status).toBe(404);
  });

  it('survives random and handshake-shaped datagrams on the SRT port, then takes an SRT publisher', async () => {
    const socket = createSocket('udp4');
    for (let i = 0; i < 300; i++) {
      const datagram = i % 3 === 0 ? srtHandshakeLike() : randomBytes(1 + Math.floor(Math.random() * 1400));
      await new Promise<void>((r) => socket.send(datagram, srtPort, '127.0.0.1', () => r()));
    }
    // Truncated datagrams too: shorter than an SRT header.
    for (let i = 0; i < 30; i++) await new Promise<void>((r) => socket.send(randomBytes(1 + (i % 15)), srtPort, '127.0.0.1', () => r()));
    socket.close();

    // The listener may have been re-armed after the garbage: an encoder retries like this one does.
    const url = `srt://127.0.0.1:${srtPort}?streamid=publish:fuzzsrt&passphrase=${PASSPHRASE}&pbkeylen=16`;
    const srt = await waitFor(async () => {
      const p = publish(url, 'mpegts');
      const c = await waitFor(async () => {
        if (p.child.exitCode !== null) return { state: 'publisher-exited' } as ChannelJson;
        const v = await channel('fuzzsrt');
        return v?.publisher?.protocol === 'srt' ? v : undefined;
      }, { timeoutMs: 15_000, message: 'fuzzsrt publisher' }).catch(() => undefined);
      if (c?.publisher?.protocol === 'srt') {
        publishers.push(p);
        return p;
      }
      await p.stop();
      return undefined;
    }, { timeoutMs: 45_000, message: 'an SRT publish after the garbage' });
    expect(srt.child.exitCode).toBeNull();
    await waitFor(async () => ((await getText(`${serve.live('fuzzsrt')}/master.m3u8`)).status === 200 ? true : undefined), { timeoutMs: 45_000, message: 'fuzzsrt playlist' });
  });

  it('takes a new RTMP publisher after all of it, and the process is alive and healthy', async () => {
    const first = publishers[0]!;
    await first.stop();
    await waitFor(async () => ((await channel('fuzz'))?.publisher === undefined ? true : undefined), { message: 'fuzz publisher gone' });
    const again = publish(serve.rtmpUrl('fuzz', KEY), 'flv');
    publishers.push(again);
    await waitFor(async () => {
      const c = await channel('fuzz');
      return c?.state === 'live' && c.publisher?.protocol === 'rtmp' ? true : undefined;
    }, { message: 'fuzz live again' });
    // Media from the new publisher reaches the playlist: segments beyond those published so far.
    const before = await mediaPlaylist(serve.live('fuzz'), '360p');
    expect(before).toBeDefined();
    await waitFor(async () => {
      const p = await mediaPlaylist(serve.live('fuzz'), '360p');
      return p !== undefined && lastMsn(p) >= lastMsn(before!) + 2 ? true : undefined;
    }, { timeoutMs: 45_000, message: 'fuzz playlist advancing' });
    expect(serve.cli.child.exitCode).toBeNull();
    expect((await getText(`${serve.apiBase}/healthz`)).status).toBe(200);
    expect(serve.cli.stderr()).not.toMatch(/uncaught|unhandled/i);
  });
});
