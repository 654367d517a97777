import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startServeFixture, type ServeFixture } from '../test/helpers/serve/serve-fixture.js';
import { runIfMain } from './run-if-main.js';

/**
 * Admission before/after (issue 19): two `default` channels published together into one `serve` on
 * this node, each fed the same 1080p30 clip at realtime (`-re`, looped without re-encoding, so only
 * the node's encoders can fall behind).
 * - before: cost-based admission off (`capacity.enabled: false`, what livepipe did until now: only
 *   `maxChannels` counts), both channels run;
 * - after: the default capacity (all cores × 0.9, costs seeded from ladders/costs.json and measured).
 * Each channel is watched for OBSERVE_S seconds after the second publish: its state, edge lag behind
 * arrival (its growth rate over the last 30 s says whether it keeps realtime: at realtime the lag is
 * flat), windowed speed, the `behind` flag and its measured cost. Rounds alternate before/after
 * (ROUNDS of each), side by side on the same machine, which other engineers' work loads: the load
 * average is recorded with every round.
 */

const exec = promisify(execFile);
const KEY = 'admission-bench-key-0123456789';
const OBSERVE_S = positiveIntegerEnv('ADMISSION_OBSERVE_S', 50);
/** Rounds of each mode (before, after), alternating: `ADMISSION_ROUNDS=3` for the spread. */
const ROUNDS = positiveIntegerEnv('ADMISSION_ROUNDS', 2);
/** A channel keeps realtime when its edge lag grows by less than this many seconds per second. */
const KEEPS_UP_SLOPE = 0.01;

interface Sample {
  t: number;
  state: string;
  lag?: number;
  speed?: number;
  behind?: boolean;
  cores?: number;
}

interface ChannelResult {
  channel: string;
  admitted: boolean;
  refusal?: string;
  finalState: string;
  stateReason?: string;
  lagAt15s?: number;
  lagAtEnd?: number;
  /** Seconds of lag gained per second over the last 30 s (0 = realtime). */
  lagSlope?: number;
  speedAtEnd?: number;
  behindAtEnd?: boolean;
  measuredCores?: number;
  keepsRealtime: boolean;
}

