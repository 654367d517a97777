import { describe, expect, it } from 'vitest';
import {
  AdmissionStage,
  ConnectionAdmission,
  DEFAULT_ADMISSION_LIMITS,
  STALLED_AFTER_MS,
  ShedTally,
  addressKey,
  admissionLimitProblems,
  type AdmissionLimits,
} from '../../../src/ingest/connection-admission.js';

const small: AdmissionLimits = { maxConnections: 6, maxPending: 4, maxPendingPerAddress: 3, pendingTimeoutMs: 5000 };

/** A step of a scenario: a connection arrives, advances, authenticates, closes, or time passes. */
type Step =
  | { at: number; connect: string; from: string; evicts?: Array<[string, string]>; refused?: true }
  | { at: number; progress: string; stage: AdmissionStage }
  | { at: number; auth: string }
  | { at: number; close: string }
  | { at: number; expire: string[] };

function run(limits: AdmissionLimits, steps: Step[]): void {
  const admission = new ConnectionAdmission<string>(limits);
  for (const step of steps) {
    if ('connect' in step) {
      const decision = admission.admit(step.connect, step.from, step.at);
      if (step.refused === true) {
        expect(decision, step.connect).toEqual({ admitted: false, reason: 'refused_full' });
      } else {
        expect(decision, step.connect).toEqual({ admitted: true, evict: (step.evicts ?? []).map(([key, reason]) => ({ key, reason })) });
      }
    } else if ('progress' in step) {
      admission.progress(step.progress, step.stage, step.at);
    } else if ('auth' in step) {
      admission.authenticated(step.auth);
    } else if ('close' in step) {
      admission.release(step.close);
    } else {
      expect(admission.expired(step.at)).toEqual(step.expire);
    }
  }
}

