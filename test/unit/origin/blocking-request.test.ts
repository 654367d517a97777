import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  advancePartLimit,
  blockingRequestError,
  mediaAvailability,
  parseBlockingQuery,
  playlistContains,
  resolvePlaylistUri,
} from '../../../src/origin/blocking-request.js';
import { advance, endList, liveModel } from '../../helpers/origin/playlists.js';

describe('parseBlockingQuery', () => {
  it.each([
    [undefined, {}],
    ['', {}],
    ['_HLS_msn=5', { msn: 5 }],
    ['_HLS_msn=5&_HLS_part=2', { msn: 5, part: 2 }],
    ['_HLS_part=2&_HLS_msn=5', { msn: 5, part: 2 }],
    ['_HLS_msn=5&_HLS_part=0&_HLS_skip=YES', { msn: 5, part: 0, skip: 'YES' }],
    ['_HLS_skip=v2', { skip: 'v2' }],
    ['cb=123&_HLS_msn=7&token=abc', { msn: 7 }],
    ['_HLS_msn=007', { msn: 7 }],
    ['&_HLS_msn=1&', { msn: 1 }],
  ])('%j → %j', (raw, query) => {
    expect(parseBlockingQuery(raw)).toEqual({ ok: true, query });
  });

  it.each([
    '_HLS_part=2',
    '_HLS_msn=',
    '_HLS_msn',
    '_HLS_msn=abc',
    '_HLS_msn=-1',
    '_HLS_msn=+1',
    '_HLS_msn=1.5',
    '_HLS_msn=1e3',
    '_HLS_msn=0x10',
    '_HLS_msn=%31',
    '_HLS_msn= 1',
    '_HLS_msn=1234567890123456',
    '_HLS_msn=1&_HLS_msn=2',
    '_HLS_msn=1&_HLS_part=1&_HLS_part=2',
    '_HLS_msn=1&_HLS_part=x',
    '_HLS_skip=yes',
    '_HLS_skip=NO',
    '_HLS_skip=YES&_HLS_skip=YES',
    `_HLS_msn=1&pad=${'x'.repeat(1100)}`,
  ])('refuses %j', (raw) => {
    expect(parseBlockingQuery(raw).ok).toBe(false);
  });

  it('never throws and accepts only plain decimal numbers', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 20 }), fc.stringMatching(/^\d{1,16}$/)).filter((s) => !s.includes('&')), (s) => {
        const r = parseBlockingQuery(`_HLS_msn=${s}`);
        expect(r.ok).toBe(/^\d{1,15}$/.test(s));
        if (r.ok) expect(r.query.msn).toBe(Number(s));
      }),
    );
  });
});

describe('advancePartLimit', () => {
  it.each([
    [0.5, 6],
    [0.25, 12],
    [1, 3],
    [2, 3],
  ])('part target %f → %f', (pt, limit) => expect(advancePartLimit(pt)).toBe(limit));
});

// Model: segments 0..2 complete (4 parts each), pending segment 3 with 1 part (part-3-0).
describe('playlistContains', () => {
  const model = liveModel({ segments: 3, partsPerSegment: 4, pendingParts: 1 });
  it.each([
    [0, undefined, true],
    [2, undefined, true],
    // Safari form: segment 3 is only partly there → must block.
    [3, undefined, false],
    [4, undefined, false],
    [2, 0, true],
    [2, 3, true],
    // past the last part of segment 2 = part 0 of segment 3, which exists
    [2, 4, true],
    [3, 0, true],
    [3, 1, false],
    [3, 2, false],
    [4, 0, false],
    // older than the window
    [0, 9, true],
  ])('msn %i part %s → %s', (msn, part, expected) => {
    expect(playlistContains(model, msn, part)).toBe(expected);
  });

  it('part past the end of a complete segment waits for the next segment to start', () => {
    const m = liveModel({ segments: 3, partsPerSegment: 4, pendingParts: 0 });
    expect(playlistContains(m, 2, 4)).toBe(false);
    expect(playlistContains(advance(m), 2, 4)).toBe(true);
  });

  it('with a first segment older than mediaSequence still contains later parts', () => {
    const m = liveModel({ firstMsn: 100, segments: 2, pendingParts: 2 });
    expect(playlistContains(m, 50, 0)).toBe(true);
    expect(playlistContains(m, 102, 1)).toBe(true);
    expect(playlistContains(m, 102, 2)).toBe(false);
  });

  it('is always satisfied after ENDLIST', () => {
    expect(playlistContains(endList(model), 99, 3)).toBe(true);
  });

  it('becomes true exactly when advancing reaches the position', () => {
    fc.assert(
      fc.property(fc.integer({ min: 3, max: 8 }), fc.integer({ min: 0, max: 5 }), (msn, part) => {
        let m = liveModel({ segments: 3, partsPerSegment: 4, pendingParts: 1 });
        let seen = playlistContains(m, msn, part);
        for (let i = 0; i < 40; i++) {
          m = advance(m, 4);
          const now = playlistContains(m, msn, part);
          if (seen) expect(now).toBe(true); // monotonic
          seen = now;
        }
        expect(seen).toBe(true);
      }),
    );
  });
});

