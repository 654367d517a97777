import { execFile, spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadLadder, resolveLadder } from '../src/ladder/ladder-loader.js';
import { EventBus } from '../src/core/event-bus.js';
import { silentLogger } from '../src/core/logger.js';
import { probeUrl } from '../src/transcode/input-probe.js';
import type { UrlInputSpec } from '../src/transcode/input-spec.js';
import { compileLadder } from '../src/transcode/ladder-compiler.js';
import { TranscoderSupervisor } from '../src/transcode/transcoder-supervisor.js';
import { runIfMain } from './run-if-main.js';

/**
 * Transcode benchmark (bounded: about two to three minutes on 2 cores).
 *
 * 1. Supervision overhead: the `default` ladder on the same generated 1080p30 + AAC file, encoded as
 *    fast as possible, (a) by the TranscoderSupervisor with its outputs consumed by Node and (b) by a
 *    bare ffmpeg with the identical argv whose output fds point at /dev/null. CPU seconds = ffmpeg's
 *    utime+stime (sampled from /proc/<pid>/stat every 50 ms until exit) + this Node process's CPU
 *    during the run. Two alternating pairs; ratio target ≤ 1.05.
 * 2. Speed of each shipped ladder relative to realtime (media seconds / wall seconds, not paced).
 * 3. How many `default` channels keep realtime concurrently: k channels read the file at native rate
 *    (`-re`, as live); a channel keeps up when ffmpeg's final speed is ≥ 0.95× (a paced 6 s run that
 *    keeps up reports ~0.97–1.0×; one that cannot falls to its unpaced speed). k grows from 1 until
 *    one falls behind (at most 3).
 */

const exec = promisify(execFile);
const SOURCE_SECONDS = 6;
/** A paced (`-re`) channel keeps up when ffmpeg's final speed is at least this (startup costs a few %). */
const REALTIME_THRESHOLD = 0.95;
const CLK_TCK = 100;

function cpuSecondsOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After "pid (comm) ", fields[0] is state (field 3): utime is field 14, stime field 15.
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** Samples a process's CPU seconds every 50 ms; `last` is the last value read before it exited. */
function sampleCpu(pidOf: () => number | undefined): { stop: () => number } {
  let last = 0;
  const timer = setInterval(() => {
    const pid = pidOf();
    if (pid === undefined) return;
    const v = cpuSecondsOf(pid);
    if (v !== undefined) last = v;
  }, 50);
  return {
    stop: () => {
      clearInterval(timer);
      return last;
    },
  };
}

function nodeCpuSeconds(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1e6;
}

async function generateSource(file: string): Promise<void> {
  await exec('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc2=size=1920x1080:rate=30[out0];sine=frequency=440:sample_rate=48000[out1]',
    '-t', String(SOURCE_SECONDS),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '18', '-g', '60', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '128k', '-f', 'mpegts', file,
  ]);
}

interface RunResult {
  ffmpegCpuSec: number;
  nodeCpuSec: number;
  totalCpuSec: number;
  wallSec: number;
  speed: number;
}

async function runSupervised(
  ladderName: string,
  input: UrlInputSpec,
  mediaSeconds: number,
): Promise<RunResult & { lastSpeed?: number; outTimeSec?: number }> {
  const { ladder } = await loadLadder(ladderName);
  const supervisor = new TranscoderSupervisor({
    channel: 'bench',
    ladder,
    input,
    bus: new EventBus(),
    logger: silentLogger(),
    stallTimeoutMs: 60_000,
    onRun: (run) => {
      for (const o of run.outputs) o.stream.on('data', () => undefined); // consumed, discarded
    },
  });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await supervisor.start();
  const sampler = sampleCpu(() => supervisor.state().pid);
  await supervisor.finished();
  const wallSec = (performance.now() - t0) / 1000;
  const ffmpegCpuSec = sampler.stop();
  const nodeCpuSec = nodeCpuSeconds(cpu0);
  const progress = supervisor.state().lastProgress;
  await supervisor.stop();
  return {
    ffmpegCpuSec,
    nodeCpuSec,
    totalCpuSec: ffmpegCpuSec + nodeCpuSec,
    wallSec,
    speed: mediaSeconds / wallSec,
    ...(progress?.speed !== undefined ? { lastSpeed: progress.speed } : {}),
    ...(progress?.outTimeSec !== undefined ? { outTimeSec: progress.outTimeSec } : {}),
  };
}

async function runBare(args: string[], outputFds: number[], mediaSeconds: number): Promise<RunResult> {
  const devnull = openSync('/dev/null', 'w');
  const stdio: Array<'ignore' | number> = ['ignore', devnull, devnull];
  for (let fd = 3; fd <= Math.max(...outputFds); fd++) stdio.push(devnull);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const child = spawn('ffmpeg', args, { stdio });
  const sampler = sampleCpu(() => child.pid);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  const wallSec = (performance.now() - t0) / 1000;
  const ffmpegCpuSec = sampler.stop();
  const nodeCpuSec = nodeCpuSeconds(cpu0);
  closeSync(devnull);
  if (code !== 0) throw new Error(`bare ffmpeg exited with ${code}`);
  return { ffmpegCpuSec, nodeCpuSec, totalCpuSec: ffmpegCpuSec + nodeCpuSec, wallSec, speed: mediaSeconds / wallSec };
}

