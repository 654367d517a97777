import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadLadder, resolveLadder, type ResolvedLadder, type ResolvedVideoRendition } from '../src/ladder/ladder-loader.js';
import { vbvOf, type Ladder } from '../src/ladder/ladder-schema.js';
import { formatBitrate } from '../src/transcode/ffmpeg-args.js';
import { probeUrl } from '../src/transcode/input-probe.js';
import type { UrlInputSpec } from '../src/transcode/input-spec.js';
import { compileLadder } from '../src/transcode/ladder-compiler.js';
import { writeLadderCosts } from './ladder-costs.js';
import { runIfMain } from './run-if-main.js';

/**
 * Quality-and-cost benchmark (issue 19, point 1): livepipe's ladders against the ladder a user writes
 * by hand, in the same run.
 *
 * Sources: three generated 1080p30 clips (lavfi, `SECONDS` long), each encoded once the way a good
 * publisher sends it (x264 superfast, CRF 16 capped at 20 Mb/s): both sides decode that stream, and
 * the metrics compare with its decode, so the source's own coding noise does not count against either:
 * - `low`: testsrc2 panning slowly (flat colours, sharp edges, little motion);
 * - `medium`: a scrolling cellular automaton (rule 110, softened) blended over a panning testsrc2:
 *   detail and motion everywhere, but predictable (x264 veryfast at 5 Mb/s: SSIM ≈ 0.96 at 1080p);
 * - `high`: the same panning faster under temporal noise (grain cannot be predicted: SSIM ≈ 0.87).
 *   (Conway's life and strong noise were tried and dropped: at these bitrates they code like pure
 *   noise, SSIM ≈ 0.5–0.8, which says nothing about a ladder.)
 *
 * Sides, for each shipped ladder (default, low-latency, constrained) and source:
 * - **livepipe**: the real compiler (`compileLadder`) for one ffmpeg that decodes once, splits and
 *   encodes every rendition; its pipes are redirected to files; unpaced.
 * - **baseline** (counts as 1.00): one ffmpeg per rendition, run together, each decoding the source
 *   and scaling from it (ffmpeg's default bicubic), libx264 `veryfast`, with the same size, bitrate,
 *   VBV, profile, level, GOP, B-frames and tune as the ladder: only the architecture and the
 *   compiler's choices differ (and the preset where a ladder uses another: constrained).
 *
 * Per rendition: bitrate (sum of the video packets' sizes / media seconds), PSNR (average) and SSIM
 * (All) against the source scaled to the rendition (bicubic) with ffmpeg's psnr and ssim filters
 * (Debian's ffmpeg has no libvmaf), on every METRIC_STEP-th frame. Per run: CPU seconds per media second (user + system of each
 * ffmpeg, from `/usr/bin/time`, exact at exit) and realtime factor (media seconds / wall seconds).
 * Livepipe encodes every rendition in one process, so its CPU is per ladder, not per rendition.
 *
 * Ratios: channels per core = 1 / (CPU seconds per media second); livepipe's ratio = baseline CPU /
 * livepipe CPU (at the bitrate ratio shown, ≈ 1.00); SSIM delta = livepipe − baseline.
 *
 * Knobs for development runs (the defaults are the benchmark): QUALITY_SECONDS (10),
 * QUALITY_SOURCES (low,medium,high), QUALITY_LADDERS (default,low-latency,constrained); and
 * QUALITY_VARIANT=cascade adds a third side: livepipe with `scaling: cascade` (issue 19, point 2).
 */

const exec = promisify(execFile);
const SECONDS = Number(process.env.QUALITY_SECONDS ?? 6);
const FPS = 30;

interface Source {
  name: string;
  description: string;
  /** A lavfi graph with one output, 1920x1080 at FPS. */
  graph: string;
}

