import { describe, expect, it } from 'vitest';
import { RestartPolicy } from '../../../src/transcode/restart-policy.js';

describe('RestartPolicy', () => {
  it('backs off exponentially with jitter in [50%, 100%] of the step, capped', () => {
    const low = new RestartPolicy({ initialDelayMs: 100, maxDelayMs: 1000, maxRestarts: 100 }, () => 0);
    const high = new RestartPolicy({ initialDelayMs: 100, maxDelayMs: 1000, maxRestarts: 100 }, () => 1);
    const delays = (p: RestartPolicy) =>
      [0, 1, 2, 3, 4, 5].map((i) => {
        const d = p.onFailure(i * 10, 1);
        return d.restart ? d.delayMs : -1;
      });
    expect(delays(low)).toEqual([50, 100, 200, 400, 500, 500]);
    expect(delays(high)).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('resets the backoff after a stable run', () => {
    const p = new RestartPolicy({ initialDelayMs: 100, stableAfterMs: 1000, maxRestarts: 100 }, () => 1);
    p.onFailure(0, 10);
    p.onFailure(10, 10);
    expect(p.onFailure(20, 5000)).toEqual({ restart: true, delayMs: 100 });
  });

  it('gives up after more than maxRestarts failures inside the window, not outside it', () => {
    const p = new RestartPolicy({ maxRestarts: 3, windowMs: 1000 }, () => 0.5);
    expect([0, 100, 200].map((t) => p.onFailure(t, 1).restart)).toEqual([true, true, true]);
    const giveUp = p.onFailure(300, 1);
    expect(giveUp).toMatchObject({ restart: false, reason: expect.stringMatching(/crash loop: 4 failures within 1 s/) });

    const spread = new RestartPolicy({ maxRestarts: 3, windowMs: 1000 }, () => 0.5);
    expect([0, 600, 1200, 1800, 2400].map((t) => spread.onFailure(t, 1).restart)).toEqual([true, true, true, true, true]);
    expect(spread.recentFailures(2400)).toBe(2);
  });
});
