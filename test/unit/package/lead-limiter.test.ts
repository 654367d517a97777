import { describe, expect, it } from 'vitest';
import { LeadLimiter } from '../../../src/package/lead-limiter.js';

const T0 = 1_000_000;

/** Whether `promise` has settled after the microtasks queued so far ran. */
async function settled(promise: Promise<void>): Promise<boolean> {
  let done = false;
  void promise.then(() => (done = true));
  await new Promise((r) => setImmediate(r));
  return done;
}

describe('LeadLimiter', () => {
  it('holds nothing while no rendition is paced', async () => {
    const limiter = new LeadLimiter();
    expect(await settled(limiter.waitFor(T0 + 5000, 100, 60_000))).toBe(true);
  });

  it('holds a part until every paced rendition is within the lead of its end', async () => {
    const limiter = new LeadLimiter();
    limiter.advanced('audio', T0);
    limiter.advanced('audio-2', T0 + 400);
    // A video part ending 300 ms after the slower audio edge: more than a 100 ms lead.
    const part = limiter.waitFor(T0 + 300, 100, 60_000);
    expect(await settled(part)).toBe(false);
    expect(limiter.waiting).toBe(1);
    limiter.advanced('audio', T0 + 150);
    expect(await settled(part)).toBe(false);
    // Within the lead now.
    limiter.advanced('audio', T0 + 200);
    expect(await settled(part)).toBe(true);
    expect(limiter.waiting).toBe(0);
    // Parts within the lead pass at once.
    expect(await settled(limiter.waitFor(T0 + 250, 100, 60_000))).toBe(true);
  });

  it('lets parts go when the paced rendition is released (pacing stopped, its run ended)', async () => {
    const limiter = new LeadLimiter();
    limiter.advanced('audio', T0);
    const part = limiter.waitFor(T0 + 1000, 100, 60_000);
    expect(await settled(part)).toBe(false);
    limiter.released('audio');
    expect(await settled(part)).toBe(true);
  });

  it('holds a part no longer than maxHoldMs', async () => {
    const limiter = new LeadLimiter();
    limiter.advanced('audio', T0);
    const startedAt = Date.now();
    await limiter.waitFor(T0 + 10_000, 100, 30);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(25);
    expect(limiter.waiting).toBe(0);
  });

  it('a paced rendition a part timed out on holds nothing more until it lists media again', async () => {
    const limiter = new LeadLimiter();
    limiter.advanced('audio', T0);
    await limiter.waitFor(T0 + 1000, 100, 10);
    // The audio stopped: later parts are not held each in turn.
    expect(await settled(limiter.waitFor(T0 + 1100, 100, 60_000))).toBe(true);
    // It lists again: it holds parts again.
    limiter.advanced('audio', T0 + 1200);
    const part = limiter.waitFor(T0 + 1500, 100, 60_000);
    expect(await settled(part)).toBe(false);
    limiter.released('audio');
    await part;
  });

  it('close lets every waiting part go and holds nothing after', async () => {
    const limiter = new LeadLimiter();
    limiter.advanced('audio', T0);
    const parts = [limiter.waitFor(T0 + 1000, 100, 60_000), limiter.waitFor(T0 + 2000, 100, 60_000)];
    limiter.close();
    expect(await Promise.all(parts.map(settled))).toEqual([true, true]);
    expect(await settled(limiter.waitFor(T0 + 5000, 100, 60_000))).toBe(true);
  });
});
