/**
 * The packager during a live `default`-ladder run, into S3 (s3rver on loopback, in its own process so
 * its CPU is not counted as ours):
 *
 * - packager CPU as a fraction of ffmpeg CPU over a steady window: this Node process
 *   (`process.cpuUsage()` deltas, every thread: packager, upload queue, S3 SDK, libuv file I/O, GC
 *   and JIT threads, supervisor progress parsing) vs ffmpeg (`/proc/{pid}/stat` utime + stime).
 *   Target ≤ 3 %.
 * - upload latency per part (PUT to s3rver, timed around the driver call), p50/p99, over the window.
 *
 * The same run into a directory separates the S3 client's share of the packager's CPU. Its figure
 * includes the kernel's work for ~25 file creations, renames and deletions a second; on ext4 without
 * a journal (some VM images) creating a file scans the inodes deleted in the last minutes, which
 * alone costs from ~1 to over 10 ms of CPU a second here, varying with every process's file churn.
 *
 * Source: a 1920x1080 30 fps lavfi test pattern + tone read in real time: the contribution the default
 * ladder is designed for, so all four renditions (1080p…360p) and the audio run. On a 2-core machine
 * the encode may run below realtime; the ratio is CPU to CPU and stays meaningful.
 * `LIVEPIPE_BENCH_PACKAGER_SIZE=960x540` measures the smaller case (480p + 360p only).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { loadLadder } from '../src/ladder/ladder-loader.js';
import { EventBus } from '../src/core/event-bus.js';
import { silentLogger } from '../src/core/logger.js';
import { ChannelPackager } from '../src/package/channel-packager.js';
import type { ObjectStorage, PutOptions } from '../src/storage/object-storage.js';
import { FsStorage } from '../src/storage/fs-storage.js';
import { S3Storage } from '../src/storage/s3-storage.js';
import { UploadQueue } from '../src/storage/upload-queue.js';
import { TranscoderSupervisor } from '../src/transcode/transcoder-supervisor.js';
import { ForwardingStorage } from '../test/helpers/storage/forwarding-storage.js';
import { runIfMain } from './run-if-main.js';

const WINDOW_SECONDS = 24;
const SOURCE_SIZE = process.env.LIVEPIPE_BENCH_PACKAGER_SIZE ?? '1920x1080';
const SOURCE = `testsrc2=size=${SOURCE_SIZE}:rate=30[out0];sine=frequency=440:sample_rate=48000[out1]`;
const REPO = fileURLToPath(new URL('../', import.meta.url));

/** s3rver in a child Node process; resolves with its endpoint once it listens. */
async function startS3rverProcess(bucket: string): Promise<{ endpoint: string; child: ChildProcess; stop(): Promise<void> }> {
  const script = `
    import S3rver from 's3rver';
    import { mkdtempSync, rmSync } from 'node:fs';
    import { tmpdir } from 'node:os';
    import { join } from 'node:path';
    const directory = mkdtempSync(join(tmpdir(), 'livepipe-bench-s3rver-'));
    const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: ${JSON.stringify(bucket)} }] });
    const { port } = await server.run();
    process.stdout.write(JSON.stringify({ port }) + '\\n');
    process.stdin.resume();
    process.stdin.on('end', async () => { await server.close(); rmSync(directory, { recursive: true, force: true }); process.exit(0); });
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO, stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) resolve((JSON.parse(line) as { port: number }).port);
    });
    child.once('exit', (code) => reject(new Error(`s3rver exited with ${code}`)));
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    child,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.stdin!.end();
      }),
  };
}

/** Times every part PUT (the driver call, as the upload queue's attempts see it). */
class TimedStorage extends ForwardingStorage {
  readonly partPuts: Array<{ at: number; ms: number }> = [];
  override async put(key: string, body: Uint8Array, options: PutOptions): Promise<void> {
    const started = performance.now();
    await this.inner.put(key, body, options);
    if (/\/part-\d+-\d+\.m4s$/.test(key)) this.partPuts.push({ at: started, ms: performance.now() - started });
  }
}

/** utime + stime of a process, seconds. */
async function processCpuSeconds(pid: number, ticksPerSecond: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces) — utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const round = (n: number, digits = 3): number => Math.round(n * 10 ** digits) / 10 ** digits;

/** One live run into `inner` storage: CPU of both sides and part upload latencies over the window (exported for profiling one variant). */
export async function measure(inner: ObjectStorage, ticksPerSecond: number): Promise<Record<string, unknown>> {
  const logger = silentLogger();
  const storage = new TimedStorage(inner);
  const bus = new EventBus();
  const uploads = new UploadQueue(storage, bus, logger, { channel: 'bench' });
  const packager = new ChannelPackager({ channel: 'bench', storage, uploads, logger });
  const { ladder } = await loadLadder('default');
  const supervisor = new TranscoderSupervisor({
    channel: 'bench',
    ladder,
    input: { kind: 'url', url: SOURCE, format: 'lavfi', realtime: true, maxDurationSec: 120 },
    bus,
    logger,
    onRun: (r) => packager.attachRun(r),
  });
  const lastMsn = (): number => packager.positions().find((p) => p.rendition === '360p')?.lastMsn ?? -1;
  await storage.start();
  await packager.start();
  try {
    await supervisor.start();
    // Steady state: the first segments are out (encoder warmed up, connections open).
    const warmDeadline = Date.now() + 30_000;
    while (lastMsn() < 1 && Date.now() < warmDeadline) await new Promise((r) => setTimeout(r, 100));
    if (lastMsn() < 1) throw new Error('no segment after 30 s: the encoder is not running');
    const pid = supervisor.state().pid!;
    const msn0 = lastMsn();
    const node0 = process.cpuUsage();
    const ffmpeg0 = await processCpuSeconds(pid, ticksPerSecond);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, WINDOW_SECONDS * 1000));
    const node1 = process.cpuUsage(node0);
    const ffmpeg1 = await processCpuSeconds(pid, ticksPerSecond);
    const t1 = performance.now();
    if (supervisor.state().pid !== pid) throw new Error('ffmpeg restarted during the window');
    const wall = (t1 - t0) / 1000;
    const nodeCpu = (node1.user + node1.system) / 1e6;
    const ffmpegCpu = ffmpeg1 - ffmpeg0;
    const window = storage.partPuts.filter((p) => p.at >= t0 && p.at <= t1).map((p) => p.ms).sort((a, b) => a - b);
    return {
      windowSeconds: round(wall, 1),
      segmentsInWindow: lastMsn() - msn0,
      'ffmpeg.cpuSeconds': round(ffmpegCpu),
      'ffmpeg.cores': round(ffmpegCpu / wall, 2),
      'packager.cpuSeconds': round(nodeCpu),
      // Kernel time: pipe reads, file or socket writes (for the filesystem driver, file creation).
      'packager.systemCpuSeconds': round(node1.system / 1e6),
      'packager.cpuPercentOfCore': round((100 * nodeCpu) / wall, 2),
      'packager.cpuFractionOfFfmpeg': round(nodeCpu / ffmpegCpu, 4),
      'packager.cpuTargetMet(<=3%)': nodeCpu / ffmpegCpu <= 0.03,
      'partUpload.count': window.length,
      'partUpload.p50Ms': round(percentile(window, 50), 2),
      'partUpload.p99Ms': round(percentile(window, 99), 2),
      'partUpload.maxMs': round(window.at(-1) ?? NaN, 2),
      uploadFailures: uploads.stats().failures,
    };
  } finally {
    await supervisor.stop();
    await packager.close();
    await uploads.close({ drainTimeoutMs: 10_000 });
    await storage.close();
    bus.removeAllListeners();
  }
}

export async function run(): Promise<Record<string, unknown>> {
  const ticksPerSecond = Number((await promisify(execFile)('getconf', ['CLK_TCK'])).stdout.trim()) || 100;
  const s3 = await startS3rverProcess('livepipe-bench');
  let viaS3: Record<string, unknown>;
  try {
    const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
    viaS3 = await measure(new S3Storage({ bucket: 'livepipe-bench', endpoint: s3.endpoint, forcePathStyle: true, credentials }, silentLogger()), ticksPerSecond);
  } finally {
    await s3.stop();
  }
  // The same run into a directory: the packager without the S3 SDK's cost (signing, HTTP).
  const dir = await mkdtemp(join(tmpdir(), 'livepipe-bench-fs-'));
  let viaFs: Record<string, unknown>;
  try {
    viaFs = await measure(new FsStorage({ root: dir }, silentLogger()), ticksPerSecond);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return {
    ladder: `default ladder on a ${SOURCE_SIZE} 30 fps source (renditions above the source are dropped) + audio`,
    s3rver: viaS3,
    filesystem: viaFs,
  };
}

// `npx tsx bench/packager-live.bench.ts` runs it alone.
runIfMain(import.meta.url, run);
