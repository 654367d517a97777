import { describe, expect, it } from 'vitest';
import { parseLadder, resolveLadder } from '../../../src/ladder/ladder-loader.js';
import { serializeMultivariantPlaylist } from '../../../src/hls/playlist-serializer.js';
import { buildMultivariant, multivariantRenditions } from '../../../src/package/multivariant-builder.js';
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
