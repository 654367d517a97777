import { parseMediaPlaylist } from '../../../src/hls/playlist-parser.js';

/**
 * The wall-clock time (epoch ms, by EXT-X-PROGRAM-DATE-TIME) at which the newest part, or the newest
 * segment when no part is pending, of a livepipe media playlist ends. `Date.now()` minus this is how
 * far the stream itself trails the wall clock; it grows when the machine cannot encode in real time.
 */
export function livepipeEdgePdt(text: string): number | undefined {
  const p = parseMediaPlaylist(text);
  if (p.pending !== undefined && p.pending.parts.length > 0) return p.pending.programDateTime + p.pending.parts.reduce((t, part) => t + part.duration, 0) * 1000;
  const last = p.segments[p.segments.length - 1];
  return last ? last.programDateTime + last.duration * 1000 : undefined;
}
