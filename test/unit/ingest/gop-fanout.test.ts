import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Readable } from 'node:stream';
import { firstFrameArrivedAt } from '../../../src/core/media-clock.js';
import { GopFanout, type GopUnitKind } from '../../../src/ingest/gop-fanout.js';

/** A self-delimiting unit: 2-byte length, 4-byte id, padding up to `size` bytes (≥ 6). */
function unit(id: number, size = 16): Buffer {
  const b = Buffer.alloc(size, 0xee);
  b.writeUInt16BE(size, 0);
  b.writeUInt32BE(id, 2);
  return b;
}

/** The ids of the units a consumer has buffered so far. */
function ids(stream: Readable): number[] {
  const chunks: Buffer[] = [];
  let c: Buffer | null;
  while ((c = stream.read() as Buffer | null) !== null) chunks.push(c);
  const all = Buffer.concat(chunks);
  const out: number[] = [];
  for (let off = 0; off < all.length; off += all.readUInt16BE(off)) out.push(all.readUInt32BE(off + 2));
  return out;
}

const HEADER = 900;
const header = [unit(HEADER)];

describe('GopFanout', () => {
  it('starts a late consumer with the header, then the GOP from the latest keyframe with its lead', () => {
    const f = new GopFanout();
    f.push({ bytes: unit(1), kind: 'keyframe' });
    f.push({ bytes: unit(2), kind: 'media' });
    f.push({ bytes: unit(3), kind: 'media' }); // the lead of the next keyframe (e.g. PAT, PMT)
    f.push({ bytes: unit(4), kind: 'keyframe', lead: [unit(3)] });
    f.push({ bytes: unit(5), kind: 'media' });
    const c = f.open({ header });
    expect(ids(c)).toEqual([HEADER, 3, 4, 5]);
    f.push({ bytes: unit(6), kind: 'media' });
    expect(ids(c)).toEqual([6]);
    expect(f.cachedBytes).toBe(4 * 16);
  });

  it.each<[string, GopUnitKind[], number[]]>([
    ['media before the first keyframe is not a start point', ['media', 'media', 'keyframe', 'media'], [3, 4]],
    ['a join point starts a waiting consumer', ['media', 'join', 'media', 'keyframe'], [2, 3, 4]],
    ['config reaches a waiting consumer at once', ['config', 'media', 'keyframe', 'media'], [1, 3, 4]],
  ])('with nothing cached: %s', (_name, kinds, expected) => {
    const f = new GopFanout();
    const c = f.open({ header });
    kinds.forEach((kind, i) => f.push({ bytes: unit(i + 1), kind }));
    expect(ids(c)).toEqual([HEADER, ...expected]);
  });

  it('starts anywhere when told to (a feed without keyframes)', () => {
    const f = new GopFanout();
    f.push({ bytes: unit(1), kind: 'media' });
    const c = f.open({ startAnywhere: true });
    f.push({ bytes: unit(2), kind: 'media' });
    expect(ids(c)).toEqual([2]);
  });

  it('does not cache config: the format replays it in the header', () => {
    const f = new GopFanout();
    f.push({ bytes: unit(1), kind: 'keyframe' });
    f.push({ bytes: unit(2), kind: 'config' });
    f.push({ bytes: unit(3), kind: 'media' });
    expect(ids(f.open())).toEqual([1, 3]);
  });

  it('drops a GOP that outgrows the cache bound until the next keyframe', () => {
    const f = new GopFanout({ maxGopCacheBytes: 50 });
    f.push({ bytes: unit(1), kind: 'keyframe' });
    f.push({ bytes: unit(2), kind: 'media' });
    f.push({ bytes: unit(3), kind: 'media' });
    expect(f.cachedBytes).toBe(48);
    f.push({ bytes: unit(4), kind: 'media' });
    expect(f.cachedBytes).toBe(0);
    const c = f.open();
    f.push({ bytes: unit(5), kind: 'media' });
    expect(f.cachedBytes).toBe(0);
    f.push({ bytes: unit(6), kind: 'keyframe', lead: [unit(5)] });
    expect(ids(c)).toEqual([5, 6]);
    expect(f.cachedBytes).toBe(32);
  });

  it('makes a consumer that does not read skip to the next start point, and tells once', () => {
    const lags: number[] = [];
    const f = new GopFanout({ maxConsumerBufferBytes: 100, onConsumerLag: (n) => lags.push(n) });
    f.push({ bytes: unit(1), kind: 'keyframe' });
    const c = f.open();
    for (let i = 2; i < 40; i++) f.push({ bytes: unit(i), kind: 'media' });
    expect(c.readableLength).toBeLessThanOrEqual(100 + 16);
    expect(lags).toHaveLength(1);
    expect(ids(c)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    f.push({ bytes: unit(40), kind: 'media' });
    f.push({ bytes: unit(41), kind: 'keyframe' });
    f.push({ bytes: unit(42), kind: 'media' });
    expect(ids(c)).toEqual([41, 42]);
  });

  it('stamps the first frame arrival: the cached keyframe’s, or the start point’s', () => {
    const f = new GopFanout();
    const waiting = f.open();
    f.push({ bytes: unit(1), kind: 'keyframe', arrivedAt: 1234 });
    expect(firstFrameArrivedAt(waiting)).toBe(1234);
    expect(firstFrameArrivedAt(f.open())).toBe(1234);
  });

  it('ends consumers, forgets destroyed ones, and opens ended streams after the end', async () => {
    const f = new GopFanout();
    const a = f.open();
    const b = f.open();
    b.destroy();
    await new Promise((r) => setImmediate(r));
    expect(f.consumerCount).toBe(1);
    const ended = new Promise((r) => a.on('end', r));
    a.resume();
    f.end();
    await ended;
    expect(f.consumerCount).toBe(0);
    expect(f.cachedBytes).toBe(0);
    const late = f.open({ header });
    const chunks: unknown[] = [];
    for await (const chunk of late) chunks.push(chunk);
    expect(chunks).toHaveLength(0);
  });
});

// Any sequence of units, a consumer joining at any point.
type Step = { kind: GopUnitKind; size: number; lead: number } | { kind: 'open' };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constantFrom<GopUnitKind>('media', 'media', 'media', 'keyframe', 'join', 'config'), size: fc.integer({ min: 6, max: 60 }), lead: fc.integer({ min: 0, max: 2 }) }),
  fc.constant<Step>({ kind: 'open' }),
);

