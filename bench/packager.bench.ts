import { performance } from 'node:perf_hooks';
import { Fmp4Reader } from '../src/mp4/fmp4-reader.js';
import { SegmentCutter } from '../src/package/segment-cutter.js';
import { encodeLadderFixture } from '../test/helpers/package/fixtures.js';
import { runIfMain } from './run-if-main.js';

/**
 * Parse-and-cut throughput of the packager's pure core: fMP4 reader + segment cutter over ffmpeg
 * output held in memory (20 s of 640x360 + 320x180 H.264 at 30 fps with 1 s GOPs, and AAC), fed in
 * 64 KiB chunks (a pipe's usual read size) and in 1-byte chunks (the worst case).
 */
function parseAndCut(streams: Uint8Array[], chunkSize: number): number {
  let frames = 0;
  for (const bytes of streams) {
    const reader = new Fmp4Reader();
    let cutter: SegmentCutter | undefined;
    for (let at = 0; at < bytes.byteLength; at += chunkSize) {
      for (const event of reader.push(bytes.subarray(at, at + chunkSize))) {
        if (event.type === 'init') {
          cutter = new SegmentCutter({ kind: event.track.handler, timescale: event.track.timescale, partTarget: 0.5, segmentDuration: 2 });
        } else {
          frames++;
          cutter!.push({ decodeTime: event.decodeTime, duration: event.duration, independent: event.independent, bytes: event.bytes });
        }
      }
    }
    reader.end();
    cutter?.flush();
  }
  return frames;
}

function measure(streams: Uint8Array[], chunkSize: number, minMs: number): { mbPerSecond: number; framesPerSecond: number } {
  const bytes = streams.reduce((n, s) => n + s.byteLength, 0);
  parseAndCut(streams, chunkSize); // warm-up
  let iterations = 0;
  let frames = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    frames += parseAndCut(streams, chunkSize);
    iterations++;
    elapsed = performance.now() - start;
  } while (elapsed < minMs);
  return {
    mbPerSecond: Math.round(((bytes * iterations) / 1e6 / (elapsed / 1000)) * 10) / 10,
    framesPerSecond: Math.round(frames / (elapsed / 1000)),
  };
}

export async function run(): Promise<Record<string, unknown>> {
  const fixture = await encodeLadderFixture({ seconds: 20, sizes: ['640x360', '320x180'] });
  const streams = [...fixture.video, fixture.audio];
  const totalBytes = streams.reduce((n, s) => n + s.byteLength, 0);
  const chunk64k = measure(streams, 64 * 1024, 1500);
  const chunk1 = measure([fixture.audio], 1, 1500);
  return {
    inputBytes: totalBytes,
    'parseAndCut64KiB.MBps': chunk64k.mbPerSecond,
    'parseAndCut64KiB.framesPerSecond': chunk64k.framesPerSecond,
    'parseAndCut1Byte.MBps': chunk1.mbPerSecond,
    'parseAndCut1Byte.framesPerSecond': chunk1.framesPerSecond,
  };
}

// `npx tsx bench/packager.bench.ts` runs it alone.
runIfMain(import.meta.url, run);
