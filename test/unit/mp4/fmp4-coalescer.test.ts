import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { Fmp4Reader, type FragmentEvent, type InitSegmentEvent } from '../../../src/mp4/fmp4-reader.js';
import { encodeMediaChunk, NON_SYNC_SAMPLE_FLAGS, SYNC_SAMPLE_FLAGS } from '../../../src/mp4/fmp4-fragment-writer.js';
import { chunkRunsOf, coalesceFragments, planCoalescedChunks, trackDefaultsOf, type TrackRun } from '../../../src/mp4/fmp4-coalescer.js';
import { encodeBox, mergeInitSegments, withTrackId } from '../../../src/mp4/mp4-mux.js';
import { ErrorCode } from '../../../src/core/errors.js';
import { encodeLadderFixture } from '../../helpers/package/fixtures.js';

interface Track {
  init: InitSegmentEvent;
  fragments: FragmentEvent[];
}

function read(bytes: Uint8Array): Track {
  const events = new Fmp4Reader().push(bytes);
  return {
    init: events.find((e): e is InitSegmentEvent => e.type === 'init')!,
    fragments: events.filter((e): e is FragmentEvent => e.type === 'fragment'),
  };
}

/** The fragments the reader finds in `init` + `chunk`. */
function readBack(init: Uint8Array, chunk: Uint8Array): FragmentEvent[] {
  return read(Uint8Array.from([...init, ...chunk])).fragments;
}

/** Every sample of `fragments`: timing, flags and its data. */
function samplesOf(fragments: readonly FragmentEvent[]): Array<{ decodeTime: number; duration: number; flags: number; cto: number; sync: boolean; data: string }> {
  const out: Array<{ decodeTime: number; duration: number; flags: number; cto: number; sync: boolean; data: string }> = [];
  for (const f of fragments) {
    let t = f.decodeTime;
    let at = f.dataStart;
    for (const s of f.samples) {
      out.push({ decodeTime: t, duration: s.duration, flags: s.flags, cto: s.compositionOffset, sync: s.isSync, data: Buffer.from(f.bytes.subarray(at, at + s.size)).toString('hex') });
      t += s.duration;
      at += s.size;
    }
  }
  return out;
}

function boxTypes(bytes: Uint8Array): string[] {
  const types: string[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 0; at < bytes.byteLength; at += view.getUint32(at)) types.push(String.fromCharCode(...bytes.subarray(at + 4, at + 8)));
  return types;
}

let video: Track;
/** B-frames: composition offsets, some negative-free positive ones, and keyframes every 10 frames. */
let videoB: Track;
let audio: Track;

beforeAll(async () => {
  const plain = await encodeLadderFixture({ seconds: 1, sizes: ['160x90'], gop: 10 });
  const withB = await encodeLadderFixture({ seconds: 1, sizes: ['160x90'], gop: 10, bframes: 2 });
  video = read(plain.video[0]!);
  videoB = read(withB.video[0]!);
  audio = read(plain.audio);
}, 60_000);

