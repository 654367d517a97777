/**
 * Glass-to-glass latency: the shared pieces (an hls.js viewer's figures, the contribution file, the
 * ffmpeg HLS muxer baseline on nginx) used by `ingest.bench.ts`, and the `latency` bench itself,
 * which lives in `latency-matrix.ts` (hls.js and Shaka, default and recommended configs, RTMP and
 * SRT live encoders, viewers at the start and joining later, against the ffmpeg HLS baseline).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { launchBrowser, median, startPlayer } from '../test/helpers/player/hls-player.js';
import { waitForHttp } from '../test/helpers/cli/livepipe-cli.js';
import { freePort } from '../test/helpers/ports.js';
import { runIfMain } from './run-if-main.js';

const SAMPLE_SECONDS = Number(process.env.LIVEPIPE_BENCH_LATENCY_SECONDS ?? 30);
const WARMUP_SECONDS = 6;

/** A 720p30 H.264 + AAC contribution file, like an encoder would push (2 s GOP, CBR-ish 4 Mbit/s). */
export function makeContribution(file: string, seconds: number): void {
  const result = spawnSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=1280x720:rate=30:duration=${seconds}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`,
    '-c:v', 'libx264', '-preset', 'veryfast', '-b:v', '4M', '-g', '60', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '128k', file,
  ]);
  if (result.status !== 0) throw new Error(`ffmpeg could not make the contribution file: ${result.stderr}`);
}

export interface LatencyFigures {
  medianSeconds: number;
  maxSeconds: number;
  minSeconds: number;
  samples: number;
  partsLoaded: number;
  fragmentsLoaded: number;
  stalls: number;
  fatalErrors: string[];
  /** hls.js's target latency at the end (PART-HOLD-BACK + 1 s per buffer stall it counted, ≤ TD). */
  targetLatencySeconds: number;
  /** Non-fatal player errors by kind (e.g. a start-up `bufferStalledError`). */
  nonFatalErrors: Record<string, number>;
}

/**
 * Plays `url` in a new page, warms up, then samples hls.js latency for `sampleSeconds`. Pass a
 * `browser` launched before the stream starts: Chromium's launch takes most of a core for a second or
 * two, and on this one machine it would starve the encoder exactly while an early joiner positions
 * itself (a viewer's browser runs elsewhere). Without one, a fresh Chromium is launched and closed.
 */
export async function measure(url: string, sampleSeconds = SAMPLE_SECONDS, shared?: Browser): Promise<LatencyFigures> {
  const browser = shared ?? (await launchBrowser());
  try {
    const player = await startPlayer(browser, url);
    try {
      // Warm-up is time spent playing (latency is sampled every 250 ms while playing), not media
      // time: a live stream's currentTime starts wherever the viewer joined.
      const warm = await player.waitFor((s) => s.latencySamples.length >= WARMUP_SECONDS * 4, 40_000);
      const from = warm.latencySamples.length;
      const done = await player.waitFor((s) => s.latencySamples.length >= from + sampleSeconds * 4, (sampleSeconds + 20) * 1000);
      const samples = done.latencySamples.slice(from);
      return {
        medianSeconds: round(median(samples)),
        maxSeconds: round(Math.max(...samples)),
        minSeconds: round(Math.min(...samples)),
        samples: samples.length,
        partsLoaded: done.partsLoaded,
        fragmentsLoaded: done.fragmentsLoaded,
        stalls: done.stalls,
        fatalErrors: done.fatalErrors,
        targetLatencySeconds: round(done.targetLatency),
        nonFatalErrors: countBy(done.nonFatalErrors),
      };
    } finally {
      await player.close();
    }
  } finally {
    if (shared === undefined) await browser.close();
  }
}

const round = (x: number): number => Math.round(x * 1000) / 1000;

function countBy(items: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[item] = (counts[item] ?? 0) + 1;
  return counts;
}

export async function staticServer(dir: string): Promise<{ url: string; stop(): Promise<void>; server: string }> {
  const port = await freePort();
  const nginx = spawnSync('sh', ['-c', 'command -v nginx']).status === 0;
  if (nginx) {
    const conf = join(dir, 'nginx.conf');
    await writeFile(
      conf,
      // As root, nginx workers run as nobody and cannot read a 0700 mkdtemp directory: keep root.
      `${process.getuid?.() === 0 ? 'user root; ' : ''}daemon off; worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/nginx-error.log;
events {}
http { access_log off; types { application/vnd.apple.mpegurl m3u8; video/mp4 mp4 m4s; }
  server { listen 127.0.0.1:${port}; root ${dir}/www;
    location / { add_header Access-Control-Allow-Origin * always; add_header Cache-Control no-cache always; } } }`,
    );
    const child = spawn('nginx', ['-c', conf, '-p', dir], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 300));
    return { url: `http://127.0.0.1:${port}`, server: 'nginx', stop: async () => void child.kill('SIGQUIT') };
  }
  const server = createServer(async (req, res) => {
    try {
      const body = await readFile(join(dir, 'www', (req.url ?? '/').split('?')[0]!.replace(/\.\./g, '')));
      res.writeHead(200, { 'access-control-allow-origin': '*', 'cache-control': 'no-cache' }).end(body);
    } catch {
      res.writeHead(404, { 'access-control-allow-origin': '*' }).end();
    }
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server: 'node', stop: () => new Promise((r) => server.close(() => r())) };
}

/** The baseline: ffmpeg's HLS muxer (1 s fMP4 segments, one 720p encode) behind nginx, played by hls.js. */
export async function ffmpegHlsLatency(contribution: string, dir: string, sampleSeconds = SAMPLE_SECONDS): Promise<LatencyFigures & { server: string }> {
  const www = join(dir, 'www');
  spawnSync('mkdir', ['-p', www]);
  const browser = await launchBrowser();
  const ffmpeg: ChildProcess = spawn('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-re', '-i', contribution,
    '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-b:v', '2500k', '-maxrate', '2700k', '-bufsize', '2500k',
    '-g', '30', '-keyint_min', '30', '-sc_threshold', '0', '-s', '1280x720', '-c:a', 'aac', '-b:a', '96k',
    '-f', 'hls', '-hls_time', '1', '-hls_list_size', '6', '-hls_segment_type', 'fmp4',
    '-hls_flags', 'delete_segments+program_date_time+independent_segments',
    '-hls_segment_filename', join(www, 's%d.m4s'), join(www, 'index.m3u8'),
  ], { stdio: 'ignore' });
  const server = await staticServer(dir);
  try {
    const url = `${server.url}/index.m3u8`;
    await waitForHttp(url, 30_000);
    return { ...(await measure(url, sampleSeconds, browser)), server: server.server };
  } finally {
    ffmpeg.kill('SIGINT');
    await server.stop();
    await browser.close();
  }
}

import { run } from './latency-matrix.js';

export { run };

runIfMain(import.meta.url, run);
