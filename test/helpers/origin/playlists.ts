/**
 * Playlist models for the origin tests and bench: a live LL-HLS media playlist of any shape, moved on
 * one part at a time. They are rendered and parsed by the packager's own serializer and parser
 * (`src/package/playlist-serializer.ts`, `playlist-parser.ts`), as in production. Do not import
 * from src.
 */
import type { MediaPlaylist, PartEntry, SegmentEntry } from '../../../src/hls/playlist-model.js';

export interface LiveModelOptions {
  /** msn of the first segment; default 0 */
  firstMsn?: number;
  /** complete segments; default 3 */
  segments?: number;
  /** parts per complete segment; default 4 */
  partsPerSegment?: number;
  /** parts already in the pending segment; default 1 */
  pendingParts?: number;
  /** default 2 */
  targetDuration?: number;
  /** default 0.5 */
  partTarget?: number;
  endList?: boolean;
}

const EPOCH = Date.UTC(2026, 0, 1);

function part(msn: number, index: number, partTarget: number): PartEntry {
  return { uri: `part-${msn}-${index}.m4s`, duration: partTarget, independent: index === 0 };
}

/** A live LL-HLS model whose segments hold `partsPerSegment` parts of `partTarget` seconds. */
export function liveModel(options: LiveModelOptions = {}): MediaPlaylist {
  const firstMsn = options.firstMsn ?? 0;
  const count = options.segments ?? 3;
  const perSegment = options.partsPerSegment ?? 4;
  const td = options.targetDuration ?? 2;
  const pt = options.partTarget ?? 0.5;
  const segments: SegmentEntry[] = [];
  for (let i = 0; i < count; i++) {
    const msn = firstMsn + i;
    segments.push({
      msn,
      uri: `seg-${msn}.m4s`,
      duration: perSegment * pt,
      parts: Array.from({ length: perSegment }, (_, k) => part(msn, k, pt)),
      discontinuity: false,
      programDateTime: EPOCH + msn * perSegment * pt * 1000,
      mapUri: 'init-1.mp4',
    });
  }
  const pendingMsn = firstMsn + count;
  const pendingParts = options.pendingParts ?? 1;
  const model: MediaPlaylist = {
    version: 9,
    targetDuration: td,
    partTarget: pt,
    serverControl: { canBlockReload: true, partHoldBack: 3 * pt, holdBack: 3 * td, canSkipUntil: 6 * td },
    mediaSequence: firstMsn,
    discontinuitySequence: 0,
    segments,
    pending: options.endList
      ? undefined
      : {
          msn: pendingMsn,
          parts: Array.from({ length: pendingParts }, (_, k) => part(pendingMsn, k, pt)),
          discontinuity: false,
          programDateTime: EPOCH + pendingMsn * perSegment * pt * 1000,
          mapUri: 'init-1.mp4',
        },
    preloadHint: options.endList ? undefined : { uri: `part-${pendingMsn}-${pendingParts}.m4s` },
    renditionReports: [],
    endList: options.endList ?? false,
  };
  return model;
}

/**
 * Adds the next part (a new model; the argument is not changed). When the pending segment reaches
 * `partsPerSegment` parts it becomes a complete segment and a new pending segment starts empty.
 */
export function advance(model: MediaPlaylist, partsPerSegment = 4): MediaPlaylist {
  const next = structuredClone(model);
  const pending = next.pending!;
  pending.parts.push(part(pending.msn, pending.parts.length, next.partTarget));
  if (pending.parts.length >= partsPerSegment) {
    next.segments.push({
      msn: pending.msn,
      uri: `seg-${pending.msn}.m4s`,
      duration: pending.parts.reduce((s, p) => s + p.duration, 0),
      parts: pending.parts,
      discontinuity: pending.discontinuity,
      programDateTime: pending.programDateTime,
      mapUri: pending.mapUri,
    });
    const msn = pending.msn + 1;
    next.pending = { msn, parts: [], discontinuity: false, programDateTime: pending.programDateTime + partsPerSegment * next.partTarget * 1000, mapUri: pending.mapUri };
    next.preloadHint = { uri: `part-${msn}-0.m4s` };
  } else {
    next.preloadHint = { uri: `part-${pending.msn}-${pending.parts.length}.m4s` };
  }
  return next;
}

/** Completes the pending segment and ends the list (EXT-X-ENDLIST). */
export function endList(model: MediaPlaylist): MediaPlaylist {
  const next = structuredClone(model);
  next.endList = true;
  next.preloadHint = undefined;
  next.pending = undefined;
  return next;
}
