import { Parser } from 'm3u8-parser';

/**
 * An independent check of livepipe's playlists against /work/shared/LLHLS.md: every playlist is parsed
 * by the `m3u8-parser` package (video.js), not by our own parser, and the rules are checked on that
 * result. Each function returns the list of violations (empty = compliant) so tests can show them all.
 */

const EPS = 1e-6;

export interface ParsedPlaylist {
  manifest: Record<string, any>;
  warnings: string[];
}

export function parseWithM3u8Parser(text: string): ParsedPlaylist {
  const parser = new Parser();
  const warnings: string[] = [];
  parser.on('warn', (e) => warnings.push(e.message));
  parser.push(text);
  parser.end();
  return { manifest: parser.manifest, warnings };
}

export interface MediaRuleContext {
  /** Other renditions of the channel: a rendition report `../{name}/playlist.m3u8` is required for each. */
  otherRenditions?: string[];
  /** Segments may start on a non-keyframe (forced cuts, when the test feeds a GOP longer than TD). */
  allowNonIndependentSegments?: boolean;
}

interface Part {
  duration: number;
  uri: string;
  independent?: boolean;
  gap?: boolean;
}

export function checkMediaPlaylist(text: string, context: MediaRuleContext = {}): string[] {
  const { manifest: m, warnings } = parseWithM3u8Parser(text);
  const v: string[] = warnings.map((w) => `m3u8-parser warning: ${w}`);
  const td: number | undefined = m.targetDuration;
  const pt: number | undefined = m.partTargetDuration;
  if (!td) v.push('EXT-X-TARGETDURATION missing');
  if (!pt) v.push('EXT-X-PART-INF:PART-TARGET missing');
  if (!td || !pt) return v;
  const sc = m.serverControl;
  const live = !m.endList;
  if (!sc) v.push('EXT-X-SERVER-CONTROL missing');
  else {
    if (!sc.canBlockReload) v.push('CAN-BLOCK-RELOAD=YES missing');
    if (!(sc.partHoldBack >= 3 * pt - EPS)) v.push(`PART-HOLD-BACK ${sc.partHoldBack} < 3 × PART-TARGET ${pt}`);
    if (!(sc.holdBack >= 3 * td - EPS)) v.push(`HOLD-BACK ${sc.holdBack} < 3 × TARGETDURATION ${td}`);
    if (!(sc.canSkipUntil >= 6 * td - EPS)) v.push(`CAN-SKIP-UNTIL ${sc.canSkipUntil} < 6 × TARGETDURATION ${td}`);
  }
  if (!(m.version >= 9)) v.push(`EXT-X-VERSION ${m.version} < 9`);

  const segments: Array<Record<string, any>> = m.segments ?? [];
  // The last part of a segment may be short (segment-final); so may the last listed part of the open
  // segment, which may turn out to be its final one.
  const checkParts = (parts: Part[], where: string): void => {
    parts.forEach((p, i) => {
      if (p.duration > pt + EPS) v.push(`${where} part ${i} (${p.uri}) lasts ${p.duration} > PART-TARGET ${pt}`);
      const last = i === parts.length - 1;
      if (!p.independent && !p.gap && !last && p.duration < 0.85 * pt - EPS) {
        v.push(`${where} part ${i} (${p.uri}) lasts ${p.duration} < 85% of PART-TARGET ${pt}`);
      }
    });
  };
  let sawDate = false;
  segments.forEach((s, i) => {
    const where = `segment ${m.mediaSequence + i}`;
    // §4.4.3.1: the EXTINF duration, rounded to the nearest integer, MUST be ≤ the target duration.
    if (Math.round(s.duration) > td) v.push(`${where} lasts ${s.duration}, which rounds above TARGETDURATION ${td}`);
    if (!s.map?.uri) v.push(`${where} has no EXT-X-MAP`);
    if (s.dateTimeString) sawDate = true;
    if ((i === 0 || s.discontinuity) && !s.dateTimeString) v.push(`${where} lacks EXT-X-PROGRAM-DATE-TIME`);
    const parts: Part[] = s.parts ?? [];
    checkParts(parts, where);
    if (parts.length > 0) {
      const sum = parts.reduce((n, p) => n + p.duration, 0);
      if (Math.abs(sum - s.duration) > 0.002) v.push(`${where}: parts sum to ${sum}, EXTINF says ${s.duration}`);
      if (!parts[0]!.independent && !s.gaps && !context.allowNonIndependentSegments) {
        v.push(`${where} does not start with an INDEPENDENT part`);
      }
    }
  });
  const preload = m.preloadSegment as { parts?: Part[]; preloadHints?: Array<{ type: string; uri: string }> } | undefined;
  if (preload?.parts) checkParts(preload.parts, 'open segment');
  if (!sawDate && segments.length > 0) v.push('no EXT-X-PROGRAM-DATE-TIME');
  if (segments.length > 0 && !segments.some((s) => (s.parts ?? []).length > 0) && live) {
    v.push('a live playlist lists no parts on any segment');
  }
  if (live) {
    const hints = preload?.preloadHints ?? [];
    if (!hints.some((h) => h.type === 'PART' && h.uri)) v.push('live playlist has no EXT-X-PRELOAD-HINT:TYPE=PART');
    const reports: Array<{ uri: string; lastMsn?: number; lastPart?: number }> = m.renditionReports ?? [];
    for (const other of context.otherRenditions ?? []) {
      const uri = `../${other}/playlist.m3u8`;
      const report = reports.find((r) => r.uri === uri);
      if (!report) v.push(`no EXT-X-RENDITION-REPORT for ${uri}`);
      else if (typeof report.lastMsn !== 'number') v.push(`rendition report ${uri} lacks LAST-MSN`);
    }
  }
  return v;
}

