import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  FlvTagType,
  classifyFlvTag,
  flvFileHeader,
  isOnMetaData,
  metadataBodyForFile,
  muxFlvTag,
  videoCompositionTime,
  withVideoCompositionTime,
} from '../../../src/ingest/flv-tags.js';

describe('flvFileHeader', () => {
  it('writes signature, version, flags, header size and PreviousTagSize0', () => {
    expect(flvFileHeader(true, true).toString('hex')).toBe('464c5601050000000900000000');
    expect(flvFileHeader(false, true)[4]).toBe(0x01);
    expect(flvFileHeader(true, false)[4]).toBe(0x04);
  });
});

describe('muxFlvTag', () => {
  it('lays out an 11-byte header, the body and PreviousTagSize', () => {
    const out = muxFlvTag({ type: FlvTagType.Video, timestamp: 0x01020304, body: Buffer.from([0x17, 0x01, 0xaa]) });
    expect(out.toString('hex')).toBe(
      '09' + '000003' + '020304' + '01' + '000000' + '1701aa' + '0000000e',
    );
  });

  it('round-trips type, size, timestamp (with the extended byte) and body', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(8, 9, 18),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.uint8Array({ maxLength: 600 }),
        (type, timestamp, body) => {
          const out = muxFlvTag({ type: type as 8 | 9 | 18, timestamp, body: Buffer.from(body) });
          expect(out.length).toBe(11 + body.length + 4);
          expect(out[0]).toBe(type);
          expect(out.readUIntBE(1, 3)).toBe(body.length);
          expect(((out[7]! << 24) | out.readUIntBE(4, 3)) >>> 0).toBe(timestamp);
          expect(out.readUIntBE(8, 3)).toBe(0);
          expect(Buffer.compare(out.subarray(11, 11 + body.length), Buffer.from(body))).toBe(0);
          expect(out.readUInt32BE(11 + body.length)).toBe(11 + body.length);
        },
      ),
    );
  });

  it('refuses a body larger than UI24', () => {
    expect(() => muxFlvTag({ type: 9, timestamp: 0, body: Buffer.alloc(0x1000000) })).toThrow(RangeError);
  });
});

describe('classifyFlvTag', () => {
  it.each([
    [9, [0x17, 0x00, 0, 0, 0], 'video-sequence-header'],
    [9, [0x17, 0x01, 0, 0, 0], 'video-keyframe'],
    [9, [0x27, 0x01, 0, 0, 0], 'video-frame'],
    [9, [0x17, 0x02, 0, 0, 0], 'other'],
    [9, [0x57, 0x00], 'other'],
    [9, [0x1c, 0x00, 0, 0, 0], 'video-sequence-header'],
    // Enhanced RTMP: IsExHeader | FrameType<<4 | PacketType, FourCC
    [9, [0x90, 0x68, 0x76, 0x63, 0x31], 'video-sequence-header'],
    [9, [0x91, 0x68, 0x76, 0x63, 0x31], 'video-keyframe'],
    [9, [0x93, 0x68, 0x76, 0x63, 0x31], 'video-keyframe'],
    [9, [0xa1, 0x68, 0x76, 0x63, 0x31], 'video-frame'],
    [8, [0xaf, 0x00, 0x12, 0x10], 'audio-sequence-header'],
    [8, [0xaf, 0x01, 0x21], 'audio-frame'],
    [8, [0x2f, 0xff], 'audio-frame'],
    [8, [0x90, 0x6d, 0x70, 0x34, 0x61], 'audio-sequence-header'],
    [18, [0x02], 'metadata'],
    [9, [], 'other'],
  ])('type %i %j → %s', (type, bytes, kind) => {
    expect(classifyFlvTag(type, Buffer.from(bytes))).toBe(kind);
  });
});

describe('metadata', () => {
  const onMetaData = Buffer.concat([Buffer.from([0x02, 0x00, 0x0a]), Buffer.from('onMetaData'), Buffer.from([0x08, 0, 0, 0, 0, 0, 0, 9])]);
  it('strips @setDataFrame', () => {
    const rtmpBody = Buffer.concat([Buffer.from([0x02, 0x00, 0x0d]), Buffer.from('@setDataFrame'), onMetaData]);
    expect(metadataBodyForFile(rtmpBody).equals(onMetaData)).toBe(true);
    expect(metadataBodyForFile(onMetaData).equals(onMetaData)).toBe(true);
    expect(isOnMetaData(onMetaData)).toBe(true);
    expect(isOnMetaData(Buffer.from([0x02, 0x00, 0x03, 0x61, 0x62, 0x63]))).toBe(false);
  });
});

describe('video CompositionTime', () => {
  it.each([
    ['AVC frame', [0x27, 1, 0x00, 0x00, 0x42, 9], 66],
    ['AVC frame, negative', [0x27, 1, 0xff, 0xff, 0xdf, 9], -33],
    ['AVC sequence header', [0x17, 0, 0, 0, 0, 9], 0],
    ['Enhanced RTMP CodedFrames', [0x91, 0x68, 0x76, 0x63, 0x31, 0x00, 0x00, 0x21, 9], 33],
    ['Enhanced RTMP CodedFramesX', [0x93, 0x68, 0x76, 0x63, 0x31, 9], 0],
    ['VP6 (no field)', [0x24, 9, 9, 9], 0],
  ])('%s', (_name, bytes, cts) => {
    const body = Buffer.from(bytes);
    expect(videoCompositionTime(body)).toBe(cts);
  });

  it('rewrites it in a copy, leaving other bytes and the original alone', () => {
    fc.assert(
      fc.property(fc.integer({ min: -0x800000, max: 0x7fffff }), (cts) => {
        const body = Buffer.from([0x27, 1, 0, 0, 0x42, 7, 8]);
        const copy = withVideoCompositionTime(body, cts);
        expect(videoCompositionTime(copy)).toBe(cts);
        expect([...copy.subarray(5)]).toEqual([7, 8]);
        expect(videoCompositionTime(body)).toBe(66);
      }),
    );
    const vp6 = Buffer.from([0x24, 9]);
    expect(withVideoCompositionTime(vp6, 40)).toBe(vp6);
  });
});
