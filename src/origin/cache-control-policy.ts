/**
 * Cache-Control per response class, following draft-pantos-hls-rfc8216bis Appendix B.1 so CDNs in
 * front of the origin cache the right things for the right time:
 *
 * | class             | success                               | error (4xx/5xx)  |
 * |-------------------|---------------------------------------|------------------|
 * | blocking playlist | 6 × target duration                   | 4 × TD           |
 * | plain playlist    | 0.5 × TD (at least 1 s)               | 1 × TD           |
 * | part/segment/init | immutable, 1 year                     | 1 × TD           |
 * | multivariant      | `multivariantMaxAge` (default 2 s)     | 1 s              |
 * | overload/shutdown | `no-store` (must not outlive the cause)                  |
 * | held too long     | CDN only: `max-age=0, s-maxage=` the error rule above    |
 * | malformed request | `no-store`                                               |
 *
 * A blocking response is keyed on `_HLS_msn`/`_HLS_part`/`_HLS_skip` by the CDN and will never
 * change, hence the long TTL; a plain playlist changes every part.
 *
 * Held too long: the 503 of a blocking reload (`held-playlist`) or of a hinted part (`held-media`)
 * that did not arrive within 3 × TD (§6.2.5.2) — a writer taking over, a stalled encoder. Appendix
 * B.1's error TTL stays for shared caches (`s-maxage`, RFC 9111 §5.2.2.10: a CDN answers the herd of
 * viewers asking that URL for it, and the origin is spared), but a browser's private cache ignores
 * `s-maxage` and `max-age=0` makes its copy stale at once: a player's retry of the same URL reaches
 * the CDN or origin again instead of meeting its own cached 503 over and over (Shaka, which retries the
 * same URL every 100 ms, stalled a minute after a cluster takeover when it was `max-age=4×TD`).
 */
export type ResponseClass = 'blocking-playlist' | 'playlist' | 'media' | 'multivariant' | 'overload' | 'malformed' | 'held-playlist' | 'held-media';

export interface CachePolicyOptions {
  /** max-age of the multivariant playlist, seconds; default 2 (it changes only when a run starts). */
  multivariantMaxAge?: number;
}

/** Parts, segments and init segments never change once written: cache for a year. */
export const IMMUTABLE = 'public, max-age=31536000, immutable';

/** `targetDuration` in seconds (EXT-X-TARGETDURATION, whole seconds). */
export function cacheControlFor(
  responseClass: ResponseClass,
  success: boolean,
  targetDuration: number,
  options: CachePolicyOptions = {},
): string {
  const td = targetDuration > 0 ? targetDuration : 1;
  switch (responseClass) {
    case 'blocking-playlist':
      return maxAge(success ? 6 * td : 4 * td);
    case 'playlist':
      return maxAge(success ? 0.5 * td : td);
    case 'media':
      return success ? IMMUTABLE : maxAge(td);
    case 'multivariant':
      return maxAge(success ? (options.multivariantMaxAge ?? 2) : 1);
    case 'held-playlist':
      return sharedCachesOnly(4 * td);
    case 'held-media':
      return sharedCachesOnly(td);
    case 'overload':
    case 'malformed':
      return 'no-store';
  }
}

/** Cached `seconds` by CDNs and other shared caches, stale at once in a browser's own cache. */
function sharedCachesOnly(seconds: number): string {
  return `public, max-age=0, s-maxage=${wholeSeconds(seconds)}`;
}

/** max-age takes whole seconds: round down (never cache longer than the rule), at least 1. */
function maxAge(seconds: number): string {
  return `public, max-age=${wholeSeconds(seconds)}`;
}

function wholeSeconds(seconds: number): number {
  return Math.max(1, Math.floor(seconds));
}