/** A positive integer from the environment; a typo fails the run instead of silently running 0 rounds (NaN). */
function positiveIntegerEnv(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got "${text}"`);
  return value;
}

const round = (n: number | undefined, d = 3): number | undefined => (n === undefined ? undefined : Math.round(n * 10 ** d) / 10 ** d);

function slope(samples: Sample[]): number | undefined {
  const points = samples.filter((s) => s.lag !== undefined);
  if (points.length < 5) return undefined;
  const n = points.length;
  const mt = points.reduce((a, p) => a + p.t, 0) / n;
  const ml = points.reduce((a, p) => a + p.lag!, 0) / n;
  const cov = points.reduce((a, p) => a + (p.t - mt) * (p.lag! - ml), 0);
  const varT = points.reduce((a, p) => a + (p.t - mt) ** 2, 0);
  return varT > 0 ? cov / varT : undefined;
}

function publishClip(serve: ServeFixture, channel: string, clip: string): ChildProcess {
  return spawn('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', clip, '-c', 'copy', '-t', String(OBSERVE_S + 60), '-f', 'flv', serve.rtmpUrl(channel, KEY)], {
    stdio: 'ignore',
  });
}

async function oneRound(mode: 'before' | 'after', clip: string): Promise<{ mode: string; loadavg1: [number, number]; channels: ChannelResult[] }> {
  const load0 = os.loadavg()[0]!;
  const serve = await startServeFixture({
    ...(mode === 'before' ? { capacity: { enabled: false } } : {}),
    channels: [
      { id: 'first', ladder: 'default', key: KEY },
      { id: 'second', ladder: 'default', key: KEY },
    ],
  });
  const publishers: ChildProcess[] = [];
  const samples = new Map<string, Sample[]>([
    ['first', []],
    ['second', []],
  ]);
  try {
    publishers.push(publishClip(serve, 'first', clip));
    const deadline = Date.now() + 30_000;
    while (serve.state('first') !== 'live' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    publishers.push(publishClip(serve, 'second', clip));
    const t0 = Date.now();
    while (Date.now() - t0 < OBSERVE_S * 1000) {
      await new Promise((r) => setTimeout(r, 1000));
      const t = (Date.now() - t0) / 1000;
      for (const id of ['first', 'second']) {
        const v = serve.handle.manager.get(id)!;
        const rt = v.transcoder.realtime;
        samples.get(id)!.push({ t, state: v.state, lag: rt?.edgeLagSeconds, speed: rt?.speed, behind: rt?.behind, cores: rt?.cores });
      }
    }
    const channels = ['first', 'second'].map((id): ChannelResult => {
      const s = samples.get(id)!;
      const v = serve.handle.manager.get(id)!;
      const live = s.filter((x) => x.lag !== undefined);
      const last = live.at(-1);
      const tail = slope(s.filter((x) => x.t >= OBSERVE_S - 30));
      const refusal = /^publish refused: (.*)$/.exec(v.stateReason ?? '')?.[1];
      const admitted = refusal === undefined && live.length > 0;
      return {
        channel: id,
        admitted,
        ...(refusal !== undefined ? { refusal } : {}),
        finalState: v.state,
        ...(v.stateReason !== undefined ? { stateReason: v.stateReason.slice(0, 200) } : {}),
        lagAt15s: round(live.find((x) => x.t >= 15)?.lag, 2),
        lagAtEnd: round(last?.lag, 2),
        lagSlope: round(tail),
        speedAtEnd: round(last?.speed, 3),
        behindAtEnd: last?.behind,
        measuredCores: round([...s].reverse().find((x) => x.cores !== undefined)?.cores, 3),
        keepsRealtime: admitted && tail !== undefined && tail < KEEPS_UP_SLOPE && last?.behind !== true,
      };
    });
    return { mode, loadavg1: [round(load0, 2)!, round(os.loadavg()[0]!, 2)!], channels };
  } finally {
    for (const p of publishers) p.kill('SIGKILL');
    await serve.close();
  }
}

export async function run(): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(join(tmpdir(), 'livepipe-admission-bench-'));
  try {
    const clip = join(dir, 'source-1080p30.flv');
    await exec('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=1920x1080:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-t', '6', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '60', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '128k', '-f', 'flv', clip]);
    const rounds: Array<Awaited<ReturnType<typeof oneRound>>> = [];
    for (let i = 0; i < ROUNDS; i++) {
      for (const mode of ['before', 'after'] as const) {
        process.stderr.write(`admission: round ${i + 1} ${mode}…\n`);
        rounds.push(await oneRound(mode, clip));
      }
    }
    const summary = (mode: string) => {
      const rs = rounds.filter((r) => r.mode === mode);
      return {
        runs: rs.length,
        channelsAdmitted: rs.map((r) => r.channels.filter((c) => c.admitted).length),
        channelsAtRealtime: rs.map((r) => r.channels.filter((c) => c.keepsRealtime).length),
        lagSlopes: rs.map((r) => r.channels.map((c) => c.lagSlope)),
        measuredCores: rs.map((r) => r.channels.map((c) => c.measuredCores)),
      };
    };
    const report = { machine: { cpus: os.availableParallelism() }, roundsOfEachMode: ROUNDS, observeSeconds: OBSERVE_S, before: summary('before'), after: summary('after'), rounds };
    await mkdir(new URL('./results/', import.meta.url), { recursive: true });
    await writeFile(new URL('./results/admission.json', import.meta.url), `${JSON.stringify(report, null, 2)}\n`);
    const rows = rounds.flatMap((r, i) =>
      r.channels.map(
        (c) =>
          `| ${Math.floor(i / 2) + 1} | ${r.mode} | ${r.loadavg1.join(' → ')} | ${c.channel} | ${c.admitted ? 'yes' : c.refusal !== undefined ? `refused: ${c.refusal}` : `${c.finalState}: ${c.stateReason ?? ''}`} | ${c.lagAt15s ?? ''} | ${c.lagAtEnd ?? ''} | ${c.lagSlope ?? ''} | ${c.speedAtEnd ?? ''} | ${c.behindAtEnd ?? ''} | ${c.measuredCores ?? ''} | ${c.keepsRealtime ? 'yes' : 'no'} |`,
      ),
    );
    await writeFile(
      new URL('./results/admission.raw.md', import.meta.url),
      [
        `Run ${new Date().toISOString()}; ${os.availableParallelism()} cores; ${ROUNDS} round(s) of each mode; observe ${OBSERVE_S} s after the second publish`,
        '',
        '| round | mode | load avg 1m | channel | admitted | lag @15 s | lag @end | lag slope (s/s, last 30 s) | speed @end | behind @end | measured cores | keeps realtime |',
        '|---|---|---|---|---|---|---|---|---|---|---|---|',
        ...rows,
        '',
      ].join('\n'),
    );
    return report;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

runIfMain(import.meta.url, run);
