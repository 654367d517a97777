import type { ResolvedLadder } from '../ladder/ladder-loader.js';
import type { Ladder } from '../ladder/ladder-schema.js';

/**
 * What a ladder costs: CPU cores one channel on it keeps busy while encoding at realtime, i.e. CPU
 * seconds per second of media (`cpu s / media s`). A node with `C` cores can run channels whose costs
 * add up to at most `C` at realtime; beyond that every channel on it falls behind together.
 *
 * Three sources, best first:
 * 1. **measured**: runs on this node report CPU seconds (`/proc/<pid>/stat`) against media seconds
 *    encoded (ffmpeg's `out_time`); the model keeps a moving average per ladder name;
 * 2. **benchmark**: the seed file `ladders/costs.json`, written by the quality benchmark
 *    (`npm run bench -- quality`) for the shipped ladders at a 1080p30 source;
 * 3. **pixel rate**: a ladder neither measured nor seeded costs its encoded pixels per second times
 *    the seeds' median cores per pixel per second (rough: presets and encoders differ).
 * Every source is scaled to what the channel encodes (`resolvedPixelsPerSecond`): renditions above
 * the source are dropped and the frame rate follows it.
 * Pure: no clocks, files or processes.
 */

/** One ladder's entry in the seed file. */
export interface LadderCostSeed {
  /** Cores per channel at realtime (CPU s per media s) for the benchmark's 1080p30 sources. */
  cores: number;
  /** Encoded pixels per second of the ladder at that source (for the pixel-rate estimate). */
  pixelsPerSecond: number;
}

/** The seed file (`ladders/costs.json`). */
export interface LadderCostSeeds {
  /** Where and when the figures were measured (free text for people). */
  measured?: string;
  ladders: Record<string, LadderCostSeed>;
}

export type LadderCostSource = 'measured' | 'benchmark' | 'pixel-rate';

export interface LadderCostEstimate {
  /** Cores per channel at realtime. */
  cores: number;
  source: LadderCostSource;
}

/** The frame rate a `frameRate: source` ladder is costed at (the benchmark's sources are 30 fps). */
export const REFERENCE_FPS = 30;
/** Cores per encoded megapixel per second when no seed exists at all (x264 veryfast on this class of CPU). */
const FALLBACK_CORES_PER_MEGAPIXEL_PER_SECOND = 0.0145;
/** Weight of a new measurement in the moving average: a few minutes of reports dominate the seed. */
const MEASURED_WEIGHT = 0.2;

/** Encoded pixels per second of a ladder as written, every rendition at a 30 fps source (the benchmark's). */
export function ladderPixelsPerSecond(ladder: Pick<Ladder, 'video' | 'frameRate'>): number {
  const fps = typeof ladder.frameRate === 'object' ? Math.min(ladder.frameRate.cap, REFERENCE_FPS) : REFERENCE_FPS;
  return ladder.video.reduce((sum, v) => sum + v.width * v.height, 0) * fps;
}

/**
 * Encoded pixels per second of a ladder resolved against its source: only the renditions kept, at
 * their output sizes and the output frame rate. A 360p publisher on a 1080p ladder encodes a tenth of
 * the pixels, a 1080p60 one twice those of 1080p30: the cost follows.
 */
export function resolvedPixelsPerSecond(resolved: Pick<ResolvedLadder, 'video' | 'frameRate'>): number {
  return resolved.video.reduce((sum, v) => sum + v.outputWidth * v.outputHeight, 0) * resolved.frameRate;
}

/**
 * Cores per second of media from two samples of one run: CPU seconds spent between them over media
 * seconds encoded between them. Undefined when too little media passed to say (`minMediaSeconds`).
 */
export function coresPerChannel(
  from: { cpuSeconds: number; mediaSeconds: number },
  to: { cpuSeconds: number; mediaSeconds: number },
  minMediaSeconds = 2,
): number | undefined {
  const media = to.mediaSeconds - from.mediaSeconds;
  const cpu = to.cpuSeconds - from.cpuSeconds;
  if (!(media >= minMediaSeconds) || !(cpu >= 0)) return undefined;
  return cpu / media;
}

