/**
 * FLV muxing of RTMP messages (Adobe "Video File Format Specification" v10.1, Annex E, and the
 * "Enhanced RTMP" v1 extension for HEVC/AV1/VP9). An RTMP audio/video/data message body IS an FLV
 * tag body, so muxing is: a 9-byte file header, then per tag an 11-byte tag header, the body and a
 * 4-byte PreviousTagSize.
 */

export const FlvTagType = { Audio: 8, Video: 9, Script: 18 } as const;
export type FlvTagType = (typeof FlvTagType)[keyof typeof FlvTagType];

/** What a tag is, as far as fan-out and GOP caching care. */
export type FlvTagKind =
  | 'video-sequence-header'
  | 'video-keyframe'
  | 'video-frame'
  | 'audio-sequence-header'
  | 'audio-frame'
  | 'metadata'
  | 'other';

/** One tag as received: type, decode timestamp in ms (32-bit, wraps), body bytes (owned, not shared). */
export interface FlvTag {
  type: FlvTagType;
  timestamp: number;
  body: Buffer;
}

/**
 * "FLV" + version 1 + flags (audio 0x04, video 0x01) + header size 9, followed by PreviousTagSize0 = 0
 * (spec: "UI32 Always 0").
 */
export function flvFileHeader(hasAudio: boolean, hasVideo: boolean): Buffer {
  const b = Buffer.from([0x46, 0x4c, 0x56, 0x01, 0x00, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00]);
  b[4] = (hasAudio ? 0x04 : 0) | (hasVideo ? 0x01 : 0);
  return b;
}

/** Largest body a tag can carry: DataSize is a UI24. */
export const FLV_MAX_TAG_BODY = 0xffffff;

/**
 * Serializes one tag: TagType(UI8) DataSize(UI24) Timestamp(UI24) TimestampExtended(UI8)
 * StreamID(UI24 = 0) body PreviousTagSize(UI32 = 11 + DataSize).
 */
export function muxFlvTag(tag: FlvTag): Buffer {
  const size = tag.body.length;
  if (size > FLV_MAX_TAG_BODY) throw new RangeError(`FLV tag body of ${size} bytes exceeds UI24`);
  const out = Buffer.allocUnsafe(11 + size + 4);
  const ts = tag.timestamp >>> 0;
  out[0] = tag.type;
  out.writeUIntBE(size, 1, 3);
  out.writeUIntBE(ts & 0xffffff, 4, 3);
  out[7] = (ts >>> 24) & 0xff;
  out.writeUIntBE(0, 8, 3);
  tag.body.copy(out, 11);
  out.writeUInt32BE(11 + size, 11 + size);
  return out;
}

/** Classifies a tag from its first bytes (legacy FLV codec ids and Enhanced RTMP ExHeader). */
export function classifyFlvTag(type: number, body: Buffer): FlvTagKind {
  if (type === FlvTagType.Script) return 'metadata';
  if (body.length === 0) return 'other';
  if (type === FlvTagType.Video) {
    const first = body[0]!;
    const frameType = (first >> 4) & 0x07;
    if (frameType === 5) return 'other'; // video info/command frame
    if ((first & 0x80) !== 0) {
      // Enhanced RTMP: [IsExHeader:1][FrameType:3][PacketType:4][FourCC:32]
      const packetType = first & 0x0f;
      if (packetType === 0) return 'video-sequence-header';
      if (packetType === 1 || packetType === 3) return frameType === 1 ? 'video-keyframe' : 'video-frame';
      return 'other';
    }
    const codecId = first & 0x0f;
    // AVC (7) and the legacy HEVC id 12 used by some Chinese encoders: AVCPacketType 0 = sequence header.
    if ((codecId === 7 || codecId === 12) && body.length >= 2) {
      if (body[1] === 0) return 'video-sequence-header';
      if (body[1] === 2) return 'other'; // end of sequence
    }
    return frameType === 1 ? 'video-keyframe' : 'video-frame';
  }
  if (type === FlvTagType.Audio) {
    const soundFormat = body[0]! >> 4;
    if (soundFormat === 10 && body.length >= 2 && body[1] === 0) return 'audio-sequence-header';
    if (soundFormat === 9 && (body[0]! & 0x0f) === 0) return 'audio-sequence-header'; // Enhanced RTMP audio SequenceStart
    return 'audio-frame';
  }
  return 'other';
}

/** AMF0 string "@setDataFrame" as encoded: type 0x02, length 13, bytes. */
const SET_DATA_FRAME = Buffer.from([0x02, 0x00, 0x0d, ...Buffer.from('@setDataFrame', 'latin1')]);

/**
 * RTMP publishers send metadata as `@setDataFrame("onMetaData", {...})`; in an FLV file the script tag
 * is `onMetaData {...}`. Strips the `@setDataFrame` prefix when present.
 */
export function metadataBodyForFile(body: Buffer): Buffer {
  if (body.length > SET_DATA_FRAME.length && body.subarray(0, SET_DATA_FRAME.length).equals(SET_DATA_FRAME)) {
    return body.subarray(SET_DATA_FRAME.length);
  }
  return body;
}

/** Whether a script body (after `metadataBodyForFile`) is an `onMetaData` tag. */
export function isOnMetaData(body: Buffer): boolean {
  return body.length >= 13 && body[0] === 0x02 && body.readUInt16BE(1) === 10 && body.toString('latin1', 3, 13) === 'onMetaData';
}

/**
 * Where a video tag body carries its CompositionTime (SI24, ms, PTS − DTS): legacy AVC / HEVC-12
 * frames at byte 2, Enhanced RTMP `CodedFrames` (packet type 1) after the FourCC at byte 5;
 * `CodedFramesX` (3) and every other tag carry none.
 */
function compositionTimeOffset(body: Buffer): number | undefined {
  if (body.length < 2) return undefined;
  const first = body[0]!;
  if ((first & 0x80) !== 0) return (first & 0x0f) === 1 && body.length >= 8 ? 5 : undefined;
  const codecId = first & 0x0f;
  return (codecId === 7 || codecId === 12) && body[1] === 1 && body.length >= 5 ? 2 : undefined;
}

/** A video frame's CompositionTime (PTS − DTS, ms); 0 when the tag carries none. */
export function videoCompositionTime(body: Buffer): number {
  const at = compositionTimeOffset(body);
  return at === undefined ? 0 : body.readIntBE(at, 3);
}

/** A copy of a video frame's body with CompositionTime `cts` (ms); the body itself when it has no such field. */
export function withVideoCompositionTime(body: Buffer, cts: number): Buffer {
  const at = compositionTimeOffset(body);
  if (at === undefined) return body;
  const copy = Buffer.from(body);
  copy.writeIntBE(Math.max(-0x800000, Math.min(0x7fffff, Math.round(cts))), at, 3);
  return copy;
}
