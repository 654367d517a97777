import { ErrorCode, LivepipeError } from '../core/errors.js';

/**
 * ISO BMFF (ISO/IEC 14496-12) box helpers for the fMP4 reader: a bounds-checked big-endian cursor,
 * child-box iteration and parsers for the few boxes the packager needs (mdhd, hdlr, tkhd, trex, tfhd,
 * tfdt, trun, sample entries). Every read is checked against its box: malformed input raises
 * `LivepipeError(MediaMalformed)`, never a RangeError or an endless loop.
 */

export function malformed(message: string, details?: Record<string, unknown>): LivepipeError {
  return new LivepipeError(ErrorCode.MediaMalformed, `malformed fMP4: ${message}`, details ? { details } : {});
}

/**
 * A view on a byte range with a bounds-checked read position. `select()` moves it to another range of
 * the same bytes, so one cursor (and one DataView) reads every box of a fragment.
 */
export class ByteCursor {
  private readonly view: DataView;
  /** The range read, absolute offsets in `bytes`; `pos` is absolute too. */
  private start = 0;
  private end: number;
  private pos = 0;

  constructor(
    readonly bytes: Uint8Array,
    /** Name of the structure being read, for error messages. */
    private what: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.end = bytes.byteLength;
  }

  /** Reads `bytes[start, end)` from its beginning, as the structure `what`; offsets are relative to `start`. */
  select(start: number, end: number, what: string): this {
    this.start = start;
    this.end = end;
    this.pos = start;
    this.what = what;
    return this;
  }

  /** Moves the read position to `position` (absolute, within the range): past a child box, say. */
  seek(position: number): void {
    if (position < this.start || position > this.end) throw malformed(`${this.what}: position ${position - this.start} is outside it`);
    this.pos = position;
  }

  /** Offset of the read position from the start of the range. */
  get offset(): number {
    return this.pos - this.start;
  }

