import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode, isLivepipeError } from '../../../src/core/errors.js';
import { SegmentCutter, type CutPart, type CutSegment, type CutterEvent, type CutterFrame } from '../../../src/package/segment-cutter.js';

interface StreamSpec {
  timescale: number;
  /** Frame duration, timescale units. */
  frame: number;
  count: number;
  /** Keyframe every `gop` frames (audio: 1). */
  gop: number;
  /** Index of the first keyframe (frames before it are not keyframes). */
  firstKey?: number;
  start?: number;
}

function makeFrames(spec: StreamSpec): CutterFrame[] {
  const firstKey = spec.firstKey ?? 0;
  return Array.from({ length: spec.count }, (_, i) => ({
    decodeTime: (spec.start ?? 0) + i * spec.frame,
    duration: spec.frame,
    independent: i >= firstKey && (i - firstKey) % spec.gop === 0,
    // Four bytes naming the frame, so concatenations can be checked.
    bytes: Uint8Array.from([i >> 24, (i >> 16) & 255, (i >> 8) & 255, i & 255]),
  }));
}

interface Run {
  /** Events with the index of the frame whose push returned them (count = flush). */
  events: Array<{ at: number; event: CutterEvent }>;
  parts: CutPart[];
  segments: CutSegment[];
}

function cut(cutter: SegmentCutter, frames: CutterFrame[]): Run {
  const events: Run['events'] = [];
  frames.forEach((f, i) => cutter.push(f).forEach((event) => events.push({ at: i, event })));
  cutter.flush().forEach((event) => events.push({ at: frames.length, event }));
  return {
    events,
    parts: events.flatMap(({ event }) => (event.type === 'part' ? [event.part] : [])),
    segments: events.flatMap(({ event }) => (event.type === 'segment' ? [event.segment] : [])),
  };
}

const concat = (arrays: Uint8Array[]): number[] => arrays.flatMap((a) => Array.from(a));

