/**
 * On-air figures (issue 17), each measured side by side against its baseline in the same run:
 * - API cue → DATERANGE: from `POST /cues` (at = now) to the EXT-X-DATERANGE being listed in a media
 *   playlist read over HTTP, on a real serve with an ffmpeg RTMP publisher (the `low-latency` ladder),
 *   and how far after the requested instant the range starts (it waits for the next segment boundary);
 * - the keyframe at a splice, for real (`markedSplice`): a serve with two `constrained-marked` channels
 *   fed the same ffmpeg RTMP test pattern (10 s source GOP); an API cue on one of them keys its splice
 *   frame mid-segment and cuts a segment there. The 360p bytes of the 2 s grid window holding the
 *   splice over the mean of the two grid windows on each side, against the same ratio in the channel
 *   without a cue at the same time (the encoder's own variation), and the keyframe's size against the
 *   median frame of its window;
 * - the forced keyframe, as x264 alone would cost it (`forcedKeyframe`, a reference): bytes of the 2 s
 *   GOP window holding a keyframe forced mid-GOP, against the same window encoded without it;
 * - CPU of captions passthrough (the same source with and without CEA-608 SEI, two renditions), from
 *   ffmpeg's `-benchmark` user+system time;
 * - CPU of a second audio language: the ladder as livepipe compiles it for a two-language source
 *   against the same source as a one-language channel, spawned like the transcoder spawns it.
 * Short form: LIVEPIPE_BENCH_ONAIR_ONLY=secondLanguage (or markedSplice) LIVEPIPE_BENCH_ONAIR_ROUNDS=1
 * LIVEPIPE_BENCH_ONAIR_LANGUAGE_SECONDS=3 LIVEPIPE_BENCH_ONAIR_LADDER=low-latency.
 * Every comparison alternates baseline and variant, `ROUNDS` times; medians with min–max.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { parseMediaPlaylist } from '../src/hls/playlist-parser.js';
import type { MediaPlaylist } from '../src/hls/playlist-model.js';
import { loadLadder, resolveLadder } from '../src/ladder/ladder-loader.js';
import { probeUrl } from '../src/transcode/input-probe.js';
import type { InputSpec } from '../src/transcode/input-spec.js';
import { compileLadder, type CompiledLadder } from '../src/transcode/ladder-compiler.js';
import { renderCaptionedSource } from '../test/helpers/transcode/captioned-source.js';
import { originText, publishTestPattern, startServeFixture } from '../test/helpers/serve/serve-fixture.js';
import { waitFor } from '../test/helpers/wait.js';
import { runIfMain } from './run-if-main.js';

const exec = promisify(execFile);
const ROUNDS = Number(process.env.LIVEPIPE_BENCH_ONAIR_ROUNDS ?? 3);
/** Media seconds and ladder of the second-language comparison. */
const LANGUAGE_SECONDS = Number(process.env.LIVEPIPE_BENCH_ONAIR_LANGUAGE_SECONDS ?? 10);
const LANGUAGE_LADDER = process.env.LIVEPIPE_BENCH_ONAIR_LADDER ?? 'default';
/** Comma-separated parts to run (apiCue, markedSplice, forcedKeyframe, captions, secondLanguage); default all. */
const ONLY = process.env.LIVEPIPE_BENCH_ONAIR_ONLY?.split(',');
const KEY = 'onair-bench-key-0123456789';

function stats(values: number[]): { median: number; min: number; max: number; n: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  const round = (v: number) => Math.round(v * 1000) / 1000;
  return { median: round(median), min: round(sorted[0]!), max: round(sorted[sorted.length - 1]!), n: values.length };
}

/** user + system CPU seconds of one ffmpeg run (`-benchmark`). */
async function cpuSeconds(args: string[]): Promise<number> {
  const { stderr } = await exec('ffmpeg', ['-hide_banner', '-benchmark', '-y', ...args], { maxBuffer: 16 * 1024 * 1024 });
  const m = /utime=([\d.]+)s stime=([\d.]+)s/.exec(stderr);
  if (m === null) throw new Error(`no -benchmark line: ${stderr.slice(-300)}`);
  return Number(m[1]) + Number(m[2]);
}

/** Two video renditions as the ladder encodes them (split, scale, x264 veryfast, 2 s GOP). */
const LADDER_VIDEO = [
  '-filter_complex', '[0:v:0]split=2[s0][s1];[s0]scale=640:360,setsar=1,format=yuv420p[v0];[s1]scale=426:240,setsar=1,format=yuv420p[v1]',
  '-map', '[v0]', '-c:v', 'libx264', '-preset', 'veryfast', '-b:v', '800k', '-g', '60', '-sc_threshold', '0', '-f', 'null', '-',
  '-map', '[v1]', '-c:v', 'libx264', '-preset', 'veryfast', '-b:v', '400k', '-g', '60', '-sc_threshold', '0', '-f', 'null', '-',
];

