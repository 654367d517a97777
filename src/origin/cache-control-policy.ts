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
 * | held too long     | `no-store` (503 after 3 × TD: a takeover, a stall)       |
 * | malformed request | `no-store`                                               |
 *
 * A blocking response is keyed on `_HLS_msn`/`_HLS_part`/`_HLS_skip` by the CDN and will never
 * change, hence the long TTL; a plain playlist changes every part.
 */
export type ResponseClass = 'blocking-playlist' | 'playlist' | 'media' | 'multivariant' | 'overload' | 'malformed';

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
    case 'overload':
    case 'malformed':
      return 'no-store';
  }
}

/** max-age takes whole seconds: round down (never cache longer than the rule), at least 1. */
function maxAge(seconds: number): string {
  return `public, max-age=${Math.max(1, Math.floor(seconds))}`;
}
