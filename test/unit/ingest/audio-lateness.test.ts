import { describe, expect, it } from 'vitest';
import { AudioLateness } from '../../../src/ingest/audio-lateness.js';

describe('AudioLateness', () => {
  it('reports the largest lateness of the window, and forgets what fell out of it', () => {
    const a = new AudioLateness(5_000);
    expect(a.maxMs(0)).toBeUndefined();
    a.observe(1_000, 1_370); // a 0.37 s PES, seen when full
    a.observe(1_400, 1_420);
    expect(a.maxMs(1_500)).toBe(370);
    a.observe(6_000, 6_010);
    // At 6 370 the 0.37 s sample (seen at 1 370) is 5 s old: out.
    expect(a.maxMs(6_370)).toBe(20);
    expect(a.maxMs(20_000)).toBeUndefined();
  });

  it('counts audio that came before its video as on time, not as negative lateness', () => {
    const a = new AudioLateness();
    a.observe(2_000, 1_950);
    expect(a.maxMs(2_000)).toBe(0);
  });
});
