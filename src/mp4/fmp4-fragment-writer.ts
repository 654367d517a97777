import { encodeBox } from './mp4-mux.js';

/**
 * Writing one CMAF chunk (moof + mdat) for one track from samples the packager already holds
 * (ISO/IEC 14496-12 §8.8). Pure byte logic, for media livepipe makes itself rather than the encoder:
 * a held picture and silence while the encoder restarts (issue 15: an encoder outage filled with
 * media instead of `EXT-X-GAP` parts, which hls.js cannot always skip).
 *
 * The chunk has the shape ffmpeg's fragmented MP4 output has, so everything downstream reads it the
 * same: `tfhd` with default-base-is-moof, `tfdt` version 1 (64-bit decode time), and one `trun` with
 * a data offset and per-sample duration, size, flags and composition offset (version 1: signed).
 */

export interface ChunkSample {
  /** Track timescale units. */
  duration: number;
  data: Uint8Array;
  /** A sync sample (a keyframe; every AAC frame). */
  sync: boolean;
  /** Presentation minus decode time, timescale units (default 0). */
  compositionOffset?: number;
}

export interface ChunkSpec {
  /** mfhd sequence_number. */
  sequenceNumber: number;
  trackId: number;
  /** tfdt baseMediaDecodeTime of the first sample, timescale units. */
  baseDecodeTime: number;
  samples: readonly ChunkSample[];
}

/**
 * sample_flags (§8.8.3.1): a sync sample does not depend on others (sample_depends_on = 2); any other
 * depends on others (1) and is a non-sync sample (sample_is_non_sync_sample = 1).
 */
export const SYNC_SAMPLE_FLAGS = 0x0200_0000;
export const NON_SYNC_SAMPLE_FLAGS = 0x0101_0000;

const TFHD_DEFAULT_BASE_IS_MOOF = 0x020000;
/** data-offset, sample-duration, sample-size, sample-flags, sample-composition-time-offset present. */
const TRUN_FLAGS = 0x000001 | 0x000100 | 0x000200 | 0x000400 | 0x000800;

/** moof + mdat for `spec`'s samples, in decode order. */
export function encodeMediaChunk(spec: ChunkSpec): Uint8Array {
  if (spec.samples.length === 0) throw new RangeError('a chunk needs at least one sample');
  if (!Number.isSafeInteger(spec.baseDecodeTime) || spec.baseDecodeTime < 0) throw new RangeError(`bad decode time ${spec.baseDecodeTime}`);
  const mfhd = fullBox('mfhd', 0, 0, u32(spec.sequenceNumber));
  const tfhd = fullBox('tfhd', 0, TFHD_DEFAULT_BASE_IS_MOOF, u32(spec.trackId));
  const tfdt = fullBox('tfdt', 1, 0, u64(spec.baseDecodeTime));
  // The data offset counts from the moof's first byte to the first sample's (past the mdat header):
  // every size is known before the trun is written, since each field has a fixed width.
  const trunSize = 8 + 4 + 4 + 4 + 16 * spec.samples.length;
  const moofSize = 8 + mfhd.byteLength + 8 + tfhd.byteLength + tfdt.byteLength + trunSize;
  const fields = new Uint8Array(4 + 4 + 16 * spec.samples.length);
  const view = new DataView(fields.buffer);
  view.setUint32(0, spec.samples.length);
  view.setInt32(4, moofSize + 8);
  spec.samples.forEach((s, i) => {
    const at = 8 + 16 * i;
    view.setUint32(at, s.duration);
    view.setUint32(at + 4, s.data.byteLength);
    view.setUint32(at + 8, s.sync ? SYNC_SAMPLE_FLAGS : NON_SYNC_SAMPLE_FLAGS);
    view.setInt32(at + 12, s.compositionOffset ?? 0);
  });
  const trun = fullBox('trun', 1, TRUN_FLAGS, fields);
  const moof = encodeBox('moof', mfhd, encodeBox('traf', tfhd, tfdt, trun));
  if (moof.byteLength !== moofSize) throw new Error(`moof size ${moof.byteLength}, expected ${moofSize}`);
  return concat(moof, encodeBox('mdat', ...spec.samples.map((s) => s.data)));
}

function fullBox(type: string, version: number, flags: number, payload: Uint8Array): Uint8Array {
  const header = new Uint8Array(4);
  new DataView(header.buffer).setUint32(0, ((version & 0xff) << 24) | (flags & 0xffffff));
  return encodeBox(type, header, payload);
}

function u32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value);
  return out;
}

function u64(value: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(value));
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a, 0);
  out.set(b, a.byteLength);
  return out;
}
