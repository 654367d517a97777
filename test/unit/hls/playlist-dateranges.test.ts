import { describe, expect, it } from 'vitest';
import { expireDateRanges, type MediaPlaylist } from '../../../src/hls/playlist-model.js';
import { parseMediaPlaylist } from '../../../src/hls/playlist-parser.js';
import { dateRangeLine, serializeMediaPlaylist } from '../../../src/hls/playlist-serializer.js';
import { RenditionTimeline } from '../../../src/package/rendition-timeline.js';
import { checkMediaPlaylist, parseWithM3u8Parser } from '../../helpers/hls/llhls-rules.js';

const T0 = Date.UTC(2026, 10, 28, 12, 0, 0);
/** ANSI/SCTE 35 §14.1: splice_insert, out of network, 60.293567 s break. */
const OUT = '0xFC302F000000000000FFFFF01405480000' + '8F7FEFFE7369C02EFE0052CCF500000000000A0008435545490000013562DBA30A';
const IN = '0xFC302000000000000000FFF00F05000000017F4FFE000000000000000000000000000000';

/** Six 2 s segments (msn 10–15), no parts except in the open segment. */
function model(): MediaPlaylist {
  const segments = Array.from({ length: 6 }, (_, i) => ({
    msn: 10 + i,
    uri: `seg-${10 + i}.m4s`,
    duration: 2,
    parts: [],
    discontinuity: false,
    programDateTime: T0 + i * 2000,
    mapUri: 'init-1.mp4',
  }));
  return {
    version: 9,
    targetDuration: 2,
    partTarget: 0.5,
    serverControl: { canBlockReload: true, partHoldBack: 1.5, holdBack: 6, canSkipUntil: 4 },
    mediaSequence: 10,
    discontinuitySequence: 0,
    segments,
    pending: { msn: 16, parts: [{ uri: 'part-16-0.m4s', duration: 0.5, independent: true }], discontinuity: false, programDateTime: T0 + 12_000, mapUri: 'init-1.mp4' },
    preloadHint: { uri: 'part-16-1.m4s' },
    renditionReports: [],
    endList: false,
    dateRanges: [
      { id: 'splice-1', startDate: T0 + 4000, plannedDuration: 4, duration: 4, scte35Out: OUT, scte35In: IN },
      { id: 'splice-2', class: 'com.example.ad', startDate: T0 + 10_000, plannedDuration: 30, scte35Out: OUT },
    ],
  };
}

const GOLDEN = `#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:2
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.500,HOLD-BACK=6.000,CAN-SKIP-UNTIL=4.000
#EXT-X-PART-INF:PART-TARGET=0.500
#EXT-X-MEDIA-SEQUENCE:10
#EXT-X-DISCONTINUITY-SEQUENCE:0
#EXT-X-MAP:URI="init-1.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-11-28T12:00:00.000Z
#EXTINF:2.000,
seg-10.m4s
#EXT-X-PROGRAM-DATE-TIME:2026-11-28T12:00:02.000Z
#EXTINF:2.000,
seg-11.m4s
#EXT-X-DATERANGE:ID="splice-1",START-DATE="2026-11-28T12:00:04.000Z",DURATION=4.000,PLANNED-DURATION=4.000,SCTE35-OUT=${OUT},SCTE35-IN=${IN}
#EXT-X-CUE-OUT:4.000
#EXT-X-PROGRAM-DATE-TIME:2026-11-28T12:00:04.000Z
#EXTINF:2.000,
seg-12.m4s
#EXT-X-PROGRAM-DATE-TIME:2026-11-28T12:00:06.000Z
#EXTINF:2.000,
seg-13.m4s
#EXT-X-CUE-IN
#EXT-X-PROGRAM-DATE-TIME:2026-11-28T12:00:08.000Z
#EXTINF:2.000,
seg-14.m4s
#EXT-X-DATERANGE:ID="splice-2",CLASS="com.example.ad",START-DATE="2026-11-28T12:00:10.000Z",PLANNED-DURATION=30.000,SCTE35-OUT=${OUT}
#EXT-X-CUE-OUT:30.000
#EXT-X-PROGRAM-DATE-TIME:2026-11-28T12:00:10.000Z
#EXTINF:2.000,
seg-15.m4s
#EXT-X-PROGRAM-DATE-TIME:2026-11-28T12:00:12.000Z
#EXT-X-PART:DURATION=0.500,URI="part-16-0.m4s",INDEPENDENT=YES
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-16-1.m4s"
`;

