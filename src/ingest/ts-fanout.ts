import type { Readable } from 'node:stream';
import type { ArrivalStamp } from '../core/media-clock.js';
import { ArrivalClock } from './arrival-clock.js';
import { AudioLateness } from './audio-lateness.js';
import { DEFAULT_GOP_FANOUT_BYTES, GopFanout, type GopFanoutOptions } from './gop-fanout.js';
import type { IngestCue } from './ingest-feed.js';
import { TsCueReader } from './ts-cue-reader.js';

import { TS_PACKET_SIZE, TS_SYNC_BYTE, TsProgramScanner, isPatStart, isRandomAccessStart, pesDecodeTimestamp, pesPresentationTimestamp, tsPacketPid, type TsProgramStreams } from './ts-program-info.js';

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

/** Packets since the latest PAT: the lead of a keyframe that follows (PAT, PMT, …). */
interface PatGroup {
  units: Buffer[];
  bytes: number;
}

/**
 * Fans an MPEG-TS byte stream out to consumers. A new consumer starts at the PAT preceding the most
 * recent video keyframe (the GOP cache of `GopFanout`, as for FLV), so a transcoder restart resumes
 * at once from a decodable point. Keyframes are found by the random_access_indicator on the video PID
 * (read from the PMT); ffmpeg's muxer sets it and writes PAT/PMT right before every video keyframe.
 * For a stream without such marking (or without video), consumers start at the next PAT and the
 * decoder resyncs at the next keyframe.
 *
 * Packets go to the fan-out in runs cut before every PAT and every keyframe: a run starting with a
 * marked keyframe is a `keyframe` unit whose lead is the run(s) since the PAT before it; before any
 * marking is seen, a run starting with a PAT is a `join` point.
 */
export class TsFanout {
  private readonly aligner = new TsPacketAligner();
  private readonly scanner = new TsProgramScanner();
  private readonly fanout: GopFanout;
  /** Units since the latest PAT; undefined before the first PAT or when it outgrew the cache bound. */
  private patGroup: PatGroup | undefined;
  /** Dates frames by their timestamps: the SRT listener hands its probe buffer over in one burst. */
  private readonly arrivals = new ArrivalClock();
  /** How long after its video the audio arrives (a publisher's muxer packing audio frames). */
  private readonly audioLateness = new AudioLateness();
  /** The video PID has carried random_access_indicator: keyframe starts are reliable. */
  private keyframesMarked = false;
  private readonly maxGroupBytes: number;
  /** SCTE-35 ad cues, once someone listens (`readCues`). */
  private cues: TsCueReader | undefined;

  constructor(options: GopFanoutOptions = {}) {
    this.fanout = new GopFanout(options);
    this.maxGroupBytes = options.maxGopCacheBytes ?? DEFAULT_GOP_FANOUT_BYTES;
  }

  get consumerCount(): number {
    return this.fanout.consumerCount;
  }

  /** Codecs and PIDs from the PMT, once seen. */
  get programStreams(): TsProgramStreams | undefined {
    return this.scanner.streams;
  }

  /**
   * The longest the audio arrived after the video of the same timestamp over the last 5 s, ms
   * (`audio-lateness.ts`); undefined without audio (or before any video dated it).
   */
  audioDelayMs(nowMs = Date.now()): number | undefined {
    return this.audioLateness.maxMs(nowMs);
  }

  /** Bytes held by the keyframe cache. */
  get cachedBytes(): number {
    return this.fanout.cachedBytes;
  }

  /**
   * Reads the feed's SCTE-35 ad cues (`ts-cue-reader.ts`), their splice times dated on the same
   * arrival clock as the keyframes. Call before pushing data.
   */
  readCues(onCue: (cue: IngestCue) => void, onError?: (pid: number, reason: string) => void): void {
    this.cues = new TsCueReader(this.arrivals, onCue, onError);
  }

  /**
   * The feed's timestamps are the publisher's less `seconds` (a remux that shifted them to start near
   * 0): SCTE-35 splice times, which stay in the publisher's clock, are shifted the same way.
   */
  setSourceStart(seconds: number): void {
    this.cues?.setSourceStart(seconds);
  }

  push(chunk: Buffer): void {
    if (this.fanout.ended) return;
    const packets = this.aligner.push(chunk);
    if (packets.length === 0) return;
    this.scanner.push(packets);
    const videoPid = this.scanner.streams?.video?.pid;
    const audioPid = this.scanner.streams?.audio?.pid;

    // The run being collected: where it starts, and what its first packet makes it.
    let runStart = 0;
    let runPat = false;
    let runKeyframe = false;
    let runArrivedAt: ArrivalStamp | undefined;
    for (let off = 0; off < packets.length; off += TS_PACKET_SIZE) {
      const pat = isPatStart(packets, off);
      const keyframe = videoPid !== undefined && isRandomAccessStart(packets, off, videoPid);
      let arrivedAt: ArrivalStamp | undefined;
      const pid = tsPacketPid(packets, off);
      if (pid === videoPid) {
        const dts = pesDecodeTimestamp(packets, off);
        if (dts !== undefined) {
          const seenAt = Date.now();
          this.arrivals.observe(dts, seenAt);
          if (keyframe) arrivedAt = () => Math.min(this.arrivals.arrivalOf(dts) ?? seenAt, seenAt);
        }
      } else if (pid === audioPid) {
        const pts = pesPresentationTimestamp(packets, off);
        const due = pts === undefined ? undefined : this.arrivals.arrivalOf(pts);
        if (due !== undefined) this.audioLateness.observe(due, Date.now());
      }
      if (!pat && !keyframe) continue;
      if (off > runStart) this.pushRun(packets.subarray(runStart, off), runPat, runKeyframe, runArrivedAt);
      if (keyframe) this.keyframesMarked = true;
      runStart = off;
      runPat = pat;
      runKeyframe = keyframe;
      runArrivedAt = arrivedAt;
    }
    this.pushRun(packets.subarray(runStart), runPat, runKeyframe, runArrivedAt);
    // After the frames of this chunk were observed: an immediate cue is dated against them.
    this.cues?.push(packets, this.scanner.streams);
  }

  /** A new consumer: the cached keyframe group then live packets, or live packets from the next start point. */
  open(): Readable {
    return this.fanout.open();
  }

  end(): void {
    this.fanout.end();
    this.patGroup = undefined;
  }

  private pushRun(run: Buffer, pat: boolean, keyframe: boolean, arrivedAt: ArrivalStamp | undefined): void {
    // Start points: the PAT..keyframe group when keyframes are marked, else any PAT.
    if (keyframe && this.patGroup !== undefined) {
      this.fanout.push({ bytes: run, kind: 'keyframe', lead: this.patGroup.units, ...(arrivedAt === undefined ? {} : { arrivedAt }) });
    } else {
      this.fanout.push({ bytes: run, kind: pat && !this.keyframesMarked ? 'join' : 'media' });
    }
    if (pat) {
      this.patGroup = { units: [run], bytes: run.length };
    } else if (this.patGroup !== undefined) {
      this.patGroup.units.push(run);
      this.patGroup.bytes += run.length;
      if (this.patGroup.bytes > this.maxGroupBytes) this.patGroup = undefined;
    }
  }
}
