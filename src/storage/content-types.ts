/**
 * Content types by key extension, the shared convention (BRIEF: playlists
 * `application/vnd.apple.mpegurl`, init segments `video/mp4`, parts and segments
 * `video/iso.segment`). The filesystem driver derives an object's type from this table instead of
 * keeping a metadata file next to every object.
 */
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.mp4': 'video/mp4',
  '.m4s': 'video/iso.segment',
  '.m4a': 'audio/mp4',
  '.m4v': 'video/mp4',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.vtt': 'text/vtt',
  '.jpg': 'image/jpeg',
  '.png': 'image/png',
};

/** Used for keys whose extension is not in the table. */
export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

/** The content type implied by the last `.ext` of `key` (case-insensitive). */
export function contentTypeForKey(key: string): string {
  const slash = key.lastIndexOf('/');
  const dot = key.lastIndexOf('.');
  if (dot <= slash + 1) return DEFAULT_CONTENT_TYPE; // no extension, or a dot-file name
  return CONTENT_TYPES[key.slice(dot).toLowerCase()] ?? DEFAULT_CONTENT_TYPE;
}
