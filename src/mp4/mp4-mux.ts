import { childBoxes, malformed, parseHdlrType, requireChild, type ChildBox } from './mp4-boxes.js';

/**
 * Muxing single-track fragmented MP4 streams into one multi-track stream (ISO/IEC 14496-12), for a
 * variant that carries its audio inside the video's fMP4 (the ladder's `muxAudio`). Pure byte logic:
 *
 * - `mergeInitSegments(video, audio)`: one init segment (`ftyp` + `moov`) declaring both tracks — the
 *   video's ftyp, mvhd and trak, then the audio's trak under a distinct track_ID, and an `mvex` with a
 *   `trex` for each track. ffmpeg writes every single-track output as track 1, so the audio track is
 *   renumbered (tkhd, trex) and mvhd's next_track_ID moves past it.
 * - `setFragmentTrackId(fragment, id)`: rewrites tfhd's track_ID in every traf of a moof+mdat chunk, so
 *   that audio fragments name the audio track of the merged init. Sample data, tfdt (in the audio
 *   track's own timescale) and trun offsets (relative to their own moof: default-base-is-moof) stay
 *   valid as they are, wherever the chunk lands in a part.
 *
 * A muxed part is then the video chunk followed by the audio chunks of the same time window: several
 * moof+mdat pairs, each with one traf, which is what §3 of the HLS spec allows for fMP4 segments and
 * what MSE appends as is.
 */

