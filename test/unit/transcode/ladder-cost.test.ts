import { describe, expect, it } from 'vitest';
import {
  LadderCostModel,
  coresPerChannel,
  ladderPixelsPerSecond,
  parseLadderCostSeeds,
  resolvedPixelsPerSecond,
  type LadderCostSeeds,
} from '../../../src/transcode/ladder-cost.js';
import { cpuSecondsFromProcStat } from '../../../src/transcode/process-cpu.js';

const SEEDS: LadderCostSeeds = {
  ladders: {
    default: { cores: 1.5, pixelsPerSecond: 100e6 },
    small: { cores: 0.5, pixelsPerSecond: 25e6 },
    mid: { cores: 1, pixelsPerSecond: 50e6 },
  },
};

describe('ladderPixelsPerSecond / resolvedPixelsPerSecond', () => {
  it.each([
    ['source rate: 30 fps', 'source' as const, 1920 * 1080 * 30 + 640 * 360 * 30],
    ['a cap above 30 fps: still the 30 fps reference', { cap: 60 }, 1920 * 1080 * 30 + 640 * 360 * 30],
    ['a cap below 30 fps: the cap', { cap: 25 }, 1920 * 1080 * 25 + 640 * 360 * 25],
  ])('%s', (_name, frameRate, expected) => {
    const video = [
      { width: 1920, height: 1080 },
      { width: 640, height: 360 },
    ];
    expect(ladderPixelsPerSecond({ video, frameRate } as never)).toBe(expected);
  });

  it('counts only the kept renditions at their output size and the output frame rate', () => {
    expect(resolvedPixelsPerSecond({ video: [{ outputWidth: 640, outputHeight: 360 }], frameRate: 60 } as never)).toBe(640 * 360 * 60);
  });
});

describe('coresPerChannel', () => {
  it.each([
    ['1.5 CPU s over 1 media s per second', { cpuSeconds: 10, mediaSeconds: 4 }, { cpuSeconds: 19, mediaSeconds: 10 }, 1.5],
    ['too little media to say', { cpuSeconds: 10, mediaSeconds: 4 }, { cpuSeconds: 11, mediaSeconds: 5 }, undefined],
    ['a CPU counter that went backwards (another process)', { cpuSeconds: 10, mediaSeconds: 4 }, { cpuSeconds: 5, mediaSeconds: 10 }, undefined],
  ])('%s', (_name, from, to, expected) => {
    expect(coresPerChannel(from, to)).toBe(expected);
  });
});

describe('LadderCostModel', () => {
  it('prices a seeded ladder by its seed, scaled to what the channel encodes', () => {
    const model = new LadderCostModel(SEEDS);
    expect(model.estimate('default', 100e6)).toEqual({ cores: 1.5, source: 'benchmark' });
    // A 360p source on the default ladder: a tenth of the pixels, a tenth of the cost.
    expect(model.estimate('default', 10e6).cores).toBeCloseTo(0.15, 6);
  });

  it('prices an unknown ladder at the seeds\' median cores per pixel', () => {
    const model = new LadderCostModel(SEEDS);
    // ratios 1.5e-8, 2e-8, 2e-8 → median 2e-8
    expect(model.estimate('custom', 40e6)).toEqual({ cores: 0.8, source: 'pixel-rate' });
    expect(new LadderCostModel().estimate('custom', 100e6).cores).toBeCloseTo(1.45, 6);
  });

  it('replaces the seed by the first measurement, then moves a fifth of the way to each new one', () => {
    const model = new LadderCostModel(SEEDS);
    model.observe('default', 2, 100e6);
    expect(model.estimate('default', 100e6)).toEqual({ cores: 2, source: 'measured' });
    model.observe('default', 1, 100e6);
    expect(model.estimate('default', 100e6).cores).toBeCloseTo(1.8, 6);
    // Measured on a 720p source: the same ratio prices a 1080p one.
    model.observe('small', 0.2, 10e6);
    expect(model.estimate('small', 20e6).cores).toBeCloseTo(0.4, 6);
    expect(model.known()['small']).toEqual({ cores: 0.5, source: 'measured' });
  });

  it.each([
    ['zero', 0],
    ['negative', -1],
    ['not a number', Number.NaN],
  ])('ignores a %s measurement', (_name, cores) => {
    const model = new LadderCostModel(SEEDS);
    model.observe('default', cores, 100e6);
    expect(model.estimate('default', 100e6).source).toBe('benchmark');
  });
});

describe('parseLadderCostSeeds', () => {
  it('reads the committed seed file shape', () => {
    expect(parseLadderCostSeeds({ measured: 'x', ladders: { default: { cores: 1.5, pixelsPerSecond: 1e8 } } })).toEqual({
      measured: 'x',
      ladders: { default: { cores: 1.5, pixelsPerSecond: 1e8 } },
    });
  });

  it.each([
    ['not an object', 3, /not an object/],
    ['no ladders', {}, /no "ladders"/],
    ['a zero cost', { ladders: { a: { cores: 0, pixelsPerSecond: 1 } } }, /a\.cores/],
    ['no pixel rate', { ladders: { a: { cores: 1 } } }, /a\.pixelsPerSecond/],
  ])('refuses %s', (_name, value, message) => {
    expect(() => parseLadderCostSeeds(value)).toThrow(message);
  });
});

describe('cpuSecondsFromProcStat', () => {
  it.each([
    ['a plain name', '4242 (ffmpeg) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 37 0 0 20 0 9 0 100 0 0', 2.87],
    ['a name with spaces and parentheses', '4242 (ff (x) y) R 1 4242 4242 0 -1 0 0 0 0 0 1000 500 0 0 20 0 1 0 1 0 0', 15],
    ['a truncated line', '4242 (ffmpeg) S 1 2', undefined],
    ['no command name', 'garbage', undefined],
  ])('%s', (_name, text, expected) => {
    expect(cpuSecondsFromProcStat(text)).toBe(expected);
  });
});
