import { describe, expect, it } from 'vitest';
import { parseLadder, resolveLadder } from '../../../src/ladder/ladder-loader.js';
import { serializeMultivariantPlaylist } from '../../../src/hls/playlist-serializer.js';
import { buildMultivariant, firstMultivariantDue, multivariantRenditions } from '../../../src/package/multivariant-builder.js';
import { listedMediaEnd, type PartEntry, type SegmentEntry } from '../../../src/hls/playlist-model.js';
import { checkMultivariantPlaylist } from '../../helpers/hls/llhls-rules.js';

const ladder = parseLadder(
  { gop: 1, segment: 2, part: 0.5, video: [{ name: '360p', width: 640, height: 360, bitrate: '800k', maxrate: '900k' }], audio: [{ name: 'audio', bitrate: '96k' }] },
  'test.yaml',
);
const source = { width: 640, height: 360, frameRate: 30, hasAudio: true };
const facts = (name: string) => (name === '360p' ? { codecs: 'avc1.64001e' } : { codecs: 'mp4a.40.2', channelCount: 2, ...(name === 'audio-es' ? { measured: { peak: 120_000, average: 100_000 } } : {}) });

describe('buildMultivariant', () => {
  it('one audio track: the audio group and variants exactly as before issue 17', () => {
    const resolved = resolveLadder(ladder, { ...source, audioTracks: [{ index: 0, language: 'eng', default: true }] });
    const text = serializeMultivariantPlaylist(buildMultivariant(resolved, facts, false)!);
    expect(text).toBe(`#EXTM3U
#EXT-X-VERSION:9
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="audio",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="audio/playlist.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=996000,AVERAGE-BANDWIDTH=896000,CODECS="avc1.64001e,mp4a.40.2",RESOLUTION=640x360,FRAME-RATE=30.000,AUDIO="audio",CLOSED-CAPTIONS=NONE
360p/playlist.m3u8
`);
    expect(checkMultivariantPlaylist(text)).toEqual([]);
  });

  it('muxAudio: no audio group, CODECS names both, BANDWIDTH adds the audio rendition; only the videos gate the first master', () => {
    const muxed = parseLadder({ ...ladder, muxAudio: true }, 'muxed.yaml');
    const resolved = resolveLadder(muxed, { ...source, audioTracks: [{ index: 0, language: 'eng', default: true }] });
    expect(multivariantRenditions(resolved)).toEqual(['360p']);
    // The audio is no rendition of its own: asked for its facts, the packager has none.
    const muxedFacts = (name: string) => (name === '360p' ? { codecs: 'avc1.64001e', muxedAudioCodecs: 'mp4a.40.2' } : undefined);
    const text = serializeMultivariantPlaylist(buildMultivariant(resolved, muxedFacts, false)!);
    expect(text).toBe(`#EXTM3U
#EXT-X-VERSION:9
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-STREAM-INF:BANDWIDTH=996000,AVERAGE-BANDWIDTH=896000,CODECS="avc1.64001e,mp4a.40.2",RESOLUTION=640x360,FRAME-RATE=30.000,CLOSED-CAPTIONS=NONE
360p/playlist.m3u8
`);
    expect(checkMultivariantPlaylist(text)).toEqual([]);
  });

  it('two languages: one EXT-X-MEDIA each with LANGUAGE, NAME, one DEFAULT=YES, AUTOSELECT, CHANNELS; the variant counts the larger audio', () => {
    const resolved = resolveLadder(ladder, { ...source, audioTracks: [{ index: 0, language: 'eng', default: false }, { index: 1, language: 'spa', title: 'Español', default: false }] });
    expect(multivariantRenditions(resolved)).toEqual(['360p', 'audio-en', 'audio-es']);
    const text = serializeMultivariantPlaylist(buildMultivariant(resolved, facts, true)!);
    expect(text).toBe(`#EXTM3U
#EXT-X-VERSION:9
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="audio-en/playlist.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="Español",LANGUAGE="es",DEFAULT=NO,AUTOSELECT=YES,CHANNELS="2",URI="audio-es/playlist.m3u8"
#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="CC1",DEFAULT=YES,AUTOSELECT=YES,INSTREAM-ID="CC1"
#EXT-X-STREAM-INF:BANDWIDTH=1020000,AVERAGE-BANDWIDTH=900000,CODECS="avc1.64001e,mp4a.40.2",RESOLUTION=640x360,FRAME-RATE=30.000,AUDIO="audio",CLOSED-CAPTIONS="cc"
360p/playlist.m3u8
`);
    expect(checkMultivariantPlaylist(text)).toEqual([]);
  });

  it('waits for every rendition of the group to know its codec', () => {
    const resolved = resolveLadder(ladder, { ...source, audioTracks: [{ index: 0, default: false }, { index: 1, default: false }] });
    expect(buildMultivariant(resolved, (n) => (n === 'audio-track1' ? undefined : facts(n)), false)).toBeUndefined();
  });
});

