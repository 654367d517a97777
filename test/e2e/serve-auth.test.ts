/**
 * Who may publish to `livepipe serve`, checked with real ffmpeg publishers: a wrong, missing or
 * unneeded credential is refused (the publisher fails, no playlist appears, the channel stays idle);
 * the right ones publish. Also: an SRT channel created through the ops API at runtime gets its
 * listener, and loses it when deleted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getText, startServeFixture, type ServeFixture } from '../helpers/serve/serve-fixture.js';
import { waitFor } from '../helpers/wait.js';
import { freePorts } from '../helpers/ports.js';

const KEY = 'secure-key-0123456789';
const PASSPHRASE = 'secure-srt-passphrase';

describe('livepipe serve: publish authentication', () => {
  let serve: ServeFixture;
  let srtPort: number;
  let lateSrtPort: number;

  beforeAll(async () => {
    [srtPort, lateSrtPort] = (await freePorts(2, 'udp')) as [number, number];
    serve = await startServeFixture({
      reconnectGraceSeconds: 1,
      channels: [{ id: 'secure', ladder: 'low-latency', key: KEY, srt: { port: srtPort, passphrase: PASSPHRASE } }],
    });
  });

  afterAll(async () => {
    await serve?.close();
  });

  const refusals = () => serve.logs.entries().filter((e) => e.msg === 'SRT publish refused: wrong passphrase' || (typeof e.msg === 'string' && e.msg.startsWith('publish refused')));

  /** A publisher that must be refused: it exits with an error, and nothing reaches the origin. */
  async function expectRefused(url: string, format: 'flv' | 'mpegts', channel: string, stderrPattern: RegExp): Promise<void> {
    const publisher = serve.publish(url, format, { seconds: 8 });
    const code = await publisher.exited;
    expect(code, publisher.stderr()).not.toBe(0);
    expect(publisher.stderr()).toMatch(stderrPattern);
    expect((await getText(`${serve.live(channel)}/master.m3u8`)).status).toBe(404);
    expect(serve.handle.ingest.feed(channel)).toBeUndefined();
  }

  it('refuses a wrong RTMP key', async () => {
    await expectRefused(serve.rtmpUrl('secure', 'not-the-key-at-all'), 'flv', 'secure', /stream key does not match/);
    expect(serve.state('secure')).toBe('idle');
    expect(refusals().some((e) => e.refusal === 'wrong-key')).toBe(true);
    // The key never reaches the log, whichever was sent.
    expect(serve.logs.text()).not.toContain(KEY);
    expect(serve.logs.text()).not.toContain('not-the-key-at-all');
  });

  it('refuses a missing RTMP key', async () => {
    await expectRefused(serve.rtmpUrl('secure'), 'flv', 'secure', /stream key missing/);
    expect(serve.state('secure')).toBe('idle');
    expect(refusals().some((e) => e.refusal === 'missing-key')).toBe(true);
  });

  it('refuses an unknown channel (no open mode once channels are configured)', async () => {
    await expectRefused(serve.rtmpUrl('ghost', KEY), 'flv', 'ghost', /no such channel/);
    expect(serve.handle.manager.get('ghost')).toBeUndefined();
    expect(refusals().some((e) => e.refusal === 'unknown-channel')).toBe(true);
  });

  it('refuses a wrong SRT passphrase and a missing one', async () => {
    await expectRefused(serve.srtUrl(srtPort, 'wrong-passphrase-123', 'secure'), 'mpegts', 'secure', /srt|Input\/output error/i);
    await expectRefused(serve.srtUrl(srtPort, undefined, 'secure'), 'mpegts', 'secure', /srt|Input\/output error/i);
    expect(serve.state('secure')).toBe('idle');
    expect(serve.logs.entries().some((e) => e.msg === 'SRT publish refused: wrong passphrase')).toBe(true);
    expect(serve.logs.text()).not.toContain(PASSPHRASE);
  });

  it('publishes with the right RTMP key, then with the right SRT passphrase', async () => {
    const rtmp = serve.publish(serve.rtmpUrl('secure', KEY), 'flv');
    await waitFor(() => (serve.state('secure') === 'live' ? true : undefined), { message: 'secure live over RTMP' });
    await waitFor(async () => ((await getText(`${serve.live('secure')}/master.m3u8`)).status === 200 ? true : undefined), { timeoutMs: 45_000, message: 'secure master playlist' });
    expect(serve.handle.manager.get('secure')?.publisher?.protocol).toBe('rtmp');
    await rtmp.stop();
    await waitFor(() => (serve.handle.ingest.feed('secure') === undefined ? true : undefined), { message: 'RTMP publish end' });

    serve.publish(serve.srtUrl(srtPort, PASSPHRASE, 'secure'), 'mpegts');
    await waitFor(() => (serve.handle.manager.get('secure')?.publisher?.protocol === 'srt' ? true : undefined), { message: 'secure live over SRT' });
    await waitFor(() => (serve.state('secure') === 'live' ? true : undefined), { message: 'secure live state' });
  });

  it('arms an SRT listener for a channel created through the ops API, and stops it when deleted', async () => {
    const body = { id: 'late', ladder: 'low-latency', key: 'late-key-0123456789', srt: { port: lateSrtPort, passphrase: 'late-srt-passphrase' } };
    const created = await fetch(`${serve.apiBase}/api/v1/channels`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(created.status, await created.clone().text()).toBe(201);
    await waitFor(() => (serve.handle.ingest.srt?.listening().some((l) => l.channel === 'late' && l.port === lateSrtPort) ? true : undefined), { message: 'late SRT listener' });

    await expectRefused(serve.srtUrl(lateSrtPort, 'wrong-passphrase-123', 'late'), 'mpegts', 'late', /srt|Input\/output error/i);
    expect(serve.state('late')).toBe('idle');
    const publisher = serve.publish(serve.srtUrl(lateSrtPort, 'late-srt-passphrase', 'late'), 'mpegts');
    await waitFor(() => (serve.handle.manager.get('late')?.publisher?.protocol === 'srt' ? true : undefined), { message: 'late live over SRT' });

    // DELETE answers once the channel is gone: listener stopped, publish ended, ladder stopped.
    const deleted = await fetch(`${serve.apiBase}/api/v1/channels/late`, { method: 'DELETE' });
    expect(deleted.status).toBe(204);
    expect(serve.handle.ingest.srt?.listening().some((l) => l.channel === 'late')).toBe(false);
    expect(serve.handle.ingest.feed('late')).toBeUndefined();
    expect(serve.handle.manager.get('late')).toBeUndefined();
    // The publisher was dropped with the listener.
    await publisher.exited;
  });
});
