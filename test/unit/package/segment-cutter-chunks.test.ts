/**
 * The cutter's `partChunks`: each part one CMAF chunk of its frames' samples, at the same moments and
 * with the same timing as parts of the frames as they came; a segment is its parts' bytes.
 */
import { describe, expect, it } from 'vitest';
import { chunkRunsOf } from '../../../src/mp4/fmp4-coalescer.js';
import { encodeMediaChunk } from '../../../src/mp4/fmp4-fragment-writer.js';
import { SegmentCutter, type CutterEvent, type CutterFrame } from '../../../src/package/segment-cutter.js';

const TIMESCALE = 15360;
const FRAME = 512; // 30 fps

/** `count` one-frame fragments, a keyframe every `gop`, each sample's data naming its frame. */
function frames(count: number, gop: number): CutterFrame[] {
  return Array.from({ length: count }, (_, i) => {
    const independent = i % gop === 0;
    const data = Uint8Array.from({ length: 50 + (i % 7) }, (_, k) => (i + k) & 255);
    const bytes = encodeMediaChunk({ sequenceNumber: i + 1, trackId: 1, baseDecodeTime: 1000 + i * FRAME, samples: [{ duration: FRAME, data, sync: independent, compositionOffset: independent ? 0 : FRAME }] });
    return { decodeTime: 1000 + i * FRAME, duration: FRAME, independent, bytes };
  });
}

function cut(input: CutterFrame[], chunks: boolean): { events: Array<{ at: number; event: CutterEvent }>; cutter: SegmentCutter } {
  const cutter = new SegmentCutter({ kind: 'video', timescale: TIMESCALE, partTarget: 0.2, segmentDuration: 1, ...(chunks ? { partChunks: { defaults: new Map() } } : {}) });
  const events: Array<{ at: number; event: CutterEvent }> = [];
  input.forEach((f, at) => events.push(...cutter.push(f).map((event) => ({ at, event }))));
  events.push(...cutter.flush().map((event) => ({ at: input.length, event })));
  return { events, cutter };
}

/** An event without its bytes. */
function timing(e: { at: number; event: CutterEvent }): unknown {
  const { bytes: _bytes, ...rest } = e.event.type === 'part' ? e.event.part : e.event.segment;
  return { at: e.at, type: e.event.type, ...rest };
}

describe('SegmentCutter with partChunks', () => {
  // 0.2 s parts of 6 frames; a keyframe every 25 frames lands inside parts.
  const input = frames(100, 25);
  const plain = cut(input, false);
  const chunked = cut(input, true);

  it('lists the same parts and segments at the same frames, with the same timing', () => {
    expect(chunked.events.map(timing)).toEqual(plain.events.map(timing));
  });

  it('makes every part one moof + mdat holding exactly its frames’ samples and data, keyframes kept where they are', () => {
    const parts = chunked.events.flatMap((e) => (e.event.type === 'part' ? [e.event.part] : []));
    const plainParts = plain.events.flatMap((e) => (e.event.type === 'part' ? [e.event.part] : []));
    parts.forEach((part, i) => {
      const [chunk, ...more] = chunkRunsOf([part.bytes]);
      expect(more).toEqual([]);
      const expected = chunkRunsOf([plainParts[i]!.bytes]);
      expect(expected).toHaveLength(1);
      expect(chunk!.tracks).toHaveLength(1);
      const got = chunk!.tracks[0]!;
      const want = expected[0]!.tracks[0]!;
      expect(got.decodeTime).toBe(Math.round(part.startTime * TIMESCALE));
      expect(got.decodeTime).toBe(want.decodeTime);
      expect(got.samples).toEqual(want.samples);
      expect(Buffer.concat(got.data)).toEqual(Buffer.concat(want.data));
    });
    // Some part holds a keyframe after its first frame.
    expect(parts.some((p) => chunkRunsOf([p.bytes])[0]!.tracks[0]!.samples.slice(1).some((s) => s.isSync))).toBe(true);
  });

  it('keeps a segment its parts’ bytes, and stores fewer bytes than the fragments', () => {
    let partBytes: Uint8Array[] = [];
    for (const { event } of chunked.events) {
      if (event.type === 'part') partBytes.push(event.part.bytes);
      else {
        expect(Buffer.from(event.segment.bytes)).toEqual(Buffer.concat(partBytes));
        partBytes = [];
      }
    }
    expect(chunked.cutter.frameBytes).toBe(plain.cutter.frameBytes);
    expect(plain.cutter.partBytes).toBe(plain.cutter.frameBytes);
    expect(chunked.cutter.partBytes).toBeLessThan(chunked.cutter.frameBytes - 100 * 60);
  });

  it('keeps a part as its frames came when they cannot be one chunk (a traf box the coalescer would drop), losing nothing', () => {
    const odd = frames(12, 25).map((f, i) => {
      if (i !== 2) return f;
      // Rename the tfdt inside the traf (moof 8, mfhd 16, traf header 8, then tfhd) to 'senc'.
      const bytes = f.bytes.slice();
      const tfdtAt = 8 + 16 + 8 + new DataView(bytes.buffer).getUint32(8 + 16 + 8);
      expect(String.fromCharCode(...bytes.subarray(tfdtAt + 4, tfdtAt + 8))).toBe('tfdt');
      bytes.set([0x73, 0x65, 0x6e, 0x63], tfdtAt + 4);
      return { ...f, bytes };
    });
    const { events, cutter } = cut(odd, true);
    const parts = events.flatMap((e) => (e.event.type === 'part' ? [e.event.part] : []));
    expect(parts).toHaveLength(2);
    // The part holding the odd frame is its six frames' bytes as they came; the other one chunk.
    expect(Buffer.from(parts[0]!.bytes)).toEqual(Buffer.concat(odd.slice(0, 6).map((f) => f.bytes)));
    expect(chunkRunsOf([parts[1]!.bytes])).toHaveLength(1);
    expect(cutter.uncoalescedParts).toBe(1);
  });
});
