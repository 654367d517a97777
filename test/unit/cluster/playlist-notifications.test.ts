import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodePlaylistNotification,
  encodePlaylistNotification,
  MAX_CARRIED_PLAYLIST_BYTES,
  type PlaylistNotification,
} from '../../../src/cluster/playlist-notifications.js';
import { reconnectDelayMs, redactRedisUrl, redisClientOptions } from '../../../src/cluster/redis-connection.js';

const sample: PlaylistNotification = { channel: 'news', rendition: 'v720', msn: 1234, part: 3, ended: false, epoch: 7, publishedAt: 1_780_000_000_123 };

describe('playlist notification messages', () => {
  it('round-trips, with and without the optional epoch and end flag', () => {
    expect(decodePlaylistNotification(encodePlaylistNotification(sample))).toEqual({ notification: sample });
    const { epoch: _epoch, ...noEpoch } = sample;
    expect(decodePlaylistNotification(encodePlaylistNotification(noEpoch))).toEqual({ notification: noEpoch });
    const ended = { ...sample, ended: true, msn: -1, part: -1 };
    expect(decodePlaylistNotification(encodePlaylistNotification(ended))).toEqual({ notification: ended });
  });

  it('carries the stored playlist text up to MAX_CARRIED_PLAYLIST_BYTES', () => {
    const text = '#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-PART:DURATION=0.5,URI="part-1-0.m4s"\n';
    const carried = { ...sample, playlist: text };
    const wire = encodePlaylistNotification(carried);
    expect(wire).not.toContain('\n'); // JSON escapes the playlist's newlines: still one line
    expect(decodePlaylistNotification(wire)).toEqual({ notification: carried });
    const tooLarge = JSON.stringify({ v: 1, c: 'news', r: 'v0', m: 1, p: 0, t: 1, b: 'x'.repeat(MAX_CARRIED_PLAYLIST_BYTES + 1) });
    expect(decodePlaylistNotification(tooLarge)).toEqual({ malformed: 'bad-field' });
  });

  it('stays one short line', () => {
    const text = encodePlaylistNotification(sample);
    expect(text).not.toContain('\n');
    expect(text.length).toBeLessThan(100);
  });

  it.each([
    ['', 'not-json'],
    ['{"v":1', 'not-json'],
    ['null', 'not-an-object'],
    ['[1,2]', 'not-an-object'],
    ['"news"', 'not-an-object'],
    ['{}', 'bad-field'],
    ['{"v":2,"c":"news","r":"v0","m":1,"p":0,"t":1}', 'bad-field'],
    ['{"v":1,"c":"../etc","r":"v0","m":1,"p":0,"t":1}', 'bad-field'],
    ['{"v":1,"c":"news","r":"v0/../../x","m":1,"p":0,"t":1}', 'bad-field'],
    ['{"v":1,"c":"news","r":"v0","m":1.5,"p":0,"t":1}', 'bad-field'],
    ['{"v":1,"c":"news","r":"v0","m":-2,"p":0,"t":1}', 'bad-field'],
    ['{"v":1,"c":"news","r":"v0","m":1,"p":"0","t":1}', 'bad-field'],
    ['{"v":1,"c":"news","r":"v0","m":1,"p":0}', 'bad-field'],
    ['{"v":1,"c":"news","r":"v0","m":1,"p":0,"t":-5}', 'bad-field'],
    ['{"v":1,"c":"news","r":"v0","m":1,"p":0,"t":1,"e":-1}', 'bad-field'],
    ['{"v":1,"c":"news","r":"v0","m":1,"p":0,"t":1,"x":true}', 'bad-field'],
    ['{"v":1,"c":"news","r":"v0","m":1,"p":0,"t":1,"b":42}', 'bad-field'],
  ])('refuses %j as %s', (text, reason) => {
    expect(decodePlaylistNotification(text)).toEqual({ malformed: reason });
  });

  it('never throws, whatever arrives on the channel', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.jsonValue().map((v) => JSON.stringify({ v: 1, c: 'a', r: 'b', m: v, p: v, t: v }))), (text) => {
        const decoded = decodePlaylistNotification(text);
        expect('notification' in decoded || 'malformed' in decoded).toBe(true);
      }),
    );
  });
});

// The settings of every livepipe Redis connection (redis-connection.ts), notifications' included.
describe('redis connection settings', () => {
  it('never shows a password in what is logged', () => {
    expect(redactRedisUrl('redis://:s3cret@redis.internal:6379/0')).toBe('redis://:%5Bredacted%5D@redis.internal:6379/0');
    expect(redactRedisUrl('rediss://livepipe:s3cret@redis.internal:6380')).not.toContain('s3cret');
    expect(redactRedisUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
    expect(redactRedisUrl('not a url :s3cret@')).toBe('[unparsable redis url]');
  });

  it('reconnects with growing, jittered, capped pauses', () => {
    expect(reconnectDelayMs(1, () => 0)).toBe(50);
    expect(reconnectDelayMs(1, () => 1)).toBe(100);
    expect(reconnectDelayMs(3, () => 0)).toBe(200);
    expect(reconnectDelayMs(50, () => 1)).toBe(1000);
    expect(reconnectDelayMs(50, () => 0)).toBe(500);
  });

  it('connects lazily, bounds every command and queues nothing while disconnected', () => {
    const options = redisClientOptions();
    expect(options.lazyConnect).toBe(true);
    expect(options.maxRetriesPerRequest).toBe(0);
    expect(redisClientOptions({ commandTimeout: 400, connectionName: 'n' })).toMatchObject({ commandTimeout: 400, connectionName: 'n', enableOfflineQueue: false });
    expect(options.commandTimeout).toBeGreaterThan(0);
    expect(options.enableOfflineQueue).toBe(false);
    expect(typeof options.retryStrategy).toBe('function');
  });
});
