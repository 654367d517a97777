import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { constantTimeEqual, generateStreamKey, secretFingerprint } from '../../../src/core/secrets.js';

describe('constantTimeEqual', () => {
  it.each([
    ['same', 'same', true],
    ['same', 'Same', false],
    ['same', 'sam', false],
    ['same', 'samee', false],
    ['', '', true],
    ['', 'x', false],
    ['clé-ünïcode', 'clé-ünïcode', true],
  ])('%j vs %j → %s', (a, b, equal) => {
    expect(constantTimeEqual(a, b)).toBe(equal);
  });

  it('agrees with === on arbitrary strings of any length', () => {
    fc.assert(fc.property(fc.string(), fc.string(), (a, b) => constantTimeEqual(a, b) === (a === b)));
    fc.assert(fc.property(fc.string(), (a) => constantTimeEqual(a, a)));
  });
});

describe('generateStreamKey / secretFingerprint', () => {
  it('generates distinct 32-character URL-safe keys that pass the channel schema length rule', () => {
    const keys = new Set(Array.from({ length: 100 }, generateStreamKey));
    expect(keys.size).toBe(100);
    for (const key of keys) expect(key).toMatch(/^[A-Za-z0-9_-]{32}$/);
  });

  it('fingerprints without revealing the secret', () => {
    expect(secretFingerprint('secret-value')).toMatch(/^[0-9a-f]{12}$/);
    expect(secretFingerprint('secret-value')).not.toBe(secretFingerprint('secret-valuf'));
  });
});
