import type { Readable } from 'node:stream';
import { classifyFlvTag, flvFileHeader, isOnMetaData, metadataBodyForFile, muxFlvTag, FlvTagType, type FlvTag } from './flv-tags.js';
import { GopFanout, type GopFanoutOptions } from './gop-fanout.js';

/**
 * Fans one publisher's FLV tags out to any number of consumers. Keeps what a new consumer needs to
 * start decoding at once: onMetaData, the video and audio sequence headers (the header replayed to
 * every new consumer), and the tags since the most recent video keyframe (the GOP cache of
 * `GopFanout`, bounded by bytes). No I/O: tags in, Readables out.
 */
export class FlvFanout {
  private readonly fanout: GopFanout;
  private metadata: Buffer | undefined;
  private videoSequenceHeader: FlvTag | undefined;
  private audioSequenceHeader: FlvTag | undefined;
  /** Timestamp of the latest keyframe: the start time of the cached GOP. */
  private gopStart: number | undefined;
  private sawVideo = false;
  private sawAudio = false;

  /** Bounds count bytes of muxed tags. */
  constructor(options: GopFanoutOptions = {}) {
    this.fanout = new GopFanout(options);
  }

  get consumerCount(): number {
    return this.fanout.consumerCount;
  }

  /** Bytes currently held by the GOP cache. */
  get cachedBytes(): number {
    return this.fanout.cachedBytes;
  }

  /** Feeds one tag from the publisher. The body must not be reused by the caller afterwards. */
  push(tag: FlvTag): void {
    if (this.fanout.ended) return;
    switch (classifyFlvTag(tag.type, tag.body)) {
      case 'metadata': {
        const body = metadataBodyForFile(tag.body);
        if (!isOnMetaData(body)) return; // other script data (cue points, |RtmpSampleAccess) is not forwarded
        this.metadata = body;
        this.fanout.push({ bytes: muxFlvTag({ type: FlvTagType.Script, timestamp: 0, body }), kind: 'config' });
        return;
      }
      case 'video-sequence-header':
        this.sawVideo = true;
        this.videoSequenceHeader = tag;
        this.fanout.push({ bytes: muxFlvTag(tag), kind: 'config' });
        return;
      case 'audio-sequence-header':
        this.sawAudio = true;
        this.audioSequenceHeader = tag;
        this.fanout.push({ bytes: muxFlvTag(tag), kind: 'config' });
        return;
      case 'video-keyframe':
        this.sawVideo = true;
        this.gopStart = tag.timestamp;
        this.fanout.push({ bytes: muxFlvTag(tag), kind: 'keyframe' });
        return;
      case 'video-frame':
      case 'audio-frame':
      case 'other':
        if (tag.type === FlvTagType.Video) this.sawVideo = true;
        if (tag.type === FlvTagType.Audio) this.sawAudio = true;
        this.fanout.push({ bytes: muxFlvTag(tag), kind: 'media' });
        return;
    }
  }

  /**
   * A new consumer: FLV header, onMetaData, sequence headers, then the cached GOP, then live tags.
   * With no cached GOP it waits for the next keyframe. After `end()`, an empty ended stream.
   */
  open(): Readable {
    const hasVideo = this.sawVideo || this.metadataSays('videocodecid') || this.metadata === undefined;
    const hasAudio = this.sawAudio || this.metadataSays('audiocodecid') || this.metadata === undefined;
    const header = [flvFileHeader(hasAudio, hasVideo)];
    // The first tags carry the GOP's start time so the demuxer's start time is the GOP's.
    const start = this.gopStart ?? 0;
    if (this.metadata !== undefined) header.push(muxFlvTag({ type: FlvTagType.Script, timestamp: 0, body: this.metadata }));
    if (this.videoSequenceHeader !== undefined) header.push(muxFlvTag({ ...this.videoSequenceHeader, timestamp: start }));
    if (this.audioSequenceHeader !== undefined) header.push(muxFlvTag({ ...this.audioSequenceHeader, timestamp: start }));
    // An audio-only feed has no keyframes: any audio frame is a start point.
    return this.fanout.open({ header, startAnywhere: !hasVideo });
  }

  /** Ends every consumer stream; later `open()` calls get an empty ended stream. Idempotent. */
  end(): void {
    this.fanout.end();
  }

  /** Codec and size details from onMetaData, for `PublisherInfo`. */
  metadataBody(): Buffer | undefined {
    return this.metadata;
  }

  private metadataSays(field: 'videocodecid' | 'audiocodecid'): boolean {
    return this.metadata !== undefined && this.metadata.includes(Buffer.from(field, 'latin1'));
  }
}
