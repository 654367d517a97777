import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBus, LivepipeEvent, type EventPayloads } from '../../../src/core/event-bus.js';
import { IngestFeedRegistry } from '../../../src/ingest/ingest-feed.js';
import { SrtIngest, srtPublisherUrl } from '../../../src/ingest/srt-ingest.js';
import type { ChannelSrtSettings } from '../../../src/ingest/publish-auth.js';
import { captureLogs } from '../../helpers/logs/log-capture.js';
import { isAlive, probeFeed, probeStreams, publish, type Publisher } from '../../helpers/ingest/media.js';
import { waitFor } from '../../helpers/wait.js';
import { freePort } from '../../helpers/ports.js';

describe('SRT ingest with a real ffmpeg publisher', () => {
  const logs = captureLogs();
  const bus = new EventBus();
  const registry = new IngestFeedRegistry(bus, logs.logger);
  const started: Array<EventPayloads[LivepipeEvent.PublishStarted]> = [];
  const ended: Array<EventPayloads[LivepipeEvent.PublishEnded]> = [];
  bus.on(LivepipeEvent.PublishStarted, (p) => started.push(p));
  bus.on(LivepipeEvent.PublishEnded, (p) => ended.push(p));
  const publishers: Publisher[] = [];
  let srt: ChannelSrtSettings;
  let ingest: SrtIngest;

  beforeAll(async () => {
    srt = { port: await freePort('udp'), passphrase: 'srt-passphrase-42', latencyMs: 120 };
    ingest = new SrtIngest({ registry, logger: logs.logger }, [{ id: 'field', srt }], { reArmDelayMs: 100 });
    await ingest.start();
    await waitFor(() => ingest.listenerPid('field') !== undefined, { timeoutMs: 20_000, message: 'listener armed' });
  });
  afterAll(async () => {
    await Promise.all(publishers.map((p) => p.stop()));
    await ingest.close();
  });

  it('refuses a wrong passphrase, says so in the log, and keeps listening', async () => {
    const wrong = publish(srtPublisherUrl('127.0.0.1', 'field', { ...srt, passphrase: 'not-the-passphrase' }), 'mpegts', { seconds: 3 });
    publishers.push(wrong);
    expect(await wrong.exited).not.toBe(0);
    await waitFor(() => logs.entries().some((e) => e.msg === 'SRT publish refused: wrong passphrase'), { timeoutMs: 20_000, message: 'refusal log' });
    expect(registry.get('field')).toBeUndefined();
    expect(started).toHaveLength(0);
    expect(logs.text()).not.toContain('not-the-passphrase');
    expect(logs.text()).not.toContain(srt.passphrase);
  });

  it('refuses a publisher without passphrase', async () => {
    const none = publish(`srt://127.0.0.1:${srt.port}`, 'mpegts', { seconds: 3 });
    publishers.push(none);
    expect(await none.exited).not.toBe(0);
    await waitFor(() => logs.entries().some((e) => e.msg === 'SRT publish refused: publisher sent no passphrase'), { timeoutMs: 20_000, message: 'refusal log' });
    expect(registry.get('field')).toBeUndefined();
  });

  it('accepts the right passphrase and serves decodable MPEG-TS', async () => {
    const pub = publish(srtPublisherUrl('127.0.0.1', 'field', srt), 'mpegts', { seconds: 30 });
    publishers.push(pub);
    await waitFor(() => registry.get('field') !== undefined, { timeoutMs: 20_000, message: 'field feed' });
    const feed = registry.get('field')!;
    expect(feed).toMatchObject({ protocol: 'srt', format: 'mpegts' });
    expect(started).toEqual([{ channel: 'field', protocol: 'srt', role: 'primary' }]);
    const probed = await probeFeed(feed.open(), 'mpegts', 10);
    expect(probed.code).toBe(0);
    expect(probed.streams[0]).toMatchObject({ codec_name: 'h264', width: 640, height: 360 });
    expect(probed.frames.length).toBeGreaterThanOrEqual(10);
    // The TS keyframe cache: a consumer starts at the PAT before the latest keyframe.
    expect(probed.frames[0]).toMatchObject({ media_type: 'video', key_frame: 1, pict_type: 'I' });
    expect(probed.stderr).toBe('');
    await new Promise((r) => setTimeout(r, 1370)); // somewhere inside a 1 s GOP
    const late = await probeFeed(feed.open(), 'mpegts', 3);
    expect(late.frames[0]).toMatchObject({ media_type: 'video', key_frame: 1, pict_type: 'I' });
    expect(late.stderr).toBe('');
    expect((await probeStreams(feed.open(), 'mpegts')).sort()).toEqual(['aac', 'h264']);
    expect(feed.info()).toMatchObject({ channel: 'field', protocol: 'srt', format: 'mpegts', video: { codec: 'h264' }, audio: { codec: 'aac' } });
    expect(feed.info().bytesIn).toBeGreaterThan(0);
    // ffmpeg's MPEG-TS muxer packs its 64 kbit/s AAC into ~2.9 KB PES packets (0.37 s each): the
    // audio arrives that much after its video, and the operator is told why viewers sit further back.
    await waitFor(() => logs.entries().some((e) => String(e.msg).startsWith("the publisher's audio arrives up to")), { timeoutMs: 20_000, message: 'audio delay warning' });
    expect(feed.info().audioDelaySeconds).toBeGreaterThanOrEqual(0.3);
    expect(logs.entries().filter((e) => String(e.msg).startsWith("the publisher's audio arrives up to"))).toHaveLength(1);
  });

  it('re-arms after the publisher disconnects, with a new listener process, and takes a reconnect', async () => {
    const firstPid = ingest.listenerPid('field')!;
    await publishers[publishers.length - 1]!.stop();
    await waitFor(() => ended.length === 1, { timeoutMs: 20_000, message: 'publish end' });
    expect(ended[0]).toEqual({ channel: 'field', protocol: 'srt', role: 'primary', reason: 'disconnect' });
    await waitFor(() => ingest.listenerPid('field') !== undefined && ingest.listenerPid('field') !== firstPid, { timeoutMs: 20_000, message: 're-armed listener' });
    expect(isAlive(firstPid)).toBe(false);

    const again = publish(srtPublisherUrl('127.0.0.1', 'field', srt), 'mpegts', { seconds: 30 });
    publishers.push(again);
    await waitFor(() => registry.get('field') !== undefined, { timeoutMs: 20_000, message: 'field feed again' });
    const probed = await probeFeed(registry.get('field')!.open(), 'mpegts', 3);
    expect(probed.frames.length).toBeGreaterThanOrEqual(3);
  });

  it('kicks the publisher on request', async () => {
    expect(registry.kick('field')).toBe(true);
    await waitFor(() => ended.length === 2, { timeoutMs: 20_000, message: 'kick end' });
    expect(ended[1]).toEqual({ channel: 'field', protocol: 'srt', role: 'primary', reason: 'kicked' });
  });

  it('renews an idle listener periodically (so an orphaned one frees its port) without calling it a failure', async () => {
    const port = await freePort('udp');
    const cycling = new SrtIngest({ registry, logger: logs.logger }, [{ id: 'cycle', srt: { port, passphrase: 'cycle-passphrase' } }], { listenCycleMs: 1000, reArmDelayMs: 50 });
    await cycling.start();
    try {
      await waitFor(() => cycling.listenerPid('cycle') !== undefined, { timeoutMs: 20_000, message: 'first listener' });
      const first = cycling.listenerPid('cycle');
      await waitFor(() => logs.entries().some((e) => e.msg === 'idle SRT listener renewed' && e.channel === 'cycle'), { timeoutMs: 20_000, message: 'renewal' });
      await waitFor(() => cycling.listenerPid('cycle') !== undefined && cycling.listenerPid('cycle') !== first, { timeoutMs: 20_000, message: 'second listener' });
      expect(logs.entries().some((e) => e.channel === 'cycle' && e.level === 50)).toBe(false);
      const pub = publish(srtPublisherUrl('127.0.0.1', 'cycle', { port, passphrase: 'cycle-passphrase' }), 'mpegts', { seconds: 4 });
      publishers.push(pub);
      await waitFor(() => registry.get('cycle') !== undefined, { timeoutMs: 20_000, message: 'publish on a renewed listener' });
      // A live publish is not cut by the cycle (listen_timeout only bounds waiting for a caller).
      await new Promise((r) => setTimeout(r, 1500));
      expect(registry.get('cycle')?.ended).toBe(false);
      await pub.stop();
    } finally {
      await cycling.close();
    }
  });

  it('refuses to start on a port another process holds, and on invalid settings', async () => {
    const { createSocket } = await import('node:dgram');
    const holder = createSocket('udp4');
    const port = await freePort('udp');
    await new Promise<void>((r) => holder.bind(port, '127.0.0.1', () => r()));
    try {
      const taken = new SrtIngest({ registry, logger: logs.logger }, [{ id: 'other', srt: { port, passphrase: 'other-passphrase' } }]);
      await expect(taken.start()).rejects.toThrow(`SRT port 127.0.0.1:${port} of channel other is not available`);
      await taken.close();
    } finally {
      holder.close();
    }
    const invalid = new SrtIngest({ registry, logger: logs.logger }, [
      { id: 'a', srt: { port: 9000, passphrase: 'short' } },
      { id: 'b', srt: { port: 9000, passphrase: 'long-enough-pass' } },
    ]);
    await expect(invalid.start()).rejects.toThrow(/passphrase must have 10 to 79 characters.*share SRT port 9000/);
    const noFfmpeg = new SrtIngest({ registry, logger: logs.logger }, [{ id: 'x', srt: { port: await freePort('udp'), passphrase: 'long-enough-pass' } }], { ffmpegPath: '/nonexistent/ffmpeg' });
    await expect(noFfmpeg.start()).rejects.toMatchObject({ code: 'BINARY_MISSING' });
  });

  it('stops its listener processes on close, leaving no orphans', async () => {
    await waitFor(() => ingest.listenerPid('field') !== undefined, { timeoutMs: 20_000, message: 'listener armed' });
    const pid = ingest.listenerPid('field')!;
    await ingest.close();
    expect(isAlive(pid)).toBe(false);
    expect(ingest.listenerPid('field')).toBeUndefined();
    await ingest.close(); // idempotent
  });
});
