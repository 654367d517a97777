import { describe, expect, it } from 'vitest';
import { CorsPolicy } from '../../../src/origin/cors-policy.js';
import { EXPOSED_HEADERS } from '../../../src/origin/response-headers.js';

const LISTED = ['https://player.example', 'http://localhost:3000'];

describe('CorsPolicy.apply', () => {
  it.each([
    // origins, request Origin, Vary before, headers added
    ['*', undefined, undefined, { 'Access-Control-Allow-Origin': '*', 'Access-Control-Expose-Headers': EXPOSED_HEADERS }],
    ['*', 'https://any.example', 'Accept-Encoding', { Vary: 'Accept-Encoding', 'Access-Control-Allow-Origin': '*', 'Access-Control-Expose-Headers': EXPOSED_HEADERS }],
    [LISTED, 'https://player.example', undefined, { Vary: 'Origin', 'Access-Control-Allow-Origin': 'https://player.example', 'Access-Control-Expose-Headers': EXPOSED_HEADERS }],
    [LISTED, 'http://localhost:3000', 'Accept-Encoding', { Vary: 'Accept-Encoding, Origin', 'Access-Control-Allow-Origin': 'http://localhost:3000', 'Access-Control-Expose-Headers': EXPOSED_HEADERS }],
    [LISTED, 'https://evil.example', undefined, { Vary: 'Origin' }],
    [LISTED, 'https://player.example.evil', 'Accept-Encoding', { Vary: 'Accept-Encoding, Origin' }],
    [LISTED, undefined, undefined, { Vary: 'Origin' }],
  ] as const)('%j, Origin %j, Vary %j', (origins, origin, vary, expected) => {
    const headers: Record<string, string> = vary === undefined ? {} : { Vary: vary };
    new CorsPolicy(origins).apply({ headers: origin === undefined ? {} : { origin } }, headers);
    expect(headers).toEqual(expected);
  });

  it('allows every origin by default', () => {
    expect(new CorsPolicy().any).toBe(true);
    expect(new CorsPolicy(LISTED).any).toBe(false);
  });
});

describe('CorsPolicy.validate', () => {
  it.each([
    ['*', true],
    [LISTED, true],
    [['https://cdn.example:8443'], true],
    [['https://player.example/'], false],
    [['player.example'], false],
    [['ftp://player.example'], false],
    [['https://a b.example'], false],
  ] as const)('%j valid=%s', (origins, valid) => {
    const check = () => new CorsPolicy(origins).validate();
    if (valid) expect(check).not.toThrow();
    else expect(check).toThrow(/invalid CORS origin/);
  });
});
