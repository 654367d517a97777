import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { backoffDelay, isRetryableStatus, signWebhook, verifyWebhookSignature, type BackoffPolicy } from '../../../src/notify/webhook-signing.js';

const SECRET = 'a-webhook-secret-of-32-characters';

describe('signWebhook', () => {
  // [secret, timestamp, body]: the signature is HMAC-SHA256 over "<timestamp>.<body>", hex, prefixed.
  const cases: Array<[string, number, string]> = [
    [SECRET, 1764906000, '{"type":"channel.live"}'],
    [SECRET, 0, ''],
    ['another-secret-0123456789', 1764906001, '{"data":{"channel":"ünïcode"}}'],
  ];
  it.each(cases)('%s at %d over %j', (secret, timestamp, body) => {
    const expected = createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex');
    expect(signWebhook(secret, timestamp, body)).toBe(`sha256=${expected}`);
  });

  it('changes with the timestamp, the body and the secret', () => {
    const base = signWebhook(SECRET, 100, 'x');
    expect(signWebhook(SECRET, 101, 'x')).not.toBe(base);
    expect(signWebhook(SECRET, 100, 'y')).not.toBe(base);
    expect(signWebhook(`${SECRET}!`, 100, 'x')).not.toBe(base);
  });
});

describe('verifyWebhookSignature', () => {
  const body = '{"id":"1","type":"publish.started"}';
  const now = 1764906000;
  const good = signWebhook(SECRET, now, body);
  // [what, signature, timestamp header, body, receiver clock, expected]
  const cases: Array<[string, string | undefined, string | undefined, string, number, string]> = [
    ['as sent', good, String(now), body, now, 'valid'],
    ['4 minutes later', good, String(now), body, now + 240, 'valid'],
    ['6 minutes later (a replay)', good, String(now), body, now + 360, 'stale'],
    ['a replay with a fresh timestamp header', good, String(now + 360), body, now + 360, 'bad-signature'],
    ['another body', good, String(now), body.replace('started', 'ended'), now, 'bad-signature'],
    ['another secret', signWebhook('not-the-secret-at-all', now, body), String(now), body, now, 'bad-signature'],
    ['no signature', undefined, String(now), body, now, 'bad-signature'],
    ['a truncated signature', good.slice(0, 20), String(now), body, now, 'bad-signature'],
    ['no timestamp', good, undefined, body, now, 'bad-timestamp'],
    ['a timestamp that is no number', good, '17649x6000', body, now, 'bad-timestamp'],
  ];
  it.each(cases)('%s → %s', (_what, signature, timestamp, presentedBody, clock, expected) => {
    expect(verifyWebhookSignature(SECRET, { signature, timestamp }, presentedBody, clock)).toBe(expected);
  });
});

describe('backoffDelay', () => {
  const policy: BackoffPolicy = { initialMs: 1000, maxMs: 60_000, jitter: 0.2 };
  // [retry, random(), expected ms]: initial × 2^(retry-1), capped, then × (0.8 … 1.2).
  const cases: Array<[number, number, number]> = [
    [1, 0.5, 1000],
    [2, 0.5, 2000],
    [3, 0.5, 4000],
    [6, 0.5, 32_000],
    [7, 0.5, 60_000],
    [50, 0.5, 60_000],
    [1, 0, 800],
    [1, 0.999999, 1200],
    [7, 0, 48_000],
    [0, 0.5, 1000],
  ];
  it.each(cases)('retry %d with random %d waits %d ms', (retry, random, expected) => {
    expect(backoffDelay(retry, policy, () => random)).toBe(expected);
  });

  it('without jitter is exact', () => {
    expect([1, 2, 3, 4].map((r) => backoffDelay(r, { initialMs: 10, maxMs: 50, jitter: 0 }, Math.random))).toEqual([10, 20, 40, 50]);
  });
});

describe('isRetryableStatus', () => {
  const cases: Array<[number, boolean]> = [
    [500, true],
    [502, true],
    [503, true],
    [408, true],
    [429, true],
    [400, false],
    [401, false],
    [404, false],
    [410, false],
    [301, false],
  ];
  it.each(cases)('%d → %s', (status, retryable) => {
    expect(isRetryableStatus(status)).toBe(retryable);
  });
});
