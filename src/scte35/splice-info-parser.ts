import { ErrorCode, LivepipeError } from '../core/errors.js';
import { crc32Mpeg2 } from './crc32-mpeg2.js';
import {
  CUEI,
  SpliceCommandType,
  SpliceDescriptorTag,
  type SegmentationDescriptor,
  type SpliceCommand,
  type SpliceDescriptor,
  type SpliceInfoSection,
  type SpliceInsert,
} from './splice-info.js';

/**
 * splice_info_section() bytes → `SpliceInfoSection` (ANSI/SCTE 35 §9.6). Pure; throws only
 * `LivepipeError(MEDIA_MALFORMED)`:
 * - table_id must be 0xFC, section_length must fit the bytes given (bytes after the section are
 *   ignored, as in a TS section buffer padded with 0xFF);
 * - CRC_32 is checked (CRC-32/MPEG-2 over the whole section is 0);
 * - encrypted sections (encrypted_packet = 1) are refused: livepipe holds no control words;
 * - a splice command or descriptor that overruns its declared length is malformed.
 */

function malformed(message: string, details?: Record<string, unknown>): LivepipeError {
  return new LivepipeError(ErrorCode.MediaMalformed, `SCTE-35: ${message}`, details === undefined ? {} : { details });
}

/** MSB-first bit reader over [start, end) of a byte array; reading past `end` is malformed. */
class BitReader {
  private bit = 0;
  constructor(
    private readonly bytes: Uint8Array,
    private pos: number,
    private readonly end: number,
    private readonly what: string,
  ) {}

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  /** Up to 48 bits (exact in a double). */
  bits(n: number): number {
    let value = 0;
    for (let i = 0; i < n; i++) {
      if (this.pos >= this.end) throw malformed(`${this.what} is truncated`);
      const b = (this.bytes[this.pos]! >> (7 - this.bit)) & 1;
      value = value * 2 + b;
      if (++this.bit === 8) {
        this.bit = 0;
        this.pos++;
      }
    }
    return value;
  }

  flag(): boolean {
    return this.bits(1) === 1;
  }

