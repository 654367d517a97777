import { describe, expect, it } from 'vitest';
import { ErrorCode, isLivepipeError, type LivepipeError } from '../../../src/core/errors.js';
import { Admission, decideAdmission, type AdmissionInput } from '../../../src/transcode/admission.js';
import { LadderCostModel } from '../../../src/transcode/ladder-cost.js';

const capacity = (over: Partial<NonNullable<AdmissionInput['capacity']>> = {}): NonNullable<AdmissionInput['capacity']> => ({
  capacityCores: 1.8,
  usedCores: 0,
  demandCores: 1.56,
  demandLadder: 'default',
  behindChannels: [],
  behindPolicy: 'warn',
  ...over,
});

describe('decideAdmission', () => {
  it.each<[string, AdmissionInput, string | undefined]>([
    ['the first default channel on 2 cores × 0.9', { channel: 'b', running: 0, maxLadders: 8, capacity: capacity() }, undefined],
    ['a second default channel on 2 cores × 0.9', { channel: 'b', running: 1, maxLadders: 8, capacity: capacity({ usedCores: 1.56 }) }, 'over-capacity'],
    ['a ladder that alone costs more than the node', { channel: 'b', running: 0, maxLadders: 8, capacity: capacity({ demandCores: 2.5 }) }, 'over-capacity'],
    ['exactly what is free (rounding slack)', { channel: 'b', running: 1, maxLadders: 8, capacity: capacity({ usedCores: 0.8, demandCores: 1.005 }) }, undefined],
    ['an unknown cost: only the count limits', { channel: 'b', running: 3, maxLadders: 8, capacity: capacity({ usedCores: 5, demandCores: undefined }) }, undefined],
    ['the count limit first', { channel: 'b', running: 2, maxLadders: 2, capacity: capacity() }, 'max-channels'],
    ['no cost admission: only the count', { channel: 'b', running: 1, maxLadders: 2 }, undefined],
    ['a channel behind under refuse-new', { channel: 'b', running: 1, maxLadders: 8, capacity: capacity({ demandCores: 0.1, behindChannels: ['a'], behindPolicy: 'refuse-new' }) }, 'node-behind'],
    ['a channel behind under warn: a channel that fits is admitted', { channel: 'b', running: 1, maxLadders: 8, capacity: capacity({ demandCores: 0.1, behindChannels: ['a'] }) }, undefined],
  ])('%s', (_name, input, refusal) => {
    const decision = decideAdmission(input);
    expect(decision.admitted ? undefined : decision.refusal).toBe(refusal);
  });

  it('says what the ladder needs and what is free', () => {
    const decision = decideAdmission({ channel: 'two', running: 1, maxLadders: 8, capacity: capacity({ usedCores: 1.56 }) });
    expect(decision).toMatchObject({
      admitted: false,
      message: 'not enough transcoding capacity for channel two: ladder "default" needs 1.56 cores for realtime, 0.24 of 1.8 are free',
    });
  });
});

describe('Admission with capacity', () => {
  const seeds = { ladders: { default: { cores: 1.5, pixelsPerSecond: 100e6 } } };

  it('refuses the channel that does not fit with CapacityExceeded and its reason, and counts measured costs', () => {
    const admission = new Admission({ maxLadders: 8, capacity: { cores: 2, headroom: 0.9, costs: new LadderCostModel(seeds) } });
    const one = admission.acquire('one', { name: 'default', pixelsPerSecond: 100e6 });
    let refused: unknown;
    try {
      admission.acquire('two', { name: 'default', pixelsPerSecond: 100e6 });
    } catch (err) {
      refused = err;
    }
    expect(isLivepipeError(refused, ErrorCode.CapacityExceeded)).toBe(true);
    expect((refused as LivepipeError).details).toMatchObject({ refusal: 'over-capacity', capacityCores: 1.8, usedCores: 1.5, demandCores: 1.5 });
    // A small rendition set of the same ladder fits (360p source: a tenth of the pixels).
    const small = admission.acquire('small', { name: 'default', pixelsPerSecond: 10e6 });
    expect(admission.snapshot()).toMatchObject({ usedCores: 1.65, freeCores: 0.15, running: 2 });
    // The first channel measures less than the seed: the node has room again, and the ladder's price drops.
    one.reportCost!(0.9);
    expect(admission.snapshot()).toMatchObject({ usedCores: 1.05, ladderCosts: { default: { cores: 0.9, source: 'measured' } } });
    small.release();
    admission.acquire('two', { name: 'default', pixelsPerSecond: 100e6 });
    expect(admission.snapshot().channels.map((c) => [c.channel, c.cores, c.source])).toEqual([
      ['one', 0.9, 'measured'],
      ['two', 0.9, 'measured'],
    ]);
  });

  it('under refuse-new refuses every new channel while one is behind, and admits again once it caught up', () => {
    const admission = new Admission({ maxLadders: 8, capacity: { cores: 8, behindPolicy: 'refuse-new', costs: new LadderCostModel(seeds) } });
    const one = admission.acquire('one', { name: 'default', pixelsPerSecond: 10e6 });
    one.reportRealtime!({ behind: true, edgeLagSeconds: 4.2, speed: 0.8 });
    expect(() => admission.acquire('two', { name: 'default', pixelsPerSecond: 10e6 })).toThrow(/node is behind realtime \(channel one cannot keep up\)/);
    expect(admission.snapshot().channels[0]).toMatchObject({ behind: true, edgeLagSeconds: 4.2, speed: 0.8 });
    one.reportRealtime!({ behind: false });
    expect(admission.acquire('two', { name: 'default', pixelsPerSecond: 10e6 }).channel).toBe('two');
  });

  it.each([
    ['zero cores', { cores: 0 }, /capacity.cores/],
    ['a headroom above 1', { headroom: 1.2 }, /capacity.headroom/],
    ['a zero headroom', { headroom: 0 }, /capacity.headroom/],
  ])('rejects %s', (_name, options, message) => {
    expect(() => new Admission({ capacity: options })).toThrow(message);
  });
});
