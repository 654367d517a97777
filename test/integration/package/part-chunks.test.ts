/**
 * Parts coalesced into one CMAF chunk each (`SegmentCutter` with `partChunks`), from real ffmpeg
 * output: per-frame fragments of H.264 with B-frames (composition offsets, keyframes inside parts) and
 * of AAC, and a muxed variant (video frames carrying their audio, as `MuxedFeed` builds them). ffprobe
 * decodes every part on its own with the init and the whole stream of parts, without an error, to
 * the same frames at the same times as ffmpeg's own fragments.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { trackDefaultsOf } from '../../../src/mp4/fmp4-coalescer.js';
import { mergeInitSegments } from '../../../src/mp4/mp4-mux.js';
import { AudioInterleaver } from '../../../src/package/audio-interleaver.js';
import { SegmentCutter, type CutPart, type CutterFrame } from '../../../src/package/segment-cutter.js';
import { encodeLadderFixture, type LadderFixture } from '../../helpers/package/fixtures.js';
import { ffprobe, ffprobeStreams, partBoxProblem } from '../../helpers/package/live.js';
import { readAll } from '../../helpers/package/pipeline.js';

function cutParts(init: Uint8Array, kind: 'video' | 'audio', timescale: number, frames: CutterFrame[]): CutPart[] {
  const cutter = new SegmentCutter({ kind, timescale, partTarget: 0.2, segmentDuration: 1, partChunks: { defaults: trackDefaultsOf(init) } });
  const events = [...frames.flatMap((f) => cutter.push(f)), ...cutter.flush()];
  return events.flatMap((e) => (e.type === 'part' ? [e.part] : []));
}

function frameOf(f: CutterFrame): CutterFrame {
  return { decodeTime: f.decodeTime, duration: f.duration, independent: f.independent, bytes: f.bytes };
}

let fixture: LadderFixture;

beforeAll(async () => {
  fixture = await encodeLadderFixture({ seconds: 3, sizes: ['320x180'], gop: 15, bframes: 2 });
}, 60_000);

describe('coalesced parts decode as ffmpeg’s fragments do', () => {
  for (const kind of ['video', 'audio'] as const) {
    it(`${kind}: every part alone, and all parts in a row, decode to ffmpeg's frames and times`, async () => {
      const stream = kind === 'video' ? fixture.video[0]! : fixture.audio;
      const { track, init, fragments } = readAll(stream);
      const parts = cutParts(init, kind, track.timescale, fragments.map(frameOf));
      expect(parts.length).toBeGreaterThan(10);
      for (const part of parts) {
        expect(partBoxProblem(part.bytes)).toBeUndefined();
        // One moof + mdat: the mdat is the second and last box.
        const moofSize = new DataView(part.bytes.buffer, part.bytes.byteOffset).getUint32(0);
        expect(new DataView(part.bytes.buffer, part.bytes.byteOffset).getUint32(moofSize) + moofSize).toBe(part.bytes.byteLength);
      }
      const alone = await Promise.all(parts.filter((p) => p.independent).slice(0, 4).map((p) => ffprobe(Buffer.concat([init, p.bytes]), 'frames')));
      for (const r of alone) expect({ code: r.code, stderr: r.stderr, decoded: r.times.length > 0 }).toEqual({ code: 0, stderr: '', decoded: true });
      const original = await ffprobe(Buffer.concat([init, ...fragments.map((f) => f.bytes)]), 'frames');
      const coalesced = await ffprobe(Buffer.concat([init, ...parts.map((p) => p.bytes)]), 'frames');
      expect(coalesced.code).toBe(0);
      expect(coalesced.stderr).toBe('');
      expect(coalesced.times.length).toBe(original.times.length);
      expect(coalesced.times).toEqual(original.times);
      // Smaller: for per-frame fragments, by about a moof + mdat header per frame.
      const before = fragments.reduce((n, f) => n + f.bytes.byteLength, 0);
      const after = parts.reduce((n, p) => n + p.bytes.byteLength, 0);
      expect(before - after).toBeGreaterThan(60 * (fragments.length - parts.length));
    });
  }

  it('muxed: every part one moof with a video and an audio traf, decoding to both streams’ frames', async () => {
    const v = readAll(fixture.video[0]!);
    const a = readAll(fixture.audio);
    const merged = mergeInitSegments(v.init, a.init);
    const interleaver = new AudioInterleaver({ videoTimescale: v.track.timescale, audioTimescale: a.track.timescale, audioTrackId: merged.audioTrackId });
    const frames: CutterFrame[] = [];
    // Audio first, as ffmpeg writes it ahead of video.
    for (const f of a.fragments) frames.push(...interleaver.pushAudio(frameOf(f)));
    for (const f of v.fragments) frames.push(...interleaver.pushVideo(frameOf(f)));
    frames.push(...interleaver.endAudio());
    const parts = cutParts(merged.bytes, 'video', v.track.timescale, frames);
    for (const part of parts) expect(partBoxProblem(part.bytes)).toBeUndefined();
    // Two trafs in the one moof of a part: 'traf' occurs twice in its header bytes.
    const moofSize = new DataView(parts[3]!.bytes.buffer, parts[3]!.bytes.byteOffset).getUint32(0);
    expect(Buffer.from(parts[3]!.bytes.subarray(0, moofSize)).toString('latin1').split('traf').length - 1).toBe(2);
    const original = await ffprobeStreams(Buffer.concat([merged.bytes, ...frames.map((f) => f.bytes)]));
    const coalesced = await ffprobeStreams(Buffer.concat([merged.bytes, ...parts.map((p) => p.bytes)]));
    expect(coalesced.code).toBe(0);
    expect(coalesced.stderr).toBe('');
    expect(coalesced.streams.map((s) => s.type)).toEqual(['video', 'audio']);
    expect(coalesced.frames).toEqual(original.frames);
    expect(coalesced.frames['video']).toBeGreaterThan(80);
    expect(coalesced.frames['audio']).toBeGreaterThan(130);
  });
});
