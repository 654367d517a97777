import type { MediaPlaylist, PartEntry } from '../hls/playlist-model.js';
import { partName } from './rendition-timeline.js';

/**
 * The playlist as storage may show it: everything listed before the first object whose upload has
 * not settled yet.
 *
 * The packager lists a part for the embedded origin once its bytes are stored — or, when the upload
 * takes longer than the listing deadline (storage slow or down), once they are held in memory, from
 * where the embedded origin serves them (`storage/pending-objects.ts`). Playlists written to storage
 * are read by standalone origins and CDNs that only see storage, so they must never name an object
 * storage does not have: they show this view, cut before the first unsettled object in listing
 * order (parts of a segment, then the segment itself, segment after segment, then the parts of the
 * segment in progress). The cut point only moves forward, so successive stored versions only append
 * (§6.2.1), and an object that is finally dropped is appended as a gap once the cut passes it.
 *
 * At the cut: the segment holding the first unsettled part is shown in progress with the parts
 * before it, and that part becomes the preload hint; an unsettled segment object is shown in
 * progress with all its parts, and the first part of the next segment is the hint. The view is never ended (EXT-X-ENDLIST) while the cut is in force.
 * Pure: returns `playlist` itself when nothing is unsettled, otherwise a shallow copy.
 */
export function storedView(playlist: MediaPlaylist, unsettled: ReadonlySet<string>): MediaPlaylist {
  if (unsettled.size === 0) return playlist;
  const { segments, pending } = playlist;
  for (let i = 0; i < segments.length; i += 1) {
    const segment = segments[i]!;
    const partCut = firstIn(segment.parts, unsettled);
    if (partCut !== -1 || unsettled.has(segment.uri)) {
      const parts = partCut === -1 ? segment.parts : segment.parts.slice(0, partCut);
      const hint = partCut === -1 ? partName(segment.msn + 1, 0) : segment.parts[partCut]!.uri;
      return cut(playlist, i, { msn: segment.msn, parts, discontinuity: segment.discontinuity, programDateTime: segment.programDateTime, mapUri: segment.mapUri }, hint);
    }
  }
  if (pending !== undefined) {
    const partCut = firstIn(pending.parts, unsettled);
    if (partCut !== -1) return cut(playlist, segments.length, { ...pending, parts: pending.parts.slice(0, partCut) }, pending.parts[partCut]!.uri);
  }
  return playlist;
}

function firstIn(parts: readonly PartEntry[], names: ReadonlySet<string>): number {
  for (let j = 0; j < parts.length; j += 1) if (names.has(parts[j]!.uri)) return j;
  return -1;
}

function cut(playlist: MediaPlaylist, keptSegments: number, pending: NonNullable<MediaPlaylist['pending']>, hint: string): MediaPlaylist {
  return {
    ...playlist,
    segments: playlist.segments.slice(0, keptSegments),
    pending,
    preloadHint: { uri: hint },
    endList: false,
  };
}
