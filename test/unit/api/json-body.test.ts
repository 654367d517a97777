import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH, jsonDepth, parseJsonBody } from '../../../src/api/json-body.js';
import { ErrorCode, isLivepipeError } from '../../../src/core/errors.js';

function errorOf(text: string): unknown {
  try {
    parseJsonBody(text);
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('parseJsonBody', () => {
  it.each([
    ['{"id":"news"}', { id: 'news' }],
    ['[1,2]', [1, 2]],
    [' "text" ', 'text'],
    ['{"constructor":"fine"}', { constructor: 'fine' }],
  ])('parses %s', (text, value) => {
    expect(parseJsonBody(text)).toEqual(value);
  });

  it.each([
    ['', /empty/],
    ['   ', /empty/],
    ['{"id":', /not valid JSON: /],
    ["{'id': 1}", /not valid JSON: /],
    ['{"__proto__": {"admin": true}}', /forbidden key "__proto__"/],
    ['{"a": {"__proto__": 1}}', /forbidden key "__proto__"/],
    ['{"constructor": {"prototype": {"admin": true}}}', /forbidden key "constructor"/],
    ['['.repeat(8_000) + ']'.repeat(8_000), /^body nests deeper than 32 levels$/],
    ['{"a":'.repeat(MAX_JSON_DEPTH + 1) + '1' + '}'.repeat(MAX_JSON_DEPTH + 1), /^body nests deeper than 32 levels$/],
  ])('refuses %j', (text, reason) => {
    const error = errorOf(text);
    expect(isLivepipeError(error, ErrorCode.BadRequest)).toBe(true);
    expect((error as Error).message).toMatch(reason);
  });

  it('round-trips any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = JSON.stringify(value);
        fc.pre(!text.includes('"__proto__"'));
        expect(parseJsonBody(text)).toEqual(JSON.parse(text));
      }),
    );
  });

  it('never throws anything but a BadRequest on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        const error = errorOf(text);
        expect(error === undefined || isLivepipeError(error, ErrorCode.BadRequest)).toBe(true);
      }),
    );
  });
});

describe('jsonDepth', () => {
  it.each([
    ['1', 0],
    ['"[[["', 0],
    ['{}', 1],
    ['[[], {}]', 2],
    ['{"a": {"b": [1, {"c": "]]]{"}]}}', 4],
    ['{"k": "\\"[["}', 1],
    ['[[[', 3],
  ])('%s nests %i deep', (text, depth) => {
    expect(jsonDepth(text)).toBe(depth);
  });

  it('accepts bodies exactly at the cap', () => {
    const text = '['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH);
    expect(jsonDepth(text)).toBe(MAX_JSON_DEPTH);
    expect(parseJsonBody(text)).toBeDefined();
  });
});
