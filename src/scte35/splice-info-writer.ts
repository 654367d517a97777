import { crc32Mpeg2 } from './crc32-mpeg2.js';
import {
  SpliceCommandType,
  SpliceDescriptorTag,
  type SegmentationDescriptor,
  type SpliceCommand,
  type SpliceDescriptor,
  type SpliceInfoSection,
} from './splice-info.js';

/**
 * `SpliceInfoSection` → splice_info_section() bytes with its CRC_32: the inverse of
 * `parseSpliceInfoSection`. livepipe writes sections for cues that arrive without one (the ops API,
 * RTMP cue points), so that SCTE35-OUT/SCTE35-IN always carry a real section. Reserved bits are 1,
 * as the standard asks; section_syntax_indicator and private_indicator are 0.
 */

class BitWriter {
  private readonly out: number[] = [];
  private cur = 0;
  private used = 0;

  bits(n: number, value: number): this {
    for (let i = n - 1; i >= 0; i--) {
      const b = Math.floor(value / 2 ** i) % 2;
      this.cur = (this.cur << 1) | b;
      if (++this.used === 8) {
        this.out.push(this.cur);
        this.cur = 0;
        this.used = 0;
      }
    }
    return this;
  }

  flag(value: boolean): this {
    return this.bits(1, value ? 1 : 0);
  }

  reserved(n: number): this {
    return this.bits(n, 2 ** n - 1);
  }

  bytes(data: Uint8Array): this {
    for (const b of data) this.bits(8, b);
    return this;
  }

  done(): Uint8Array {
    if (this.used !== 0) throw new Error('BitWriter: unaligned end');
    return Uint8Array.from(this.out);
  }
}

function spliceTime(w: BitWriter, ptsTime: number | undefined): void {
  if (ptsTime === undefined) w.flag(false).reserved(7);
  else w.flag(true).reserved(6).bits(33, ptsTime);
}

function commandBytes(cmd: SpliceCommand): { type: number; bytes: Uint8Array } {
  const w = new BitWriter();
  switch (cmd.type) {
    case 'splice_null':
      return { type: SpliceCommandType.SpliceNull, bytes: new Uint8Array(0) };
    case 'time_signal':
      spliceTime(w, cmd.ptsTime);
      return { type: SpliceCommandType.TimeSignal, bytes: w.done() };
    case 'other':
      return { type: cmd.commandType, bytes: cmd.bytes };
    case 'splice_insert':
      w.bits(32, cmd.spliceEventId).flag(cmd.cancel).reserved(7);
      if (!cmd.cancel) {
        w.flag(cmd.outOfNetwork)
          .flag(cmd.program !== undefined)
          .flag(cmd.breakDuration !== undefined)
          .flag(cmd.spliceImmediate)
          .flag(cmd.eventIdCompliance)
          .reserved(3);
        if (cmd.program !== undefined) {
          if (!cmd.spliceImmediate) spliceTime(w, cmd.program.ptsTime);
        } else {
          w.bits(8, cmd.components.length);
          for (const c of cmd.components) {
            w.bits(8, c.componentTag);
            if (!cmd.spliceImmediate) spliceTime(w, c.ptsTime);
          }
        }
        if (cmd.breakDuration !== undefined) w.flag(cmd.breakDuration.autoReturn).reserved(6).bits(33, cmd.breakDuration.duration);
        w.bits(16, cmd.uniqueProgramId).bits(8, cmd.availNum).bits(8, cmd.availsExpected);
      }
      return { type: SpliceCommandType.SpliceInsert, bytes: w.done() };
  }
}

function segmentationBody(w: BitWriter, d: SegmentationDescriptor): void {
  w.bits(32, d.segmentationEventId).flag(d.cancel).flag(d.eventIdCompliance).reserved(6);
  if (d.cancel) return;
  w.flag(d.components === undefined).flag(d.segmentationDuration !== undefined).flag(d.deliveryNotRestricted);
  w.flag(d.webDeliveryAllowed).flag(d.noRegionalBlackout).flag(d.archiveAllowed).bits(2, d.deviceRestrictions);
  if (d.components !== undefined) {
    w.bits(8, d.components.length);
    for (const c of d.components) w.bits(8, c.componentTag).reserved(7).bits(33, c.ptsOffset);
  }
  if (d.segmentationDuration !== undefined) w.bits(40, d.segmentationDuration);
  w.bits(8, d.upidType).bits(8, d.upid.length).bytes(d.upid);
  w.bits(8, d.segmentationTypeId).bits(8, d.segmentNum).bits(8, d.segmentsExpected);
  if (d.subSegment !== undefined) w.bits(8, d.subSegment.num).bits(8, d.subSegment.expected);
}

function descriptorBytes(d: SpliceDescriptor): Uint8Array {
  const w = new BitWriter().bits(32, d.identifier);
  if ('bytes' in d) w.bytes(d.bytes);
  else if (d.tag === SpliceDescriptorTag.Avail) w.bits(32, d.providerAvailId);
  else segmentationBody(w, d);
  const body = w.done();
  return Uint8Array.from([d.tag, body.length, ...body]);
}

export function writeSpliceInfoSection(section: SpliceInfoSection): Uint8Array {
  const cmd = commandBytes(section.command);
  const loop = section.descriptors.map(descriptorBytes);
  const loopLength = loop.reduce((n, d) => n + d.length, 0);
  // protocol_version … descriptor_loop_length is 11 + command + 2 + loop; the CRC_32 adds 4.
  const sectionLength = 11 + cmd.bytes.length + 2 + loopLength + 4;
  const w = new BitWriter()
    .bits(8, 0xfc)
    .flag(false)
    .flag(false)
    .bits(2, section.sapType)
    .bits(12, sectionLength)
    .bits(8, section.protocolVersion)
    .flag(false)
    .bits(6, 0)
    .bits(33, section.ptsAdjustment)
    .bits(8, section.cwIndex)
    .bits(12, section.tier)
    .bits(12, cmd.bytes.length)
    .bits(8, cmd.type)
    .bytes(cmd.bytes)
    .bits(16, loopLength);
  for (const d of loop) w.bytes(d);
  const body = w.done();
  const crc = crc32Mpeg2(body);
  return Uint8Array.from([...body, crc >>> 24, (crc >>> 16) & 0xff, (crc >>> 8) & 0xff, crc & 0xff]);
}

/** "0xFC30…": the hexadecimal-sequence form of SCTE35-OUT / SCTE35-IN / SCTE35-CMD (HLS §4.4.5.1.1). */
export function spliceInfoHex(bytes: Uint8Array): string {
  return '0x' + Buffer.from(bytes).toString('hex').toUpperCase();
}
