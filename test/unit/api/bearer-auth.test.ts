import { describe, expect, it } from 'vitest';
import { apiTokenFromEnv } from '../../../src/api/api-server.js';
import { OPEN_MODE_IDENTITY, authenticate, isBearerToken, tokenIdentity } from '../../../src/api/bearer-auth.js';
import { ErrorCode } from '../../../src/core/errors.js';

const TOKEN = 'a-configured-token-0123456789';

describe('authenticate', () => {
  it.each([
    ['no header', undefined, 401, 'Bearer realm="livepipe"'],
    ['empty header', '   ', 401, 'Bearer realm="livepipe"'],
    ['Basic scheme', 'Basic dXNlcjpwYXNz', 401, 'Bearer realm="livepipe", error="invalid_request"'],
    ['Bearer without token', 'Bearer ', 401, 'Bearer realm="livepipe", error="invalid_request"'],
    ['two tokens', `Bearer ${TOKEN} ${TOKEN}`, 401, 'Bearer realm="livepipe", error="invalid_request"'],
    ['wrong token', 'Bearer another-token-0123456789', 403, 'Bearer realm="livepipe", error="invalid_token"'],
    ['token prefix', `Bearer ${TOKEN.slice(0, -1)}`, 403, 'Bearer realm="livepipe", error="invalid_token"'],
    ['token plus a character', `Bearer ${TOKEN}x`, 403, 'Bearer realm="livepipe", error="invalid_token"'],
  ] as const)('refuses %s', (_name, header, status, challenge) => {
    const outcome = authenticate(header, TOKEN);
    expect(outcome).toMatchObject({ ok: false, status, challenge, code: status === 401 ? ErrorCode.Unauthorized : ErrorCode.Forbidden });
  });

  it.each([`Bearer ${TOKEN}`, `bearer ${TOKEN}`, `Bearer  ${TOKEN} `])('accepts %j and names the token by fingerprint', (header) => {
    const outcome = authenticate(header, TOKEN);
    expect(outcome).toEqual({ ok: true, who: tokenIdentity(TOKEN) });
    if (outcome.ok) expect(outcome.who).not.toContain(TOKEN);
  });

  it('is open without a configured token, whatever the header', () => {
    expect(authenticate(undefined, undefined)).toEqual({ ok: true, who: OPEN_MODE_IDENTITY });
    expect(authenticate('Bearer whatever', undefined)).toEqual({ ok: true, who: OPEN_MODE_IDENTITY });
  });

  it('fingerprints are stable, short and distinct', () => {
    expect(tokenIdentity(TOKEN)).toMatch(/^token:[0-9a-f]{12}$/);
    expect(tokenIdentity(TOKEN)).toBe(tokenIdentity(TOKEN));
    expect(tokenIdentity(TOKEN)).not.toBe(tokenIdentity(`${TOKEN}x`));
  });
});

describe('isBearerToken', () => {
  it.each([
    ['0123456789abcdef0123456789abcdef', true],
    ['base64+/token==', true],
    ['with space', false],
    ['quote"', false],
    ['', false],
  ])('%j → %s', (token, ok) => {
    expect(isBearerToken(token)).toBe(ok);
  });
});

describe('apiTokenFromEnv', () => {
  it.each([
    [{}, undefined],
    [{ LIVEPIPE_API_TOKEN: '' }, undefined],
    [{ LIVEPIPE_API_TOKEN: '   ' }, undefined],
    [{ LIVEPIPE_API_TOKEN: ' abc0123456789abcdef\n' }, 'abc0123456789abcdef'],
  ])('%j → %j', (env, token) => {
    expect(apiTokenFromEnv(env)).toBe(token);
  });
});
