/**
 * `livepipe serve` start-up: how long a fresh process takes until the origin answers HTTP. A SIGTERM
 * and restart of `serve` (the chaos fault of test/e2e/chaos/) is an outage for viewers this long.
 *
 * Each run spawns the built CLI (`node bin/livepipe.js serve --config …`, build first) on embedded
 * defaults: filesystem storage in a fresh temporary data directory, no channels, free loopback ports.
 * Per run:
 * - `originMs`: spawn → the origin's first HTTP answer (any status: a 404 for an unknown channel is
 *   an answer). Polled every 5 ms, so figures are up to 5 ms late.
 * - `bannerMs`: spawn → "livepipe is running." on stdout (printed once `startServe` resolved: every
 *   listener up, the ops API last).
 * Then SIGTERM, and the next run starts once the process exited.
 *
 * For context, `importMs`: what importing each heavy package costs in a fresh `node` (median of
 * `IMPORT_REPEATS`), and `livepipe`, the whole command graph (`dist/cli/main.js` + `buildProgram()`,
 * which loads every command module, as `livepipe serve` does before parsing its flags).
 *
 * A/B: `LIVEPIPE_BENCH_STARTUP_BASE=/path/to/other/checkout` (built, with node_modules) runs that
 * checkout's CLI too, in the same rounds as this one (order rotating), so both see the same machine
 * load; several as `label=/path,label2=/path2` (a bare path is labelled `base`).
 * `LIVEPIPE_BENCH_STARTUP_RUNS` runs per build (default 10).
 *
 *   npm run bench -- serve-startup      or      npx tsx bench/serve-startup.bench.ts
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, freePorts } from '../test/helpers/ports.js';
import { runIfMain } from './run-if-main.js';

const RUNS = Number(process.env.LIVEPIPE_BENCH_STARTUP_RUNS ?? 10);
const IMPORT_REPEATS = Number(process.env.LIVEPIPE_BENCH_STARTUP_IMPORT_REPEATS ?? 5);
const POLL_MS = 5;
const THIS_CHECKOUT = fileURLToPath(new URL('..', import.meta.url));

/** The heavy packages `serve` may load, as `import()` specifiers resolved from the checkout. */
const HEAVY_IMPORTS: Record<string, string> = {
  '@aws-sdk/client-s3': `await import('@aws-sdk/client-s3')`,
  ioredis: `await import('ioredis')`,
  fastify: `await import('fastify')`,
  '@fastify/compress': `await import('@fastify/compress')`,
  zod: `await import('zod')`,
  'prom-client': `await import('prom-client')`,
  pino: `await import('pino')`,
  yaml: `await import('yaml')`,
  commander: `await import('commander')`,
  // What livepipe loads of node-media-server (src/ingest/nms-rtmp-protocol.ts).
  'node-media-server (protocol files)': `const { createRequire } = await import('node:module'); const r = createRequire(process.cwd() + '/'); for (const f of ['rtmp', 'amf']) r('node-media-server/src/protocol/' + f + '.js'); r('node-media-server/src/core/logger.js')`,
  livepipe: `const m = await import('./dist/cli/main.js'); await m.buildProgram()`,
};

export interface StartupRun {
  originMs: number;
  bannerMs: number;
}

interface Spread {
  median: number;
  min: number;
  max: number;
  /** Interquartile range. */
  p25: number;
  p75: number;
}

/** Quantile by linear interpolation between order statistics. */
export function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

function spread(values: number[]): Spread {
  const r = (v: number) => Math.round(v);
  return { median: r(quantile(values, 0.5)), min: r(Math.min(...values)), max: r(Math.max(...values)), p25: r(quantile(values, 0.25)), p75: r(quantile(values, 0.75)) };
}

/** Resolves once `url` answers with any HTTP status (connection refused: not yet listening). */
function answers(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(url, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('error', () => resolve(false));
  });
}

