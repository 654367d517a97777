import { Parser } from 'm3u8-parser';

/**
 * An independent check of livepipe's playlists against /work/shared/LLHLS.md: every playlist is parsed
 * by the `m3u8-parser` package (video.js), not by our own parser, and the rules are checked on that
 * result. Each function returns the list of violations (empty = compliant) so tests can show them all.
 */

const EPS = 1e-6;

/**
 * Shortest segment allowed, seconds. A sliver of a segment is what a rendition that ran on past a
 * boundary at the end of an encoder run listed (issue 15: a 0.021 s audio segment that numbered
 * audio one above video from then on). No documented exception: the packager drops such slivers.
 */
export const MIN_SEGMENT_SECONDS = 0.1;

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
    if (s.duration < MIN_SEGMENT_SECONDS - EPS) v.push(`${where} lasts ${s.duration} s, under ${MIN_SEGMENT_SECONDS * 1000} ms`);
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
  // The open segment's parts count: after a gap (a takeover's or an encoder restart's bridge, whose
  // segments list no parts) the only parts left within three target durations of the end may be the
  // ones of the segment being written.
  if (segments.length > 0 && !segments.some((s) => (s.parts ?? []).length > 0) && (preload?.parts ?? []).length === 0 && live) {
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
      // §4.4.5.4: LAST-PART "is REQUIRED if the Rendition contains Partial Segments" (every rendition here has PART-INF).
      else if (typeof report.lastPart !== 'number') v.push(`rendition report ${uri} lacks LAST-PART`);
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

/**
 * Renditions of one channel (§6.2.4): identical server control and targets, and the same segments —
 * a media sequence number stands for the same media in every rendition, audio included: the same
 * start (EXT-X-PROGRAM-DATE-TIME, within `toleranceSeconds`), the same discontinuity sequence number
 * and EXT-X-DISCONTINUITY. Only msns listed by both playlists are compared (renditions are written
 * at slightly different moments). `names` label the texts in messages (default: their index).
 */
export function checkRenditionSet(texts: string[], options: { names?: string[]; toleranceSeconds?: number } = {}): string[] {
  const parsed = texts.map((t) => parseWithM3u8Parser(t).manifest);
  const v: string[] = [];
  const first = parsed[0];
  for (const m of parsed.slice(1)) {
    if (JSON.stringify(m.serverControl) !== JSON.stringify(first?.serverControl)) v.push('EXT-X-SERVER-CONTROL differs between renditions');
    if (m.targetDuration !== first?.targetDuration) v.push('TARGETDURATION differs between renditions');
    if (m.partTargetDuration !== first?.partTargetDuration) v.push('PART-TARGET differs between renditions');
  }
  const set = new RenditionSetChecker(options.toleranceSeconds);
  parsed.forEach((m, i) => set.addManifest(options.names?.[i] ?? String(i), m));
  v.push(...set.violations());
  return v;
}

interface SetSegment {
  /** Epoch ms (m3u8-parser carries the date forward from the last EXT-X-PROGRAM-DATE-TIME). */
  programDateTime: number | undefined;
  /** The segment's discontinuity sequence number. */
  timeline: number;
  discontinuity: boolean;
}

/**
 * The cross-rendition half of §6.2.4 over a whole run: every playlist version of every rendition is
 * added, and each msn ever listed is compared between renditions (see `checkRenditionSet`). The
 * default tolerance on dates is 0.2 × PART-TARGET, at least 0.1 s: audio cuts on the first fragment
 * edge at or after video's boundary (a fragment is ≤ 15 % of PART-TARGET), while one segment of
 * misnumbering moves a date by a whole segment duration.
 */
export class RenditionSetChecker {
  /** rendition → msn → what was last listed for it. */
  private readonly renditions = new Map<string, Map<number, SetSegment>>();
  private partTarget = 0;

  constructor(private readonly toleranceSeconds?: number) {}

  add(rendition: string, text: string): void {
    this.addManifest(rendition, parseWithM3u8Parser(text).manifest);
  }

  addManifest(rendition: string, m: Record<string, any>): void {
    let segments = this.renditions.get(rendition);
    if (segments === undefined) this.renditions.set(rendition, (segments = new Map()));
    this.partTarget = Math.max(this.partTarget, m.partTargetDuration ?? 0);
    (m.segments as Array<Record<string, any>>).forEach((s, i) => {
      segments.set(m.mediaSequence + i, {
        programDateTime: typeof s.programDateTime === 'number' ? s.programDateTime : undefined,
        timeline: s.timeline ?? m.discontinuitySequence ?? 0,
        discontinuity: Boolean(s.discontinuity),
      });
    });
  }

  violations(): string[] {
    const v: string[] = [];
    const tolerance = this.toleranceSeconds ?? Math.max(0.1, 0.2 * this.partTarget);
    const all = [...this.renditions];
    all.forEach(([refName, refSegments], i) => {
      for (const [name, segments] of all.slice(i + 1)) {
        for (const [msn, s] of segments) {
          const r = refSegments.get(msn);
          if (r === undefined) continue;
          const where = `msn ${msn}: ${name}`;
          if (r.programDateTime !== undefined && s.programDateTime !== undefined && Math.abs(r.programDateTime - s.programDateTime) > tolerance * 1000 + 1) {
            const at = new Date(s.programDateTime).toISOString();
            const refAt = new Date(r.programDateTime).toISOString();
            v.push(`${where} starts at ${at}, ${refName} at ${refAt} (renditions must share segment boundaries, §6.2.4)`);
          }
          if (r.timeline !== s.timeline) v.push(`${where} has discontinuity sequence ${s.timeline}, ${refName} ${r.timeline}`);
          if (r.discontinuity !== s.discontinuity) {
            v.push(`${where} ${s.discontinuity ? 'follows' : 'lacks'} EXT-X-DISCONTINUITY, ${refName} ${r.discontinuity ? 'has it' : 'does not'}`);
          }
        }
      }
    });
    return v;
  }
}

/**
 * The multivariant playlist (LLHLS.md "Multivariant playlist", §4.4.6): EXT-X-INDEPENDENT-SEGMENTS;
 * CODECS, RESOLUTION, BANDWIDTH, AVERAGE-BANDWIDTH and FRAME-RATE on every variant; each variant's
 * AUDIO names a group that exists, and every video variant references the same group; in each audio
 * group exactly one DEFAULT=YES, AUTOSELECT=YES on each, different NAMEs and URIs, and a LANGUAGE
 * (when present) that is a language tag. Names are counted in the text, since m3u8-parser keys
 * renditions by NAME (a duplicate would silently replace the first).
 */
export function checkMultivariantPlaylist(text: string): string[] {
  const { manifest: m, warnings } = parseWithM3u8Parser(text);
  const v: string[] = warnings.map((w) => `m3u8-parser warning: ${w}`);
  if (!text.split('\n').includes('#EXT-X-INDEPENDENT-SEGMENTS')) v.push('EXT-X-INDEPENDENT-SEGMENTS missing');
  const groups: Record<string, Record<string, Record<string, any>>> = m.mediaGroups?.AUDIO ?? {};
  const variants = (m.playlists ?? []) as Array<{ uri: string; attributes: Record<string, any> }>;
  if (variants.length === 0) v.push('no EXT-X-STREAM-INF variant');
  for (const p of variants) {
    for (const attr of ['CODECS', 'RESOLUTION', 'BANDWIDTH', 'AVERAGE-BANDWIDTH', 'FRAME-RATE']) {
      if (p.attributes[attr] === undefined) v.push(`${p.uri}: ${attr} missing`);
    }
    const group = p.attributes.AUDIO as string | undefined;
    if (group !== undefined && groups[group] === undefined) v.push(`${p.uri}: AUDIO="${group}" names no EXT-X-MEDIA group`);
  }
  const referenced = new Set(variants.map((p) => p.attributes.AUDIO as string | undefined));
  if (Object.keys(groups).length > 0 && (referenced.size !== 1 || referenced.has(undefined))) {
    v.push(`variants do not all reference one audio group (${[...referenced].map(String).join(', ')})`);
  }
  const mediaLines = text.split('\n').filter((l) => l.startsWith('#EXT-X-MEDIA:') && l.includes('TYPE=AUDIO'));
  for (const [groupId, renditions] of Object.entries(groups)) {
    const lines = mediaLines.filter((l) => l.includes(`GROUP-ID="${groupId}"`));
    const entries = Object.entries(renditions);
    if (entries.length !== lines.length) v.push(`audio group "${groupId}": ${lines.length} EXT-X-MEDIA, ${entries.length} different NAMEs`);
    const defaults = entries.filter(([, r]) => r.default === true).length;
    if (defaults !== 1) v.push(`audio group "${groupId}": ${defaults} renditions with DEFAULT=YES (exactly one expected)`);
    const uris = entries.map(([, r]) => r.uri as string);
    if (new Set(uris).size !== uris.length) v.push(`audio group "${groupId}": two renditions share a URI`);
    for (const [name, r] of entries) {
      if (r.autoselect !== true) v.push(`audio "${name}": AUTOSELECT=YES missing`);
      if (!r.uri) v.push(`audio "${name}": URI missing`);
      if (r.language !== undefined && !/^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/.test(r.language)) v.push(`audio "${name}": LANGUAGE "${r.language}" is not a language tag`);
    }
  }
  return v;
}

/** Segment facts of one media playlist text (m3u8-parser, not livepipe's own parser). */
export interface SegmentFact {
  msn: number;
  duration: number;
  gap: boolean;
  /** Program date-time, ms (carried forward from the last EXT-X-PROGRAM-DATE-TIME). */
  pdt: number;
}

export function segmentFacts(text: string): { facts: SegmentFact[]; mediaSequence: number; lastMsn: number; partUris: string[]; endList: boolean } {
  const m = parseWithM3u8Parser(text).manifest;
  const facts: SegmentFact[] = [];
  let pdt = NaN;
  const partUris: string[] = [];
  (m.segments as Array<Record<string, any>>).forEach((s, i) => {
    if (s.dateTimeString) pdt = Date.parse(s.dateTimeString);
    facts.push({ msn: m.mediaSequence + i, duration: s.duration, gap: Boolean(s.gap), pdt });
    pdt += s.duration * 1000;
    for (const p of (s.parts ?? []) as Array<{ uri: string }>) partUris.push(p.uri);
  });
  const openParts = ((m.preloadSegment?.parts ?? []) as Array<{ uri: string }>).map((p) => p.uri);
  partUris.push(...openParts);
  const lastMsn = (m.mediaSequence ?? 0) + facts.length - (openParts.length > 0 ? 0 : 1);
  return { facts, mediaSequence: m.mediaSequence ?? 0, lastMsn, partUris, endList: Boolean(m.endList) };
}

/**
 * No segment shorter than 100 ms (issue 15, point 3; the chaos suite checks it on every playlist).
 */
export function checkNoTinySegments(text: string): string[] {
  return segmentFacts(text)
    .facts.filter((s) => !s.gap && s.duration < 0.1)
    .map((s) => `segment ${s.msn} lasts ${s.duration} s (< 100 ms)`);
}

/**
 * Renditions in step (issue 15, point 3; HLS authoring rules, §6.2.4): corresponding segments have
 * the same media sequence number in every rendition, audio included — every msn that two renditions
 * both list starts at the same program date-time (within `RenditionSetChecker`'s tolerance), with
 * the same discontinuity sequence. `texts` maps rendition → playlist text, fetched together.
 *
 * Compared by msn, not by matching dates: renditions are written and fetched at slightly different
 * moments, so one may list a segment the other does not list yet, and segments may be as short as
 * 100 ms (the last sliver of a run stopped just after a boundary). Pairing each segment with the
 * other rendition's segment nearest in date (within 250 ms, as this check did before) then paired
 * audio's newest segment 17 with 360p's 16 — a 0.2 s segment starting 0.2 s earlier — while 360p's
 * 17 was still open: a valid edge reported as "audio segment 17 is 360p segment 16" (the API-restarts
 * chaos case, issue 15). A real offset is still caught: the two renditions list msns in common, and
 * those start a segment apart.
 */
export function checkRenditionsInStep(texts: Record<string, string>): string[] {
  const set = new RenditionSetChecker();
  for (const [name, text] of Object.entries(texts)) set.add(name, text);
  return set.violations();
}
