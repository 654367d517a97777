import { describe, expect, it } from 'vitest';
import { clusterNodeId } from '../../../src/cluster/node-identity.js';
import { reconnectDelayMs, redactRedisUrl } from '../../../src/cluster/redis-connection.js';
import { DEFAULT_LEASE_TIMING, EXPIRY_SLACK_MS, LeaseTiming, leaseValue, nextAttemptDelay, parseAcquireReply, parseLeaseValue, validateLeaseTiming } from '../../../src/cluster/lease-timing.js';

const timing = { ttlMs: 1500, renewIntervalMs: 400, safetyMarginMs: 300 };

describe('LeaseTiming', () => {
  it('is writable until the send time of the acquisition + TTL − margin, and no longer', () => {
    const lease = new LeaseTiming(3, 1000, timing);
    expect(lease.epoch).toBe(3);
    expect(lease.writableUntil).toBe(2200);
    expect(lease.writable(2199)).toBe(true);
    expect(lease.writable(2200)).toBe(false);
    expect(lease.expiresAt).toBe(2500);
  });

  it('counts each confirmed renewal from when it was sent, not from when its reply came', () => {
    const lease = new LeaseTiming(1, 0, timing);
    // Sent at 400, confirmed late (at 1100): the deadline is 400 + 1200, not 1100 + 1200.
    lease.renewed(400);
    expect(lease.writableUntil).toBe(1600);
    expect(lease.age(1100)).toBe(700);
  });

  it('never moves the deadline back for a reply to an older renewal', () => {
    const lease = new LeaseTiming(1, 0, timing);
    lease.renewed(800);
    lease.renewed(400);
    expect(lease.writableUntil).toBe(2000);
  });

  it('a process frozen past its deadline finds it past when it wakes (no timer needed)', () => {
    const lease = new LeaseTiming(1, 0, timing);
    lease.renewed(400);
    // SIGSTOP at 500, SIGCONT at 5000: the first check after waking refuses.
    expect(lease.writable(5000)).toBe(false);
  });
});

describe('lease settings and values', () => {
  it('accepts the defaults and refuses timings that leave no room to renew', () => {
    expect(() => validateLeaseTiming(DEFAULT_LEASE_TIMING)).not.toThrow();
    expect(() => validateLeaseTiming({ ttlMs: 1000, renewIntervalMs: 500, safetyMarginMs: 300 })).toThrow(/renewIntervalMs/);
    expect(() => validateLeaseTiming({ ttlMs: 1000, renewIntervalMs: 100, safetyMarginMs: 1000 })).toThrow(/safetyMarginMs/);
    expect(() => validateLeaseTiming({ ttlMs: 0, renewIntervalMs: 100, safetyMarginMs: 0 })).toThrow();
  });

  it('round-trips the lease value and rejects malformed ones', () => {
    expect(parseLeaseValue(leaseValue('node-a.example-8081', 42))).toEqual({ nodeId: 'node-a.example-8081', epoch: 42 });
    for (const bad of [null, undefined, '', 'node', 'node:', ':3', 'node:0', 'node:x', 'node:1.5']) expect(parseLeaseValue(bad)).toBeUndefined();
  });

  it('derives a node id from the host name and the API port unless one is configured', () => {
    expect(clusterNodeId('edge-1', 'host', 8081)).toBe('edge-1');
    expect(clusterNodeId(undefined, 'serve-7f9c.svc', 8081)).toBe('serve-7f9c.svc-8081');
    expect(clusterNodeId(undefined, '_weird host!', 9000)).toBe('weird-host--9000');
  });

  it('never shows the password of the Redis URL and backs off reconnects up to 1 s', () => {
    expect(redactRedisUrl('redis://user:s3cret@redis.local:6379/0')).not.toContain('s3cret');
    expect(redactRedisUrl('redis://redis.local:6379')).toBe('redis://redis.local:6379');
    expect([1, 2, 3, 4, 5, 20].map((attempt) => reconnectDelayMs(attempt, () => 1))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });
});

describe('acquisition replies and the standby schedule', () => {
  it('reads the acquisition script: taken with an epoch, or held elsewhere for PTTL ms', () => {
    expect(parseAcquireReply([1, 7])).toEqual({ taken: true, epoch: 7 });
    expect(parseAcquireReply([0, 1234])).toEqual({ taken: false, expiresInMs: 1234 });
    // Expired between the SET NX and the PTTL: free now.
    expect(parseAcquireReply([0, -2])).toEqual({ taken: false, expiresInMs: 0 });
    // A key without expiry, or a reply of another shape: no expiry known, poll as usual.
    expect(parseAcquireReply([0, -1])).toEqual({ taken: false, expiresInMs: undefined });
    expect(parseAcquireReply(null)).toEqual({ taken: false, expiresInMs: undefined });
    expect(parseAcquireReply([1, 0])).toEqual({ taken: false, expiresInMs: 0 });
  });

  it('tries at the regular poll, or just after the holder expiry when that comes first', () => {
    expect(nextAttemptDelay(200, undefined, 1000)).toBe(200);
    // The holder's lease runs out in 1300 ms: the poll comes first.
    expect(nextAttemptDelay(200, 2300, 1000)).toBe(200);
    // It runs out in 50 ms: try then, just past it (Redis expires a key once its clock is past the instant).
    expect(nextAttemptDelay(200, 1050, 1000)).toBe(50 + EXPIRY_SLACK_MS);
    // Already past: at once.
    expect(nextAttemptDelay(200, 900, 1000)).toBe(0);
    expect(nextAttemptDelay(-5, undefined, 1000)).toBe(0);
  });
});
