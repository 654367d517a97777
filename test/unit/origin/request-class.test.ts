import { describe, expect, it } from 'vitest';
import { requestClassOf } from '../../../src/origin/request-class.js';

describe('requestClassOf (the class label of livepipe_origin_requests_total)', () => {
  it.each([
    ['multivariant', false, 'multivariant'],
    ['multivariant', true, 'multivariant'],
    ['media-playlist', false, 'playlist'],
    ['media-playlist', true, 'blocking_playlist'],
    ['init', false, 'init'],
    ['part', false, 'part'],
    ['part', true, 'part'],
    ['segment', false, 'segment'],
    ['media', false, 'other'],
  ] as const)('%s blocking=%s → %s', (kind, blocking, cls) => expect(requestClassOf({ kind }, blocking)).toBe(cls));
});
