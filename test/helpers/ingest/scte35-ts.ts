import { crc32Mpeg2 } from '../../../src/scte35/crc32-mpeg2.js';
import { TS_PACKET_SIZE, pesDecodeTimestamp, tsPacketPid, tsPayloadStart } from '../../../src/ingest/ts-program-info.js';

/**
 * Adds an SCTE-35 PID to an MPEG-TS file as a broadcast encoder carries it (SCTE 35 §8): every PMT
 * gets a stream_type 0x86 entry with a "CUEI" registration descriptor (CRC rewritten), and each
 * section goes in its own packet (payload_unit_start_indicator, pointer_field 0, 0xFF stuffing)
 * right before the first video PES whose timestamp reaches `beforeSeconds` of media time. ffmpeg
 * 5.1's TS muxer cannot write SCTE-35, so the tests build such feeds this way and send them with
 * `publishRawSrt`.
 */

export const SCTE35_TEST_PID = 0x1f0;

export interface Scte35Insertion {
  /** The section goes before the first video PES at or after this media time (seconds from the first). */
  beforeSeconds: number;
  section: Uint8Array;
}

export function injectScte35(ts: Buffer, insertions: readonly Scte35Insertion[], pid = SCTE35_TEST_PID): Buffer {
  const pmtPid = findPmtPid(ts);
  const pending = [...insertions].sort((a, b) => a.beforeSeconds - b.beforeSeconds);
  const out: Buffer[] = [];
  let videoPid: number | undefined;
  let firstDts: number | undefined;
  let cc = 0;
  for (let off = 0; off + TS_PACKET_SIZE <= ts.length; off += TS_PACKET_SIZE) {
    let packet: Buffer = Buffer.from(ts.subarray(off, off + TS_PACKET_SIZE));
    const packetPid = tsPacketPid(packet);
    if (packetPid === pmtPid && (packet[1]! & 0x40) !== 0) {
      const rewritten = addPmtEntry(packet, pid);
      packet = rewritten.packet;
      videoPid ??= rewritten.videoPid;
    }
    if (packetPid === videoPid) {
      const dts = pesDecodeTimestamp(packet, 0);
      if (dts !== undefined) {
        firstDts ??= dts;
        while (pending.length > 0 && (dts - firstDts) / 90_000 >= pending[0]!.beforeSeconds) {
          out.push(sectionPacket(pending.shift()!.section, pid, cc));
          cc = (cc + 1) & 0x0f;
        }
      }
    }
    out.push(packet);
  }
  if (pending.length > 0) throw new Error(`the TS ends before ${pending[0]!.beforeSeconds} s: no place for a section`);
  return Buffer.concat(out);
}

/** The decode timestamp of the first video PES (90 kHz): the base of splice times in a test feed. */
export function firstVideoDts(ts: Buffer): number {
  const pmtPid = findPmtPid(ts);
  let videoPid: number | undefined;
  for (let off = 0; off + TS_PACKET_SIZE <= ts.length; off += TS_PACKET_SIZE) {
    const packet = ts.subarray(off, off + TS_PACKET_SIZE);
    if (videoPid === undefined && tsPacketPid(packet) === pmtPid && (packet[1]! & 0x40) !== 0) videoPid = addPmtEntry(Buffer.from(packet), SCTE35_TEST_PID).videoPid;
    const dts = videoPid !== undefined && tsPacketPid(packet) === videoPid ? pesDecodeTimestamp(packet, 0) : undefined;
    if (dts !== undefined) return dts;
  }
  throw new Error('no video PES in the TS');
}

function sectionPacket(section: Uint8Array, pid: number, cc: number): Buffer {
  if (section.length > 183) throw new Error('test sections fit in one packet');
  const p = Buffer.alloc(TS_PACKET_SIZE, 0xff);
  p[0] = 0x47;
  p[1] = 0x40 | ((pid >> 8) & 0x1f);
  p[2] = pid & 0xff;
  p[3] = 0x10 | cc;
  p[4] = 0; // pointer_field
  Buffer.from(section).copy(p, 5);
  return p;
}

function findPmtPid(ts: Buffer): number {
  for (let off = 0; off + TS_PACKET_SIZE <= ts.length; off += TS_PACKET_SIZE) {
    if (tsPacketPid(ts, off) !== 0 || (ts[off + 1]! & 0x40) === 0) continue;
    const start = tsPayloadStart(ts, off)!;
    const s = start + 1 + ts[start]!;
    return ts.readUInt16BE(s + 10) & 0x1fff; // first program's PMT PID
  }
  throw new Error('no PAT in the TS');
}

/** The PMT in `packet` (one-packet section) with an SCTE-35 entry appended; the first video PID. */
function addPmtEntry(packet: Buffer, pid: number): { packet: Buffer; videoPid: number | undefined } {
  const start = tsPayloadStart(packet)!;
  const s = start + 1 + packet[start]!;
  const sectionLength = packet.readUInt16BE(s + 1) & 0x0fff;
  const end = s + 3 + sectionLength - 4; // before CRC
  let videoPid: number | undefined;
  const programInfo = packet.readUInt16BE(s + 10) & 0x0fff;
  for (let i = s + 12 + programInfo; i + 5 <= end; ) {
    if ([0x1b, 0x24].includes(packet[i]!)) videoPid ??= packet.readUInt16BE(i + 1) & 0x1fff;
    i += 5 + (packet.readUInt16BE(i + 3) & 0x0fff);
  }
  // SCTE 35 §8.1: a registration descriptor "CUEI" in the program loop, and the stream_type 0x86 entry.
  const registration = Buffer.from([0x05, 4, 0x43, 0x55, 0x45, 0x49]);
  const entry = Buffer.from([0x86, 0xe0 | (pid >> 8), pid & 0xff, 0xf0, 0]);
  const programLoopEnd = s + 12 + programInfo;
  const body = Buffer.concat([packet.subarray(s, programLoopEnd), registration, packet.subarray(programLoopEnd, end), entry]);
  body.writeUInt16BE((body.readUInt16BE(10) & 0xf000) | (programInfo + registration.length), 10);
  body.writeUInt16BE((body.readUInt16BE(1) & 0xf000) | (sectionLength + registration.length + entry.length), 1);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32Mpeg2(body));
  const section = Buffer.concat([body, crc]);
  const out = Buffer.alloc(TS_PACKET_SIZE, 0xff);
  packet.copy(out, 0, 0, s);
  section.copy(out, s);
  if (s + section.length > TS_PACKET_SIZE) throw new Error('PMT outgrew its packet');
  return { packet: out, videoPid };
}
