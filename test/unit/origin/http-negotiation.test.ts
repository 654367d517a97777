import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { etagMatches, headerValue, ifRangeAllows, negotiateEncoding, notModifiedSince, parseRange } from '../../../src/origin/http-negotiation.js';

describe('negotiateEncoding', () => {
  it.each([
    [undefined, 'identity'],
    ['', 'identity'],
    ['gzip', 'gzip'],
    ['gzip, deflate, br', 'br'],
    ['br;q=0, gzip', 'gzip'],
    ['br;q=0.5, gzip;q=0.8', 'gzip'],
    ['gzip;q=0', 'identity'],
    ['*', 'br'],
    ['*;q=0, gzip', 'gzip'],
    ['identity', 'identity'],
    ['BR', 'br'],
    ['gzip;q=garbage', 'identity'],
  ])('%j → %s', (header, coding) => expect(negotiateEncoding(header)).toBe(coding));
});

describe('parseRange', () => {
  it.each([
    [undefined, 100, { kind: 'full' }],
    ['bytes=0-9', 100, { kind: 'partial', start: 0, end: 9 }],
    ['bytes=90-', 100, { kind: 'partial', start: 90, end: 99 }],
    ['bytes=-10', 100, { kind: 'partial', start: 90, end: 99 }],
    ['bytes=-500', 100, { kind: 'partial', start: 0, end: 99 }],
    ['bytes=50-500', 100, { kind: 'partial', start: 50, end: 99 }],
    ['bytes=100-', 100, { kind: 'unsatisfiable' }],
    ['bytes=-0', 100, { kind: 'unsatisfiable' }],
    ['bytes=9-0', 100, { kind: 'full' }],
    ['bytes=0-1,5-6', 100, { kind: 'full' }],
    ['items=0-1', 100, { kind: 'full' }],
    ['bytes=-', 100, { kind: 'full' }],
  ])('%j of %i → %j', (header, size, result) => expect(parseRange(header, size)).toEqual(result));
});

describe('etagMatches / ifRangeAllows', () => {
  it.each([
    [undefined, '"a"', false],
    ['"a"', '"a"', true],
    ['W/"a"', '"a"', true],
    ['"b", "a"', '"a"', true],
    ['"b"', '"a"', false],
    ['*', '"a"', true],
  ])('If-None-Match %j vs %s → %s', (inm, etag, match) => expect(etagMatches(inm, etag)).toBe(match));

  it('If-Range needs the same strong tag or an old enough date', () => {
    const lm = new Date('2026-01-01T00:00:00Z');
    expect(ifRangeAllows(undefined, '"a"', lm)).toBe(true);
    expect(ifRangeAllows('"a"', '"a"', lm)).toBe(true);
    expect(ifRangeAllows('"b"', '"a"', lm)).toBe(false);
    expect(ifRangeAllows('W/"a"', '"a"', lm)).toBe(false);
    expect(ifRangeAllows(lm.toUTCString(), '"a"', lm)).toBe(true);
    expect(ifRangeAllows('Wed, 31 Dec 2025 00:00:00 GMT', '"a"', lm)).toBe(false);
  });
});

describe('headerValue', () => {
  it.each<[IncomingHttpHeaders, string, string | undefined]>([
    [{}, 'range', undefined],
    [{ range: 'bytes=0-9' }, 'range', 'bytes=0-9'],
    [{ 'x-tags': ['"a"', '"b"'] }, 'x-tags', '"a", "b"'], // repeated headers Node kept apart
    [{ 'accept-encoding': '' }, 'accept-encoding', ''],
  ])('%j %s → %j', (headers, name, value) => expect(headerValue(headers, name)).toBe(value));
});

describe('notModifiedSince', () => {
  const lm = new Date('2026-01-01T12:00:00.750Z');
  it.each([
    ['Thu, 01 Jan 2026 12:00:00 GMT', true], // same second: the sub-second part does not count
    ['Thu, 01 Jan 2026 12:00:01 GMT', true],
    ['Thu, 01 Jan 2026 11:59:59 GMT', false],
    ['yesterday', false],
    ['', false],
  ])('If-Modified-Since %j → %s', (since, expected) => expect(notModifiedSince(lm, since)).toBe(expected));
});
