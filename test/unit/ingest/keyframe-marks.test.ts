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
  function run(marker: KeyframeMarker, frames: Array<[pts: number, keyframe: boolean]>): number[] {
    return frames.filter(([pts, keyframe]) => marker.onFrame(keyframe ? SEQUENCE_HEADER : P_FRAME, pts, keyframe).length > P_FRAME.length && !keyframe).map(([pts]) => pts);
  }

  it('marks the first frame one interval after the last keyframe, source IDRs included', () => {
    const marker = new KeyframeMarker(1000);
    marker.onSequenceHeader(SEQUENCE_HEADER);
    const frames: Array<[number, boolean]> = [];
    for (let pts = 0; pts <= 3500; pts += 100) frames.push([pts, pts === 0 || pts === 1500]);
    expect(run(marker, frames)).toEqual([1000, 2500, 3500]);
  });

  it('marks the next frame on request, and counts the interval from there', () => {
    const marker = new KeyframeMarker(1000);
    marker.onSequenceHeader(SEQUENCE_HEADER);
    expect(run(marker, [[0, true], [100, false]])).toEqual([]);
    marker.markNext();
    expect(run(marker, [[200, false], [300, false], [1100, false], [1200, false]])).toEqual([200, 1200]);
  });

  it('marks nothing before an AVC sequence header (HEVC, or none seen)', () => {
    const marker = new KeyframeMarker(1000);
    marker.markNext();
    expect(run(marker, [[0, true], [1000, false], [2000, false]])).toEqual([]);
  });
});
