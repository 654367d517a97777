import { Readable } from 'node:stream';
import { stampFirstFrameArrival, type ArrivalStamp } from '../core/media-clock.js';
import { ArrivalClock } from './arrival-clock.js';

import { TS_PACKET_SIZE, TS_SYNC_BYTE, TsProgramScanner, isPatStart, isRandomAccessStart, pesDecodeTimestamp, tsPacketPid, type TsProgramStreams } from './ts-program-info.js';

export { TS_PACKET_SIZE, TS_SYNC_BYTE, isPatStart };

/**
 * Splits a byte stream into whole TS packets, carrying partial packets over between chunks and
 * resynchronising on the sync byte if the stream is corrupted (a 0x47 followed by another 0x47 one
 * packet later, or at the end of the data).
 */
export class TsPacketAligner {
  private pending: Buffer = Buffer.alloc(0);
  /** Bytes thrown away while resynchronising. */
  discarded = 0;

  /** Returns whole packets (a multiple of 188 bytes, possibly empty). */
  push(chunk: Buffer): Buffer {
    let data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    let start = 0;
    const out: Buffer[] = [];
    while (data.length - start >= TS_PACKET_SIZE) {
      if (data[start] !== TS_SYNC_BYTE || (data.length - start > TS_PACKET_SIZE && data[start + TS_PACKET_SIZE] !== TS_SYNC_BYTE)) {
        const next = this.findSync(data, start + 1);
        this.discarded += next - start;
        start = next;
        continue;
      }
      // Take the run of consecutive well-synced packets in one slice.
      let end = start + TS_PACKET_SIZE;
      while (data.length - end >= TS_PACKET_SIZE && data[end] === TS_SYNC_BYTE) end += TS_PACKET_SIZE;
      out.push(data.subarray(start, end));
      start = end;
    }
    data = data.subarray(start);
    this.pending = Buffer.from(data); // copy: the chunk's memory is not ours to keep
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  private findSync(data: Buffer, from: number): number {
    for (let i = from; i < data.length; i++) {
      if (data[i] === TS_SYNC_BYTE && (i + TS_PACKET_SIZE >= data.length || data[i + TS_PACKET_SIZE] === TS_SYNC_BYTE)) return i;
    }
    return data.length;
  }
}

export interface TsFanoutOptions {
  /** Most bytes kept from the PAT before the latest video keyframe; default 16 MiB. */
  maxGopCacheBytes?: number;
  /** Most bytes a consumer may have unread before it skips to the next start point; default 16 MiB. */
  maxConsumerBufferBytes?: number;
  onConsumerLag?: (bufferedBytes: number) => void;
}

interface TsConsumer {
  stream: Readable;
  /** Drops packets until the next start point (keyframe group, or PAT without keyframe marking). */
  waiting: boolean;
}

/**
 * Fans an MPEG-TS byte stream out to consumers. A new consumer starts at the PAT preceding the most
 * recent video keyframe (the GOP cache, as for FLV), so a transcoder restart resumes at once from a
 * decodable point. Keyframes are found by the random_access_indicator on the video PID (read from
 * the PMT); ffmpeg's muxer sets it and writes PAT/PMT right before every video keyframe. For a stream
 * without such marking (or without video), consumers start at the next PAT and the decoder resyncs
 * at the next keyframe.
 */
export class TsFanout {
  private readonly aligner = new TsPacketAligner();
  private readonly scanner = new TsProgramScanner();
  private readonly consumers = new Set<TsConsumer>();
  private finished = false;
  /** Packets since the latest PAT; undefined before the first PAT or when it outgrew the bound. */
  private pending: Buffer[] | undefined;
  private pendingBytes = 0;
  /** Packets from the PAT preceding the latest keyframe; undefined when none or it outgrew the bound. */
  private gop: Buffer[] | undefined;
  /** Arrival of the cached group's keyframe (stamped on consumers that start with it). */
  private gopArrivedAt: ArrivalStamp | undefined;
  /** Dates frames by their timestamps: the SRT listener hands its probe buffer over in one burst. */
  private readonly arrivals = new ArrivalClock();
  private gopBytes = 0;
  /** The video PID has carried random_access_indicator: keyframe starts are reliable. */
  private keyframesMarked = false;
  private readonly maxGopCacheBytes: number;
  private readonly maxConsumerBufferBytes: number;

  constructor(private readonly options: TsFanoutOptions = {}) {
    this.maxGopCacheBytes = options.maxGopCacheBytes ?? 16 * 1024 * 1024;
    this.maxConsumerBufferBytes = options.maxConsumerBufferBytes ?? 16 * 1024 * 1024;
  }

