import { errorMessage, isLivepipeError } from '../core/errors.js';
import { codecString, parseEsds } from './codec-string.js';
import {
  ByteCursor,
  childBoxes,
  findChild,
  fourccCode,
  isPlausibleBoxType,
  locateTrafChildren,
  malformed,
  parseHdlrType,
  parseMdhdTimescale,
  parseStsd,
  parseTfdt,
  parseTfhd,
  parseTkhd,
  parseTrex,
  parseTrun,
  requireChild,
  type TrackExtends,
  type TrunSample,
} from './mp4-boxes.js';

/**
 * Streaming reader of one single-track fragmented MP4 stream, as ffmpeg writes it to a pipe with
 * `-movflags +empty_moov+default_base_moof` and `frag_every_frame` or `frag_keyframe` +
 * `-frag_duration`: `ftyp` + `moov` (the init segment), then `moof` + `mdat` pairs (one per frame, or
 * one per group of frames). `push()` accepts any chunking — single bytes or megabytes — and returns
 * the events completed by that chunk; `end()` reports a truncated tail.
 *
 * Malformed input raises `LivepipeError(MediaMalformed)` and the reader stays failed (every later call
 * rethrows), so a caller can never resynchronise on garbage by accident. Memory is bounded by
 * `maxBoxSize`: a header announcing a larger box is rejected before anything is buffered.
 */

export type HandlerType = 'video' | 'audio';

export interface TrackInfo {
  trackId: number;
  /** mdhd timescale: units per second of every decode time and duration of this track. */
  timescale: number;
  handler: HandlerType;
  /** Sample entry fourcc (avc1, hvc1, mp4a, …). */
  format: string;
  /** RFC 6381 codec string for the multivariant playlist, e.g. `avc1.64001f`, `mp4a.40.2`. */
  codecs: string;
  /** Coded size from the visual sample entry (video only). */
  width?: number;
  height?: number;
  /** Audio only: channels from the AAC AudioSpecificConfig when present, else the sample entry. */
  channelCount?: number;
  sampleRate?: number;
  /** Payload of the decoder configuration box (avcC, hvcC, esds, dOps…), when present. */
  codecConfig?: Uint8Array;
}

export interface InitSegmentEvent {
  type: 'init';
  /** ftyp + moov, ready to store as `init-{run}.mp4`. */
  bytes: Uint8Array;
  track: TrackInfo;
}

export interface FragmentSample extends TrunSample {
  /** Track timescale units. */
  duration: number;
  size: number;
  flags: number;
  /** Composition (presentation) time minus decode time, in timescale units; may be negative (trun v1). */
  compositionOffset: number;
  isSync: boolean;
}

export interface FragmentEvent {
  type: 'fragment';
  /** moof + mdat: a self-contained CMAF chunk. */
  bytes: Uint8Array;
  /** mfhd sequence_number. */
  sequenceNumber: number;
  /** tfdt baseMediaDecodeTime of the first sample, track timescale units. */
  decodeTime: number;
  /** Sum of sample durations, timescale units. */
  duration: number;
  samples: FragmentSample[];
  /** The first sample is a sync sample (a keyframe; every AAC frame). */
  independent: boolean;
  /** Offset of the first sample's data in `bytes` (samples follow back to back within a trun). */
  dataStart: number;
}

export type Fmp4Event = InitSegmentEvent | FragmentEvent;

export interface Fmp4ReaderOptions {
  /** Largest box accepted (mdat of one frame, moov…). Default 64 MiB: a 4K intra frame is a few MiB. */
  maxBoxSize?: number;
}

export const DEFAULT_MAX_BOX_SIZE = 64 * 1024 * 1024;

/** Top-level boxes that carry nothing the packager needs (segment type, index, padding, trailers…). */
const IGNORED_TOP_LEVEL = new Set(['free', 'skip', 'styp', 'sidx', 'ssix', 'prft', 'emsg', 'mfra', 'udta', 'meta', 'uuid', 'wide', 'pdin']);

interface InitState {
  track: TrackInfo;
  trex: TrackExtends;
}

export class Fmp4Reader {
  private readonly maxBoxSize: number;
  /** Header bytes of the box being read (8, or 16 with a 64-bit size). */
  private readonly header = new Uint8Array(16);
  private headerFill = 0;
  /** Body of the box being read, once its size is known. */
  private body: Uint8Array | undefined;
  private bodyFill = 0;
  private boxType = '';
  private ftyp: Uint8Array | undefined;
  private init: InitState | undefined;
  /** A moof waiting for its mdat. */
  private moof: Uint8Array | undefined;
  private failure: unknown;
  private ended = false;
  /** Bytes consumed so far, for error messages. */
  private position = 0;

