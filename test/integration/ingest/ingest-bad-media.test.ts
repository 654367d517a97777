/**
 * Ingest alone (RTMP and SRT, no transcoder) against media it must refuse or repair: video-less
 * feeds end with reason `unusable` and a detail saying why; an RTMP publisher whose timestamps jump
 * reaches consumers with a continuous timeline.
 */
import { spawnSync } from 'node:child_process';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBus, LivepipeEvent, type EventPayloads } from '../../../src/core/event-bus.js';
import { FlvTagType } from '../../../src/ingest/flv-tags.js';
import { IngestFeedRegistry } from '../../../src/ingest/ingest-feed.js';
import { PublishAuthorizer, StaticChannelRegistry, type ChannelSrtSettings } from '../../../src/ingest/publish-auth.js';
import { RtmpIngest } from '../../../src/ingest/rtmp-ingest.js';
import { SrtIngest, srtPublisherUrl } from '../../../src/ingest/srt-ingest.js';
import { readFlvTags } from '../../helpers/ingest/flv-file.js';
import { captureLogs } from '../../helpers/logs/log-capture.js';
import { publish, type Publisher } from '../../helpers/ingest/media.js';
import { rawPublish, sendFlvTags } from '../../helpers/ingest/rtmp-raw-client.js';
import { waitFor } from '../../helpers/wait.js';
import { freePort } from '../../helpers/ports.js';

const KEY = 'bad-media-key-123';