export const SOURCES: Source[] = [
  {
    name: 'low',
    description: 'testsrc2, slow pan',
    graph: `testsrc2=size=2400x1350:rate=${FPS},crop=1920:1080:x='40*t':y='20*t'`,
  },
  {
    name: 'medium',
    description: 'a scrolling cellular automaton (softened) blended over a panning testsrc2',
    graph:
      `cellauto=size=1920x1080:rate=${FPS}:rule=110:random_fill_ratio=0.5:scroll=1,boxblur=1[c];` +
      `testsrc2=size=2400x1350:rate=${FPS},crop=1920:1080:x='60*t':y='30*t'[t];` +
      `[c][t]blend=all_mode=average`,
  },
  {
    name: 'high',
    description: 'the medium mix, panning faster, under temporal noise (grain)',
    graph:
      `cellauto=size=1920x1080:rate=${FPS}:rule=110:random_fill_ratio=0.5:scroll=1,boxblur=1[c];` +
      `testsrc2=size=2400x1350:rate=${FPS},crop=1920:1080:x='120*t':y='40*t'[t];` +
      `[c][t]blend=all_mode=average,noise=alls=10:allf=t`,
  },
];

const LADDERS = ['default', 'low-latency', 'constrained'] as const;

/** Compiler options the benchmark can judge against the ladder as shipped (QUALITY_VARIANT=name). */
const VARIANTS: Record<string, Partial<Ladder>> = {
  cascade: { scaling: 'cascade' },
  // A second keyframe in every 2 s segment: what `keyframes: marked` costs when a publisher's 2 s GOP
  // falls between the grid points (marked ladders key every publisher IDR besides the grid; issue 17).
  gop1: { gop: 1 },
};
const VARIANT = process.env.QUALITY_VARIANT;
if (VARIANT !== undefined && !(VARIANT in VARIANTS)) throw new Error(`QUALITY_VARIANT must be one of ${Object.keys(VARIANTS).join(', ')}`);

const round = (n: number, digits = 3): number => Number(n.toFixed(digits));

interface Timed {
  cpuSec: number;
  wallSec: number;
}

/** Runs ffmpeg under /usr/bin/time: CPU (user + system) as the kernel accounted it at exit. */
async function timedFfmpeg(args: string[], timeFile: string): Promise<Timed> {
  const t0 = performance.now();
  const child = spawn('/usr/bin/time', ['-f', '%U %S', '-o', timeFile, 'ffmpeg', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  const wallSec = (performance.now() - t0) / 1000;
  if (code !== 0) throw new Error(`ffmpeg exited with ${code}: ${stderr}`);
  const [user, system] = (await readFile(timeFile, 'utf8')).trim().split(/\s+/).slice(-2).map(Number);
  return { cpuSec: user! + system!, wallSec };
}

async function generateSource(source: Source, file: string): Promise<void> {
  await exec('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-nostdin', '-y',
    '-f', 'lavfi', '-i', source.graph,
    '-t', String(SECONDS),
    // A high-quality contribution stream, as OBS would send it (the sides decode what a publisher sends).
    '-c:v', 'libx264', '-preset', 'superfast', '-crf', '16', '-maxrate', '20M', '-bufsize', '20M', '-g', String(2 * FPS), '-pix_fmt', 'yuv420p',
    '-f', 'mpegts', file,
  ]);
}

/** Video bits per second of a file: its packets' sizes over the media duration. */
async function videoBitrate(file: string): Promise<number> {
  const { stdout } = await exec('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=size', '-of', 'csv=p=0', file], {
    maxBuffer: 16 * 2 ** 20,
  });
  const bytes = stdout.split('\n').reduce((sum, line) => sum + (Number(line) || 0), 0);
  return (bytes * 8) / SECONDS;
}

interface Metrics {
  psnr: number;
  ssim: number;
}

/** Metrics are taken on every METRIC_STEP-th frame (the same frames on every side): half the cost, same averages within noise. */
const METRIC_STEP = 2;

/**
 * PSNR and SSIM of each rendition of every side against the source scaled to its size, in one
 * ffmpeg: the source is decoded once, each size scaled once (bicubic) and compared with the decoded
 * rendition of each side. Filter instance names (`psnr@p1_0`, `ssim@s1_0`: side 1, rendition 0) tag
 * the summary lines.
 */
