import { describe, expect, it } from 'vitest';
import { cacheControlFor } from '../../../src/origin/cache-control-policy.js';

describe('cacheControlFor (Appendix B.1)', () => {
  it.each([
    ['blocking-playlist', true, 2, 'public, max-age=12'],
    ['blocking-playlist', false, 2, 'public, max-age=8'],
    ['blocking-playlist', true, 6, 'public, max-age=36'],
    ['playlist', true, 2, 'public, max-age=1'],
    ['playlist', true, 4, 'public, max-age=2'],
    ['playlist', true, 1, 'public, max-age=1'],
    ['playlist', true, 3, 'public, max-age=1'],
    ['playlist', false, 4, 'public, max-age=4'],
    ['media', true, 4, 'public, max-age=31536000, immutable'],
    ['media', false, 4, 'public, max-age=4'],
    ['multivariant', true, 0, 'public, max-age=2'],
    ['multivariant', false, 0, 'public, max-age=1'],
    ['overload', false, 4, 'no-store'],
    ['malformed', false, 4, 'no-store'],
    // 503 of a request held 3 × TD: B.1's error time for CDNs, stale at once in a browser.
    ['held-playlist', false, 2, 'public, max-age=0, s-maxage=8'],
    ['held-media', false, 2, 'public, max-age=0, s-maxage=2'],
    ['held-media', false, 0.5, 'public, max-age=0, s-maxage=1'],
  ] as const)('%s success=%s td=%i → %s', (cls, ok, td, expected) => {
    expect(cacheControlFor(cls, ok, td)).toBe(expected);
  });

  it('multivariant max-age is configurable', () => {
    expect(cacheControlFor('multivariant', true, 0, { multivariantMaxAge: 10 })).toBe('public, max-age=10');
  });
});
