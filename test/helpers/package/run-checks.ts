/**
 * The checks a live packaging run must pass, shared by the filesystem (CLI) and S3 (in-process) runs
 * and the fault tests. Each returns a list of problems so a failing test shows all of them.
 */
import { parseWithM3u8Parser } from '../hls/llhls-rules.js';
import { allSegments, continuity, decodeProblems, type Recording } from './live.js';
import { audioFragmentingOf } from '../../../src/transcode/output-fragmenting.js';

/** One AAC frame at 48 kHz: audio cuts land within one of the video cuts. */
export const AAC_FRAME_SECONDS = 1024 / 48000;

export interface RunShape {
  /** `live/{channel}/` */
  folder: string;
  video: string[];
  audio: string | undefined;
  fps: number;
  /** The run's PART-TARGET, seconds (audio fragment size, see `audioFragmentingOf`); default 0.2. */
  part?: number;
  /** The audio is muxed into every video variant (`muxAudio`): CODECS names it, no audio group exists. */
  muxedAudio?: boolean;
}

/** ffprobe every part and segment ever listed; concatenated segments decode as one stream per run. */
export async function mediaProblems(recording: Recording, shape: RunShape): Promise<{ problems: string[]; checkedParts: number; checkedSegments: number }> {
  const problems: string[] = [];
  let checkedParts = 0;
  let checkedSegments = 0;
  const renditions = [...shape.video.map((name) => ({ name, kind: 'video' as const })), ...(shape.audio ? [{ name: shape.audio, kind: 'audio' as const }] : [])];
  for (const { name, kind } of renditions) {
    const report = await decodeProblems(recording, shape.folder, name, { kind, fps: shape.fps });
    problems.push(...report.problems);
    checkedParts += report.checkedParts;
    checkedSegments += report.checkedSegments;
    for (const run of await continuity(recording, shape.folder, name)) {
      problems.push(...run.problems);
      const rate = kind === 'video' ? shape.fps : 1 / AAC_FRAME_SECONDS;
      const expected = run.listedSeconds * rate;
      // ±1 frame of rounding per segment boundary is not a gap; a missing frame would be.
      if (Math.abs(run.frames - expected) > 2) problems.push(`${name}: ${run.frames} frames decoded for ${run.listedSeconds.toFixed(3)} s listed (${expected.toFixed(1)} expected)`);
      if (run.largestStep > 1.5 / rate) problems.push(`${name}: a ${run.largestStep.toFixed(3)} s hole between frames`);
    }
  }
  return { problems, checkedParts, checkedSegments };
}

/**
 * §6.2.4: renditions share segment boundaries, timestamps and discontinuities. Video renditions must
 * agree exactly on every msn's duration, date and discontinuity; audio within one AAC frame at each end.
 */
export function alignmentProblems(recording: Recording, shape: RunShape): string[] {
  const problems: string[] = [];
  const [reference, ...others] = shape.video;
  if (reference === undefined) return ['no video rendition'];
  const ref = allSegments(recording, reference);
  const compare = (name: string, tolerance: number): void => {
    const segments = allSegments(recording, name);
    const lastMsn = Math.min(Math.max(...segments.keys()), Math.max(...ref.keys()));
    for (const [msn, s] of segments) {
      const r = ref.get(msn);
      if (r === undefined) continue;
      // The segment a stopped or killed encoder left: its outputs stop at slightly different frames.
      const cutShort = msn === lastMsn || ref.get(msn + 1)?.discontinuity === true;
      if (!cutShort && Math.abs(r.duration - s.duration) > 2 * tolerance + 1e-6) problems.push(`${name} msn ${msn} lasts ${s.duration}, ${reference} ${r.duration}`);
      if (r.discontinuity !== s.discontinuity) problems.push(`${name} msn ${msn}: discontinuity ${s.discontinuity}, ${reference} ${r.discontinuity}`);
      if (r.mapUri !== s.mapUri) problems.push(`${name} msn ${msn}: map ${s.mapUri}, ${reference} ${r.mapUri}`);
      if (r.programDateTime !== undefined && s.programDateTime !== undefined && Math.abs(r.programDateTime - s.programDateTime) > tolerance * 1000 + 1) {
        problems.push(`${name} msn ${msn}: date ${s.programDateTime}, ${reference} ${r.programDateTime}`);
      }
    }
    const shared = [...segments.keys()].filter((msn) => ref.has(msn)).length;
    if (shared < Math.min(segments.size, ref.size) - 1) problems.push(`${name} and ${reference} share only ${shared} msns`);
  };
  for (const name of others) compare(name, 0);
  // Audio cuts at the first fragment edge at or after a video boundary: within one fragment of it.
  const audioPlan = audioFragmentingOf(shape.part ?? 0.2, 48_000);
  if (shape.audio !== undefined) compare(shape.audio, audioPlan.kind === 'grouped' ? audioPlan.frames * AAC_FRAME_SECONDS : AAC_FRAME_SECONDS);
  return problems;
}

