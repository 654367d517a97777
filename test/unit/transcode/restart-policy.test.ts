import { describe, expect, it } from 'vitest';
import { RestartPolicy, type RestartPolicyOptions } from '../../../src/transcode/restart-policy.js';

/** Delays decided for failures given as [at, ranMs]; -1 for "gave up". */
function delays(options: RestartPolicyOptions, failures: Array<[number, number]>, random = () => 1): number[] {
  const policy = new RestartPolicy(options, random);
  return failures.map(([at, ran]) => {
    const d = policy.onFailure(at, ran);
    return d.restart ? d.delayMs : -1;
  });
}

/** n fast failures (each run lived `ran` ms), one second apart. */
const fast = (n: number, ran = 100): Array<[number, number]> => Array.from({ length: n }, (_, i) => [i * 1000, ran]);

describe('RestartPolicy', () => {
  it.each<[string, RestartPolicyOptions, Array<[number, number]>, () => number, number[]]>([
    ['the first failure restarts at once (defaults)', {}, fast(1), () => 1, [0]],
    ['fast failures back off 250, 500, 1000, then the 2 s cap (defaults, no jitter)', {}, fast(7), () => 1, [0, 250, 500, 1000, 2000, 2000, 2000]],
    ['jitter keeps 50 % of the step at least, never the immediate first restart', {}, fast(5), () => 0, [0, 125, 250, 500, 1000]],
    ['a custom backoff and cap', { backoffDelayMs: 100, maxDelayMs: 300 }, fast(5), () => 1, [0, 100, 200, 300, 300]],
    ['runs that lived stableAfterMs are healthy: every failure restarts at once', { stableAfterMs: 5000 }, fast(6, 6000), () => 1, [0, 0, 0, 0, 0, 0]],
    [
      'a healthy run ends the series: the failure after it restarts at once, then backs off again',
      { stableAfterMs: 5000 },
      [[0, 10], [1000, 10], [2000, 10], [20_000, 8000], [21_000, 10]],
      () => 1,
      [0, 250, 500, 0, 250],
    ],
    ['no give-up by default, however many failures', {}, fast(40), () => 1, [0, 250, 500, 1000, ...Array<number>(36).fill(2000)]],
    ['the optional guard gives up past maxRestarts within the window', { maxRestarts: 3, windowMs: 10_000 }, fast(4), () => 1, [0, 250, 500, -1]],
    [
      'the guard counts only failures inside its window',
      { maxRestarts: 2, windowMs: 1500, stableAfterMs: 100 },
      [[0, 500], [1000, 500], [2000, 500], [3000, 500]],
      () => 1,
      [0, 0, 0, 0],
    ],
  ])('%s', (_name, options, failures, random, expected) => {
    expect(delays(options, failures, random)).toEqual(expected);
  });

  it('names the give-up cause', () => {
    const p = new RestartPolicy({ maxRestarts: 3, windowMs: 1000 }, () => 0.5);
    expect([0, 100, 200].map((t) => p.onFailure(t, 1).restart)).toEqual([true, true, true]);
    expect(p.onFailure(300, 1)).toMatchObject({ restart: false, reason: expect.stringMatching(/crash loop: 4 failures within 1 s \(limit 3\)/) });
    expect(p.recentFailures(1250)).toBe(1);
  });

  it('reports a crash loop from crashLoopAfter fast failures in a row, and when the failing began', () => {
    const p = new RestartPolicy({ crashLoopAfter: 3 }, () => 1);
    expect([p.crashLooping(), p.failingSince(), p.consecutiveFailures()]).toEqual([false, undefined, 0]);
    p.onFailure(1000, 10);
    p.onFailure(2000, 10);
    expect([p.crashLooping(), p.failingSince(), p.consecutiveFailures()]).toEqual([false, 1000, 2]);
    p.onFailure(3000, 10);
    expect([p.crashLooping(), p.failingSince(), p.consecutiveFailures()]).toEqual([true, 1000, 3]);
    // The run after it lives long enough: healthy, the loop is over.
    expect(p.onHealthy()).toBe(true);
    expect([p.crashLooping(), p.failingSince(), p.consecutiveFailures()]).toEqual([false, undefined, 0]);
    expect(p.onHealthy()).toBe(false);
    // A failure of a healthy run starts a new series at its own time.
    expect(p.onFailure(9000, 6000)).toEqual({ restart: true, delayMs: 0 });
    expect(p.failingSince()).toBe(9000);
  });
});