  constructor(options: Fmp4ReaderOptions = {}) {
    this.maxBoxSize = options.maxBoxSize ?? DEFAULT_MAX_BOX_SIZE;
  }

  /** The current track, once an init segment was read. */
  get track(): TrackInfo | undefined {
    return this.init?.track;
  }

  /**
   * Feeds bytes; returns the init segments and fragments they complete, in stream order. The chunk may
   * be referenced (not copied) by returned fragments, so do not reuse its memory afterwards.
   */
  push(chunk: Uint8Array): Fmp4Event[] {
    if (this.failure !== undefined) throw this.failure;
    if (this.ended) throw malformed('push() after end()');
    const events: Fmp4Event[] = [];
    try {
      this.consume(chunk, events);
    } catch (err) {
      // Anything but our own coded error (a RangeError from a DataView, say) is still malformed input.
      this.failure = isLivepipeError(err) ? err : malformed(`unreadable input: ${errorMessage(err)}`);
      throw this.failure;
    }
    return events;
  }

  /** Declares the end of the stream; throws if it stopped in the middle of a box or between moof and mdat. */
  end(): void {
    if (this.failure !== undefined) throw this.failure;
    this.ended = true;
    if (this.headerFill > 0 || this.body !== undefined) {
      this.failure = malformed(`stream truncated inside a '${this.boxType || '?'}' box at byte ${this.position}`);
      throw this.failure;
    }
    if (this.moof !== undefined) {
      this.failure = malformed('stream ended after a moof without its mdat');
      throw this.failure;
    }
  }

  private consume(chunk: Uint8Array, events: Fmp4Event[]): void {
    let at = 0;
    while (at < chunk.byteLength) {
      if (this.body === undefined) {
        // Fast path: a whole box inside this chunk is processed without copying.
        if (this.headerFill === 0 && chunk.byteLength - at >= 8) {
          const size = readU32(chunk, at);
          if (size >= 8 && chunk.byteLength - at >= size) {
            const type = readFourcc(chunk, at + 4);
            this.checkType(type, size);
            this.boxType = type;
            this.onBox(type, chunk.subarray(at, at + size), 8, events);
            at += size;
            this.position += size;
            continue;
          }
        }
        const need = this.headerNeed();
        const n = Math.min(need - this.headerFill, chunk.byteLength - at);
        this.header.set(chunk.subarray(at, at + n), this.headerFill);
        this.headerFill += n;
        at += n;
        this.position += n;
        if (this.headerFill < this.headerNeed()) continue;
        const started = this.startBody();
        if (this.bodyFill === started.byteLength) this.finishBox(events);
        continue;
      }
      const body: Uint8Array = this.body;
      const n = Math.min(body.byteLength - this.bodyFill, chunk.byteLength - at);
      body.set(chunk.subarray(at, at + n), this.bodyFill);
      this.bodyFill += n;
      at += n;
      this.position += n;
      if (this.bodyFill === body.byteLength) this.finishBox(events);
    }
  }

  /** 8 header bytes, or 16 when the 32-bit size is 1 (a 64-bit largesize follows the type). */
  private headerNeed(): number {
    if (this.headerFill < 8) return 8;
    return readU32(this.header, 0) === 1 ? 16 : 8;
  }

  private checkType(type: string, size: number): void {
    if (!isPlausibleBoxType(type)) {
      throw malformed(`invalid box type at byte ${this.position} (lost sync with the stream)`);
    }
    if (size > this.maxBoxSize) {
      throw malformed(`box '${type}' of ${size} bytes exceeds the ${this.maxBoxSize}-byte limit`, { size });
    }
  }

  private startBody(): Uint8Array {
    const headerSize = this.headerNeed();
    const type = readFourcc(this.header, 4);
    let size = readU32(this.header, 0);
    if (size === 0) throw malformed(`box '${type}' extends to the end of the stream, which a live stream cannot have`);
    if (size === 1) {
      const big = new DataView(this.header.buffer).getBigUint64(8);
      size = big > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(big);
    }
    this.checkType(type, size);
    if (size < headerSize) throw malformed(`box '${type}' has size ${size}, smaller than its header`);
    this.boxType = type;
    this.body = new Uint8Array(size);
    this.body.set(this.header.subarray(0, headerSize), 0);
    this.bodyFill = headerSize;
    return this.body;
  }

  private finishBox(events: Fmp4Event[]): void {
    const box = this.body!;
    const headerSize = this.headerNeed();
    this.body = undefined;
    this.bodyFill = 0;
    this.headerFill = 0;
    this.onBox(this.boxType, box, headerSize, events);
  }