async function apiCueLatency(): Promise<Record<string, unknown>> {
  const serve = await startServeFixture();
  try {
    await serve.api('POST', '/api/v1/channels', { id: 'onair', ladder: 'low-latency', key: KEY });
    publishTestPattern(serve, 'onair', KEY);
    await waitFor(async () => (await originText(serve, '/live/onair/360p/playlist.m3u8')) ?? undefined, { timeoutMs: 60_000, message: 'live' });
    const listedMs: number[] = [];
    const offsetMs: number[] = [];
    for (let i = 0; i < ROUNDS * 2; i++) {
      const type = i % 2 === 0 ? 'out' : 'in';
      const at = Date.now();
      const res = await serve.api('POST', '/api/v1/channels/onair/cues', type === 'out' ? { type, durationSeconds: 30 } : { type });
      const id: string = res.json.id;
      const range = await waitFor(
        async () => {
          const text = await originText(serve, '/live/onair/360p/playlist.m3u8');
          const r = text === undefined ? undefined : parseMediaPlaylist(text).dateRanges?.find((d) => d.id === id && (type === 'out' || d.scte35In !== undefined));
          return r;
        },
        { timeoutMs: 30_000, intervalMs: 20, message: 'DATERANGE listed' },
      );
      listedMs.push(Date.now() - at);
      offsetMs.push((type === 'out' ? range!.startDate : range!.startDate + 1000 * range!.duration!) - at);
      await new Promise((r) => setTimeout(r, 1500));
    }
    return { cueToListedMs: stats(listedMs), spliceToBoundaryMs: stats(offsetMs), ladder: 'low-latency (1 s segments)' };
  } finally {
    await serve.close();
  }
}

/** Bytes and frame sizes of segments served by a serve's origin (fetched once each). */
class SegmentBytes {
  private readonly cache = new Map<string, Buffer>();
  constructor(private readonly base: string) {}

  async get(uri: string): Promise<Buffer> {
    let bytes = this.cache.get(uri);
    if (bytes === undefined) {
      const res = await fetch(`${this.base}/${uri}`);
      if (res.status !== 200) throw new Error(`${this.base}/${uri}: ${res.status}`);
      bytes = Buffer.from(await res.arrayBuffer());
      this.cache.set(uri, bytes);
    }
    return bytes;
  }

  /** Bytes of the segments starting in [from, to) (epoch ms, program date-times). */
  async window(model: MediaPlaylist, from: number, to: number): Promise<number> {
    let total = 0;
    for (const s of model.segments) if (s.programDateTime >= from - 2 && s.programDateTime < to - 2) total += (await this.get(s.uri)).byteLength;
    return total;
  }
}

/** Packet sizes of a stored video segment (init + segment), in decode order. */
async function packetSizes(dir: string, init: Buffer, segment: Buffer): Promise<number[]> {
  const file = join(dir, 'splice-seg.mp4');
  await writeFile(file, Buffer.concat([init, segment]));
  const { stdout } = await exec('ffprobe', ['-v', 'error', '-select_streams', 'v', '-show_entries', 'packet=size', '-of', 'csv=p=0', file], { maxBuffer: 16 * 1024 * 1024 });
  return stdout.split('\n').filter(Boolean).map(Number);
}

/**
 * The real keyframe at a splice (`keyframes: marked`): see the header. Rounds are 10 s apart, so no
 * window of a round holds the previous round's splice.
 */
