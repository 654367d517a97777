import {
  ByteCursor,
  childBoxes,
  fourccCode,
  locateTrafChildren,
  malformed,
  parseTfdt,
  parseTfhd,
  parseTrex,
  parseTrun,
  type TrunSample,
} from './mp4-boxes.js';

/**
 * Coalescing fMP4 fragments (moof + mdat pairs, ISO/IEC 14496-12 §8.8) into one CMAF chunk: one moof
 * with one traf per track, holding every sample of the fragments, then one mdat with their data in
 * the same order (the trafs' order: first appearance). The packager makes each LL-HLS part one such
 * chunk, where ffmpeg writes many small fragments (one per AAC frame, per video frame on `marked`
 * ladders; src/transcode/output-fragmenting.ts): every fragment costs ~100 bytes of moof and mdat
 * headers, which viewers download; a coalesced part costs one moof, plus 4 bytes per sample (its size;
 * more only for fields that vary between samples).
 *
 * Exactness: every sample keeps its duration, size, flags, composition offset and data, and every
 * track its track_ID and decode times. A traf states one tfdt and implies the rest by summing
 * durations, so a fragment whose decode time is not where its track's samples so far end (a gap, an
 * overlap) starts a new chunk: the output is then several chunks, each exact. ffmpeg's fragments of
 * one output are contiguous, so that happens only where the packager dropped media (muxed audio held
 * too long).
 *
 * The chunk: `mfhd` with the first fragment's sequence_number; per traf a `tfhd` with
 * default-base-is-moof and the defaults that hold for all its samples (duration, size, flags — the
 * flags of all but a first keyframe go there with `first_sample_flags` in the trun), a `tfdt` version 1,
 * and one `trun` with a data offset and only the per-sample fields that vary (composition offsets,
 * when any is non-zero: version 1 when one is negative). Nothing depends on the init's `trex`.
 *
 * Input fragments may rely on `trex` defaults: pass them (`trackDefaultsOf(init)`). Trafs with boxes
 * this does not carry over (encryption's senc/saiz/saio, sample groups) are refused as malformed
 * rather than silently dropped; livepipe's encoder writes none.
 */

/** Per-sample defaults of a track (trex), used where a fragment's tfhd and trun give none. */
export interface SampleDefaults {
  duration: number;
  size: number;
  flags: number;
}

/** trex defaults by track_ID. */
export type TrackDefaults = ReadonlyMap<number, SampleDefaults>;

/** The trex defaults of every track of an init segment (`ftyp`? + `moov`). */
export function trackDefaultsOf(init: Uint8Array): Map<number, SampleDefaults> {
  const out = new Map<number, SampleDefaults>();
  const moov = childBoxes(init, 'init segment').find((b) => b.type === 'moov');
  if (moov === undefined) throw malformed('init segment has no moov');
  const mvex = childBoxes(moov.payload, 'moov').find((b) => b.type === 'mvex');
  if (mvex === undefined) return out;
  for (const box of childBoxes(mvex.payload, 'mvex')) {
    if (box.type !== 'trex') continue;
    const trex = parseTrex(box.payload);
    out.set(trex.trackId, { duration: trex.defaultSampleDuration, size: trex.defaultSampleSize, flags: trex.defaultSampleFlags });
  }
  return out;
}

/** One track's samples in one chunk. */
export interface TrackRun {
  trackId: number;
  /** Decode time of the first sample, track timescale units. */
  decodeTime: number;
  samples: TrunSample[];
  /** The samples' data, in order: views on the input fragments (one per input trun). */
  data: Uint8Array[];
}

/** One output chunk: its tracks in traf order. */
export interface ChunkRuns {
  sequenceNumber: number;
  tracks: TrackRun[];
}

const MOOF = fourccCode('moof');
const MDAT = fourccCode('mdat');
const MFHD = fourccCode('mfhd');
const TRAF = fourccCode('traf');
const TFHD = fourccCode('tfhd');
const TFDT = fourccCode('tfdt');
const TRUN = fourccCode('trun');