/** One start of `serve` from `checkout` (its bin/livepipe.js → dist/), then SIGTERM. */
async function startOnce(checkout: string): Promise<StartupRun> {
  const dataDir = await mkdtemp(join(tmpdir(), 'livepipe-startup-bench-'));
  try {
    const [originPort, apiPort, rtmpPort] = (await freePorts(3)) as [number, number, number];
    const configFile = join(dataDir, 'livepipe.yaml');
    await writeFile(configFile, JSON.stringify({ dataDir, origin: { port: originPort }, api: { port: apiPort }, rtmp: { port: rtmpPort }, srt: { portBase: await freePort('udp'), portCount: 1 } }));
    const url = `http://127.0.0.1:${originPort}/live/startup/master.m3u8`;
    const t0 = performance.now();
    const child = spawn(process.execPath, [join(checkout, 'bin/livepipe.js'), 'serve', '--config', configFile], {
      env: { ...process.env, LIVEPIPE_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
    let stdout = '';
    let stderr = '';
    let bannerMs: number | undefined;
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
      if (bannerMs === undefined && stdout.includes('livepipe is running.')) bannerMs = performance.now() - t0;
    });
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    let gone = false;
    void exited.then(() => (gone = true));
    try {
      let originMs: number | undefined;
      const deadline = Date.now() + 60_000;
      while (originMs === undefined || bannerMs === undefined) {
        if (gone) throw new Error(`serve exited during start: ${stderr.slice(-2000)}`);
        if (Date.now() > deadline) throw new Error(`serve not up after 60 s: ${stderr.slice(-2000)}`);
        if (originMs === undefined && (await answers(url))) originMs = performance.now() - t0;
        else await new Promise((r) => setTimeout(r, POLL_MS));
      }
      return { originMs, bannerMs };
    } finally {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** ms to evaluate `code` (an ES module body) in a fresh `node` started in `checkout`, median of `repeats`. */
function importCost(checkout: string, code: string, repeats: number): number {
  const samples: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', `const t = performance.now(); ${code}; process.stdout.write(String(performance.now() - t));`], {
      cwd: checkout,
      encoding: 'utf8',
    });
    samples.push(Number(out));
  }
  return Math.round(quantile(samples, 0.5) * 10) / 10;
}

function uptimeText(): string {
  try {
    return execFileSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    return `load average ${loadavg().map((l) => l.toFixed(2)).join(', ')}`;
  }
}

export async function run(): Promise<Record<string, unknown>> {
  const others = parseBases(process.env.LIVEPIPE_BENCH_STARTUP_BASE);
  const builds: Array<[string, string]> = [['this', THIS_CHECKOUT], ...others];
  const loadBefore = uptimeText();
  // One warm-up start per build (page cache, ffmpeg probe caches), not counted.
  for (const [, checkout] of builds) await startOnce(checkout);
  const runs: Record<string, StartupRun[]> = Object.fromEntries(builds.map(([name]) => [name, []]));
  for (let i = 0; i < RUNS; i++) {
    // Rotate which build goes first, so none always follows the same one's shutdown.
    const order = builds.map((_, k) => builds[(k + i) % builds.length]!);
    for (const [name, checkout] of order) runs[name]!.push(await startOnce(checkout));
  }
  const loadAfterStarts = uptimeText();
  const importMs: Record<string, Record<string, number>> = {};
  for (const [name, checkout] of builds) {
    importMs[name] = Object.fromEntries(
      Object.entries(HEAVY_IMPORTS)
        .filter(([pkg]) => pkg === 'livepipe' || name === 'this')
        .map(([pkg, code]) => [pkg, importCost(checkout, code, IMPORT_REPEATS)]),
    );
  }
  const summary = Object.fromEntries(
    builds.map(([name, checkout]) => [
      name,
      {
        checkout,
        commit: gitHead(checkout),
        originMs: spread(runs[name]!.map((r) => r.originMs)),
        bannerMs: spread(runs[name]!.map((r) => r.bannerMs)),
        perRun: runs[name]!.map((r) => ({ originMs: Math.round(r.originMs), bannerMs: Math.round(r.bannerMs) })),
      },
    ]),
  );
  return {
    runsPerBuild: RUNS,
    pollMs: POLL_MS,
    ...summary,
    // Positive: this checkout started that much sooner (medians).
    medianGainOverMs: Object.fromEntries(
      others.map(([name]) => [name, { origin: summary[name]!.originMs.median - summary.this!.originMs.median, banner: summary[name]!.bannerMs.median - summary.this!.bannerMs.median }]),
    ),
    importMs,
    importRepeats: IMPORT_REPEATS,
    load: { before: loadBefore, afterStarts: loadAfterStarts, after: uptimeText() },
  };
}

/** `label=/path,…` or a bare path (`base`) → [label, path] pairs. */
export function parseBases(spec: string | undefined): Array<[string, string]> {
  if (spec === undefined || spec.trim() === '') return [];
  return spec.split(',').map((item, k): [string, string] => {
    const eq = item.indexOf('=');
    if (eq < 0) return [k === 0 ? 'base' : `base${k + 1}`, item.trim()];
    return [item.slice(0, eq).trim(), item.slice(eq + 1).trim()];
  });
}

function gitHead(checkout: string): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: checkout, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown (not a git checkout)';
  }
}

// `npx tsx bench/serve-startup.bench.ts` runs it alone.
runIfMain(import.meta.url, run);