  get consumerCount(): number {
    return this.consumers.size;
  }

  /** Codecs and PIDs from the PMT, once seen. */
  get programStreams(): TsProgramStreams | undefined {
    return this.scanner.streams;
  }

  /** Bytes held by the keyframe cache. */
  get cachedBytes(): number {
    return this.gop === undefined ? 0 : this.gopBytes;
  }

  push(chunk: Buffer): void {
    if (this.finished) return;
    const packets = this.aligner.push(chunk);
    if (packets.length === 0) return;
    this.scanner.push(packets);
    const videoPid = this.scanner.streams?.video?.pid;

    // Consumers in sync take the whole run at once; waiting ones are handled packet by packet.
    const waiting: TsConsumer[] = [];
    for (const c of this.consumers) {
      if (c.stream.destroyed) continue;
      if (c.stream.readableLength > this.maxConsumerBufferBytes) {
        if (!c.waiting) this.options.onConsumerLag?.(c.stream.readableLength);
        c.waiting = true;
      }
      if (c.waiting) waiting.push(c);
      else c.stream.push(packets);
    }

    for (let off = 0; off < packets.length; off += TS_PACKET_SIZE) {
      const packet = packets.subarray(off, off + TS_PACKET_SIZE);
      const pat = isPatStart(packets, off);
      if (pat) {
        this.pending = [packet];
        this.pendingBytes = TS_PACKET_SIZE;
      } else if (this.pending !== undefined) {
        this.pending.push(packet);
        this.pendingBytes += TS_PACKET_SIZE;
        if (this.pendingBytes > this.maxGopCacheBytes) this.pending = undefined;
      }
      const keyframe = videoPid !== undefined && isRandomAccessStart(packets, off, videoPid);
      let arrivedAt: ArrivalStamp | undefined;
      if (videoPid !== undefined && tsPacketPid(packets, off) === videoPid) {
        const dts = pesDecodeTimestamp(packets, off);
        if (dts !== undefined) {
          const seenAt = Date.now();
          this.arrivals.observe(dts, seenAt);
          if (keyframe) arrivedAt = () => Math.min(this.arrivals.arrivalOf(dts) ?? seenAt, seenAt);
        }
      }
      if (keyframe) this.keyframesMarked = true;
      if (keyframe && this.pending !== undefined) {
        this.gop = [...this.pending];
        this.gopBytes = this.pendingBytes;
        this.gopArrivedAt = arrivedAt ?? Date.now();
      } else if (this.gop !== undefined) {
        this.gop.push(packet);
        this.gopBytes += TS_PACKET_SIZE;
        if (this.gopBytes > this.maxGopCacheBytes) this.gop = undefined;
      }
      if (waiting.length === 0) continue;
      // Start points: the PAT..keyframe group when keyframes are marked, else any PAT.
      const startHere = this.keyframesMarked ? keyframe && this.pending !== undefined : pat;
      if (!startHere) continue;
      const head = this.keyframesMarked ? Buffer.concat(this.pending!) : packet;
      const rest = packets.subarray(off + TS_PACKET_SIZE);
      for (const c of waiting) {
        if (c.stream.readableLength > this.maxConsumerBufferBytes) continue;
        c.waiting = false;
        stampFirstFrameArrival(c.stream, arrivedAt ?? Date.now());
        c.stream.push(head);
        if (rest.length > 0) c.stream.push(rest);
      }
      waiting.length = 0;
    }
  }

  /** A new consumer: the cached keyframe group then live packets, or live packets from the next start point. */
  open(): Readable {
    const stream = new Readable({ read() {}, highWaterMark: 1024 * 1024 });
    if (this.finished) {
      stream.push(null);
      return stream;
    }
    const consumer: TsConsumer = { stream, waiting: true };
    if (this.gop !== undefined && this.gop.length > 0) {
      stream.push(Buffer.concat(this.gop));
      consumer.waiting = false;
      if (this.gopArrivedAt !== undefined) stampFirstFrameArrival(stream, this.gopArrivedAt);
    }
    this.consumers.add(consumer);
    stream.once('close', () => this.consumers.delete(consumer));
    return stream;
  }

  end(): void {
    if (this.finished) return;
    this.finished = true;
    for (const c of this.consumers) c.stream.push(null);
    this.consumers.clear();
    this.pending = undefined;
    this.gop = undefined;
  }
}
