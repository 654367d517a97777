import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stampFirstFrameArrival } from '../../../src/core/media-clock.js';
import { withKeyframeMarks } from '../../../src/ingest/flv-keyframe-marking.js';
import type { RunKeyframeMarkingTransform } from '../../../src/ingest/run-keyframe-marking.js';
import { withTsKeyframeMarks } from '../../../src/ingest/ts-keyframe-marking.js';
import { ladderKeyframeFrames } from '../../helpers/transcode/ladder-keyframes.js';
import { lavfiSource } from '../../helpers/transcode/media.js';

const exec = promisify(execFile);

/**
 * Keyframe marks on a source with B-frames, as contribution encoders send them: 6 s of 640x360
 * 30 fps H.264 from x264 with `-bf 3` in a fixed pattern (`b-adapt=0`: I/P every 4th frame, and
 * b-pyramid makes the middle B of each three a reference picture, the other two non-reference) and
 * one IDR (`-g 300`), over MPEG-TS (a plain SRT run) and FLV (a plain RTMP run), marked by the run
 * markings on a 1 s grid with a splice (`markAtWall`) at 2.56 s, then encoded with the compiled
 * `constrained` ladder (`keyframes: marked`). Decode order is not presentation order here: the
 * grid points and the splice instant are presentation times, and the encoder keys the picture the
 * decoder flags, after reordering — so the keys must land on frames 30, 60, 90, 120, 150 (the
 * first frame presented at or after each grid point) and 77 (the first at or after 2.56 s), which
 * on this source are B pictures, non-reference ones among them.
 */
const FPS = 30;
const GRID_MS = 1000;
const SPLICE_MS = 2560;
const SPLICE_FRAME = 77; // 77 / 30 s = 2566.7 ms: the first frame at or after 2.56 s; 77 = 4·19 + 1: a non-reference B
const STAMP = 100_000;

/** Each frame's picture type in presentation order ('I', 'P', 'B'), from ffprobe. */
async function pictureTypes(file: string): Promise<string[]> {
  const { stdout } = await exec('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_frames', '-show_entries', 'frame=pict_type', '-of', 'json', file], { maxBuffer: 16 * 1024 * 1024 });
  return (JSON.parse(stdout) as { frames: Array<{ pict_type: string }> }).frames.map((f) => f.pict_type);
}

/** `file` through a run marking, the splice asked for (wall clock) once a quarter of it has passed. */
async function markRun(file: string, open: (source: PassThrough) => RunKeyframeMarkingTransform): Promise<{ marked: Buffer; spliceMediaMs: number | undefined }> {
  const bytes = await readFile(file);
  const source = new PassThrough();
  stampFirstFrameArrival(source, STAMP);
  const marking = open(source);
  const chunks: Buffer[] = [];
  marking.on('data', (c: Buffer) => chunks.push(c));
  const ended = new Promise((r) => marking.on('end', r));
  let spliceMediaMs: number | undefined;
  const chunk = 4096;
  for (let at = 0; at < bytes.length; at += chunk) {
    if (at >= bytes.length / 4 && at - chunk < bytes.length / 4) marking.markAtWall(STAMP + SPLICE_MS, (r) => (spliceMediaMs = r.keyed ? r.mediaMs : undefined));
    source.write(bytes.subarray(at, at + chunk));
    await new Promise((r) => setImmediate(r));
  }
  source.end();
  await ended;
  return { marked: Buffer.concat(chunks), spliceMediaMs };
}

describe.each([
  { format: 'mpegts' as const, open: (s: PassThrough) => withTsKeyframeMarks(s, GRID_MS) },
  { format: 'flv' as const, open: (s: PassThrough) => withKeyframeMarks(s, GRID_MS) },
])('keyframe marks on a B-frame source over $format through the compiled ladder (real ffmpeg)', ({ format, open }) => {
  let dir: string;
  let types: string[];
  let marked: Buffer;
  let spliceMediaMs: number | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `livepipe-bframe-marks-${format}-`));
    const file = join(dir, `source.${format === 'mpegts' ? 'ts' : 'flv'}`);
    // Video only: with AAC in the run the constant-frame-rate output gains a leading frame (docs/inputs.md).
    await exec('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', lavfiSource(640, 360, FPS, false), '-t', '6', '-c:v', 'libx264', '-preset', 'veryfast', '-bf', '3', '-x264-params', 'b-adapt=0', '-g', '300', '-sc_threshold', '0', '-pix_fmt', 'yuv420p', '-f', format, file]);
    types = await pictureTypes(file);
    ({ marked, spliceMediaMs } = await markRun(file, open));
    await writeFile(join(dir, `marked.${format}`), marked);
  }, 60_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the source has B pictures where the marks go (else this test proves nothing)', () => {
    expect(types).toHaveLength(180);
    expect(types.filter((t) => t === 'I')).toEqual(['I']);
    expect(types.slice(73, 81).join('')).toBe('BBBPBBBP'); // frame 76 is P: 77 the first B after it
    expect([30, 60, 90, 120, 150].map((f) => types[f]).join('')).toBe('BPBPB');
  });

  it('the splice is told keyed at its frame, in media time', () => {
    expect(spliceMediaMs).toBeDefined();
    expect(Math.abs(spliceMediaMs! - (SPLICE_FRAME * 1000) / FPS)).toBeLessThan(1000 / FPS / 2 + 1);
  });

  it('keyframes: marked — keys on every grid point and at the splice frame, in presentation order', async () => {
    const renditions = await ladderKeyframeFrames(marked, { format, keyframes: 'marked', dir, fps: FPS });
    expect([...renditions.values()]).toEqual([[0, 30, 60, SPLICE_FRAME, 90, 120, 150]]);
  }, 120_000);
});
