import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withTsKeyframeMarks } from '../../../src/ingest/ts-keyframe-marking.js';
import { ladderKeyframeFrames } from '../../helpers/transcode/ladder-keyframes.js';
import { lavfiSource } from '../../helpers/transcode/media.js';

const exec = promisify(execFile);

/**
 * MPEG-TS keyframe marks through the real ladder ffmpeg (`input: mpegts` on stdin, as a plain SRT
 * channel runs): a 4 s 640x360 30 fps H.264 TS with a single IDR, marked by `TsKeyframeMarking` on a
 * 1 s grid (finer than the ladder's 2 s GOP, so that the marks, not x264's keyint, make the
 * keyframes), encoded with the compiled `constrained` ladder. With `keyframes: marked` the rendition
 * keys at every mark — a frame exactly on a grid point included (frame 60 at 2.000 s: ms summed frame
 * by frame once put it just before the point, and frame 61 was keyed); with the default (`grid`) the
 * marks change nothing.
 */
const FPS = 30;

describe('MPEG-TS keyframe marks through the compiled ladder (real ffmpeg)', () => {
  let dir: string;
  let marked: Buffer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'livepipe-ts-keyframe-marks-'));
    const file = join(dir, 'source.ts');
    // Video only: with AAC in the run the constant-frame-rate output gains a leading frame (docs/inputs.md).
    await exec('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', lavfiSource(640, 360, FPS, false), '-t', '4', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '1000', '-pix_fmt', 'yuv420p', '-f', 'mpegts', file]);
    const source = new PassThrough();
    const marking = withTsKeyframeMarks(source, 1000);
    const chunks: Buffer[] = [];
    marking.on('data', (c: Buffer) => chunks.push(c));
    const ended = new Promise((r) => marking.on('end', r));
    source.end(await readFile(file));
    await ended;
    marked = Buffer.concat(chunks);
  }, 60_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('keyframes: marked — the rendition keys at the source IDR and every 1 s mark (frames 30, 60, 90)', async () => {
    // The 640x360 source gets 360p only (the ladder does not upscale to 540p): one rendition, as before.
    expect([...(await ladderKeyframeFrames(marked, { format: 'mpegts', keyframes: 'marked', dir, fps: FPS })).values()]).toEqual([[0, 30, 60, 90]]);
  }, 120_000);

  it('keyframes: grid (default) — the marks change nothing: keyframes every 2 s', async () => {
    expect([...(await ladderKeyframeFrames(marked, { format: 'mpegts', keyframes: 'grid', dir, fps: FPS })).values()]).toEqual([[0, 60]]);
  }, 120_000);
});
