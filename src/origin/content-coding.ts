import { brotliCompressSync, constants as zlibConstants, gzipSync } from 'node:zlib';
import { negotiateEncoding, type ContentCoding } from './http-negotiation.js';

/**
 * Content codings of playlist bodies: which one a request gets (negotiated once per distinct
 * `Accept-Encoding` value) and the compression itself. Media are never compressed (fMP4 does not
 * shrink), so only media and multivariant playlists come here.
 */

/** Distinct `Accept-Encoding` values remembered with their negotiated coding (CDNs send a handful). */
export const MAX_REMEMBERED_CODINGS = 64;
/** Longer `Accept-Encoding` values are negotiated every time rather than remembered. */
export const MAX_REMEMBERED_CODING_LENGTH = 256;

/**
 * CDN edges send the same `Accept-Encoding` on every request, so the negotiation result is
 * remembered per value instead of parsed per response.
 */
export class AcceptEncodingMemo {
  private readonly codings = new Map<string, ContentCoding>();

  /** Values remembered now (at most `MAX_REMEMBERED_CODINGS`). */
  get size(): number {
    return this.codings.size;
  }

  /** The coding for a playlist response to a request with this `Accept-Encoding` (undefined: none). */
  codingOf(acceptEncoding: string | undefined): ContentCoding {
    if (acceptEncoding === undefined) return 'identity';
    let coding = this.codings.get(acceptEncoding);
    if (coding === undefined) {
      coding = negotiateEncoding(acceptEncoding);
      if (acceptEncoding.length <= MAX_REMEMBERED_CODING_LENGTH) {
        // Odd values from a flood of clients cannot grow the table: it just starts over.
        if (this.codings.size >= MAX_REMEMBERED_CODINGS) this.codings.clear();
        this.codings.set(acceptEncoding, coding);
      }
    }
    return coding;
  }
}

/** `body` in `coding` (identity: `body` itself). */
export function compress(body: Buffer, coding: ContentCoding): Buffer {
  if (coding === 'br') {
    // Quality 5: a few-KB playlist compresses in well under a millisecond, close to q11's ratio.
    return brotliCompressSync(body, {
      params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 5, [zlibConstants.BROTLI_PARAM_SIZE_HINT]: body.length },
    });
  }
  if (coding === 'gzip') return gzipSync(body, { level: 6 });
  return body;
}
