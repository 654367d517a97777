import type { TsElementaryStream, TsStreamKind } from './video-presence.js';

/** ISO/IEC 13818-1 §2.4.3.2: transport packets are 188 bytes starting with sync byte 0x47. */
export const TS_PACKET_SIZE = 188;
export const TS_SYNC_BYTE = 0x47;

/** The 13-bit PID of the packet at `offset`. */
export function tsPacketPid(packets: Buffer, offset = 0): number {
  return ((packets[offset + 1]! & 0x1f) << 8) | packets[offset + 2]!;
}

/**
 * Where the payload of the packet at `offset` starts (after the adaptation field), as an index into
 * `packets`; undefined when the packet carries no payload or its adaptation field fills it.
 */
export function tsPayloadStart(packets: Buffer, offset = 0): number | undefined {
  const afc = (packets[offset + 3]! >> 4) & 0x03;
  if (afc === 0 || afc === 2) return undefined; // no payload
  const start = afc === 3 ? offset + 5 + packets[offset + 4]! : offset + 4;
  return start < offset + TS_PACKET_SIZE ? start : undefined;
}

/** Whether a packet is the start of a PAT section (PID 0 with payload_unit_start_indicator). */
export function isPatStart(packet: Buffer, offset = 0): boolean {
  const pusi = (packet[offset + 1]! & 0x40) !== 0;
  return tsPacketPid(packet, offset) === 0 && pusi;
}

/**
 * Whether a packet starts a PES on `pid` with random_access_indicator set (§2.4.3.5: "the current
 * ... PES packet ... contains some information to aid random access", which muxers set on keyframes).
 */
export function isRandomAccessStart(packet: Buffer, offset: number, pid: number): boolean {
  if (tsPacketPid(packet, offset) !== pid || (packet[offset + 1]! & 0x40) === 0) return false;
  const afc = (packet[offset + 3]! >> 4) & 0x03;
  if (afc !== 2 && afc !== 3) return false;
  return packet[offset + 4]! > 0 && (packet[offset + 5]! & 0x40) !== 0;
}

/**
 * ISO/IEC 13818-1 Table 2-34 stream_type values livepipe names, plus the ATSC/DVB/Blu-ray private
 * types ffmpeg's demuxer maps. A type not listed is `unknown` (it could be video).
 */
const STREAM_TYPES: Record<number, { kind: TsStreamKind; codec?: string }> = {
  0x01: { kind: 'video', codec: 'mpeg1video' },
  0x02: { kind: 'video', codec: 'mpeg2video' },
  0x03: { kind: 'audio', codec: 'mp2' },
  0x04: { kind: 'audio', codec: 'mp2' },
  0x05: { kind: 'data', codec: 'private sections' },
  0x0b: { kind: 'data', codec: 'dsm-cc' },
  0x0c: { kind: 'data', codec: 'dsm-cc' },
  0x0d: { kind: 'data', codec: 'dsm-cc' },
  0x0f: { kind: 'audio', codec: 'aac' },
  0x10: { kind: 'video', codec: 'mpeg4' },
  0x11: { kind: 'audio', codec: 'aac_latm' },
  0x15: { kind: 'data', codec: 'metadata' },
  0x1b: { kind: 'video', codec: 'h264' },
  0x1c: { kind: 'audio', codec: 'aac' },
  0x20: { kind: 'video', codec: 'h264' }, // MVC sub-bitstream
  0x21: { kind: 'video', codec: 'jpeg2000' },
  0x24: { kind: 'video', codec: 'hevc' },
  0x33: { kind: 'video', codec: 'vvc' },
  0x42: { kind: 'video', codec: 'cavs' },
  0x81: { kind: 'audio', codec: 'ac3' },
  0x82: { kind: 'audio', codec: 'dts' },
  0x83: { kind: 'audio', codec: 'truehd' },
  0x84: { kind: 'audio', codec: 'eac3' },
  0x85: { kind: 'audio', codec: 'dts' },
  0x86: { kind: 'data', codec: 'scte-35' },
  0x87: { kind: 'audio', codec: 'eac3' },
  0xd1: { kind: 'video', codec: 'dirac' },
  0xd2: { kind: 'video', codec: 'avs2' },
  0xea: { kind: 'video', codec: 'vc1' },
};

/** Registration descriptor format identifiers (tag 5) that make a private PES (0x06) a known stream. */
const REGISTRATIONS: Record<string, { kind: TsStreamKind; codec: string }> = {
  HEVC: { kind: 'video', codec: 'hevc' },
  'VC-1': { kind: 'video', codec: 'vc1' },
  drac: { kind: 'video', codec: 'dirac' },
  AV01: { kind: 'video', codec: 'av1' },
  'AC-3': { kind: 'audio', codec: 'ac3' },
  EAC3: { kind: 'audio', codec: 'eac3' },
  'AC-4': { kind: 'audio', codec: 'ac4' },
  BSSD: { kind: 'audio', codec: 's302m' },
  dts1: { kind: 'audio', codec: 'dts' },
  dts2: { kind: 'audio', codec: 'dts' },
  dts3: { kind: 'audio', codec: 'dts' },
  Opus: { kind: 'audio', codec: 'opus' },
  KLVA: { kind: 'data', codec: 'klv' },
  'ID3 ': { kind: 'data', codec: 'id3' },
};

/** DVB descriptors that make a private PES audio (EN 300 468 §6.2: AC-3, E-AC-3, DTS, AAC). */
const DVB_AUDIO_DESCRIPTORS: Record<number, string> = { 0x6a: 'ac3', 0x7a: 'eac3', 0x7b: 'dts', 0x7c: 'aac' };