describe('SegmentCutter, video', () => {
  // 30 fps at timescale 15360 (ffmpeg's default for 30 fps), GOP 1 s, 2 s segments, 0.5 s parts.
  const video = (): SegmentCutter => new SegmentCutter({ kind: 'video', timescale: 15360, partTarget: 0.5, segmentDuration: 2 });

  it('cuts 2 s segments of four 0.5 s parts at keyframes', () => {
    const frames = makeFrames({ timescale: 15360, frame: 512, count: 180, gop: 30 });
    const run = cut(video(), frames);
    expect(run.segments.map((s) => s.duration)).toEqual([2, 2, 2]);
    expect(run.segments.map((s) => s.startTime)).toEqual([0, 2, 4]);
    expect(run.segments.every((s) => s.independent && s.partCount === 4)).toBe(true);
    expect(run.parts.map((p) => p.duration)).toEqual(Array(12).fill(0.5));
    expect(run.parts.slice(0, 4).map((p) => [p.index, p.independent])).toEqual([
      [0, true],
      [1, false],
      [2, true],
      [3, false],
    ]);
    // Bytes: parts are their frames' chunks in decode order; segments are their parts.
    expect(concat(run.parts.map((p) => p.bytes))).toEqual(concat(frames.map((f) => f.bytes)));
    expect(Array.from(run.segments[1]!.bytes)).toEqual(concat(run.parts.slice(4, 8).map((p) => p.bytes)));
  });

  it('closes a full part on the frame that fills it, and the segment on the next keyframe', () => {
    const frames = makeFrames({ timescale: 15360, frame: 512, count: 61, gop: 30 });
    const run = cut(video(), frames);
    // Part k ends with frame 15k+14 and is returned by that frame's push, not the next one's.
    expect(run.events.filter((e) => e.event.type === 'part').map((e) => e.at).slice(0, 4)).toEqual([14, 29, 44, 59]);
    // Whether frame 59 ends the segment is only known when frame 60 (a keyframe at 2 s) arrives.
    const segment = run.events.find((e) => e.event.type === 'segment')!;
    expect(segment.at).toBe(60);
  });

  it('packs whole frames under a PART-TARGET that is not a multiple of the frame duration', () => {
    const cutter = new SegmentCutter({ kind: 'video', timescale: 90000, partTarget: 0.33, segmentDuration: 2 });
    const run = cut(cutter, makeFrames({ timescale: 90000, frame: 3000, count: 120, gop: 60 }));
    for (const p of run.parts) expect(p.duration).toBeLessThanOrEqual(0.33);
    // 9 frames (0.3 s) per part; a segment of 60 frames ends with a 6-frame part.
    expect(run.parts.slice(0, 7).map((p) => Math.round(p.duration * 30))).toEqual([9, 9, 9, 9, 9, 9, 6]);
    expect(run.segments.map((s) => s.duration)).toEqual([2, 2]);
  });

  it('cuts at the first keyframe at or after the boundary when the GOP does not divide the segment', () => {
    // GOP 0.8 s: keyframes at 0, 0.8, 1.6, 2.4, 3.2, 4.0, 4.8 → cuts at 2.4 and 4.0.
    const run = cut(video(), makeFrames({ timescale: 15360, frame: 512, count: 150, gop: 24 }));
    expect(run.segments.map((s) => s.startTime)).toEqual([0, 2.4, 4]);
    expect(run.segments.every((s) => s.independent)).toBe(true);
  });

  it('force-closes a segment before it can round above TARGETDURATION when keyframes are late', () => {
    const cutter = video();
    const run = cut(cutter, makeFrames({ timescale: 15360, frame: 512, count: 300, gop: 150 }));
    for (const s of run.segments) expect(Math.round(s.duration)).toBeLessThanOrEqual(cutter.targetDuration);
    expect(cutter.forcedCuts).toBeGreaterThan(0);
    const forced = run.segments.filter((s) => !s.independent);
    expect(forced).toHaveLength(cutter.forcedCuts);
    // A forced segment's first part is not INDEPENDENT.
    const firstParts = run.parts.filter((p) => p.index === 0);
    expect(firstParts.filter((p) => !p.independent)).toHaveLength(forced.length);
  });

  it('drops frames before the first keyframe', () => {
    const cutter = video();
    const run = cut(cutter, makeFrames({ timescale: 15360, frame: 512, count: 90, gop: 30, firstKey: 5 }));
    expect(cutter.droppedFrames).toBe(5);
    expect(run.segments[0]!.startTime).toBeCloseTo(5 / 30, 9);
    expect(run.parts[0]!.independent).toBe(true);
  });

  it('cuts renditions with different timescales at the same instants', () => {
    const a = cut(video(), makeFrames({ timescale: 15360, frame: 512, count: 300, gop: 48 }));
    const b = cut(
      new SegmentCutter({ kind: 'video', timescale: 90000, partTarget: 0.5, segmentDuration: 2 }),
      makeFrames({ timescale: 90000, frame: 3000, count: 300, gop: 48 }),
    );
    expect(a.segments.map((s) => s.startTime)).toEqual(b.segments.map((s) => s.startTime));
  });

  it('rejects time going backwards and frames longer than PART-TARGET', () => {
    const cutter = video();
    cutter.push({ decodeTime: 1000, duration: 512, independent: true, bytes: new Uint8Array(1) });
    const errors: unknown[] = [];
    for (const frame of [
      { decodeTime: 999, duration: 512, independent: false, bytes: new Uint8Array(1) },
      { decodeTime: 2000, duration: 15360, independent: false, bytes: new Uint8Array(1) },
      { decodeTime: Number.NaN, duration: 512, independent: false, bytes: new Uint8Array(1) },
    ]) {
      try {
        cutter.push(frame);
      } catch (err) {
        errors.push(err);
      }
    }
    expect(errors).toHaveLength(3);
    expect(errors.every((e) => isLivepipeError(e, ErrorCode.MediaMalformed))).toBe(true);
  });

  it('rejects invalid settings', () => {
    const bad = [
      { partTarget: 0, segmentDuration: 2 },
      { partTarget: 3, segmentDuration: 2 },
      { partTarget: 0.5, segmentDuration: 2, targetDuration: 1 },
      { partTarget: 0.5, segmentDuration: 2, targetDuration: 2.5 },
    ];
    for (const b of bad) {
      expect(() => new SegmentCutter({ kind: 'video', timescale: 1000, ...b })).toThrow(
        expect.objectContaining({ code: ErrorCode.ConfigInvalid }),
      );
    }
    expect(new SegmentCutter({ kind: 'video', timescale: 1000, partTarget: 0.5, segmentDuration: 1.5 }).targetDuration).toBe(2);
  });
});

describe('SegmentCutter, audio', () => {
  const audio = (): SegmentCutter => new SegmentCutter({ kind: 'audio', timescale: 48000, partTarget: 0.5, segmentDuration: 2 });

  it('cuts at the first frame at or after each multiple of the segment duration, closing at once', () => {
    const frames = makeFrames({ timescale: 48000, frame: 1024, count: 470, gop: 1 });
    const run = cut(audio(), frames);
    // AAC frames are 21.333 ms: segment k starts at the first frame starting at or after 2k s.
    const starts = run.segments.map((s) => s.startTime);
    expect(starts.slice(0, 5)).toEqual([0, 94, 188, 282, 375].map((i) => (i * 1024) / 48000));
    for (const s of run.segments.slice(0, -1)) expect(Math.abs(s.duration - 2)).toBeLessThan(1024 / 48000);
    // The segment is returned by the push of its last frame (93): audio knows the boundary in advance.
    const first = run.events.find((e) => e.event.type === 'segment')!;
    expect(first.at).toBe(93);
    expect(run.parts.every((p) => p.independent && p.duration <= 0.5)).toBe(true);
    expect(concat(run.segments.map((s) => s.bytes))).toEqual(concat(frames.map((f) => f.bytes)));
  });
});

