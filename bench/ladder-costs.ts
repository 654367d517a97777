import { readFile, writeFile } from 'node:fs/promises';
import { loadLadder } from '../src/ladder/ladder-loader.js';
import { ladderPixelsPerSecond, type LadderCostSeeds } from '../src/transcode/ladder-cost.js';
import { runIfMain } from './run-if-main.js';

/**
 * The seed of admission's cost model (`ladders/costs.json`, read by `serve`; docs/capacity.md): each
 * shipped ladder's CPU seconds per media second as the quality benchmark measured it (livepipe's side,
 * averaged over its three 1080p30 sources), with the pixel rate it encodes at that source.
 * `npm run bench -- quality` rewrites it; `npx tsx bench/ladder-costs.ts` rewrites it from the
 * committed bench/results/quality.json without encoding anything.
 */
export const LADDER_COSTS_FILE = new URL('../ladders/costs.json', import.meta.url);

interface QualityReport {
  machine: { cpus: number; loadavg1Before?: number; loadavg1After?: number };
  summary: Record<string, unknown>;
}

export async function ladderCostSeedsFrom(report: QualityReport, runAt: string): Promise<LadderCostSeeds> {
  const seeds: LadderCostSeeds = {
    measured: `npm run bench -- quality, ${runAt}, ${report.machine.cpus} cores (shared, load ${report.machine.loadavg1Before ?? '?'}–${report.machine.loadavg1After ?? '?'}); cores = CPU s per media s at 1080p30`,
    ladders: {},
  };
  for (const [name, summary] of Object.entries(report.summary)) {
    const cores = (summary as { livepipeCpuSecPerMediaSec?: number } | undefined)?.livepipeCpuSecPerMediaSec;
    if (cores === undefined || !(cores > 0)) continue;
    const { ladder } = await loadLadder(name);
    seeds.ladders[name] = { cores, pixelsPerSecond: ladderPixelsPerSecond(ladder) };
  }
  return seeds;
}

export async function writeLadderCosts(report: QualityReport, runAt: string): Promise<LadderCostSeeds> {
  const seeds = await ladderCostSeedsFrom(report, runAt);
  await writeFile(LADDER_COSTS_FILE, `${JSON.stringify(seeds, null, 2)}\n`);
  return seeds;
}

/** Rewrites ladders/costs.json from the committed quality results (`npx tsx bench/ladder-costs.ts`). */
async function rewriteFromCommittedResults(): Promise<LadderCostSeeds> {
  const file = new URL('./results/quality.json', import.meta.url);
  const report = JSON.parse(await readFile(file, 'utf8')) as QualityReport;
  const runAt = /Run (\S+);/.exec(await readFile(new URL('./results/quality.md', import.meta.url), 'utf8'))?.[1] ?? 'unknown date';
  return writeLadderCosts(report, runAt);
}

runIfMain(import.meta.url, rewriteFromCommittedResults);
