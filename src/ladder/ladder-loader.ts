import { readdir, readFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { ErrorCode, LivepipeError, errorMessage } from '../core/errors.js';
import { isValidId } from '../core/ids.js';
import { LadderSchema, type AudioRendition, type Ladder, type VideoRendition } from './ladder-schema.js';
import { planAudioTracks, type ProbedAudioTrack } from './audio-tracks.js';
import { keyframeGop } from './part-target.js';

/**
 * Loads and validates ladder files, and resolves a ladder against a probed input (no upscaling).
 *
 * The shipped ladders live in `<package root>/ladders/*.yaml`; the directory is found relative to
 * this module (src/config or dist/config), never relative to the working directory.
 */

/** `<package root>/ladders`, the same from `src/config` (tests, tsx) and `dist/config` (built). */
export const DEFAULT_LADDERS_DIR = fileURLToPath(new URL('../../ladders/', import.meta.url));

const LADDER_EXTENSIONS = new Set(['.yaml', '.yml']);

export interface LadderIssue {
  /** Dotted field path inside the file, e.g. `video.1.height`; empty for the file as a whole. */
  path: string;
  message: string;
}

/** A validated ladder with the id it is known by (its file name without extension). */
export interface NamedLadder {
  name: string;
  file: string;
  ladder: Ladder;
}

function formatPath(path: ReadonlyArray<PropertyKey>): string {
  return path.map((p) => String(p)).join('.');
}

function issuesOf(error: z.ZodError): LadderIssue[] {
  return error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message }));
}

function invalid(file: string, issues: LadderIssue[]): LivepipeError {
  const lines = issues.map((i) => `${file}: ${i.path === '' ? '(file)' : i.path}: ${i.message}`);
  return new LivepipeError(ErrorCode.ConfigInvalid, `invalid ladder\n${lines.join('\n')}`, { details: { file, issues } });
}

/** Validates already-parsed ladder data; `file` only labels the errors. Throws `ConfigInvalid`. */
export function parseLadder(data: unknown, file: string): Ladder {
  const result = LadderSchema.safeParse(data);
  if (!result.success) throw invalid(file, issuesOf(result.error));
  return result.data;
}

/** Reads, parses (YAML) and validates one ladder file. Throws `ConfigInvalid` naming file, field and reason. */
export async function loadLadderFile(file: string): Promise<NamedLadder> {
  const name = basename(file, extname(file));
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw invalid(file, [{ path: '', message: `cannot read: ${errorMessage(err)}` }]);
  }
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` (line ${err.linePos[0].line})` : '';
    throw invalid(file, [{ path: '', message: `not valid YAML${where}: ${errorMessage(err)}` }]);
  }
  const issues: LadderIssue[] = [];
  if (!isValidId(name)) issues.push({ path: '', message: `file name "${name}" is not a valid ladder id` });
  const result = LadderSchema.safeParse(data);
  if (!result.success) issues.push(...issuesOf(result.error));
  if (issues.length > 0 || !result.success) throw invalid(file, issues);
  return { name, file, ladder: result.data };
}

/** Ladder names (file names without extension) in `dir`, sorted. */
export async function listLadders(dir: string = DEFAULT_LADDERS_DIR): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && LADDER_EXTENSIONS.has(extname(e.name)))
    .map((e) => basename(e.name, extname(e.name)))
    .sort();
}

/** Loads ladder `name` from `dir`. Throws `LadderNotFound` for unknown (or unsafe) names, `ConfigInvalid` for bad files. */
export async function loadLadder(name: string, dir: string = DEFAULT_LADDERS_DIR): Promise<NamedLadder> {
  if (!isValidId(name)) throw new LivepipeError(ErrorCode.LadderNotFound, `"${name}" is not a ladder name`);
  const names = await listLadders(dir);
  if (!names.includes(name)) {
    throw new LivepipeError(ErrorCode.LadderNotFound, `no ladder named "${name}" in ${dir} (have: ${names.join(', ') || 'none'})`);
  }
  for (const ext of LADDER_EXTENSIONS) {
    const file = join(dir, `${name}${ext}`);
    try {
      return await loadLadderFile(file);
    } catch (err) {
      if (err instanceof LivepipeError && err.message.includes('cannot read')) continue;
      throw err;
    }
  }
  throw new LivepipeError(ErrorCode.LadderNotFound, `no ladder named "${name}" in ${dir}`);
}

