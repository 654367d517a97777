import { describe, expect, it } from 'vitest';
import { ErrorCode, isLivepipeError } from '../../../src/core/errors.js';
import { Admission } from '../../../src/transcode/admission.js';

describe('Admission', () => {
  it('refuses a channel over the ladder cap with CapacityExceeded, and frees slots on release', () => {
    const admission = new Admission({ maxLadders: 2 });
    const a = admission.acquire('a');
    admission.acquire('b');
    let refused: unknown;
    try {
      admission.acquire('c');
    } catch (err) {
      refused = err;
    }
    expect(isLivepipeError(refused, ErrorCode.CapacityExceeded)).toBe(true);
    a.release();
    a.release(); // idempotent: must not free b's slot
    expect(admission.active()).toEqual(['b']);
    admission.acquire('c');
    expect(() => admission.acquire('d')).toThrow(/capacity reached: 2\/2/);
  });

  it('refuses a second transcoder for the same channel', () => {
    const admission = new Admission({ maxLadders: 3 });
    admission.acquire('a');
    expect(() => admission.acquire('a')).toThrow(/already has a transcoder/);
  });

  it('runs at most maxConcurrentStarts starts at once', async () => {
    const admission = new Admission({ maxLadders: 4, maxConcurrentStarts: 1 });
    let running = 0;
    let peak = 0;
    const start = async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 10));
      running--;
    };
    await Promise.all([admission.runStart(start), admission.runStart(start), admission.runStart(start)]);
    expect(peak).toBe(1);
  });

  it('rejects a nonsensical cap', () => {
    expect(() => new Admission({ maxLadders: 0 })).toThrow(/positive integer/);
  });
});