async function markedSpliceCost(dir: string): Promise<Record<string, unknown>> {
  const serve = await startServeFixture();
  const channels = ['cue', 'plain'] as const;
  try {
    for (const id of channels) {
      await serve.api('POST', '/api/v1/channels', { id, ladder: 'constrained-marked', key: KEY });
      serve.publish(serve.rtmpUrl(id, KEY), 'flv', { seconds: 600, outputOptions: ['-g', '300'] });
    }
    const playlist = async (id: string): Promise<MediaPlaylist | undefined> => {
      const text = await originText(serve, `/live/${id}/360p/playlist.m3u8`);
      return text === undefined ? undefined : parseMediaPlaylist(text);
    };
    for (const id of channels) await waitFor(() => playlist(id), { until: (m) => (m?.segments.length ?? 0) >= 3, timeoutMs: 60_000, message: `${id} live` });
    const bytes = { cue: new SegmentBytes(`${serve.live('cue')}/360p`), plain: new SegmentBytes(`${serve.live('plain')}/360p`) };
    const withCue: number[] = [];
    const control: number[] = [];
    const keyframeOverMedianFrame: number[] = [];
    const startOffsetMs: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      // Mid-way between two 2 s grid instants, at least 4 s ahead (two windows before it are listed by then).
      const grid = (await playlist('cue'))!.segments[0]!.programDateTime;
      const at = grid + 2000 * Math.ceil((Date.now() + 4000 - grid - 1000) / 2000) + 1000;
      const res = await serve.api('POST', '/api/v1/channels/cue/cues', { type: 'out', durationSeconds: 30, at: new Date(at).toISOString() });
      if (res.status !== 202) throw new Error(`cue refused: ${res.status}`);
      const id: string = res.json.id;
      const listedAfter = (m: MediaPlaylist | undefined) => m !== undefined && m.segments.some((s) => s.programDateTime >= at + 5000);
      const cueModel = (await waitFor(() => playlist('cue'), { until: listedAfter, timeoutMs: 30_000, message: 'segments after the splice' }))!;
      const plainModel = (await waitFor(() => playlist('plain'), { until: listedAfter, timeoutMs: 30_000, message: 'plain segments' }))!;
      const start = cueModel.dateRanges?.find((r) => r.id === id)?.startDate;
      if (start === undefined) throw new Error('no DATERANGE for the cue');
      startOffsetMs.push(start - at);
      // The grid window holding the splice, against the windows around it (2 before, 2 after).
      const ratio = async (channel: 'cue' | 'plain', model: MediaPlaylist, center: number): Promise<number> => {
        const slot = (from: number) => bytes[channel].window(model, from, from + 2000);
        const around = await Promise.all([center - 5000, center - 3000, center + 1000, center + 3000].map(slot));
        return (await slot(center - 1000)) / (around.reduce((a, b) => a + b, 0) / around.length);
      };
      withCue.push(await ratio('cue', cueModel, at));
      // The plain channel's own grid window nearest the same time.
      const plainGrid = plainModel.segments[0]!.programDateTime;
      const plainCenter = plainGrid + 2000 * Math.round((at - 1000 - plainGrid) / 2000) + 1000;
      control.push(await ratio('plain', plainModel, plainCenter));
      const splice = cueModel.segments.find((s) => Math.abs(s.programDateTime - start) <= 2)!;
      const sizes = await packetSizes(dir, await bytes.cue.get(splice.mapUri), await bytes.cue.get(splice.uri));
      const median = [...sizes].sort((a, b) => a - b)[Math.floor(sizes.length / 2)]!;
      keyframeOverMedianFrame.push(sizes[0]! / median);
      await new Promise((r) => setTimeout(r, 10_000 - Math.min(10_000, Date.now() - at)));
    }
    return {
      windowWithSpliceOverNeighbours: stats(withCue),
      sameRatioWithoutCue: stats(control),
      spliceKeyframeOverMedianFrame: stats(keyframeOverMedianFrame),
      startDateMinusSpliceMs: stats(startOffsetMs),
      setup: 'constrained-marked 360p (800k, maxrate 880k), 640x360 30 fps testsrc2 over RTMP, source GOP 10 s; 2 s windows on the grid',
    };
  } finally {
    await serve.close();
  }
}

async function forcedKeyframeCost(dir: string, source: string): Promise<Record<string, unknown>> {
  const windowBytes = async (keyframes: string): Promise<number> => {
    const out = join(dir, 'kf.mp4');
    await exec('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-i', source, '-an', '-c:v', 'libx264', '-preset', 'veryfast', '-b:v', '800k', '-maxrate', '880k', '-bufsize', '1200k', '-g', '60', '-sc_threshold', '0', '-force_key_frames', keyframes, out]);
    const { stdout } = await exec('ffprobe', ['-v', 'error', '-select_streams', 'v', '-show_entries', 'packet=pts_time,size', '-of', 'csv=p=0', out], { maxBuffer: 16 * 1024 * 1024 });
    return stdout.split('\n').filter(Boolean).map((l) => l.split(',')).filter(([t]) => Number(t) >= 6 && Number(t) < 8).reduce((sum, [, size]) => sum + Number(size), 0);
  };
  const regular = Array.from({ length: 10 }, (_, i) => i * 2).join(',');
  const ratios: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const without = await windowBytes(regular);
    const withCue = await windowBytes(`${regular},7.3`);
    ratios.push(withCue / without);
  }
  return { gopWindowBytesWithForcedKeyframeOverWithout: stats(ratios), window: '6–8 s, keyframe forced at 7.3 s, 640x360 800k x264 veryfast' };
}

