/**
 * Glass-to-glass latency as hls.js measures it (`Date.now() - hls.playingDate`), side by side in one
 * run on the same 720p30 contribution stream (a generated file with a moving pattern and a tone, read
 * at native rate):
 *
 * 1. livepipe: `livepipe package --ladder low-latency --origin-port …` (a 3-rendition transcoding
 *    ladder, our packager, filesystem storage, embedded origin);
 * 2. baseline: ffmpeg's own HLS muxer, 1 s fMP4 segments of one 720p encode, served as static files
 *    by nginx (or by a small Node static server when nginx is missing).
 *
 * Each player warms up, then samples latency every 250 ms for `SAMPLE_SECONDS`. livepipe is watched by
 * an early joiner and by a viewer who joins the running channel later; the PDT anchor of a file
 * input is ffmpeg's spawn (before it reads the first frame), so livepipe's figures err high. Chromium
 * is launched before each stream starts (see `measure`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { launchBrowser, median, startPlayer } from '../test/helpers/player/hls-player.js';
import { runCli, waitForHttp } from '../test/helpers/cli/livepipe-cli.js';
import { freePort } from '../test/helpers/ports.js';

const SAMPLE_SECONDS = Number(process.env.LIVEPIPE_BENCH_LATENCY_SECONDS ?? 30);
const WARMUP_SECONDS = 6;
/** Viewers who join the running channel one after the other (see `livepipeLatency`). */
const LATER_VIEWERS = Number(process.env.LIVEPIPE_BENCH_LATENCY_LATER_VIEWERS ?? 3);

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

async function staticServer(dir: string): Promise<{ url: string; stop(): Promise<void>; server: string }> {
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

/**
 * Viewers of one `livepipe package` run: one starts as soon as the channel is playable (an early
 * joiner, who keeps whatever the stream's first seconds cost), then `LATER_VIEWERS` one after the
 * other join the running channel (as most viewers do). hls.js's default config never changes its
 * playback rate, so a viewer keeps the latency it started with: one viewer is one sample of start-up
 * timing, and the later viewers' figure is the median of their medians (each is listed too).
 */
async function livepipeLatency(contribution: string, dataDir: string): Promise<{ early: LatencyFigures; joinedLater: LatencyFigures & { viewerMedians: number[] } }> {
  const port = await freePort();
  // The early joiner's browser is up before the channel starts, as a viewer waiting on a page.
  const browser = await launchBrowser();
  const cli = runCli([
    'package', '--input', contribution, '--channel', 'bench', '--ladder', 'low-latency',
    '--data-dir', dataDir, '--origin-port', String(port), '--duration', String((1 + LATER_VIEWERS) * (SAMPLE_SECONDS + 30) + 60),
  ], { LIVEPIPE_LOG_LEVEL: 'warn' });
  try {
    const url = `http://127.0.0.1:${port}/live/bench/master.m3u8`;
    await waitForHttp(url, 30_000);
    const early = await measure(url, SAMPLE_SECONDS, browser);
    const later: LatencyFigures[] = [];
    for (let i = 0; i < LATER_VIEWERS; i++) later.push(await measure(url, SAMPLE_SECONDS, browser));
    const viewerMedians = later.map((f) => f.medianSeconds);
    const middle = later.find((f) => f.medianSeconds === median(viewerMedians)) ?? later[0]!;
    return { early, joinedLater: { ...middle, medianSeconds: median(viewerMedians), maxSeconds: Math.max(...later.map((f) => f.maxSeconds)), viewerMedians } };
  } finally {
    await cli.stop('SIGINT');
    await browser.close();
  }
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

export async function run(): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(join(tmpdir(), 'livepipe-bench-latency-'));
  try {
    const contribution = join(dir, 'contribution-720p30.mp4');
    // Long enough for every livepipe viewer (warm-up and sampling, ~45 s each) and some slack.
    makeContribution(contribution, (1 + LATER_VIEWERS) * (SAMPLE_SECONDS + 20) + 60);
    const livepipe = await livepipeLatency(contribution, join(dir, 'data'));
    const ffmpegHls = await ffmpegHlsLatency(contribution, join(dir, 'ffmpeg'));
    return {
      input: '720p30 H.264/AAC file read at native rate',
      sampleSeconds: SAMPLE_SECONDS,
      livepipeLowLatencyLadder: livepipe.early,
      livepipeLowLatencyLadderJoinedLater: livepipe.joinedLater,
      ffmpegHls1sSegments: ffmpegHls,
      target: 'livepipe median ≤ 1.0 s (reference LL-HLS packager without transcoding: 1.25 s)',
      ratioToFfmpegHls: round(livepipe.early.medianSeconds / ffmpegHls.medianSeconds),
      ratioToFfmpegHlsJoinedLater: round(livepipe.joinedLater.medianSeconds / ffmpegHls.medianSeconds),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  run().then((r) => console.log(JSON.stringify(r, null, 2)));
}