describe('SegmentCutter properties', () => {
  it('parts ≤ PART-TARGET, ≥ 85 % unless independent or final, segments within the target, bytes preserved', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(
          { timescale: 15360, frame: 512 }, // 30 fps
          { timescale: 90000, frame: 3003 }, // 29.97 fps
          { timescale: 12800, frame: 512 }, // 25 fps
          { timescale: 15360, frame: 256 }, // 60 fps
        ),
        fc.constantFrom(0.5, 1, 0.333334, 0.25 + 1 / 30, 0.6),
        fc.constantFrom(1, 2, 4, 6),
        fc.integer({ min: 10, max: 240 }),
        fc.integer({ min: 1, max: 600 }),
        (clock, partTarget, segmentDuration, gop, count) => {
          const cutter = new SegmentCutter({ kind: 'video', timescale: clock.timescale, partTarget, segmentDuration });
          const frames = makeFrames({ timescale: clock.timescale, frame: clock.frame, count, gop });
          const run = cut(cutter, frames);
          const frameSeconds = clock.frame / clock.timescale;
          let segmentIndex = 0;
          let partsLeft = run.segments[0]?.partCount ?? 0;
          for (const p of run.parts) {
            expect(p.duration).toBeLessThanOrEqual(partTarget + 1e-9);
            const final = partsLeft === 1;
            if (!p.independent && !final && frameSeconds <= 0.15 * partTarget) {
              expect(p.duration).toBeGreaterThanOrEqual(0.85 * partTarget - 1e-9);
            }
            partsLeft--;
            if (partsLeft === 0) partsLeft = run.segments[++segmentIndex]?.partCount ?? 0;
          }
          for (const s of run.segments) expect(Math.round(s.duration)).toBeLessThanOrEqual(cutter.targetDuration);
          // With keyframes on every boundary instant (the GOP divides the segment), no cut is ever forced.
          if ((segmentDuration * clock.timescale) % (gop * clock.frame) === 0) {
            expect(run.segments.every((s) => s.independent)).toBe(true);
            expect(cutter.forcedCuts).toBe(0);
          }
          expect(run.segments.reduce((n, s) => n + s.partCount, 0)).toBe(run.parts.length);
          expect(concat(run.segments.map((s) => s.bytes))).toEqual(concat(frames.map((f) => f.bytes)));
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('SegmentCutter slots and the shortest segment', () => {
  const table: Array<{ name: string; kind: 'video' | 'audio'; timescale: number; frame: number; start: number; count: number; gop: number; slots: number[]; starts: number[] }> = [
    { name: 'video from 0: slot k ends at k s', kind: 'video', timescale: 15360, frame: 512, start: 0, count: 90, gop: 30, slots: [1, 2, 3], starts: [0, 1, 2] },
    { name: 'audio from 0', kind: 'audio', timescale: 48000, frame: 1024, start: 0, count: 141, gop: 1, slots: [1, 2, 3], starts: [0, 1.002667, 2.005333] },
    // A first frame 21 ms before an instant does not make a 21 ms segment: the first runs on to 2 s.
    { name: 'audio from one frame before 1 s', kind: 'audio', timescale: 48000, frame: 1024, start: 48000 - 1024, count: 95, gop: 1, slots: [2, 3], starts: [0.978667, 2.002667] },
    { name: 'video from 0.967 s', kind: 'video', timescale: 15360, frame: 512, start: 29 * 512, count: 60, gop: 1, slots: [2, 3], starts: [0.966667, 2] },
  ];
  for (const row of table) {
    it(row.name, () => {
      const cutter = new SegmentCutter({ kind: row.kind, timescale: row.timescale, partTarget: 0.2, segmentDuration: 1 });
      const run = cut(cutter, makeFrames({ timescale: row.timescale, frame: row.frame, count: row.count, gop: row.gop, start: row.start }));
      expect(run.segments.map((s) => s.slot)).toEqual(row.slots);
      expect(run.segments.map((s) => Math.round(s.startTime * 1e6) / 1e6)).toEqual(row.starts);
      for (const p of run.parts) expect(row.slots).toContain(p.slot);
      for (const s of run.segments.slice(0, -1)) expect(s.duration).toBeGreaterThanOrEqual(0.1);
    });
  }

  it('reach: the open segment counts from 100 ms of media; discard drops it', () => {
    const cutter = new SegmentCutter({ kind: 'video', timescale: 15360, partTarget: 0.2, segmentDuration: 1 });
    expect(cutter.reach()).toBeUndefined();
    const frames = makeFrames({ timescale: 15360, frame: 512, count: 34, gop: 30 });
    frames.slice(0, 30).forEach((f) => cutter.push(f));
    expect(cutter.reach()).toEqual({ first: 1, reach: 1, open: 1 });
    cutter.push(frames[30]!); // the keyframe at 1 s: segment 1 closed, slot 2 open with 33 ms
    expect(cutter.reach()).toEqual({ first: 1, reach: 1, open: 2 });
    frames.slice(31, 33).forEach((f) => cutter.push(f));
    expect(cutter.reach()).toEqual({ first: 1, reach: 2, open: 2 }); // 100 ms
    cutter.discard();
    expect(cutter.reach()).toEqual({ first: 1, reach: 1, open: undefined });
    expect(cutter.flush()).toEqual([]);
  });
});
