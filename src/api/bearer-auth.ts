import { ErrorCode } from '../core/errors.js';
import { constantTimeEqual, secretFingerprint } from '../core/secrets.js';

/**
 * Bearer-token authentication of the ops API (RFC 6750), as a pure function of the `Authorization`
 * header and the configured token. No header (or not a Bearer one) → 401 with a challenge; a wrong
 * token → 403. Without a configured token the API is open (the server allows that on loopback only).
 */

export const REALM = 'livepipe';

/** Identity written to audit lines when no token is configured. */
export const OPEN_MODE_IDENTITY = 'loopback-open';

/** Minimum API token length: it is the only credential guarding the channel keys. */
export const MIN_TOKEN_LENGTH = 16;

/** RFC 6750 `b64token`: the characters a bearer token may contain. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** Whether a configured token can be sent as `Authorization: Bearer <token>` at all. */
export function isBearerToken(token: string): boolean {
  return B64TOKEN.test(token);
}

export type AuthOutcome =
  | { ok: true; who: string }
  | { ok: false; status: 401 | 403; code: ErrorCode; message: string; challenge: string };

/** Who a token is in logs: `token:` + a 12-hex-digit SHA-256 prefix, never the token. */
export function tokenIdentity(token: string): string {
  return `token:${secretFingerprint(token)}`;
}

export function authenticate(authorization: string | undefined, token: string | undefined): AuthOutcome {
  if (token === undefined) return { ok: true, who: OPEN_MODE_IDENTITY };
  if (authorization === undefined || authorization.trim() === '') {
    return {
      ok: false,
      status: 401,
      code: ErrorCode.Unauthorized,
      message: 'missing bearer token (send "Authorization: Bearer <LIVEPIPE_API_TOKEN>")',
      challenge: `Bearer realm="${REALM}"`,
    };
  }
  const match = /^Bearer +(\S+) *$/i.exec(authorization);
  if (match === null || !B64TOKEN.test(match[1]!)) {
    return {
      ok: false,
      status: 401,
      code: ErrorCode.Unauthorized,
      message: 'malformed Authorization header: expected "Bearer <token>"',
      challenge: `Bearer realm="${REALM}", error="invalid_request"`,
    };
  }
  if (!constantTimeEqual(match[1]!, token)) {
    return {
      ok: false,
      status: 403,
      code: ErrorCode.Forbidden,
      message: 'invalid bearer token',
      challenge: `Bearer realm="${REALM}", error="invalid_token"`,
    };
  }
  return { ok: true, who: tokenIdentity(token) };
}