async function captionsCpu(dir: string): Promise<Record<string, unknown>> {
  const plain = join(dir, 'plain.mp4');
  const captioned = join(dir, 'cc.mp4');
  await renderCaptionedSource(captioned, { width: 1280, height: 720, fps: 30, seconds: 10, format: 'mp4', text: 'CAPTION COST' });
  await exec('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-i', captioned, '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '30', '-a53cc', '0', '-c:a', 'copy', plain]);
  const ratios: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const base = await cpuSeconds(['-loglevel', 'info', '-i', plain, ...LADDER_VIDEO]);
    const cc = await cpuSeconds(['-loglevel', 'info', '-i', captioned, ...LADDER_VIDEO]);
    ratios.push(cc / base);
  }
  return { cpuWithCaptionsOverWithout: stats(ratios), source: '10 s 1280x720 30 fps, two renditions (640x360, 426x240)' };
}

/**
 * user + system CPU seconds of one run of a compiled ladder, spawned as livepipe spawns it: the same
 * argv (log level raised to info so `-benchmark` reports), every output pipe (fd 3, 4, …) drained.
 */
function compiledRunCpuSeconds(compiled: CompiledLadder): Promise<number> {
  const args = compiled.args.map((a) => (a === 'level+warning' ? 'level+info' : a));
  const fds = compiled.outputs.map((o) => o.fd);
  const stdio: Array<'ignore' | 'pipe'> = ['ignore', 'pipe', 'pipe', ...Array.from({ length: Math.max(...fds) - 2 }, () => 'pipe' as const)];
  return new Promise((resolve, reject) => {
    const child = spawn('ffmpeg', ['-benchmark', ...args], { stdio });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
    for (let fd = 1; fd < child.stdio.length; fd++) if (fd !== 2) (child.stdio[fd] as Readable | null)?.resume();
    child.on('error', reject);
    child.on('close', (code) => {
      const m = /utime=([\d.]+)s stime=([\d.]+)s/.exec(stderr);
      if (code !== 0 || m === null) reject(new Error(`ffmpeg exited ${code}: ${stderr.slice(-300)}`));
      else resolve(Number(m[1]) + Number(m[2]));
    });
  });
}

/**
 * The CPU cost of a second audio language, the real feature: the ladder compiled by livepipe for a
 * two-language source (one AAC rendition per language, each track decoded once), against the same
 * source compiled as a one-language channel (the probe's first track only: what livepipe does for a
 * one-track source), alternated. The source is a file read as fast as ffmpeg can (`realtime: false`).
 */
async function secondLanguageCpu(dir: string): Promise<Record<string, unknown>> {
  const source = join(dir, 'two-languages.mp4');
  await renderCaptionedSource(source, { width: 1280, height: 720, fps: 30, seconds: LANGUAGE_SECONDS, format: 'mp4', text: 'X', audioLanguages: ['eng', 'spa'] });
  const { ladder } = await loadLadder(LANGUAGE_LADDER);
  const input: InputSpec = { kind: 'url', url: source, realtime: false };
  const probe = await probeUrl(input);
  if ((probe.audioTracks?.length ?? 0) !== 2) throw new Error(`source should have two audio tracks: ${JSON.stringify(probe.audioTracks)}`);
  const oneProbe = { ...probe, audioTracks: probe.audioTracks!.slice(0, 1) };
  const two = compileLadder(resolveLadder(ladder, probe), probe, input);
  const one = compileLadder(resolveLadder(ladder, oneProbe), oneProbe, input);
  const ratios: number[] = [];
  const extraSeconds: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const oneCpu = await compiledRunCpuSeconds(one);
    const twoCpu = await compiledRunCpuSeconds(two);
    ratios.push(twoCpu / oneCpu);
    extraSeconds.push((twoCpu - oneCpu) / LANGUAGE_SECONDS);
  }
  return {
    cpuTwoLanguagesOverOne: stats(ratios),
    extraCpuSecondsPerMediaSecond: stats(extraSeconds),
    ladder: `${LANGUAGE_LADDER}: ${two.outputs.map((o) => o.name).join(', ')} vs ${one.outputs.map((o) => o.name).join(', ')}`,
    source: `${LANGUAGE_SECONDS} s 1280x720 30 fps, two AAC tracks (eng, spa)`,
  };
}

export async function run(): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(join(tmpdir(), 'lp-onair-bench-'));
  try {
    const source = join(dir, 'plain-src.mp4');
    await exec('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-t', '20', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '30', source]);
    const parts: Record<string, () => Promise<Record<string, unknown>>> = {
      apiCue: apiCueLatency,
      markedSplice: () => markedSpliceCost(dir),
      forcedKeyframe: () => forcedKeyframeCost(dir, source),
      captions: () => captionsCpu(dir),
      secondLanguage: () => secondLanguageCpu(dir),
    };
    const results: Record<string, unknown> = {
      note: 'ratios from alternated runs in one process, medians with min–max; say in onair.md what else ran on the machine',
    };
    for (const [name, part] of Object.entries(parts)) if (ONLY === undefined || ONLY.includes(name)) results[name] = await part();
    return results;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

runIfMain(import.meta.url, run);
