import { describe, expect, it } from 'vitest';
import { SegmentCutter, slotOf, type CutSegment, type CutterEvent, type CutterFrame } from '../../../src/package/segment-cutter.js';

// Requested cuts (`cutAt`, an ad splice whose frame the relay keyed): the segment boundary at the
// splice, the same in every rendition, no segment under 100 ms, slots in order.

const VIDEO_TS = 15360;
const FRAME = 512; // 30 fps at 15360
const AUDIO_TS = 48000;
const AAC = 1024;

/** 30 fps video, a keyframe every second (the GOP grid) and at the `marked` frame indices. */
function videoFrames(seconds: number, marked: number[] = []): CutterFrame[] {
  return Array.from({ length: seconds * 30 }, (_, i) => ({
    decodeTime: i * FRAME,
    duration: FRAME,
    independent: i % 30 === 0 || marked.includes(i),
    bytes: Uint8Array.of(i & 255),
  }));
}

function audioFrames(seconds: number): CutterFrame[] {
  return Array.from({ length: Math.floor((seconds * AUDIO_TS) / AAC) }, (_, i) => ({ decodeTime: i * AAC, duration: AAC, independent: true, bytes: Uint8Array.of(i & 255) }));
}

const video = (): SegmentCutter => new SegmentCutter({ kind: 'video', timescale: VIDEO_TS, partTarget: 0.5, segmentDuration: 2 });
const audio = (): SegmentCutter => new SegmentCutter({ kind: 'audio', timescale: AUDIO_TS, partTarget: 0.5, segmentDuration: 2 });

/** Pushes every frame (calling `before(i)` first) and flushes; returns the events. */
function run(cutter: SegmentCutter, frames: CutterFrame[], before?: (index: number) => void): CutterEvent[] {
  const events: CutterEvent[] = [];
  frames.forEach((frame, i) => {
    before?.(i);
    events.push(...cutter.push(frame));
  });
  events.push(...cutter.flush());
  return events;
}

const segmentsOf = (events: CutterEvent[]): CutSegment[] => events.flatMap((e) => (e.type === 'segment' ? [e.segment] : []));
const round3 = (n: number): number => Math.round(n * 1000) / 1000;

