import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProgressParser, parseClock, parseProgressBitrate } from '../../../src/transcode/progress-parser.js';

const block = [
  'frame=90',
  'fps=29.97',
  'stream_0_0_q=28.0',
  'bitrate=5156.2kbits/s',
  'total_size=1938720',
  'out_time_us=3008000',
  'out_time_ms=3008000',
  'out_time=00:00:03.008000',
  'dup_frames=1',
  'drop_frames=2',
  'speed=0.401x',
  'progress=continue',
  '',
].join('\n');

describe('progress parser', () => {
  it('parses a full block', () => {
    expect(new ProgressParser().push(block)).toEqual([
      { frame: 90, fps: 29.97, bitrate: 5_156_200, totalSize: 1_938_720, outTimeSec: 3.008, dupFrames: 1, dropFrames: 2, speed: 0.401, end: false },
    ]);
  });

  it('treats N/A as unknown and recognises the last block', () => {
    const text = 'frame=0\nfps=0.00\nbitrate=N/A\ntotal_size=N/A\nout_time_us=N/A\nout_time=N/A\nspeed=N/A\nprogress=end\n';
    expect(new ProgressParser().push(text)).toEqual([{ frame: 0, fps: 0, end: true }]);
  });

  it('falls back to out_time when out_time_us is missing, and parses negative clocks', () => {
    expect(new ProgressParser().push('out_time=01:02:03.500000\nprogress=continue\n')[0]!.outTimeSec).toBe(3723.5);
    expect(parseClock('-00:00:00.023220')).toBeCloseTo(-0.02322, 6);
  });

  it.each([
    ['800.0kbits/s', 800_000],
    ['1.5Mbits/s', 1_500_000],
    ['N/A', undefined],
    ['garbage', undefined],
  ])('bitrate %s → %s', (text, bits) => expect(parseProgressBitrate(text)).toBe(bits));

  it('ignores garbage lines and never throws', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        const parser = new ProgressParser();
        expect(() => parser.push(text)).not.toThrow();
      }),
    );
  });

  it('gives the same result however the stream is chunked', () => {
    const text = block + block.replace('frame=90', 'frame=120').replace('progress=continue', 'progress=end');
    const whole = new ProgressParser().push(text);
    expect(whole).toHaveLength(2);
    fc.assert(
      fc.property(fc.array(fc.nat(text.length), { maxLength: 20 }), (cuts) => {
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const parser = new ProgressParser();
        const got = [];
        let from = 0;
        for (const p of [...points, text.length]) {
          got.push(...parser.push(text.slice(from, p)));
          from = p;
        }
        expect(got).toEqual(whole);
      }),
    );
  });
});
