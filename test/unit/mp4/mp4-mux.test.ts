import { beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, isLivepipeError } from '../../../src/core/errors.js';
import { childBoxes, parseHdlrType, parseTkhd, parseTrex, requireChild } from '../../../src/mp4/mp4-boxes.js';
import { encodeBox, mergeInitSegments, setFragmentTrackId, withTrackId } from '../../../src/mp4/mp4-mux.js';
import { encodeLadderFixture } from '../../helpers/package/fixtures.js';
import { ffprobeStreams } from '../../helpers/package/live.js';
import { readAll } from '../../helpers/package/pipeline.js';

type Stream = ReturnType<typeof readAll>;
let video: Stream;
let audio: Stream;

beforeAll(async () => {
  // Real ffmpeg outputs, with the transcoder's flags: one H.264 and one AAC fMP4, each track 1.
  const fixture = await encodeLadderFixture({ seconds: 1, sizes: ['160x90'], gop: 15 });
  video = readAll(fixture.video[0]!);
  audio = readAll(fixture.audio);
}, 60_000);

/** Track ids, handlers and trex ids a merged init declares, and mvhd's next_track_ID. */
function describeInit(bytes: Uint8Array): { tracks: Array<{ id: number; handler: string }>; trex: number[]; nextTrackId: number; top: string[] } {
  const top = childBoxes(bytes, 'init');
  const moov = childBoxes(requireChild(top, 'moov', 'init').payload, 'moov');
  const tracks = moov
    .filter((b) => b.type === 'trak')
    .map((trak) => {
      const children = childBoxes(trak.payload, 'trak');
      const mdia = childBoxes(requireChild(children, 'mdia', 'trak').payload, 'mdia');
      return { id: parseTkhd(requireChild(children, 'tkhd', 'trak').payload).trackId, handler: parseHdlrType(requireChild(mdia, 'hdlr', 'mdia').payload) };
    });
  const mvex = childBoxes(requireChild(moov, 'mvex', 'moov').payload, 'mvex');
  const mvhd = requireChild(moov, 'mvhd', 'moov').payload;
  return {
    top: top.map((b) => b.type),
    tracks,
    trex: mvex.filter((b) => b.type === 'trex').map((b) => parseTrex(b.payload).trackId),
    nextTrackId: new DataView(mvhd.buffer, mvhd.byteOffset, mvhd.byteLength).getUint32(mvhd.byteLength - 4),
  };
}

/** The track_ID of every tfhd in a chunk of moof+mdat pairs. */
function tfhdTrackIds(bytes: Uint8Array): number[] {
  const ids: number[] = [];
  for (const top of childBoxes(bytes, 'chunk')) {
    if (top.type !== 'moof') continue;
    for (const traf of childBoxes(top.payload, 'moof').filter((b) => b.type === 'traf')) {
      const tfhd = requireChild(childBoxes(traf.payload, 'traf'), 'tfhd', 'traf').payload;
      ids.push(new DataView(tfhd.buffer, tfhd.byteOffset).getUint32(4));
    }
  }
  return ids;
}

function isMalformed(fn: () => unknown): boolean {
  try {
    fn();
    return false;
  } catch (err) {
    return isLivepipeError(err, ErrorCode.MediaMalformed);
  }
}

describe('mergeInitSegments', () => {
  it('declares the video track, then the audio track renumbered, with a trex for each', () => {
    expect(describeInit(video.init).tracks).toEqual([{ id: 1, handler: 'vide' }]);
    expect(describeInit(audio.init).tracks).toEqual([{ id: 1, handler: 'soun' }]);
    const merged = mergeInitSegments(video.init, audio.init);
    expect(merged).toMatchObject({ videoTrackId: 1, audioTrackId: 2 });
    expect(describeInit(merged.bytes)).toEqual({
      top: ['ftyp', 'moov'],
      tracks: [
        { id: 1, handler: 'vide' },
        { id: 2, handler: 'soun' },
      ],
      trex: [1, 2],
      nextTrackId: 3,
    });
    // The inputs are left as they were (the audio init is shared by every variant).
    expect(describeInit(audio.init).tracks).toEqual([{ id: 1, handler: 'soun' }]);
  });

  it('makes, with renumbered audio fragments, a stream ffprobe reads as H.264 + AAC and decodes', async () => {
    const merged = mergeInitSegments(video.init, audio.init);
    const chunks = [merged.bytes, ...video.fragments.map((f) => f.bytes), ...audio.fragments.map((f) => withTrackId(f.bytes, merged.audioTrackId))];
    const probe = await ffprobeStreams(Buffer.concat(chunks));
    expect(probe.stderr).toBe('');
    expect(probe.streams).toEqual([
      { type: 'video', codec: 'h264' },
      { type: 'audio', codec: 'aac' },
    ]);
    expect(probe.frames.video).toBe(video.fragments.length);
    expect(probe.frames.audio).toBeGreaterThanOrEqual(audio.fragments.length - 2);
  });

  it.each([
    { name: 'two video inits', inputs: () => [video.init, video.init] },
    { name: 'audio as the video', inputs: () => [audio.init, audio.init] },
    { name: 'a merged (two-track) init as the video', inputs: () => [mergeInitSegments(video.init, audio.init).bytes, audio.init] },
    { name: 'a truncated audio init', inputs: () => [video.init, audio.init.subarray(0, audio.init.byteLength - 10)] },
    { name: 'no moov', inputs: () => [encodeBox('ftyp', new Uint8Array(8)), audio.init] },
    { name: 'a fragment as the audio init', inputs: () => [video.init, audio.fragments[0]!.bytes] },
  ])('refuses $name with MediaMalformed', ({ inputs }) => {
    const [v, a] = inputs();
    expect(isMalformed(() => mergeInitSegments(v!, a!))).toBe(true);
  });
});

describe('setFragmentTrackId', () => {
  it('rewrites only the 4 track_ID bytes of tfhd', () => {
    const original = audio.fragments[3]!.bytes;
    const copy = original.slice();
    expect(setFragmentTrackId(copy, 2)).toBe(1);
    expect(tfhdTrackIds(copy)).toEqual([2]);
    expect(tfhdTrackIds(original)).toEqual([1]);
    const changed = [...copy].map((b, i) => (b !== original[i] ? i : -1)).filter((i) => i >= 0);
    expect(changed.length).toBe(1); // 1 → 2: one byte of the big-endian word
  });

  it('renumbers every moof of a chunk and leaves mdat alone', () => {
    const chunk = Buffer.concat(audio.fragments.slice(0, 4).map((f) => f.bytes));
    expect(setFragmentTrackId(chunk, 7)).toBe(4);
    expect(tfhdTrackIds(chunk)).toEqual([7, 7, 7, 7]);
  });

  it.each([
    { name: 'an init segment', bytes: () => audio.init.slice() },
    { name: 'a lone mdat', bytes: () => encodeBox('mdat', new Uint8Array(4)) },
    { name: 'a truncated moof', bytes: () => audio.fragments[0]!.bytes.slice(0, 20) },
  ])('refuses $name with MediaMalformed', ({ bytes }) => {
    expect(isMalformed(() => setFragmentTrackId(bytes(), 2))).toBe(true);
  });
});
