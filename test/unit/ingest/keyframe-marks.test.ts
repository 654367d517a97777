import { describe, expect, it } from 'vitest';
import { KeyframeMarker, RECOVERY_POINT_SEI_NAL, avcNalLengthSize, avccNalUnits, markAvcFrame } from '../../../src/ingest/keyframe-marks.js';

// Real tag bodies from ffmpeg 5.1 + x264 (16x16, `-bsf:v h264_metadata=aud=insert`), FLV as ffmpeg writes it.
const SEQUENCE_HEADER = Buffer.from('17000000000142c00affe100156742c00ada7b0110000003001000000303c0f1226a01000468ce0fc8', 'hex');
/** A P frame: AUD (09 30), then one non-IDR slice (41 9a …); CompositionTime 0. */
const P_FRAME = Buffer.from('270100000000000002093000000005419a202094', 'hex');
const AUD = Buffer.from('0930', 'hex');
const SLICE = Buffer.from('419a202094', 'hex');
/** A user data unregistered SEI NAL the same ffmpeg wrote (payload type 5, "hi"). */
const USER_DATA_SEI = Buffer.from('060513086f3693b7b34f2c965321492feee5b868690080', 'hex');

function avcc(nals: Buffer[], lengthSize: number): Buffer {
  return Buffer.concat(
    nals.flatMap((nal) => {
      const prefix = Buffer.alloc(lengthSize);
      prefix.writeUIntBE(nal.length, 0, lengthSize);
      return [prefix, nal];
    }),
  );
}

function nalsOf(body: Buffer, lengthSize: number): Buffer[] {
  const payload = body.subarray(5);
  return avccNalUnits(payload, lengthSize)!.map(([s, e]) => payload.subarray(s, e));
}

describe('avcNalLengthSize', () => {
  it('reads lengthSizeMinusOne from the AVCDecoderConfigurationRecord', () => {
    expect(avcNalLengthSize(SEQUENCE_HEADER)).toBe(4);
    const two = Buffer.from(SEQUENCE_HEADER);
    two[9] = 0xfd;
    expect(avcNalLengthSize(two)).toBe(2);
  });

  it('is undefined for a frame, a cut record, or an Enhanced RTMP (HEVC) header', () => {
    expect(avcNalLengthSize(P_FRAME)).toBeUndefined();
    expect(avcNalLengthSize(SEQUENCE_HEADER.subarray(0, 8))).toBeUndefined();
    expect(avcNalLengthSize(Buffer.from('9068766331010101ff', 'hex'))).toBeUndefined();
  });
});

describe('markAvcFrame', () => {
  it('puts the recovery point SEI after the AUD, before the slice; keeps frame type and CompositionTime', () => {
    const marked = markAvcFrame(P_FRAME, 4)!;
    expect(nalsOf(marked, 4)).toEqual([AUD, RECOVERY_POINT_SEI_NAL, SLICE]);
    expect(marked.subarray(0, 5)).toEqual(P_FRAME.subarray(0, 5)); // 0x27: inter frame, AVC; NALU; CTS 0
    expect(marked.length).toBe(P_FRAME.length + 4 + RECOVERY_POINT_SEI_NAL.length);
  });

  it('goes after the SEI NALs a frame already has, and keeps its CompositionTime', () => {
    const body = Buffer.concat([Buffer.from('2701000042', 'hex'), avcc([AUD, USER_DATA_SEI, SLICE], 4)]);
    const marked = markAvcFrame(body, 4)!;
    expect(nalsOf(marked, 4)).toEqual([AUD, USER_DATA_SEI, RECOVERY_POINT_SEI_NAL, SLICE]);
    expect(marked.readIntBE(2, 3)).toBe(0x42);
  });

  it('follows a 2-byte NAL length size and a frame without an AUD', () => {
    const body = Buffer.concat([Buffer.from('2701000000', 'hex'), avcc([SLICE], 2)]);
    expect(nalsOf(markAvcFrame(body, 2)!, 2)).toEqual([RECOVERY_POINT_SEI_NAL, SLICE]);
  });

  it('leaves alone a sequence header, a frame marked already, a frame without a slice, bad lengths, HEVC', () => {
    expect(markAvcFrame(SEQUENCE_HEADER, 4)).toBeUndefined();
    expect(markAvcFrame(markAvcFrame(P_FRAME, 4)!, 4)).toBeUndefined();
    expect(markAvcFrame(Buffer.concat([Buffer.from('2701000000', 'hex'), avcc([AUD], 4)]), 4)).toBeUndefined();
    expect(markAvcFrame(P_FRAME.subarray(0, P_FRAME.length - 1), 4)).toBeUndefined();
    expect(markAvcFrame(Buffer.from('a1687663310000000000', 'hex'), 4)).toBeUndefined();
  });
});

