import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Helpers for the two shared secrets livepipe checks: stream keys and the API token. Comparisons run
 * over SHA-256 digests so that `timingSafeEqual` always sees equal lengths and the time taken says
 * nothing about the secret's length or how many leading characters matched.
 */

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** Constant-time string equality (over SHA-256 digests of both sides). */
export function constantTimeEqual(presented: string, expected: string): boolean {
  return timingSafeEqual(sha256(presented), sha256(expected));
}

/**
 * A short, non-reversible identifier of a secret for logs and audit lines: the first 12 hex digits of
 * its SHA-256. Enough to tell two tokens apart, useless for guessing one.
 */
export function secretFingerprint(secret: string): string {
  return sha256(secret).toString('hex').slice(0, 12);
}

/** A random stream key: 24 random bytes as base64url (32 characters, 192 bits). */
export function generateStreamKey(): string {
  return randomBytes(24).toString('base64url');
}
