/**
 * FLV files as tag lists, for tests that publish crafted media: an ffmpeg-made file is read into
 * tags, a test rewrites some of them (timestamps, codec ids) and publishes them with the raw RTMP
 * client (`publishFlvTags` in `rtmp-raw-client.ts`) or writes them back as a file.
 */
import { flvFileHeader, muxFlvTag, type FlvTag, type FlvTagType } from '../../../src/ingest/flv-tags.js';

/** Splits an FLV file (9-byte header, PreviousTagSize0, tags) into its tags. Throws on a truncated tag. */
export function readFlvTags(file: Buffer): FlvTag[] {
  if (file.length < 13 || file.toString('latin1', 0, 3) !== 'FLV') throw new Error('not an FLV file');
  const tags: FlvTag[] = [];
  let off = file.readUInt32BE(5) + 4;
  while (off + 11 <= file.length) {
    const type = file[off]! as FlvTagType;
    const size = file.readUIntBE(off + 1, 3);
    const timestamp = (file.readUIntBE(off + 4, 3) | (file[off + 7]! << 24)) >>> 0;
    if (off + 11 + size > file.length) throw new Error(`truncated FLV tag at byte ${off}`);
    tags.push({ type, timestamp, body: Buffer.from(file.subarray(off + 11, off + 11 + size)) });
    off += 11 + size + 4;
  }
  return tags;
}

/** The inverse of `readFlvTags`. */
export function writeFlvTags(tags: readonly FlvTag[], hasAudio = true, hasVideo = true): Buffer {
  return Buffer.concat([flvFileHeader(hasAudio, hasVideo), ...tags.map((t) => muxFlvTag(t))]);
}