describe('EXT-X-DATERANGE', () => {
  it('renders the golden playlist: each range before the segment at its START-DATE, legacy cue tags when asked', () => {
    const text = serializeMediaPlaylist({ ...model(), cueTags: true });
    expect(text).toBe(GOLDEN);
    const { manifest, warnings } = parseWithM3u8Parser(text);
    expect(warnings).toEqual([]);
    expect(manifest.dateRanges.map((r: { id: string }) => r.id)).toEqual(['splice-1', 'splice-2']);
    expect(manifest.dateRanges[0]).toMatchObject({ duration: 4, plannedDuration: 4, scte35Out: OUT, scte35In: IN });
  });

  it('writes no cue tags unless asked', () => {
    const text = serializeMediaPlaylist(model());
    expect(text).not.toContain('CUE-');
    expect(text.match(/#EXT-X-DATERANGE/g)).toHaveLength(2);
  });

  it('a range starting after the last listed segment goes at the end, before the preload hint', () => {
    const m = model();
    m.dateRanges!.push({ id: 'later', startDate: T0 + 14_000, scte35Out: OUT });
    const lines = serializeMediaPlaylist(m).trimEnd().split('\n');
    expect(lines.at(-2)).toBe('#EXT-X-DATERANGE:ID="later",START-DATE="2026-11-28T12:00:14.000Z",SCTE35-OUT=' + OUT);
  });

  it('is read back by the parser (resumed playlists keep their ranges)', () => {
    const m = { ...model(), cueTags: true };
    expect(parseMediaPlaylist(serializeMediaPlaylist(m))).toEqual(m);
    const n = model();
    n.serverControl.canSkipDateRanges = true;
    expect(parseMediaPlaylist(serializeMediaPlaylist(n))).toEqual(n);
  });

  it('the parser merges tags that share an ID', () => {
    const text = GOLDEN.replace(
      '#EXT-X-PROGRAM-DATE-TIME:2026-11-28T12:00:08.000Z',
      '#EXT-X-DATERANGE:ID="splice-2",START-DATE="2026-11-28T12:00:10.000Z",DURATION=8.000\n#EXT-X-PROGRAM-DATE-TIME:2026-11-28T12:00:08.000Z',
    );
    expect(parseMediaPlaylist(text).dateRanges![1]).toMatchObject({ id: 'splice-2', class: 'com.example.ad', duration: 8, plannedDuration: 30 });
  });

  it('formats every attribute', () => {
    expect(dateRangeLine({ id: 'x', startDate: T0, scte35Cmd: '0xFC' })).toBe('#EXT-X-DATERANGE:ID="x",START-DATE="2026-11-28T12:00:00.000Z",SCTE35-CMD=0xFC');
  });
});

describe('a live playlist with date ranges', () => {
  it('passes the LL-HLS checker in full and as a delta update', () => {
    const t = new RenditionTimeline({ targetDuration: 2, partTarget: 0.5, dvrWindow: 30 });
    let time = 0;
    let now = T0;
    t.startRun({ runId: 1, wallclockAnchor: T0, timeOrigin: 0 }, now);
    for (let s = 0; s < 12; s++) {
      for (let i = 0; i < 4; i++) {
        t.addPart({ startTime: time, duration: 0.5, independent: i === 0 }, now);
        time += 0.5;
        now += 500;
      }
      t.endSegment({ duration: 2 }, now);
    }
    t.addPart({ startTime: time, duration: 0.5, independent: true }, now);
    const playlist: MediaPlaylist = { ...t.playlist, cueTags: true, dateRanges: model().dateRanges!.map((r, i) => ({ ...r, startDate: t.playlist.segments[3 + 4 * i]!.programDateTime })) };
    for (const skip of [undefined, 'YES'] as const) {
      const text = serializeMediaPlaylist(playlist, skip ? { skip } : {});
      expect(text).toContain('#EXT-X-DATERANGE');
      expect(checkMediaPlaylist(text)).toEqual([]);
      expect(parseWithM3u8Parser(text).manifest.dateRanges).toHaveLength(2);
    }
  });
});

describe('delta updates keep date ranges (§6.2.5.1)', () => {
  it('_HLS_skip=YES skips segments but keeps every range, even one whose segments were skipped', () => {
    const text = serializeMediaPlaylist(model(), { skip: 'YES' });
    expect(text).toContain('#EXT-X-SKIP:SKIPPED-SEGMENTS=4\n');
    expect(text).not.toContain('RECENTLY-REMOVED');
    expect(text.match(/#EXT-X-DATERANGE/g)).toHaveLength(2);
    // splice-1 started in a skipped segment: it is listed before the first rendered one.
    expect(text).toMatch(/SKIPPED-SEGMENTS=4\n#EXT-X-DATERANGE:ID="splice-1"[^\n]*\n#EXT-X-MAP/);
  });

  it('_HLS_skip=v2 is answered as YES unless the playlist says CAN-SKIP-DATERANGES', () => {
    expect(serializeMediaPlaylist(model(), { skip: 'v2' })).toBe(serializeMediaPlaylist(model(), { skip: 'YES' }));
  });

  it('_HLS_skip=v2 with CAN-SKIP-DATERANGES leaves out ranges that ended before the skip boundary and lists the recently removed', () => {
    const m = model();
    m.serverControl.canSkipDateRanges = true;
    m.recentlyRemovedDateRanges = [{ id: 'old-1', removedAtMsn: 9 }, { id: 'old-2', removedAtMsn: 10 }];
    const text = serializeMediaPlaylist(m, { skip: 'v2' });
    expect(text).toContain('CAN-SKIP-UNTIL=4.000,CAN-SKIP-DATERANGES=YES\n');
    expect(text).toContain('#EXT-X-SKIP:SKIPPED-SEGMENTS=4,RECENTLY-REMOVED-DATERANGES="old-1\told-2"\n');
    expect(text).not.toContain('ID="splice-1"'); // 12:00:04–12:00:08, wholly before seg-14 (12:00:08)
    expect(text).toContain('ID="splice-2"');
  });
});

describe('expireDateRanges', () => {
  it('drops a range once its end leaves the window and remembers its ID for one window', () => {
    const m = model();
    m.segments = m.segments.slice(4); // the window now starts at seg-14, 12:00:08
    m.mediaSequence = 14;
    expireDateRanges(m);
    expect(m.dateRanges!.map((r) => r.id)).toEqual(['splice-2']); // splice-1 ended at 12:00:08
    expect(m.recentlyRemovedDateRanges).toEqual([{ id: 'splice-1', removedAtMsn: 14 }]);
    m.segments = m.segments.slice(1);
    m.mediaSequence = 15;
    expireDateRanges(m);
    expect(m.dateRanges!.map((r) => r.id)).toEqual(['splice-2']);
    expect(m.recentlyRemovedDateRanges).toEqual([{ id: 'splice-1', removedAtMsn: 14 }]);
    m.mediaSequence = 16; // a window of 1 segment (+1) later: forgotten
    expireDateRanges(m);
    expect(m.recentlyRemovedDateRanges).toEqual([]);
  });

  it('keeps an open range without a duration while its start is in the window', () => {
    const m = model();
    m.dateRanges = [{ id: 'open', startDate: T0 + 2000, scte35Out: OUT }];
    m.segments = m.segments.slice(1);
    expireDateRanges(m);
    expect(m.dateRanges).toHaveLength(1);
    m.segments = m.segments.slice(1);
    expireDateRanges(m);
    expect(m.dateRanges).toHaveLength(0);
  });
});
