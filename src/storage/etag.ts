import { createHash } from 'node:crypto';

/**
 * The filesystem driver's strong ETag: the quoted hex MD5 of the body, which is also what S3 returns
 * for a single-request PUT, so one object has the same validator on both drivers.
 */
export function md5ETag(body: Uint8Array): string {
  return `"${createHash('md5').update(body).digest('hex')}"`;
}

/**
 * Whether an `If-None-Match` header value matches `etag` (RFC 9110 §13.1.2: `*`, or a list of
 * entity tags compared weakly, so `W/"x"` matches `"x"`).
 */
export function ifNoneMatchHits(header: string, etag: string): boolean {
  const value = header.trim();
  if (value === '*') return true;
  const opaque = stripWeak(etag);
  return value.split(',').some((candidate) => stripWeak(candidate.trim()) === opaque);
}

function stripWeak(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}
