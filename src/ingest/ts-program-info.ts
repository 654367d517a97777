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
 * Whether a packet starts a PES on `pid` with random_access_indicator set (§2.4.3.5: "the current
 * ... PES packet ... contains some information to aid random access", which muxers set on keyframes).
 */
export function isRandomAccessStart(packet: Buffer, offset: number, pid: number): boolean {
  const packetPid = ((packet[offset + 1]! & 0x1f) << 8) | packet[offset + 2]!;
  if (packetPid !== pid || (packet[offset + 1]! & 0x40) === 0) return false;
  const afc = (packet[offset + 3]! >> 4) & 0x03;
  if (afc !== 2 && afc !== 3) return false;
  return packet[offset + 4]! > 0 && (packet[offset + 5]! & 0x40) !== 0;
}

/** ISO/IEC 13818-1 Table 2-34 stream_type values livepipe names (plus common ATSC/DVB ones). */
const STREAM_TYPES: Record<number, { kind: 'video' | 'audio'; codec: string }> = {
  0x01: { kind: 'video', codec: 'mpeg1video' },
  0x02: { kind: 'video', codec: 'mpeg2video' },
  0x03: { kind: 'audio', codec: 'mp2' },
  0x04: { kind: 'audio', codec: 'mp2' },
  0x0f: { kind: 'audio', codec: 'aac' },
  0x11: { kind: 'audio', codec: 'aac_latm' },
  0x1b: { kind: 'video', codec: 'h264' },
  0x24: { kind: 'video', codec: 'hevc' },
  0x81: { kind: 'audio', codec: 'ac3' },
  0x87: { kind: 'audio', codec: 'eac3' },
};

export interface TsProgramStreams {
  video?: { codec: string; pid: number };
  audio?: { codec: string; pid: number };
}

/**
 * Reads the first program's PMT out of whole TS packets to say which codecs a publisher sends.
 * Handles PSI sections that fit in one packet (what encoders write for a single program).
 */
export class TsProgramScanner {
  private pmtPid: number | undefined;
  streams: TsProgramStreams | undefined;

  /** `packets` is a multiple of 188 bytes, aligned. */
  push(packets: Buffer): void {
    for (let off = 0; off + TS_PACKET_SIZE <= packets.length; off += TS_PACKET_SIZE) {
      if (packets[off] !== TS_SYNC_BYTE) continue;
      const pusi = (packets[off + 1]! & 0x40) !== 0;
      if (!pusi) continue;
      const pid = ((packets[off + 1]! & 0x1f) << 8) | packets[off + 2]!;
      if (pid !== 0 && pid !== this.pmtPid) continue;
      const section = payloadSection(packets.subarray(off, off + TS_PACKET_SIZE));
      if (section === undefined) continue;
      if (pid === 0) this.readPat(section);
      else this.readPmt(section);
    }
  }

  private readPat(s: Buffer): void {
    if (s[0] !== 0x00) return;
    const end = sectionEnd(s);
    for (let i = 8; i + 4 <= end; i += 4) {
      const program = s.readUInt16BE(i);
      if (program !== 0) {
        this.pmtPid = s.readUInt16BE(i + 2) & 0x1fff;
        return;
      }
    }
  }

  private readPmt(s: Buffer): void {
    if (s[0] !== 0x02 || s.length < 12) return;
    const end = sectionEnd(s);
    const programInfoLength = s.readUInt16BE(10) & 0x0fff;
    const streams: TsProgramStreams = {};
    for (let i = 12 + programInfoLength; i + 5 <= end; ) {
      const type = s[i]!;
      const pid = s.readUInt16BE(i + 1) & 0x1fff;
      const esInfoLength = s.readUInt16BE(i + 3) & 0x0fff;
      const known = STREAM_TYPES[type];
      if (known !== undefined && streams[known.kind] === undefined) streams[known.kind] = { codec: known.codec, pid };
      i += 5 + esInfoLength;
    }
    this.streams = streams;
  }
}

/** The PSI section starting in this packet (after the adaptation field and pointer_field). */
function payloadSection(packet: Buffer): Buffer | undefined {
  const afc = (packet[3]! >> 4) & 0x03;
  if (afc === 0 || afc === 2) return undefined; // no payload
  let p = 4;
  if (afc === 3) p += 1 + packet[4]!;
  if (p >= packet.length) return undefined;
  p += 1 + packet[p]!; // pointer_field
  if (p + 3 > packet.length) return undefined;
  return packet.subarray(p);
}

/** Offset where the section's entries end (before CRC_32), clamped to what this packet holds. */
function sectionEnd(s: Buffer): number {
  const sectionLength = s.readUInt16BE(1) & 0x0fff;
  return Math.min(3 + sectionLength - 4, s.length);
}
