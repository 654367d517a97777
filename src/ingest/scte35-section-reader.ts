import { errorMessage } from '../core/errors.js';
import type { SpliceInfoSection } from '../scte35/splice-info.js';
import { parseSpliceInfoSection, sectionLength } from '../scte35/splice-info-parser.js';
import { TS_PACKET_SIZE, TS_SYNC_BYTE, pesDecodeTimestamp, tsPacketPid, tsPayloadStart } from './ts-program-info.js';

/**
 * Reassembles SCTE-35 splice_info_sections from the transport packets of the PIDs the PMT declares
 * as stream_type 0x86 (ISO/IEC 13818-1 §2.4.4 PSI sections, as SCTE 35 §8 carries them):
 * - a packet with payload_unit_start_indicator begins with a pointer_field: the bytes before the
 *   pointed-to position finish the section in progress, a new section starts after them;
 * - a section may span packets, and several may share one; 0xFF after a section is stuffing;
 * - a continuity_counter jump (a lost packet) drops the section in progress.
 *
 * Each complete section is parsed (`parseSpliceInfoSection`: CRC checked) and handed to `onSection`
 * with its bytes, for the hex in SCTE35-OUT/IN; a malformed one goes to `onError`. Never throws on
 * input.
 *
 * PES carriage (`setPesPids`): the SRT listener is an ffmpeg remux, and ffmpeg 5.1's TS muxer writes a
 * SCTE-35 stream it has read as a private-data PES (stream_type 0x06, "muxed as a private data
 * stream"), one PES per section, its PTS the time the section arrived. The reader sniffs such PIDs:
 * a PES payload that parses as a splice_info_section (table_id 0xFC, CRC-32 correct) is one; anything
 * else on those PIDs is other private data and ignored without an error.
 */

/** SCTE 35 §9.6: section_length ≤ 4093, so a section is at most 4096 bytes. */
const MAX_SECTION = 4096;

export interface Scte35Section {
  pid: number;
  bytes: Uint8Array;
  section: SpliceInfoSection;
  /** PES carriage: the PTS of the PES that carried the section (90 kHz), when it had one. */
  pesPts?: number;
}

export interface Scte35SectionReaderOptions {
  onSection: (section: Scte35Section) => void;
  onError?: (pid: number, reason: string) => void;
}

interface PidState {
  buffer: number[] | undefined;
  continuity: number | undefined;
  /** PES carriage: the PES in progress (header stripped) and its PTS. */
  pes?: { payload: number[]; remaining: number | undefined; pts: number | undefined } | undefined;
}

/** table_id of splice_info_section (SCTE 35 §9.6). */
const SPLICE_INFO_TABLE_ID = 0xfc;

export class Scte35SectionReader {
  private readonly pids = new Map<number, PidState>();
  private readonly pesPids = new Map<number, PidState>();

  constructor(private readonly options: Scte35SectionReaderOptions) {}

  /** The SCTE-35 PIDs of the program (from the PMT); packets of other PIDs are ignored. */
  setPids(pids: readonly number[]): void {
    for (const pid of [...this.pids.keys()]) if (!pids.includes(pid)) this.pids.delete(pid);
    for (const pid of pids) if (!this.pids.has(pid)) this.pids.set(pid, { buffer: undefined, continuity: undefined });
  }

  /** PIDs of private-data PES streams that may carry SCTE-35 sections (see the header). */
  setPesPids(pids: readonly number[]): void {
    for (const pid of [...this.pesPids.keys()]) if (!pids.includes(pid)) this.pesPids.delete(pid);
    for (const pid of pids) if (!this.pesPids.has(pid)) this.pesPids.set(pid, { buffer: undefined, continuity: undefined });
  }

  /** Whole 188-byte packets (any PIDs), as the fan-out sees them. */
  push(packets: Buffer): void {
    for (let offset = 0; offset + TS_PACKET_SIZE <= packets.length; offset += TS_PACKET_SIZE) {
      if (packets[offset] !== TS_SYNC_BYTE) continue;
      const pid = tsPacketPid(packets, offset);
      const state = this.pids.get(pid);
      if (state !== undefined) this.packet(packets, offset, state);
      const pes = this.pesPids.get(pid);
      if (pes !== undefined) this.pesPacket(packets, offset, pes);
    }
  }