  /** `box` is the whole box including its header of `headerSize` bytes. */
  private onBox(type: string, box: Uint8Array, headerSize: number, events: Fmp4Event[]): void {
    if (this.moof !== undefined && type !== 'mdat') {
      throw malformed(`expected mdat after moof, found '${type}'`);
    }
    switch (type) {
      case 'ftyp':
        this.ftyp = box.slice();
        return;
      case 'moov': {
        const init = parseMoov(box.subarray(headerSize));
        this.init = init;
        const ftyp = this.ftyp ?? new Uint8Array(0);
        const bytes = new Uint8Array(ftyp.byteLength + box.byteLength);
        bytes.set(ftyp, 0);
        bytes.set(box, ftyp.byteLength);
        this.ftyp = undefined;
        events.push({ type: 'init', bytes, track: init.track });
        return;
      }
      case 'moof':
        if (this.init === undefined) throw malformed('moof before any moov');
        this.moof = box;
        return;
      case 'mdat': {
        const moof = this.moof;
        if (moof === undefined) throw malformed('mdat without a preceding moof');
        this.moof = undefined;
        events.push(parseFragment(moof, box, headerSize, this.init!));
        return;
      }
      default:
        if (IGNORED_TOP_LEVEL.has(type)) return;
        throw malformed(`unexpected top-level box '${type}'`);
    }
  }
}

function readU32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
}

function readFourcc(bytes: Uint8Array, at: number): string {
  return String.fromCharCode(bytes[at]!, bytes[at + 1]!, bytes[at + 2]!, bytes[at + 3]!);
}

const DECODER_CONFIG_BOXES = ['avcC', 'hvcC', 'esds', 'dOps', 'dfLa', 'av1C', 'vpcC', 'dac3', 'dec3'];

function parseMoov(payload: Uint8Array): InitState {
  const moov = childBoxes(payload, 'moov');
  const traks = moov.filter((b) => b.type === 'trak');
  if (traks.length !== 1) {
    throw malformed(`moov has ${traks.length} tracks; livepipe reads one track per stream`);
  }
  const trak = childBoxes(traks[0]!.payload, 'trak');
  const tkhd = parseTkhd(requireChild(trak, 'tkhd', 'trak').payload);
  const mdia = childBoxes(requireChild(trak, 'mdia', 'trak').payload, 'mdia');
  const timescale = parseMdhdTimescale(requireChild(mdia, 'mdhd', 'mdia').payload);
  const hdlr = parseHdlrType(requireChild(mdia, 'hdlr', 'mdia').payload);
  if (hdlr !== 'vide' && hdlr !== 'soun') throw malformed(`unsupported track handler '${hdlr}'`);
  const minf = childBoxes(requireChild(mdia, 'minf', 'mdia').payload, 'minf');
  const stbl = childBoxes(requireChild(minf, 'stbl', 'minf').payload, 'stbl');
  const entry = parseStsd(requireChild(stbl, 'stsd', 'stbl').payload);
  const mvex = findChild(moov, 'mvex');
  const trexBox = mvex ? childBoxes(mvex.payload, 'mvex').map((b) => (b.type === 'trex' ? parseTrex(b.payload) : undefined)) : [];
  const trex = trexBox.find((t) => t?.trackId === tkhd.trackId) ?? {
    trackId: tkhd.trackId,
    defaultSampleDuration: 0,
    defaultSampleSize: 0,
    defaultSampleFlags: 0,
  };
  const config = entry.children.find((c) => DECODER_CONFIG_BOXES.includes(c.type));
  const track: TrackInfo = {
    trackId: tkhd.trackId,
    timescale,
    handler: hdlr === 'vide' ? 'video' : 'audio',
    format: entry.format,
    codecs: codecString(entry),
  };
  if (track.handler === 'video') {
    track.width = entry.width ?? Math.round(tkhd.width);
    track.height = entry.height ?? Math.round(tkhd.height);
  } else {
    // The sample entry's channelcount is often a placeholder 2 (ISO/IEC 14496-12 §12.2.3); the AAC
    // AudioSpecificConfig has the real layout.
    const esds = findChild(entry.children, 'esds');
    const channels = esds && entry.format === 'mp4a' ? parseEsds(esds.payload).channels : undefined;
    if (channels !== undefined) track.channelCount = channels;
    else if (entry.channelCount !== undefined) track.channelCount = entry.channelCount;
    if (entry.sampleRate !== undefined) track.sampleRate = entry.sampleRate;
  }
  if (config) track.codecConfig = config.payload.slice();
  return { track, trex };
}

