import { describe, expect, it } from 'vitest';
import { SegmentBitrateMeter, variantBandwidth, variantCodecs } from '../../../src/package/bitrate-meter.js';
import type { MediaPlaylist, MultivariantPlaylist } from '../../../src/hls/playlist-model.js';
import { formatDecimal, serializeMediaPlaylist, serializeMultivariantPlaylist, skippableSegments } from '../../../src/hls/playlist-serializer.js';
import { RenditionTimeline } from '../../../src/package/rendition-timeline.js';
import { checkMediaPlaylist, parseWithM3u8Parser } from '../../helpers/hls/llhls-rules.js';

const T0 = Date.UTC(2026, 10, 28, 12, 0, 0);

/** A small model written by hand: one segment with aged-out parts, one with parts, one open segment. */
function smallModel(): MediaPlaylist {
  const parts = (msn: number, n: number) =>
    Array.from({ length: n }, (_, i) => ({ uri: `part-${msn}-${i}.m4s`, duration: 0.5, independent: i % 2 === 0 }));
  return {
    version: 9,
    targetDuration: 2,
    partTarget: 0.5,
    serverControl: { canBlockReload: true, partHoldBack: 1.5, holdBack: 6, canSkipUntil: 12 },
    mediaSequence: 41,
    discontinuitySequence: 3,
    segments: [
      { msn: 41, uri: 'seg-41.m4s', duration: 2, parts: [], discontinuity: false, programDateTime: T0, mapUri: 'init-4.mp4' },
      { msn: 42, uri: 'seg-42.m4s', duration: 1.5, parts: parts(42, 3), discontinuity: true, programDateTime: T0 + 5000, mapUri: 'init-5.mp4' },
    ],
    pending: { msn: 43, parts: [{ uri: 'part-43-0.m4s', duration: 0.466667, independent: true }], discontinuity: false, programDateTime: T0 + 6500, mapUri: 'init-5.mp4' },
    preloadHint: { uri: 'part-43-1.m4s' },
    renditionReports: [
      { uri: '../360p/playlist.m3u8', lastMsn: 43, lastPart: 0 },
      { uri: '../audio/playlist.m3u8', lastMsn: 43, lastPart: 1 },
    ],
    endList: false,
  };
}

const GOLDEN = `#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:2
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.500,HOLD-BACK=6.000,CAN-SKIP-UNTIL=12.000
#EXT-X-PART-INF:PART-TARGET=0.500
#EXT-X-MEDIA-SEQUENCE:41
#EXT-X-DISCONTINUITY-SEQUENCE:3
#EXT-X-MAP:URI="init-4.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-11-28T12:00:00.000Z
#EXTINF:2.000,
seg-41.m4s
#EXT-X-DISCONTINUITY
#EXT-X-MAP:URI="init-5.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-11-28T12:00:05.000Z
#EXT-X-PART:DURATION=0.500,URI="part-42-0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.500,URI="part-42-1.m4s"
#EXT-X-PART:DURATION=0.500,URI="part-42-2.m4s",INDEPENDENT=YES
#EXTINF:1.500,
seg-42.m4s
#EXT-X-PROGRAM-DATE-TIME:2026-11-28T12:00:06.500Z
#EXT-X-PART:DURATION=0.466667,URI="part-43-0.m4s",INDEPENDENT=YES
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-43-1.m4s"
#EXT-X-RENDITION-REPORT:URI="../360p/playlist.m3u8",LAST-MSN=43,LAST-PART=0
#EXT-X-RENDITION-REPORT:URI="../audio/playlist.m3u8",LAST-MSN=43,LAST-PART=1
`;

