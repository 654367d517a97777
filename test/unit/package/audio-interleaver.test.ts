import { beforeAll, describe, expect, it } from 'vitest';
import { childBoxes, requireChild } from '../../../src/mp4/mp4-boxes.js';
import { AudioInterleaver, type TimedFragment } from '../../../src/package/audio-interleaver.js';
import type { CutterFrame } from '../../../src/package/segment-cutter.js';
import { encodeLadderFixture } from '../../helpers/package/fixtures.js';
import { readAll } from '../../helpers/package/pipeline.js';

let video: TimedFragment[];
let audio: TimedFragment[];
/** Track timescales of the fixture (ffmpeg's choice for the video; the transcoder sets 90 kHz). */
let VIDEO_TS: number;
let audioTs: number;

beforeAll(async () => {
  const fixture = await encodeLadderFixture({ seconds: 2, sizes: ['160x90'], gop: 15 });
  const v = readAll(fixture.video[0]!);
  const a = readAll(fixture.audio);
  VIDEO_TS = v.track.timescale;
  audioTs = a.track.timescale;
  video = v.fragments;
  audio = a.fragments;
}, 60_000);

/** The chunks of a muxed frame: each moof's track id, tfdt and size, in order. */
function chunksOf(frame: CutterFrame): Array<{ trackId: number; decodeTime: number; size: number }> {
  const out: Array<{ trackId: number; decodeTime: number; size: number }> = [];
  let size = 0;
  for (const top of childBoxes(frame.bytes, 'frame')) {
    if (top.type === 'mdat') {
      out[out.length - 1]!.size = size + top.size;
      continue;
    }
    const traf = requireChild(childBoxes(top.payload, 'moof'), 'traf', 'moof');
    const children = childBoxes(traf.payload, 'traf');
    const tfhd = requireChild(children, 'tfhd', 'traf').payload;
    const tfdt = requireChild(children, 'tfdt', 'traf').payload;
    const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
    const decodeTime = tfdt[0] === 1 ? Number(dv(tfdt).getBigUint64(4)) : dv(tfdt).getUint32(4);
    out.push({ trackId: dv(tfhd).getUint32(4), decodeTime, size: 0 });
    size = top.size;
  }
  return out;
}

/** Feeds both streams in the order given by `audioLeadSeconds` (audio arrives that much ahead of video; negative: behind). */
function interleave(interleaver: AudioInterleaver, audioLeadSeconds: number, endAudio = true): CutterFrame[] {
  const events = [
    ...video.map((f) => ({ at: f.decodeTime / VIDEO_TS, push: () => interleaver.pushVideo(f) })),
    ...audio.map((f) => ({ at: f.decodeTime / audioTs - audioLeadSeconds, push: () => interleaver.pushAudio(f) })),
  ].sort((a, b) => a.at - b.at);
  const out: CutterFrame[] = [];
  for (const e of events) out.push(...e.push());
  if (endAudio) out.push(...interleaver.endAudio());
  return out;
}

