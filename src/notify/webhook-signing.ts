import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * How a webhook delivery proves where it came from and when (pure; the receiver's side is
 * `verifyWebhookSignature`). The scheme is Stripe's and Slack's: the signed content is
 * `<timestamp>.<raw body>`, so a captured delivery cannot be replayed later with a fresh timestamp
 * header, and the receiver rejects timestamps outside its tolerance.
 *
 *   X-Livepipe-Timestamp: 1764906000                      (Unix seconds, when this attempt was sent)
 *   X-Livepipe-Signature: sha256=<hex HMAC-SHA256(secret, "1764906000." + body)>
 */
export const SIGNATURE_HEADER = 'x-livepipe-signature';
export const TIMESTAMP_HEADER = 'x-livepipe-timestamp';
export const EVENT_HEADER = 'x-livepipe-event';
export const DELIVERY_HEADER = 'x-livepipe-delivery';

/** Receivers should refuse deliveries whose timestamp is further than this from their clock (5 minutes). */
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** `sha256=<hex>` over `<timestamp>.<body>`. */
export function signWebhook(secret: string, timestampSeconds: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestampSeconds}.`).update(body).digest('hex')}`;
}

export type SignatureCheck = 'valid' | 'bad-signature' | 'bad-timestamp' | 'stale';

/**
 * The receiver's check (documented in the README; used by the tests as a receiver would): the
 * signature in constant time, then the timestamp within `toleranceSeconds` of `nowSeconds`.
 */
export function verifyWebhookSignature(
  secret: string,
  headers: { signature: string | undefined; timestamp: string | undefined },
  body: string,
  nowSeconds: number,
  toleranceSeconds = DEFAULT_TOLERANCE_SECONDS,
): SignatureCheck {
  const timestamp = Number(headers.timestamp);
  if (headers.timestamp === undefined || !/^\d{1,12}$/.test(headers.timestamp) || !Number.isSafeInteger(timestamp)) return 'bad-timestamp';
  const expected = Buffer.from(signWebhook(secret, timestamp, body));
  const presented = Buffer.from(headers.signature ?? '');
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) return 'bad-signature';
  return Math.abs(nowSeconds - timestamp) > toleranceSeconds ? 'stale' : 'valid';
}

/** Retry timing of one receiver. */
export interface BackoffPolicy {
  /** Delay before the first retry, ms (default 1000). */
  initialMs: number;
  /** Cap of any delay, ms (default 60 000). */
  maxMs: number;
  /** ± share of the delay drawn at random so that many nodes do not retry in step (default 0.2). */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 1000, maxMs: 60_000, jitter: 0.2 };

/**
 * The wait before retry number `retry` (1 = the first retry): `initialMs × 2^(retry-1)`, capped at
 * `maxMs`, then scaled by a factor in `[1 - jitter, 1 + jitter]` drawn from `random()` ∈ [0, 1).
 */
export function backoffDelay(retry: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const exponent = Math.max(0, Math.min(retry - 1, 30));
  const base = Math.min(policy.maxMs, policy.initialMs * 2 ** exponent);
  return Math.round(base * (1 - policy.jitter + 2 * policy.jitter * random()));
}

/** Whether an HTTP status is worth retrying: server errors, 408 and 429. Other 4xx are final. */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}