describe('ConnectionAdmission', () => {
  const table: Array<[string, AdmissionLimits, Step[]]> = [
    ['admits under every cap', small, [
      { at: 0, connect: 'a1', from: 'A' },
      { at: 0, connect: 'b1', from: 'B' },
      { at: 0, connect: 'a2', from: 'A' },
    ]],
    ['over the per-address cap, evicts that address\'s oldest instead of refusing the newcomer', small, [
      { at: 0, connect: 'a1', from: 'A' },
      { at: 1, connect: 'a2', from: 'A' },
      { at: 2, connect: 'a3', from: 'A' },
      { at: 3, connect: 'a4', from: 'A', evicts: [['a1', 'evicted_address']] },
      { at: 4, connect: 'a5', from: 'A', evicts: [['a2', 'evicted_address']] },
    ]],
    ['evicts the least advanced first: silent before handshaking before handshaken before connected', small, [
      { at: 0, connect: 'a1', from: 'A' },
      { at: 0, connect: 'a2', from: 'A' },
      { at: 0, connect: 'a3', from: 'A' },
      { at: 1, progress: 'a1', stage: AdmissionStage.Connected },
      { at: 1, progress: 'a2', stage: AdmissionStage.Handshaken },
      { at: 1, progress: 'a3', stage: AdmissionStage.Handshaking },
      { at: 2, connect: 'a4', from: 'A', evicts: [['a3', 'evicted_address']] },
      // a4 is silent now, and the least advanced.
      { at: 3, connect: 'a5', from: 'A', evicts: [['a4', 'evicted_address']] },
      { at: 4, connect: 'a6', from: 'A', evicts: [['a5', 'evicted_address']] },
      { at: 5, progress: 'a6', stage: AdmissionStage.Handshaking },
      { at: 6, connect: 'a7', from: 'A', evicts: [['a6', 'evicted_address']] },
      { at: 7, progress: 'a7', stage: AdmissionStage.Handshaken },
      // a2 and a7 are both handshaken: the older goes.
      { at: 8, connect: 'a8', from: 'A', evicts: [['a2', 'evicted_address']] },
    ]],
    ['a stalled connection goes before one still moving, whatever its stage', small, [
      { at: 0, connect: 'idle', from: 'A' },
      { at: 0, progress: 'idle', stage: AdmissionStage.Handshaken },
      { at: STALLED_AFTER_MS, connect: 'pub', from: 'A' },
      { at: STALLED_AFTER_MS, connect: 'x', from: 'A' },
      // idle has not moved for STALLED_AFTER_MS; pub and x (silent) are fresh.
      { at: STALLED_AFTER_MS + 1, connect: 'y', from: 'A', evicts: [['idle', 'evicted_address']] },
      { at: STALLED_AFTER_MS + 2, progress: 'pub', stage: AdmissionStage.Handshaking },
      // Nothing stalled: silent x goes before handshaking pub.
      { at: STALLED_AFTER_MS + 3, connect: 'z', from: 'A', evicts: [['x', 'evicted_address']] },
    ]],
    ['the same stage again is no progress: a connection repeating a stage stalls', small, [
      { at: 0, connect: 'a1', from: 'A' },
      { at: 0, progress: 'a1', stage: AdmissionStage.Handshaking },
      { at: 900, connect: 'a2', from: 'A' },
      { at: 1500, progress: 'a1', stage: AdmissionStage.Handshaking },
      { at: 1500, connect: 'a3', from: 'A' },
      { at: 1501, connect: 'a4', from: 'A', evicts: [['a1', 'evicted_address']] },
    ]],
    ['over the total pending cap, evicts from the address with the most pending connections', small, [
      { at: 0, connect: 'b1', from: 'B' },
      { at: 1, connect: 'a1', from: 'A' },
      { at: 2, connect: 'a2', from: 'A' },
      { at: 3, connect: 'a3', from: 'A' },
      // B's older connection is spared: A holds three of the four.
      { at: 4, connect: 'c1', from: 'C', evicts: [['a1', 'evicted_total']] },
    ]],
    ['an authenticated connection leaves the pending caps and is never evicted', small, [
      { at: 0, connect: 'pub', from: 'A' },
      { at: 1, auth: 'pub' },
      { at: 2, connect: 'a1', from: 'A' },
      { at: 3, connect: 'a2', from: 'A' },
      { at: 4, connect: 'a3', from: 'A' },
      { at: 5, connect: 'a4', from: 'A', evicts: [['a1', 'evicted_address']] },
      { at: 9000, expire: ['a2', 'a3', 'a4'] },
    ]],
    ['the total cap counts publishers; full of publishers, a newcomer is refused', { ...small, maxConnections: 3, maxPending: 3 }, [
      { at: 0, connect: 'p1', from: 'A' },
      { at: 0, auth: 'p1' },
      { at: 0, connect: 'p2', from: 'B' },
      { at: 0, auth: 'p2' },
      { at: 0, connect: 'x', from: 'C' },
      // Full (2 publishers + x): a newcomer evicts the pending x.
      { at: 1, connect: 'y', from: 'D', evicts: [['x', 'evicted_total']] },
      { at: 1, auth: 'y' },
      { at: 2, connect: 'z', from: 'E', refused: true },
      { at: 3, close: 'p1' },
      { at: 4, connect: 'z', from: 'E' },
    ]],
    ['the deadline closes pending connections oldest first, not the ones that authenticated or left', small, [
      { at: 0, connect: 'a1', from: 'A' },
      { at: 1000, connect: 'b1', from: 'B' },
      { at: 2000, connect: 'c1', from: 'C' },
      { at: 2500, connect: 'd1', from: 'D' },
      { at: 3000, auth: 'c1' },
      { at: 3000, close: 'b1' },
      { at: 4999, expire: [] },
      { at: 5000, expire: ['a1'] },
      { at: 5000, expire: [] },
      { at: 7499, expire: [] },
      { at: 7500, expire: ['d1'] },
    ]],
    ['a connection evicted or expired is forgotten: its slot is free', small, [
      { at: 0, connect: 'a1', from: 'A' },
      { at: 0, connect: 'a2', from: 'A' },
      { at: 0, connect: 'a3', from: 'A' },
      { at: 5000, expire: ['a1', 'a2', 'a3'] },
      { at: 5001, connect: 'a4', from: 'A' },
      { at: 5001, connect: 'a5', from: 'A' },
      { at: 5001, connect: 'a6', from: 'A' },
    ]],
  ];
  it.each(table)('%s', (_name, limits, steps) => run(limits, steps));

  it('holds a flood of 1 000 silent connections from one address to its cap and keeps a publisher that is moving', () => {
    const admission = new ConnectionAdmission<string>(DEFAULT_ADMISSION_LIMITS);
    let now = 0;
    const evicted = new Set<string>();
    const flood = (n: number, prefix: string) => {
      for (let i = 0; i < n; i++) {
        const decision = admission.admit(`${prefix}${i}`, '127.0.0.1', now);
        if (decision.admitted) for (const e of decision.evict) evicted.add(e.key);
        now += 1;
      }
    };
    flood(1000, 'idle');
    expect(admission.pendingFrom('127.0.0.1')).toBe(DEFAULT_ADMISSION_LIMITS.maxPendingPerAddress);
    admission.admit('publisher', '127.0.0.1', now);
    // More flood arrives before the publisher's first bytes are read …
    flood(DEFAULT_ADMISSION_LIMITS.maxPendingPerAddress - 1, 'burst');
    admission.progress('publisher', AdmissionStage.Handshaking, now);
    // … and a lot more afterwards, while it handshakes one stage per round trip.
    for (const stage of [AdmissionStage.Handshaken, AdmissionStage.Connected]) {
      flood(500, `flood${stage}-`);
      admission.progress('publisher', stage, now);
    }
    flood(500, 'last');
    expect(evicted.has('publisher')).toBe(false);
    admission.authenticated('publisher');
    // It took one of the address's pending slots with it; the flood keeps the rest.
    expect(admission.pendingFrom('127.0.0.1')).toBe(DEFAULT_ADMISSION_LIMITS.maxPendingPerAddress - 1);
    expect(admission.connectionCount).toBe(DEFAULT_ADMISSION_LIMITS.maxPendingPerAddress);
  });
});

