import { describe, expect, it } from 'vitest';
import { keyframeGop, videoPartTarget } from '../../../src/ladder/part-target.js';

describe('videoPartTarget', () => {
  it.each([
    // [ladder part, fps, PART-TARGET, why]
    [0.2, 30, 0.2, '6 frames'],
    [0.2, 25, 0.2, '5 frames'],
    [0.5, 25, 0.5, '12 frames fill 96 %'],
    [0.5, 30, 0.5, '15 frames'],
    [0.1, 30, 0.1, '3 frames'],
    [0.1, 25, 0.12, '2 frames would fill 80 %: 3 frames'],
    [0.2, 24, 0.208334, '4 frames would fill 83 %: 5 frames'],
    [0.1, 30000 / 1001, 0.1001, '2.997 frames: 2 would fill 67 %, 3 frames (0.1001 s) fit'],
    [0.05, 10, 0.1, 'shorter than a frame: one frame'],
  ])('%d s at %d fps → %d (%s)', (part, fps, expected) => {
    expect(videoPartTarget(part, fps)).toBeCloseTo(expected, 6);
  });

  it('never leaves whole-frame parts below 85 % or above the target', () => {
    for (const fps of [10, 12.5, 15, 23.976, 24, 25, 29.97, 30, 48, 50, 59.94, 60]) {
      for (const part of [0.1, 0.15, 0.2, 0.25, 0.33, 0.5, 1]) {
        const target = videoPartTarget(part, fps);
        const frames = Math.floor(target * fps + 1e-6);
        expect(frames, `${part} s at ${fps} fps`).toBeGreaterThanOrEqual(1);
        expect(frames / fps, `${part} s at ${fps} fps`).toBeLessThanOrEqual(target + 1e-9);
        expect(frames / fps, `${part} s at ${fps} fps`).toBeGreaterThanOrEqual(0.85 * target - 1e-9);
      }
    }
  });

  it('keeps the ladder value for an unknown frame rate', () => {
    expect(videoPartTarget(0.2, 0)).toBe(0.2);
    expect(videoPartTarget(0.2, Number.NaN)).toBe(0.2);
  });
});

describe('keyframeGop: mid-segment keyframes only where they start a part', () => {
  it.each([
    // [gop, segment, part, fps, expected]
    [0.5, 1, 0.1, 30, 0.5], // 15 frames = 5 parts of 3 frames (low-latency at 30 fps)
    [0.2, 1, 0.1, 30, 0.2], // 6 frames = 2 parts
    [0.5, 1, 0.1, 25, 1], // 12.5 frames: keyframe inside a 3-frame part (0.12 s PART-TARGET)
    [0.2, 1, 0.1, 25, 1], // 5 frames against 3-frame parts
    [0.5, 1, 0.1, 30000 / 1001, 1], // 14.985 frames: drifts against the parts
    [0.4, 2, 0.5, 30, 2], // 12 frames inside 15-frame parts
    [1, 2, 0.5, 30, 1], // 30 frames = 2 parts of 15
    [1, 2, 0.5, 25, 2], // 25 frames against 12-frame parts
    [2, 2, 0.5, 25, 2], // GOP = segment: untouched
    [2, 2, 0.5, 30000 / 1001, 2],
  ])('gop %s, segment %s, part %s at %s fps → %s', (gop, segment, part, fps, expected) => {
    expect(keyframeGop({ gop, segment, part }, fps)).toBe(expected);
  });

  it('keeps the ladder GOP when the frame rate is unknown', () => {
    expect(keyframeGop({ gop: 0.5, segment: 1, part: 0.1 }, Number.NaN)).toBe(0.5);
  });
});
