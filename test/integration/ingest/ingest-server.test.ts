import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBus, LivepipeEvent, type EventPayloads } from '../../../src/core/event-bus.js';
import { IngestServer } from '../../../src/ingest/ingest-server.js';
import { StaticChannelRegistry } from '../../../src/ingest/publish-auth.js';
import { srtPublisherUrl } from '../../../src/ingest/srt-ingest.js';
import { captureLogs } from '../../helpers/logs/log-capture.js';
import { isAlive, probeFeed, publish, type Publisher } from '../../helpers/ingest/media.js';
import { waitFor } from '../../helpers/wait.js';
import { freePort } from '../../helpers/ports.js';

const KEY = 'both-key-2468';
const PASSPHRASE = 'both-passphrase-1';

describe('IngestServer: one publisher per channel across RTMP and SRT', () => {
  const logs = captureLogs();
  const bus = new EventBus();
  const started: Array<EventPayloads[LivepipeEvent.PublishStarted]> = [];
  const ended: Array<EventPayloads[LivepipeEvent.PublishEnded]> = [];
  bus.on(LivepipeEvent.PublishStarted, (p) => started.push(p));
  bus.on(LivepipeEvent.PublishEnded, (p) => ended.push(p));
  const publishers: Publisher[] = [];
  let server: IngestServer;
  let srtPort: number;

  beforeAll(async () => {
    srtPort = await freePort('udp');
    const channels = new StaticChannelRegistry([{ id: 'both', key: KEY, srt: { port: srtPort, passphrase: PASSPHRASE } }]);
    server = new IngestServer({ bus, logger: logs.logger, channels }, { rtmp: { port: 0 }, srt: { reArmDelayMs: 100 } });
    await server.start();
  });
  afterAll(async () => {
    await Promise.all(publishers.map((p) => p.stop()));
    await server.close();
  });

  it('shows publish URLs without their secrets (the RTMP key, the SRT passphrase)', () => {
    const urls = server.publishUrls('both', 'ingest.example.com');
    expect(urls.rtmp).toBe(`rtmp://ingest.example.com:${server.rtmp!.port}/live/both?key={key}`);
    expect(urls.srt).toBe(`srt://ingest.example.com:${srtPort}?streamid=publish%3Aboth&passphrase={passphrase}&pbkeylen=16`);
  });

  it('refuses an SRT publisher while RTMP is live on the channel', async () => {
    const rtmpPub = publish(`rtmp://127.0.0.1:${server.rtmp!.port}/live/both?key=${KEY}`, 'flv');
    publishers.push(rtmpPub);
    await waitFor(() => server.feed('both') !== undefined, { timeoutMs: 20_000, message: 'rtmp feed' });
    const feed = server.feed('both')!;
    const srtPub = publish(srtPublisherUrl('127.0.0.1', 'both', { port: srtPort, passphrase: PASSPHRASE }), 'mpegts', { seconds: 10 });
    publishers.push(srtPub);
    await waitFor(() => logs.entries().some((e) => e.msg === 'SRT publish refused: channel already has a live publisher'), { timeoutMs: 20_000, message: 'SRT refusal' });
    expect(server.feed('both')).toBe(feed);
    expect(feed.protocol).toBe('rtmp');
    expect(started.filter((s) => s.channel === 'both')).toHaveLength(1);
    await srtPub.stop();
    await rtmpPub.stop();
    await waitFor(() => ended.length === 1, { timeoutMs: 20_000, message: 'rtmp end' });
  });

  it('refuses an RTMP publisher while SRT is live on the channel', async () => {
    const srtPub = publish(srtPublisherUrl('127.0.0.1', 'both', { port: srtPort, passphrase: PASSPHRASE }), 'mpegts');
    publishers.push(srtPub);
    await waitFor(() => server.feed('both')?.protocol === 'srt', { timeoutMs: 20_000, message: 'srt feed' });
    const rtmpPub = publish(`rtmp://127.0.0.1:${server.rtmp!.port}/live/both?key=${KEY}`, 'flv', { seconds: 5 });
    publishers.push(rtmpPub);
    expect(await rtmpPub.exited).not.toBe(0);
    expect(server.feed('both')?.protocol).toBe('srt');
    const live = logs.entries().find((e) => e.msg === 'publish refused: channel already has a live publisher');
    expect(live).toMatchObject({ channel: 'both', livePublisher: { protocol: 'srt' } });
    const probed = await probeFeed(server.feed('both')!.open(), 'mpegts', 3);
    expect(probed.frames.length).toBeGreaterThanOrEqual(3);
  });

  it('ends live publishes with reason "shutdown" on close and leaves no listener behind', async () => {
    const pid = server.srt!.listenerPid('both');
    expect(pid).toBeDefined();
    await server.close();
    expect(ended[ended.length - 1]).toEqual({ channel: 'both', protocol: 'srt', role: 'primary', reason: 'shutdown' });
    expect(isAlive(pid!)).toBe(false);
    expect(server.feed('both')).toBeUndefined();
  });
});

describe('IngestServer in open mode (no channels, loopback)', () => {
  it('lets any valid channel id publish over RTMP, with a warning', async () => {
    const logs = captureLogs();
    const server = new IngestServer({ bus: new EventBus(), logger: logs.logger, channels: new StaticChannelRegistry([]) }, { rtmp: { port: 0 }, srt: false });
    await server.start();
    const pub = publish(`rtmp://127.0.0.1:${server.rtmp!.port}/live/anything-goes`, 'flv', { seconds: 20 });
    try {
      await waitFor(() => server.feed('anything-goes') !== undefined, { timeoutMs: 20_000, message: 'open-mode feed' });
      expect(logs.entries().some((e) => e.level === 40 && typeof e.msg === 'string' && e.msg.includes('open mode'))).toBe(true);
      const bad = publish(`rtmp://127.0.0.1:${server.rtmp!.port}/live/not.valid`, 'flv', { seconds: 5 });
      expect(await bad.exited).not.toBe(0);
      expect(bad.stderr()).toContain('channel id is not valid');
    } finally {
      await pub.stop();
      await server.close();
    }
  });
});
