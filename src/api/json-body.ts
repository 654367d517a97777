import { ErrorCode, LivepipeError } from '../core/errors.js';

/**
 * How deep objects and arrays may nest in a request body. Channel specs nest two levels; the cap
 * stops a body of 16 KiB of `[` (8,000 levels) from overflowing the stack of the reviver below, which
 * recurses once per level and answered "Maximum call stack size exceeded".
 */
export const MAX_JSON_DEPTH = 32;

/**
 * Parses a JSON request body, with the parser's reason in the error (fastify's default parser drops
 * it), and refuses prototype-poisoning keys — `__proto__`, and `constructor` holding a `prototype` —
 * which fastify's default parser also refuses, and bodies nesting deeper than {@link MAX_JSON_DEPTH}.
 * Pure; throws only `LivepipeError(BadRequest)`, whose message never carries a runtime's internals.
 */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') throw new LivepipeError(ErrorCode.BadRequest, 'body is empty but content-type is application/json');
  if (jsonDepth(text) > MAX_JSON_DEPTH) throw new LivepipeError(ErrorCode.BadRequest, `body nests deeper than ${MAX_JSON_DEPTH} levels`);
  try {
    return JSON.parse(text, (key, value: unknown) => {
      if (key === '__proto__' || (key === 'constructor' && typeof value === 'object' && value !== null && 'prototype' in value)) {
        throw new PoisonedKey(key);
      }
      return value;
    });
  } catch (err) {
    if (err instanceof PoisonedKey) throw new LivepipeError(ErrorCode.BadRequest, `body: forbidden key "${err.key}"`);
    // The parser's SyntaxError names the position, which helps the caller; anything else is ours.
    if (err instanceof SyntaxError) throw new LivepipeError(ErrorCode.BadRequest, `body is not valid JSON: ${err.message}`);
    throw new LivepipeError(ErrorCode.BadRequest, 'body is not valid JSON');
  }
}

/**
 * The deepest nesting of `{` and `[` outside strings, in one pass without recursion. Counts only:
 * unbalanced or otherwise invalid text is left for `JSON.parse` to describe.
 */
export function jsonDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      depth++;
      if (depth > deepest) deepest = depth;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    }
  }
  return deepest;
}

class PoisonedKey extends Error {
  constructor(readonly key: string) {
    super(`forbidden key ${key}`);
  }
}