async function measure(sourceFile: string, shapes: Array<{ width: number; height: number }>, sides: string[][]): Promise<Metrics[][]> {
  const n = shapes.length;
  const every = `select='not(mod(n\\,${METRIC_STEP}))',setpts=PTS-STARTPTS`;
  const chains = [`[0:v]${every},split=${n}${shapes.map((_, i) => `[src${i}]`).join('')}`];
  const args = ['-hide_banner', '-loglevel', 'info', '-nostats', '-nostdin', '-i', sourceFile];
  const outputs: string[] = [];
  shapes.forEach((shape, i) => {
    const refs = sides.flatMap((_, k) => [`[rp${k}_${i}]`, `[rs${k}_${i}]`]);
    chains.push(`[src${i}]scale=${shape.width}:${shape.height}:flags=bicubic,format=yuv420p,split=${refs.length}${refs.join('')}`);
  });
  sides.forEach((files, k) => {
    files.forEach((file, i) => {
      const input = 1 + k * n + i;
      args.push('-i', file);
      chains.push(`[${input}:v]${every},format=yuv420p,split[dp${k}_${i}][ds${k}_${i}]`);
      chains.push(`[dp${k}_${i}][rp${k}_${i}]psnr@p${k}_${i}[op${k}_${i}]`);
      chains.push(`[ds${k}_${i}][rs${k}_${i}]ssim@s${k}_${i}[os${k}_${i}]`);
      outputs.push(`[op${k}_${i}]`, `[os${k}_${i}]`);
    });
  });
  args.push('-filter_complex', chains.join(';'));
  for (const o of outputs) args.push('-map', o);
  args.push('-f', 'null', '-');
  const { stderr } = await exec('ffmpeg', args, { maxBuffer: 64 * 2 ** 20 });
  return sides.map((files, k) =>
    files.map((_, i) => {
      const psnr = new RegExp(`\\[psnr@p${k}_${i} @ [^\\]]+\\] PSNR .*average:([\\d.]+|inf)`).exec(stderr)?.[1];
      const ssim = new RegExp(`\\[ssim@s${k}_${i} @ [^\\]]+\\] SSIM .*All:([\\d.]+)`).exec(stderr)?.[1];
      if (psnr === undefined || ssim === undefined) throw new Error(`no psnr/ssim for side ${k} rendition ${i}: ${stderr.slice(-2000)}`);
      return { psnr: Number(psnr), ssim: Number(ssim) };
    }),
  );
}

interface SideResult {
  cpuSec: number;
  wallSec: number;
  files: string[];
}

/** livepipe: the compiled argv of the ladder, with each output pipe redirected to a file. */
async function runLivepipe(resolved: ResolvedLadder, input: UrlInputSpec, dir: string, prefix = 'lp'): Promise<SideResult> {
  const probe = await probeUrl(input);
  const compiled = compileLadder(resolved, probe, input);
  const files = new Map(compiled.outputs.map((o) => [`pipe:${o.fd}`, join(dir, `${prefix}-${o.name}.mp4`)]));
  const args = compiled.args.map((a) => files.get(a) ?? a);
  const timed = await timedFfmpeg(['-y', ...args], join(dir, `${prefix}.time`));
  return { ...timed, files: compiled.outputs.filter((o) => o.kind === 'video').map((o) => files.get(`pipe:${o.fd}`)!) };
}

/** The argv a user writes by hand for one rendition: decode, scale from the source, x264 veryfast. */
export function baselineArgs(resolved: ResolvedLadder, r: ResolvedVideoRendition, sourceFile: string, outFile: string): string[] {
  const { ladder } = resolved;
  const vbv = vbvOf(r);
  return [
    '-hide_banner', '-loglevel', 'error', '-nostdin', '-y',
    '-i', sourceFile,
    '-vf', `scale=${r.outputWidth}:${r.outputHeight},format=yuv420p`,
    '-c:v', 'libx264', '-preset', 'veryfast',
    ...(ladder.tune !== undefined ? ['-tune', ladder.tune] : []),
    '-profile:v', r.profile,
    ...(r.level !== undefined ? ['-level:v', r.level] : []),
    '-b:v', formatBitrate(r.bitrate), '-maxrate', formatBitrate(vbv.maxrate), '-bufsize', formatBitrate(vbv.bufsize),
    '-g', String(resolved.keyint), '-keyint_min', String(resolved.keyint), '-sc_threshold', '0', '-bf', String(ladder.bFrames),
    '-an', outFile,
  ];
}

