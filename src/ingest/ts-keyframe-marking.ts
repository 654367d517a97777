import type { Readable, TransformCallback } from 'node:stream';
import { TS_CLOCK_HZ, tsDelta } from './arrival-clock.js';
import { isAnnexBIdr, markAnnexBFrame } from './keyframe-marks.js';
import { RunKeyframeMarkingTransform, withRunKeyframeMarking } from './run-keyframe-marking.js';
import { TS_PACKET_SIZE, TS_SYNC_BYTE, TsProgramScanner, isRandomAccessStart, pesDecodeTimestamp, pesPresentationTimestamp, tsPacketPid, tsPayloadStart } from './ts-program-info.js';

/** ISO/IEC 13818-1 Table 2-34: AVC video (ITU-T H.264). HEVC (0x24) and the rest are not marked. */
const H264_STREAM_TYPE = 0x1b;
/** A held video PES growing past this is no frame (garbage, a lost PUSI): let go unmarked. */
const MAX_HELD_BYTES = 8 * 1024 * 1024;
/** Transport packet header, and its payload capacity without an adaptation field. */
const TS_HEADER_BYTES = 4;
const TS_PAYLOAD_BYTES = TS_PACKET_SIZE - TS_HEADER_BYTES;

/**
 * One transcoder run's MPEG-TS input with keyframe marks (`keyframe-marks.ts`): the twin of
 * `FlvKeyframeMarking` for a plain SRT channel (no `inputs:`) whose ladder says `keyframes: marked`.
 * The first frame at or after each GOP grid point of the run is marked, so that the encoder
 * (`-force_key_frames source`) keys there whatever GOP the publisher sends; `markNext()` keys the
 * next frame; `markAtWall()` the frame at a wall-clock instant (an ad splice, SCTE-35 over SRT).
 *
 * Works on 188-byte packets. The H.264 video PID comes from the PAT/PMT (`TsProgramScanner`). Each
 * PES on it is one access unit: at its first packet (payload_unit_start_indicator) its PTS (and its
 * DTS: a source with B-frames sends pictures in decode order, `KeyframeMarker`) decides whether it
 * gets a mark. A frame that does not is passed on at once, untouched (its continuity
 * counter aside, below). A frame that does is held until its PES ends (the next PES start on the
 * PID: one frame of delay, only for marked frames), then the SEI goes in before its first slice
 * (`markAnnexBFrame`) and the PES is packetized again: the first packet keeps its adaptation field
 * (PCR, random_access_indicator), PES_packet_length is fixed when set, the last packet is filled
 * with adaptation-field stuffing. The SEI's 9 bytes often fit in the last packet's stuffing; when
 * they do not, the PES takes one packet more and every later packet of the PID gets its continuity
 * counter shifted to keep the count continuous. Other PIDs' packets pass while a PES is held.
 *
 * The grid starts where ffmpeg counts the run's time from: the smallest first PTS of the run's audio
 * and video streams. PTS are 33-bit; times here are ms on a line unwrapped from the first PTS seen.
 * Not H.264 (HEVC: ffmpeg's decoder does not flag recovery points): nothing is marked, and a splice
 * is told not keyed — even on a source keyframe, which such a run's encoder does not key on. Bytes
 * that are not TS packets pass through as they are (the demuxer resynchronises), never an error.
 */
export class TsKeyframeMarking extends RunKeyframeMarkingTransform {
  private readonly scanner = new TsProgramScanner();
  /** The start of a packet cut off by the chunking. */
  private pending: Buffer = Buffer.alloc(0);
  /** First PTS (ms on the unwrapped line) of each audio and video PID. */
  private readonly firstPtsMs = new Map<number, number>();
  /** The latest PTS read, raw and on the unwrapped line (both 90 kHz ticks: whole numbers, no drift). */
  private timeline: { raw: number; ticks: number } | undefined;
  /** The packets of the video PES held for a mark, and their size. */
  private held: Buffer[] | undefined;
  private heldBytes = 0;
  /** Added (mod 16) to the video PID's continuity counters since a re-packetized PES grew by a packet. */
  private ccShift = 0;

