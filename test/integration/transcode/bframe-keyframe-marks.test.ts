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
 * H.264 from x264 with `-bf 3` in a fixed pattern (`b-adapt=0`: I/P every 4th frame, and b-pyramid
 * makes the middle B of each three a reference picture, the other two non-reference) and one IDR
 * (`-g`: 10 s), over MPEG-TS (a plain SRT run) and FLV (a plain RTMP run), marked by the run markings
 * on a 1 s grid with a splice (`markAtWall`), then encoded with the compiled `constrained` ladder
 * (`keyframes: marked`, 30 fps cap). Decode order is not presentation order here: the grid points and
 * the splice instant are presentation times, and the encoder keys the picture its decoder flags, after
 * reordering — so the keys must land on output frames 30, 60, 90, 120, 150 (each grid point) and at the
 * splice, whose frame is a non-reference B picture. At 30 fps the splice at 2.56 s is frame 77 exactly;
 * at 60 fps (the cap halves the rate: the `fps` filter keeps one of two frames, `outputFrameMs`) the
 * splice at 2.505 s is input frame 151 (2516.7 ms), in output frame 75 or 76 — within one frame.
 */
const OUTPUT_FPS = 30;
const GRID_MS = 1000;
const STAMP = 100_000;

/** Each frame's picture type in presentation order ('I', 'P', 'B'), from ffprobe. */
async function pictureTypes(file: string): Promise<string[]> {
  const { stdout } = await exec('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_frames', '-show_entries', 'frame=pict_type', '-of', 'json', file], { maxBuffer: 16 * 1024 * 1024 });
  return (JSON.parse(stdout) as { frames: Array<{ pict_type: string }> }).frames.map((f) => f.pict_type);
}

/** `file` through a run marking, the splice asked for (wall clock) once a quarter of it has passed. */
async function markRun(file: string, spliceMs: number, open: (source: PassThrough) => RunKeyframeMarkingTransform): Promise<{ marked: Buffer; spliceMediaMs: number | undefined }> {
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
    if (at >= bytes.length / 4 && at - chunk < bytes.length / 4) marking.markAtWall(STAMP + spliceMs, (r) => (spliceMediaMs = r.keyed ? r.mediaMs : undefined));
    source.write(bytes.subarray(at, at + chunk));
    await new Promise((r) => setImmediate(r));
  }
  source.end();
  await ended;
  return { marked: Buffer.concat(chunks), spliceMediaMs };
}

const open = {
  mpegts: (s: PassThrough) => withTsKeyframeMarks(s, GRID_MS, OUTPUT_FPS),
  flv: (s: PassThrough) => withKeyframeMarks(s, GRID_MS, OUTPUT_FPS),
};

describe.each([
  // 77 = 4·19 + 1 and 151 = 4·37 + 3: non-reference B pictures; the frame before each is a P or the reference B.
  { format: 'mpegts' as const, fps: 30, spliceMs: 2560, spliceFrame: 77, types: 'PBBBP' },
  { format: 'flv' as const, fps: 30, spliceMs: 2560, spliceFrame: 77, types: 'PBBBP' },
  { format: 'mpegts' as const, fps: 60, spliceMs: 2505, spliceFrame: 151, types: 'BBPBB' },
  { format: 'flv' as const, fps: 60, spliceMs: 2505, spliceFrame: 151, types: 'BBPBB' },
])('keyframe marks on a $fps fps B-frame source over $format through the compiled ladder (real ffmpeg)', ({ format, fps, spliceMs, spliceFrame, types: typesAround }) => {
  let dir: string;
  let types: string[];
  let marked: Buffer;
  let spliceMediaMs: number | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `livepipe-bframe-marks-${format}-${fps}-`));
    const file = join(dir, `source.${format === 'mpegts' ? 'ts' : 'flv'}`);
    // Video only: with AAC in the run the constant-frame-rate output gains a leading frame (docs/inputs.md).
    await exec('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', lavfiSource(640, 360, fps, false), '-t', '6', '-c:v', 'libx264', '-preset', 'veryfast', '-bf', '3', '-x264-params', 'b-adapt=0', '-g', String(10 * fps), '-sc_threshold', '0', '-pix_fmt', 'yuv420p', '-f', format, file]);
    types = await pictureTypes(file);
    ({ marked, spliceMediaMs } = await markRun(file, spliceMs, open[format]));
  }, 60_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the source has B pictures where the marks go (else this test proves nothing)', () => {
    expect(types).toHaveLength(6 * fps);
    expect(types.filter((t) => t === 'I')).toEqual(['I']);
    expect(types.slice(spliceFrame - 1, spliceFrame + 4).join('')).toBe(typesAround);
    expect([1, 2, 3, 4, 5].map((s) => types[s * fps]).join('')).toBe(fps === 30 ? 'BPBPB' : 'PPPPP');
    if (fps === 30) return;
    // At 60 fps the grid points are P pictures, with the B picture before them decoded after them —
    // the frame of the output slot the `fps` filter may keep.
    expect([1, 2, 3, 4, 5].map((s) => types[s * fps - 1]).join('')).toBe('BBBBB');
  });

  it('the splice is told keyed at its frame, in media time', () => {
    expect(spliceMediaMs).toBeDefined();
    expect(Math.abs(spliceMediaMs! - (spliceFrame * 1000) / fps)).toBeLessThan(1000 / fps / 2 + 1);
  });

  it('keyframes: marked — keys on every grid point and within one output frame of the splice, in presentation order', async () => {
    const renditions = await ladderKeyframeFrames(marked, { format, keyframes: 'marked', dir, fps: OUTPUT_FPS });
    const frames = [...renditions.values()];
    expect(frames).toHaveLength(1);
    const splice = frames[0]!.filter((f) => f % 30 !== 0);
    expect(frames[0]!.filter((f) => f % 30 === 0)).toEqual([0, 30, 60, 90, 120, 150]);
    expect(splice).toHaveLength(1);
    expect(Math.abs(splice[0]! - (spliceMs * OUTPUT_FPS) / 1000)).toBeLessThanOrEqual(1);
    if (fps === 30) expect(splice).toEqual([spliceFrame]);
  }, 120_000);
});
