import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ErrorCode, isLivepipeError } from '../../../src/core/errors.js';
import { INPUT_LIMITS, assertWithinInputLimits, inputLimitViolation } from '../../../src/transcode/input-limits.js';

describe('input limits', () => {
  it.each([
    [{ width: 640, height: 360, frameRate: 30 }, undefined],
    [{ width: 32, height: 32, frameRate: 0.5 }, undefined],
    [{ width: 7680, height: 4320, frameRate: 60 }, undefined],
    [{ width: 8192, height: 4320, frameRate: 240 }, undefined],
    [{ width: 4320, height: 7680, frameRate: 30 }, undefined], // portrait 8K
    [{ width: 1920, height: 1080, frameRate: 0 }, undefined], // rate unknown: the ladder's fallback applies
    [{ width: 16, height: 16, frameRate: 30 }, 'video 16x16 is below the minimum picture size 32x32'],
    [{ width: 640, height: 4, frameRate: 30 }, 'video 640x4 is below the minimum picture size 32x32'],
    [{ width: 10000, height: 64, frameRate: 2 }, 'video 10000x64 is above the maximum of 8192 pixels a side'],
    [{ width: 8192, height: 8192, frameRate: 30 }, 'video 8192x8192 has more than 35389440 pixels (8192x4320)'],
    [{ width: 128, height: 72, frameRate: 1000 }, "video frame rate 1000 fps is above the 240 fps limit (check the encoder's timestamps)"],
    [{ width: 128, height: 72, frameRate: 240.01 }, "video frame rate 240.01 fps is above the 240 fps limit (check the encoder's timestamps)"],
  ])('%o → %s', (probe, violation) => {
    expect(inputLimitViolation(probe)).toBe(violation);
  });

  it('throws InputUnusable with the label and the violation', () => {
    let caught: unknown;
    try {
      assertWithinInputLimits({ width: 16, height: 16, frameRate: 5, videoCodec: 'h264', hasAudio: false }, 'input refused');
    } catch (err) {
      caught = err;
    }
    expect(isLivepipeError(caught, ErrorCode.InputUnusable)).toBe(true);
    expect((caught as Error).message).toBe('input refused: video 16x16 is below the minimum picture size 32x32');
  });

  it('accepts exactly the sizes and rates inside the limits', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20_000 }), fc.integer({ min: 1, max: 20_000 }), fc.double({ min: 0, max: 2000, noNaN: true }), (width, height, frameRate) => {
        const inside =
          width >= INPUT_LIMITS.minWidth &&
          height >= INPUT_LIMITS.minHeight &&
          width <= INPUT_LIMITS.maxWidth &&
          height <= INPUT_LIMITS.maxHeight &&
          width * height <= INPUT_LIMITS.maxPixels &&
          frameRate <= INPUT_LIMITS.maxFrameRate;
        expect(inputLimitViolation({ width, height, frameRate }) === undefined).toBe(inside);
      }),
      { numRuns: 2000 },
    );
  });
});