  protected origin(): number | undefined {
    let min: number | undefined;
    for (const ms of this.firstPtsMs.values()) min = min === undefined ? ms : Math.min(min, ms);
    return min;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: Buffer[] = [];
    let at = 0;
    while (data.length - at >= TS_PACKET_SIZE) {
      if (!alignedAt(data, at)) {
        const next = nextAligned(data, at + 1);
        out.push(data.subarray(at, next));
        at = next;
        continue;
      }
      const packet = data.subarray(at, at + TS_PACKET_SIZE);
      at += TS_PACKET_SIZE;
      try {
        this.onPacket(packet, out);
      } catch {
        out.push(packet); // a packet this code cannot read: on as it came
      }
    }
    this.pending = Buffer.from(data.subarray(at)); // copy: the chunk's memory is not ours to keep
    if (out.length > 0) this.push(out.length === 1 ? out[0]! : Buffer.concat(out));
    callback();
  }

  override _flush(callback: TransformCallback): void {
    const out: Buffer[] = [];
    this.releaseHeld(out);
    if (this.pending.length > 0) out.push(this.pending);
    if (out.length > 0) this.push(Buffer.concat(out));
    callback();
  }

  private onPacket(packet: Buffer, out: Buffer[]): void {
    this.scanner.push(packet);
    const streams = this.scanner.streams;
    const pid = tsPacketPid(packet);
    const pesStart = (packet[1]! & 0x40) !== 0;
    const stream = streams?.all.find((s) => s.pid === pid);
    const ptsMs = pesStart && (stream?.kind === 'audio' || stream?.kind === 'video') ? this.ptsMs(packet) : undefined;
    const dtsMs = ptsMs === undefined ? undefined : this.dtsMs(packet, ptsMs);
    if (ptsMs !== undefined && !this.firstPtsMs.has(pid)) this.firstPtsMs.set(pid, ptsMs);
    // A new PMT moved the video elsewhere: the PES held on the old PID goes as it came.
    if (this.held !== undefined && tsPacketPid(this.held[0]!) !== streams?.video?.pid) this.releaseHeld(out, false);
    if (streams?.video === undefined || pid !== streams.video.pid) {
      out.push(packet);
      return;
    }
    if (pesStart) this.releaseHeld(out);
    if (this.held !== undefined) {
      this.held.push(packet);
      this.heldBytes += TS_PACKET_SIZE;
      if (this.heldBytes > MAX_HELD_BYTES) this.releaseHeld(out, false);
      return;
    }
    if (!pesStart || ptsMs === undefined) {
      out.push(this.withCcShift(packet));
      return;
    }
    const h264 = stream?.streamType === H264_STREAM_TYPE;
    // A keyframe of the encoder's output only on H.264: any other input is compiled to key on the GOP
    // grid, not where its decoder flags frames (`markedKeyframesApply`), so its own keyframes key
    // nothing there — a splice on one is not keyed either, and lands on the next boundary.
    const keyframe = h264 && (isRandomAccessStart(packet, 0, pid) || isAnnexBIdr(firstPacketAccessUnit(packet)));
    if (this.marker.decideFrame(ptsMs, keyframe, this.origin(), dtsMs) && h264) {
      this.held = [packet];
      this.heldBytes = TS_PACKET_SIZE;
      return;
    }
    this.marker.settleFrame(keyframe);
    out.push(this.withCcShift(packet));
  }

  /** The PTS of the PES starting in `packet`, in ms on the line unwrapped from the first PTS read. */
  private ptsMs(packet: Buffer): number | undefined {
    const raw = pesPresentationTimestamp(packet, 0);
    if (raw === undefined) return undefined;
    const last = this.timeline;
    // Summed in ticks, converted once: ms summed frame by frame drifted (60 × 33.33… < 2000), and a
    // frame exactly on a grid point (3.4 s from a 1.4 s start) was seen just before it.
    const ticks = last === undefined ? 0 : last.ticks + tsDelta(last.raw, raw);
    this.timeline = { raw, ticks };
    return (ticks * 1000) / TS_CLOCK_HZ;
  }