describe('coalesceFragments', () => {
  it('makes ffmpeg’s per-frame audio fragments one moof + mdat that reads back to the same samples, times and data, and is smaller', () => {
    const fragments = audio.fragments.slice(3, 13);
    const chunk = coalesceFragments(fragments.map((f) => f.bytes));
    expect(boxTypes(chunk)).toEqual(['moof', 'mdat']);
    const back = readBack(audio.init.bytes, chunk);
    expect(back).toHaveLength(1);
    expect(back[0]!.sequenceNumber).toBe(fragments[0]!.sequenceNumber);
    expect(back[0]!.decodeTime).toBe(fragments[0]!.decodeTime);
    expect(samplesOf(back)).toEqual(samplesOf(fragments));
    // ~100 bytes of headers per fragment become 4 bytes per sample (its size) and one moof.
    const input = fragments.reduce((n, f) => n + f.bytes.byteLength, 0);
    expect(input - chunk.byteLength).toBeGreaterThan(9 * 80);
  });

  it('keeps a keyframe in the middle of a part sync and the other frames non-sync', () => {
    // Frames 7..13: the keyframe at 10 is the fourth sample.
    const fragments = video.fragments.slice(7, 14);
    expect(fragments.map((f) => f.independent)).toEqual([false, false, false, true, false, false, false]);
    const back = readBack(video.init.bytes, coalesceFragments(fragments.map((f) => f.bytes)));
    expect(back).toHaveLength(1);
    expect(back[0]!.samples.map((s) => s.isSync)).toEqual([false, false, false, true, false, false, false]);
    expect(samplesOf(back)).toEqual(samplesOf(fragments));
  });

  it('keeps a part that opens on a keyframe independent (first_sample_flags), and composition offsets of B-frames', () => {
    const fragments = videoB.fragments.slice(10, 20);
    expect(fragments.some((f) => f.samples[0]!.compositionOffset !== fragments[0]!.samples[0]!.compositionOffset)).toBe(true);
    const back = readBack(videoB.init.bytes, coalesceFragments(fragments.map((f) => f.bytes)));
    expect(back).toHaveLength(1);
    expect(back[0]!.independent).toBe(true);
    expect(samplesOf(back)).toEqual(samplesOf(fragments));
  });

  it('writes negative composition offsets with a version-1 trun', () => {
    const data = [Uint8Array.of(1, 2), Uint8Array.of(3), Uint8Array.of(4, 5, 6)];
    const fragments = [
      encodeMediaChunk({ sequenceNumber: 1, trackId: 1, baseDecodeTime: 1000, samples: [{ duration: 512, data: data[0]!, sync: true, compositionOffset: 512 }] }),
      encodeMediaChunk({ sequenceNumber: 2, trackId: 1, baseDecodeTime: 1512, samples: [{ duration: 512, data: data[1]!, sync: false, compositionOffset: -512 }, { duration: 500, data: data[2]!, sync: false }] }),
    ];
    const back = readBack(video.init.bytes, coalesceFragments(fragments));
    expect(back).toHaveLength(1);
    expect(back[0]!.samples.map((s) => [s.duration, s.size, s.compositionOffset, s.flags])).toEqual([
      [512, 2, 512, SYNC_SAMPLE_FLAGS], [512, 1, -512, NON_SYNC_SAMPLE_FLAGS], [500, 3, 0, NON_SYNC_SAMPLE_FLAGS],
    ]);
    expect(back[0]!.decodeTime).toBe(1000);
    expect(Array.from(back[0]!.bytes.subarray(back[0]!.dataStart))).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('makes a muxed part (video frames, each with its audio renumbered to track 2) one moof with a traf per track', () => {
    const merged = mergeInitSegments(video.init.bytes, audio.init.bytes);
    // Three video frames (33 ms each) and the audio fragments of their window, as the interleaver muxes them.
    const frames: Uint8Array[] = [];
    const audioUsed: FragmentEvent[] = [];
    let a = 0;
    for (const v of video.fragments.slice(0, 3)) {
      const end = (v.decodeTime + v.duration) / video.init.track.timescale;
      const parts = [v.bytes];
      while (a < audio.fragments.length && audio.fragments[a]!.decodeTime / audio.init.track.timescale < end) {
        audioUsed.push(audio.fragments[a]!);
        parts.push(withTrackId(audio.fragments[a++]!.bytes, merged.audioTrackId));
      }
      frames.push(Buffer.concat(parts));
    }
    expect(audioUsed.length).toBeGreaterThan(2);
    const chunk = coalesceFragments(frames, trackDefaultsOf(merged.bytes));
    expect(boxTypes(chunk)).toEqual(['moof', 'mdat']);
    const [only, ...rest] = chunkRunsOf([chunk]);
    expect(rest).toEqual([]);
    expect(only!.tracks.map((t) => [t.trackId, t.decodeTime])).toEqual([[merged.videoTrackId, 0], [merged.audioTrackId, audioUsed[0]!.decodeTime]]);
    const asSamples = (t: TrackRun) => ({
      flags: t.samples.map((s) => [s.duration, s.size, s.flags, s.compositionOffset]),
      data: Buffer.concat(t.data).toString('hex'),
    });
    const expected = (fs: FragmentEvent[]) => ({
      flags: fs.flatMap((f) => f.samples.map((s) => [s.duration, s.size, s.flags, s.compositionOffset])),
      data: samplesOf(fs).map((s) => s.data).join(''),
    });
    expect(asSamples(only!.tracks[0]!)).toEqual(expected(video.fragments.slice(0, 3)));
    expect(asSamples(only!.tracks[1]!)).toEqual(expected(audioUsed));
    // Video data first, then audio, right after the one mdat header: data offsets from the moof.
    const moofSize = new DataView(chunk.buffer, chunk.byteOffset).getUint32(0);
    expect(Buffer.from(chunk.subarray(moofSize + 8)).toString('hex')).toBe(asSamples(only!.tracks[0]!).data + asSamples(only!.tracks[1]!).data);
  });

  it('starts a new chunk where a track’s decode times jump, so every time stays exact', () => {
    const fragments = [...audio.fragments.slice(0, 4), ...audio.fragments.slice(6, 9)];
    const plan = planCoalescedChunks(fragments.map((f) => f.bytes));
    expect(plan.chunkCount).toBe(2);
    const chunk = coalesceFragments(fragments.map((f) => f.bytes));
    expect(boxTypes(chunk)).toEqual(['moof', 'mdat', 'moof', 'mdat']);
    const back = readBack(audio.init.bytes, chunk);
    expect(back.map((f) => f.decodeTime)).toEqual([fragments[0]!.decodeTime, fragments[4]!.decodeTime]);
    expect(samplesOf(back)).toEqual(samplesOf(fragments));
  });

  it('takes per-sample values a fragment leaves to the init’s trex from the defaults given', () => {
    // tfhd with default-base-is-moof and no defaults; a trun with sizes only: durations and flags come from trex.
    const tfhd = encodeBox('tfhd', Uint8Array.of(0, 2, 0, 0, 0, 0, 0, 1));
    const tfdt = encodeBox('tfdt', Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0));
    const mfhd = encodeBox('mfhd', Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 9));
    const trunSize = 8 + 4 + 4 + 4 + 2 * 4;
    const moofSize = 8 + mfhd.byteLength + 8 + tfhd.byteLength + tfdt.byteLength + trunSize;
    const trun = encodeBox('trun', Uint8Array.of(0, 0, 2, 1, 0, 0, 0, 2, 0, 0, 0, moofSize + 8, 0, 0, 0, 2, 0, 0, 0, 1));
    const fragment = Buffer.concat([encodeBox('moof', mfhd, encodeBox('traf', tfhd, tfdt, trun)), encodeBox('mdat', Uint8Array.of(7, 8, 9))]);
    const defaults = new Map([[1, { duration: 1024, size: 0, flags: SYNC_SAMPLE_FLAGS }]]);
    const [run] = chunkRunsOf([coalesceFragments([fragment], defaults)]);
    expect(run!.sequenceNumber).toBe(9);
    expect(run!.tracks[0]!.decodeTime).toBe(0x1000);
    expect(run!.tracks[0]!.samples.map((s) => [s.duration, s.size, s.flags])).toEqual([[1024, 2, SYNC_SAMPLE_FLAGS], [1024, 1, SYNC_SAMPLE_FLAGS]]);
    expect(Array.from(Buffer.concat(run!.tracks[0]!.data))).toEqual([7, 8, 9]);
    // The real inits' trex are read too.
    expect(trackDefaultsOf(audio.init.bytes).has(audio.init.track.trackId)).toBe(true);
  });

  it('refuses a traf box it would have to drop', () => {
    const f = video.fragments[0]!.bytes.slice();
    // Rename the tfdt inside the traf (moof 8, mfhd 16, traf header 8, then tfhd of its own size).
    const view = new DataView(f.buffer);
    const tfhdSize = view.getUint32(8 + 16 + 8);
    const tfdtAt = 8 + 16 + 8 + tfhdSize;
    expect(String.fromCharCode(...f.subarray(tfdtAt + 4, tfdtAt + 8))).toBe('tfdt');
    f.set([0x73, 0x65, 0x6e, 0x63], tfdtAt + 4); // 'senc'
    expect(() => coalesceFragments([f])).toThrow(expect.objectContaining({ code: ErrorCode.MediaMalformed }));
  });

  it('property: any split of any samples into fragments coalesces back to the same samples', () => {
    const sample = fc.record({
      duration: fc.integer({ min: 1, max: 5000 }),
      data: fc.uint8Array({ minLength: 1, maxLength: 40 }),
      sync: fc.boolean(),
      compositionOffset: fc.integer({ min: -3000, max: 3000 }),
    });
    fc.assert(
      fc.property(fc.array(fc.array(sample, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 8 }), fc.integer({ min: 0, max: 2 ** 40 }), (groups, start) => {
        let t = start;
        const fragments = groups.map((samples, i) => {
          const bytes = encodeMediaChunk({ sequenceNumber: i + 1, trackId: 1, baseDecodeTime: t, samples });
          t += samples.reduce((n, s) => n + s.duration, 0);
          return bytes;
        });
        const input = readBack(video.init.bytes, Buffer.concat(fragments));
        const back = readBack(video.init.bytes, coalesceFragments(fragments));
        expect(back).toHaveLength(1);
        expect(samplesOf(back)).toEqual(samplesOf(input));
      }),
      { numRuns: 200 },
    );
  });
});
