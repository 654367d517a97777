import { describe, expect, it } from 'vitest';
import { audioFragmentingOf, videoFragmentingOf } from '../../../src/transcode/output-fragmenting.js';

describe('videoFragmentingOf', () => {
  it.each([
    // part (s), fps → frames per fragment (0 = per frame), -frag_duration µs
    [0.5, 30, 15, 483_333],
    [0.5, 25, 12, 460_000],
    [0.5, 60, 30, 491_667],
    [0.5, 30000 / 1001, 14, 450_450],
    [0.25, 30, 7, 216_667],
    [1, 24, 24, 979_167],
    [0.2, 30, 6, 183_333],
    [0.1, 30, 3, 83_333], // the low-latency ladder
    [0.12, 25, 3, 100_000], // low-latency at 25 fps: PART-TARGET snapped to 3 frames
    [0.5, 2, 0, 0], // a slideshow raised to one frame per part: per frame
  ])('%s s parts at %s fps → %s frames', (part, fps, frames, fragDurationUs) => {
    const plan = videoFragmentingOf(part, fps);
    if (frames === 0) {
      expect(plan).toEqual({ kind: 'frame' });
      return;
    }
    expect(plan).toEqual({ kind: 'grouped', frames, fragDurationUs });
  });

  it('never lets a fragment of whole frames outgrow the part, and cuts after exactly `frames` frames', () => {
    for (let fps = 1; fps <= 120; fps += 0.5) {
      for (const part of [0.1, 0.2, 0.25, 0.3, 0.5, 0.75, 1, 2]) {
        const plan = videoFragmentingOf(part, fps);
        if (plan.kind === 'frame') {
          expect(Math.floor(part * fps + 1e-6)).toBeLessThan(2);
          continue;
        }
        const frameUs = 1e6 / fps;
        // ffmpeg closes the fragment at the first packet at least fragDurationUs after its start
        const cutAfter = Math.ceil((plan.fragDurationUs - 1e-6) / frameUs);
        expect(cutAfter).toBe(plan.frames);
        expect(plan.frames / fps).toBeLessThanOrEqual(part + 1e-9);
        expect(plan.frames / fps).toBeGreaterThan(part - 1 / fps);
      }
    }
  });

  it('falls back to per-frame fragments when the rate is unknown', () => {
    expect(videoFragmentingOf(0.5, Number.NaN)).toEqual({ kind: 'frame' });
    expect(videoFragmentingOf(0.5, 0)).toEqual({ kind: 'frame' });
  });
});

describe('audioFragmentingOf', () => {
  it.each([
    [0.5, 48_000, 3, 53_333],
    [0.5, 44_100, 3, 58_050],
    [1, 48_000, 7, 138_667],
    [0.2, 48_000, 0, 0], // one frame is already 10.7 % of the part: per frame
    [0.1, 48_000, 0, 0],
  ])('%s s parts at %s Hz → %s AAC frames per fragment', (part, rate, frames, fragDurationUs) => {
    const plan = audioFragmentingOf(part, rate);
    if (frames === 0) expect(plan).toEqual({ kind: 'frame' });
    else expect(plan).toEqual({ kind: 'grouped', frames, fragDurationUs });
  });

  it('keeps a fragment within 15 % of the part, so whole fragments fill ≥ 85 % of it', () => {
    for (const rate of [8000, 16_000, 22_050, 32_000, 44_100, 48_000, 96_000]) {
      for (const part of [0.1, 0.2, 0.25, 0.5, 1, 2]) {
        const plan = audioFragmentingOf(part, rate);
        if (plan.kind === 'frame') continue;
        const fragment = (plan.frames * 1024) / rate;
        expect(fragment).toBeLessThanOrEqual(0.15 * part + 1e-9);
        // greedy packing leaves less than one fragment unused
        expect(Math.floor(part / fragment) * fragment).toBeGreaterThanOrEqual(0.85 * part - 1e-9);
      }
    }
  });
});
