import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { LivepipeEvent } from '../../../src/core/event-bus.js';
import { webhookEvent, webhookTypeOf } from '../../../src/notify/webhook-events.js';
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

describe('webhookTypeOf', () => {
  const cases: Array<[string, LivepipeEvent, object, string | undefined]> = [
    ['a channel going live', LivepipeEvent.ChannelStateChanged, { channel: 'a', state: 'live', previous: 'idle', reason: 'x' }, 'channel.live'],
    ['a channel going idle', LivepipeEvent.ChannelStateChanged, { channel: 'a', state: 'idle', previous: 'reconnecting', reason: 'x' }, 'channel.idle'],
    ['a channel failing', LivepipeEvent.ChannelStateChanged, { channel: 'a', state: 'failed', previous: 'live', reason: 'x' }, 'channel.failed'],
    ['a publish starting', LivepipeEvent.PublishStarted, { channel: 'a', protocol: 'rtmp' }, 'publish.started'],
    ['a publish ending', LivepipeEvent.PublishEnded, { channel: 'a', protocol: 'srt', reason: 'disconnect' }, 'publish.ended'],
    ['a publish refused', LivepipeEvent.PublishRefused, { channel: 'a', protocol: 'rtmp', reason: 'wrong-key' }, 'publish.refused'],
    ['a transcoder restarting', LivepipeEvent.TranscoderState, { channel: 'a', state: 'restarting', previous: 'running' }, 'transcoder.restarting'],
    ['a transcoder running', LivepipeEvent.TranscoderState, { channel: 'a', state: 'running', previous: 'starting' }, undefined],
    ['a part (not a webhook event)', LivepipeEvent.PartReady, { channel: 'a', rendition: 'v', msn: 1, part: 0 }, undefined],
  ];
  it.each(cases)('%s → %s', (_what, event, payload, expected) => {
    expect(webhookTypeOf(event as never, payload as never)).toBe(expected);
  });

  it('an event carries the payload as data, a unique id and the time', () => {
    const at = new Date('2026-12-05T04:00:00Z');
    const a = webhookEvent('publish.started', { channel: 'a', protocol: 'rtmp' }, at);
    const b = webhookEvent('publish.started', { channel: 'a', protocol: 'rtmp' }, at);
    expect(a).toMatchObject({ type: 'publish.started', time: '2026-12-05T04:00:00.000Z', data: { channel: 'a', protocol: 'rtmp' } });
    expect(a.id).not.toBe(b.id);
  });
});
