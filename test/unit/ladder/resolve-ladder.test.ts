import { describe, expect, it } from 'vitest';
import { FALLBACK_FRAME_RATE, minOutputFrameRate, parseLadder, resolveLadder, type SourceFormat } from '../../../src/ladder/ladder-loader.js';

const ladder = parseLadder(
  {
    gop: 2,
    segment: 2,
    part: 0.5,
    frameRate: { cap: 30 },
    video: [
      { name: '1080p', width: 1920, height: 1080, bitrate: '5M' },
      { name: '720p', width: 1280, height: 720, bitrate: '3M' },
      { name: '360p', width: 640, height: 360, bitrate: '800k' },
    ],
    audio: [{ name: 'audio' }],
  },
  'test.yaml',
);

const src = (width: number, height: number, frameRate = 30, hasAudio = true): SourceFormat => ({ width, height, frameRate, hasAudio });

describe('resolveLadder', () => {
  it('keeps everything for a 1080p source', () => {
    const r = resolveLadder(ladder, src(1920, 1080));
    expect(r.video.map((v) => `${v.name}:${v.outputWidth}x${v.outputHeight}`)).toEqual(['1080p:1920x1080', '720p:1280x720', '360p:640x360']);
    expect(r.decisions.every((d) => d.kept)).toBe(true);
    expect(r.keyint).toBe(60);
  });

  it('drops renditions above a 720p source, with the reason', () => {
    const r = resolveLadder(ladder, src(1280, 720));
    expect(r.video.map((v) => v.name)).toEqual(['720p', '360p']);
    expect(r.decisions.find((d) => d.name === '1080p')).toMatchObject({ kept: false, reason: expect.stringMatching(/above source 1280x720/) });
  });

  it('keeps the smallest rendition at source size when all are above the source', () => {
    const r = resolveLadder(ladder, src(320, 180));
    expect(r.video).toHaveLength(1);
    expect(r.video[0]).toMatchObject({ name: '360p', outputWidth: 320, outputHeight: 180 });
    expect(r.decisions.find((d) => d.name === '360p')).toMatchObject({ kept: true, reason: expect.stringMatching(/smallest kept/) });
  });

  it('fits the box to the source aspect ratio with even sizes', () => {
    const wide = resolveLadder(ladder, src(1920, 800));
    expect(wide.video.map((v) => [v.outputWidth, v.outputHeight])).toEqual([
      [1920, 800],
      [1280, 534],
      [640, 266],
    ]);
    const fourThree = resolveLadder(ladder, src(1440, 1080));
    expect(fourThree.video[0]).toMatchObject({ outputWidth: 1440, outputHeight: 1080 });
    for (const v of fourThree.video) expect(v.outputWidth % 2 + (v.outputHeight % 2)).toBe(0);
  });

  it.each([
    [60, 30, 60],
    [25, 25, 50],
    [30000 / 1001, 30000 / 1001, 60],
    [0, FALLBACK_FRAME_RATE, 60],
    // Slower than one frame per 0.5 s part: raised to 2 fps (frames repeated).
    [0.5, 2, 4],
    [1.5, 2, 4],
    [2, 2, 4],
  ])('source %d fps with a 30 fps cap → %d fps, keyint %d', (fps, expected, keyint) => {
    const r = resolveLadder(ladder, src(1920, 1080, fps));
    expect(r.frameRate).toBeCloseTo(expected, 6);
    expect(r.keyint).toBe(keyint);
  });

  it.each([
    [0.2, 5],
    [0.5, 2],
    [0.25, 4],
    [0.3, 4],
    [1, 1],
    [2, 1],
  ])('minimum output rate for %d s parts: %d fps (one frame per part at most)', (part, fps) => {
    expect(minOutputFrameRate({ part })).toBe(fps);
    expect(1 / fps).toBeLessThanOrEqual(part + 1e-9);
  });

  it("raises a slow source even on a 'source' frame-rate ladder", () => {
    const r = resolveLadder({ ...ladder, frameRate: 'source', part: 0.2, segment: 1, gop: 1 }, src(640, 360, 0.5));
    expect(r.frameRate).toBe(5);
    expect(r.keyint).toBe(5);
  });

  it('drops audio for audio-less input unless silenceIfMissing', () => {
    const r = resolveLadder(ladder, src(1920, 1080, 30, false));
    expect(r.audio).toEqual([]);
    expect(r.decisions.find((d) => d.name === 'audio')).toMatchObject({ kept: false, reason: 'input has no audio' });
    const silent = resolveLadder({ ...ladder, audio: [{ ...ladder.audio[0]!, silenceIfMissing: true }] }, src(1920, 1080, 30, false));
    expect(silent.audio).toEqual([expect.objectContaining({ name: 'audio', silent: true })]);
  });
});
