import { STATUS_CODES } from 'node:http';
import type { ContentCoding } from './http-negotiation.js';

/**
 * The header sets of origin responses, built by pure functions: each response's headers are
 * written down once, here, in the order they go on the wire. Two shapes:
 *  - a complete header list (`[name, value, name, value, …]`, which `writeHead` sends without
 *    copying) for 200 responses when CORS allows every origin, built once per stored object or
 *    playlist rendering and shared by every response (the hot path);
 *  - a record for everything else, to which the caller adds CORS (`CorsPolicy`), `Content-Length`,
 *    `Content-Range` or `Content-Encoding`.
 */

/** `Access-Control-Expose-Headers`: what players may read from cross-origin responses. */
export const EXPOSED_HEADERS = 'Age, Date, ETag, Content-Range, Accept-Ranges';
/** The methods the origin answers (`Allow`, and preflight's `Access-Control-Allow-Methods`). */
export const ALLOW = 'GET, HEAD, OPTIONS';
/** Content type of HLS playlists (RFC 8216 §4). */
export const PLAYLIST_TYPE = 'application/vnd.apple.mpegurl';

/** What the headers of a stored object (init, part, segment, multivariant playlist) are made of. */
export interface StoredObjectHeaders {
  readonly contentType: string;
  readonly cacheControl: string;
  readonly etag: string;
  readonly lastModified: Date;
}

/** What the headers of a rendered media playlist are made of. */
export interface RenderedHeaders {
  readonly size: number;
  readonly etag: string;
  /** Already an HTTP date. */
  readonly lastModified: string;
}

/** Complete header list of a 200 response with a stored object, CORS `*`. */
export function storedObjectHead(object: StoredObjectHeaders, size: number): string[] {
  return [
    'Content-Type', object.contentType,
    'Content-Length', String(size),
    'Cache-Control', object.cacheControl,
    'ETag', object.etag,
    'Last-Modified', object.lastModified.toUTCString(),
    'Accept-Ranges', 'bytes',
    'Access-Control-Allow-Origin', '*',
    'Access-Control-Expose-Headers', EXPOSED_HEADERS,
  ];
}

/** Headers of a media response (200, 206, 304, 416) before CORS, length and range are added. */
export function mediaHeaders(object: StoredObjectHeaders): Record<string, string> {
  return {
    'Content-Type': object.contentType,
    'Cache-Control': object.cacheControl,
    ETag: object.etag,
    'Last-Modified': object.lastModified.toUTCString(),
    'Accept-Ranges': 'bytes',
  };
}

/** Complete header list of a 200 response with a rendered media playlist, CORS `*`. */
export function playlistHead(rendered: RenderedHeaders, cacheControl: string, coding: ContentCoding): string[] {
  const head = [
    'Content-Type', PLAYLIST_TYPE,
    'Content-Length', String(rendered.size),
    'Cache-Control', cacheControl,
    'ETag', rendered.etag,
    'Last-Modified', rendered.lastModified,
    'Vary', 'Accept-Encoding',
    'Access-Control-Allow-Origin', '*',
    'Access-Control-Expose-Headers', EXPOSED_HEADERS,
  ];
  if (coding !== 'identity') head.push('Content-Encoding', coding);
  return head;
}

/**
 * Headers of a playlist response (media or multivariant; 200 or 304) before CORS, length and
 * coding are added. Playlists are compressed when accepted, hence `Vary: Accept-Encoding`.
 */
export function playlistHeaders(contentType: string, cacheControl: string, etag: string, lastModified: string): Record<string, string> {
  return {
    'Content-Type': contentType,
    'Cache-Control': cacheControl,
    ETag: etag,
    'Last-Modified': lastModified,
    Vary: 'Accept-Encoding',
  };
}

/** Headers of the 204 answer to a CORS preflight, before CORS itself is added. */
export function preflightHeaders(): Record<string, string> {
  return {
    'Access-Control-Allow-Methods': ALLOW,
    'Access-Control-Allow-Headers': 'Range, If-None-Match, If-Modified-Since, If-Range, Cache-Control',
    'Access-Control-Max-Age': '86400',
    Allow: ALLOW,
    'Cache-Control': 'public, max-age=86400',
    'Content-Length': '0',
  };
}

/** Body of an error response: `404 Not Found: no such playlist`. `reason` is one of our fixed phrases. */
export function errorBody(status: number, reason: string): Buffer {
  return Buffer.from(`${status} ${STATUS_CODES[status] ?? ''}: ${reason}\n`, 'utf8');
}

/** Headers of an error response before CORS is added; `extra` (Retry-After, Allow, Connection) last. */
export function errorHeaders(bodyLength: number, cacheControl: string, extra?: Readonly<Record<string, string>>): Record<string, string> {
  return {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': String(bodyLength),
    'Cache-Control': cacheControl,
    'X-Content-Type-Options': 'nosniff',
    ...extra,
  };
}
