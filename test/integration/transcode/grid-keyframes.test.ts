import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlvTagType } from '../../../src/ingest/flv-tags.js';
import { readFlvTags, writeFlvTags } from '../../helpers/ingest/flv-file.js';
import { ladderKeyframeFrames } from '../../helpers/transcode/ladder-keyframes.js';
import { renderSource } from '../../helpers/transcode/media.js';

/**
 * Grid keyframes (`keyframes: grid`) through the real ladder ffmpeg, with a GOP that is no binary
 * fraction: 0.2 s at 30 fps is every 6th frame. ffmpeg's `gte(t,n_forced*0.2)` compares doubles, and
 * 3 × 0.2 = 0.6000000000000001 > t = 0.6 of frame 18, so without a tolerance frame 19 was keyed (and
 * 37, …): one-frame LL-HLS parts before each late keyframe and GOPs of 7 and 5 frames
 * (`gridKeyframesExpression`, src/transcode/ladder-compiler.ts).
 */
const FPS = 30;
const GOP = 0.2;
/** 0.2 s parts (6 frames): the 0.2 s GOP is whole parts, so `keyframeGop` keeps it. */
const PART = 0.2;
const SECONDS = 3;

describe('grid keyframes through the compiled ladder (real ffmpeg, GOP 0.2 s at 30 fps)', () => {
  let dir: string;
  let withAudio: Buffer;
  let videoOnly: Buffer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'livepipe-grid-keyframes-'));
    const source = join(dir, 'source.flv');
    // A single source IDR: every keyframe of the output is the grid's.
    await renderSource(source, { width: 640, height: 360, fps: FPS, seconds: SECONDS, format: 'flv', gopFrames: 1000 });
    withAudio = await readFile(source);
    videoOnly = writeFlvTags(readFlvTags(withAudio).filter((tag) => tag.type !== FlvTagType.Audio), false, true);
  }, 60_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const everySixthFrame = Array.from({ length: (SECONDS * FPS) / 6 }, (_, i) => i * 6);

  it('video only: every rendition is keyed on exactly every 6th frame', async () => {
    const renditions = await ladderKeyframeFrames(videoOnly, { format: 'flv', keyframes: 'grid', dir, fps: FPS, gop: GOP, part: PART });
    expect(renditions.size).toBeGreaterThan(0);
    for (const [, frames] of renditions) expect(frames).toEqual(everySixthFrame);
  }, 120_000);

  it('with AAC audio (as a publisher sends it): the keyframes are 6 frames apart throughout', async () => {
    const renditions = await ladderKeyframeFrames(withAudio, { format: 'flv', keyframes: 'grid', dir, fps: FPS, gop: GOP, part: PART });
    expect(renditions.size).toBeGreaterThan(0);
    for (const [, frames] of renditions) {
      // The output timeline may start at the audio's primed start, so the last GOP can be cut short;
      // every distance between keyframes is exactly one GOP.
      expect(frames.length).toBeGreaterThanOrEqual(everySixthFrame.length - 1);
      expect(new Set(frames.slice(1).map((f, i) => f - frames[i]!))).toEqual(new Set([6]));
    }
  }, 120_000);
});
