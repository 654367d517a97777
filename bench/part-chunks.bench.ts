import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import type { Readable } from 'node:stream';
import { loadLadder, resolveLadder } from '../src/ladder/ladder-loader.js';
import { trackDefaultsOf, type TrackDefaults } from '../src/mp4/fmp4-coalescer.js';
import { Fmp4Reader, type FragmentEvent, type TrackInfo } from '../src/mp4/fmp4-reader.js';
import { mergeInitSegments } from '../src/mp4/mp4-mux.js';
import { AudioInterleaver } from '../src/package/audio-interleaver.js';
import { SegmentCutter, type CutterFrame } from '../src/package/segment-cutter.js';
import { probeUrl } from '../src/transcode/input-probe.js';
import { compileLadder } from '../src/transcode/ladder-compiler.js';
import { runIfMain } from './run-if-main.js';

/**
 * Bytes stored per LL-HLS part with and without coalescing a part's fragments into one CMAF chunk
 * (`SegmentCutter` `partChunks`), side by side from the same fragments, and the cutter's CPU cost both
 * ways in the same process.
 *
 * A 1280x720 30 fps H.264 (2 s GOPs) + AAC source of SOURCE_SECONDS is generated once (testsrc2 with
 * temporal noise, so x264 spends about the ladder's bitrates rather than far less on a clean pattern); each ladder is compiled
 * exactly as a channel compiles it (`compileLadder`: the real fragmenting, per frame or grouped) and
 * encoded by one ffmpeg run whose output pipes are read into memory. Every rendition's output is then
 * parsed once (`Fmp4Reader`) and its fragments cut by two cutters: parts as the fragments came, and
 * coalesced. `low-latency-muxed` is the low-latency encode's video with its audio muxed in as
 * `MuxedFeed` does (`AudioInterleaver`): the same encode, since muxing happens in the packager.
 * Cutter time: the push/flush loop over all fragments of a rendition, both ways alternated,
 * CUT_REPEATS times each, per media second: the fastest pass (the least disturbed by other load on a
 * shared machine) and the median.
 */

const exec = promisify(execFile);
const SOURCE_SECONDS = 30;
const CUT_REPEATS = 15;
const LADDERS = ['low-latency', 'default', 'constrained-marked'] as const;

interface Output {
  name: string;
  kind: 'video' | 'audio';
  init: Uint8Array;
  track: TrackInfo;
  frames: CutterFrame[];
}

async function makeSource(dir: string): Promise<string> {
  const file = join(dir, 'source.mp4');
  await exec('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=1280x720:rate=30:duration=${SOURCE_SECONDS}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${SOURCE_SECONDS}`,
    '-filter_complex', '[0:v]noise=alls=10:allf=t+u[v]',
    '-map', '[v]', '-map', '1:a', '-t', String(SOURCE_SECONDS),
    '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '18', '-g', '60', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '192k', file,
  ], { timeout: 300_000 });
  return file;
}