describe('serializeMediaPlaylist', () => {
  it('renders the golden playlist', () => {
    const text = serializeMediaPlaylist(smallModel());
    expect(text).toBe(GOLDEN);
    expect(checkMediaPlaylist(text, { otherRenditions: ['360p', 'audio'] })).toEqual([]);
  });

  it('formats numbers with 3 to 6 decimals', () => {
    expect([2, 0.5, 0.533333, 1 / 3, 0.1234, 12].map(formatDecimal)).toEqual(['2.000', '0.500', '0.533333', '0.333333', '0.1234', '12.000']);
  });

  it('renders a live model after every change exactly as a fresh copy of it (rendered segments are reused only while unchanged)', () => {
    const t = new RenditionTimeline({ targetDuration: 2, partTarget: 0.5, dvrWindow: 12 });
    let time = 0;
    const now = (): number => 1_700_000_000_000 + time * 1000;
    t.startRun({ runId: 1, wallclockAnchor: now(), timeOrigin: 0 }, now());
    const same = (): void => {
      for (const skip of [undefined, 'YES'] as const) {
        const options = skip ? { skip } : {};
        expect(serializeMediaPlaylist(t.playlist, options)).toBe(serializeMediaPlaylist(structuredClone(t.playlist), options));
      }
    };
    for (let segment = 0; segment < 14; segment++) {
      if (segment === 6) t.startRun({ runId: 2, wallclockAnchor: now(), timeOrigin: time }, now()); // a discontinuity and a new map
      for (let part = 0; part < 4; part++) {
        t.addPart({ startTime: time, duration: 0.5, independent: part === 0, endsAtBoundary: part === 3, gap: segment === 3 && part === 1 }, now());
        time += 0.5;
        same();
      }
      t.endSegment({ duration: 2, gap: segment === 9 }, now()); // parts age out, segments slide out of the window
      same();
    }
    t.endList(now());
    same();
  });

  it('renders ENDLIST without a preload hint', () => {
    const model = { ...smallModel(), endList: true };
    const text = serializeMediaPlaylist(model);
    expect(text).not.toContain('PRELOAD-HINT');
    expect(text.endsWith('#EXT-X-ENDLIST\n')).toBe(true);
  });

  describe('delta updates', () => {
    /** 15 segments of 2 s (30 s), a discontinuity at msn 105, an open segment. */
    function longModel(): MediaPlaylist {
      const t = new RenditionTimeline({ targetDuration: 2, partTarget: 0.5, dvrWindow: 30 });
      let time = 0;
      let now = T0;
      const segment = (): void => {
        for (let i = 0; i < 4; i++) {
          t.addPart({ startTime: time, duration: 0.5, independent: i === 0 }, now);
          time += 0.5;
          now += 500;
        }
        t.endSegment({ duration: 2 }, now);
      };
      t.startRun({ runId: 1, wallclockAnchor: T0, timeOrigin: 0 }, now);
      for (let i = 0; i < 105; i++) segment();
      t.startRun({ runId: 2, wallclockAnchor: now, timeOrigin: time }, now);
      for (let i = 0; i < 10; i++) segment();
      t.addPart({ startTime: time, duration: 0.5, independent: true }, now);
      return t.playlist;
    }

    it('skips the segments older than CAN-SKIP-UNTIL and keeps the sequences', () => {
      const model = longModel();
      expect(model.segments.map((s) => s.msn)).toEqual(Array.from({ length: 15 }, (_, i) => 100 + i));
      // 30.5 s listed; segments ending ≥ 12 s before the end are skippable: msn 100..108 (end 18 s).
      expect(skippableSegments(model)).toBe(9);
      const full = serializeMediaPlaylist(model);
      const delta = serializeMediaPlaylist(model, { skip: 'YES' });
      expect(delta).toContain('#EXT-X-MEDIA-SEQUENCE:100\n#EXT-X-DISCONTINUITY-SEQUENCE:0\n#EXT-X-SKIP:SKIPPED-SEGMENTS=9\n');
      expect(delta).not.toContain('seg-108.m4s');
      expect(delta).toContain('seg-109.m4s');
      // The first listed segment carries its EXT-X-MAP and date again.
      expect(delta).toMatch(/SKIPPED-SEGMENTS=9\n#EXT-X-MAP:URI="init-2.mp4"\n#EXT-X-PROGRAM-DATE-TIME:/);
      expect(serializeMediaPlaylist(model, { skip: 'v2' })).toBe(delta);
      const parsed = parseWithM3u8Parser(delta).manifest;
      expect(parsed.skip).toEqual({ skippedSegments: 9 });
      expect(parsed.segments).toHaveLength(6);
      // Same media sequence and discontinuity sequence as the full playlist (§6.2.5.1).
      const fullParsed = parseWithM3u8Parser(full).manifest;
      expect([parsed.mediaSequence, parsed.discontinuitySequence]).toEqual([fullParsed.mediaSequence, fullParsed.discontinuitySequence]);
      expect(checkMediaPlaylist(full)).toEqual([]);
    });

    it('returns the full playlist when nothing can be skipped', () => {
      const model = smallModel();
      expect(skippableSegments(model)).toBe(0);
      expect(serializeMediaPlaylist(model, { skip: 'YES' })).toBe(GOLDEN);
    });
  });
});

describe('serializeMultivariantPlaylist', () => {
  it('renders variants sharing one audio group', () => {
    const model: MultivariantPlaylist = {
      version: 9,
      independentSegments: true,
      audio: [{ groupId: 'audio', name: 'English', language: 'en', default: true, channels: 2, uri: 'audio/playlist.m3u8' }],
      variants: [
        { uri: '720p/playlist.m3u8', bandwidth: 3_200_000.4, averageBandwidth: 2_800_000, codecs: 'avc1.64001f,mp4a.40.2', resolution: { width: 1280, height: 720 }, frameRate: 30, audioGroup: 'audio' },
        { uri: '360p/playlist.m3u8', bandwidth: 900_000, averageBandwidth: 750_000, codecs: 'avc1.42c01e,mp4a.40.2', resolution: { width: 640, height: 360 }, frameRate: 29.97, audioGroup: 'audio' },
      ],
    };
    const text = serializeMultivariantPlaylist(model);
    expect(text).toBe(`#EXTM3U
#EXT-X-VERSION:9
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="audio/playlist.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=3200001,AVERAGE-BANDWIDTH=2800000,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=1280x720,FRAME-RATE=30.000,AUDIO="audio"
720p/playlist.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=900000,AVERAGE-BANDWIDTH=750000,CODECS="avc1.42c01e,mp4a.40.2",RESOLUTION=640x360,FRAME-RATE=29.970,AUDIO="audio"
360p/playlist.m3u8
`);
    const { manifest, warnings } = parseWithM3u8Parser(text);
    expect(warnings).toEqual([]);
    expect(manifest.independentSegments).toBe(true);
    expect(manifest.playlists.map((p: any) => [p.attributes.BANDWIDTH, p.attributes.RESOLUTION, p.attributes.AUDIO])).toEqual([
      [3200001, { width: 1280, height: 720 }, 'audio'],
      [900000, { width: 640, height: 360 }, 'audio'],
    ]);
    expect(manifest.mediaGroups.AUDIO.audio.English).toMatchObject({ default: true, autoselect: true, language: 'en', uri: 'audio/playlist.m3u8' });
  });

  it('signals captions in the video: EXT-X-MEDIA TYPE=CLOSED-CAPTIONS with INSTREAM-ID and CLOSED-CAPTIONS on each variant, or NONE', () => {
    const variant = { uri: '360p/playlist.m3u8', bandwidth: 900_000, averageBandwidth: 750_000, codecs: 'avc1.42c01e', resolution: { width: 640, height: 360 }, frameRate: 30 };
    const withCc = serializeMultivariantPlaylist({
      version: 9,
      independentSegments: true,
      audio: [],
      closedCaptions: [{ groupId: 'cc', name: 'CC1', instreamId: 'CC1', language: 'en', default: true }],
      variants: [{ ...variant, closedCaptions: 'cc' }],
    });
    expect(withCc).toContain('#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="CC1",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,INSTREAM-ID="CC1"\n');
    expect(withCc).toContain('FRAME-RATE=30.000,CLOSED-CAPTIONS="cc"\n');
    const parsed = parseWithM3u8Parser(withCc);
    expect(parsed.warnings).toEqual([]);
    expect(parsed.manifest.mediaGroups['CLOSED-CAPTIONS'].cc.CC1).toMatchObject({ instreamId: 'CC1', default: true, language: 'en' });
    const none = serializeMultivariantPlaylist({ version: 9, independentSegments: true, audio: [], variants: [{ ...variant, closedCaptions: 'NONE' }] });
    expect(none).toContain('FRAME-RATE=30.000,CLOSED-CAPTIONS=NONE\n');
    expect(none).not.toContain('TYPE=CLOSED-CAPTIONS');
  });

  it('says CLOSED-CAPTIONS=NONE unquoted, a caption group quoted, and nothing when unknown', () => {
    const variant = { uri: 'v/playlist.m3u8', bandwidth: 1, averageBandwidth: 1, codecs: 'avc1.64001f', resolution: { width: 2, height: 2 }, frameRate: 30 };
    const render = (closedCaptions?: string) =>
      serializeMultivariantPlaylist({ version: 9, independentSegments: true, audio: [], variants: [{ ...variant, ...(closedCaptions !== undefined ? { closedCaptions } : {}) }] });
    expect(render('NONE')).toMatch(/FRAME-RATE=30\.000,CLOSED-CAPTIONS=NONE\n/);
    expect(render('cc')).toMatch(/,CLOSED-CAPTIONS="cc"\n/);
    expect(render()).not.toMatch(/CLOSED-CAPTIONS/);
    const { warnings } = parseWithM3u8Parser(render('NONE'));
    expect(warnings).toEqual([]);
  });
});

describe('SegmentBitrateMeter', () => {
  it('measures the peak and average segment bitrate; short segments only count towards the average', () => {
    const meter = new SegmentBitrateMeter(2);
    expect(meter.measured).toBeUndefined();
    meter.add(250_000, 2); // 1 Mbit/s
    meter.add(500_000, 2); // 2 Mbit/s
    meter.add(100_000, 0.2); // 4 Mbit/s but short: not a peak
    const m = meter.measured!;
    expect(m.peak).toBe(2_000_000);
    expect(m.average).toBeCloseTo((850_000 * 8) / 4.2, 6);
    expect(variantBandwidth(m, { peak: 70_000, average: 64_000 })).toEqual({
      bandwidth: 2_070_000,
      averageBandwidth: Math.ceil(m.average + 64_000),
    });
    expect(variantCodecs('avc1.64001f', 'mp4a.40.2')).toBe('avc1.64001f,mp4a.40.2');
  });
});