const NO_DEFAULTS: SampleDefaults = { duration: 0, size: 0, flags: 0 };

/**
 * The samples of `fragments` (each one or more moof + mdat pairs, in decode order per track) grouped
 * into chunks: one, unless a track's decode times jump (see the module comment). Data stays in place.
 */
export function chunkRunsOf(fragments: readonly Uint8Array[], defaults?: TrackDefaults): ChunkRuns[] {
  const chunks: ChunkRuns[] = [];
  let chunk: ChunkRuns | undefined;
  /** Per track of the open chunk: its run and where its samples end (decode time). */
  let open = new Map<number, { run: TrackRun; end: number }>();
  for (const fragment of fragments) {
    forEachFragmentTraf(fragment, defaults, (sequenceNumber, trackId, decodeTime, samples, data, duration) => {
      const current = open.get(trackId);
      if (chunk === undefined || (current !== undefined && current.end !== decodeTime)) {
        chunk = { sequenceNumber, tracks: [] };
        chunks.push(chunk);
        open = new Map();
      }
      const track = open.get(trackId);
      if (track === undefined) {
        const run: TrackRun = { trackId, decodeTime, samples, data: [...data] };
        chunk.tracks.push(run);
        open.set(trackId, { run, end: decodeTime + duration });
      } else {
        for (const s of samples) track.run.samples.push(s);
        for (const d of data) track.run.data.push(d);
        track.end += duration;
      }
    });
  }
  return chunks;
}

/**
 * Calls `onTraf` for each traf of each moof in `bytes` (moof + mdat pairs), with its samples and
 * their data (views on `bytes`, one per trun).
 */
function forEachFragmentTraf(
  bytes: Uint8Array,
  defaults: TrackDefaults | undefined,
  onTraf: (sequenceNumber: number, trackId: number, decodeTime: number, samples: TrunSample[], data: Uint8Array[], duration: number) => void,
): void {
  const c = new ByteCursor(bytes, 'fragment');
  let at = 0;
  while (at < bytes.byteLength) {
    c.select(at, bytes.byteLength, 'fragment');
    if (c.childHeader('fragment') !== MOOF) throw malformed(`expected a moof at byte ${at} of a fragment`);
    const moofStart = at;
    const moofEnd = c.childEnd;
    c.seek(moofEnd);
    if (c.remaining === 0 || c.childHeader('fragment') !== MDAT) throw malformed('a moof without its mdat');
    const payloadStart = c.position;
    const payloadEnd = c.childEnd;
    at = payloadEnd;
    // moof children: mfhd, then the trafs (in their order).
    let sequenceNumber = 0;
    const trafs: number[] = [];
    for (c.select(moofStart + 8, moofEnd, 'moof'); c.remaining > 0; c.seek(c.childEnd)) {
      const type = c.childHeader('moof');
      if (type === MFHD) {
        c.skip(4);
        sequenceNumber = c.u32();
      } else if (type === TRAF) {
        trafs.push(c.position, c.childEnd);
      } else {
        throw malformed('a moof box that a coalesced chunk cannot carry over');
      }
    }
    if (trafs.length === 0) throw malformed('moof has no traf');
    let cursor = payloadStart;
    for (let t = 0; t < trafs.length; t += 2) {
      const { tfhd, tfhdEnd, tfdt, tfdtEnd, truns } = locateTrafChildren(c, trafs[t]!, trafs[t + 1]!, true);
      if (tfdt < 0) throw malformed('traf has no tfdt (decode time)');
      const header = parseTfhd(c.select(tfhd, tfhdEnd, 'tfhd'));
      if (header.baseDataOffset !== undefined) throw malformed('tfhd with a base data offset: not a self-contained chunk');
      const decodeTime = parseTfdt(c.select(tfdt, tfdtEnd, 'tfdt'));
      const trex = defaults?.get(header.trackId) ?? NO_DEFAULTS;
      const sampleDefaults = {
        duration: header.defaultSampleDuration ?? trex.duration,
        size: header.defaultSampleSize ?? trex.size,
        flags: header.defaultSampleFlags ?? trex.flags,
      };
      const samples: TrunSample[] = [];
      const data: Uint8Array[] = [];
      let duration = 0;
      // With default-base-is-moof (or none: the first traf's base is the moof too), a trun's data
      // offset counts from the moof; without one, its data follows the previous trun's.
      for (let i = 0; i < truns.length; i += 2) {
        const first = samples.length;
        const dataOffset = parseTrun(c.select(truns[i]!, truns[i + 1]!, 'trun'), sampleDefaults, payloadEnd - payloadStart, samples);
        if (dataOffset !== undefined) cursor = moofStart + dataOffset;
        const from = cursor;
        for (let j = first; j < samples.length; j++) {
          cursor += samples[j]!.size;
          duration += samples[j]!.duration;
        }
        if (from < payloadStart || cursor > payloadEnd) throw malformed(`sample data (moof+${from - moofStart}…${cursor - moofStart}) lies outside the mdat`);
        if (cursor > from) data.push(bytes.subarray(from, cursor));
      }
      if (samples.length === 0) continue;
      if (!Number.isSafeInteger(decodeTime + duration)) throw malformed('fragment decode time overflows');
      onTraf(sequenceNumber, header.trackId, decodeTime, samples, data, duration);
    }
  }
}

