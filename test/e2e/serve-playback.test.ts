/**
 * Publish-to-play through `livepipe serve`: ffmpeg publishes over RTMP (stream key) to one channel
 * and over SRT (AES passphrase) to another, both on the `low-latency` ladder, and hls.js in Chromium
 * plays each channel, then both at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchBrowser, startPlayer, type PlayerStats } from '../helpers/player/hls-player.js';
import { getText, mediaPlaylist, renditionsOf, startServeFixture, type ServeFixture } from '../helpers/serve/serve-fixture.js';
import { waitFor } from '../helpers/wait.js';
import { freePorts } from '../helpers/ports.js';

const NEWS_KEY = 'news-key-0123456789';
const SPORTS_KEY = 'sports-key-0123456789';
const SPORTS_PASSPHRASE = 'sports-srt-passphrase';

/** Waits until the channel's master playlist exists and every rendition it names has a part. */
async function firstPlayable(serve: ServeFixture, channel: string): Promise<string[]> {
  const master = await waitFor(async () => {
    const { status, text } = await getText(`${serve.live(channel)}/master.m3u8`);
    return status === 200 ? text : undefined;
  }, { timeoutMs: 45_000, message: `${channel} master playlist` });
  const renditions = renditionsOf(master);
  for (const rendition of renditions) {
    await waitFor(async () => {
      const p = await mediaPlaylist(serve.live(channel), rendition);
      return p !== undefined && (p.segments.some((s) => s.parts.length > 0) || (p.pending?.parts.length ?? 0) > 0) ? p : undefined;
    }, { timeoutMs: 30_000, message: `${channel}/${rendition} first part` });
  }
  return renditions;
}

function expectHealthyPlayback(s: PlayerStats, minSeconds: number): void {
  expect(s.fatalErrors).toEqual([]);
  expect(s.currentTime).toBeGreaterThanOrEqual(minSeconds);
  expect(s.sawParts).toBe(true);
  expect(s.partsLoaded).toBeGreaterThan(0);
}

describe('livepipe serve: RTMP and SRT publishers played by hls.js', () => {
  let serve: ServeFixture;
  let browser: Browser;
  let srtPort: number;

  beforeAll(async () => {
    [srtPort] = (await freePorts(1, 'udp')) as [number];
    serve = await startServeFixture({
      maxChannels: 4,
      channels: [
        { id: 'news', ladder: 'low-latency', key: NEWS_KEY },
        { id: 'sports', ladder: 'low-latency', key: SPORTS_KEY, srt: { port: srtPort, passphrase: SPORTS_PASSPHRASE } },
      ],
    });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await serve?.close();
  });

  it('plays an RTMP publish (stream key) with parts, no fatal error', async () => {
    expect(serve.state('news')).toBe('idle');
    serve.publish(serve.rtmpUrl('news', NEWS_KEY), 'flv');
    const renditions = await firstPlayable(serve, 'news');
    // A 640x360 source keeps the ladder's 360p (720p and 480p would upscale) and the audio.
    expect(renditions.sort()).toEqual(['360p', 'audio']);
    expect(serve.state('news')).toBe('live');
    expect(serve.handle.manager.get('news')?.publisher?.protocol).toBe('rtmp');

    const player = await startPlayer(browser, `${serve.live('news')}/master.m3u8`);
    try {
      const s = await player.waitFor((x) => x.currentTime >= 8 || x.fatalErrors.length > 0, 60_000);
      expectHealthyPlayback(s, 8);
    } finally {
      await player.close();
    }
  });

  it('plays an SRT publish (passphrase) while the RTMP channel stays live: two channels at once', async () => {
    expect(serve.state('sports')).toBe('idle');
    serve.publish(serve.srtUrl(srtPort, SPORTS_PASSPHRASE, 'sports'), 'mpegts');
    const renditions = await firstPlayable(serve, 'sports');
    expect(renditions.sort()).toEqual(['360p', 'audio']);
    expect(serve.handle.manager.get('sports')?.publisher?.protocol).toBe('srt');
    expect(serve.state('news')).toBe('live');

    const news = await startPlayer(browser, `${serve.live('news')}/master.m3u8`);
    const sports = await startPlayer(browser, `${serve.live('sports')}/master.m3u8`);
    try {
      const [n, s] = await Promise.all([
        news.waitFor((x) => x.currentTime >= 8 || x.fatalErrors.length > 0, 60_000),
        sports.waitFor((x) => x.currentTime >= 8 || x.fatalErrors.length > 0, 60_000),
      ]);
      expectHealthyPlayback(n, 8);
      expectHealthyPlayback(s, 8);
      expect(serve.state('news')).toBe('live');
      expect(serve.state('sports')).toBe('live');
    } finally {
      await Promise.all([news.close(), sports.close()]);
    }
  });
});
