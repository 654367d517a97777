/**
 * TEST-ONLY playlist helpers for the origin tests: a tiny serializer/parser pair and a model builder.
 * The real serializer (`src/package/playlist-serializer.ts`) and parser (`src/package/playlist-parser.ts`)
 * belong to the packager; these exist only so the origin can be tested before they land. Do not import
 * from src.
 */
import type { MediaPlaylist, PartEntry, SegmentEntry } from '../../src/package/playlist-model.js';

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

function partLine(p: PartEntry): string {
  return `#EXT-X-PART:DURATION=${p.duration},URI="${p.uri}"${p.independent ? ',INDEPENDENT=YES' : ''}${p.gap ? ',GAP=YES' : ''}`;
}

/** TEST-ONLY serializer: full playlist, or a delta update (`skip`) dropping segments older than CAN-SKIP-UNTIL. */
export function renderTestPlaylist(model: MediaPlaylist, options: { skip?: 'YES' | 'v2' } = {}): string {
  const sc = model.serverControl;
  const lines = [
    '#EXTM3U',
    `#EXT-X-VERSION:${model.version}`,
    `#EXT-X-TARGETDURATION:${model.targetDuration}`,
    `#EXT-X-PART-INF:PART-TARGET=${model.partTarget}`,
    `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=${sc.canBlockReload ? 'YES' : 'NO'},PART-HOLD-BACK=${sc.partHoldBack},HOLD-BACK=${sc.holdBack},CAN-SKIP-UNTIL=${sc.canSkipUntil}`,
    `#EXT-X-MEDIA-SEQUENCE:${model.mediaSequence}`,
    `#EXT-X-DISCONTINUITY-SEQUENCE:${model.discontinuitySequence}`,
  ];
  let skipped = 0;
  if (options.skip) {
    const total = model.segments.reduce((s, seg) => s + seg.duration, 0) + (model.pending?.parts.reduce((s, p) => s + p.duration, 0) ?? 0);
    let age = total;
    for (const seg of model.segments) {
      if (age - seg.duration < sc.canSkipUntil) break;
      age -= seg.duration;
      skipped++;
    }
    if (skipped > 0) lines.push(`#EXT-X-SKIP:SKIPPED-SEGMENTS=${skipped}`);
  }
  let map: string | undefined;
  for (const seg of model.segments.slice(skipped)) {
    if (seg.discontinuity) lines.push('#EXT-X-DISCONTINUITY');
    if (seg.mapUri !== map) lines.push(`#EXT-X-MAP:URI="${seg.mapUri}"`);
    map = seg.mapUri;
    lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(seg.programDateTime).toISOString()}`);
    for (const p of seg.parts) lines.push(partLine(p));
    lines.push(`#EXTINF:${seg.duration.toFixed(5)},`, seg.uri);
  }
  if (model.pending) {
    if (model.pending.discontinuity) lines.push('#EXT-X-DISCONTINUITY');
    if (model.pending.mapUri !== map) lines.push(`#EXT-X-MAP:URI="${model.pending.mapUri}"`);
    lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(model.pending.programDateTime).toISOString()}`);
    for (const p of model.pending.parts) lines.push(partLine(p));
  }
  if (model.preloadHint) lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${model.preloadHint.uri}"`);
  for (const r of model.renditionReports) lines.push(`#EXT-X-RENDITION-REPORT:URI="${r.uri}",LAST-MSN=${r.lastMsn},LAST-PART=${r.lastPart}`);
  if (model.endList) lines.push('#EXT-X-ENDLIST');
  return `${lines.join('\n')}\n`;
}

function attrs(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of line.slice(line.indexOf(':') + 1).matchAll(/([A-Z0-9-]+)=("[^"]*"|[^,]*)/g)) out[m[1]!] = m[2]!.replace(/^"|"$/g, '');
  return out;
}

/** TEST-ONLY parser of `renderTestPlaylist` full output (not delta updates). Throws on anything else. */
export function parseTestPlaylist(text: string): MediaPlaylist {
  const lines = text.split('\n').filter((l) => l !== '');
  if (lines[0] !== '#EXTM3U') throw new Error('not a playlist');
  const model: MediaPlaylist = {
    version: 0, targetDuration: 0, partTarget: 0,
    serverControl: { canBlockReload: false, partHoldBack: 0, holdBack: 0, canSkipUntil: 0 },
    mediaSequence: 0, discontinuitySequence: 0, segments: [], renditionReports: [], endList: false,
  };
  let parts: PartEntry[] = [];
  let map = '';
  let pdt = 0;
  let disc = false;
  let extinf: number | undefined;
  for (const line of lines.slice(1)) {
    const tag = line.startsWith('#') ? line.split(':')[0] : undefined;
    switch (tag) {
      case '#EXT-X-VERSION': model.version = Number(line.split(':')[1]); break;
      case '#EXT-X-TARGETDURATION': model.targetDuration = Number(line.split(':')[1]); break;
      case '#EXT-X-PART-INF': model.partTarget = Number(attrs(line)['PART-TARGET']); break;
      case '#EXT-X-SERVER-CONTROL': {
        const a = attrs(line);
        model.serverControl = { canBlockReload: a['CAN-BLOCK-RELOAD'] === 'YES', partHoldBack: Number(a['PART-HOLD-BACK']), holdBack: Number(a['HOLD-BACK']), canSkipUntil: Number(a['CAN-SKIP-UNTIL']) };
        break;
      }
      case '#EXT-X-MEDIA-SEQUENCE': model.mediaSequence = Number(line.split(':')[1]); break;
      case '#EXT-X-DISCONTINUITY-SEQUENCE': model.discontinuitySequence = Number(line.split(':')[1]); break;
      case '#EXT-X-DISCONTINUITY': disc = true; break;
      case '#EXT-X-MAP': map = attrs(line).URI!; break;
      case '#EXT-X-PROGRAM-DATE-TIME': pdt = Date.parse(line.slice(line.indexOf(':') + 1)); break;
      case '#EXT-X-PART': {
        const a = attrs(line);
        parts.push({ uri: a.URI!, duration: Number(a.DURATION), independent: a.INDEPENDENT === 'YES', ...(a.GAP === 'YES' ? { gap: true } : {}) });
        break;
      }
      case '#EXTINF': extinf = Number(line.slice(8).split(',')[0]); break;
      case '#EXT-X-PRELOAD-HINT': model.preloadHint = { uri: attrs(line).URI! }; break;
      case '#EXT-X-RENDITION-REPORT': {
        const a = attrs(line);
        model.renditionReports.push({ uri: a.URI!, lastMsn: Number(a['LAST-MSN']), lastPart: Number(a['LAST-PART']) });
        break;
      }
      case '#EXT-X-ENDLIST': model.endList = true; break;
      case '#EXT-X-SKIP': throw new Error('delta updates are not parsed');
      case undefined: {
        if (extinf === undefined) throw new Error(`URI without EXTINF: ${line}`);
        const msn = model.mediaSequence + model.segments.length;
        model.segments.push({ msn, uri: line, duration: extinf, parts, discontinuity: disc, programDateTime: pdt, mapUri: map });
        parts = [];
        disc = false;
        extinf = undefined;
        break;
      }
      default: throw new Error(`unknown tag ${tag}`);
    }
  }
  if (!model.endList) {
    model.pending = { msn: model.mediaSequence + model.segments.length, parts, discontinuity: disc, programDateTime: pdt, mapUri: map };
  }
  return model;
}
