/** Pure HTTP request-header logic: content coding, byte ranges, entity tags, dates. */
import type { IncomingHttpHeaders } from 'node:http';

export type ContentCoding = 'br' | 'gzip' | 'identity';

/**
 * Picks the coding for a playlist from `Accept-Encoding` (RFC 9110 §12.5.3): the highest q-value
 * among `br` and `gzip` (brotli wins ties: smaller), `*` standing for any coding not named; codings
 * with q=0 are refused. No header or nothing acceptable: identity.
 */
export function negotiateEncoding(acceptEncoding: string | undefined): ContentCoding {
  if (!acceptEncoding) return 'identity';
  let br: number | undefined;
  let gzip: number | undefined;
  let star: number | undefined;
  for (const item of acceptEncoding.split(',')) {
    const [rawName, ...params] = item.split(';');
    const name = rawName!.trim().toLowerCase();
    let q = 1;
    for (const p of params) {
      const [k, v] = p.split('=');
      if (k?.trim().toLowerCase() === 'q' && v !== undefined) {
        const parsed = Number(v.trim());
        q = Number.isFinite(parsed) && parsed >= 0 && parsed <= 1 ? parsed : 0;
      }
    }
    if (name === 'br') br = q;
    else if (name === 'gzip' || name === 'x-gzip') gzip = q;
    else if (name === '*') star = q;
  }
  const brQ = br ?? star ?? 0;
  const gzipQ = gzip ?? star ?? 0;
  if (brQ > 0 && brQ >= gzipQ) return 'br';
  if (gzipQ > 0) return 'gzip';
  return 'identity';
}

export type RangeResult =
  /** Serve the whole representation (no header, or one we ignore, e.g. multiple ranges). */
  | { kind: 'full' }
  | { kind: 'partial'; start: number; end: number }
  | { kind: 'unsatisfiable' };

const SINGLE_RANGE = /^bytes=(\d{0,15})-(\d{0,15})$/;

/**
 * Interprets a `Range` header for a body of `size` bytes (RFC 9110 §14). Only a single byte range
 * is honoured; multipart ranges and other units are answered with the full body, which the RFC allows.
 */
export function parseRange(header: string | undefined, size: number): RangeResult {
  if (header === undefined) return { kind: 'full' };
  const m = SINGLE_RANGE.exec(header.trim());
  if (!m) return { kind: 'full' };
  const [, first, last] = m;
  if (first === '' && last === '') return { kind: 'full' };
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== '' && Number(last) < start) return { kind: 'full' }; // invalid range: ignore it
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end };
}

/**
 * `If-None-Match` evaluation (RFC 9110 §13.1.2): weak comparison, `*` matches any current
 * representation.
 */
export function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  const wanted = ifNoneMatch.trim();
  if (wanted === '*') return true;
  const opaque = stripWeak(etag);
  for (const candidate of wanted.split(',')) {
    if (stripWeak(candidate.trim()) === opaque) return true;
  }
  return false;
}

/** `If-Range` (RFC 9110 §13.1.5): a strong entity tag equal to the current one keeps the range. */
export function ifRangeAllows(ifRange: string | undefined, etag: string, lastModified: Date): boolean {
  if (ifRange === undefined) return true;
  const v = ifRange.trim();
  if (v.startsWith('"')) return v === etag;
  if (v.startsWith('W/')) return false;
  const date = Date.parse(v);
  return Number.isFinite(date) && Math.floor(lastModified.getTime() / 1000) * 1000 <= date;
}

function stripWeak(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}

/** A request header as one string: repeated headers joined with `, ` (RFC 9110 §5.3). */
export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * `If-Modified-Since` (RFC 9110 §13.1.3): true when the representation has not changed since that
 * date, compared at the one-second resolution of HTTP dates. An unparsable date never matches.
 */
export function notModifiedSince(lastModified: Date, ifModifiedSince: string): boolean {
  const since = Date.parse(ifModifiedSince);
  return Number.isFinite(since) && Math.floor(lastModified.getTime() / 1000) * 1000 <= since;
}
