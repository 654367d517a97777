import { Readable } from 'node:stream';
import { stampFirstFrameArrival } from '../core/media-clock.js';
import { classifyFlvTag, flvFileHeader, isOnMetaData, metadataBodyForFile, muxFlvTag, FlvTagType, type FlvTag } from './flv-tags.js';

export interface FlvFanoutOptions {
  /** Most bytes of muxed tags kept from the latest keyframe; default 16 MiB. A GOP larger than this is
   * not cached (new consumers then wait for the next keyframe). */
  maxGopCacheBytes?: number;
  /** Most bytes a consumer may have unread before it skips to the next keyframe; default 16 MiB. */
  maxConsumerBufferBytes?: number;
  /** Told when a consumer falls behind and skips media (for a log line). */
  onConsumerLag?: (bufferedBytes: number) => void;
}

interface Consumer {
  stream: Readable;
  /** Drops media until the next video keyframe (new consumer with no cached GOP, or a lagging one). */
  waitingKeyframe: boolean;
}

/**
 * Fans one publisher's FLV tags out to any number of consumers. Keeps what a new consumer needs to
 * start decoding at once: onMetaData, the video and audio sequence headers, and the tags since the
 * most recent video keyframe (the GOP cache, bounded by bytes). No I/O: tags in, Readables out.
 */
export class FlvFanout {
  private metadata: Buffer | undefined;
  private videoSequenceHeader: FlvTag | undefined;
  private audioSequenceHeader: FlvTag | undefined;
  private gop: Buffer[] = [];
  private gopBytes = 0;
  private gopStart: number | undefined;
  /** Wall-clock arrival of the cached GOP's keyframe (stamped on consumers that start with it). */
  private gopArrivedAt: number | undefined;
  private gopOverflowed = false;
  private sawVideo = false;
  private sawAudio = false;
  private readonly consumers = new Set<Consumer>();
  private finished = false;
  private readonly maxGopCacheBytes: number;
  private readonly maxConsumerBufferBytes: number;

  constructor(private readonly options: FlvFanoutOptions = {}) {
    this.maxGopCacheBytes = options.maxGopCacheBytes ?? 16 * 1024 * 1024;
    this.maxConsumerBufferBytes = options.maxConsumerBufferBytes ?? 16 * 1024 * 1024;
  }

  get consumerCount(): number {
    return this.consumers.size;
  }

  /** Bytes currently held by the GOP cache. */
  get cachedBytes(): number {
    return this.gopBytes;
  }

  /** Feeds one tag from the publisher. The body must not be reused by the caller afterwards. */
  push(tag: FlvTag): void {
    if (this.finished) return;
    const kind = classifyFlvTag(tag.type, tag.body);
    switch (kind) {
      case 'metadata': {
        const body = metadataBodyForFile(tag.body);
        if (!isOnMetaData(body)) return; // other script data (cue points, |RtmpSampleAccess) is not forwarded
        this.metadata = body;
        this.broadcast(muxFlvTag({ type: FlvTagType.Script, timestamp: 0, body }), 'config');
        return;
      }
      case 'video-sequence-header':
        this.sawVideo = true;
        this.videoSequenceHeader = tag;
        this.broadcast(muxFlvTag(tag), 'config');
        return;
      case 'audio-sequence-header':
        this.sawAudio = true;
        this.audioSequenceHeader = tag;
        this.broadcast(muxFlvTag(tag), 'config');
        return;
      case 'video-keyframe': {
        this.sawVideo = true;
        const bytes = muxFlvTag(tag);
        this.gop = [bytes];
        this.gopBytes = bytes.length;
        this.gopStart = tag.timestamp;
        this.gopArrivedAt = Date.now();
        this.gopOverflowed = bytes.length > this.maxGopCacheBytes;
        if (this.gopOverflowed) this.clearGop();
        this.broadcast(bytes, 'keyframe');
        return;
      }
      case 'video-frame':
      case 'audio-frame':
      case 'other': {
        if (tag.type === FlvTagType.Video) this.sawVideo = true;
        if (tag.type === FlvTagType.Audio) this.sawAudio = true;
        const bytes = muxFlvTag(tag);
        this.appendGop(bytes);
        this.broadcast(bytes, 'media');
        return;
      }
    }
  }