/** Classifies one PMT entry from its stream_type and ES_info descriptors. */
export function classifyTsStream(streamType: number, pid: number, esInfo: Buffer): TsElementaryStream {
  let registration: string | undefined;
  let dvbAudio: string | undefined;
  for (let i = 0; i + 2 <= esInfo.length; ) {
    const tag = esInfo[i]!;
    const length = esInfo[i + 1]!;
    if (tag === 0x05 && length >= 4 && i + 6 <= esInfo.length) registration = esInfo.toString('latin1', i + 2, i + 6);
    if (DVB_AUDIO_DESCRIPTORS[tag] !== undefined) dvbAudio = DVB_AUDIO_DESCRIPTORS[tag];
    i += 2 + length;
  }
  const stream: TsElementaryStream = { pid, streamType, kind: 'unknown' };
  if (registration !== undefined) stream.registration = registration;
  const known = STREAM_TYPES[streamType];
  if (known !== undefined) {
    stream.kind = known.kind;
    if (known.codec !== undefined) stream.codec = known.codec;
  } else if (streamType === 0x06) {
    // PES private data: its descriptors say what it carries; without them it is data to ffmpeg.
    const registered = registration !== undefined ? REGISTRATIONS[registration] : undefined;
    if (registered !== undefined) {
      stream.kind = registered.kind;
      stream.codec = registered.codec;
    } else if (dvbAudio !== undefined) {
      stream.kind = 'audio';
      stream.codec = dvbAudio;
    } else {
      stream.kind = registration === undefined ? 'data' : 'unknown';
      stream.codec = 'private data';
    }
  }
  return stream;
}

export interface TsProgramStreams {
  video?: { codec: string; pid: number };
  audio?: { codec: string; pid: number };
  /** Every elementary stream of the program, in PMT order. */
  all: TsElementaryStream[];
}

/**
 * Reads the first program's PMT out of whole TS packets to say which codecs a publisher sends.
 * Handles PSI sections that fit in one packet (what encoders write for a single program).
 */
export class TsProgramScanner {
  private pmtPid: number | undefined;
  streams: TsProgramStreams | undefined;
  /** PMT sections read so far (each repetition counts). */
  pmtCount = 0;

  /** `packets` is a multiple of 188 bytes, aligned. */
  push(packets: Buffer): void {
    for (let off = 0; off + TS_PACKET_SIZE <= packets.length; off += TS_PACKET_SIZE) {
      if (packets[off] !== TS_SYNC_BYTE) continue;
      const pusi = (packets[off + 1]! & 0x40) !== 0;
      if (!pusi) continue;
      const pid = tsPacketPid(packets, off);
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
    const streams: TsProgramStreams = { all: [] };
    for (let i = 12 + programInfoLength; i + 5 <= end; ) {
      const type = s[i]!;
      const pid = s.readUInt16BE(i + 1) & 0x1fff;
      const esInfoLength = s.readUInt16BE(i + 3) & 0x0fff;
      const stream = classifyTsStream(type, pid, s.subarray(i + 5, Math.min(i + 5 + esInfoLength, end)));
      streams.all.push(stream);
      if ((stream.kind === 'video' || stream.kind === 'audio') && streams[stream.kind] === undefined) {
        streams[stream.kind] = { codec: stream.codec ?? 'unknown', pid };
      }
      i += 5 + esInfoLength;
    }
    this.streams = streams;
    this.pmtCount += 1;
  }
}

/** The PSI section starting in this packet (after the adaptation field and pointer_field). */
function payloadSection(packet: Buffer): Buffer | undefined {
  let p = tsPayloadStart(packet);
  if (p === undefined) return undefined;
  p += 1 + packet[p]!; // pointer_field
  if (p + 3 > packet.length) return undefined;
  return packet.subarray(p);
}

/** Offset where the section's entries end (before CRC_32), clamped to what this packet holds. */
function sectionEnd(s: Buffer): number {
  const sectionLength = s.readUInt16BE(1) & 0x0fff;
  return Math.min(3 + sectionLength - 4, s.length);
}

/**
 * The decode timestamp (DTS, else PTS) of the PES that starts in the packet at `offset`, in 90 kHz
 * ticks; undefined when the packet starts no PES or carries no timestamp (ISO/IEC 13818-1 §2.4.3.7).
 */
export function pesDecodeTimestamp(packets: Buffer, offset: number): number | undefined {
  return pesTimestamp(packets, offset, 'decode');
}

/** The presentation timestamp (PTS) of the PES that starts in the packet at `offset` (90 kHz), as `pesDecodeTimestamp`. */
export function pesPresentationTimestamp(packets: Buffer, offset: number): number | undefined {
  return pesTimestamp(packets, offset, 'presentation');
}

function pesTimestamp(packets: Buffer, offset: number, which: 'decode' | 'presentation'): number | undefined {
  if ((packets[offset + 1]! & 0x40) === 0) return undefined; // payload_unit_start_indicator
  const p = tsPayloadStart(packets, offset);
  const end = offset + TS_PACKET_SIZE;
  if (p === undefined || p + 9 > end || packets[p] !== 0 || packets[p + 1] !== 0 || packets[p + 2] !== 1) return undefined;
  const flags = packets[p + 7]! >> 6; // PTS_DTS_flags: 2 = PTS, 3 = PTS and DTS
  const at = flags === 3 && which === 'decode' ? p + 14 : flags === 2 || flags === 3 ? p + 9 : -1;
  if (at < 0 || at + 5 > end) return undefined;
  const b = (i: number) => packets[at + i]!;
  // 33 bits in 5 bytes with marker bits; multiply the top bits rather than shift (no 32-bit overflow).
  return ((b(0) >> 1) & 0x07) * 2 ** 30 + (b(1) << 22) + ((b(2) >> 1) << 15) + (b(3) << 7) + (b(4) >> 1);
}