describe('admissionLimitProblems', () => {
  it.each<[string, AdmissionLimits, string[]]>([
    ['defaults', { ...DEFAULT_ADMISSION_LIMITS }, []],
    ['zero per address', { ...DEFAULT_ADMISSION_LIMITS, maxPendingPerAddress: 0 }, ['maxPendingPerAddress must be a positive integer, got 0']],
    ['fractional deadline', { ...DEFAULT_ADMISSION_LIMITS, pendingTimeoutMs: 1.5 }, ['pendingTimeoutMs must be a positive integer, got 1.5']],
    ['pending above total', { ...DEFAULT_ADMISSION_LIMITS, maxConnections: 10, maxPending: 20, maxPendingPerAddress: 5 }, ['maxPending (20) exceeds maxConnections (10)']],
    ['per address above pending', { ...DEFAULT_ADMISSION_LIMITS, maxPending: 10, maxPendingPerAddress: 20 }, ['maxPendingPerAddress (20) exceeds maxPending (10)']],
  ])('%s', (_name, limits, expected) => {
    expect(admissionLimitProblems(limits)).toEqual(expected);
  });
});

describe('addressKey', () => {
  it.each<[string | undefined, string]>([
    ['192.0.2.7', '192.0.2.7'],
    ['::ffff:192.0.2.7', '192.0.2.7'],
    ['::FFFF:127.0.0.1', '127.0.0.1'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::9', '2001:db8:1:2::/64'],
    ['2001:0db8:0001:0002:ffff::1', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    [undefined, '?'],
  ])('%s → %s', (address, expected) => {
    expect(addressKey(address)).toBe(expected);
  });
});

describe('ShedTally', () => {
  it('counts per reason until taken, then starts over', () => {
    const tally = new ShedTally();
    expect(tally.take()).toBeUndefined();
    tally.add('evicted_address');
    tally.add('evicted_address');
    tally.add('deadline');
    expect(tally.take()).toEqual({ evicted_address: 2, deadline: 1 });
    expect(tally.take()).toBeUndefined();
  });
});