/**
 * moof + mdat as one array: a view on the chunk when both lie next to each other in it (a whole
 * fragment in one pipe read, the usual case), else a copy.
 */
function joinAdjacent(moof: Uint8Array, mdat: Uint8Array): Uint8Array {
  if (moof.buffer === mdat.buffer && moof.byteOffset + moof.byteLength === mdat.byteOffset) {
    return new Uint8Array(moof.buffer, moof.byteOffset, moof.byteLength + mdat.byteLength);
  }
  const bytes = new Uint8Array(moof.byteLength + mdat.byteLength);
  bytes.set(moof, 0);
  bytes.set(mdat, moof.byteLength);
  return bytes;
}

const MFHD = fourccCode('mfhd');
const TRAF = fourccCode('traf');

/**
 * One fragment (a frame) from its moof and mdat. Runs ~170 times a second for the default ladder, so
 * it walks the boxes with one cursor instead of building child-box lists (same checks, same errors
 * as `childBoxes` and `requireChild`, in the same order).
 */
function parseFragment(moof: Uint8Array, mdat: Uint8Array, mdatHeader: number, init: InitState): FragmentEvent {
  const c = new ByteCursor(moof, 'moof');
  const moofEnd = moof.byteLength;
  // moof children: the first mfhd, and the traf (exactly one).
  let mfhd = -1;
  let mfhdEnd = 0;
  let traf = -1;
  let trafEnd = 0;
  let trafCount = 0;
  for (c.select(8, moofEnd, 'moof'); c.remaining > 0; c.seek(c.childEnd)) {
    const type = c.childHeader('moof');
    if (type === MFHD && mfhd < 0) {
      mfhd = c.position;
      mfhdEnd = c.childEnd;
    } else if (type === TRAF) {
      trafCount++;
      traf = c.position;
      trafEnd = c.childEnd;
    }
  }
  if (mfhd < 0) throw malformed("moof has no 'mfhd' box");
  c.select(mfhd, mfhdEnd, 'mfhd').skip(4);
  const sequenceNumber = c.u32();
  if (trafCount !== 1) throw malformed(`moof has ${trafCount} traf boxes; expected 1`);
  const { tfhd, tfhdEnd, tfdt, tfdtEnd, truns } = locateTrafChildren(c, traf, trafEnd);
  const header = parseTfhd(c.select(tfhd, tfhdEnd, 'tfhd'));
  if (header.trackId !== init.track.trackId) {
    throw malformed(`fragment of track ${header.trackId}, but the init segment declares track ${init.track.trackId}`);
  }
  if (tfdt < 0) throw malformed('traf has no tfdt (decode time); ffmpeg always writes one');
  const decodeTime = parseTfdt(c.select(tfdt, tfdtEnd, 'tfdt'));
  const defaults = {
    duration: header.defaultSampleDuration ?? init.trex.defaultSampleDuration,
    size: header.defaultSampleSize ?? init.trex.defaultSampleSize,
    flags: header.defaultSampleFlags ?? init.trex.defaultSampleFlags,
  };
  const samples: FragmentSample[] = [];
  let duration = 0;
  // Data offsets are relative to the moof start (default-base-is-moof, or the first-traf default when
  // no base offset is given); the sample data must lie inside the mdat payload that follows.
  const payloadStart = moofEnd + mdatHeader;
  const payloadEnd = moofEnd + mdat.byteLength;
  let cursor = payloadStart;
  let dataStart = -1;
  for (let i = 0; i < truns.length; i += 2) {
    const first = samples.length;
    const dataOffset = parseTrun(c.select(truns[i]!, truns[i + 1]!, 'trun'), defaults, payloadEnd - payloadStart, samples);
    if (dataOffset !== undefined && header.baseDataOffset === undefined) cursor = dataOffset;
    for (let j = first; j < samples.length; j++) {
      const s = samples[j]!;
      if (cursor < payloadStart || cursor + s.size > payloadEnd) {
        throw malformed(`sample data (${s.size} bytes at moof+${cursor}) lies outside the mdat`);
      }
      if (dataStart < 0) dataStart = cursor;
      cursor += s.size;
      duration += s.duration;
    }
  }
  if (samples.length === 0) throw malformed('fragment has no samples');
  if (!Number.isSafeInteger(decodeTime + duration)) throw malformed('fragment decode time overflows');
  return {
    type: 'fragment',
    bytes: joinAdjacent(moof, mdat),
    sequenceNumber,
    decodeTime,
    duration,
    samples,
    independent: samples[0]!.isSync,
    dataStart,
  };
}