  /**
   * The DTS of the PES starting in `packet` (its PTS `ptsMs` when it carries none), in ms on the PTS
   * line: the PTS less the composition offset, counted in ticks across the 33-bit wrap.
   */
  private dtsMs(packet: Buffer, ptsMs: number): number {
    const pts = pesPresentationTimestamp(packet, 0);
    const dts = pesDecodeTimestamp(packet, 0);
    return pts === undefined || dts === undefined ? ptsMs : ptsMs - (tsDelta(dts, pts) * 1000) / TS_CLOCK_HZ;
  }

  /**
   * Writes out the held PES, marked when it can be (`mark`), and tells the marker the outcome. An
   * IDR (seen only once the whole access unit is there) is passed as it came, and counts as keyed.
   */
  private releaseHeld(out: Buffer[], mark = true): void {
    const held = this.held;
    if (held === undefined) return;
    this.held = undefined;
    this.heldBytes = 0;
    let outcome: HeldPesOutcome = { idr: false };
    try {
      outcome = markHeldPes(held, mark, this.ccShift);
    } catch {
      // A PES this code cannot read: on as it came.
    }
    this.marker.settleFrame(outcome.idr || outcome.marked !== undefined);
    if (outcome.marked === undefined) {
      for (const p of held) out.push(this.withCcShift(p));
      return;
    }
    this.ccShift = outcome.marked.ccShift;
    out.push(...outcome.marked.packets);
  }

  private withCcShift(packet: Buffer): Buffer {
    return this.ccShift === 0 ? packet : withCc(packet, (packet[3]! + this.ccShift) & 0x0f);
  }
}

interface HeldPesOutcome {
  /** The access unit is an IDR (left as it came). */
  idr: boolean;
  /** The marked PES's packets, and the PID's continuity counter shift after them. */
  marked?: { packets: Buffer[]; ccShift: number };
}

/**
 * A held video PES (its packets, the first with payload_unit_start_indicator) with the recovery
 * point SEI added to its access unit and packetized again, counters from the first packet's plus
 * `ccShift`. No `marked` when `mark` is off, the PES does not parse, it is an IDR or it cannot be
 * marked (`markAnnexBFrame`).
 */
function markHeldPes(held: Buffer[], mark: boolean, ccShift: number): HeldPesOutcome {
  const payloadPackets = held.filter((p) => tsPayloadStart(p) !== undefined);
  const pes = Buffer.concat(payloadPackets.map((p) => p.subarray(tsPayloadStart(p))));
  if (pes.length < 9 || pes[0] !== 0 || pes[1] !== 0 || pes[2] !== 1 || 9 + pes[8]! > pes.length) return { idr: false };
  const auStart = 9 + pes[8]!;
  const au = pes.subarray(auStart);
  if (isAnnexBIdr(au)) return { idr: true };
  const marked = mark ? markAnnexBFrame(au) : undefined;
  if (marked === undefined) return { idr: false };
  const header = Buffer.from(pes.subarray(0, auStart));
  const length = header.readUInt16BE(4);
  // PES_packet_length 0 (unbounded, also when the new length would not fit) is allowed for video, which this PID is.
  if (length !== 0) header.writeUInt16BE(length + marked.length - au.length > 0xffff ? 0 : length + marked.length - au.length, 4);
  const first = payloadPackets[0]!;
  const firstCc = (first[3]! + ccShift) & 0x0f;
  const packets = packetizePes(first, Buffer.concat([header, marked]), firstCc);
  // Packets without payload (PCR only) follow, repeating the last counter (they do not count).
  const lastCc = (firstCc + packets.length - 1) & 0x0f;
  for (const p of held) if (tsPayloadStart(p) === undefined) packets.push(withCc(p, lastCc));
  return { idr: false, marked: { packets, ccShift: (ccShift + packets.length - held.length) & 0x0f } };
}

/** A TS packet starts at `at`: its sync byte, and the next packet's when the data reaches that far. */
function alignedAt(data: Buffer, at: number): boolean {
  return data[at] === TS_SYNC_BYTE && (at + TS_PACKET_SIZE >= data.length || data[at + TS_PACKET_SIZE] === TS_SYNC_BYTE);
}