describe('blockingRequestError', () => {
  // last complete msn 2, last part (3, 0); part target 0.5 → advance part limit 6
  const model = liveModel({ segments: 3, partsPerSegment: 4, pendingParts: 1 });
  it.each([
    [{ msn: 4 }, undefined],
    [{ msn: 5 }, '_HLS_msn is more than 2 segments ahead'],
    [{ msn: 3, part: 6 }, undefined],
    [{ msn: 3, part: 7 }, '_HLS_part is beyond the advance part limit'],
    [{ msn: 4, part: 0 }, undefined],
    [{ msn: 4, part: 5 }, undefined],
    [{ msn: 4, part: 6 }, '_HLS_part is beyond the advance part limit'],
    [{ msn: 1, part: 50 }, undefined],
    [{}, undefined],
  ])('%j → %s', (query, error) => {
    expect(blockingRequestError(model, query)).toBe(error);
  });

  it('accepts anything after ENDLIST', () => {
    expect(blockingRequestError(endList(model), { msn: 99, part: 99 })).toBeUndefined();
  });

  it('part target ≥ 1 s: limit is 3 parts', () => {
    const m = liveModel({ segments: 3, partTarget: 1, targetDuration: 4, pendingParts: 1 });
    expect(blockingRequestError(m, { msn: 3, part: 3 })).toBeUndefined();
    expect(blockingRequestError(m, { msn: 3, part: 4 })).toBeDefined();
  });
});

describe('mediaAvailability', () => {
  const model = liveModel({ segments: 3, partsPerSegment: 4, pendingParts: 1 });
  const pl = 'v0/playlist.m3u8';
  it.each([
    [{ path: 'v0/part-3-0.m4s', kind: 'part', msn: 3, partIndex: 0 }, 'listed'],
    [{ path: 'v0/part-1-2.m4s', kind: 'part', msn: 1, partIndex: 2 }, 'listed'],
    [{ path: 'v0/seg-2.m4s', kind: 'segment', msn: 2 }, 'listed'],
    [{ path: 'v0/init-1.mp4', kind: 'init' }, 'listed'],
    // the preload hint
    [{ path: 'v0/part-3-1.m4s', kind: 'part', msn: 3, partIndex: 1 }, 'awaited'],
    // just ahead of the hint
    [{ path: 'v0/part-3-3.m4s', kind: 'part', msn: 3, partIndex: 3 }, 'awaited'],
    [{ path: 'v0/part-4-0.m4s', kind: 'part', msn: 4, partIndex: 0 }, 'awaited'],
    // the segment being built
    [{ path: 'v0/seg-3.m4s', kind: 'segment', msn: 3 }, 'awaited'],
    // far ahead, or old and gone, or another run
    [{ path: 'v0/part-9-0.m4s', kind: 'part', msn: 9, partIndex: 0 }, 'unknown'],
    [{ path: 'v0/seg-9.m4s', kind: 'segment', msn: 9 }, 'unknown'],
    [{ path: 'v0/init-2.mp4', kind: 'init' }, 'unknown'],
    [{ path: 'v1/part-3-1.m4s', kind: 'part', msn: 3, partIndex: 1 }, 'unknown'],
  ] as const)('%j → %s', (ref, expected) => {
    expect(mediaAvailability(model, pl, ref)).toBe(expected);
  });

  it('nothing is awaited after ENDLIST', () => {
    expect(mediaAvailability(endList(model), pl, { path: 'v0/part-3-1.m4s', kind: 'part', msn: 3, partIndex: 1 })).toBe('unknown');
  });
});

describe('resolvePlaylistUri', () => {
  it.each([
    ['part-1-0.m4s', 'v0/part-1-0.m4s'],
    ['../v1/playlist.m3u8', 'v1/playlist.m3u8'],
    ['../../../etc/passwd', undefined],
    ['https://elsewhere/x.m4s', undefined],
  ])('%s → %s', (uri, expected) => {
    expect(resolvePlaylistUri('v0/playlist.m3u8', uri)).toBe(expected);
  });
});
