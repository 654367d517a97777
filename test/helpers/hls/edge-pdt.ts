import { listedMediaEnd } from '../../../src/hls/playlist-model.js';
import { parseMediaPlaylist } from '../../../src/hls/playlist-parser.js';

/**
 * The wall-clock time (epoch ms, by EXT-X-PROGRAM-DATE-TIME) at which the newest part, or the newest
 * segment when no part is pending, of a livepipe media playlist ends. `Date.now()` minus this is how
 * far the stream itself trails the wall clock; it grows when the machine cannot encode in real time.
 */
export function livepipeEdgePdt(text: string): number | undefined {
  return listedMediaEnd(parseMediaPlaylist(text));
}
