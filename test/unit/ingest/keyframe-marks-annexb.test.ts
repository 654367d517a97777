import { describe, expect, it } from 'vitest';
import { RECOVERY_POINT_SEI_NAL, annexBNalUnits, isAnnexBIdr, markAnnexBFrame } from '../../../src/ingest/keyframe-marks.js';

// NAL units of a real ffmpeg 5.1 + x264 access unit (as in keyframe-marks.test.ts): AUD, a user data
// SEI, SPS, PPS, a non-IDR and an IDR slice head.
const AUD = Buffer.from('0930', 'hex');
const USER_DATA_SEI = Buffer.from('060513086f3693b7b34f2c965321492feee5b868690080', 'hex');
const SPS = Buffer.from('6742c00ada7b0110000003001000000303c0f1226a', 'hex');
const PPS = Buffer.from('68ce0fc8', 'hex');
const P_SLICE = Buffer.from('419a202094', 'hex');
const IDR_SLICE = Buffer.from('65888404', 'hex');
const FOUR = Buffer.from([0, 0, 0, 1]);
const THREE = Buffer.from([0, 0, 1]);

const annexB = (...parts: Array<[Buffer, Buffer]>) => Buffer.concat(parts.flatMap(([code, nal]) => [code, nal]));
const nalsOf = (data: Buffer) => annexBNalUnits(data).map(([s, e]) => data.subarray(s, e));

describe('Annex-B keyframe marks', () => {
  it('finds NAL units behind 3- and 4-byte start codes, without trailing zero bytes', () => {
    const au = Buffer.concat([annexB([FOUR, AUD], [THREE, SPS], [FOUR, PPS], [THREE, P_SLICE]), Buffer.from([0, 0])]);
    expect(nalsOf(au)).toEqual([AUD, SPS, PPS, P_SLICE]);
    expect(nalsOf(Buffer.from('ffff', 'hex'))).toEqual([]);
    expect(nalsOf(Buffer.concat([Buffer.from([0x12, 0x34]), THREE, P_SLICE]))).toEqual([P_SLICE]);
  });

  it('tells an IDR access unit', () => {
    expect(isAnnexBIdr(annexB([FOUR, AUD], [FOUR, SPS], [FOUR, PPS], [FOUR, IDR_SLICE]))).toBe(true);
    expect(isAnnexBIdr(annexB([FOUR, AUD], [FOUR, P_SLICE]))).toBe(false);
  });

  it('puts the SEI (4-byte start code) before the first slice, after AUD, parameter sets and SEI; keeps the slice\'s start code', () => {
    const au = annexB([FOUR, AUD], [THREE, SPS], [FOUR, PPS], [FOUR, USER_DATA_SEI], [FOUR, P_SLICE]);
    const marked = markAnnexBFrame(au)!;
    expect(nalsOf(marked)).toEqual([AUD, SPS, PPS, USER_DATA_SEI, RECOVERY_POINT_SEI_NAL, P_SLICE]);
    expect(marked).toEqual(annexB([FOUR, AUD], [THREE, SPS], [FOUR, PPS], [FOUR, USER_DATA_SEI], [FOUR, RECOVERY_POINT_SEI_NAL], [FOUR, P_SLICE]));
    expect(marked.length).toBe(au.length + 4 + RECOVERY_POINT_SEI_NAL.length);
    // A frame that is a lone slice behind a 3-byte start code.
    expect(markAnnexBFrame(annexB([THREE, P_SLICE]))).toEqual(annexB([FOUR, RECOVERY_POINT_SEI_NAL], [THREE, P_SLICE]));
  });

  it('leaves alone a frame marked already, and one without a slice', () => {
    const marked = markAnnexBFrame(annexB([FOUR, AUD], [FOUR, P_SLICE]))!;
    expect(markAnnexBFrame(marked)).toBeUndefined();
    expect(markAnnexBFrame(annexB([FOUR, AUD], [FOUR, SPS], [FOUR, PPS]))).toBeUndefined();
    expect(markAnnexBFrame(Buffer.from('0123456789', 'hex'))).toBeUndefined();
  });
});