function nextAligned(data: Buffer, from: number): number {
  for (let i = from; i + TS_PACKET_SIZE <= data.length; i++) if (alignedAt(data, i)) return i;
  return Math.max(from, data.length - TS_PACKET_SIZE + 1);
}

/** The Annex-B bytes of a PES's first packet (after the PES header); empty when it has none. */
function firstPacketAccessUnit(packet: Buffer): Buffer {
  const p = tsPayloadStart(packet);
  if (p === undefined || p + 9 > packet.length || packet[p] !== 0 || packet[p + 1] !== 0 || packet[p + 2] !== 1) return Buffer.alloc(0);
  return packet.subarray(Math.min(packet.length, p + 9 + packet[p + 8]!));
}

/** A copy of `packet` with continuity_counter `cc`. */
function withCc(packet: Buffer, cc: number): Buffer {
  const copy = Buffer.from(packet);
  copy[3] = (copy[3]! & 0xf0) | cc;
  return copy;
}

/**
 * The adaptation field's flags and optional fields (PCR, OPCR, splice_countdown, private data,
 * extension: ISO/IEC 13818-1 §2.4.3.4) without its stuffing bytes; empty when it has none or only
 * stuffing.
 */
function adaptationFieldContent(packet: Buffer): Buffer {
  const afc = (packet[3]! >> 4) & 0x03;
  if (afc !== 2 && afc !== 3) return Buffer.alloc(0);
  const field = packet.subarray(5, Math.min(TS_PACKET_SIZE, 5 + packet[4]!));
  if (field.length === 0) return field;
  const flags = field[0]!;
  let n = 1;
  if (flags & 0x10) n += 6; // PCR
  if (flags & 0x08) n += 6; // OPCR
  if (flags & 0x04) n += 1; // splice_countdown
  if (flags & 0x02 && n < field.length) n += 1 + field[n]!; // transport_private_data
  if (flags & 0x01 && n < field.length) n += 1 + field[n]!; // adaptation_field_extension
  return (flags & 0xff) === 0 ? Buffer.alloc(0) : field.subarray(0, Math.min(n, field.length));
}

/**
 * `pes` cut into TS packets on `first`'s PID: the first keeps `first`'s header bits and adaptation
 * field content, the rest clear payload_unit_start_indicator; counters run on from `firstCc`; the
 * last packet is filled up with adaptation-field stuffing (0xFF).
 */
function packetizePes(first: Buffer, pes: Buffer, firstCc: number): Buffer[] {
  const firstField = adaptationFieldContent(first);
  const packets: Buffer[] = [];
  let at = 0;
  while (at < pes.length || packets.length === 0) {
    const field = packets.length === 0 ? firstField : Buffer.alloc(0);
    const room = TS_PAYLOAD_BYTES - (field.length > 0 ? 1 + field.length : 0);
    const payload = pes.subarray(at, at + room);
    at += payload.length;
    const packet = Buffer.alloc(TS_PACKET_SIZE, 0xff);
    packet[0] = TS_SYNC_BYTE;
    packet[1] = packets.length === 0 ? first[1]! : first[1]! & ~0x40;
    packet[2] = first[2]!;
    const fieldBytes = TS_PAYLOAD_BYTES - payload.length; // adaptation field, its length byte included
    packet[3] = (first[3]! & 0xc0) | ((fieldBytes > 0 ? 3 : 1) << 4) | ((firstCc + packets.length) & 0x0f);
    if (fieldBytes > 0) {
      packet[4] = fieldBytes - 1;
      if (fieldBytes > 1) {
        packet[5] = 0; // flags, when there is no content to keep
        field.copy(packet, 5);
      }
    }
    payload.copy(packet, TS_HEADER_BYTES + fieldBytes);
    packets.push(packet);
  }
  return packets;
}

/**
 * `source` (a run's MPEG-TS input) through a `TsKeyframeMarking`; destroying either end destroys
 * both, and the result carries the source's first-frame arrival stamp (the packager's
 * PROGRAM-DATE-TIME anchor).
 */
export function withTsKeyframeMarks(source: Readable, intervalMs: number, frameRateCap?: number): TsKeyframeMarking {
  return withRunKeyframeMarking(source, new TsKeyframeMarking(intervalMs, frameRateCap));
}