// ---------------------------------------------------------------------------------------------
// Resolution against the probed input

/** What the ladder needs to know about the input. */
export interface SourceFormat {
  width: number;
  height: number;
  /** Frames per second; 0 or NaN when unknown. */
  frameRate: number;
  hasAudio: boolean;
  /** The source's audio tracks (the probe's); absent: one track. */
  audioTracks?: ProbedAudioTrack[];
}

export interface ResolvedVideoRendition extends VideoRendition {
  /** Output size: the ladder box fitted to the source aspect ratio (square pixels assumed), even. */
  outputWidth: number;
  outputHeight: number;
}

export interface ResolvedAudioRendition extends AudioRendition {
  /** True when the input has no audio and this rendition encodes generated silence. */
  silent: boolean;
  /** The ladder audio rendition this one was made from (its `name` before the language suffix). */
  group: string;
  /** The source audio stream it encodes (`0:a:N`); 0 for one track (and for silence, unused). */
  track: number;
  /** LANGUAGE (canonical BCP 47), when the channel publishes audio languages and this one is known. */
  language?: string;
  /** NAME in the multivariant playlist, when the channel publishes audio languages (else the rendition name). */
  label?: string;
  /** DEFAULT=YES: exactly one per group. */
  isDefault: boolean;
}

export interface RenditionDecision {
  name: string;
  kind: 'video' | 'audio';
  kept: boolean;
  /** Why: `fits source`, `above source 1280x720`, `input has no audio`, … */
  reason: string;
}

export interface ResolvedLadder {
  ladder: Ladder;
  video: ResolvedVideoRendition[];
  audio: ResolvedAudioRendition[];
  /**
   * Output frame rate of every video rendition: the source rate, or the cap when the source is faster,
   * or `minOutputFrameRate` when the source is slower.
   */
  frameRate: number;
  /**
   * Seconds between forced keyframes at `frameRate`: the ladder's `gop`, or its `segment` when a
   * mid-segment keyframe would fall inside a part (`keyframeGop`).
   */
  gop: number;
  /** Frames per GOP (`gop`) at `frameRate` (the fixed x264 keyint). */
  keyint: number;
  decisions: RenditionDecision[];
}

/**
 * The rendition name of one audio language: `{name}-{suffix}` (`audio-en`), shortened to stay an id
 * (≤ 64 characters) and numbered by source track if another rendition has that name already.
 */
export function languageRenditionName(name: string, suffix: string, track: number, taken: ReadonlySet<string>): string {
  const fit = (tail: string) => `${name.slice(0, 63 - tail.length).replace(/[-_]+$/, '')}-${tail}`;
  const first = fit(suffix);
  return taken.has(first) || !isValidId(first) ? fit(`track${track}`) : first;
}

/** Frame rate used when the probe could not tell one (rare: some live FLV headers); 30 fps. */
export const FALLBACK_FRAME_RATE = 30;

/**
 * The lowest output frame rate of a ladder: one frame per part, ⌈1 / PART-TARGET⌉ fps (5 fps for
 * 0.2 s parts, 2 fps for 0.5 s parts). Parts are cut on frame boundaries and "the duration of a
 * Partial Segment MUST be less than or equal to the Part Target Duration" (RFC 8216bis §4.4.4.9), so
 * a longer frame cannot be packaged. A slower source (a 0.5 fps slideshow, a still picture for a
 * radio stream) is raised to this rate by repeating frames.
 */
export function minOutputFrameRate(ladder: Pick<Ladder, 'part'>): number {
  return Math.max(1, Math.ceil(1 / ladder.part - 1e-9));
}

/** Nearest even size, never above `limit` (an odd source size is rounded down, never up). */
function even(n: number, limit: number): number {
  return Math.max(2, Math.min(2 * Math.round(n / 2), 2 * Math.floor(limit / 2)));
}

/** Scale factor that fits the source inside the box (aspect preserved). */
function fitScale(box: { width: number; height: number }, source: SourceFormat): number {
  return Math.min(box.width / source.width, box.height / source.height);
}

/**
 * Resolves a ladder against the input: drops renditions that would upscale the source (a bigger
 * picture than the source carries no more detail, only more bits), fits each kept box to the source
 * aspect ratio, and decides the output frame rate and audio.
 *
 * If every rendition is above the source, the smallest one is kept at the source size (the ladder's
 * bitrate is kept too): a channel with one rendition plays, a channel with none does not.
 */