const round = (n: number, digits = 3): number => Number(n.toFixed(digits));

export async function run(): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(join(tmpdir(), 'livepipe-bench-transcode-'));
  const started = performance.now();
  try {
    const file = join(dir, 'source-1080p30.ts');
    await generateSource(file);
    const input: UrlInputSpec = { kind: 'url', url: file, realtime: false };

    // 1. Supervised vs bare, identical argv, two alternating pairs.
    const { ladder } = await loadLadder('default');
    const probe = await probeUrl(input);
    const compiled = compileLadder(resolveLadder(ladder, probe), probe, input);
    const pairs: Array<{ bare: RunResult; supervised: Awaited<ReturnType<typeof runSupervised>> }> = [];
    const bareRun = (): Promise<RunResult> => runBare(compiled.args, compiled.outputs.map((o) => o.fd), SOURCE_SECONDS);
    const supervisedRun = (): ReturnType<typeof runSupervised> => runSupervised('default', input, SOURCE_SECONDS);
    // Alternate the order (bare first, then supervised first) so that drift in machine load cancels.
    {
      const bare = await bareRun();
      const supervised = await supervisedRun();
      pairs.push({ bare, supervised });
    }
    {
      const supervised = await supervisedRun();
      const bare = await bareRun();
      pairs.push({ bare, supervised });
    }
    const sum = (pick: (r: RunResult) => number, side: 'bare' | 'supervised'): number => pairs.reduce((s, p) => s + pick(p[side]), 0);
    const overhead = {
      runs: pairs.map((p) => ({
        bare: { ffmpegCpuSec: round(p.bare.ffmpegCpuSec), nodeCpuSec: round(p.bare.nodeCpuSec), wallSec: round(p.bare.wallSec) },
        supervised: { ffmpegCpuSec: round(p.supervised.ffmpegCpuSec), nodeCpuSec: round(p.supervised.nodeCpuSec), wallSec: round(p.supervised.wallSec) },
      })),
      bareCpuSec: round(sum((r) => r.totalCpuSec, 'bare')),
      supervisedCpuSec: round(sum((r) => r.totalCpuSec, 'supervised')),
      cpuRatio: round(sum((r) => r.totalCpuSec, 'supervised') / sum((r) => r.totalCpuSec, 'bare')),
      ffmpegOnlyCpuRatio: round(sum((r) => r.ffmpegCpuSec, 'supervised') / sum((r) => r.ffmpegCpuSec, 'bare')),
      target: '≤ 1.05',
    };

    // 2. Speed factor of every shipped ladder (not paced).
    // `wall`: media seconds / wall seconds including probe and spawn; `ffmpeg`: ffmpeg's reported speed.
    const speeds: Record<string, { wall: number; ffmpeg: number | undefined }> = {
      default: {
        wall: round(pairs.reduce((s, p) => s + p.supervised.speed, 0) / pairs.length, 2),
        ffmpeg: pairs[1]!.supervised.lastSpeed,
      },
    };
    for (const name of ['low-latency', 'constrained']) {
      const r = await runSupervised(name, input, SOURCE_SECONDS);
      speeds[name] = { wall: round(r.speed, 2), ffmpeg: r.lastSpeed };
    }

    // 3. Concurrent `default` channels at realtime.
    const liveInput: UrlInputSpec = { kind: 'url', url: file, realtime: true };
    const concurrency: Array<{ channels: number; speeds: number[]; allRealtime: boolean }> = [];
    let realtimeChannels = 0;
    for (let k = 1; k <= 3; k++) {
      const results = await Promise.all(
        Array.from({ length: k }, async () => {
          // ffmpeg's own speed (out_time / time since its transcode began): excludes probe and spawn.
          const r = await runSupervised('default', liveInput, SOURCE_SECONDS);
          return r.lastSpeed ?? r.speed;
        }),
      );
      const allRealtime = results.every((s) => s >= REALTIME_THRESHOLD);
      concurrency.push({ channels: k, speeds: results.map((s) => round(s, 2)), allRealtime });
      if (!allRealtime) break;
      realtimeChannels = k;
    }

    return {
      machine: { cpus: (await import('node:os')).availableParallelism(), loadavg1: round((await import('node:os')).loadavg()[0]!, 2) },
      source: { resolution: '1920x1080', fps: 30, seconds: SOURCE_SECONDS, audio: 'AAC 48 kHz stereo', container: 'mpegts' },
      supervisionOverhead: overhead,
      realtimeSpeed: speeds,
      concurrentDefaultChannelsAtRealtime: realtimeChannels,
      concurrency,
      benchWallSec: round((performance.now() - started) / 1000, 1),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

runIfMain(import.meta.url, run);
