import { performance } from 'node:perf_hooks';
import { trackDefaultsOf } from '../src/mp4/fmp4-coalescer.js';
import { Fmp4Reader } from '../src/mp4/fmp4-reader.js';
import { SegmentCutter } from '../src/package/segment-cutter.js';
import { encodeLadderFixture } from '../test/helpers/package/fixtures.js';
import { runIfMain } from './run-if-main.js';

/**
 * Parse-and-cut throughput of the packager's pure core: fMP4 reader + segment cutter over ffmpeg
 * output held in memory (20 s of 640x360 + 320x180 H.264 at 30 fps with 1 s GOPs, and AAC; one
 * fragment per frame), fed in 64 KiB chunks (a pipe's usual read size) and in 1-byte chunks (the
 * worst case; the audio only).
 *
 * Two ways, side by side in the same process: `partChunks`, the cutter as `RenditionPackager` builds
 * it (each part coalesced into one CMAF chunk, with the init segment's trex defaults, and the reader's
 * fragment events pushed as they are) — what ships — and `asFragments`, the cutter without
 * `partChunks` (a part is its fragments' bytes as they came), the figure this bench gave before parts
 * became one chunk. The two are alternated ROUNDS times, so load from other processes hits both
 * alike; each figure is the median round, and the ratio is of the medians.
 */

const ROUNDS = 9;
const ROUND_MS = 400;

type Mode = 'partChunks' | 'asFragments';

interface Pass {
  frames: number;
  parts: number;
  partBytes: number;
}

function parseAndCut(streams: Uint8Array[], chunkSize: number, mode: Mode): Pass {
  const pass: Pass = { frames: 0, parts: 0, partBytes: 0 };
  for (const bytes of streams) {
    const reader = new Fmp4Reader();
    let cutter: SegmentCutter | undefined;
    const count = (events: ReturnType<SegmentCutter['push']>): void => {
      for (const e of events) if (e.type === 'part') pass.parts++;
    };
    for (let at = 0; at < bytes.byteLength; at += chunkSize) {
      for (const event of reader.push(bytes.subarray(at, at + chunkSize))) {
        if (event.type === 'init') {
          cutter = new SegmentCutter({
            kind: event.track.handler,
            timescale: event.track.timescale,
            partTarget: 0.5,
            segmentDuration: 2,
            ...(mode === 'partChunks' ? { partChunks: { defaults: trackDefaultsOf(event.bytes) } } : {}),
          });
        } else {
          pass.frames++;
          count(cutter!.push(event));
        }
      }
    }
    reader.end();
    if (cutter !== undefined) {
      count(cutter.flush());
      pass.partBytes += cutter.partBytes;
    }
  }
  return pass;
}

interface Round {
  mbPerSecond: number;
  framesPerSecond: number;
}

function round(streams: Uint8Array[], chunkSize: number, mode: Mode, minMs: number): Round {
  const bytes = streams.reduce((n, s) => n + s.byteLength, 0);
  let iterations = 0;
  let frames = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    frames += parseAndCut(streams, chunkSize, mode).frames;
    iterations++;
    elapsed = performance.now() - start;
  } while (elapsed < minMs);
  return { mbPerSecond: (bytes * iterations) / 1e6 / (elapsed / 1000), framesPerSecond: frames / (elapsed / 1000) };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function measure(streams: Uint8Array[], chunkSize: number, label: string): Record<string, number> {
  const chunked = parseAndCut(streams, chunkSize, 'partChunks'); // warm-up, and the parts both ways cut
  const plain = parseAndCut(streams, chunkSize, 'asFragments');
  if (chunked.parts !== plain.parts) throw new Error(`${label}: ${chunked.parts} parts coalesced vs ${plain.parts} as fragments`);
  const rounds: Record<Mode, Round[]> = { partChunks: [], asFragments: [] };
  for (let i = 0; i < ROUNDS; i++) {
    // Alternated, and which goes first swaps each round.
    const order: Mode[] = i % 2 === 0 ? ['partChunks', 'asFragments'] : ['asFragments', 'partChunks'];
    for (const mode of order) rounds[mode].push(round(streams, chunkSize, mode, ROUND_MS));
  }
  const mb = (mode: Mode) => median(rounds[mode].map((r) => r.mbPerSecond));
  const fps = (mode: Mode) => median(rounds[mode].map((r) => r.framesPerSecond));
  const r1 = (n: number) => Math.round(n * 10) / 10;
  return {
    [`${label}.partChunks.MBps`]: r1(mb('partChunks')),
    [`${label}.partChunks.framesPerSecond`]: Math.round(fps('partChunks')),
    [`${label}.asFragments.MBps`]: r1(mb('asFragments')),
    [`${label}.asFragments.framesPerSecond`]: Math.round(fps('asFragments')),
    [`${label}.ratio`]: Math.round((mb('partChunks') / mb('asFragments')) * 100) / 100,
    [`${label}.partChunks.MBps.min`]: r1(Math.min(...rounds.partChunks.map((r) => r.mbPerSecond))),
    [`${label}.partChunks.MBps.max`]: r1(Math.max(...rounds.partChunks.map((r) => r.mbPerSecond))),
    [`${label}.asFragments.MBps.min`]: r1(Math.min(...rounds.asFragments.map((r) => r.mbPerSecond))),
    [`${label}.asFragments.MBps.max`]: r1(Math.max(...rounds.asFragments.map((r) => r.mbPerSecond))),
    [`${label}.parts`]: chunked.parts,
    [`${label}.partBytes.partChunks`]: chunked.partBytes,
    [`${label}.partBytes.asFragments`]: plain.partBytes,
  };
}

export async function run(): Promise<Record<string, unknown>> {
  const fixture = await encodeLadderFixture({ seconds: 20, sizes: ['640x360', '320x180'] });
  const streams = [...fixture.video, fixture.audio];
  const totalBytes = streams.reduce((n, s) => n + s.byteLength, 0);
  return {
    inputBytes: totalBytes,
    rounds: ROUNDS,
    roundMs: ROUND_MS,
    ...measure(streams, 64 * 1024, 'parseAndCut64KiB'),
    ...measure([fixture.audio], 1, 'parseAndCut1Byte'),
  };
}

// `npx tsx bench/packager.bench.ts` runs it alone.
runIfMain(import.meta.url, run);
