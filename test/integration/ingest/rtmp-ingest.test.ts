import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBus, LivepipeEvent, type EventPayloads } from '../../../src/core/event-bus.js';
import { IngestFeedRegistry } from '../../../src/ingest/ingest-feed.js';
import { PublishAuthorizer, StaticChannelRegistry } from '../../../src/ingest/publish-auth.js';
import { RtmpIngest } from '../../../src/ingest/rtmp-ingest.js';
import { captureLogs } from '../../helpers/logs/log-capture.js';
import { probeFeed, probeStreams, publish, type Publisher } from '../../helpers/ingest/media.js';
import { waitFor } from '../../helpers/wait.js';

const KEY = 'k3y-news-0123456789';

describe('RTMP ingest with a real ffmpeg publisher', () => {
  const logs = captureLogs();
  const bus = new EventBus();
  const registry = new IngestFeedRegistry(bus, logs.logger);
  const channels = new StaticChannelRegistry([
    { id: 'news', key: KEY },
    { id: 'sports', key: 'sports-key-987654' },
    { id: 'obs', key: 'obs-key-555' },
  ]);
  const ingest = new RtmpIngest(
    { registry, authorizer: new PublishAuthorizer(channels, '127.0.0.1', logs.logger), logger: logs.logger },
    { port: 0 },
  );
  const started: Array<EventPayloads[LivepipeEvent.PublishStarted]> = [];
  const ended: Array<EventPayloads[LivepipeEvent.PublishEnded]> = [];
  bus.on(LivepipeEvent.PublishStarted, (p) => started.push(p));
  bus.on(LivepipeEvent.PublishEnded, (p) => ended.push(p));
  const publishers: Publisher[] = [];
  const url = (path: string) => `rtmp://127.0.0.1:${ingest.port}/${path}`;

  beforeAll(async () => {
    await ingest.start();
  });
  afterAll(async () => {
    await Promise.all(publishers.map((p) => p.stop()));
    await ingest.close();
  });

  it('accepts the right key and serves decodable FLV that starts at a keyframe', async () => {
    const pub = publish(url(`live/news?key=${KEY}`), 'flv');
    publishers.push(pub);
    await waitFor(() => registry.get('news') !== undefined, { timeoutMs: 20_000, message: 'news feed' });
    const feed = registry.get('news')!;
    expect(feed.protocol).toBe('rtmp');
    expect(feed.format).toBe('flv');
    expect(started.find((s) => s.channel === 'news')?.remoteAddress).toMatch(/^127\.0\.0\.1:\d+$/);

    const first = await probeFeed(feed.open(), 'flv', 10);
    expect(first.code).toBe(0);
    expect(first.streams.map((s) => s.codec_name)).toEqual(['h264']);
    expect(first.streams[0]).toMatchObject({ width: 640, height: 360 });
    expect(first.frames.length).toBeGreaterThanOrEqual(10);
    expect(first.frames[0]).toMatchObject({ media_type: 'video', key_frame: 1, pict_type: 'I' });
    expect(first.stderr).toBe('');

    // Both elementary streams are there for the transcoder.
    expect((await probeStreams(feed.open(), 'flv')).sort()).toEqual(['aac', 'h264']);

    const info = feed.info();
    expect(info.video).toMatchObject({ codec: 'h264', width: 640, height: 360, frameRate: 30 });
    expect(info.audio).toMatchObject({ codec: 'aac', sampleRate: 48000 });
    expect(info.bytesIn).toBeGreaterThan(0);
    await waitFor(() => feed.info().bitrateBps > 0, { timeoutMs: 20_000, message: 'a measured bitrate' });
  });

  it('starts a consumer opened later, mid-GOP, at the latest keyframe', async () => {
    const feed = registry.get('news')!;
    // Land somewhere inside a 1 s GOP.
    await new Promise((r) => setTimeout(r, 1370));
    const opened = feed.open();
    // The GOP cache is handed over at once, before any new tag arrives: header, onMetaData, AVC and AAC
    // sequence headers, then a video keyframe.
    const immediate = opened.read() as Buffer | null;
    expect(immediate).not.toBeNull();
    const tags: Array<[number, number, number]> = [];
    for (let off = 13; off + 11 <= immediate!.length && tags.length < 5; ) {
      const size = immediate!.readUIntBE(off + 1, 3);
      tags.push([immediate![off]!, immediate![off + 11]!, immediate![off + 12]!]);
      off += 11 + size + 4;
    }
    expect(tags.slice(0, 4)).toEqual([
      [18, 0x02, 0x00], // script: AMF0 string "onMetaData"
      [9, 0x17, 0x00], // AVC keyframe/sequence header
      [8, 0xaf, 0x00], // AAC sequence header
      [9, 0x17, 0x01], // AVC keyframe NALU
    ]);
    opened.unshift(immediate!);
    const late = await probeFeed(opened, 'flv', 5);
    expect(late.code).toBe(0);
    expect(late.frames[0]).toMatchObject({ media_type: 'video', key_frame: 1, pict_type: 'I' });
    expect(late.frames.length).toBeGreaterThanOrEqual(5);
    expect(late.stderr).toBe('');
    // Two consumers at once, each decodable.
    const [a, b] = await Promise.all([probeFeed(feed.open(), 'flv', 3), probeFeed(feed.open(), 'flv', 3)]);
    expect(a.frames[0]?.key_frame).toBe(1);
    expect(b.frames[0]?.key_frame).toBe(1);
  });

  it.each([
    ['wrong key', 'live/sports?key=not-the-key', 'wrong-key', 'stream key does not match'],
    ['missing key', 'live/sports', 'missing-key', 'stream key missing'],
    ['unknown channel', `live/nosuch?key=${KEY}`, 'unknown-channel', 'no such channel'],
    ['invalid channel id', `live/bad.id?key=${KEY}`, 'invalid-channel-id', 'channel id is not valid'],
  ])('refuses a publish with a %s before any feed exists', async (_name, path, refusal, shownToPublisher) => {
    const pub = publish(url(path), 'flv', { seconds: 5 });
    publishers.push(pub);
    const code = await pub.exited;
    expect(code).not.toBe(0);
    // ffmpeg shows the reason the server gave in its onStatus error.
    expect(pub.stderr()).toContain(`Server error: ${shownToPublisher}`);
    expect(registry.get('sports')).toBeUndefined();
    expect(registry.get('nosuch')).toBeUndefined();
    expect(started.map((s) => s.channel)).not.toContain('sports');
    const refusals = logs.entries().filter((e) => e.refusal === refusal);
    expect(refusals.length).toBeGreaterThan(0);
    // The key never reaches the log.
    expect(logs.text()).not.toContain('not-the-key');
    expect(logs.text()).not.toContain(KEY);
  });

  it('refuses a second publisher while the channel is live, and keeps the first', async () => {
    const feed = registry.get('news')!;
    const second = publish(url(`live/news?key=${KEY}`), 'flv', { seconds: 5 });
    publishers.push(second);
    expect(await second.exited).not.toBe(0);
    expect(registry.get('news')).toBe(feed);
    expect(feed.ended).toBe(false);
    expect(logs.entries().some((e) => e.msg === 'publish refused: channel already has a live publisher' && e.channel === 'news')).toBe(true);
    const still = await probeFeed(feed.open(), 'flv', 3);
    expect(still.frames[0]?.key_frame).toBe(1);
  });

  it('accepts the OBS forms: Server rtmp://host/live/{channel} + Stream Key {key}', async () => {
    // ffmpeg splits rtmp://h/live/obs/KEY into app "live/obs" and stream name "KEY", as OBS sends them.
    const pub = publish(url('live/obs/obs-key-555'), 'flv', { seconds: 30 });
    publishers.push(pub);
    await waitFor(() => registry.get('obs') !== undefined, { timeoutMs: 20_000, message: 'obs feed' });
    const probed = await probeFeed(registry.get('obs')!.open(), 'flv', 3);
    expect(probed.frames[0]?.key_frame).toBe(1);
    expect(registry.kick('obs')).toBe(true);
    await waitFor(() => ended.some((e) => e.channel === 'obs'), { timeoutMs: 20_000, message: 'obs end' });
    expect(ended.find((e) => e.channel === 'obs')).toEqual({ channel: 'obs', protocol: 'rtmp', role: 'primary', reason: 'kicked' });
    expect(registry.get('obs')).toBeUndefined();
    expect(await pub.exited).not.toBe(0);
  });

  it('accepts Server rtmp://host/live + Stream Key {channel}/{key} (explicit app and playpath)', async () => {
    const pub = publish(url('live'), 'flv', { seconds: 30, outputOptions: ['-rtmp_app', 'live', '-rtmp_playpath', 'obs/obs-key-555'] });
    publishers.push(pub);
    await waitFor(() => registry.get('obs') !== undefined, { timeoutMs: 20_000, message: 'obs feed again' });
    await pub.stop();
    await waitFor(() => ended.filter((e) => e.channel === 'obs').length === 2, { timeoutMs: 20_000, message: 'second obs end' });
    expect(ended.filter((e) => e.channel === 'obs')[1]?.reason).toBe('disconnect');
  });

  it('fails to start, without exiting the process, on a port already in use', async () => {
    const second = new RtmpIngest(
      { registry, authorizer: new PublishAuthorizer(channels, '127.0.0.1', logs.logger), logger: logs.logger },
      { port: ingest.port },
    );
    await expect(second.start()).rejects.toThrow(`RTMP ingest cannot listen on 127.0.0.1:${ingest.port}`);
    await second.close();
  });

  it('ends the consumers and emits PublishEnded(disconnect) when the publisher leaves', async () => {
    const feed = registry.get('news')!;
    const consumer = feed.open();
    consumer.resume();
    const consumerEnded = new Promise((r) => consumer.once('end', r));
    const endReason = new Promise((r) => feed.onEnd(r));
    await publishers[0]!.stop();
    expect(await endReason).toBe('disconnect');
    await consumerEnded;
    expect(registry.get('news')).toBeUndefined();
    expect(ended.find((e) => e.channel === 'news')).toEqual({ channel: 'news', protocol: 'rtmp', role: 'primary', reason: 'disconnect' });
  });
});