interface Pushed {
  id: number;
  kind: GopUnitKind;
  size: number;
  /** Ids of this keyframe's lead. */
  lead: number[];
}

describe('GopFanout (property)', () => {
  it('gives a joiner the header then a contiguous run from the latest cached start point, and bounds the cache', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), fc.integer({ min: 30, max: 400 }), (steps, maxGop) => {
        const f = new GopFanout({ maxGopCacheBytes: maxGop });
        const pushed: Pushed[] = [];
        const joiners: Array<{ at: number; stream: Readable }> = [];
        for (const s of steps) {
          if (s.kind === 'open') {
            joiners.push({ at: pushed.length, stream: f.open({ header }) });
            continue;
          }
          const id = pushed.length + 1;
          // A lead is the latest non-config units pushed just before (PAT, PMT before a TS keyframe).
          const media = pushed.filter((p) => p.kind !== 'config');
          const lead = s.kind === 'keyframe' ? media.slice(media.length - Math.min(s.lead, media.length)) : [];
          pushed.push({ id, kind: s.kind, size: s.size, lead: lead.map((p) => p.id) });
          f.push({ bytes: unit(id, s.size), kind: s.kind, lead: lead.map((p) => unit(p.id, p.size)) });
          expect(f.cachedBytes).toBeLessThanOrEqual(maxGop);
        }

        const nonConfig = pushed.filter((p) => p.kind !== 'config');
        const index = (id: number) => nonConfig.findIndex((p) => p.id === id);
        /** Where a start point's run begins in `nonConfig`: its lead's first unit, else itself. */
        const runStart = (p: Pushed) => index(p.lead[0] ?? p.id);
        const gopBytes = (from: number, to: number) => nonConfig.slice(from, to).reduce((sum, p) => sum + p.size, 0);

        for (const { at, stream } of joiners) {
          const got = ids(stream);
          expect(got[0]).toBe(HEADER);
          const before = pushed.slice(0, at);
          const after = pushed.slice(at);
          // Config pushed after the join reaches the joiner, in order; none from before.
          expect(got.filter((id) => pushed[id - 1]?.kind === 'config')).toEqual(after.filter((p) => p.kind === 'config').map((p) => p.id));
          const media = got.slice(1).filter((id) => pushed[id - 1]?.kind !== 'config');

          // Expected start: the latest keyframe before the join if its GOP never outgrew the bound...
          const lastKey = before.filter((p) => p.kind === 'keyframe').at(-1);
          const cachedFrom = lastKey === undefined ? -1 : runStart(lastKey);
          const endOfBefore = before.filter((p) => p.kind !== 'config').length;
          let from: number | undefined;
          if (lastKey !== undefined) {
            const keyAt = index(lastKey.id);
            let fits = true;
            for (let end = keyAt + 1; end <= endOfBefore; end++) fits &&= gopBytes(cachedFrom, end) <= maxGop;
            if (fits) from = cachedFrom;
          }
          // ...else the first start point after it.
          const next = after.find((p) => p.kind === 'keyframe' || p.kind === 'join');
          from ??= next === undefined ? undefined : runStart(next);

          if (from === undefined) {
            expect(media).toEqual([]);
          } else {
            // A stream starting at a start point, then every unit up to the last one, with no gap.
            expect(media).toEqual(nonConfig.slice(from).map((p) => p.id));
            const first = nonConfig[from]!;
            const startsAtStartPoint = first.kind === 'keyframe' || first.kind === 'join' || pushed.some((p) => p.kind === 'keyframe' && p.lead[0] === first.id);
            expect(startsAtStartPoint).toBe(true);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('holds at most the consumer bound plus one start point for a consumer that never reads', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 200 }), fc.integer({ min: 50, max: 500 }), (steps, maxBuffer) => {
        const f = new GopFanout({ maxConsumerBufferBytes: maxBuffer });
        const c = f.open({ header });
        let configBytes = 0;
        let largestStart = 0;
        let id = 0;
        for (const s of steps) {
          if (s.kind === 'open') continue;
          const lead = s.kind === 'keyframe' ? Array.from({ length: s.lead }, () => unit(++id, 60)) : [];
          const bytes = unit(++id, s.size);
          if (s.kind === 'config') configBytes += s.size;
          largestStart = Math.max(largestStart, s.size + lead.reduce((sum, b) => sum + b.length, 0));
          f.push({ bytes, kind: s.kind, lead });
          expect(c.readableLength).toBeLessThanOrEqual(16 + maxBuffer + largestStart + configBytes);
        }
      }),
      { numRuns: 200 },
    );
  });
});
