import { describe, expect, it } from 'vitest';
import {
  ALLOW,
  EXPOSED_HEADERS,
  PLAYLIST_TYPE,
  errorBody,
  errorHeaders,
  mediaHeaders,
  playlistHead,
  playlistHeaders,
  preflightHeaders,
  storedObjectHead,
} from '../../../src/origin/response-headers.js';

const IMMUTABLE = 'public, max-age=31536000, immutable';
const LAST_MODIFIED = new Date('2026-01-01T00:00:00Z');
const HTTP_DATE = 'Thu, 01 Jan 2026 00:00:00 GMT';
const part = { contentType: 'video/iso.segment', cacheControl: IMMUTABLE, etag: '"p1"', lastModified: LAST_MODIFIED };

/** A `[name, value, …]` header list as ordered pairs. */
function pairs(head: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < head.length; i += 2) out.push([head[i]!, head[i + 1]!]);
  return out;
}

describe('stored object headers', () => {
  it('the prebuilt 200 list carries length, validators, ranges and CORS * in wire order', () => {
    expect(pairs(storedObjectHead(part, 49152))).toEqual([
      ['Content-Type', 'video/iso.segment'],
      ['Content-Length', '49152'],
      ['Cache-Control', IMMUTABLE],
      ['ETag', '"p1"'],
      ['Last-Modified', HTTP_DATE],
      ['Accept-Ranges', 'bytes'],
      ['Access-Control-Allow-Origin', '*'],
      ['Access-Control-Expose-Headers', EXPOSED_HEADERS],
    ]);
  });

  it('the record for 304/206/416 has neither length nor CORS (added per response)', () => {
    expect(Object.entries(mediaHeaders(part))).toEqual([
      ['Content-Type', 'video/iso.segment'],
      ['Cache-Control', IMMUTABLE],
      ['ETag', '"p1"'],
      ['Last-Modified', HTTP_DATE],
      ['Accept-Ranges', 'bytes'],
    ]);
  });

  it('every call builds a new record (callers add to it)', () => {
    expect(mediaHeaders(part)).not.toBe(mediaHeaders(part));
  });
});

describe('playlistHead', () => {
  const rendered = { size: 1234, etag: '"abc"', lastModified: HTTP_DATE };
  it.each([
    ['identity', []],
    ['gzip', [['Content-Encoding', 'gzip']]],
    ['br', [['Content-Encoding', 'br']]],
  ] as const)('%s', (coding, encoding) => {
    expect(pairs(playlistHead(rendered, 'public, max-age=12', coding))).toEqual([
      ['Content-Type', PLAYLIST_TYPE],
      ['Content-Length', '1234'],
      ['Cache-Control', 'public, max-age=12'],
      ['ETag', '"abc"'],
      ['Last-Modified', HTTP_DATE],
      ['Vary', 'Accept-Encoding'],
      ['Access-Control-Allow-Origin', '*'],
      ['Access-Control-Expose-Headers', EXPOSED_HEADERS],
      ...encoding,
    ]);
  });
});

describe('playlistHeaders', () => {
  it.each([
    [PLAYLIST_TYPE, 'public, max-age=1'],
    ['application/x-mpegurl', 'public, max-age=2'],
  ])('%s, %s', (contentType, cacheControl) => {
    expect(Object.entries(playlistHeaders(contentType, cacheControl, '"e"', HTTP_DATE))).toEqual([
      ['Content-Type', contentType],
      ['Cache-Control', cacheControl],
      ['ETag', '"e"'],
      ['Last-Modified', HTTP_DATE],
      ['Vary', 'Accept-Encoding'],
    ]);
  });
});

describe('preflightHeaders', () => {
  it('names the methods and request headers players use, cacheable for a day', () => {
    expect(preflightHeaders()).toEqual({
      'Access-Control-Allow-Methods': ALLOW,
      'Access-Control-Allow-Headers': 'Range, If-None-Match, If-Modified-Since, If-Range, Cache-Control',
      'Access-Control-Max-Age': '86400',
      Allow: 'GET, HEAD, OPTIONS',
      'Cache-Control': 'public, max-age=86400',
      'Content-Length': '0',
    });
  });
});

describe('error responses', () => {
  it.each([
    [404, 'no such playlist', '404 Not Found: no such playlist\n'],
    [400, 'bad _HLS_msn', '400 Bad Request: bad _HLS_msn\n'],
    [503, 'origin is shutting down', '503 Service Unavailable: origin is shutting down\n'],
    [599, 'odd', '599 : odd\n'],
  ])('%i %s → %j', (status, reason, text) => expect(errorBody(status, reason).toString('utf8')).toBe(text));

  it.each([
    [undefined, []],
    [{ 'Retry-After': '1', Connection: 'close' }, [['Retry-After', '1'], ['Connection', 'close']]],
    [{ Allow: ALLOW }, [['Allow', ALLOW]]],
  ] as const)('headers with extra %j: the standard ones first', (extra, added) => {
    expect(Object.entries(errorHeaders(31, 'no-store', extra))).toEqual([
      ['Content-Type', 'text/plain; charset=utf-8'],
      ['Content-Length', '31'],
      ['Cache-Control', 'no-store'],
      ['X-Content-Type-Options', 'nosniff'],
      ...added,
    ]);
  });
});