// ---- writing ----

const TFHD_DEFAULT_BASE_IS_MOOF = 0x020000;
const TFHD_DEFAULT_DURATION = 0x000008;
const TFHD_DEFAULT_SIZE = 0x000010;
const TFHD_DEFAULT_FLAGS = 0x000020;
const TRUN_DATA_OFFSET = 0x000001;
const TRUN_FIRST_SAMPLE_FLAGS = 0x000004;
const TRUN_DURATION = 0x000100;
const TRUN_SIZE = 0x000200;
const TRUN_FLAGS = 0x000400;
const TRUN_COMPOSITION_OFFSET = 0x000800;

/** How one traf is written: which fields are defaults in tfhd, which per sample in the trun. */
interface TrafLayout {
  run: TrackRun;
  tfhdFlags: number;
  defaultDuration: number;
  defaultSize: number;
  defaultFlags: number;
  trunFlags: number;
  trunVersion: number;
  firstSampleFlags: number;
  dataSize: number;
  /** Size of the whole traf box. */
  size: number;
}

function layoutOf(run: TrackRun): TrafLayout {
  const s = run.samples;
  const first = s[0]!;
  let sameDuration = true;
  let sameSize = true;
  let sameFlags = true;
  let sameFlagsAfterFirst = true;
  let anyOffset = false;
  let negativeOffset = false;
  let dataSize = 0;
  for (let i = 0; i < s.length; i++) {
    const x = s[i]!;
    if (x.duration !== first.duration) sameDuration = false;
    if (x.size !== first.size) sameSize = false;
    if (x.flags !== first.flags) sameFlags = false;
    if (i > 1 && x.flags !== s[1]!.flags) sameFlagsAfterFirst = false;
    if (x.compositionOffset !== 0) anyOffset = true;
    if (x.compositionOffset < 0) negativeOffset = true;
    dataSize += x.size;
  }
  let tfhdFlags = TFHD_DEFAULT_BASE_IS_MOOF;
  let trunFlags = TRUN_DATA_OFFSET;
  let defaultFlags = first.flags;
  let firstSampleFlags = 0;
  if (sameDuration) tfhdFlags |= TFHD_DEFAULT_DURATION;
  else trunFlags |= TRUN_DURATION;
  if (sameSize) tfhdFlags |= TFHD_DEFAULT_SIZE;
  else trunFlags |= TRUN_SIZE;
  if (sameFlags) {
    tfhdFlags |= TFHD_DEFAULT_FLAGS;
  } else if (sameFlagsAfterFirst) {
    // A part opening on a keyframe: its flags in first_sample_flags, the others' as the default.
    tfhdFlags |= TFHD_DEFAULT_FLAGS;
    trunFlags |= TRUN_FIRST_SAMPLE_FLAGS;
    defaultFlags = s[1]!.flags;
    firstSampleFlags = first.flags;
  } else {
    trunFlags |= TRUN_FLAGS;
  }
  if (anyOffset) trunFlags |= TRUN_COMPOSITION_OFFSET;
  const tfhdSize = 8 + 4 + 4 + (sameDuration ? 4 : 0) + (sameSize ? 4 : 0) + (tfhdFlags & TFHD_DEFAULT_FLAGS ? 4 : 0);
  const perSample = (trunFlags & TRUN_DURATION ? 4 : 0) + (trunFlags & TRUN_SIZE ? 4 : 0) + (trunFlags & TRUN_FLAGS ? 4 : 0) + (anyOffset ? 4 : 0);
  const trunSize = 8 + 4 + 4 + 4 + (trunFlags & TRUN_FIRST_SAMPLE_FLAGS ? 4 : 0) + perSample * s.length;
  const tfdtSize = 8 + 4 + 8;
  return {
    run,
    tfhdFlags,
    defaultDuration: first.duration,
    defaultSize: first.size,
    defaultFlags,
    trunFlags,
    trunVersion: negativeOffset ? 1 : 0,
    firstSampleFlags,
    dataSize,
    size: 8 + tfhdSize + tfdtSize + trunSize,
  };
}