export function resolveLadder(ladder: Ladder, source: SourceFormat): ResolvedLadder {
  const decisions: RenditionDecision[] = [];
  const video: ResolvedVideoRendition[] = [];
  for (const r of ladder.video) {
    const scale = fitScale(r, source);
    if (scale > 1 + 1e-9) {
      decisions.push({ name: r.name, kind: 'video', kept: false, reason: `above source ${source.width}x${source.height} (would upscale)` });
      continue;
    }
    video.push({ ...r, outputWidth: even(source.width * scale, source.width), outputHeight: even(source.height * scale, source.height) });
    decisions.push({ name: r.name, kind: 'video', kept: true, reason: 'fits source' });
  }
  if (video.length === 0) {
    const smallest = [...ladder.video].sort((a, b) => a.width * a.height - b.width * b.height)[0]!;
    video.push({ ...smallest, outputWidth: even(source.width, source.width), outputHeight: even(source.height, source.height) });
    const decision = decisions.find((d) => d.name === smallest.name)!;
    decision.kept = true;
    decision.reason = `every rendition is above source ${source.width}x${source.height}: smallest kept at source size`;
  }

  const audio: ResolvedAudioRendition[] = [];
  const planned = source.hasAudio ? planAudioTracks(ladder.audioTracks, source.audioTracks) : { plan: undefined, missing: [] };
  // `muxAudio` carries one audio track inside every variant: the default one; the others are left out.
  const leftOut = ladder.muxAudio && planned.plan !== undefined ? planned.plan.filter((t) => !t.isDefault) : [];
  const tracks = leftOut.length > 0 ? { ...planned, plan: planned.plan!.filter((t) => t.isDefault) } : planned;
  const taken = new Set([...ladder.video.map((v) => v.name), ...ladder.audio.map((a) => a.name)]);
  for (const r of ladder.audio) {
    if (source.hasAudio && tracks.plan !== undefined) {
      for (const t of leftOut) {
        decisions.push({ name: r.name, kind: 'audio', kept: false, reason: `source audio track ${t.track}${t.language !== undefined ? ` (${t.language})` : ''} left out: muxAudio carries the default track only` });
      }
      for (const missing of tracks.missing) {
        decisions.push({ name: r.name, kind: 'audio', kept: false, reason: `ladder lists source audio track ${missing}, the source has no such (decodable) track` });
      }
      // Several tracks: `{name}-{suffix}` (a valid id, unlike any other rendition's name); one: the ladder's name.
      for (const t of tracks.plan) {
        const name = tracks.plan.length === 1 ? r.name : languageRenditionName(r.name, t.suffix, t.track, taken);
        taken.add(name);
        audio.push({ ...r, name, silent: false, group: r.name, track: t.track, ...(t.language !== undefined ? { language: t.language } : {}), label: t.label, isDefault: t.isDefault });
        decisions.push({ name, kind: 'audio', kept: true, reason: `source audio track ${t.track}${t.language !== undefined ? ` (${t.language})` : ''}` });
      }
    } else if (source.hasAudio) {
      audio.push({ ...r, silent: false, group: r.name, track: 0, isDefault: true });
      decisions.push({ name: r.name, kind: 'audio', kept: true, reason: 'input has audio' });
    } else if (r.silenceIfMissing) {
      audio.push({ ...r, silent: true, group: r.name, track: 0, isDefault: true });
      decisions.push({ name: r.name, kind: 'audio', kept: true, reason: 'input has no audio: encoding silence (silenceIfMissing)' });
    } else {
      decisions.push({ name: r.name, kind: 'audio', kept: false, reason: 'input has no audio' });
    }
  }

  const sourceRate = Number.isFinite(source.frameRate) && source.frameRate > 0 ? source.frameRate : FALLBACK_FRAME_RATE;
  const capped = ladder.frameRate === 'source' ? sourceRate : Math.min(sourceRate, ladder.frameRate.cap);
  const frameRate = Math.max(capped, minOutputFrameRate(ladder));
  const gop = keyframeGop(ladder, frameRate);
  const keyint = Math.max(1, Math.round(gop * frameRate));
  return { ladder, video, audio, frameRate, gop, keyint, decisions };
}
