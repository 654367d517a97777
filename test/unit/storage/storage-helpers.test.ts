import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { contentTypeForKey } from '../../../src/storage/content-types.js';
import { ifNoneMatchHits, md5ETag } from '../../../src/storage/etag.js';
import { assertSafeKey, assertSafePrefix } from '../../../src/storage/object-storage.js';
import { normalizePrefix } from '../../../src/storage/s3-storage.js';
import { backoffDelay } from '../../../src/storage/upload-queue.js';

describe('contentTypeForKey', () => {
  it.each([
    ['live/ch/master.m3u8', 'application/vnd.apple.mpegurl'],
    ['live/ch/v720/playlist.M3U8', 'application/vnd.apple.mpegurl'],
    ['live/ch/v720/init-3.mp4', 'video/mp4'],
    ['live/ch/v720/seg-12.m4s', 'video/iso.segment'],
    ['live/ch/v720/part-12-3.m4s', 'video/iso.segment'],
    ['live/ch/audio/track.m4a', 'audio/mp4'],
    ['live/ch/noext', 'application/octet-stream'],
    ['live/ch/.m3u8', 'application/octet-stream'], // a dot-file, not an extension
    ['live/ch.d/file', 'application/octet-stream'], // a dot in a folder name is not an extension
    ['live/ch/x.unknown', 'application/octet-stream'],
  ])('%s → %s', (key, type) => {
    expect(contentTypeForKey(key)).toBe(type);
  });
});

describe('ETags', () => {
  it('md5ETag is the quoted hex MD5 (S3 single-PUT ETag)', () => {
    expect(md5ETag(Buffer.from('hello world'))).toBe('"5eb63bbbe01eeed093cb22bb8f5acdc3"');
    expect(md5ETag(new Uint8Array(0))).toBe('"d41d8cd98f00b204e9800998ecf8427e"');
  });

  it.each([
    ['"abc"', '"abc"', true],
    ['W/"abc"', '"abc"', true],
    ['"abc"', 'W/"abc"', true],
    ['"x", "abc"', '"abc"', true],
    ['"x","y"', '"abc"', false],
    ['*', '"abc"', true],
    ['"ab"', '"abc"', false],
    ['abc', '"abc"', false],
  ])('If-None-Match %s vs %s → %s', (header, etag, hit) => {
    expect(ifNoneMatchHits(header, etag)).toBe(hit);
  });
});

describe('assertSafePrefix', () => {
  it.each(['', 'live/', 'live/ch1/', 'live/ch1', 'live/ch1/seg-', 'l'])('accepts %j', (prefix) => {
    expect(() => assertSafePrefix(prefix)).not.toThrow();
  });
  it.each(['/', '/live/', '../', 'live//', 'live/../', 'live/./', 'live/a b', 'live\\x', 'live/é'])('rejects %j', (prefix) => {
    expect(() => assertSafePrefix(prefix)).toThrow(TypeError);
  });

  it('accepts every prefix of a safe key', () => {
    const segment = fc.stringMatching(/^[A-Za-z0-9._-]{1,8}$/).filter((s) => s !== '.' && s !== '..');
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 5 }), fc.nat(), (segments, cut) => {
        const key = segments.join('/');
        assertSafeKey(key);
        // Any cut, including "live/." (a prefix of the safe key "live/.hidden"): listing by the
        // start of a name is legal; only the whole folders before the last "/" must be safe keys.
        const prefix = key.slice(0, cut % (key.length + 1));
        expect(() => assertSafePrefix(prefix)).not.toThrow();
      }),
    );
  });
});

describe('normalizePrefix', () => {
  it.each([
    ['', ''],
    ['/', ''],
    ['tenant', 'tenant/'],
    ['/tenant/a/', 'tenant/a/'],
  ])('%j → %j', (input, output) => {
    expect(normalizePrefix(input)).toBe(output);
  });
  it.each(['a//b', '../x', 'a/./b', 'sp ace'])('rejects %j', (input) => {
    expect(() => normalizePrefix(input)).toThrow(/invalid S3 key prefix/);
  });
});

describe('backoffDelay', () => {
  it.each([
    // attempt, random, expected (base 100, max 1000)
    [1, 0, 50],
    [1, 0.999999, 99.99995],
    [2, 0, 100],
    [3, 0.5, 300],
    [4, 1, 800],
    [5, 0, 500], // capped at 1000: half fixed
    [30, 1, 1000],
  ])('attempt %i with random %f → %f ms', (attempt, random, expected) => {
    expect(backoffDelay(attempt, 100, 1000, () => random)).toBeCloseTo(expected, 3);
  });

  it('stays within [ceiling/2, ceiling] and never exceeds the cap', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempt, r) => {
        const delay = backoffDelay(attempt, 100, 2000, () => r);
        const ceiling = Math.min(2000, 100 * 2 ** (attempt - 1));
        expect(delay).toBeGreaterThanOrEqual(ceiling / 2);
        expect(delay).toBeLessThanOrEqual(ceiling);
      }),
    );
  });
});