describe('SegmentCutter.cutAt', () => {
  it('cuts video at the keyed frame and audio at its first frame from there: a short segment ends at the splice, the next starts there', () => {
    const splice = (135 * FRAME) / VIDEO_TS; // 4.5 s, the frame the relay keyed
    const v = video();
    const a = audio();
    expect(v.cutAt(splice)).toBe(true);
    expect(a.cutAt(splice)).toBe(true);
    const vs = segmentsOf(run(v, videoFrames(8, [135])));
    const as = segmentsOf(run(a, audioFrames(8)));
    expect(vs.map((s) => round3(s.startTime))).toEqual([0, 2, 4, 4.5, 6]);
    expect(vs.map((s) => round3(s.duration))).toEqual([2, 2, 0.5, 1.5, 2]);
    expect(vs.every((s) => s.independent)).toBe(true);
    expect(v.forcedCuts).toBe(0);
    // Audio: the first frame at or after 4.5 s (AAC frames do not fall on it).
    expect(round3(as[3]!.startTime)).toBe(round3(Math.ceil((4.5 * AUDIO_TS) / AAC) * (AAC / AUDIO_TS)));
    // The same segments in both: slots equal, in order, the split one between its neighbours.
    expect(vs.map((s) => s.slot)).toEqual([1, 2, 3, 3.25, 4]);
    expect(as.map((s) => s.slot)).toEqual(vs.map((s) => s.slot));
    // Every segment within TARGETDURATION (rounded), none under 100 ms.
    for (const s of [...vs, ...as]) {
      expect(Math.round(s.duration)).toBeLessThanOrEqual(v.targetDuration);
      expect(s.duration).toBeGreaterThanOrEqual(0.1);
    }
  });

  it('gives the segment a cut opens the same slot in every rendition, whatever the timescale (no rounding apart)', () => {
    for (let frame = 121; frame < 177; frame += 1) {
      const splice = (frame * FRAME) / VIDEO_TS;
      const v = video();
      const a = audio();
      v.cutAt(splice);
      a.cutAt(splice);
      const vs = segmentsOf(run(v, videoFrames(8, [frame])));
      const as = segmentsOf(run(a, audioFrames(8)));
      expect(as.map((s) => s.slot), `frame ${frame}`).toEqual(vs.map((s) => s.slot));
    }
  });

  it('a splice less than 100 ms after a grid instant replaces it: the segment before runs on to the splice', () => {
    const splice = (122 * FRAME) / VIDEO_TS; // 4.067 s
    const v = video();
    const a = audio();
    v.cutAt(splice);
    a.cutAt(splice);
    const vs = segmentsOf(run(v, videoFrames(8, [122])));
    const as = segmentsOf(run(a, audioFrames(8)));
    expect(vs.map((s) => round3(s.startTime))).toEqual([0, 2, 4.067, 6]);
    expect(vs.map((s) => s.slot)).toEqual([1, 2, 3, 4]);
    expect(as.map((s) => s.slot)).toEqual([1, 2, 3, 4]);
    expect(as[2]!.startTime).toBeGreaterThanOrEqual(splice);
  });

  it('a splice less than 100 ms before a grid instant: the segment it opens runs to the next one (under TARGETDURATION + 0.5 s)', () => {
    const splice = (179 * FRAME) / VIDEO_TS; // 5.967 s
    const v = video();
    v.cutAt(splice);
    const vs = segmentsOf(run(v, videoFrames(10, [179])));
    expect(vs.map((s) => round3(s.startTime))).toEqual([0, 2, 4, 5.967, 8]);
    expect(vs.map((s) => s.slot)).toEqual([1, 2, 3, 4, 5]);
    expect(round3(vs[3]!.duration)).toBe(2.033);
  });

  it('a lost mark: video still cuts one frame later (forced, not independent), so renditions keep the same segments', () => {
    const splice = (135 * FRAME) / VIDEO_TS;
    const v = video();
    v.cutAt(splice);
    const vs = segmentsOf(run(v, videoFrames(8)));
    expect(vs.map((s) => round3(s.startTime))).toEqual([0, 2, 4, round3((136 * FRAME) / VIDEO_TS), 6]);
    expect(vs[3]!.independent).toBe(false);
    expect(v.forcedCuts).toBe(1);
    expect(vs.map((s) => s.slot)).toEqual([1, 2, 3, 3.25, 4]);
  });

  it('a cut the keyed frame reaches within half a frame is taken on that frame (output timestamps snapped to the frame grid)', () => {
    const v = video();
    v.cutAt(4.49); // the FLV's millisecond time of the frame at 4.5 s, a little off
    const vs = segmentsOf(run(v, videoFrames(8, [135])));
    expect(round3(vs[3]!.startTime)).toBe(4.5);
    expect(vs[3]!.independent).toBe(true);
  });

  it('is scheduled ahead: a cut requested mid-segment, before its frame, applies to the open segment', () => {
    const v = video();
    const events = run(v, videoFrames(8, [150]), (i) => {
      if (i === 130) expect(v.cutAt(5)).toBe(true);
    });
    expect(segmentsOf(events).map((s) => round3(s.startTime))).toEqual([0, 2, 4, 5, 6]);
  });

  it('refuses a cut this cutter already passed (counted), or one under 100 ms after another; cancelCut restores the grid', () => {
    const v = video();
    const frames = videoFrames(8, [135]);
    for (const f of frames.slice(0, 140)) v.push(f);
    expect(v.cutAt(4.5)).toBe(false);
    expect(v.lateCuts).toBe(1);
    expect(v.cutAt(5)).toBe(true);
    expect(v.cutAt(5.05)).toBe(false);
    v.cancelCut(5);
    const after = [...frames.slice(140).flatMap((f) => v.push(f)), ...v.flush()];
    // The open segment (from 4 s) ends at the 6 s grid instant again, not at 5 s.
    expect(segmentsOf(after).map((s) => round3(s.startTime))).toEqual([4, 6]);
  });

  it('parts stay within PART-TARGET and every event carries the slot of its segment', () => {
    const v = video();
    v.cutAt((140 * FRAME) / VIDEO_TS);
    const events = run(v, videoFrames(8, [140]));
    const parts = events.flatMap((e) => (e.type === 'part' ? [e.part] : []));
    expect(parts.every((p) => p.duration <= 0.5 + 1e-9)).toBe(true);
    const slots = events.map(slotOf);
    expect(slots).toEqual([...slots].sort((x, y) => x - y));
    expect(parts.find((p) => round3(p.startTime) === round3((140 * FRAME) / VIDEO_TS))?.independent).toBe(true);
  });
});
