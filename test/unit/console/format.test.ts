import { describe, expect, it } from 'vitest';
import type { ChannelView } from '../../../console/src/channel-view.js';
import { formatBitrate, formatDuration, formatFps, formatSpeed, inputFps, keyFromBytes, newestPart, previewUrl, slowestSpeed } from '../../../console/src/format.js';

describe('console formatting', () => {
  it.each([
    [undefined, '–'],
    [Number.NaN, '–'],
    [850, '850 b/s'],
    [96_000, '96 kb/s'],
    [2_500_000, '2.50 Mb/s'],
  ])('bitrate %s → %s', (bits, text) => expect(formatBitrate(bits)).toBe(text));

  it.each([
    [0, '0s'],
    [59.9, '59s'],
    [61, '1m 01s'],
    [3725, '1h 02m 05s'],
    [-3, '0s'],
  ])('duration %s → %s', (seconds, text) => expect(formatDuration(seconds)).toBe(text));

  it('speed, fps and the newest part', () => {
    expect(formatSpeed(1.016)).toBe('1.02×');
    expect(formatSpeed(undefined)).toBe('–');
    expect(formatFps(29.97)).toBe('29.97 fps');
    expect(newestPart({ name: 'a', kind: 'audio', bitrate: 1 })).toBe('–');
    expect(newestPart({ name: 'v', kind: 'video', bitrate: 1, lastMsn: 41 })).toBe('41');
    expect(newestPart({ name: 'v', kind: 'video', bitrate: 1, lastMsn: 41, lastPart: 3 })).toBe('41.3');
  });

  it('input fps from the publisher, else the top video rendition; the slowest encoder speed', () => {
    const base = {
      transcoder: { renditions: [{ name: 'audio', kind: 'audio', bitrate: 1, speed: 3 }, { name: '360p', kind: 'video', bitrate: 1, fps: 30, speed: 0.9 }] },
    } as unknown as ChannelView;
    expect(inputFps(base)).toBe(30);
    expect(inputFps({ ...base, publisher: { protocol: 'rtmp', since: '', video: { codec: 'h264', width: 1, height: 1, frameRate: 25 } } })).toBe(25);
    expect(slowestSpeed(base)).toBe(0.9);
    expect(slowestSpeed({ transcoder: { renditions: [] } } as unknown as ChannelView)).toBeUndefined();
  });

  it.each([
    ['http://127.0.0.1:8080/live/a/master.m3u8', 'ops.example', 'http://127.0.0.1:8080/live/a/master.m3u8'],
    ['http://0.0.0.0:8080/live/a/master.m3u8', 'ops.example', 'http://ops.example:8080/live/a/master.m3u8'],
    ['http://[::]:8080/live/a/master.m3u8', '10.0.0.5', 'http://10.0.0.5:8080/live/a/master.m3u8'],
    ['not a url', 'x', 'not a url'],
  ])('preview URL of %s from %s', (playback, host, url) => expect(previewUrl(playback, host)).toBe(url));

  it('a rotated key is 32 hex digits of 16 random bytes', () => {
    expect(keyFromBytes(new Uint8Array(16).fill(0xab))).toBe('ab'.repeat(16));
    expect(() => keyFromBytes(new Uint8Array(8))).toThrow(/16 random bytes/);
  });
});