  /** Absolute position in `bytes`. */
  get position(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number): number {
    if (n > this.remaining) {
      throw malformed(`${this.what} is truncated (needs ${n} more bytes at offset ${this.offset}, has ${this.remaining})`);
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  skip(n: number): void {
    this.need(n);
  }

  u8(): number {
    return this.view.getUint8(this.need(1));
  }

  u16(): number {
    return this.view.getUint16(this.need(2));
  }

  u24(): number {
    const at = this.need(3);
    return (this.view.getUint8(at) << 16) | this.view.getUint16(at + 1);
  }

  u32(): number {
    return this.view.getUint32(this.need(4));
  }

  i32(): number {
    return this.view.getInt32(this.need(4));
  }

  /** A 64-bit unsigned integer as a JS number; values past 2^53 are rejected rather than rounded. */
  u64(): number {
    const at = this.need(8);
    // Two 32-bit halves, not getBigUint64: no BigInt allocated for every fragment's tfdt.
    const high = this.view.getUint32(at);
    // 2^53 - 1 = 0x1fffff_ffffffff: a larger high word would lose precision as a double.
    if (high > 0x1f_ffff) throw malformed(`${this.what} has a 64-bit value beyond 2^53`);
    return high * 0x1_0000_0000 + this.view.getUint32(at + 4);
  }

  fourcc(): string {
    const at = this.need(4);
    return String.fromCharCode(this.bytes[at]!, this.bytes[at + 1]!, this.bytes[at + 2]!, this.bytes[at + 3]!);
  }

  take(n: number): Uint8Array {
    const at = this.need(n);
    return this.bytes.subarray(at, at + n);
  }

  rest(): Uint8Array {
    return this.take(this.remaining);
  }

  /**
   * Reads the header of the child box at the read position (the one box-header rule: `childBoxes`
   * walks with it too), without allocating: returns its type as a number
   * (`fourccCode`) and leaves the position at its payload; the box ends at `childEnd` (`seek` there
   * for the next child). `parent` names the box for errors.
   */
  childHeader(parent: string): number {
    const remaining = this.remaining;
    const offset = this.offset;
    if (remaining < 8) throw malformed(`${parent} ends with ${remaining} stray bytes`);
    let size = this.u32();
    const at = this.need(4);
    const type = this.view.getUint32(at);
    if (!isPlausibleTypeCode(type)) throw malformed(`${parent} contains a box with an invalid type`);
    let header = 8;
    if (size === 1) {
      size = this.u64();
      header = 16;
    } else if (size === 0) {
      size = remaining;
    }
    if (size < header || size - header > this.remaining) {
      throw malformed(`box '${fourccString(type)}' in ${parent} has size ${size}, beyond its parent`);
    }
    this.childEnd = this.start + offset + size;
    return type;
  }

  /** End (absolute) of the child box whose header `childHeader` read last. */
  childEnd = 0;
}

/** A four-character code as the big-endian number a box header holds (`'moof'` → 0x6d6f6f66). */
export function fourccCode(fourcc: string): number {
  return ((fourcc.charCodeAt(0) << 24) | (fourcc.charCodeAt(1) << 16) | (fourcc.charCodeAt(2) << 8) | fourcc.charCodeAt(3)) >>> 0;
}

function fourccString(code: number): string {
  return String.fromCharCode(code >>> 24, (code >>> 16) & 0xff, (code >>> 8) & 0xff, code & 0xff);
}

function isPlausibleTypeCode(code: number): boolean {
  for (let shift = 0; shift < 32; shift += 8) {
    const c = (code >>> shift) & 0xff;
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

/** A box inside a parent's payload: `type`, and `payload` (the bytes after the header). */
export interface ChildBox {
  type: string;
  /** Offset of the box header within the parent payload. */
  offset: number;
  size: number;
  payload: Uint8Array;
}

/** Box types are four printable ASCII characters; anything else means we lost sync with the stream. */
export function isPlausibleBoxType(type: string): boolean {
  for (let i = 0; i < type.length; i++) {
    const c = type.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return type.length === 4;
}

/** Splits a payload into its child boxes; every child must fit exactly (headers read by `childHeader`). */
export function childBoxes(payload: Uint8Array, parent: string): ChildBox[] {
  const out: ChildBox[] = [];
  const cursor = new ByteCursor(payload, parent);
  while (cursor.remaining > 0) {
    const offset = cursor.position;
    const type = fourccString(cursor.childHeader(parent));
    out.push({ type, offset, size: cursor.childEnd - offset, payload: cursor.take(cursor.childEnd - cursor.position) });
  }
  return out;
}

export function findChild(children: ChildBox[], type: string): ChildBox | undefined {
  return children.find((c) => c.type === type);
}

export function requireChild(children: ChildBox[], type: string, parent: string): ChildBox {
  const child = findChild(children, type);
  if (!child) throw malformed(`${parent} has no '${type}' box`);
  return child;
}

/** Version and flags of a FullBox. */
export function fullBoxHeader(cursor: ByteCursor): { version: number; flags: number } {
  const version = cursor.u8();
  const flags = cursor.u24();
  return { version, flags };
}

// ---- sample flags (ISO/IEC 14496-12 §8.8.3.1) ----

/** sample_is_non_sync_sample bit of a sample_flags word. */
export const SAMPLE_FLAG_NON_SYNC = 0x0001_0000;

export function isSyncSampleFlags(flags: number): boolean {
  return (flags & SAMPLE_FLAG_NON_SYNC) === 0;
}

// ---- moov-side boxes ----

export interface TrackExtends {
  trackId: number;
  defaultSampleDuration: number;
  defaultSampleSize: number;
  defaultSampleFlags: number;
}

export function parseTrex(payload: Uint8Array): TrackExtends {
  const c = new ByteCursor(payload, 'trex');
  fullBoxHeader(c);
  const trackId = c.u32();
  c.skip(4); // default_sample_description_index
  return { trackId, defaultSampleDuration: c.u32(), defaultSampleSize: c.u32(), defaultSampleFlags: c.u32() };
}

export function parseTkhd(payload: Uint8Array): { trackId: number; width: number; height: number } {
  const c = new ByteCursor(payload, 'tkhd');
  const { version } = fullBoxHeader(c);
  c.skip(version === 1 ? 16 : 8); // creation + modification time
  const trackId = c.u32();
  c.skip(4 + (version === 1 ? 8 : 4) + 8 + 2 + 2 + 2 + 2 + 36); // reserved, duration, reserved, layer..matrix
  const width = c.u32() / 65536;
  const height = c.u32() / 65536;
  return { trackId, width, height };
}

export function parseMdhdTimescale(payload: Uint8Array): number {
  const c = new ByteCursor(payload, 'mdhd');
  const { version } = fullBoxHeader(c);
  c.skip(version === 1 ? 16 : 8);
  const timescale = c.u32();
  if (timescale === 0) throw malformed('mdhd timescale is 0');
  return timescale;
}

export function parseHdlrType(payload: Uint8Array): string {
  const c = new ByteCursor(payload, 'hdlr');
  fullBoxHeader(c);
  c.skip(4); // pre_defined
  return c.fourcc();
}

export interface SampleEntry {
  /** Sample entry four-character code: avc1, avc3, hvc1, hev1, mp4a, Opus, … */
  format: string;
  /** Visual sample entries only. */
  width?: number;
  height?: number;
  /** Audio sample entries only. */
  channelCount?: number;
  sampleRate?: number;
  /** Child boxes of the sample entry (avcC, hvcC, esds, dOps, btrt, …). */
  children: ChildBox[];
}

const VISUAL_FORMATS = new Set(['avc1', 'avc3', 'hvc1', 'hev1', 'av01', 'vp09', 'encv']);
const AUDIO_FORMATS = new Set(['mp4a', 'Opus', 'fLaC', 'ac-3', 'ec-3', 'enca']);

/** Parses the first sample entry of an stsd payload. */
export function parseStsd(payload: Uint8Array): SampleEntry {
  const c = new ByteCursor(payload, 'stsd');
  fullBoxHeader(c);
  const count = c.u32();
  if (count < 1) throw malformed('stsd has no sample entry');
  const [entry] = childBoxes(c.rest(), 'stsd');
  if (!entry) throw malformed('stsd has no sample entry');
  const e = new ByteCursor(entry.payload, entry.type);
  e.skip(6 + 2); // reserved, data_reference_index
  if (VISUAL_FORMATS.has(entry.type)) {
    e.skip(2 + 2 + 12);
    const width = e.u16();
    const height = e.u16();
    e.skip(4 + 4 + 4 + 2 + 32 + 2 + 2);
    return { format: entry.type, width, height, children: childBoxes(e.rest(), entry.type) };
  }
  if (AUDIO_FORMATS.has(entry.type)) {
    const version = e.u16();
    e.skip(6);
    const channelCount = e.u16();
    e.skip(2 + 2 + 2);
    const sampleRate = e.u32() >>> 16;
    // QuickTime sound description v1/v2 extensions (not written by ffmpeg's mp4 muxer).
    if (version === 1) e.skip(16);
    else if (version === 2) e.skip(36);
    return { format: entry.type, channelCount, sampleRate, children: childBoxes(e.rest(), entry.type) };
  }
  return { format: entry.type, children: [] };
}

// ---- moof-side boxes ----

export interface TrackFragmentHeader {
  trackId: number;
  baseDataOffset?: number;
  defaultBaseIsMoof: boolean;
  defaultSampleDuration?: number;
  defaultSampleSize?: number;
  defaultSampleFlags?: number;
}

const TFHD_TYPE = fourccCode('tfhd');
const TFDT_TYPE = fourccCode('tfdt');
const TRUN_TYPE = fourccCode('trun');

/** Where a traf's children lie (absolute offsets of their payloads; `tfdt` −1 when absent). */
export interface TrafChildren {
  tfhd: number;
  tfhdEnd: number;
  tfdt: number;
  tfdtEnd: number;
  /** Every trun, in order: start, end, start, end, … */
  truns: number[];
}

/**
 * A traf's first tfhd and tfdt and every trun, in order. `strict`: any other child (or a second tfhd
 * or tfdt) is refused — for a copy of the traf's samples that could not carry it over; otherwise
 * other children are skipped.
 */
export function locateTrafChildren(c: ByteCursor, traf: number, trafEnd: number, strict = false): TrafChildren {
  const found: TrafChildren = { tfhd: -1, tfhdEnd: 0, tfdt: -1, tfdtEnd: 0, truns: [] };
  for (c.select(traf, trafEnd, 'traf'); c.remaining > 0; c.seek(c.childEnd)) {
    const type = c.childHeader('traf');
    if (type === TFHD_TYPE && found.tfhd < 0) {
      found.tfhd = c.position;
      found.tfhdEnd = c.childEnd;
    } else if (type === TFDT_TYPE && found.tfdt < 0) {
      found.tfdt = c.position;
      found.tfdtEnd = c.childEnd;
    } else if (type === TRUN_TYPE) {
      found.truns.push(c.position, c.childEnd);
    } else if (strict) {
      throw malformed('a traf box that a coalesced chunk cannot carry over');
    }
  }
  if (found.tfhd < 0) throw malformed("traf has no 'tfhd' box");
  return found;
}

/** tfhd, from a cursor on its payload. */
export function parseTfhd(c: ByteCursor): TrackFragmentHeader {
  c.u8(); // version
  const flags = c.u24();
  const header: TrackFragmentHeader = { trackId: c.u32(), defaultBaseIsMoof: (flags & 0x020000) !== 0 };
  if (flags & 0x000001) header.baseDataOffset = c.u64();
  if (flags & 0x000002) c.skip(4); // sample_description_index
  if (flags & 0x000008) header.defaultSampleDuration = c.u32();
  if (flags & 0x000010) header.defaultSampleSize = c.u32();
  if (flags & 0x000020) header.defaultSampleFlags = c.u32();
  return header;
}

/** tfdt's baseMediaDecodeTime, from a cursor on its payload. */
export function parseTfdt(c: ByteCursor): number {
  const version = c.u8();
  c.skip(3); // flags
  return version === 1 ? c.u64() : c.u32();
}

export interface TrunSample {
  duration: number;
  size: number;
  flags: number;
  compositionOffset: number;
  /** `flags` marks a sync sample (a keyframe; every AAC frame). */
  isSync: boolean;
}

/**
 * trun, from a cursor on its payload, with per-field fallbacks to tfhd then trex defaults (ISO/IEC
 * 14496-12 §8.8.8). Appends its samples to `samples` and returns its data_offset when present.
 */
export function parseTrun(
  c: ByteCursor,
  defaults: { duration: number; size: number; flags: number },
  /** Upper bound on sample_count (the mdat payload size: every sample has data). */
  maxSamples: number,
  samples: TrunSample[],
): number | undefined {
  const version = c.u8();
  const flags = c.u24();
  const count = c.u32();
  const dataOffset = flags & 0x000001 ? c.i32() : undefined;
  const firstSampleFlags = flags & 0x000004 ? c.u32() : undefined;
  const perSample =
    (flags & 0x000100 ? 4 : 0) + (flags & 0x000200 ? 4 : 0) + (flags & 0x000400 ? 4 : 0) + (flags & 0x000800 ? 4 : 0);
  // A corrupt count must not make us loop or allocate for billions of samples: each sample needs its
  // per-sample fields in this box, and (ffmpeg never writes empty samples) data in the mdat.
  if (count * perSample > c.remaining || count > maxSamples) {
    throw malformed(`trun sample_count ${count} does not fit the fragment`);
  }
  for (let i = 0; i < count; i++) {
    const duration = flags & 0x000100 ? c.u32() : defaults.duration;
    const size = flags & 0x000200 ? c.u32() : defaults.size;
    let sampleFlags = flags & 0x000400 ? c.u32() : defaults.flags;
    if (i === 0 && firstSampleFlags !== undefined) sampleFlags = firstSampleFlags;
    const compositionOffset = flags & 0x000800 ? (version === 0 ? c.u32() : c.i32()) : 0;
    samples.push({ duration, size, flags: sampleFlags, compositionOffset, isSync: isSyncSampleFlags(sampleFlags) });
  }
  return dataOffset;
}