function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Costs are kept per ladder as cores per encoded pixel per second, so that one figure prices the
 * ladder for any source: `cores = ratio × pixels/s of the channel's resolved ladder`.
 */
export class LadderCostModel {
  /** Measured cores per pixel/s, moving average per ladder, and the pixel rate last measured at. */
  private readonly measured = new Map<string, { ratio: number; pixelsPerSecond: number }>();
  /** Cores per pixel per second for ladders neither seeded nor measured. */
  readonly fallbackRatio: number;

  constructor(private readonly seeds: LadderCostSeeds = { ladders: {} }) {
    const ratios = Object.values(seeds.ladders).map((s) => s.cores / s.pixelsPerSecond);
    this.fallbackRatio = median(ratios) ?? FALLBACK_CORES_PER_MEGAPIXEL_PER_SECOND / 1e6;
  }

  /** What a channel on `name` encoding `pixelsPerSecond` (its resolved ladder) costs. */
  estimate(name: string, pixelsPerSecond: number): LadderCostEstimate {
    const measured = this.measured.get(name);
    if (measured !== undefined) return { cores: measured.ratio * pixelsPerSecond, source: 'measured' };
    const seed = this.seeds.ladders[name];
    if (seed !== undefined) return { cores: seed.cores * (pixelsPerSecond / seed.pixelsPerSecond), source: 'benchmark' };
    return { cores: this.fallbackRatio * pixelsPerSecond, source: 'pixel-rate' };
  }

  /** A run of `name` encoding `pixelsPerSecond` measured `cores`: folded into the moving average (the first one replaces the seed). */
  observe(name: string, cores: number, pixelsPerSecond: number): void {
    if (!Number.isFinite(cores) || cores <= 0 || !(pixelsPerSecond > 0)) return;
    const ratio = cores / pixelsPerSecond;
    const previous = this.measured.get(name);
    this.measured.set(name, { ratio: previous === undefined ? ratio : previous.ratio + MEASURED_WEIGHT * (ratio - previous.ratio), pixelsPerSecond });
  }

  /**
   * Every ladder with a known cost, per channel at the benchmark's 1080p30 source (seeded ladders)
   * or at the source it was last measured with (ladders only measured).
   */
  known(): Record<string, LadderCostEstimate> {
    const out: Record<string, LadderCostEstimate> = {};
    for (const [name, seed] of Object.entries(this.seeds.ladders)) out[name] = { cores: seed.cores, source: 'benchmark' };
    for (const [name, m] of this.measured) {
      out[name] = { cores: m.ratio * (this.seeds.ladders[name]?.pixelsPerSecond ?? m.pixelsPerSecond), source: 'measured' };
    }
    return out;
  }
}

/** Validates a parsed seed file; throws with the reason when it is not one. */
export function parseLadderCostSeeds(value: unknown): LadderCostSeeds {
  const fail = (why: string): never => {
    throw new Error(`ladder cost seeds: ${why}`);
  };
  if (typeof value !== 'object' || value === null) return fail('not an object');
  const ladders = (value as { ladders?: unknown }).ladders;
  if (typeof ladders !== 'object' || ladders === null) return fail('no "ladders" object');
  const out: LadderCostSeeds = { ladders: {} };
  const measured = (value as { measured?: unknown }).measured;
  if (typeof measured === 'string') out.measured = measured;
  for (const [name, entry] of Object.entries(ladders as Record<string, unknown>)) {
    const { cores, pixelsPerSecond } = (entry ?? {}) as { cores?: unknown; pixelsPerSecond?: unknown };
    if (typeof cores !== 'number' || !(cores > 0)) fail(`${name}.cores must be a positive number`);
    if (typeof pixelsPerSecond !== 'number' || !(pixelsPerSecond > 0)) fail(`${name}.pixelsPerSecond must be a positive number`);
    out.ladders[name] = { cores: cores as number, pixelsPerSecond: pixelsPerSecond as number };
  }
  return out;
}
