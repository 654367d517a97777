import { ErrorCode, LivepipeError } from '../core/errors.js';

/**
 * Parses a JSON request body, with the parser's reason in the error (fastify's default parser drops
 * it), and refuses prototype-poisoning keys — `__proto__`, and `constructor` holding a `prototype` —
 * which fastify's default parser also refuses. Pure; throws only `LivepipeError(BadRequest)`.
 */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') throw new LivepipeError(ErrorCode.BadRequest, 'body is empty but content-type is application/json');
  try {
    return JSON.parse(text, (key, value: unknown) => {
      if (key === '__proto__' || (key === 'constructor' && typeof value === 'object' && value !== null && 'prototype' in value)) {
        throw new PoisonedKey(key);
      }
      return value;
    });
  } catch (err) {
    if (err instanceof PoisonedKey) throw new LivepipeError(ErrorCode.BadRequest, `body: forbidden key "${err.key}"`);
    throw new LivepipeError(ErrorCode.BadRequest, `body is not valid JSON: ${(err as Error).message}`);
  }
}

class PoisonedKey extends Error {
  constructor(readonly key: string) {
    super(`forbidden key ${key}`);
  }
}