describe('KeyframeMarker', () => {
  function run(marker: KeyframeMarker, frames: Array<[pts: number, keyframe: boolean]>, origin: number | 'none' = 0): number[] {
    return frames.filter(([pts, keyframe]) => marker.onFrame(P_FRAME, pts, keyframe, origin === 'none' ? undefined : origin).length > P_FRAME.length).map(([pts]) => pts);
  }

  function frames(from: number, to: number, step: number, keyframes: number[] = []): Array<[number, boolean]> {
    const out: Array<[number, boolean]> = [];
    for (let pts = from; pts <= to; pts += step) out.push([pts, keyframes.includes(pts)]);
    return out;
  }

  it('marks the first frame at or after each grid point from the origin', () => {
    const marker = new KeyframeMarker(1000);
    marker.onSequenceHeader(SEQUENCE_HEADER);
    expect(run(marker, frames(250, 3350, 100, [250]), 250)).toEqual([1250, 2250, 3250]);
    const late = new KeyframeMarker(1000);
    late.onSequenceHeader(SEQUENCE_HEADER);
    expect(run(late, frames(0, 2100, 300, [0]))).toEqual([1200, 2100]);
  });

  it('leaves a grid point alone when a source keyframe came since it', () => {
    const marker = new KeyframeMarker(1000);
    marker.onSequenceHeader(SEQUENCE_HEADER);
    expect(run(marker, frames(0, 3500, 100, [0, 1500, 3000]))).toEqual([1000, 2000]);
  });

  it('marks the next frame on request, and keeps the grid', () => {
    const marker = new KeyframeMarker(1000);
    marker.onSequenceHeader(SEQUENCE_HEADER);
    expect(run(marker, [[0, true], [100, false]])).toEqual([]);
    marker.markNext();
    expect(run(marker, frames(700, 2100, 100))).toEqual([700, 1000, 2000]);
  });

  it('marks every frame before a time on request (a switch\'s output slot), through a source keyframe, then keeps the grid', () => {
    const marker = new KeyframeMarker(1000);
    marker.onSequenceHeader(SEQUENCE_HEADER);
    expect(run(marker, [[0, true], [40, false]])).toEqual([]);
    marker.markBefore(530);
    expect(run(marker, [[500, true], [501, false], [502, false], [520, false], [540, false], [580, false], [1000, false]])).toEqual([501, 502, 520, 1000]);
  });

  it('marks nothing without a grid origin (requests aside), or before an AVC sequence header (HEVC, none seen)', () => {
    const marker = new KeyframeMarker(1000);
    marker.onSequenceHeader(SEQUENCE_HEADER);
    expect(run(marker, frames(0, 2000, 100, [0]), 'none')).toEqual([]);
    const hevc = new KeyframeMarker(1000);
    hevc.onSequenceHeader(Buffer.from('9068766331010101ff', 'hex'));
    hevc.markNext();
    expect(run(hevc, frames(0, 2000, 100, [0]))).toEqual([]);
  });

  it('markAt: marks the first frame at or after the time when it passes, and tells which frame', () => {
    const marker = new KeyframeMarker(1000);
    marker.onSequenceHeader(SEQUENCE_HEADER);
    const told: Array<{ pts: number; keyed: boolean }> = [];
    marker.markAt(1450, (r) => told.push(r));
    expect(run(marker, frames(0, 1400, 100, [0]))).toEqual([1000]);
    expect(told).toEqual([]);
    expect(marker.scheduledMarks).toBe(1);
    // 1500 is the splice's frame; the grid goes on from it (2000 marked, as a source IDR would not be).
    expect(run(marker, frames(1500, 2100, 100))).toEqual([1500, 2000]);
    expect(told).toEqual([{ pts: 1500, keyed: true }]);
    expect(marker.scheduledMarks).toBe(0);
  });

  it('markAt: a time already past (or -Infinity) keys the next frame; a source IDR there counts as keyed; an unmarkable frame is told', () => {
    const marker = new KeyframeMarker(1000);
    marker.onSequenceHeader(SEQUENCE_HEADER);
    const told: Array<{ pts: number; keyed: boolean }> = [];
    run(marker, frames(0, 300, 100, [0]));
    marker.markAt(Number.NEGATIVE_INFINITY, (r) => told.push(r));
    expect(run(marker, frames(400, 500, 100))).toEqual([400]);
    marker.markAt(600, (r) => told.push(r));
    expect(run(marker, frames(600, 600, 100, [600]))).toEqual([]); // an IDR: nothing to add
    const hevc = new KeyframeMarker(1000);
    hevc.markAt(0, (r) => told.push(r));
    run(hevc, frames(0, 0, 100));
    expect(told).toEqual([
      { pts: 400, keyed: true },
      { pts: 600, keyed: true },
      { pts: 0, keyed: false },
    ]);
  });

  it('decideFrame settles the frame before it when its caller did not (no settleFrame): its scheduled marks are told, once', () => {
    const marker = new KeyframeMarker(1000);
    const told: Array<{ pts: number; keyed: boolean }> = [];
    marker.decideFrame(0, true, 0);
    marker.settleFrame(true);
    marker.markAt(100, (r) => told.push(r));
    expect(marker.decideFrame(100, false, 0)).toBe(true); // due; its caller never settles it
    expect(told).toEqual([]);
    marker.markAt(200, (r) => told.push(r));
    marker.decideFrame(200, true, 0); // a source IDR, left unsettled too
    // Not known to be marked: not keyed.
    expect(told).toEqual([{ pts: 100, keyed: false }]);
    marker.decideFrame(300, false, 0);
    expect(told).toEqual([{ pts: 100, keyed: false }, { pts: 200, keyed: true }]);
    marker.settleFrame(false); // 300's own settle: nothing was due on it, nothing told again
    expect(told).toHaveLength(2);
    expect(marker.scheduledMarks).toBe(0);
  });

  /**
   * A source with B-frames as x264 `-bf 3` (b-pyramid, fixed pattern) sends it, 25 fps: frame n is
   * presented at n·40 ms; after the IDR each group of four (P at 4g, B at 4g−3…4g−1) comes in
   * decode order P, middle B (a reference), first B, last B; the DTS runs 40 ms a frame from −80.
   */
  function bFrameStream(frameCount: number, skip: number[] = []): Array<{ pts: number; dts: number; keyframe: boolean }> {
    const order = [0];
    for (let p = 4; p < frameCount; p += 4) order.push(p, p - 2, p - 3, p - 1);
    return order.map((n, i) => ({ pts: n * 40, dts: i * 40 - 80, keyframe: n === 0 })).filter((f) => !skip.includes(f.pts));
  }

  function runDecodeOrder(marker: KeyframeMarker, stream: Array<{ pts: number; dts: number; keyframe: boolean }>): number[] {
    return stream.filter((f) => marker.onFrame(P_FRAME, f.pts, f.keyframe, 0, f.dts).length > P_FRAME.length).map((f) => f.pts);
  }

  it('B-frames: marks the frame presented first at or after each grid point and splice time, not the first in decode order', () => {
    const marker = new KeyframeMarker(1000);
    marker.onSequenceHeader(SEQUENCE_HEADER);
    const told: Array<{ pts: number; keyed: boolean }> = [];
    // 2170 ms: frame 55 (2200), a non-reference B; decode order brings P 56 (2240) before it.
    marker.markAt(2170, (r) => told.push(r));
    // Grid: frame 25 (a non-reference B, after P 28 in the stream), 50 (the reference B), 75 (the last B).
    expect(runDecodeOrder(marker, bFrameStream(100))).toEqual([1000, 2000, 2200, 3000]);
    expect(told).toEqual([{ pts: 2200, keyed: true }]);
  });

  it('B-frames: with the frame at the grid point missing, the mark waits for the first frame decoded at or after the point (at most the reorder delay late)', () => {
    const marker = new KeyframeMarker(1000);
    marker.onSequenceHeader(SEQUENCE_HEADER);
    // No 1000 (frame 25): 1040 comes before its DTS reaches the point and is no interval past it; 1080 (DTS 1040) is keyed.
    expect(runDecodeOrder(marker, bFrameStream(40, [1000]))).toEqual([1080]);
  });

  it('B-frames with a capped output rate: keys the splice frame\'s output slot, a frame of it decoded before the splice frame too, none presented before it', () => {
    const capped = (): KeyframeMarker => {
      const marker = new KeyframeMarker(10_000);
      marker.onSequenceHeader(SEQUENCE_HEADER);
      marker.outputFrameMs = 100; // a 10 fps cap on a 25 fps source: a splice frame's slot holds the next frame too
      return marker;
    };
    // Frames 53–56 come as P 2240, B 2160, B 2120, B 2200. At 2170 the splice frame is 2200: P 2240,
    // presented within the slot but decoded first, is marked as it passes (within 2170 + 100 − 20).
    const late = capped();
    late.markAt(2170, () => undefined);
    expect(runDecodeOrder(late, bFrameStream(100))).toEqual([2240, 2200]);
    // At 2230 the splice frame is P 2240: B 2160, 2120 and 2200 follow it in the stream but are presented
    // before it — not marked; B 2280 (after P 2400 and B 2320) is in its slot.
    const early = capped();
    early.markAt(2230, () => undefined);
    expect(runDecodeOrder(early, bFrameStream(100))).toEqual([2240, 2280]);
  });

  it('markAt with a capped output rate: keys the rest of the splice frame\'s output slot on a faster source, nothing more at the output rate', () => {
    // 60 fps into a 30 fps cap: the fps filter keeps the later of the two frames in a slot.
    const fast = new KeyframeMarker(10_000);
    fast.onSequenceHeader(SEQUENCE_HEADER);
    fast.outputFrameMs = 1000 / 30;
    run(fast, frames(0, 1000, 1000 / 60, [0]).map(([pts, key]) => [Math.round(pts), key] as [number, boolean]));
    fast.markAt(1500, () => undefined);
    const marked = run(fast, frames(1017, 1700, 1000 / 60).map(([pts, key]) => [Math.round(pts), key] as [number, boolean]));
    expect(marked).toEqual([1500, 1517]);
    // 30 fps at a 30 fps cap: the splice frame alone. Whole-ms timestamps step 33, 33, 34 ms: 1133 comes
    // 33 ms after 1100, shorter than the 33.3 ms output slot, so the slot is marked — less half an input
    // frame, which spares 1166 (33 ms on). (At 1500, 34 ms after 1466, no slot is marked at all.)
    const even = new KeyframeMarker(10_000);
    even.onSequenceHeader(SEQUENCE_HEADER);
    even.outputFrameMs = 1000 / 30;
    run(even, frames(0, 1000, 1000 / 30, [0]).map(([pts, key]) => [Math.round(pts), key] as [number, boolean]));
    even.markAt(1133, () => undefined);
    expect(run(even, frames(1033, 1700, 1000 / 30).map(([pts, key]) => [Math.round(pts), key] as [number, boolean]))).toEqual([1133]);
  });
});
