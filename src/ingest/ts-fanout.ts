import { Readable } from 'node:stream';

/** ISO/IEC 13818-1 §2.4.3.2: transport packets are 188 bytes starting with sync byte 0x47. */
export const TS_PACKET_SIZE = 188;
export const TS_SYNC_BYTE = 0x47;

/** Whether a packet is the start of a PAT section (PID 0 with payload_unit_start_indicator). */
export function isPatStart(packet: Buffer, offset = 0): boolean {
  const pid = ((packet[offset + 1]! & 0x1f) << 8) | packet[offset + 2]!;
  const pusi = (packet[offset + 1]! & 0x40) !== 0;
  return pid === 0 && pusi;
}

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
  /** Most bytes a consumer may have unread before it skips to the next PAT; default 16 MiB. */
  maxConsumerBufferBytes?: number;
  onConsumerLag?: (bufferedBytes: number) => void;
  /** Sees every run of aligned packets before fan-out (program info scanning). */
  onPackets?: (packets: Buffer) => void;
}

interface TsConsumer {
  stream: Readable;
  waitingPat: boolean;
}

/**
 * Fans an MPEG-TS byte stream out to consumers, each starting at a PAT (ffmpeg's demuxer needs
 * PAT/PMT first, and resyncs its decoders at the next keyframe; ffmpeg's muxer repeats the PAT every
 * 100 ms and before every video keyframe).
 */
export class TsFanout {
  private readonly aligner = new TsPacketAligner();
  private readonly consumers = new Set<TsConsumer>();
  private finished = false;
  private readonly maxConsumerBufferBytes: number;

  constructor(private readonly options: TsFanoutOptions = {}) {
    this.maxConsumerBufferBytes = options.maxConsumerBufferBytes ?? 16 * 1024 * 1024;
  }

  get consumerCount(): number {
    return this.consumers.size;
  }

  push(chunk: Buffer): void {
    if (this.finished) return;
    const packets = this.aligner.push(chunk);
    if (packets.length === 0) return;
    this.options.onPackets?.(packets);
    for (const c of this.consumers) {
      if (c.stream.destroyed) continue;
      if (c.stream.readableLength > this.maxConsumerBufferBytes) {
        if (!c.waitingPat) this.options.onConsumerLag?.(c.stream.readableLength);
        c.waitingPat = true;
        continue;
      }
      if (!c.waitingPat) {
        c.stream.push(packets);
        continue;
      }
      for (let off = 0; off < packets.length; off += TS_PACKET_SIZE) {
        if (isPatStart(packets, off)) {
          c.waitingPat = false;
          c.stream.push(packets.subarray(off));
          break;
        }
      }
    }
  }

  open(): Readable {
    const stream = new Readable({ read() {}, highWaterMark: 1024 * 1024 });
    if (this.finished) {
      stream.push(null);
      return stream;
    }
    const consumer: TsConsumer = { stream, waitingPat: true };
    this.consumers.add(consumer);
    stream.once('close', () => this.consumers.delete(consumer));
    return stream;
  }

  end(): void {
    if (this.finished) return;
    this.finished = true;
    for (const c of this.consumers) c.stream.push(null);
    this.consumers.clear();
  }
}
