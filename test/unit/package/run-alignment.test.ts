import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RunAlignment } from '../../../src/package/run-alignment.js';
import { SegmentCutter, slotOf, type CutterEvent, type CutterFrame } from '../../../src/package/segment-cutter.js';

const SEGMENT = { segmentDuration: 1 };

type Step =
  | { report: string; first: number; reach: number }
  | { end: string }
  | { leave: string };

/** Applies steps in order; returns, after each, the highest listable slot in [-1, 20] (or null), and the slots never listed. */
function play(renditions: string[], steps: Step[]): { listable: Array<number | null>; never: number[] } {
  const alignment = new RunAlignment(renditions, SEGMENT);
  const listable: Array<number | null> = [];
  for (const step of steps) {
    if ('report' in step) alignment.report(step.report, step.first, step.reach);
    else if ('end' in step) alignment.end(step.end);
    else alignment.leave(step.leave);
    const slots = Array.from({ length: 22 }, (_, i) => i - 1).filter((s) => alignment.listable(s));
    listable.push(slots.length > 0 ? Math.max(...slots) : null);
  }
  const never = Array.from({ length: 5 }, (_, i) => i).filter((s) => alignment.never(s));
  return { listable, never };
}

describe('RunAlignment', () => {
  const table: Array<{ name: string; renditions: string[]; steps: Step[]; listable: Array<number | null>; never?: number[] }> = [
    {
      name: 'nothing is listable until every rendition has a segment',
      renditions: ['v', 'a'],
      steps: [{ report: 'a', first: 1, reach: 1 }, { report: 'a', first: 1, reach: 2 }, { report: 'v', first: 1, reach: 1 }],
      listable: [null, null, 1],
    },
    {
      name: 'audio ahead of video lists only what video reached (the cause of issue 15)',
      renditions: ['v', 'a'],
      steps: [
        { report: 'v', first: 1, reach: 3 },
        { report: 'a', first: 1, reach: 4 },
        { end: 'a' },
        { end: 'v' },
      ],
      listable: [null, 3, 3, 3],
    },
    {
      name: 'slots before a rendition\'s first segment are listed by none',
      renditions: ['v', 'a'],
      steps: [{ report: 'a', first: 1, reach: 2 }, { report: 'v', first: 2, reach: 2 }],
      listable: [null, 2],
      never: [0, 1],
    },
    {
      name: 'a failed rendition is no longer waited for',
      renditions: ['v', 'a'],
      steps: [{ report: 'v', first: 1, reach: 1 }, { report: 'a', first: 1, reach: 5 }, { leave: 'v' }],
      listable: [null, 1, 5],
    },
    {
      name: 'an output that ended without media is not waited for',
      renditions: ['v', 'a'],
      steps: [{ report: 'a', first: 1, reach: 2 }, { end: 'v' }],
      listable: [null, 2],
    },
    {
      name: 'one more than 10 s behind is left behind',
      renditions: ['v', 'a'],
      steps: [{ report: 'v', first: 1, reach: 1 }, { report: 'a', first: 1, reach: 11 }, { report: 'a', first: 1, reach: 12 }],
      listable: [null, 1, 12],
    },
  ];
  for (const row of table) {
    it(row.name, () => {
      const out = play(row.renditions, row.steps);
      expect(out.listable).toEqual(row.listable);
      if (row.never !== undefined) expect(out.never).toEqual(row.never);
    });
  }

  it('settles once every output ended or left, and tells its listeners', async () => {
    const alignment = new RunAlignment(['v', 'a'], SEGMENT);
    let calls = 0;
    alignment.onChange(() => calls++);
    alignment.report('v', 1, 1);
    alignment.report('a', 1, 1);
    alignment.end('v');
    let settled = false;
    void alignment.settled.then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    alignment.end('a');
    await Promise.resolve();
    expect(settled).toBe(true);
    expect(calls).toBeGreaterThanOrEqual(2);
  });
});

/**
 * Renditions of one run cut by real cutters, each output ending at its own frame, the way ffmpeg's
 * outputs stop when it is killed; the RunAlignment rule decides what each lists. Every rendition
 * lists the same slots, and no listed segment is under 100 ms.
 */