describe('checkMultivariantPlaylist can fail', () => {
  const good = `#EXTM3U
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,URI="audio-en/playlist.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="Spanish",LANGUAGE="es",DEFAULT=NO,AUTOSELECT=YES,URI="audio-es/playlist.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=1000,AVERAGE-BANDWIDTH=900,CODECS="avc1.64001e,mp4a.40.2",RESOLUTION=640x360,FRAME-RATE=30.000,AUDIO="audio"
360p/playlist.m3u8
`;
  it.each([
    ['two defaults', good.replace('DEFAULT=NO', 'DEFAULT=YES'), /2 renditions with DEFAULT=YES/],
    ['no default', good.replace('DEFAULT=YES', 'DEFAULT=NO'), /0 renditions with DEFAULT=YES/],
    ['same NAME twice', good.replace('NAME="Spanish"', 'NAME="English"'), /2 EXT-X-MEDIA, 1 different NAMEs/],
    ['same URI twice', good.replace('audio-es/', 'audio-en/'), /share a URI/],
    ['bad LANGUAGE', good.replace('LANGUAGE="es"', 'LANGUAGE="spanish!"'), /not a language tag/],
    ['unknown group', good.replace('AUDIO="audio"', 'AUDIO="aac"'), /names no EXT-X-MEDIA group/],
    ['no AUTOSELECT', good.replace('DEFAULT=NO,AUTOSELECT=YES', 'DEFAULT=NO'), /AUTOSELECT=YES missing/],
  ])('%s', (_what, text, violation) => {
    expect(checkMultivariantPlaylist(good)).toEqual([]);
    expect(checkMultivariantPlaylist(text).join('\n')).toMatch(violation);
  });
});

describe('firstMultivariantDue (the first master: a complete segment everywhere, and with startAtEdge a live edge)', () => {
  const T0 = Date.UTC(2026, 11, 5, 12, 0, 0);
  const part = (i: number): PartEntry => ({ uri: `part-${i}.m4s`, duration: 0.1, independent: i % 5 === 0 }) as PartEntry;
  const segment = (msn: number, pdt: number): SegmentEntry => ({ msn, uri: `seg-${msn}.m4s`, duration: 1, parts: [], discontinuity: false, programDateTime: pdt, mapUri: 'init-1.mp4' }) as SegmentEntry;
  /** A low-latency rendition: `segments` whole 1 s segments from T0, then `parts` parts of the next. */
  const rendition = (segments: number, parts: number) => ({
    partTarget: 0.1,
    targetDuration: 1,
    segments: Array.from({ length: segments }, (_, i) => segment(i, T0 + i * 1000)),
    pending: { msn: segments, parts: Array.from({ length: parts }, (_, i) => part(i)), discontinuity: false, programDateTime: T0 + segments * 1000, mapUri: 'init-1.mp4' },
  });

  it('the edge is where the newest part ends, by PDT', () => {
    expect(listedMediaEnd(rendition(1, 3))).toBe(T0 + 1300);
    expect(listedMediaEnd(rendition(2, 0))).toBe(T0 + 2000);
    expect(listedMediaEnd({ segments: [], pending: undefined })).toBeUndefined();
  });

  it('without startAtEdge: as soon as every rendition lists a complete segment, however far behind', () => {
    expect(firstMultivariantDue([rendition(1, 2), rendition(0, 9)], T0 + 1200, false)).toBe(false);
    expect(firstMultivariantDue([rendition(1, 2), rendition(1, 0)], T0 + 60_000, false)).toBe(true);
  });

  it('with startAtEdge: holds while any edge trails the clock by more than 2 part targets, releases once all are live', () => {
    // Edge at T0 + 1.2 s; 0.5 s behind at T0 + 1.7 s (working off the start-up backlog): held.
    expect(firstMultivariantDue([rendition(1, 2), rendition(1, 2)], T0 + 1700, true)).toBe(false);
    // One rendition caught up, the other not yet: still held.
    expect(firstMultivariantDue([rendition(1, 6), rendition(1, 2)], T0 + 1750, true)).toBe(false);
    // Both within 0.2 s: out.
    expect(firstMultivariantDue([rendition(1, 6), rendition(1, 6)], T0 + 1750, true)).toBe(true);
    expect(firstMultivariantDue([rendition(1, 6), rendition(1, 6)], T0 + 1800, true)).toBe(true);
    expect(firstMultivariantDue([rendition(1, 6), rendition(1, 6)], T0 + 1801, true)).toBe(false);
    // Never before a complete segment, even at the edge.
    expect(firstMultivariantDue([rendition(0, 6), rendition(1, 6)], T0 + 650, true)).toBe(false);
  });

  it("with startAtEdge: a paced rendition's allowance counts as live lag, not backlog", () => {
    // Video at the edge (T0 + 1.6 s at T0 + 1.75 s); audio paced 0.37 s behind its earliest arrivals, edge at T0 + 1.2 s.
    expect(firstMultivariantDue([rendition(1, 6), rendition(1, 2)], T0 + 1750, true)).toBe(false);
    expect(firstMultivariantDue([rendition(1, 6), rendition(1, 2)], T0 + 1750, true, 370)).toBe(true);
    // The allowance is the pacing lag, not a blank cheque: 0.6 s behind is still held.
    expect(firstMultivariantDue([rendition(1, 6), rendition(1, 2)], T0 + 1800, true, 370)).toBe(false);
  });

  it('with startAtEdge: a run that stays behind is held at most 3 target durations after the first segments ended', () => {
    const behind = [rendition(2, 1), rendition(2, 1)];
    // First segments end at T0 + 1 s; the edge (T0 + 2.1 s) is far behind the clock.
    expect(firstMultivariantDue(behind, T0 + 3900, true)).toBe(false);
    expect(firstMultivariantDue(behind, T0 + 4000, true)).toBe(true);
    // Playlists continued from storage after a restart: their old first segment lets the master out at once.
    expect(firstMultivariantDue([rendition(5, 1)], T0 + 600_000, true)).toBe(true);
  });
});
