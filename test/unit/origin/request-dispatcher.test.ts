import { describe, expect, it } from 'vitest';
import { methodRoute, resourceRoute } from '../../../src/origin/request-dispatcher.js';

describe('methodRoute', () => {
  it.each([
    ['GET', 'serve'],
    ['HEAD', 'serve'],
    ['OPTIONS', 'preflight'],
    ['POST', 'not-allowed'],
    ['PUT', 'not-allowed'],
    ['DELETE', 'not-allowed'],
    ['get', 'not-allowed'], // Node upper-cases known methods; anything else is not ours
    ['', 'not-allowed'],
    [undefined, 'not-allowed'],
  ] as const)('%j → %s', (method, route) => expect(methodRoute(method)).toBe(route));
});

describe('resourceRoute', () => {
  it.each([
    ['media-playlist', 'playlist'],
    ['multivariant', 'multivariant'],
    ['init', 'media'],
    ['part', 'media'],
    ['segment', 'media'],
    ['media', 'media'],
  ] as const)('%s → %s', (kind, route) => expect(resourceRoute(kind)).toBe(route));
});
