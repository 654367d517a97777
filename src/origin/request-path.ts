import { isValidId } from '../core/ids.js';

/**
 * Maps a request path to the storage key it names, refusing anything that could reach outside
 * `live/{channel}/`. The URL layout mirrors storage keys (`/live/{channel}/master.m3u8`,
 * `/live/{channel}/{rendition}/…`), and storage keys only use `[A-Za-z0-9._-]`, so a legitimate
 * path never needs percent-encoding: any `%`, backslash, NUL, control or non-ASCII byte, empty or
 * dot segment is refused before anything is decoded. Nothing is ever percent-decoded, so double
 * encoding cannot smuggle a separator through.
 */

export type ResourceKind =
  /** `master.m3u8` at the channel root. */
  | 'multivariant'
  /** Any `*.m3u8` inside a rendition directory (by convention `playlist.m3u8`). */
  | 'media-playlist'
  /** `init-{run}.mp4` */
  | 'init'
  /** `part-{msn}-{index}.m4s` */
  | 'part'
  /** `seg-{msn}.m4s` */
  | 'segment'
  /** Another media file in a rendition directory; served if stored, never held. */
  | 'media';

export interface OriginResource {
  kind: ResourceKind;
  /** Storage key, e.g. `live/news/v0/part-12-3.m4s`. */
  key: string;
  channel: string;
  /** Path relative to `live/{channel}/`, e.g. `v0/part-12-3.m4s`. */
  path: string;
  /** For rendition files: the media playlist governing them (relative to the channel), e.g. `v0/playlist.m3u8`. */
  playlistPath?: string;
  /** Media sequence number, for parts and segments. */
  msn?: number;
  /** Part index within its segment, for parts. */
  partIndex?: number;
}

export type PathCheck =
  | { ok: true; resource: OriginResource }
  | { ok: false; status: 400 | 404; reason: string };

/** Longest path accepted; the longest legitimate one is well under 200 characters. */
export const MAX_PATH_LENGTH = 512;
/** Per the shared conventions, the media playlist of a rendition directory. */
export const MEDIA_PLAYLIST_NAME = 'playlist.m3u8';

const PATH_ALPHABET = /^[A-Za-z0-9._/-]+$/;
const FILE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;
const PART_NAME = /^part-(\d{1,15})-(\d{1,6})\.m4s$/;
const SEGMENT_NAME = /^seg-(\d{1,15})\.m4s$/;
const INIT_NAME = /^init-[A-Za-z0-9_-]{1,32}\.mp4$/;
const MEDIA_EXTENSION = /\.(m4s|mp4|m4a|m4v|aac|ts|vtt|webvtt)$/;

const badRequest = (reason: string): PathCheck => ({ ok: false, status: 400, reason });
const notFound = (reason: string): PathCheck => ({ ok: false, status: 404, reason });

/** `rawPath` is the request target up to (not including) `?`, exactly as received. */
export function checkRequestPath(rawPath: string): PathCheck {
  if (rawPath.length === 0 || rawPath.length > MAX_PATH_LENGTH) return badRequest('path length');
  if (!PATH_ALPHABET.test(rawPath)) return badRequest('path contains characters outside the key alphabet');
  if (rawPath.charCodeAt(0) !== 0x2f /* / */) return badRequest('path is not absolute');
  const segments = rawPath.split('/');
  // segments[0] is '' (leading slash). Any later empty segment is `//` or a trailing slash.
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i]!;
    if (s === '') return i === segments.length - 1 ? notFound('no directory listings') : badRequest('empty path segment');
    if (s.charCodeAt(0) === 0x2e /* . */) return badRequest('dot segment');
  }
  if (segments[1] !== 'live' || segments.length < 4) return notFound('outside /live/{channel}/');
  const channel = segments[2]!;
  if (!isValidId(channel)) return notFound('not a channel id');
  const path = segments.slice(3).join('/');
  const key = `live/${channel}/${path}`;

  if (segments.length === 4) {
    if (segments[3] === 'master.m3u8') return { ok: true, resource: { kind: 'multivariant', key, channel, path } };
    return notFound('unknown channel-level file');
  }
  if (segments.length !== 5) return notFound('too deep');
  const rendition = segments[3]!;
  const file = segments[4]!;
  if (!isValidId(rendition) || !FILE_NAME.test(file)) return notFound('not a rendition file');
  const playlistPath = `${rendition}/${MEDIA_PLAYLIST_NAME}`;
  const base = { key, channel, path, playlistPath };
  if (file.endsWith('.m3u8')) return { ok: true, resource: { ...base, kind: 'media-playlist', playlistPath: path } };
  let m = PART_NAME.exec(file);
  if (m) return { ok: true, resource: { ...base, kind: 'part', msn: Number(m[1]), partIndex: Number(m[2]) } };
  m = SEGMENT_NAME.exec(file);
  if (m) return { ok: true, resource: { ...base, kind: 'segment', msn: Number(m[1]) } };
  if (INIT_NAME.test(file)) return { ok: true, resource: { ...base, kind: 'init' } };
  if (MEDIA_EXTENSION.test(file)) return { ok: true, resource: { ...base, kind: 'media' } };
  return notFound('not a servable file type');
}

/** Content type by file name, used when storage does not say (shared conventions). */
export function contentTypeOf(kind: ResourceKind, path: string): string {
  switch (kind) {
    case 'multivariant':
    case 'media-playlist':
      return 'application/vnd.apple.mpegurl';
    case 'part':
    case 'segment':
      return 'video/iso.segment';
    case 'init':
      return 'video/mp4';
    case 'media':
      if (path.endsWith('.vtt') || path.endsWith('.webvtt')) return 'text/vtt';
      if (path.endsWith('.aac')) return 'audio/aac';
      if (path.endsWith('.ts')) return 'video/mp2t';
      if (path.endsWith('.m4a')) return 'audio/mp4';
      return 'video/mp4';
  }
}
