/**
 * Ladder variants for the `latency` bench's A/B runs (issue 16): each is a shipped ladder with a few
 * fields overridden, written with every shipped ladder into a temporary ladders directory that the
 * bench's `serve` reads (`--ladders-dir`), so a lever (muxed audio, keyframe interval, part duration)
 * is measured beside the shipped ladder in the same run without shipping a ladder for it.
 */
import { copyFile, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { DEFAULT_LADDERS_DIR } from '../src/ladder/ladder-loader.js';

export interface LadderVariant {
  /** The ladder's name in the bench's ladders directory (a channel's `ladder`). */
  name: string;
  /** The shipped ladder it is derived from. */
  base: string;
  /** Top-level ladder fields replaced. */
  overrides: Record<string, unknown>;
  /** List the video renditions lowest first (the multivariant playlist names its variants in ladder order). */
  lowestFirst?: boolean;
  /** What the variant tests, for the results file. */
  lever: string;
}

export const LATENCY_LADDER_VARIANTS: readonly LadderVariant[] = [
  { name: 'll-no-start-hold', base: 'low-latency', overrides: { startAtEdge: false }, lever: 'the first multivariant playlist not held for the edge to catch up (before startAtEdge)' },
  { name: 'll-muxed-no-start-hold', base: 'low-latency-muxed', overrides: { startAtEdge: false }, lever: 'muxed, the first multivariant playlist not held for the edge' },
  { name: 'll-gop02', base: 'low-latency', overrides: { gop: 0.2 }, lever: 'keyframe every 0.2 s (every other 0.1 s part independent), audio group' },
  { name: 'll-muxed-gop02', base: 'low-latency-muxed', overrides: { gop: 0.2 }, lever: 'muxed audio and a keyframe every 0.2 s' },
  { name: 'll-muxed-gop01', base: 'low-latency-muxed', overrides: { gop: 0.1 }, lever: 'muxed audio and every part independent (keyframe every 0.1 s)' },
  // hls.js and Shaka start on the first variant the multivariant playlist lists (hls.js: unless its
  // default 500 kbit/s estimate says otherwise) and switch down during start-up when the first parts
  // come slowly — a second playlist, init and parts before the first frame (seen in startup traces).
  { name: 'll-low-first', base: 'low-latency', overrides: {}, lowestFirst: true, lever: 'the 360p variant listed first (players start low and switch up)' },
  { name: 'll-muxed-gop02-low-first', base: 'low-latency-muxed', overrides: { gop: 0.2 }, lowestFirst: true, lever: 'muxed, keyframe every 0.2 s, the 360p variant listed first' },
  // Two-frame parts at 30 fps: PART-HOLD-BACK 0.2 s instead of 0.3 s (it is 3 × PART-TARGET), at
  // twice the part and blocking-reload requests. A keyframe every 0.2 s (6 frames) keeps every
  // keyframe on a part boundary; compare with `ll-gop02`, the same keyframes in 0.1 s parts.
  { name: 'll-gop02-part2f', base: 'low-latency', overrides: { gop: 0.2, part: 0.066667 }, lever: 'two-frame parts (PART-TARGET 0.066667 s, PART-HOLD-BACK 0.2 s), a keyframe every 0.2 s, audio group' },
  { name: 'll-muxed-gop02-part2f', base: 'low-latency-muxed', overrides: { gop: 0.2, part: 0.066667 }, lever: 'muxed audio, two-frame parts, a keyframe every 0.2 s' },
  { name: 'll-muxed-part02', base: 'low-latency-muxed', overrides: { part: 0.2 }, lever: 'muxed audio, 0.2 s parts (PART-HOLD-BACK 0.6 s, half the requests)' },
];

/** Writes every shipped ladder and every variant into `dir`; returns `dir` for `--ladders-dir`. */
export async function writeBenchLadders(dir: string, variants: readonly LadderVariant[] = LATENCY_LADDER_VARIANTS): Promise<string> {
  await mkdir(dir, { recursive: true });
  for (const entry of await readdir(DEFAULT_LADDERS_DIR, { withFileTypes: true })) {
    if (entry.isFile()) await copyFile(join(DEFAULT_LADDERS_DIR, entry.name), join(dir, entry.name));
  }
  for (const v of variants) {
    const base = parseYaml(await readFile(join(DEFAULT_LADDERS_DIR, `${v.base}.yaml`), 'utf8')) as Record<string, unknown>;
    const video = v.lowestFirst === true && Array.isArray(base.video) ? [...(base.video as unknown[])].reverse() : base.video;
    const ladder = { ...base, video, ...v.overrides, description: `${v.base} with ${JSON.stringify(v.overrides)}${v.lowestFirst === true ? ' (lowest variant first)' : ''}: ${v.lever}` };
    await writeFile(join(dir, `${v.name}.yaml`), stringifyYaml(ladder));
  }
  return dir;
}
