import { describe, expect, it } from 'vitest';
import { RealtimeTracker } from '../../../src/transcode/realtime-tracker.js';

/**
 * Feeds a tracker progress reports every 500 ms, as ffmpeg's `-progress` does: the encoder encodes
 * `speed` media seconds per wall second after a start lag of `startLagSeconds`. Returns every status.
 */
function drive(seconds: number, speed: number | ((t: number) => number), startLagSeconds = 0.5) {
  const mediaStartedAt = 1_000_000;
  const runStartedAt = mediaStartedAt + startLagSeconds * 1000;
  const tracker = new RealtimeTracker(runStartedAt);
  const statuses = [];
  let out = 0;
  for (let t = 0.5; t <= seconds; t += 0.5) {
    out += 0.5 * (typeof speed === 'number' ? speed : speed(t));
    statuses.push({ t, ...tracker.update(runStartedAt + t * 1000, out, mediaStartedAt) });
  }
  return statuses;
}

describe('RealtimeTracker', () => {
  it.each([
    ['at realtime: never behind, lag flat', 1.0, 60, false],
    ['a hair slower than realtime (0.99×) for a minute: lag under the thresholds', 0.99, 60, false],
    ['at 0.8×: behind once the lag passes 3 s', 0.8, 60, true],
    ['at 0.5× for only 8 s: still warming up', 0.5, 8, false],
  ])('%s', (_name, speed, seconds, behind) => {
    const statuses = drive(seconds, speed);
    expect(statuses.at(-1)!.behind).toBe(behind);
    if (behind) expect(statuses.at(-1)!.reason).toMatch(/^behind: encoding at 0\.80× realtime, edge \d+\.\d s behind arrival$/);
  });

  it('reports the edge lag as wall time since the first frame arrived minus media encoded', () => {
    const last = drive(30, 1.0, 0.5).at(-1)!;
    expect(last.edgeLagSeconds).toBeCloseTo(0.5, 6);
    expect(last.speed).toBeCloseTo(1, 6);
  });

  it('flags a slow encoder with a growing lag before the lag alone would (speed under 0.97 over a full window)', () => {
    // 0.95×: the lag grows 0.05 s per second; from a 1.5 s start it passes 1.5 s at once, 3 s only after 30 s.
    const statuses = drive(28, 0.95, 1.5);
    const first = statuses.find((s) => s.behind);
    expect(first).toBeDefined();
    expect(first!.edgeLagSeconds!).toBeLessThan(3);
  });

  it('clears once caught up (lag under half the threshold, speed back), not on the threshold itself', () => {
    // 40 s at 0.8× (lag ≈ 8.5 s), then 1.5× until the lag is gone.
    const statuses = drive(120, (t) => (t <= 40 ? 0.8 : 1.5));
    const flagged = statuses.findIndex((s) => s.behind);
    const cleared = statuses.findIndex((s, i) => i > flagged && !s.behind);
    expect(flagged).toBeGreaterThan(-1);
    expect(cleared).toBeGreaterThan(flagged);
    expect(statuses[cleared]!.edgeLagSeconds!).toBeLessThan(1.5);
    // Between the two, passing under 3 s did not clear it.
    expect(statuses.slice(flagged, cleared).every((s) => s.behind)).toBe(true);
  });

  it('does not judge the catch-up at the start of a run (it begins a GOP in the past)', () => {
    // Starts 2.5 s behind (GOP backlog + probe), catches up at 2× within 3 s, then realtime.
    const statuses = drive(40, (t) => (t <= 3 ? 1.8 : 1.0), 2.5);
    expect(statuses.some((s) => s.behind)).toBe(false);
  });
});