/** moof header + mfhd. */
const MOOF_FIXED = 8 + 16;
/** mdat header (32-bit size: a part is far below 4 GiB). */
const MDAT_HEADER = 8;

/** Chunks planned from fragments: their total size is known before anything is written. */
export interface CoalescedChunks {
  readonly byteLength: number;
  /** Number of chunks (1 unless a track's decode times jumped). */
  readonly chunkCount: number;
  /** Writes every chunk into `target` from `at`; exactly `byteLength` bytes. */
  writeTo(target: Uint8Array, at?: number): void;
}

/** Plans the chunk(s) for `fragments` (see the module comment); nothing is copied until `writeTo`. */
export function planCoalescedChunks(fragments: readonly Uint8Array[], defaults?: TrackDefaults): CoalescedChunks {
  const plans = chunkRunsOf(fragments, defaults).map((chunk) => {
    const trafs = chunk.tracks.map(layoutOf);
    const moofSize = MOOF_FIXED + trafs.reduce((n, t) => n + t.size, 0);
    const dataSize = trafs.reduce((n, t) => n + t.dataSize, 0);
    if (MDAT_HEADER + dataSize > 0xffff_ffff) throw malformed('a coalesced chunk beyond 4 GiB');
    return { sequenceNumber: chunk.sequenceNumber, trafs, moofSize, size: moofSize + MDAT_HEADER + dataSize };
  });
  const byteLength = plans.reduce((n, p) => n + p.size, 0);
  return {
    byteLength,
    chunkCount: plans.length,
    writeTo(target: Uint8Array, start = 0) {
      if (start < 0 || start + byteLength > target.byteLength) throw new RangeError(`${byteLength} bytes do not fit at ${start} of ${target.byteLength}`);
      const view = new DataView(target.buffer, target.byteOffset, target.byteLength);
      let at = start;
      for (const plan of plans) {
        at = writeChunk(view, target, at, plan.sequenceNumber, plan.trafs, plan.moofSize);
      }
      if (at !== start + byteLength) throw new Error(`wrote ${at - start} bytes, planned ${byteLength}`);
    },
  };
}

