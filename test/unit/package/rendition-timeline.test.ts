import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../src/core/errors.js';
import { lastPosition } from '../../../src/hls/playlist-model.js';
import { parseMediaPlaylist } from '../../../src/hls/playlist-parser.js';
import { serializeMediaPlaylist } from '../../../src/hls/playlist-serializer.js';
import { holeSegments, RenditionTimeline, renditionReportsFor, runIdOf } from '../../../src/package/rendition-timeline.js';
import { checkMediaPlaylist, checkRenditionSet, PlaylistHistoryChecker } from '../../helpers/hls/llhls-rules.js';

const ANCHOR = Date.UTC(2026, 10, 28, 12, 0, 0);

/**
 * Drives a timeline like the channel does: `segments` × 2 s segments of four 0.5 s parts from stream
 * time `start`, `now` following media time; every playlist is checked against the LL-HLS rules.
 */
class Driver {
  readonly history = new PlaylistHistoryChecker();
  readonly violations: string[] = [];
  now = ANCHOR;
  time = 0;

  constructor(readonly timeline: RenditionTimeline) {}

  startRun(runId: number, timeOrigin = this.time): void {
    this.timeline.startRun({ runId, wallclockAnchor: this.now, timeOrigin }, this.now);
    this.check();
  }

  segment(options: { gapPart?: number; gapSegment?: boolean; parts?: number } = {}): void {
    const parts = options.parts ?? 4;
    for (let i = 0; i < parts; i++) {
      this.timeline.addPart({ startTime: this.time, duration: 0.5, independent: i === 0, gap: options.gapPart === i }, this.now);
      this.time += 0.5;
      this.now += 500;
      this.check();
    }
    this.timeline.endSegment({ duration: parts * 0.5, gap: options.gapSegment ?? false }, this.now);
    this.check();
  }

  text(): string {
    return serializeMediaPlaylist(this.timeline.playlist);
  }

  check(): void {
    const text = this.text();
    this.violations.push(...checkMediaPlaylist(text), ...this.history.check(text));
  }
}

const timeline = (options: Partial<ConstructorParameters<typeof RenditionTimeline>[0]> = {}): RenditionTimeline =>
  new RenditionTimeline({ targetDuration: 2, partTarget: 0.5, dvrWindow: 12, ...options });