/** Baseline: one ffmpeg per rendition, all started together (a hand-written live ladder runs them at once). */
async function runBaseline(resolved: ResolvedLadder, sourceFile: string, dir: string): Promise<SideResult & { perRendition: Timed[] }> {
  const t0 = performance.now();
  const perRendition = await Promise.all(
    resolved.video.map((r) => timedFfmpeg(baselineArgs(resolved, r, sourceFile, join(dir, `bl-${r.name}.mp4`)), join(dir, `bl-${r.name}.time`))),
  );
  return {
    cpuSec: perRendition.reduce((s, t) => s + t.cpuSec, 0),
    wallSec: (performance.now() - t0) / 1000,
    perRendition,
    files: resolved.video.map((r) => join(dir, `bl-${r.name}.mp4`)),
  };
}

interface RenditionRow {
  rendition: string;
  size: string;
  targetKbps: number;
  livepipe: { kbps: number; psnr: number; ssim: number };
  baseline: { kbps: number; psnr: number; ssim: number; cpuSecPerMediaSec: number };
  ssimDelta: number;
  psnrDelta: number;
}

interface LadderSourceResult {
  ladder: string;
  source: string;
  renditions: RenditionRow[];
  livepipe: { cpuSecPerMediaSec: number; realtime: number; channelsPerCore: number };
  baseline: { cpuSecPerMediaSec: number; realtime: number; channelsPerCore: number };
  /** baseline CPU / livepipe CPU: livepipe's channels per core relative to the baseline's. */
  channelsPerCoreRatio: number;
  bitrateRatio: number;
  meanSsimDelta: number;
  variant?: {
    name: string;
    cpuSecPerMediaSec: number;
    realtime: number;
    channelsPerCoreVsLivepipe: number;
    renditions: Array<{ rendition: string; kbps: number; psnr: number; ssim: number; ssimDeltaVsLivepipe: number }>;
  };
}