/**
 * Multivariant playlist: every variant complete, audio as one EXT-X-MEDIA group they all use — or,
 * with `shape.muxedAudio`, in every variant's own media (CODECS names it; no AUDIO group at all).
 */
export function masterProblems(text: string, shape: RunShape, sizes: Record<string, { width: number; height: number }>): string[] {
  const problems: string[] = [];
  if (!text.includes('#EXT-X-INDEPENDENT-SEGMENTS')) problems.push('no EXT-X-INDEPENDENT-SEGMENTS');
  const { manifest } = parseWithM3u8Parser(text);
  const variants: Array<{ uri: string; attributes: Record<string, any> }> = manifest.playlists ?? [];
  if (variants.length !== shape.video.length) problems.push(`${variants.length} variants for ${shape.video.length} video renditions`);
  for (const name of shape.video) {
    const v = variants.find((p) => p.uri === `${name}/playlist.m3u8`);
    if (v === undefined) {
      problems.push(`no variant for ${name}`);
      continue;
    }
    const a = v.attributes;
    if (!(a.BANDWIDTH > 0)) problems.push(`${name}: BANDWIDTH ${a.BANDWIDTH}`);
    if (!(a['AVERAGE-BANDWIDTH'] > 0 && a['AVERAGE-BANDWIDTH'] <= a.BANDWIDTH)) problems.push(`${name}: AVERAGE-BANDWIDTH ${a['AVERAGE-BANDWIDTH']} (BANDWIDTH ${a.BANDWIDTH})`);
    const codecs = String(a.CODECS ?? '');
    if (!/^avc1\.[0-9a-f]{6}/i.test(codecs)) problems.push(`${name}: CODECS "${codecs}" lacks avc1`);
    if ((shape.audio !== undefined || shape.muxedAudio) && !codecs.includes('mp4a.40.2')) problems.push(`${name}: CODECS "${codecs}" lacks the audio codec`);
    if (shape.muxedAudio && a.AUDIO !== undefined) problems.push(`${name}: AUDIO group ${a.AUDIO} on a muxed variant`);
    const size = sizes[name];
    if (a.RESOLUTION?.width !== size?.width || a.RESOLUTION?.height !== size?.height) problems.push(`${name}: RESOLUTION ${JSON.stringify(a.RESOLUTION)}`);
    if (Math.abs(Number(a['FRAME-RATE']) - shape.fps) > 0.01) problems.push(`${name}: FRAME-RATE ${a['FRAME-RATE']}`);
    if (shape.audio !== undefined && a.AUDIO !== 'audio') problems.push(`${name}: AUDIO group ${a.AUDIO}`);
  }
  if (shape.muxedAudio && Object.keys(manifest.mediaGroups?.AUDIO ?? {}).length > 0) problems.push(`audio group on a muxed ladder: ${JSON.stringify(manifest.mediaGroups.AUDIO)}`);
  if (shape.audio !== undefined) {
    const group = manifest.mediaGroups?.AUDIO?.audio as Record<string, { uri: string; default: boolean }> | undefined;
    const entries = Object.values(group ?? {});
    if (entries.length !== 1 || entries[0]?.uri !== `${shape.audio}/playlist.m3u8`) problems.push(`audio group: ${JSON.stringify(group)}`);
  }
  return problems;
}
