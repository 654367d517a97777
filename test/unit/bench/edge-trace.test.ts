import { describe, expect, it } from 'vitest';
import { excursions } from '../../../bench/edge-trace.js';

describe('edge trace excursions', () => {
  it('groups consecutive samples above the threshold into one stretch with its start, length and peak', () => {
    const lags = [0.1, 0.4, 0.9, 0.5, 0.2, 0.36, 0.1, 0.6].map((lag, i) => ({ at: i * 0.1, lag }));
    expect(excursions(lags, 0.35).map((e) => ({ at: +e.at.toFixed(1), seconds: +e.seconds.toFixed(1), peak: e.peak }))).toEqual([
      { at: 0.1, seconds: 0.2, peak: 0.9 },
      { at: 0.5, seconds: 0, peak: 0.36 },
      { at: 0.7, seconds: 0, peak: 0.6 },
    ]);
    expect(excursions(lags, 1)).toEqual([]);
  });
});