  /**
   * One packet of a PES stream (ISO/IEC 13818-1 §2.4.3.6): a unit start opens a PES (its header
   * skipped, its PTS kept); the PES ends at PES_packet_length, or at the next unit start when that is 0.
   */
  private pesPacket(packets: Buffer, offset: number, state: PidState): void {
    const start = tsPayloadStart(packets, offset);
    if (start === undefined) return;
    const end = offset + TS_PACKET_SIZE;
    if ((packets[offset + 1]! & 0x40) !== 0) {
      this.finishPes(tsPacketPid(packets, offset), state);
      if (start + 9 > end || packets[start] !== 0 || packets[start + 1] !== 0 || packets[start + 2] !== 1) return;
      const length = packets.readUInt16BE(start + 4);
      const headerEnd = start + 9 + packets[start + 8]!;
      if (headerEnd > end) return;
      const pts = (packets[start + 7]! & 0x80) !== 0 ? pesDecodeTimestamp(packets, offset) : undefined;
      // PES_packet_length counts the bytes after its own field: 3 header bytes + header data + payload.
      const remaining = length === 0 ? undefined : length - 3 - packets[start + 8]!;
      state.pes = { payload: [], remaining, pts };
      this.pesBytes(tsPacketPid(packets, offset), state, packets, headerEnd, end);
    } else if (state.pes !== undefined) {
      this.pesBytes(tsPacketPid(packets, offset), state, packets, start, end);
    }
  }

  private pesBytes(pid: number, state: PidState, packets: Buffer, from: number, to: number): void {
    const pes = state.pes!;
    const take = pes.remaining === undefined ? to - from : Math.min(to - from, pes.remaining - pes.payload.length);
    for (let i = from; i < from + take; i++) pes.payload.push(packets[i]!);
    if (pes.payload.length > MAX_SECTION) state.pes = undefined;
    else if (pes.remaining !== undefined && pes.payload.length >= pes.remaining) this.finishPes(pid, state);
  }

  private finishPes(pid: number, state: PidState): void {
    const pes = state.pes;
    state.pes = undefined;
    if (pes === undefined || pes.payload[0] !== SPLICE_INFO_TABLE_ID || pes.payload.length < 3) return;
    const bytes = Uint8Array.from(pes.payload);
    const total = sectionLength(bytes);
    if (total > bytes.length) return;
    this.emit(pid, bytes.subarray(0, total), pes.pts);
  }

  private packet(packets: Buffer, offset: number, state: PidState): void {
    const pid = tsPacketPid(packets, offset);
    const start = tsPayloadStart(packets, offset);
    if (start === undefined) return; // adaptation only: the counter does not advance (§2.4.3.3)
    const cc = packets[offset + 3]! & 0x0f;
    if (state.continuity !== undefined && cc !== ((state.continuity + 1) & 0x0f) && cc !== state.continuity) {
      if (state.buffer !== undefined) this.options.onError?.(pid, 'continuity_counter jump: section in progress dropped');
      state.buffer = undefined;
    }
    const duplicate = state.continuity === cc;
    state.continuity = cc;
    if (duplicate) return; // §2.4.3.3: a repeated packet carries the same bytes
    const end = offset + TS_PACKET_SIZE;
    let at = start;
    const unitStart = (packets[offset + 1]! & 0x40) !== 0;
    if (unitStart) {
      const pointer = packets[at]!;
      at += 1;
      const sectionStart = at + pointer;
      if (state.buffer !== undefined) this.append(pid, state, packets, at, Math.min(sectionStart, end));
      state.buffer = undefined;
      at = sectionStart;
      if (at >= end) return;
      this.sections(pid, state, packets, at, end);
    } else if (state.buffer !== undefined) {
      this.append(pid, state, packets, at, end);
    }
  }

  /** New sections from `at`: complete ones are emitted, the last may stay in progress. */
  private sections(pid: number, state: PidState, packets: Buffer, at: number, end: number): void {
    while (at < end && packets[at] !== 0xff) {
      state.buffer = [];
      const taken = this.append(pid, state, packets, at, end);
      at += taken;
      if (state.buffer !== undefined) return; // continues in the next packet
    }
  }

  /** Appends bytes to the section in progress; emits it when complete. Returns the bytes used. */
  private append(pid: number, state: PidState, packets: Buffer, from: number, to: number): number {
    const buffer = state.buffer!;
    let used = 0;
    for (let i = from; i < to; i++) {
      buffer.push(packets[i]!);
      used++;
      if (buffer.length >= 3) {
        const total = sectionLength(Uint8Array.from(buffer.slice(0, 3)));
        if (total > MAX_SECTION) {
          this.options.onError?.(pid, `section_length ${total - 3} exceeds 4093`);
          state.buffer = undefined;
          return to - from;
        }
        if (buffer.length === total) {
          state.buffer = undefined;
          this.emit(pid, Uint8Array.from(buffer));
          return used;
        }
      }
    }
    return used;
  }

  private emit(pid: number, bytes: Uint8Array, pesPts?: number): void {
    let section: SpliceInfoSection;
    try {
      section = parseSpliceInfoSection(bytes);
    } catch (err) {
      this.options.onError?.(pid, errorMessage(err));
      return;
    }
    this.options.onSection({ pid, bytes, section, ...(pesPts === undefined ? {} : { pesPts }) });
  }
}