describe('RunAlignment over real cutters: ragged run ends', () => {
  const VIDEO = { timescale: 15360, frame: 512 };
  const AUDIO = { timescale: 48000, frame: 1024 };

  function frames(kind: 'video' | 'audio', seconds: number, startUnits = 0): CutterFrame[] {
    const { timescale, frame } = kind === 'video' ? VIDEO : AUDIO;
    const count = Math.floor((seconds * timescale - startUnits) / frame);
    return Array.from({ length: Math.max(0, count) }, (_, i) => ({
      decodeTime: startUnits + i * frame,
      duration: frame,
      independent: kind === 'audio' || (startUnits + i * frame) % timescale === 0,
      bytes: new Uint8Array(1),
    }));
  }

  /** What each rendition lists: its segments' slots and durations. */
  function listed(outputs: Array<{ name: string; kind: 'video' | 'audio'; frames: CutterFrame[] }>): Map<string, Array<{ slot: number; duration: number }>> {
    const alignment = new RunAlignment(outputs.map((o) => o.name), SEGMENT);
    const result = new Map<string, Array<{ slot: number; duration: number }>>();
    const state = outputs.map((o) => {
      const cutter = new SegmentCutter({ kind: o.kind, timescale: o.kind === 'video' ? VIDEO.timescale : AUDIO.timescale, partTarget: 0.2, segmentDuration: 1 });
      const list: Array<{ slot: number; duration: number }> = [];
      result.set(o.name, list);
      let held: CutterEvent[] = [];
      const release = (): void => {
        held = held.filter((e) => !alignment.never(slotOf(e)));
        while (held.length > 0 && alignment.listable(slotOf(held[0]!))) {
          const e = held.shift()!;
          if (e.type === 'segment') list.push({ slot: e.segment.slot, duration: e.segment.duration });
        }
      };
      alignment.onChange(release);
      return { o, cutter, release, push: (f: CutterFrame) => {
        held.push(...cutter.push(f));
        const r = cutter.reach();
        if (r !== undefined) alignment.report(o.name, r.first, r.reach);
        release();
      }, finish: () => {
        release();
        const open = cutter.reach()?.open;
        if (open !== undefined && alignment.listable(open)) for (const e of cutter.flush()) if (e.type === 'segment') list.push({ slot: e.segment.slot, duration: e.segment.duration });
      } };
    });
    // Interleave by time, as outputs arrive.
    const all = state.flatMap((s) => s.o.frames.map((f) => ({ s, f, t: (f.decodeTime + f.duration) / (s.o.kind === 'video' ? VIDEO.timescale : AUDIO.timescale) })));
    all.sort((a, b) => a.t - b.t);
    for (const { s, f } of all) s.push(f);
    for (const s of state) alignment.end(s.o.name);
    for (const s of state) s.finish();
    return result;
  }

  it('audio that ran 0.17 s past a boundary video never reached lists no sliver (issue 15)', () => {
    const out = listed([
      { name: 'v180', kind: 'video', frames: frames('video', 2.95) },
      { name: 'v90', kind: 'video', frames: frames('video', 2.95) },
      { name: 'audio', kind: 'audio', frames: frames('audio', 3.12) },
    ]);
    const slots = [...out.values()].map((l) => l.map((s) => s.slot));
    expect(slots).toEqual([[1, 2, 3], [1, 2, 3], [1, 2, 3]]);
    expect(out.get('audio')!.at(-1)!.duration).toBeCloseTo(0.96, 1);
  });

  it('a run that ends 1 frame into a segment drops that segment everywhere', () => {
    const out = listed([
      { name: 'v180', kind: 'video', frames: frames('video', 2 + 1 / 30 + 1e-9) },
      { name: 'audio', kind: 'audio', frames: frames('audio', 2.05) },
    ]);
    expect([...out.values()].map((l) => l.map((s) => s.slot))).toEqual([[1, 2], [1, 2]]);
  });

  it('audio starting a frame before an instant does not open with a sliver', () => {
    // Audio's first frame 21 ms before video's first keyframe at 1 s.
    const out = listed([
      { name: 'v180', kind: 'video', frames: frames('video', 3, 15360) },
      { name: 'audio', kind: 'audio', frames: frames('audio', 3, 48000 - 1024) },
    ]);
    expect([...out.values()].map((l) => l.map((s) => s.slot))).toEqual([[2, 3], [2, 3]]);
    for (const l of out.values()) for (const s of l) expect(s.duration).toBeGreaterThanOrEqual(0.1);
  });

  it('property: wherever each output stops, every rendition lists the same slots, none under 100 ms', () => {
    fc.assert(
      fc.property(fc.double({ min: 0.05, max: 6, noNaN: true }), fc.double({ min: 0, max: 0.3, noNaN: true }), fc.double({ min: 0, max: 0.05, noNaN: true }), (end, audioLead, videoSkew) => {
        const out = listed([
          { name: 'v180', kind: 'video', frames: frames('video', end) },
          { name: 'v90', kind: 'video', frames: frames('video', end + videoSkew) },
          { name: 'audio', kind: 'audio', frames: frames('audio', end + audioLead) },
        ]);
        const slots = [...out.values()].map((l) => JSON.stringify(l.map((s) => s.slot)));
        expect(new Set(slots).size).toBe(1);
        for (const l of out.values()) for (const s of l) expect(s.duration).toBeGreaterThanOrEqual(0.1 - 1e-9);
      }),
      { numRuns: 200 },
    );
  });
});
