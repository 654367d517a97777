import { ErrorCode, LivepipeError } from '../core/errors.js';
import type { InputProbe } from './input-probe.js';

/**
 * What livepipe accepts from a source, in one place. A probe outside these limits fails the channel
 * with `InputUnusable` and a message naming the limit, before any encoder starts.
 *
 * - Picture size: at least 32×32 (two macroblocks a side; smaller is a broken encoder setting, not a
 *   picture anyone watches), at most 8192 a side and 8192×4320 pixels (8K DCI: H.264 level 6.2's
 *   largest frame is 139 264 macroblocks ≈ 8192×4352; larger does not decode on any player).
 * - Frame rate: at most 240 fps. A higher rate is nearly always broken timestamps (e.g. an encoder
 *   stamping frames 1 ms apart), and would make the channel run many times slower than realtime.
 *   Low rates are accepted and raised by the ladder instead (see `minOutputFrameRate` in
 *   `config/ladder-loader.ts`): a 0.5 fps slideshow is a legitimate source.
 */
export interface InputLimits {
  minWidth: number;
  minHeight: number;
  maxWidth: number;
  maxHeight: number;
  maxPixels: number;
  maxFrameRate: number;
}

export const INPUT_LIMITS: Readonly<InputLimits> = Object.freeze({
  minWidth: 32,
  minHeight: 32,
  maxWidth: 8192,
  maxHeight: 8192,
  maxPixels: 8192 * 4320,
  maxFrameRate: 240,
});

/** Pure: the first limit `probe` breaks, as a sentence; undefined when it is within all of them. */
export function inputLimitViolation(probe: Pick<InputProbe, 'width' | 'height' | 'frameRate'>, limits: InputLimits = INPUT_LIMITS): string | undefined {
  const size = `${probe.width}x${probe.height}`;
  if (probe.width < limits.minWidth || probe.height < limits.minHeight) {
    return `video ${size} is below the minimum picture size ${limits.minWidth}x${limits.minHeight}`;
  }
  if (probe.width > limits.maxWidth || probe.height > limits.maxHeight) {
    return `video ${size} is above the maximum of ${limits.maxWidth} pixels a side`;
  }
  if (probe.width * probe.height > limits.maxPixels) {
    return `video ${size} has more than ${limits.maxPixels} pixels (8192x4320)`;
  }
  if (probe.frameRate > limits.maxFrameRate) {
    return `video frame rate ${Math.round(probe.frameRate * 100) / 100} fps is above the ${limits.maxFrameRate} fps limit (check the encoder's timestamps)`;
  }
  return undefined;
}

/** Throws `InputUnusable` (`label: violation`) when `probe` is outside the limits. */
export function assertWithinInputLimits(probe: InputProbe, label: string, limits: InputLimits = INPUT_LIMITS): void {
  const violation = inputLimitViolation(probe, limits);
  if (violation !== undefined) throw new LivepipeError(ErrorCode.InputUnusable, `${label}: ${violation}`);
}