async function runOne(ladderName: string, source: Source, sourceFile: string, dir: string, livepipeFirst: boolean): Promise<LadderSourceResult> {
  const input: UrlInputSpec = { kind: 'url', url: sourceFile, realtime: false };
  const probe = await probeUrl(input);
  const { ladder } = await loadLadder(ladderName);
  const resolved = resolveLadder(ladder, probe);

  // Alternate which side runs first so that drift in the machine's other load spreads over both.
  let lp: SideResult;
  let bl: Awaited<ReturnType<typeof runBaseline>>;
  if (livepipeFirst) {
    lp = await runLivepipe(resolved, input, dir);
    bl = await runBaseline(resolved, sourceFile, dir);
  } else {
    bl = await runBaseline(resolved, sourceFile, dir);
    lp = await runLivepipe(resolved, input, dir);
  }

  const tMetrics = performance.now();
  const shapes = resolved.video.map((r) => ({ width: r.outputWidth, height: r.outputHeight }));
  // The variant (QUALITY_VARIANT, e.g. `cascade`): the same ladder with one compiler option changed,
  // run right after livepipe and measured in the same pass, so before/after share the machine's state.
  let variant: SideResult | undefined;
  if (VARIANT !== undefined) variant = await runLivepipe(resolveLadder({ ...ladder, ...VARIANTS[VARIANT] }, probe), input, dir, 'lv');
  const [lpMetrics, blMetrics, lvMetrics] = (await measure(sourceFile, shapes, [lp.files, bl.files, ...(variant ? [variant.files] : [])])) as [
    Metrics[],
    Metrics[],
    Metrics[] | undefined,
  ];
  const lvRates = variant ? await Promise.all(variant.files.map(videoBitrate)) : [];
  const lpRates = await Promise.all(lp.files.map(videoBitrate));
  const blRates = await Promise.all(bl.files.map(videoBitrate));
  process.stderr.write(
    `quality:   encodes livepipe ${lp.wallSec.toFixed(1)} s, baseline ${bl.wallSec.toFixed(1)} s; metrics ${((performance.now() - tMetrics) / 1000).toFixed(1)} s\n`,
  );

  const renditions: RenditionRow[] = resolved.video.map((r, i) => ({
    rendition: r.name,
    size: `${r.outputWidth}x${r.outputHeight}`,
    targetKbps: r.bitrate / 1000,
    livepipe: { kbps: round(lpRates[i]! / 1000, 0), psnr: round(lpMetrics[i]!.psnr, 2), ssim: round(lpMetrics[i]!.ssim, 4) },
    baseline: {
      kbps: round(blRates[i]! / 1000, 0),
      psnr: round(blMetrics[i]!.psnr, 2),
      ssim: round(blMetrics[i]!.ssim, 4),
      cpuSecPerMediaSec: round(bl.perRendition[i]!.cpuSec / SECONDS),
    },
    ssimDelta: round(lpMetrics[i]!.ssim - blMetrics[i]!.ssim, 4),
    psnrDelta: round(lpMetrics[i]!.psnr - blMetrics[i]!.psnr, 2),
  }));
  const lpCpu = lp.cpuSec / SECONDS;
  const blCpu = bl.cpuSec / SECONDS;
  const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);
  const variantResult =
    variant && lvMetrics
      ? {
          name: VARIANT!,
          cpuSecPerMediaSec: round(variant.cpuSec / SECONDS),
          realtime: round(SECONDS / variant.wallSec, 2),
          /** livepipe CPU / variant CPU: > 1 when the variant is cheaper. */
          channelsPerCoreVsLivepipe: round(lp.cpuSec / variant.cpuSec, 3),
          renditions: resolved.video.map((r, i) => ({
            rendition: r.name,
            kbps: round(lvRates[i]! / 1000, 0),
            psnr: round(lvMetrics[i]!.psnr, 2),
            ssim: round(lvMetrics[i]!.ssim, 4),
            ssimDeltaVsLivepipe: round(lvMetrics[i]!.ssim - lpMetrics[i]!.ssim, 4),
          })),
        }
      : undefined;
  return {
    ...(variantResult ? { variant: variantResult } : {}),
    ladder: ladderName,
    source: source.name,
    renditions,
    livepipe: { cpuSecPerMediaSec: round(lpCpu), realtime: round(SECONDS / lp.wallSec, 2), channelsPerCore: round(1 / lpCpu, 2) },
    baseline: { cpuSecPerMediaSec: round(blCpu), realtime: round(SECONDS / bl.wallSec, 2), channelsPerCore: round(1 / blCpu, 2) },
    channelsPerCoreRatio: round(blCpu / lpCpu, 2),
    bitrateRatio: round(sum(lpRates) / sum(blRates), 3),
    meanSsimDelta: round(sum(renditions.map((r) => r.ssimDelta)) / renditions.length, 4),
  };
}

/** A markdown table of every rendition, and one line per ladder with its ratios over the sources. */
export function toTable(results: LadderSourceResult[]): string[] {
  const lines = [
    '| ladder | source | rendition | kbps lp / bl | PSNR lp / bl | SSIM lp / bl (Δ) | CPU s/s lp (ladder) / bl (rendition) | realtime lp / bl |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    r.renditions.forEach((row, i) => {
      lines.push(
        `| ${r.ladder} | ${r.source} | ${row.rendition} | ${row.livepipe.kbps} / ${row.baseline.kbps} | ${row.livepipe.psnr} / ${row.baseline.psnr} | ` +
          `${row.livepipe.ssim} / ${row.baseline.ssim} (${row.ssimDelta >= 0 ? '+' : ''}${row.ssimDelta}) | ` +
          `${i === 0 ? r.livepipe.cpuSecPerMediaSec : ''} / ${row.baseline.cpuSecPerMediaSec} | ${i === 0 ? `${r.livepipe.realtime}× / ${r.baseline.realtime}×` : ''} |`,
      );
    });
  }
  return lines;
}