/** Follows successive playlists of one rendition: what must never change or go backwards between reloads. */
export class PlaylistHistoryChecker {
  private previous: Record<string, any> | undefined;
  /** msn → [discontinuity, duration, uri] of every segment seen. */
  private readonly seen = new Map<number, { discontinuity: boolean; duration: number; uri: string }>();

  check(text: string): string[] {
    const { manifest: m } = parseWithM3u8Parser(text);
    const v: string[] = [];
    const p = this.previous;
    if (p) {
      if (m.mediaSequence < p.mediaSequence) v.push(`media sequence went backwards: ${p.mediaSequence} → ${m.mediaSequence}`);
      if (m.targetDuration !== p.targetDuration) v.push(`TARGETDURATION changed ${p.targetDuration} → ${m.targetDuration}`);
      if (m.partTargetDuration !== p.partTargetDuration) v.push(`PART-TARGET changed ${p.partTargetDuration} → ${m.partTargetDuration}`);
      if (JSON.stringify(m.serverControl) !== JSON.stringify(p.serverControl)) v.push('EXT-X-SERVER-CONTROL changed');
      let expected = p.discontinuitySequence ?? 0;
      let known = true;
      for (let msn = p.mediaSequence; msn < m.mediaSequence; msn++) {
        const s = this.seen.get(msn);
        if (!s) known = false;
        else if (s.discontinuity) expected++;
      }
      if (known && (m.discontinuitySequence ?? 0) !== expected) {
        v.push(`EXT-X-DISCONTINUITY-SEQUENCE is ${m.discontinuitySequence}, expected ${expected}`);
      }
    }
    (m.segments as Array<Record<string, any>>).forEach((s, i) => {
      const msn = m.mediaSequence + i;
      const before = this.seen.get(msn);
      const now = { discontinuity: Boolean(s.discontinuity), duration: s.duration, uri: s.uri };
      if (before && (before.uri !== now.uri || Math.abs(before.duration - now.duration) > EPS || before.discontinuity !== now.discontinuity)) {
        v.push(`segment ${msn} changed between reloads`);
      }
      this.seen.set(msn, now);
    });
    this.previous = m;
    return v;
  }
}

/** Renditions of one channel: identical server control and targets (§6.2.4). */
export function checkRenditionSet(texts: string[]): string[] {
  const parsed = texts.map((t) => parseWithM3u8Parser(t).manifest);
  const v: string[] = [];
  const first = parsed[0];
  for (const m of parsed.slice(1)) {
    if (JSON.stringify(m.serverControl) !== JSON.stringify(first?.serverControl)) v.push('EXT-X-SERVER-CONTROL differs between renditions');
    if (m.targetDuration !== first?.targetDuration) v.push('TARGETDURATION differs between renditions');
    if (m.partTargetDuration !== first?.partTargetDuration) v.push('PART-TARGET differs between renditions');
  }
  return v;
}
