/**
 * The test harness's structural check of a part (`partBoxProblem`), which stands in for one ffprobe
 * per part in the live decode checks: it must pass a real fragment and catch what a broken cut makes.
 */
import { describe, expect, it } from 'vitest';
import { partBoxProblem } from '../../helpers/package/live.js';

function box(type: string, payloadBytes: number): Buffer {
  const b = Buffer.alloc(8 + payloadBytes);
  b.writeUInt32BE(8 + payloadBytes, 0);
  b.write(type, 4, 'latin1');
  return b;
}

describe('partBoxProblem', () => {
  it('passes whole fragments, with or without styp', () => {
    expect(partBoxProblem(Buffer.concat([box('moof', 40), box('mdat', 100)]))).toBeUndefined();
    expect(partBoxProblem(Buffer.concat([box('styp', 8), box('moof', 40), box('mdat', 100), box('moof', 40), box('mdat', 7)]))).toBeUndefined();
  });

  it('finds a cut inside a box, a missing mdat, an empty mdat and stray boxes', () => {
    const whole = Buffer.concat([box('moof', 40), box('mdat', 100)]);
    expect(partBoxProblem(whole.subarray(0, whole.length - 1))).toMatch(/does not fit/);
    expect(partBoxProblem(Buffer.concat([whole, Buffer.alloc(3)]))).toMatch(/trailing bytes/);
    expect(partBoxProblem(box('moof', 40))).toMatch(/boxes moof/);
    expect(partBoxProblem(Buffer.concat([box('moof', 40), box('mdat', 0)]))).toMatch(/empty mdat/);
    expect(partBoxProblem(Buffer.concat([box('mdat', 10), box('moof', 40)]))).toMatch(/boxes mdat moof/);
    expect(partBoxProblem(Buffer.concat([box('moov', 10), whole]))).toMatch(/boxes moov moof mdat/);
  });
});
