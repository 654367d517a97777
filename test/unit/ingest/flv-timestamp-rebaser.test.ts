import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FlvTimestampRebaser, type FlvStream } from '../../../src/ingest/flv-timestamp-rebaser.js';

interface Tag {
  stream: FlvStream;
  ts: number;
  /** Arrival, ms. */
  at: number;
}

/** Interleaved 30 fps video and ~46.9 fps audio (1024-sample AAC at 48 kHz) over `ms`, paced in real time. */
function regular(fromMs: number, ms: number, shift = 0): Tag[] {
  const tags: Tag[] = [];
  for (let t = 0; t < ms; t += 1000 / 30) tags.push({ stream: 'video', ts: Math.round(fromMs + t) + shift, at: fromMs + t });
  for (let t = 0; t < ms; t += 1024 / 48) tags.push({ stream: 'audio', ts: Math.round(fromMs + t) + shift, at: fromMs + t });
  return tags.sort((a, b) => a.at - b.at);
}

function run(tags: Tag[], rebaser = new FlvTimestampRebaser()): Array<Tag & { out: number; jumped: boolean }> {
  return tags.map((t) => {
    const r = rebaser.frame(t.stream, t.ts, t.at);
    return { ...t, out: r.timestamp, jumped: r.jump !== undefined };
  });
}

const outs = (rows: Array<{ stream: FlvStream; out: number }>, stream: FlvStream) => rows.filter((r) => r.stream === stream).map((r) => r.out);
const maxStep = (xs: number[]) => Math.max(...xs.slice(1).map((x, i) => x - xs[i]!));
const minStep = (xs: number[]) => Math.min(...xs.slice(1).map((x, i) => x - xs[i]!));

describe('FlvTimestampRebaser', () => {
  it('passes a regular stream through unchanged', () => {
    const rows = run(regular(0, 5000));
    expect(rows.every((r) => r.out === r.ts && !r.jumped)).toBe(true);
  });

  it.each([
    ['forward by an hour', 3_600_000],
    ['backward by 2.5 s', -2500],
    ['back to 0 (an encoder restarting its clock)', -1_000_000],
  ])('keeps both streams continuous when the publisher jumps %s', (_what, shift) => {
    const start = shift === -1_000_000 ? 1_000_000 : 0;
    const tags = [...regular(start, 3000), ...regular(start + 3000, 3000, shift)];
    const rebaser = new FlvTimestampRebaser();
    const rows = run(tags, rebaser);
    expect(rebaser.jumps).toBe(2); // once per stream
    for (const stream of ['audio', 'video'] as const) {
      const o = outs(rows, stream);
      expect(minStep(o)).toBeGreaterThan(0);
      expect(maxStep(o)).toBeLessThanOrEqual(35);
      // Ends where 6 s of media end, give or take a frame.
      expect(o.at(-1)! - o[0]!).toBeGreaterThan(5900);
      expect(o.at(-1)! - o[0]!).toBeLessThan(6050);
    }
    // Audio and video stay together after the jump.
    const lastVideo = outs(rows, 'video').at(-1)!;
    const lastAudio = outs(rows, 'audio').at(-1)!;
    expect(Math.abs(lastVideo - lastAudio)).toBeLessThan(50);
  });

  it('leaves a real pause alone: timestamps and the clock advance together', () => {
    // 3 s of media, 8 s of silence on the wire, then media stamped 8 s later.
    const tags = [...regular(0, 3000), ...regular(11_000, 2000)];
    const rows = run(tags);
    expect(rows.every((r) => r.out === r.ts && !r.jumped)).toBe(true);
  });

  it('leaves a burst of buffered media alone (small steps arriving at once)', () => {
    const tags = regular(0, 6000).map((t) => ({ ...t, at: t.at < 4000 ? 0 : t.at })); // 4 s delivered at once
    const rows = run(tags);
    expect(rows.every((r) => r.out === r.ts && !r.jumped)).toBe(true);
  });

  it('heals a single wild timestamp: the next regular one returns to the timeline', () => {
    const tags = regular(0, 2000).filter((t) => t.stream === 'video');
    tags[30] = { ...tags[30]!, ts: tags[30]!.ts + 3_600_000 };
    const rows = run(tags);
    const o = rows.map((r) => r.out);
    expect(minStep(o)).toBeGreaterThan(0);
    expect(maxStep(o)).toBeLessThanOrEqual(35);
    expect(rows.filter((r) => r.jumped)).toHaveLength(2);
  });

  it('aligns a stream whose first tag is an hour away from the other stream', () => {
    const video = regular(0, 2000).filter((t) => t.stream === 'video');
    const audio = regular(0, 2000, 3_600_000).filter((t) => t.stream === 'audio' && t.at > 500);
    const rows = run([...video, ...audio].sort((a, b) => a.at - b.at));
    const firstAudio = rows.find((r) => r.stream === 'audio')!;
    expect(firstAudio.jumped).toBe(true);
    expect(Math.abs(firstAudio.out - 500)).toBeLessThan(50);
    expect(maxStep(outs(rows, 'audio'))).toBeLessThanOrEqual(25);
  });

  it('applies the current offset to configuration tags without judging them', () => {
    const rebaser = new FlvTimestampRebaser();
    rebaser.frame('video', 0, 0);
    rebaser.frame('video', 3_600_033, 33); // jump: placed at 33
    expect(rebaser.other('video', 3_600_066)).toBe(66);
    // A sequence header stamped 0 mid-stream is clamped, not treated as a jump.
    expect(rebaser.other('video', 0)).toBe(0);
    expect(rebaser.jumps).toBe(1);
    expect(rebaser.frame('video', 3_600_066, 66).timestamp).toBe(66);
  });

  it('never lets a stream step back more than the tolerance or ahead of the clock by more than the gap (property)', () => {
    const maxBackwardMs = 500;
    const maxForwardGapMs = 3000;
    const step = fc.record({
      stream: fc.constantFrom<FlvStream>('audio', 'video'),
      // Mostly frame steps, sometimes wild ones (the publisher's timestamp delta).
      delta: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 50 }) }, { weight: 1, arbitrary: fc.integer({ min: -4_000_000_000, max: 4_000_000_000 }) }),
      wall: fc.integer({ min: 0, max: 5000 }),
    });
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 300 }), (steps) => {
        const rebaser = new FlvTimestampRebaser({ maxBackwardMs, maxForwardGapMs });
        const last: Partial<Record<FlvStream, { out: number; at: number }>> = {};
        const input: Partial<Record<FlvStream, number>> = {};
        let at = 0;
        for (const s of steps) {
          at += s.wall;
          const ts = Math.max(0, (input[s.stream] ?? 1_000_000) + s.delta);
          input[s.stream] = ts;
          const { timestamp } = rebaser.frame(s.stream, ts, at);
          expect(timestamp).toBeGreaterThanOrEqual(0);
          const prev = last[s.stream];
          if (prev !== undefined) {
            expect(timestamp - prev.out).toBeGreaterThanOrEqual(-maxBackwardMs);
            expect(timestamp - prev.out).toBeLessThanOrEqual(at - prev.at + maxForwardGapMs);
          }
          last[s.stream] = { out: timestamp, at };
        }
      }),
      { numRuns: 500 },
    );
  });
});