/** Runs the ladder's ffmpeg on `file`; every output pipe read into memory, then parsed. */
async function encode(ladderName: string, file: string): Promise<Output[]> {
  const { ladder } = await loadLadder(ladderName);
  const input = { kind: 'url' as const, url: file, realtime: false };
  const probe = await probeUrl(input);
  const compiled = compileLadder(resolveLadder(ladder, probe), probe, input);
  const maxFd = Math.max(...compiled.outputs.map((o) => o.fd));
  const stdio: Array<'ignore' | 'pipe'> = ['ignore', 'ignore', 'pipe'];
  for (let fd = 3; fd <= maxFd; fd++) stdio.push('pipe');
  const child = spawn('ffmpeg', compiled.args, { stdio });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const collected = compiled.outputs.map((o) => {
    const chunks: Buffer[] = [];
    (child.stdio[o.fd] as Readable).on('data', (b: Buffer) => chunks.push(b));
    return { o, chunks };
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`ffmpeg ${ladderName} exited ${code}: ${stderr.slice(-500)}`);
  return collected.map(({ o, chunks }) => {
    const reader = new Fmp4Reader();
    let init: Uint8Array | undefined;
    let track: TrackInfo | undefined;
    const frames: CutterFrame[] = [];
    for (const chunk of chunks) {
      for (const e of reader.push(chunk)) {
        if (e.type === 'init') ({ bytes: init, track } = e);
        else frames.push(frameOf(e));
      }
    }
    reader.end();
    return { name: o.name, kind: o.kind, init: init!, track: track!, frames };
  });
}

function frameOf(e: FragmentEvent | CutterFrame): CutterFrame {
  return { decodeTime: e.decodeTime, duration: e.duration, independent: e.independent, bytes: e.bytes };
}

/** The low-latency videos with the audio muxed in, as `MuxedFeed` does. */
function muxed(outputs: Output[]): Output[] {
  const audio = outputs.find((o) => o.kind === 'audio')!;
  return outputs.filter((o) => o.kind === 'video').map((video) => {
    const merged = mergeInitSegments(video.init, audio.init);
    const interleaver = new AudioInterleaver({ videoTimescale: video.track.timescale, audioTimescale: audio.track.timescale, audioTrackId: merged.audioTrackId });
    const frames: CutterFrame[] = [];
    // In time order, as the pipes deliver them (audio slightly ahead).
    let a = 0;
    for (const v of video.frames) {
      while (a < audio.frames.length && audio.frames[a]!.decodeTime * video.track.timescale <= (v.decodeTime + v.duration) * audio.track.timescale) {
        frames.push(...interleaver.pushAudio(audio.frames[a++]!));
      }
      frames.push(...interleaver.pushVideo(v));
    }
    frames.push(...interleaver.endAudio());
    return { name: `${video.name}+audio`, kind: 'video' as const, init: merged.bytes, track: video.track, frames };
  });
}

interface CutResult {
  fragments: number;
  parts: number;
  frameBytes: number;
  partBytes: number;
  ms: number;
}

function cut(output: Output, partTarget: number, segment: number, defaults: TrackDefaults | undefined): CutResult {
  const cutter = new SegmentCutter({
    kind: output.kind,
    timescale: output.track.timescale,
    partTarget,
    segmentDuration: segment,
    ...(defaults !== undefined ? { partChunks: { defaults } } : {}),
  });
  let parts = 0;
  const t0 = performance.now();
  for (const f of output.frames) for (const e of cutter.push(f)) if (e.type === 'part') parts++;
  for (const e of cutter.flush()) if (e.type === 'part') parts++;
  const ms = performance.now() - t0;
  return { fragments: output.frames.length, parts, frameBytes: cutter.frameBytes, partBytes: cutter.partBytes, ms };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

interface Row {
  ladder: string;
  rendition: string;
  mediaSeconds: number;
  fragmentsPerSecond: number;
  partsPerSecond: number;
  fragmentBytesPerSecond: number;
  chunkBytesPerSecond: number;
  savedPercent: number;
  /** Fastest pass. */
  cutterUsPerMediaSecondFragments: number;
  cutterUsPerMediaSecondChunks: number;
  medianCutterUsPerMediaSecondFragments: number;
  medianCutterUsPerMediaSecondChunks: number;
}

function measure(ladder: string, output: Output, partTarget: number, segment: number): Row {
  const defaults = trackDefaultsOf(output.init);
  const first = output.frames[0]!;
  const last = output.frames.at(-1)!;
  const mediaSeconds = (last.decodeTime + last.duration - first.decodeTime) / output.track.timescale;
  const plainMs: number[] = [];
  const chunkMs: number[] = [];
  let plain: CutResult | undefined;
  let chunked: CutResult | undefined;
  cut(output, partTarget, segment, defaults); // warm-up
  cut(output, partTarget, segment, undefined);
  for (let i = 0; i < CUT_REPEATS; i++) {
    // Alternated, so load changes hit both ways alike.
    plain = cut(output, partTarget, segment, undefined);
    chunked = cut(output, partTarget, segment, defaults);
    plainMs.push(plain.ms);
    chunkMs.push(chunked.ms);
  }
  if (plain!.parts !== chunked!.parts) throw new Error(`${output.name}: ${plain!.parts} parts vs ${chunked!.parts} coalesced`);
  const round = (n: number, d = 0) => Math.round(n * 10 ** d) / 10 ** d;
  return {
    ladder,
    rendition: output.name,
    mediaSeconds: round(mediaSeconds, 2),
    fragmentsPerSecond: round(plain!.fragments / mediaSeconds, 1),
    partsPerSecond: round(plain!.parts / mediaSeconds, 1),
    fragmentBytesPerSecond: round(plain!.partBytes / mediaSeconds),
    chunkBytesPerSecond: round(chunked!.partBytes / mediaSeconds),
    savedPercent: round((100 * (plain!.partBytes - chunked!.partBytes)) / plain!.partBytes, 2),
    cutterUsPerMediaSecondFragments: round((Math.min(...plainMs) * 1000) / mediaSeconds),
    cutterUsPerMediaSecondChunks: round((Math.min(...chunkMs) * 1000) / mediaSeconds),
    medianCutterUsPerMediaSecondFragments: round((median(plainMs) * 1000) / mediaSeconds),
    medianCutterUsPerMediaSecondChunks: round((median(chunkMs) * 1000) / mediaSeconds),
  };
}

function table(rows: Row[]): string {
  const head = '| ladder | rendition | fragments/s | parts/s | bytes/s as fragments | bytes/s coalesced | saved | cutter µs per media s, fragments (min / median) | coalesced (min / median) |';
  const lines = rows.map(
    (r) =>
      `| ${r.ladder} | ${r.rendition} | ${r.fragmentsPerSecond} | ${r.partsPerSecond} | ${r.fragmentBytesPerSecond} | ${r.chunkBytesPerSecond} | ${r.savedPercent} % | ${r.cutterUsPerMediaSecondFragments} / ${r.medianCutterUsPerMediaSecondFragments} | ${r.cutterUsPerMediaSecondChunks} / ${r.medianCutterUsPerMediaSecondChunks} |`,
  );
  return [head, '|---|---|--:|--:|--:|--:|--:|--:|--:|', ...lines].join('\n');
}

export async function run(): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(join(os.tmpdir(), 'livepipe-part-chunks-'));
  const loadBefore = os.loadavg()[0]!;
  const rows: Row[] = [];
  try {
    const file = await makeSource(dir);
    for (const name of LADDERS) {
      const { ladder } = await loadLadder(name);
      const outputs = await encode(name, file);
      for (const o of outputs) rows.push(measure(name, o, ladder.part, ladder.segment));
      if (name === 'low-latency') {
        const { ladder: m } = await loadLadder('low-latency-muxed');
        for (const o of muxed(outputs)) rows.push(measure('low-latency-muxed', o, m.part, m.segment));
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const loadAfter = os.loadavg()[0]!;
  const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, Node ${process.version}, load average (1 min) ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after`;
  if (process.env.PART_CHUNKS_WRITE !== undefined) {
    await writeFile(new URL('./results/part-chunks.json', import.meta.url), `${JSON.stringify({ ranAt: new Date().toISOString(), machine, rows }, null, 2)}\n`);
    process.stderr.write(`${table(rows)}\n`);
  }
  return { machine, rows, table: table(rows) };
}

// `npx tsx bench/part-chunks.bench.ts` runs it alone (PART_CHUNKS_WRITE=1 also writes results/part-chunks.json).
runIfMain(import.meta.url, run);