  /**
   * A new consumer: FLV header, onMetaData, sequence headers, then the cached GOP, then live tags.
   * With no cached GOP it waits for the next keyframe. After `end()`, an empty ended stream.
   */
  open(): Readable {
    // Pushed to from the publisher side; read() has nothing to pull.
    const stream = new Readable({ read() {}, highWaterMark: 1024 * 1024 });
    if (this.finished) {
      stream.push(null);
      return stream;
    }
    const consumer: Consumer = { stream, waitingKeyframe: true };
    const hasVideo = this.sawVideo || this.metadataSays('videocodecid') || this.metadata === undefined;
    const hasAudio = this.sawAudio || this.metadataSays('audiocodecid') || this.metadata === undefined;
    stream.push(flvFileHeader(hasAudio, hasVideo));
    // The first tags carry the GOP's start time so the demuxer's start time is the GOP's.
    const start = this.gopStart ?? 0;
    if (this.metadata !== undefined) stream.push(muxFlvTag({ type: FlvTagType.Script, timestamp: 0, body: this.metadata }));
    if (this.videoSequenceHeader !== undefined) stream.push(muxFlvTag({ ...this.videoSequenceHeader, timestamp: start }));
    if (this.audioSequenceHeader !== undefined) stream.push(muxFlvTag({ ...this.audioSequenceHeader, timestamp: start }));
    if (this.gop.length > 0) {
      for (const b of this.gop) stream.push(b);
      consumer.waitingKeyframe = false;
      if (this.gopArrivedAt !== undefined) stampFirstFrameArrival(stream, this.gopArrivedAt);
    } else if (!hasVideo) {
      consumer.waitingKeyframe = false; // audio-only feed: any audio frame is a start point
    }
    this.consumers.add(consumer);
    stream.once('close', () => this.consumers.delete(consumer));
    return stream;
  }

  /** Ends every consumer stream; later `open()` calls get an empty ended stream. Idempotent. */
  end(): void {
    if (this.finished) return;
    this.finished = true;
    for (const c of this.consumers) c.stream.push(null);
    this.consumers.clear();
    this.clearGop();
  }

  /** Codec and size details from onMetaData, for `PublisherInfo`. */
  metadataBody(): Buffer | undefined {
    return this.metadata;
  }

  private metadataSays(field: 'videocodecid' | 'audiocodecid'): boolean {
    return this.metadata !== undefined && this.metadata.includes(Buffer.from(field, 'latin1'));
  }

  private appendGop(bytes: Buffer): void {
    if (this.gopOverflowed || this.gopStart === undefined) return;
    if (this.gopBytes + bytes.length > this.maxGopCacheBytes) {
      // A GOP this large is not kept: consumers opened now wait for the next keyframe.
      this.gopOverflowed = true;
      this.clearGop();
      return;
    }
    this.gop.push(bytes);
    this.gopBytes += bytes.length;
  }

  private clearGop(): void {
    this.gop = [];
    this.gopBytes = 0;
  }

  private broadcast(bytes: Buffer, kind: 'config' | 'keyframe' | 'media'): void {
    for (const c of this.consumers) {
      if (c.stream.destroyed) continue;
      if (kind !== 'config' && c.stream.readableLength > this.maxConsumerBufferBytes) {
        if (!c.waitingKeyframe) this.options.onConsumerLag?.(c.stream.readableLength);
        c.waitingKeyframe = true;
        continue;
      }
      if (kind === 'keyframe') {
        if (c.waitingKeyframe) stampFirstFrameArrival(c.stream, Date.now());
        c.waitingKeyframe = false;
      } else if (kind === 'media' && c.waitingKeyframe) continue;
      c.stream.push(bytes);
    }
  }
}
