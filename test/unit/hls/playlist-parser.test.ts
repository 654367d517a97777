import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode, isLivepipeError } from '../../../src/core/errors.js';
import { parseAttributes, parseMediaPlaylist } from '../../../src/hls/playlist-parser.js';
import { serializeMediaPlaylist } from '../../../src/hls/playlist-serializer.js';
import { RenditionTimeline } from '../../../src/package/rendition-timeline.js';
import { checkMediaPlaylist, PlaylistHistoryChecker } from '../../helpers/hls/llhls-rules.js';

const T0 = Date.UTC(2026, 10, 28, 12, 0, 0);

type Op =
  | { kind: 'part'; duration: number; gap: boolean }
  | { kind: 'segment'; gap: boolean }
  | { kind: 'run' }
  | { kind: 'end' }
  | { kind: 'reports'; msn: number; part: number };

/** Models the packager produces: a timeline driven by a random sequence of operations. */
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ kind: fc.constant('part' as const), duration: fc.integer({ min: 1, max: 500_000 }).map((us) => us / 1e6), gap: fc.constantFrom(false, false, false, false, true) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('segment' as const), gap: fc.constantFrom(false, false, false, true) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'run' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reports' as const), msn: fc.nat(1000), part: fc.integer({ min: -1, max: 9 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'end' as const }) },
);

function drive(ops: Op[], dvrWindow: number, each?: (timeline: RenditionTimeline) => void): RenditionTimeline {
  const t = new RenditionTimeline({ targetDuration: 2, partTarget: 0.5, dvrWindow });
  let now = T0 + 123;
  let time = 0;
  let run = 1;
  t.startRun({ runId: run, wallclockAnchor: now }, now);
  for (const op of ops) {
    switch (op.kind) {
      case 'part':
        if (t.playlist.endList) t.startRun({ runId: ++run, wallclockAnchor: now }, now);
        t.addPart({ startTime: time, duration: op.duration, independent: time === 0 || op.duration > 0.25, gap: op.gap }, now);
        time += op.duration;
        now += Math.round(op.duration * 1000);
        break;
      case 'segment':
        if (t.playlist.pending && !t.playlist.endList) t.endSegment({ gap: op.gap }, now);
        break;
      case 'run':
        t.startRun({ runId: ++run, wallclockAnchor: now + 777 }, now);
        break;
      case 'reports':
        t.setRenditionReports([
          { uri: '../a/playlist.m3u8', lastMsn: op.msn, lastPart: op.part },
          { uri: '../b/playlist.m3u8', lastMsn: op.msn + 1, lastPart: 0 },
        ]);
        break;
      case 'end':
        t.endList(now);
        break;
    }
    each?.(t);
  }
  return t;
}

