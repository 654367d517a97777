import { FLV_MAX_TAG_BODY, type FlvTag, type FlvTagType } from './flv-tags.js';

/**
 * Cuts an FLV byte stream (file header, then tags, as `FlvFanout` and `ffmpeg -f flv` write them)
 * back into tags. Incremental: bytes in any chunking, tags out as soon as they are complete. The
 * reverse of `muxFlvTag`; the input selector reads its sources through it.
 */
export class FlvTagReader {
  private pending: Buffer = Buffer.alloc(0);
  private headerDone = false;
  /** The file header's TypeFlags byte (0x04 audio, 0x01 video), once the header was read. */
  typeFlags: number | undefined;

  /** Appends `chunk`; returns the tags it completed. Throws on a stream that is not FLV. */
  push(chunk: Buffer): FlvTag[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const tags: FlvTag[] = [];
    let pos = 0;
    if (!this.headerDone) {
      if (this.pending.length < 9) return tags;
      if (this.pending.toString('latin1', 0, 3) !== 'FLV') throw new Error('not an FLV stream (no FLV signature)');
      const headerSize = this.pending.readUInt32BE(5);
      if (this.pending.length < headerSize + 4) return tags;
      pos = headerSize + 4; // header, then PreviousTagSize0
      this.typeFlags = this.pending[4]!;
      this.headerDone = true;
    }
    while (this.pending.length - pos >= 11) {
      const size = this.pending.readUIntBE(pos + 1, 3);
      if (size > FLV_MAX_TAG_BODY) throw new Error('FLV tag too large');
      if (this.pending.length - pos < 11 + size + 4) break;
      const timestamp = (this.pending.readUIntBE(pos + 4, 3) | (this.pending[pos + 7]! << 24)) >>> 0;
      const type = this.pending[pos]! as FlvTagType;
      tags.push({ type, timestamp, body: Buffer.from(this.pending.subarray(pos + 11, pos + 11 + size)) });
      pos += 11 + size + 4;
    }
    this.pending = pos === 0 ? this.pending : Buffer.from(this.pending.subarray(pos));
    return tags;
  }
}
