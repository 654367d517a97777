import { describe, expect, it } from 'vitest';
import { BurstPacer } from '../../../src/package/burst-pacer.js';

const PART_MS = 85.333;
const options = { windowMs: 3000, burstJumpMs: 150, maxHoldMs: 500 };
const T0 = 1_000_000;

/** Parts of `PART_MS` media each from stream time 0 at `T0`; `arrivals[i]` is when part i is ready. */
function pace(pacer: BurstPacer, arrivals: number[]): number[] {
  return arrivals.map((now, i) => pacer.listAt(T0 + (i + 1) * PART_MS, now));
}

/** A publisher's batches of `perBatch` parts: each batch ready when its last part is `delay` ms late. */
function batched(count: number, perBatch: number, delay: number): number[] {
  return Array.from({ length: count }, (_, i) => T0 + (Math.floor(i / perBatch) * perBatch + perBatch) * PART_MS + delay);
}

describe('BurstPacer', () => {
  it('lists an even feed as it arrives, jitter and all', () => {
    const pacer = new BurstPacer(options);
    // Every part 150 ms behind its media end, ±60 ms.
    const arrivals = Array.from({ length: 60 }, (_, i) => T0 + (i + 1) * PART_MS + 150 + (i % 3 === 0 ? 60 : i % 3 === 1 ? -60 : 0));
    expect(pace(pacer, arrivals)).toEqual(arrivals);
    expect(pacer.engaged).toBe(false);
    expect(pacer.lagMs).toBe(0);
  });

  it('spreads batches one part apart, each part as late as the first of its batch', () => {
    const pacer = new BurstPacer(options);
    // A 0.37 s PES batch: parts 4k..4k+3 all arrive when the last of them is 150 ms late.
    const arrivals = batched(40, 4, 150);
    const listed = pace(pacer, arrivals);
    expect(pacer.engaged).toBe(true);
    // The first batch comes before any jump is seen: as it arrives.
    expect(listed.slice(0, 4)).toEqual(arrivals.slice(0, 4));
    for (let i = 4; i < 40; i++) {
      // Every part from the first jump on listed as late as a batch's first part typically is (150 + 3 parts).
      expect(listed[i]! - (T0 + (i + 1) * PART_MS)).toBeCloseTo(150 + 3 * PART_MS, 3);
      if (i > 4) expect(listed[i]! - listed[i - 1]!).toBeCloseTo(PART_MS, 3);
      expect(listed[i]).toBeGreaterThanOrEqual(arrivals[i]!);
    }
    expect(pacer.lagMs).toBeCloseTo(3 * PART_MS, 3);
  });

  it('lets a run work off its start-up backlog unpaced, however late it starts', () => {
    const pacer = new BurstPacer(options);
    // Parts 1.2 s late at first, each 40 ms less late than the one before, down to 150 ms.
    const arrivals: number[] = [];
    for (let i = 0, lateness = 1200; i < 40; i++, lateness = Math.max(150, lateness - 40)) arrivals.push(T0 + (i + 1) * PART_MS + lateness);
    expect(pace(pacer, arrivals)).toEqual(arrivals);
    expect(pacer.engaged).toBe(false);
  });

  it('one late burst does not hold the next seconds as late: it is listed as it comes', () => {
    const pacer = new BurstPacer(options);
    // Batches of 4 ready when their last part is 150 ms late, but batch 5 comes 300 ms later still.
    const arrivals = batched(40, 4, 150).map((at, i) => (Math.floor(i / 4) === 5 ? at + 300 : at));
    const listed = pace(pacer, arrivals);
    for (let i = 20; i < 24; i++) expect(listed[i]).toBe(arrivals[i]);
    for (let i = 24; i < 40; i++) expect(listed[i]! - (T0 + (i + 1) * PART_MS)).toBeCloseTo(150 + 3 * PART_MS, 3);
  });

  it('reset: a new run starts unpaced, however late its first parts are', () => {
    const pacer = new BurstPacer(options);
    pace(pacer, batched(12, 4, 150));
    expect(pacer.engaged).toBe(true);
    pacer.reset();
    expect(pacer.engaged).toBe(false);
    // The restarted run's first part 1.5 s late, then catching up: nothing held.
    const now = T0 + 20_000;
    expect(pacer.listAt(now - 1500, now)).toBe(now);
    expect(pacer.listAt(now - 1300, now + 50)).toBe(now + 50);
  });

  it('never holds a part longer than maxHoldMs', () => {
    const pacer = new BurstPacer(options);
    pacer.listAt(T0, T0 + 100);
    // A part 2 s late (a jump), then one 100 ms late: the latest lateness since the jump is 2 s.
    pacer.listAt(T0 + 100, T0 + 2100);
    const now = T0 + 2200;
    expect(pacer.listAt(now - 100, now)).toBe(now + 500);
  });

  it('does not pace parts that arrive before their media ends (a feed faster than real time)', () => {
    const pacer = new BurstPacer(options);
    const arrivals = Array.from({ length: 30 }, (_, i) => T0 + i * 10);
    expect(pace(pacer, arrivals)).toEqual(arrivals);
  });

  it('stops pacing once the window holds no burst', () => {
    const pacer = new BurstPacer(options);
    pace(pacer, batched(12, 4, 150));
    expect(pacer.engaged).toBe(true);
    // 3 s later only even arrivals are in the window.
    const later = T0 + 12 * PART_MS + 3700;
    pacer.listAt(later - 150, later);
    expect(pacer.listAt(later + PART_MS - 150, later + PART_MS)).toBe(later + PART_MS);
    expect(pacer.engaged).toBe(false);
  });
});