  take(n: number): Uint8Array {
    if (this.bit !== 0) throw malformed(`${this.what}: unaligned byte field`);
    if (n > this.remaining) throw malformed(`${this.what} is truncated`);
    const out = this.bytes.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

/** splice_time() (§9.8.1): the PTS, or undefined when time_specified_flag = 0. */
function spliceTime(r: BitReader): number | undefined {
  if (r.flag()) {
    r.bits(6);
    return r.bits(33);
  }
  r.bits(7);
  return undefined;
}

function spliceInsert(r: BitReader): SpliceInsert {
  const spliceEventId = r.bits(32);
  const cancel = r.flag();
  r.bits(7);
  if (cancel) return { type: 'splice_insert', spliceEventId, cancel: true };
  const outOfNetwork = r.flag();
  const programSplice = r.flag();
  const durationFlag = r.flag();
  const spliceImmediate = r.flag();
  const eventIdCompliance = r.flag();
  r.bits(3);
  let program: { ptsTime: number | undefined } | undefined;
  const components: Array<{ componentTag: number; ptsTime: number | undefined }> = [];
  if (programSplice) {
    program = { ptsTime: spliceImmediate ? undefined : spliceTime(r) };
  } else {
    const count = r.bits(8);
    for (let i = 0; i < count; i++) {
      const componentTag = r.bits(8);
      components.push({ componentTag, ptsTime: spliceImmediate ? undefined : spliceTime(r) });
    }
  }
  let breakDuration;
  if (durationFlag) {
    const autoReturn = r.flag();
    r.bits(6);
    breakDuration = { autoReturn, duration: r.bits(33) };
  }
  return {
    type: 'splice_insert',
    spliceEventId,
    cancel: false,
    outOfNetwork,
    eventIdCompliance,
    spliceImmediate,
    program,
    components,
    breakDuration,
    uniqueProgramId: r.bits(16),
    availNum: r.bits(8),
    availsExpected: r.bits(8),
  };
}

function command(type: number, bytes: Uint8Array, start: number, end: number): SpliceCommand {
  const r = new BitReader(bytes, start, end, 'splice command');
  switch (type) {
    case SpliceCommandType.SpliceNull:
      return { type: 'splice_null' };
    case SpliceCommandType.SpliceInsert:
      return spliceInsert(r);
    case SpliceCommandType.TimeSignal:
      return { type: 'time_signal', ptsTime: spliceTime(r) };
    default:
      return { type: 'other', commandType: type, bytes: bytes.slice(start, end) };
  }
}

/** The sub_segment fields follow these placement-opportunity starts (Table 23). */
const WITH_SUB_SEGMENTS = new Set([0x34, 0x36, 0x38, 0x3a]);

function segmentation(r: BitReader, identifier: number): SegmentationDescriptor {
  const tag = SpliceDescriptorTag.Segmentation;
  const segmentationEventId = r.bits(32);
  const cancel = r.flag();
  const eventIdCompliance = r.flag();
  r.bits(6);
  if (cancel) return { tag, identifier, segmentationEventId, cancel: true, eventIdCompliance };
  const programSegmentation = r.flag();
  const durationFlag = r.flag();
  const deliveryNotRestricted = r.flag();
  const webDeliveryAllowed = r.flag();
  const noRegionalBlackout = r.flag();
  const archiveAllowed = r.flag();
  const deviceRestrictions = r.bits(2);
  let components: Array<{ componentTag: number; ptsOffset: number }> | undefined;
  if (!programSegmentation) {
    components = [];
    const count = r.bits(8);
    for (let i = 0; i < count; i++) {
      const componentTag = r.bits(8);
      r.bits(7);
      components.push({ componentTag, ptsOffset: r.bits(33) });
    }
  }
  const segmentationDuration = durationFlag ? r.bits(40) : undefined;
  const upidType = r.bits(8);
  const upid = r.take(r.bits(8));
  const segmentationTypeId = r.bits(8);
  const segmentNum = r.bits(8);
  const segmentsExpected = r.bits(8);
  // Descriptors written before SCTE 35 2016 end here even for 0x34/0x36 (the spec's own sample does).
  const subSegment =
    WITH_SUB_SEGMENTS.has(segmentationTypeId) && r.remaining >= 2 ? { num: r.bits(8), expected: r.bits(8) } : undefined;
  return {
    tag,
    identifier,
    segmentationEventId,
    cancel: false,
    eventIdCompliance,
    deliveryNotRestricted,
    webDeliveryAllowed,
    noRegionalBlackout,
    archiveAllowed,
    deviceRestrictions,
    components,
    segmentationDuration,
    upidType,
    upid,
    segmentationTypeId,
    segmentNum,
    segmentsExpected,
    subSegment,
  };
}

function descriptors(bytes: Uint8Array, start: number, end: number): SpliceDescriptor[] {
  const out: SpliceDescriptor[] = [];
  let pos = start;
  while (pos < end) {
    if (end - pos < 2) throw malformed('descriptor header is truncated');
    const tag = bytes[pos]!;
    const length = bytes[pos + 1]!;
    const bodyEnd = pos + 2 + length;
    if (bodyEnd > end) throw malformed('descriptor overruns the descriptor loop', { tag, length });
    const r = new BitReader(bytes, pos + 2, bodyEnd, `descriptor 0x${tag.toString(16)}`);
    const identifier = r.bits(32);
    if (identifier === CUEI && tag === SpliceDescriptorTag.Segmentation) out.push(segmentation(r, identifier));
    else if (identifier === CUEI && tag === SpliceDescriptorTag.Avail) {
      out.push({ tag: SpliceDescriptorTag.Avail, identifier, providerAvailId: r.bits(32) });
    } else out.push({ tag, identifier, bytes: bytes.slice(pos + 6, bodyEnd) });
    pos = bodyEnd;
  }
  return out;
}

/** Bytes of a section whose section_length fits in `bytes` (3 + section_length), or throws. */
export function sectionLength(bytes: Uint8Array): number {
  if (bytes.length < 3) throw malformed('shorter than a section header', { length: bytes.length });
  return 3 + (((bytes[1]! & 0x0f) << 8) | bytes[2]!);
}

export function parseSpliceInfoSection(bytes: Uint8Array): SpliceInfoSection {
  if (bytes.length < 3) throw malformed('shorter than a section header', { length: bytes.length });
  if (bytes[0] !== 0xfc) throw malformed('table_id is not 0xFC', { tableId: bytes[0] });
  const total = sectionLength(bytes);
  // The fixed fields (11 bytes after the header… through splice_command_type) + descriptor_loop_length + CRC_32.
  if (total < 3 + 11 + 2 + 4) throw malformed('section_length too small', { total });
  if (total > bytes.length) throw malformed('section_length exceeds the bytes given', { total, length: bytes.length });
  if (crc32Mpeg2(bytes, 0, total) !== 0) throw malformed('CRC_32 mismatch');

  const r = new BitReader(bytes, 0, total - 4, 'splice_info_section');
  r.bits(8); // table_id
  r.bits(1); // section_syntax_indicator
  r.bits(1); // private_indicator
  const sapType = r.bits(2);
  r.bits(12); // section_length
  const protocolVersion = r.bits(8);
  const encrypted = r.flag();
  r.bits(6); // encryption_algorithm
  if (encrypted) throw malformed('encrypted sections are not supported');
  const ptsAdjustment = r.bits(33);
  const cwIndex = r.bits(8);
  const tier = r.bits(12);
  const commandLength = r.bits(12);
  const commandType = r.bits(8);
  const commandStart = r.offset;
  // 0xFFF is the legacy "unknown length": only splice_null/splice_insert/time_signal could be sized then.
  if (commandLength === 0xfff) throw malformed('splice_command_length 0xFFF (unspecified) is not supported');
  const commandEnd = commandStart + commandLength;
  if (commandEnd + 2 > total - 4) throw malformed('splice command overruns the section', { commandLength });
  const cmd = command(commandType, bytes, commandStart, commandEnd);
  const loopLength = (bytes[commandEnd]! << 8) | bytes[commandEnd + 1]!;
  const loopStart = commandEnd + 2;
  if (loopStart + loopLength > total - 4) throw malformed('descriptor loop overruns the section', { loopLength });
  return {
    protocolVersion,
    sapType,
    ptsAdjustment,
    cwIndex,
    tier,
    command: cmd,
    descriptors: descriptors(bytes, loopStart, loopStart + loopLength),
  };
}