/** `fragments` as one CMAF chunk (or several, see the module comment), in a new array. */
export function coalesceFragments(fragments: readonly Uint8Array[], defaults?: TrackDefaults): Uint8Array {
  const plan = planCoalescedChunks(fragments, defaults);
  const out = new Uint8Array(plan.byteLength);
  plan.writeTo(out);
  return out;
}

function boxHeader(view: DataView, at: number, size: number, type: number): number {
  view.setUint32(at, size);
  view.setUint32(at + 4, type);
  return at + 8;
}

function writeChunk(view: DataView, target: Uint8Array, start: number, sequenceNumber: number, trafs: TrafLayout[], moofSize: number): number {
  let at = boxHeader(view, start, moofSize, MOOF);
  at = boxHeader(view, at, 16, MFHD);
  view.setUint32(at, 0);
  view.setUint32(at + 4, sequenceNumber);
  at += 8;
  // Data offsets count from the moof's first byte (default-base-is-moof) to each traf's first sample.
  let dataOffset = moofSize + MDAT_HEADER;
  for (const t of trafs) {
    const trafEnd = at + t.size;
    at = boxHeader(view, at, t.size, TRAF);
    const tfhdSize = 16 + (t.tfhdFlags & TFHD_DEFAULT_DURATION ? 4 : 0) + (t.tfhdFlags & TFHD_DEFAULT_SIZE ? 4 : 0) + (t.tfhdFlags & TFHD_DEFAULT_FLAGS ? 4 : 0);
    at = boxHeader(view, at, tfhdSize, TFHD);
    view.setUint32(at, t.tfhdFlags);
    view.setUint32(at + 4, t.run.trackId);
    at += 8;
    if (t.tfhdFlags & TFHD_DEFAULT_DURATION) at = u32(view, at, t.defaultDuration);
    if (t.tfhdFlags & TFHD_DEFAULT_SIZE) at = u32(view, at, t.defaultSize);
    if (t.tfhdFlags & TFHD_DEFAULT_FLAGS) at = u32(view, at, t.defaultFlags);
    at = boxHeader(view, at, 20, TFDT);
    view.setUint32(at, 0x0100_0000);
    // 64-bit decode time as two words: it is a safe integer (checked when read).
    view.setUint32(at + 4, Math.floor(t.run.decodeTime / 0x1_0000_0000));
    view.setUint32(at + 8, t.run.decodeTime >>> 0);
    at += 12;
    at = boxHeader(view, at, trafEnd - at, TRUN);
    view.setUint32(at, (t.trunVersion << 24) | t.trunFlags);
    view.setUint32(at + 4, t.run.samples.length);
    view.setInt32(at + 8, dataOffset);
    at += 12;
    if (t.trunFlags & TRUN_FIRST_SAMPLE_FLAGS) at = u32(view, at, t.firstSampleFlags);
    const f = t.trunFlags;
    for (const s of t.run.samples) {
      if (f & TRUN_DURATION) at = u32(view, at, s.duration);
      if (f & TRUN_SIZE) at = u32(view, at, s.size);
      if (f & TRUN_FLAGS) at = u32(view, at, s.flags);
      if (f & TRUN_COMPOSITION_OFFSET) {
        if (t.trunVersion === 1) view.setInt32(at, s.compositionOffset);
        else view.setUint32(at, s.compositionOffset);
        at += 4;
      }
    }
    if (at !== trafEnd) throw new Error(`traf of ${at - trafEnd + t.size} bytes, planned ${t.size}`);
    dataOffset += t.dataSize;
  }
  const dataSize = dataOffset - moofSize - MDAT_HEADER;
  at = boxHeader(view, at, MDAT_HEADER + dataSize, MDAT);
  for (const t of trafs) {
    for (const d of t.run.data) {
      target.set(d, at);
      at += d.byteLength;
    }
  }
  return at;
}

function u32(view: DataView, at: number, value: number): number {
  view.setUint32(at, value);
  return at + 4;
}
