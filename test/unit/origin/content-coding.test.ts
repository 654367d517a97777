import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { AcceptEncodingMemo, MAX_REMEMBERED_CODINGS, MAX_REMEMBERED_CODING_LENGTH, compress } from '../../../src/origin/content-coding.js';

describe('AcceptEncodingMemo', () => {
  it.each([
    [undefined, 'identity', 0],
    ['', 'identity', 1],
    ['gzip', 'gzip', 1],
    ['gzip, deflate, br', 'br', 1],
    ['br;q=0, gzip', 'gzip', 1],
    [`gzip, ${'x'.repeat(MAX_REMEMBERED_CODING_LENGTH)}`, 'gzip', 0], // too long to remember
  ] as const)('%j → %s (remembered: %i)', (accept, coding, remembered) => {
    const memo = new AcceptEncodingMemo();
    expect(memo.codingOf(accept)).toBe(coding);
    expect(memo.codingOf(accept)).toBe(coding);
    expect(memo.size).toBe(remembered);
  });

  it('starts over instead of growing past MAX_REMEMBERED_CODINGS values', () => {
    const memo = new AcceptEncodingMemo();
    for (let i = 0; i < MAX_REMEMBERED_CODINGS; i++) memo.codingOf(`gzip;q=0.${i}`);
    expect(memo.size).toBe(MAX_REMEMBERED_CODINGS);
    expect(memo.codingOf('br')).toBe('br');
    expect(memo.size).toBe(1);
  });
});

describe('compress', () => {
  const body = Buffer.from('#EXTM3U\n'.repeat(200), 'utf8');
  it.each([
    ['identity', (b: Buffer) => b],
    ['gzip', gunzipSync],
    ['br', brotliDecompressSync],
  ] as const)('%s round-trips', (coding, decode) => {
    const out = compress(body, coding);
    expect(decode(out).equals(body)).toBe(true);
    if (coding === 'identity') expect(out).toBe(body);
    else expect(out.length).toBeLessThan(body.length);
  });
});