describe('ingest against video-less feeds and timestamp jumps', () => {
  const logs = captureLogs();
  const bus = new EventBus();
  const registry = new IngestFeedRegistry(bus, logs.logger);
  const ended: Array<EventPayloads[LivepipeEvent.PublishEnded]> = [];
  bus.on(LivepipeEvent.PublishEnded, (p) => ended.push(p));
  const channels = new StaticChannelRegistry([{ id: 'radio', key: KEY }, { id: 'jumpy', key: KEY }, { id: 'video', key: KEY }]);
  const rtmp = new RtmpIngest({ registry, authorizer: new PublishAuthorizer(channels, '127.0.0.1', logs.logger), logger: logs.logger }, { port: 0 });
  let srt: ChannelSrtSettings;
  let srtIngest: SrtIngest;
  const publishers: Publisher[] = [];

  beforeAll(async () => {
    await rtmp.start();
    srt = { port: await freePort('udp'), passphrase: 'bad-media-srt-pass' };
    srtIngest = new SrtIngest({ registry, logger: logs.logger }, [{ id: 'radiosrt', srt }], { reArmDelayMs: 100 });
    await srtIngest.start();
    await waitFor(() => srtIngest.listenerPid('radiosrt') !== undefined, { timeoutMs: 20_000, message: 'SRT listener' });
  });
  afterAll(async () => {
    await Promise.all(publishers.map((p) => p.stop()));
    await rtmp.close();
    await srtIngest.close();
  });

  it('ends an audio-only RTMP publish as unusable, with the reason, and closes the publisher', async () => {
    const pub = publish(`rtmp://127.0.0.1:${rtmp.port}/live/radio?key=${KEY}`, 'flv', { video: false, seconds: 60 });
    publishers.push(pub);
    await waitFor(() => ended.some((e) => e.channel === 'radio'), { timeoutMs: 20_000, message: 'radio publish end' });
    expect(ended.find((e) => e.channel === 'radio')).toEqual({
      channel: 'radio',
      protocol: 'rtmp',
      role: 'primary',
      reason: 'unusable',
      detail: 'no video: the publisher sent 1 s of audio and no video (its metadata declares audio only); livepipe needs a video track to build the ladder',
    });
    // The publisher is disconnected: ffmpeg fails on its own, long before its 60 s.
    expect(await pub.exited).not.toBe(0);
    // The encoder is told why (an error onStatus, which ffmpeg prints).
    expect(pub.stderr()).toContain('Server error: no video: the publisher sent 1 s of audio and no video');
    expect(logs.entries().some((e) => e.msg === 'publish refused: unusable media' && e.channel === 'radio')).toBe(true);
  });

  it('keeps an RTMP publisher with audio and video, even when its video starts late', async () => {
    // Audio alone for 1.5 s (within the 3 s deadline: this publisher sends no metadata), then video.
    const file = spawnSync('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=15', '-f', 'lavfi', '-i', 'sine', '-t', '5',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '15', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-f', 'flv', 'pipe:1',
    ], { maxBuffer: 16 * 1024 * 1024 });
    const tags = readFlvTags(file.stdout)
      .filter((t) => t.type !== FlvTagType.Script)
      .filter((t) => t.type === FlvTagType.Audio || t.timestamp >= 1500 || t.body[1] === 0 /* AVC sequence header */)
      .map((t) => (t.type === FlvTagType.Video && t.body[1] === 0 ? { ...t, timestamp: 1500 } : t))
      .sort((a, b) => a.timestamp - b.timestamp);
    const client = await rawPublish(rtmp.port, `video?key=${KEY}`);
    await sendFlvTags(client, tags).done;
    expect(registry.get('video')?.ended).toBe(false);
    client.destroy();
    await waitFor(() => ended.some((e) => e.channel === 'video'), { timeoutMs: 20_000, message: 'video publish end' });
    expect(ended.find((e) => e.channel === 'video')?.reason).toBe('disconnect');
  });

  it('gives consumers a continuous timeline when the publisher jumps an hour forward and back', async () => {
    const file = spawnSync('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=30', '-f', 'lavfi', '-i', 'sine', '-t', '4',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '30', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-f', 'flv', 'pipe:1',
    ], { maxBuffer: 16 * 1024 * 1024 });
    const tags = readFlvTags(file.stdout).map((t) => {
      if (t.type === FlvTagType.Script || t.timestamp < 1000) return t;
      return { ...t, sendAtMs: t.timestamp, timestamp: t.timestamp < 2000 ? t.timestamp + 3_600_000 : t.timestamp - 500 };
    });
    const client = await rawPublish(rtmp.port, `jumpy?key=${KEY}`);
    await waitFor(() => registry.get('jumpy') !== undefined, { timeoutMs: 20_000, message: 'jumpy feed' });
    const consumer = registry.get('jumpy')!.open();
    const received = collect(consumer);
    await sendFlvTags(client, tags).done;
    expect(registry.get('jumpy')!.info().timestampJumps).toBe(4);
    client.destroy();
    const flv = await received;
    // Frames only: AACPacketType / AVCPacketType 1 (not sequence headers, not the AVC end of sequence).
    const out = readFlvTags(flv).filter((t) => t.type !== FlvTagType.Script && t.body[1] === 1);
    for (const type of [FlvTagType.Audio, FlvTagType.Video]) {
      const ts = out.filter((t) => t.type === type).map((t) => t.timestamp);
      expect(ts.length).toBeGreaterThan(80);
      const steps = ts.slice(1).map((t, i) => t - ts[i]!);
      expect(Math.min(...steps)).toBeGreaterThan(0);
      expect(Math.max(...steps)).toBeLessThan(100);
      expect(ts.at(-1)! - ts[0]!).toBeLessThan(4100);
    }
    expect(logs.entries().some((e) => e.channel === 'jumpy' && /publisher timestamps jumped forward by 36000\d\d ms/.test(String(e.msg)))).toBe(true);
  });

  it('ends an SRT publish whose program has no video as unusable, at its first PMT', async () => {
    const pub = publish(srtPublisherUrl('127.0.0.1', 'radiosrt', srt), 'mpegts', { video: false, seconds: 60 });
    publishers.push(pub);
    await waitFor(() => ended.some((e) => e.channel === 'radiosrt'), { timeoutMs: 20_000, message: 'radiosrt publish end' });
    expect(ended.find((e) => e.channel === 'radiosrt')).toEqual({
      channel: 'radiosrt',
      protocol: 'srt',
      role: 'primary',
      reason: 'unusable',
      detail: 'no video: the MPEG-TS program has no video stream (streams: aac (0x0f)); livepipe needs a video track to build the ladder',
    });
    expect(await pub.exited).not.toBe(0);
    // The listener re-arms for the next publisher.
    await waitFor(() => srtIngest.listenerPid('radiosrt') !== undefined, { timeoutMs: 20_000, message: 'SRT listener re-armed' });
  });
});

function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return new Promise((resolve) => stream.once('end', () => resolve(Buffer.concat(chunks))));
}
