import { describe, expect, it } from 'vitest';
import { parseBases, quantile } from '../../../bench/serve-startup.bench.js';

describe('serve-startup bench helpers', () => {
  it('interpolates quantiles between order statistics, whatever the input order', () => {
    expect(quantile([30, 10, 20], 0.5)).toBe(20);
    expect(quantile([40, 10, 30, 20], 0.5)).toBe(25);
    expect(quantile([10, 20, 30, 40, 50], 0.25)).toBe(20);
    expect(quantile([10, 20], 0.75)).toBe(17.5);
    expect(quantile([7], 0.9)).toBe(7);
    expect(quantile([], 0.5)).toBeNaN();
  });

  it('reads the checkouts to compare: labelled, or a bare path as "base"', () => {
    expect(parseBases(undefined)).toEqual([]);
    expect(parseBases(' ')).toEqual([]);
    expect(parseBases('/tmp/a')).toEqual([['base', '/tmp/a']]);
    expect(parseBases('old=/tmp/a, s3only=/tmp/b')).toEqual([
      ['old', '/tmp/a'],
      ['s3only', '/tmp/b'],
    ]);
  });
});