/** A box header and payload, as bytes (32-bit size: every box written here is small). */
export function encodeBox(type: string, ...payloads: Uint8Array[]): Uint8Array {
  const size = 8 + payloads.reduce((sum, p) => sum + p.byteLength, 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, size);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  let at = 8;
  for (const p of payloads) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** The whole box (header and payload) of a child found by `childBoxes` in `parentPayload`. */
function boxBytes(parentPayload: Uint8Array, child: ChildBox): Uint8Array {
  return parentPayload.subarray(child.offset, child.offset + child.size);
}

function setU32(bytes: Uint8Array, at: number, value: number): void {
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setUint32(at, value);
}

function getU32(bytes: Uint8Array, at: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(at);
}

interface InitParts {
  ftyp: Uint8Array | undefined;
  /** The moov's payload and its children. */
  moov: Uint8Array;
  children: ChildBox[];
  trak: ChildBox;
  trackId: number;
  handler: string;
  movieTimescale: number;
}

/** tkhd track_ID offset in its payload: after version/flags and the creation/modification times. */
function tkhdTrackIdOffset(tkhd: Uint8Array): number {
  return 4 + (tkhd[0] === 1 ? 16 : 8);
}

/** Splits an init segment (`ftyp`? + `moov`, other top-level boxes ignored) of exactly one track. */
function readInit(bytes: Uint8Array, what: string): InitParts {
  const top = childBoxes(bytes, what);
  const ftyp = top.find((b) => b.type === 'ftyp');
  const moov = requireChild(top, 'moov', what).payload;
  const children = childBoxes(moov, `${what} moov`);
  const traks = children.filter((b) => b.type === 'trak');
  if (traks.length !== 1) throw malformed(`${what} moov has ${traks.length} tracks; muxing takes single-track inits`);
  const trak = traks[0]!;
  const trakChildren = childBoxes(trak.payload, `${what} trak`);
  const tkhd = requireChild(trakChildren, 'tkhd', `${what} trak`).payload;
  const mdia = childBoxes(requireChild(trakChildren, 'mdia', `${what} trak`).payload, `${what} mdia`);
  const handler = parseHdlrType(requireChild(mdia, 'hdlr', `${what} mdia`).payload);
  const mvhd = requireChild(children, 'mvhd', `${what} moov`).payload;
  // mvhd: version/flags, then creation/modification times (4 or 8 bytes each), then the timescale.
  const movieTimescale = getU32(mvhd, 4 + (mvhd[0] === 1 ? 16 : 8));
  return {
    ftyp: ftyp === undefined ? undefined : boxBytes(bytes, ftyp),
    moov,
    children,
    trak,
    trackId: getU32(tkhd, tkhdTrackIdOffset(tkhd)),
    handler,
    movieTimescale,
  };
}

/** A copy of a trak box with its tkhd's track_ID set to `trackId`. */
function renumberedTrak(moovPayload: Uint8Array, trak: ChildBox, trackId: number): Uint8Array {
  const copy = boxBytes(moovPayload, trak).slice();
  const header = copy.byteLength - trak.payload.byteLength;
  const payload = copy.subarray(header);
  const tkhd = requireChild(childBoxes(payload, 'trak'), 'tkhd', 'trak').payload;
  setU32(tkhd, tkhdTrackIdOffset(tkhd), trackId);
  return copy;
}

/** The trex boxes of a moov's mvex (each a copy), and its other children (mehd, …) as they are. */
function mvexParts(init: InitParts): { trex: Uint8Array[]; others: Uint8Array[] } {
  const mvex = init.children.find((b) => b.type === 'mvex');
  if (mvex === undefined) throw malformed('init segment has no mvex: not a fragmented MP4');
  const children = childBoxes(mvex.payload, 'mvex');
  return {
    trex: children.filter((b) => b.type === 'trex').map((b) => boxBytes(mvex.payload, b).slice()),
    others: children.filter((b) => b.type !== 'trex').map((b) => boxBytes(mvex.payload, b)),
  };
}

export interface MergedInit {
  /** ftyp + moov declaring both tracks. */
  bytes: Uint8Array;
  videoTrackId: number;
  /** The audio track's track_ID in the merged init: fragments of the audio stream must say it (`setFragmentTrackId`). */
  audioTrackId: number;
}

/**
 * One init segment for a video stream and an audio stream, each a single-track init segment as
 * ffmpeg writes it (`-movflags +empty_moov`): see the module comment. Throws `MediaMalformed` when
 * either is not a single-track fragmented init of the expected kind, or when their movie timescales
 * differ (durations in tkhd/elst would need rescaling; ffmpeg always writes 1000).
 */
export function mergeInitSegments(video: Uint8Array, audio: Uint8Array): MergedInit {
  const v = readInit(video, 'video init');
  const a = readInit(audio, 'audio init');
  if (v.handler !== 'vide') throw malformed(`video init has a '${v.handler}' track`);
  if (a.handler !== 'soun') throw malformed(`audio init has a '${a.handler}' track`);
  if (v.movieTimescale !== a.movieTimescale) {
    throw malformed(`movie timescales differ (video ${v.movieTimescale}, audio ${a.movieTimescale})`);
  }
  const audioTrackId = v.trackId + 1;
  const vMvex = mvexParts(v);
  const aMvex = mvexParts(a);
  const videoTrex = vMvex.trex.find((t) => getU32(t, 12) === v.trackId);
  const audioTrex = aMvex.trex.find((t) => getU32(t, 12) === a.trackId);
  if (videoTrex === undefined || audioTrex === undefined) throw malformed('init segment has no trex for its track');
  // trex: header 8, version/flags 4, then track_ID.
  setU32(audioTrex, 12, audioTrackId);
  const moovChildren: Uint8Array[] = [];
  for (const child of v.children) {
    if (child.type === 'mvhd') {
      const mvhd = boxBytes(v.moov, child).slice();
      // next_track_ID is mvhd's last field.
      setU32(mvhd, mvhd.byteLength - 4, audioTrackId + 1);
      moovChildren.push(mvhd);
    } else if (child.type === 'trak') {
      moovChildren.push(boxBytes(v.moov, child), renumberedTrak(a.moov, a.trak, audioTrackId));
    } else if (child.type === 'mvex') {
      moovChildren.push(encodeBox('mvex', ...vMvex.others, videoTrex, audioTrex));
    } else {
      moovChildren.push(boxBytes(v.moov, child));
    }
  }
  const moov = encodeBox('moov', ...moovChildren);
  const ftyp = v.ftyp ?? new Uint8Array(0);
  const bytes = new Uint8Array(ftyp.byteLength + moov.byteLength);
  bytes.set(ftyp, 0);
  bytes.set(moov, ftyp.byteLength);
  return { bytes, videoTrackId: v.trackId, audioTrackId };
}

/**
 * Sets tfhd's track_ID to `trackId` in every traf of the moof(s) in `fragment` (moof + mdat chunks),
 * in place: pass a copy you own. Returns how many trafs were renumbered.
 */
export function setFragmentTrackId(fragment: Uint8Array, trackId: number): number {
  let renumbered = 0;
  for (const top of childBoxes(fragment, 'fragment')) {
    if (top.type !== 'moof') continue;
    for (const traf of childBoxes(top.payload, 'moof')) {
      if (traf.type !== 'traf') continue;
      const tfhd = requireChild(childBoxes(traf.payload, 'traf'), 'tfhd', 'traf').payload;
      // tfhd: version/flags, then track_ID.
      setU32(tfhd, 4, trackId);
      renumbered++;
    }
  }
  if (renumbered === 0) throw malformed('fragment has no traf to renumber');
  return renumbered;
}

/** A copy of `fragment` whose trafs name `trackId` (see `setFragmentTrackId`). */
export function withTrackId(fragment: Uint8Array, trackId: number): Uint8Array {
  const copy = fragment.slice();
  setFragmentTrackId(copy, trackId);
  return copy;
}