describe('AudioInterleaver', () => {
  it.each([0.2, 0, -0.05, -0.5])('gives every video frame the audio that starts in its window (audio %s s ahead)', (lead) => {
    const interleaver = new AudioInterleaver({ videoTimescale: VIDEO_TS, audioTimescale: audioTs, audioTrackId: 2 });
    const frames = interleave(interleaver, lead);
    // One muxed frame per video frame, with the video's timing, in order.
    expect(frames.map((f) => [f.decodeTime, f.duration, f.independent])).toEqual(video.map((f) => [f.decodeTime, f.duration, f.independent]));
    const seen: number[] = [];
    frames.forEach((frame, i) => {
      const [first, ...rest] = chunksOf(frame);
      expect(first).toEqual({ trackId: 1, decodeTime: video[i]!.decodeTime, size: video[i]!.bytes.byteLength });
      const start = frame.decodeTime / VIDEO_TS;
      const end = (frame.decodeTime + frame.duration) / VIDEO_TS;
      for (const chunk of rest) {
        expect(chunk.trackId).toBe(2);
        const at = chunk.decodeTime / audioTs;
        expect(at).toBeLessThan(end);
        expect(at).toBeGreaterThanOrEqual(start - 1024 / audioTs);
        seen.push(chunk.decodeTime);
      }
    });
    // Every audio fragment that starts before the video ends, exactly once, in order (the fixture's
    // audio starts with its video at 0; what starts after the last video frame has no picture).
    const last = video.at(-1)!;
    const videoEnd = (last.decodeTime + last.duration) / VIDEO_TS;
    const expected = audio.filter((f) => f.decodeTime / audioTs < videoEnd).map((f) => f.decodeTime);
    expect(expected.length).toBeGreaterThan(audio.length - 3);
    expect(seen).toEqual(expected);
    expect(interleaver.droppedAudio).toBe(0);
    expect(interleaver.releasedWithoutAudio).toBe(0);
  });

  it('holds a video frame until audio reaches its end, then releases it at once', () => {
    const interleaver = new AudioInterleaver({ videoTimescale: VIDEO_TS, audioTimescale: audioTs, audioTrackId: 2 });
    expect(interleaver.pushVideo(video[0]!)).toEqual([]);
    const end = (video[0]!.decodeTime + video[0]!.duration) / VIDEO_TS;
    const released: CutterFrame[] = [];
    let pushed = 0;
    for (const a of audio) {
      released.push(...interleaver.pushAudio(a));
      pushed++;
      if (released.length > 0) break;
    }
    // Released by the audio fragment that reached the frame's end, not before.
    const last = audio[pushed - 1]!;
    expect((last.decodeTime + last.duration) / audioTs).toBeGreaterThanOrEqual(end);
    expect((last.decodeTime) / audioTs).toBeLessThan(end);
    expect(released).toHaveLength(1);
    expect(chunksOf(released[0]!).length).toBe(1 + pushed);
  });

  it('drops audio that ends before the first video frame', () => {
    const interleaver = new AudioInterleaver({ videoTimescale: VIDEO_TS, audioTimescale: audioTs, audioTrackId: 2 });
    // Video from its 10th frame (0.3 s): the audio before it has no picture.
    for (const a of audio) interleaver.pushAudio(a);
    const frames = [...video.slice(9).flatMap((v) => interleaver.pushVideo(v)), ...interleaver.endAudio()];
    const first = chunksOf(frames[0]!);
    const videoStart = video[9]!.decodeTime / VIDEO_TS;
    expect(first[1]!.decodeTime / audioTs).toBeLessThanOrEqual(videoStart);
    expect((first[1]!.decodeTime + 1024) / audioTs).toBeGreaterThan(videoStart);
    expect(interleaver.droppedAudio).toBe(audio.filter((a) => (a.decodeTime + a.duration) / audioTs <= videoStart).length);
  });

  it.each([
    { name: 'video with no audio yet, past maxWaitSeconds', audioFrames: 0 },
    { name: 'video far ahead of a stalled audio', audioFrames: 5 },
  ])('releases $name without its audio (counted)', ({ audioFrames }) => {
    const interleaver = new AudioInterleaver({ videoTimescale: VIDEO_TS, audioTimescale: audioTs, audioTrackId: 2, maxWaitSeconds: 0.5 });
    for (const a of audio.slice(0, audioFrames)) interleaver.pushAudio(a);
    const frames = video.flatMap((v) => interleaver.pushVideo(v));
    // Everything older than 0.5 s behind the newest frame is out; the last 0.5 s waits.
    const held = video.length - frames.length;
    expect(held).toBeGreaterThan(0);
    expect(held).toBeLessThanOrEqual(Math.ceil((0.5 * 30) + 1));
    expect(interleaver.releasedWithoutAudio).toBeGreaterThan(0);
    expect(interleaver.endAudio()).toHaveLength(held);
  });

  it('keeps at most maxWaitSeconds of audio while no video comes', () => {
    const interleaver = new AudioInterleaver({ videoTimescale: VIDEO_TS, audioTimescale: audioTs, audioTrackId: 2, maxWaitSeconds: 0.5 });
    for (const a of audio) expect(interleaver.pushAudio(a)).toEqual([]);
    const kept = audio.length - interleaver.droppedAudio;
    expect(kept * 1024 / audioTs).toBeLessThanOrEqual(0.5 + 1024 / audioTs + 1e-9);
    expect(kept * 1024 / audioTs).toBeGreaterThan(0.45);
  });
});