describe('RenditionTimeline', () => {
  it('builds a live playlist: parts, segments, preload hint, program date time, server control', () => {
    const d = new Driver(timeline());
    d.startRun(1);
    expect(d.timeline.playlist.preloadHint).toEqual({ uri: 'part-0-0.m4s' });
    d.segment();
    d.timeline.addPart({ startTime: 2, duration: 0.5, independent: true }, d.now);
    const p = d.timeline.playlist;
    expect(p.segments).toHaveLength(1);
    expect(p.segments[0]).toMatchObject({ msn: 0, uri: 'seg-0.m4s', duration: 2, discontinuity: false, mapUri: 'init-1.mp4', programDateTime: ANCHOR });
    expect(p.segments[0]!.parts.map((x) => x.uri)).toEqual(['part-0-0.m4s', 'part-0-1.m4s', 'part-0-2.m4s', 'part-0-3.m4s']);
    expect(p.pending).toMatchObject({ msn: 1, programDateTime: ANCHOR + 2000 });
    expect(p.preloadHint).toEqual({ uri: 'part-1-1.m4s' });
    expect(lastPosition(p)).toEqual({ msn: 1, part: 0 });
    expect(p.serverControl).toEqual({ canBlockReload: true, partHoldBack: 1.5, holdBack: 6, canSkipUntil: 12 });
    expect(d.violations).toEqual([]);
  });

  it('slides the DVR window, ages parts out after 3 target durations and schedules deletions', () => {
    const d = new Driver(timeline());
    d.startRun(1);
    for (let i = 0; i < 10; i++) d.segment();
    const p = d.timeline.playlist;
    // 12 s window of 2 s segments: msn 4..9.
    expect(p.segments.map((s) => s.msn)).toEqual([4, 5, 6, 7, 8, 9]);
    expect(p.mediaSequence).toBe(4);
    // Parts are listed only on segments starting within 3 × TD = 6 s of the end.
    expect(p.segments.map((s) => s.parts.length)).toEqual([0, 0, 0, 4, 4, 4]);
    const names = d.timeline.scheduledDeletions.map((x) => x.name);
    expect(names).toContain('part-0-0.m4s');
    expect(names).toContain('seg-3.m4s');
    expect(names).not.toContain('seg-4.m4s');
    expect(names).not.toContain('init-1.mp4');
    // A part unlisted at time T is deleted at T + 3 × TD; a segment after its duration + the playlist's.
    const part = d.timeline.scheduledDeletions.find((x) => x.name === 'part-6-0.m4s')!;
    // Segment 6 (12-14 s) left the last 3 × TD when segment 9's first part was added, at now = 18 s.
    expect(part.at).toBe(ANCHOR + 18_000 + 6_000);
    const seg = d.timeline.scheduledDeletions.find((x) => x.name === 'seg-3.m4s')!;
    expect(seg.at).toBe(ANCHOR + 20_000 + (2 + 12) * 1000);
    const due = d.timeline.takeDueDeletions(ANCHOR + 21_000);
    expect(due.length).toBeGreaterThan(0);
    expect(due.every((n) => !d.timeline.scheduledDeletions.some((x) => x.name === n))).toBe(true);
    expect(d.timeline.takeDueDeletions(ANCHOR + 21_000)).toEqual([]);
    expect(d.violations).toEqual([]);
  });

  it('marks a new run with a discontinuity and a new map, and keeps the discontinuity sequence right', () => {
    const d = new Driver(timeline());
    d.startRun(1);
    d.segment();
    d.segment();
    d.now += 3000; // the transcoder restarts: a pause, then timestamps start over
    d.time = 0;
    d.startRun(2, 0);
    d.segment();
    const p = d.timeline.playlist;
    expect(p.segments[2]).toMatchObject({ msn: 2, discontinuity: true, mapUri: 'init-2.mp4', programDateTime: ANCHOR + 7000 });
    const text = d.text();
    expect(text).toContain('#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="init-2.mp4"\n#EXT-X-PROGRAM-DATE-TIME:2026-11-28T12:00:07.000Z');
    for (let i = 0; i < 6; i++) d.segment();
    // Segment 2 (the discontinuity) slid out: the sequence counts it, and run 1's init is unused.
    expect(p.mediaSequence).toBe(3);
    expect(p.discontinuitySequence).toBe(1);
    expect(d.timeline.scheduledDeletions.map((x) => x.name)).toContain('init-1.mp4');
    expect(d.text()).toContain('#EXT-X-DISCONTINUITY-SEQUENCE:1\n#EXT-X-MAP:URI="init-2.mp4"');
    expect(d.violations).toEqual([]);
  });

  it('keeps moving while the encoder is down: gap parts, a gap segment, then the next run after a discontinuity', () => {
    const d = new Driver(timeline());
    d.startRun(1);
    d.segment();
    d.segment();
    // The encoder died after segment 1: six gap parts of 0.5 s (a 2 s gap segment and two more).
    for (let i = 1; i <= 6; i++) {
      d.timeline.addGapPart(0.5, { startsBridge: i === 1, endsSegment: i % 4 === 0 }, d.now);
      d.now += 500;
      expect(d.timeline.playlist.preloadHint, 'the hint moves on with the gap parts').toEqual({ uri: d.timeline.nextPart().name });
      d.check();
    }
    const p = d.timeline.playlist;
    expect(p.segments[2]).toMatchObject({ msn: 2, gap: true, discontinuity: false, duration: 2, programDateTime: ANCHOR + 4000, mapUri: 'init-1.mp4' });
    expect(p.segments[2]!.parts.every((x) => x.gap === true && x.independent)).toBe(true);
    expect(p.pending).toMatchObject({ msn: 3, programDateTime: ANCHOR + 6000 });
    expect(p.pending!.parts.map((x) => x.uri)).toEqual(['part-3-0.m4s', 'part-3-1.m4s']);
    expect(d.text()).toContain('#EXT-X-PART:DURATION=0.500,URI="part-3-1.m4s",INDEPENDENT=YES,GAP=YES');
    // The next run closes the bridge's open segment as a gap; its media follows a discontinuity.
    d.time = 0;
    d.startRun(2, 0);
    d.segment();
    expect(p.segments[3]).toMatchObject({ msn: 3, gap: true, duration: 1 });
    expect(p.segments[4]).toMatchObject({ msn: 4, discontinuity: true, mapUri: 'init-2.mp4' });
    // Gap parts name no object: none is scheduled for deletion.
    expect(d.timeline.scheduledDeletions.filter((x) => /^part-[23]-/.test(x.name))).toEqual([]);
    expect(d.violations).toEqual([]);
  });

  it('starts every gap bridge on a fresh segment, also after a run that died before any media', () => {
    const d = new Driver(timeline());
    d.startRun(1);
    d.segment();
    d.timeline.addGapPart(0.5, { startsBridge: true, endsSegment: false }, d.now);
    d.timeline.addGapPart(0.5, { startsBridge: false, endsSegment: false }, d.now);
    // A new run was attached but killed before its init reached this rendition: no startRun here.
    // The next bridge closes the open bridge segment first, as the renditions that did start it.
    d.timeline.addGapPart(0.5, { startsBridge: true, endsSegment: false }, d.now);
    d.check();
    const p = d.timeline.playlist;
    expect(p.segments[1]).toMatchObject({ msn: 1, gap: true, duration: 1 });
    expect(p.pending).toMatchObject({ msn: 2 });
    expect(p.pending!.parts.map((x) => x.uri)).toEqual(['part-2-0.m4s']);
    expect(d.violations).toEqual([]);
  });

  it('opens a bridge segment at the date the channel gives (one date in every rendition)', () => {
    const d = new Driver(timeline());
    d.startRun(1);
    d.segment({ parts: 3 });
    // Audio of the same run ran 0.25 s further: the channel bridges every rendition from there.
    d.timeline.addGapPart(0.5, { startsBridge: true, endsSegment: false, programDateTime: ANCHOR + 1750 }, d.now);
    expect(d.timeline.playlist.pending).toMatchObject({ msn: 1, programDateTime: ANCHOR + 1750 });
    d.check();
    expect(d.violations).toEqual([]);
  });

  it('marks the next run a discontinuity after gap segments only, as in the renditions that had media', () => {
    // A rendition whose run never listed media (its output ended first) is brought in step with gaps,
    // then bridged: its next run's first segment follows a discontinuity like the others'.
    const ref = new Driver(timeline());
    ref.startRun(1);
    ref.segment();
    const gapsOnly = new Driver(timeline());
    gapsOnly.startRun(1);
    gapsOnly.timeline.alignTo(1, ref.timeline.playlist, gapsOnly.now);
    const restartAt = ref.now + 2000;
    for (const d of [ref, gapsOnly]) {
      for (let i = 1; i <= 4; i++) d.timeline.addGapPart(0.5, { startsBridge: i === 1, endsSegment: i === 4, programDateTime: ANCHOR + 2000 }, d.now);
      d.now = restartAt;
      d.time = 0;
      d.startRun(2, 0);
      d.segment();
    }
    expect(gapsOnly.timeline.playlist.segments.map((s) => [s.msn, s.discontinuity, s.gap === true])).toEqual([
      [1, false, true],
      [2, true, false],
    ]);
    expect(checkRenditionSet([ref.text(), gapsOnly.text()])).toEqual([]);
  });

  it('lists parts and segments that could not be stored as gaps', () => {
    const d = new Driver(timeline());
    d.startRun(1);
    d.segment({ gapPart: 2 });
    d.segment({ gapSegment: true });
    const text = d.text();
    expect(text).toContain('#EXT-X-PART:DURATION=0.500,URI="part-0-2.m4s",GAP=YES');
    expect(text).toMatch(/#EXT-X-GAP\n#EXT-X-PART:DURATION=0.500,URI="part-1-0.m4s"/);
    expect(d.violations).toEqual([]);
  });

  it('resumes from a stored playlist without the media sequence going backwards', () => {
    const d = new Driver(timeline());
    d.startRun(1);
    for (let i = 0; i < 8; i++) d.segment();
    d.timeline.addPart({ startTime: d.time, duration: 0.5, independent: true }, d.now); // open segment 8
    const stored = parseMediaPlaylist(d.text());

    const resumed = new Driver(timeline({ resumeFrom: stored }));
    resumed.now = d.now + 10_000;
    // Successive playlists across the restart must still satisfy the history rules.
    resumed.history.check(d.text());
    resumed.startRun(7, 0);
    const p = resumed.timeline.playlist;
    // The open segment of the dead process became a gap (its parts existed; its segment never did).
    const orphan = p.segments.find((s) => s.msn === 8)!;
    expect(orphan).toMatchObject({ gap: true, parts: [], duration: 0.5 });
    resumed.segment();
    expect(p.segments.at(-1)).toMatchObject({ msn: 9, discontinuity: true, mapUri: 'init-7.mp4' });
    expect(p.mediaSequence).toBeGreaterThanOrEqual(stored.mediaSequence);
    expect(resumed.timeline.scheduledDeletions.map((x) => x.name)).toContain('part-8-0.m4s');
    expect(resumed.violations).toEqual([]);
  });

  // A takeover: the dead writer's lease took 5.6 s to expire, the new writer's media starts then. The
  // hole is listed as EXT-X-GAP segments (Shaka's live edge runs on the wall clock and lays segments end
  // to end: an unlisted hole left its segment index empty after a cluster takeover).
  it('lists the hole between the listed media and a resumed run as EXT-X-GAP segments', () => {
    const d = new Driver(timeline());
    d.startRun(1);
    for (let i = 0; i < 4; i++) d.segment();
    d.timeline.addPart({ startTime: d.time, duration: 0.5, independent: true }, d.now); // open segment 4
    d.timeline.addPart({ startTime: d.time + 0.5, duration: 0.5, independent: false }, d.now + 500);
    const stored = parseMediaPlaylist(d.text());
    const listedEnd = d.now + 1000;

    const resumed = new Driver(timeline({ resumeFrom: stored }));
    resumed.history.check(d.text());
    resumed.now = listedEnd + 5600;
    const hole = resumed.timeline.holeBefore({ wallclockAnchor: resumed.now, listedMediaEnd: listedEnd });
    resumed.timeline.startRun({ runId: 2, wallclockAnchor: resumed.now, timeOrigin: 0, hole }, resumed.now);
    resumed.check();
    resumed.segment();
    const segments = resumed.timeline.playlist.segments.filter((s) => s.msn >= 3);
    expect(segments.map((s) => [s.msn, s.duration, s.gap === true, s.discontinuity])).toEqual([
      [3, 2, false, false],
      [4, 1, true, false], // the dead writer's open segment
      [5, 1.866, true, false],
      [6, 1.866, true, false],
      [7, 1.866, true, false],
      [8, 2, false, true], // the new run's first segment
    ]);
    // Back to back on the wall clock from where the listed media ended; the run starts ≤ 1 ms per gap after.
    const ends = segments.slice(1, 5).map((s) => Math.round(s.programDateTime + 1000 * s.duration));
    expect(segments.slice(2, 5).map((s) => s.programDateTime)).toEqual(ends.slice(0, 3));
    expect(segments[5]!.programDateTime).toBe(resumed.now - 2000);
    expect(segments[5]!.programDateTime - ends[3]!).toBe(2);
    expect(resumed.violations).toEqual([]);
  });

  it('lists no hole after EXT-X-ENDLIST: the stream had ended, nothing was missing', () => {
    const d = new Driver(timeline());
    d.startRun(1);
    d.segment();
    d.timeline.endList(d.now);
    expect(d.timeline.holeBefore({ wallclockAnchor: d.now + 30_000, listedMediaEnd: d.now })).toEqual([]);
    d.timeline.playlist.endList = false;
    expect(d.timeline.holeBefore({ wallclockAnchor: d.now + 30_000, listedMediaEnd: d.now })).toHaveLength(6); // the last 12 s (DVR window) of 30
  });

  it('holeSegments: none under a part, equal pieces of at most TARGETDURATION, only the last DVR window of a long hole', () => {
    const timing = { targetDuration: 2, partTarget: 0.5, maxSeconds: 12 };
    expect(holeSegments(1000, 1400, timing)).toEqual([]);
    expect(holeSegments(1000, 1500, timing)).toEqual([{ programDateTime: 1000, duration: 0.5 }]);
    expect(holeSegments(0, 4000, timing)).toEqual([
      { programDateTime: 0, duration: 2 },
      { programDateTime: 2000, duration: 2 },
    ]);
    expect(holeSegments(0, 4100, timing)).toEqual([0, 1366, 2732].map((programDateTime) => ({ programDateTime, duration: 1.366 })));
    const long = holeSegments(0, 600_000, timing);
    expect(long).toHaveLength(6);
    expect(long[0]!.programDateTime).toBe(588_000);
    expect(holeSegments(5000, 4000, timing)).toEqual([]);
  });

  it('refuses to resume a live playlist with different targets, but continues an ended one', () => {
    const d = new Driver(timeline());
    d.startRun(1);
    d.segment();
    const stored = parseMediaPlaylist(d.text());
    expect(() => timeline({ resumeFrom: stored, targetDuration: 4, dvrWindow: 24 })).toThrow(
      expect.objectContaining({ code: ErrorCode.ConfigInvalid }),
    );
    d.timeline.endList(d.now);
    const ended = parseMediaPlaylist(d.text());
    const fresh = timeline({ resumeFrom: ended, targetDuration: 4, dvrWindow: 24, partTarget: 1 });
    fresh.startRun({ runId: 2, wallclockAnchor: d.now }, d.now);
    fresh.addPart({ startTime: 0, duration: 1, independent: true }, d.now);
    expect(fresh.playlist.pending?.msn).toBe(1);
  });

  it('ends the list: no preload hint, ENDLIST; a later run continues the same media sequence', () => {
    const d = new Driver(timeline());
    d.startRun(1);
    d.segment();
    d.timeline.addPart({ startTime: d.time, duration: 0.5, independent: true }, d.now);
    d.timeline.endList(d.now);
    const text = d.text();
    expect(text).not.toContain('PRELOAD-HINT');
    expect(text.trimEnd().endsWith('#EXT-X-ENDLIST')).toBe(true);
    expect(d.timeline.playlist.segments.map((s) => s.duration)).toEqual([2, 0.5]);
    d.startRun(2, d.time);
    d.segment();
    expect(d.timeline.playlist.segments.at(-1)).toMatchObject({ msn: 2, discontinuity: true });
    expect(d.timeline.playlist.endList).toBe(false);
  });

  it('stays ended after a new run starts until that run\'s first part: no preload hint for a run that may never produce one', () => {
    const d = new Driver(timeline());
    d.startRun(1);
    d.segment();
    d.timeline.endList(d.now);
    d.startRun(2, d.time);
    expect(d.timeline.playlist.endList).toBe(true);
    const text = d.text();
    expect(text).not.toContain('PRELOAD-HINT');
    expect(text.trimEnd().endsWith('#EXT-X-ENDLIST')).toBe(true);
    // A run that dies there and the next one: still ended; the first part reopens the playlist.
    d.startRun(3, d.time);
    expect(d.timeline.playlist.endList).toBe(true);
    d.timeline.addPart({ startTime: d.time, duration: 0.5, independent: true }, d.now);
    expect(d.timeline.playlist.endList).toBe(false);
    expect(d.timeline.playlist.preloadHint).toBeDefined();
    expect(d.timeline.playlist.pending).toMatchObject({ msn: 1, discontinuity: true, mapUri: 'init-3.mp4' });
  });

  it('rejects misuse with coded errors', () => {
    const t = timeline();
    expect(() => t.addPart({ startTime: 0, duration: 0.5, independent: true }, ANCHOR)).toThrow(
      expect.objectContaining({ code: ErrorCode.Closed }),
    );
    t.startRun({ runId: 1, wallclockAnchor: ANCHOR }, ANCHOR);
    expect(() => t.endSegment({}, ANCHOR)).toThrow(expect.objectContaining({ code: ErrorCode.Conflict }));
    expect(() => timeline({ dvrWindow: 6 })).toThrow(expect.objectContaining({ code: ErrorCode.ConfigInvalid }));
    expect(() => timeline({ targetDuration: 1.5 })).toThrow(expect.objectContaining({ code: ErrorCode.ConfigInvalid }));
  });

  it('hints the next segment\'s first part after a part that ends at a boundary instant', () => {
    const t = timeline();
    t.startRun({ runId: 1, wallclockAnchor: ANCHOR }, ANCHOR);
    t.addPart({ startTime: 0, duration: 0.5, independent: true }, ANCHOR);
    expect(t.playlist.preloadHint).toEqual({ uri: 'part-0-1.m4s' });
    t.addPart({ startTime: 0.5, duration: 0.5, independent: false, endsAtBoundary: true }, ANCHOR);
    expect(t.playlist.preloadHint).toEqual({ uri: 'part-1-0.m4s' });
    // The keyframe did not come: the part produced next is still in segment 0, and is named so.
    expect(t.nextPart()).toEqual({ msn: 0, index: 2, name: 'part-0-2.m4s' });
  });

  it('derives rendition reports and run numbers', () => {
    const a = timeline();
    a.startRun({ runId: 3, wallclockAnchor: ANCHOR }, ANCHOR);
    a.addPart({ startTime: 0, duration: 0.5, independent: true }, ANCHOR);
    const idle = timeline();
    const all = new Map([
      ['720p', a.playlist],
      ['audio', idle.playlist],
      ['360p', a.playlist],
    ]);
    expect(renditionReportsFor('360p', all)).toEqual([{ uri: '../720p/playlist.m3u8', lastMsn: 0, lastPart: 0 }]);
    // A run died inside segment 1 (its parts unlisted when the next run closes it as a gap): the report
    // still names a last part — the one the segment's 1.2 s span ends in — so the next is (2, 0).
    a.addPart({ startTime: 0.5, duration: 0.5, independent: false }, ANCHOR);
    a.endSegment({}, ANCHOR);
    for (const t of [0, 0.5, 1]) a.addPart({ startTime: 1 + t, duration: t === 1 ? 0.2 : 0.5, independent: t === 0 }, ANCHOR);
    a.startRun({ runId: 4, wallclockAnchor: ANCHOR + 5000 }, ANCHOR + 5000);
    expect(a.playlist.segments.at(-1)).toMatchObject({ msn: 1, gap: true, parts: [] });
    expect(renditionReportsFor('audio', all)).toEqual([
      { uri: '../720p/playlist.m3u8', lastMsn: 1, lastPart: 2 },
      { uri: '../360p/playlist.m3u8', lastMsn: 1, lastPart: 2 },
    ]);
    expect([runIdOf('init-12.mp4'), runIdOf('seg-1.m4s')]).toEqual([12, undefined]);
  });

  describe('alignTo: a rendition behind the others before a run', () => {
    /** A reference rendition with two runs: msn 0–2, then a discontinuity at msn 3–4. */
    function reference(): Driver {
      const d = new Driver(timeline());
      d.startRun(1);
      for (let i = 0; i < 3; i++) d.segment();
      d.now += 1000;
      d.startRun(2, d.time);
      for (let i = 0; i < 2; i++) d.segment();
      return d;
    }

    it('a playlist without media (a rendition a ladder change added) starts at the others\' next msn and discontinuity sequence', () => {
      const ref = reference();
      const added = new Driver(timeline());
      added.timeline.alignTo(5, ref.timeline.playlist, added.now);
      // The next run: both open msn 5 after a discontinuity.
      ref.startRun(3);
      ref.segment();
      added.now = ref.now - 2000;
      added.time = ref.time - 2;
      added.startRun(3, added.time);
      added.segment();
      expect(added.timeline.playlist.segments.map((s) => [s.msn, s.discontinuity])).toEqual([[5, true]]);
      expect(checkRenditionSet([ref.text(), added.text()])).toEqual([]);
      expect(added.violations).toEqual([]);
    });

    it('a playlist with media lists the segments it lacks as gaps, with the reference\'s durations and dates', () => {
      const ref = reference();
      const behind = new Driver(timeline());
      behind.startRun(1);
      for (let i = 0; i < 3; i++) behind.segment();
      behind.timeline.alignTo(5, ref.timeline.playlist, behind.now);
      const p = behind.timeline.playlist;
      expect(p.segments.slice(3).map((s) => ({ msn: s.msn, gap: s.gap, discontinuity: s.discontinuity, duration: s.duration }))).toEqual([
        { msn: 3, gap: true, discontinuity: true, duration: 2 },
        { msn: 4, gap: true, discontinuity: false, duration: 2 },
      ]);
      expect(p.segments.slice(3).map((s) => s.programDateTime)).toEqual(ref.timeline.playlist.segments.slice(3).map((s) => s.programDateTime));
      expect(behind.timeline.nextPart().msn).toBe(5);
      expect(checkMediaPlaylist(behind.text())).toEqual([]);
      expect(checkRenditionSet([ref.text(), behind.text()])).toEqual([]);
    });

    it('a playlist without media counts the reference\'s open segment (its next run closes it) as listed', () => {
      const ref = reference();
      // The reference's run 3 died inside its first segment (msn 5, after a discontinuity): it stays
      // open until the next run closes it as a gap.
      ref.time = 0;
      ref.startRun(3, 0);
      ref.timeline.addPart({ startTime: 0, duration: 0.5, independent: true }, ref.now);
      const added = new Driver(timeline());
      added.timeline.alignTo(6, ref.timeline.playlist, added.now);
      ref.now += 1000;
      ref.time = 0;
      ref.startRun(4, 0);
      ref.segment();
      added.now = ref.now - 2000;
      added.time = ref.time - 2;
      added.startRun(3, added.time);
      added.segment();
      expect(added.timeline.playlist.segments.map((s) => [s.msn, s.discontinuity])).toEqual([[6, true]]);
      expect(checkRenditionSet([ref.text(), added.text()])).toEqual([]);
    });

    it('does nothing when not behind', () => {
      const ref = reference();
      const before = structuredClone(ref.timeline.playlist);
      ref.timeline.alignTo(5, before, ref.now);
      ref.timeline.alignTo(3, before, ref.now);
      expect(ref.timeline.playlist).toEqual(before);
    });
  });
});