describe('parseMediaPlaylist', () => {
  it('property: parse ∘ serialize is the identity on models the packager produces', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 150 }), fc.constantFrom(12, 20, 60), (ops, dvr) => {
        const model = drive(ops, dvr).playlist;
        const text = serializeMediaPlaylist(model);
        expect(parseMediaPlaylist(text)).toEqual(model);
        // …and the text is stable: serializing the parsed model gives the same bytes.
        expect(serializeMediaPlaylist(parseMediaPlaylist(text))).toBe(text);
      }),
      { numRuns: 300 },
    );
  });

  it('property: successive playlists never move the media sequence back and keep the discontinuity sequence right', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 200 }), (ops) => {
        const history = new PlaylistHistoryChecker();
        const violations: string[] = [];
        drive(ops, 12, (t) => violations.push(...history.check(serializeMediaPlaylist(t.playlist))));
        expect(violations).toEqual([]);
      }),
      { numRuns: 150 },
    );
  });

  it('reads attribute lists with quoted commas', () => {
    const attrs = parseAttributes('URI="a,b.m4s",DURATION=0.5,INDEPENDENT=YES', 1);
    expect([...attrs]).toEqual([
      ['URI', 'a,b.m4s'],
      ['DURATION', '0.5'],
      ['INDEPENDENT', 'YES'],
    ]);
  });

  const valid = serializeMediaPlaylist(drive([{ kind: 'part', duration: 0.5, gap: false }, { kind: 'segment', gap: false }], 12).playlist);
  const cases: Array<{ name: string; text: string; message: RegExp }> = [
    { name: 'no #EXTM3U', text: valid.replace('#EXTM3U\n', ''), message: /line 1: not an M3U8/ },
    { name: 'a non-numeric duration', text: valid.replace('#EXTINF:0.500,', '#EXTINF:abc,'), message: /EXTINF duration "abc" is not a number/ },
    { name: 'a negative media sequence', text: valid.replace('MEDIA-SEQUENCE:0', 'MEDIA-SEQUENCE:-4'), message: /line 6: EXT-X-MEDIA-SEQUENCE/ },
    { name: 'a delta update', text: valid.replace('#EXT-X-DISCONTINUITY-SEQUENCE:0', '#EXT-X-DISCONTINUITY-SEQUENCE:0\n#EXT-X-SKIP:SKIPPED-SEGMENTS=3'), message: /delta update/ },
    { name: 'a URI without EXTINF', text: valid.replace('#EXTINF:0.500,\n', ''), message: /URI "seg-0.m4s" without #EXTINF/ },
    { name: 'no target duration', text: valid.replace('#EXT-X-TARGETDURATION:2\n', ''), message: /TARGETDURATION is missing/ },
    { name: 'a part without URI', text: valid.replace(',URI="part-0-0.m4s"', ''), message: /URI is missing/ },
    { name: 'a broken attribute list', text: valid.replace('PART-TARGET=0.500', 'PART-TARGET=0.500,"x'), message: /bad attribute list/ },
    { name: 'a bad date', text: valid.replace(/PROGRAM-DATE-TIME:.*/, 'PROGRAM-DATE-TIME:yesterday'), message: /bad date/ },
  ];
  for (const c of cases) {
    it(`rejects ${c.name} with MediaMalformed`, () => {
      expect(() => parseMediaPlaylist(c.text)).toThrow(c.message);
      expect(() => parseMediaPlaylist(c.text)).toThrow(expect.objectContaining({ code: ErrorCode.MediaMalformed }));
    });
  }

  it('property: mangled playlists give a model or MediaMalformed, never another exception', () => {
    const base = serializeMediaPlaylist(
      drive(Array.from({ length: 30 }, (_, i) => (i % 5 === 4 ? { kind: 'segment', gap: false } : { kind: 'part', duration: 0.5, gap: false })), 12)
        .playlist,
    );
    const lines = base.split('\n');
    fc.assert(
      fc.property(
        fc.array(fc.record({ line: fc.nat(lines.length - 1), at: fc.nat(80), text: fc.string({ maxLength: 6 }), cut: fc.nat(5) }), { maxLength: 6 }),
        (edits) => {
          const mangled = [...lines];
          for (const e of edits) {
            const l = mangled[e.line]!;
            mangled[e.line] = l.slice(0, e.at) + e.text + l.slice(e.at + e.cut);
          }
          try {
            const model = parseMediaPlaylist(mangled.join('\n'));
            expect(Array.isArray(model.segments)).toBe(true);
          } catch (err) {
            expect(isLivepipeError(err, ErrorCode.MediaMalformed)).toBe(true);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('every playlist of the round-trip scenarios passes the LL-HLS rules', () => {
    const ops: Op[] = [];
    for (let s = 0; s < 12; s++) {
      for (let p = 0; p < 4; p++) ops.push({ kind: 'part', duration: 0.5, gap: false });
      ops.push({ kind: 'segment', gap: false });
      if (s === 6) ops.push({ kind: 'run' });
    }
    ops.push({ kind: 'part', duration: 0.5, gap: false });
    const t = drive(ops, 12);
    t.setRenditionReports([{ uri: '../audio/playlist.m3u8', lastMsn: 12, lastPart: 0 }]);
    expect(checkMediaPlaylist(serializeMediaPlaylist(t.playlist), { otherRenditions: ['audio'] })).toEqual([]);
  });
});