export function summarize(results: LadderSourceResult[]): Record<string, unknown> {
  const byLadder: Record<string, unknown> = {};
  for (const name of new Set(results.map((r) => r.ladder))) {
    const rs = results.filter((r) => r.ladder === name);
    const lpCpu = rs.reduce((s, r) => s + r.livepipe.cpuSecPerMediaSec, 0);
    const blCpu = rs.reduce((s, r) => s + r.baseline.cpuSecPerMediaSec, 0);
    const deltas = rs.flatMap((r) => r.renditions.map((x) => x.ssimDelta));
    byLadder[name] = {
      livepipeCpuSecPerMediaSec: round(lpCpu / rs.length),
      baselineCpuSecPerMediaSec: round(blCpu / rs.length),
      livepipeChannelsPerCore: round(rs.length / lpCpu, 2),
      baselineChannelsPerCore: round(rs.length / blCpu, 2),
      channelsPerCoreRatio: round(blCpu / lpCpu, 2),
      bitrateRatio: round(rs.reduce((s, r) => s + r.bitrateRatio, 0) / rs.length, 3),
      meanSsimDelta: round(deltas.reduce((s, d) => s + d, 0) / deltas.length, 4),
      worstSsimDelta: round(Math.min(...deltas), 4),
      ...(rs.every((r) => r.variant)
        ? (() => {
            const vCpu = rs.reduce((s, r) => s + r.variant!.cpuSecPerMediaSec, 0);
            const vDeltas = rs.flatMap((r) => r.variant!.renditions.map((x) => x.ssimDeltaVsLivepipe));
            return {
              variant: {
                name: rs[0]!.variant!.name,
                cpuSecPerMediaSec: round(vCpu / rs.length),
                channelsPerCoreVsLivepipe: round(lpCpu / vCpu, 3),
                channelsPerCoreVsBaseline: round(blCpu / vCpu, 2),
                meanSsimDeltaVsLivepipe: round(vDeltas.reduce((s, d) => s + d, 0) / vDeltas.length, 4),
                worstSsimDeltaVsLivepipe: round(Math.min(...vDeltas), 4),
              },
            };
          })()
        : {}),
    };
  }
  return byLadder;
}

export async function run(): Promise<Record<string, unknown>> {
  const wantedSources = (process.env.QUALITY_SOURCES ?? SOURCES.map((s) => s.name).join(',')).split(',');
  const wantedLadders = (process.env.QUALITY_LADDERS ?? LADDERS.join(',')).split(',');
  const dir = await mkdtemp(join(tmpdir(), 'livepipe-bench-quality-'));
  const started = performance.now();
  const loadBefore = os.loadavg()[0]!;
  try {
    const results: LadderSourceResult[] = [];
    let k = 0;
    for (const source of SOURCES.filter((s) => wantedSources.includes(s.name))) {
      const sourceFile = join(dir, `source-${source.name}.ts`);
      const tSource = performance.now();
      await generateSource(source, sourceFile);
      process.stderr.write(`quality: source ${source.name} generated in ${((performance.now() - tSource) / 1000).toFixed(1)} s\n`);
      for (const ladder of LADDERS.filter((l) => wantedLadders.includes(l))) {
        process.stderr.write(`quality: ${ladder} × ${source.name}…\n`);
        results.push(await runOne(ladder, source, sourceFile, dir, k++ % 2 === 0));
      }
      await rm(sourceFile, { force: true });
    }
    const table = toTable(results);
    const summary = summarize(results);
    const report = {
      machine: { cpus: os.availableParallelism(), loadavg1Before: round(loadBefore, 2), loadavg1After: round(os.loadavg()[0]!, 2) },
      sources: SOURCES.filter((s) => wantedSources.includes(s.name)).map((s) => ({ name: s.name, description: s.description, size: '1920x1080', fps: FPS, seconds: SECONDS })),
      baseline: 'one ffmpeg per rendition, run together, each decoding and scaling from the source, libx264 veryfast, same bitrate/VBV/profile/level/GOP/B-frames/tune',
      summary,
      results,
      table,
      benchWallSec: round((performance.now() - started) / 1000, 1),
    };
    await mkdir(new URL('./results/', import.meta.url), { recursive: true });
    // Admission's cost seeds (ladders/costs.json), from a full run of the shipped ladders only.
    if (wantedSources.length === SOURCES.length && wantedLadders.length === LADDERS.length) await writeLadderCosts(report, new Date().toISOString());
    await writeFile(
      new URL('./results/quality.md', import.meta.url),
      [`# quality-and-cost benchmark`, '', `Run ${new Date().toISOString()}; ${JSON.stringify(report.machine)}`, '', ...table, '', '```json', JSON.stringify(summary, null, 2), '```', ''].join('\n'),
    );
    return report;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

runIfMain(import.meta.url, run);
