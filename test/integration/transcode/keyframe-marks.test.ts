import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyFlvTag, FlvTagType, videoCompositionTime, type FlvTag } from '../../../src/ingest/flv-tags.js';
import { KeyframeMarker } from '../../../src/ingest/keyframe-marks.js';
import { readFlvTags, writeFlvTags } from '../../helpers/ingest/flv-file.js';
import { ladderKeyframeFrames } from '../../helpers/transcode/ladder-keyframes.js';
import { renderSource } from '../../helpers/transcode/media.js';

/**
 * Keyframe marks through the real ladder ffmpeg: a 4 s 960x540 30 fps H.264 source with a single
 * IDR, marked as the FLV relay marks it (the `constrained` ladder's 2 s GOP grid, plus two frames
 * asked for — a switch or a splice: frames 45 and 100), encoded with the compiled `constrained`
 * ladder. With `keyframes: marked` every rendition has its keyframes exactly at the marked frames;
 * with the default (`grid`) the marks change nothing.
 */
const FPS = 30;
const ASKED = [45, 100];

describe('keyframe marks through the compiled ladder (real ffmpeg)', () => {
  let dir: string;
  let marked: Buffer;
  let markedFrames: number[];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'livepipe-keyframe-marks-'));
    const source = join(dir, 'source.flv');
    await renderSource(source, { width: 960, height: 540, fps: FPS, seconds: 4, format: 'flv', gopFrames: 1000 });
    const marker = new KeyframeMarker(2000);
    let origin: number | undefined;
    let frame = 0;
    markedFrames = [];
    // Video only: with AAC in the run, ffmpeg starts the output timeline at the audio's primed start
    // and the constant-frame-rate video output gains a leading frame, which shifts every frame number.
    const tags: FlvTag[] = readFlvTags(await readFile(source)).filter((tag) => tag.type !== FlvTagType.Audio).map((tag) => {
      const kind = classifyFlvTag(tag.type, tag.body);
      if (kind === 'video-sequence-header') marker.onSequenceHeader(tag.body);
      if (kind !== 'video-keyframe' && kind !== 'video-frame') return tag;
      const pts = tag.timestamp + videoCompositionTime(tag.body);
      origin ??= pts;
      if (ASKED.includes(frame)) marker.markNext();
      const body = marker.onFrame(tag.body, pts, kind === 'video-keyframe', origin);
      if (body !== tag.body) markedFrames.push(frame);
      frame += 1;
      return { ...tag, body };
    });
    expect(tags.filter((t) => t.type === FlvTagType.Video && classifyFlvTag(t.type, t.body) === 'video-keyframe')).toHaveLength(1);
    marked = writeFlvTags(tags, false, true);
  }, 60_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('marks the asked frames and the 2 s grid (frame 60); 120 is past the end', () => {
    expect(markedFrames).toEqual([45, 60, 100]);
  });

  it('keyframes: marked — every rendition has its keyframes at the marked frames and nowhere else', async () => {
    const renditions = await ladderKeyframeFrames(marked, { format: 'flv', keyframes: 'marked', dir, fps: FPS });
    expect([...renditions.keys()].sort()).toEqual(['360p', '540p']);
    for (const [, frames] of renditions) expect(frames).toEqual([0, 45, 60, 100]);
  }, 120_000);

  it('keyframes: grid (default) — the marks change nothing: keyframes every 2 s', async () => {
    const renditions = await ladderKeyframeFrames(marked, { format: 'flv', keyframes: 'grid', dir, fps: FPS });
    expect([...renditions.keys()].sort()).toEqual(['360p', '540p']);
    for (const [, frames] of renditions) expect(frames).toEqual([0, 60]);
  }, 120_000);
});
