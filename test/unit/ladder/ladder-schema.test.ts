import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { listLadders, loadLadder, loadLadderFile, parseLadder } from '../../../src/ladder/ladder-loader.js';
import { parseBitrate, parseDurationSeconds } from '../../../src/ladder/ladder-schema.js';
import { ErrorCode, isLivepipeError, type LivepipeError } from '../../../src/core/errors.js';

const valid = () => ({
  gop: 2,
  segment: 4,
  part: 0.5,
  video: [
    { name: 'v720', width: 1280, height: 720, bitrate: '2800k' },
    { name: 'v360', width: 640, height: 360, bitrate: 800_000 },
  ],
  audio: [{ name: 'audio', bitrate: '128k' }],
});

function issuesOf(data: unknown): Array<{ path: string; message: string }> {
  try {
    parseLadder(data, 'test.yaml');
  } catch (err) {
    expect(isLivepipeError(err, ErrorCode.ConfigInvalid)).toBe(true);
    return (err as LivepipeError).details!.issues as Array<{ path: string; message: string }>;
  }
  return [];
}

describe('units', () => {
  it.each([
    ['3000k', 3_000_000],
    ['3M', 3_000_000],
    ['1.5M', 1_500_000],
    ['128000', 128_000],
    [96_000, 96_000],
    ['800 kbps', 800_000],
  ])('bitrate %s → %d bits/s', (input, bits) => expect(parseBitrate(input)).toBe(bits));

  it.each(['3G', 'fast', '', '-1k'])('bitrate %s is malformed', (input) => expect(parseBitrate(input)).toBeNaN());

  it.each([
    [2, 2],
    ['2s', 2],
    ['500ms', 0.5],
    ['0.2', 0.2],
  ])('duration %s → %d s', (input, seconds) => expect(parseDurationSeconds(input)).toBe(seconds));
});

describe('ladder validation', () => {
  it('accepts a valid ladder and applies defaults and units', () => {
    const ladder = parseLadder(valid(), 'test.yaml');
    expect(ladder.video[0]!.bitrate).toBe(2_800_000);
    expect(ladder.video[0]!.preset).toBe('veryfast');
    expect(ladder.video[0]!.profile).toBe('high');
    expect(ladder.audio[0]).toMatchObject({ bitrate: 128_000, channels: 2, sampleRate: 48_000, silenceIfMissing: false });
    expect(ladder.frameRate).toBe('source');
    expect(ladder.bFrames).toBe(0);
  });

  type Case = [string, (l: ReturnType<typeof valid>) => unknown, string, RegExp];
  const cases: Case[] = [
    ['odd width', (l) => ((l.video[0]!.width = 1279), l), 'video.0.width', /even/],
    ['odd height', (l) => ((l.video[1]!.height = 361), l), 'video.1.height', /even/],
    ['zero width', (l) => ((l.video[0]!.width = 0), l), 'video.0.width', /positive/],
    ['zero bitrate', (l) => ((l.video[0]!.bitrate = 0), l), 'video.0.bitrate', /positive bitrate/],
    ['negative bitrate', (l) => ((l.video[1]!.bitrate = -5), l), 'video.1.bitrate', /positive bitrate/],
    ['malformed bitrate', (l) => ((l.video[0]!.bitrate = 'lots'), l), 'video.0.bitrate', /positive bitrate/],
    ['zero audio bitrate', (l) => ((l.audio[0]!.bitrate = '0k'), l), 'audio.0.bitrate', /positive bitrate/],
    ['part above segment', (l) => ((l.part = 5), l), 'part', /above segment duration/],
    ['segment not a GOP multiple', (l) => ((l.segment = 3), l), 'segment', /not a multiple of the GOP/],
    ['segment shorter than GOP', (l) => ((l.segment = 1), (l.part = 0.5), l), 'segment', /not a multiple of the GOP/],
    ['duplicate video names', (l) => ((l.video[1]!.name = 'v720'), l), 'video.1.name', /duplicate rendition name "v720"/],
    ['audio name clashing with video', (l) => ((l.audio[0]!.name = 'v360'), l), 'audio.0.name', /duplicate rendition name/],
    ['unknown top-level key', (l) => ({ ...l, segmnt: 2 }), '', /segmnt/],
    ['unknown rendition key', (l) => ((l.video[0] as Record<string, unknown>).bitrat = '3M', l), 'video.0', /bitrat/],
    ['invalid rendition id', (l) => ((l.video[0]!.name = '../etc'), l), 'video.0.name', /must be an id/],
    ['no video', (l) => ((l.video = []), l), 'video', /at least one video rendition/],
    ['unknown preset', (l) => ((l.video[0] as Record<string, unknown>).preset = 'warp', l), 'video.0.preset', /./],
    ['zero GOP', (l) => ((l.gop = 0), l), 'gop', /positive duration/],
  ];
  it.each(cases)('rejects %s at %s', (_label, mutate, path, reason) => {
    const issues = issuesOf(mutate(valid()));
    const issue = issues.find((i) => i.path === path);
    expect(issue, JSON.stringify(issues)).toBeDefined();
    expect(issue!.message).toMatch(reason);
  });

  it('names the file and the field in the error message', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'livepipe-ladder-'));
    const file = join(dir, 'bad.yaml');
    const ladder = valid();
    ladder.video[1]!.height = 361;
    await writeFile(file, stringify(ladder));
    await expect(loadLadderFile(file)).rejects.toThrow(`${file}: video.1.height: must be even`);
  });

  it('rejects unreadable YAML and bad file names', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'livepipe-ladder-'));
    await writeFile(join(dir, 'broken.yaml'), 'gop: [1,\n');
    await expect(loadLadderFile(join(dir, 'broken.yaml'))).rejects.toThrow(/not valid YAML/);
    await writeFile(join(dir, 'bad name.yaml'), stringify(valid()));
    await expect(loadLadderFile(join(dir, 'bad name.yaml'))).rejects.toThrow(/not a valid ladder id/);
  });
});

describe('muxAudio', () => {
  it.each([
    { audio: 0, ok: true },
    { audio: 1, ok: true },
    { audio: 2, ok: false },
  ])('with $audio audio renditions: accepted $ok', ({ audio, ok }) => {
    const data = { ...valid(), muxAudio: true, audio: Array.from({ length: audio }, (_, i) => ({ name: `a${i}` })) };
    if (ok) expect(parseLadder(data, 'x.yaml').muxAudio).toBe(true);
    else expect(() => parseLadder(data, 'x.yaml')).toThrow(/x\.yaml: muxAudio: muxAudio carries one audio rendition.*has 2/);
  });

  it('defaults to false', () => {
    expect(parseLadder(valid(), 'x.yaml').muxAudio).toBe(false);
  });
});

describe('shipped ladders', () => {
  it('lists default, low-latency and constrained (resolved from the package, not the cwd)', async () => {
    expect(await listLadders()).toEqual(expect.arrayContaining(['constrained', 'default', 'low-latency']));
  });

  it.each(['default', 'low-latency', 'constrained'])('%s is valid', async (name) => {
    const { ladder } = await loadLadder(name);
    expect(ladder.video.length).toBeGreaterThan(0);
    expect(ladder.audio).toHaveLength(1);
  });

  it('low-latency: 0.5 s GOPs in 1 s segments, 0.1 s parts = 3 frames at the 30 fps cap, zerolatency, no B-frames', async () => {
    const { ladder } = await loadLadder('low-latency');
    // Two independent parts per segment, each on a part boundary at 30 fps (15 frames = 5 parts).
    expect(ladder).toMatchObject({ gop: 0.5, segment: 1, part: 0.1, tune: 'zerolatency', bFrames: 0, frameRate: { cap: 30 } });
    expect(Math.round(ladder.part * 30 * 1e6) / 1e6).toBe(3);
  });

  it('low-latency-muxed: the low-latency ladder with muxAudio, one audio rendition', async () => {
    const { ladder: muxed } = await loadLadder('low-latency-muxed');
    const { ladder: plain } = await loadLadder('low-latency');
    const { description: _d1, muxAudio, ...rest } = muxed;
    const { description: _d2, muxAudio: plainMux, ...plainRest } = plain;
    expect(muxAudio).toBe(true);
    expect(plainMux).toBe(false);
    expect(rest).toEqual(plainRest);
  });

  it('constrained-marked: the constrained ladder with keyframes: marked', async () => {
    const { ladder: marked } = await loadLadder('constrained-marked');
    const { ladder: plain } = await loadLadder('constrained');
    const { description: _d1, keyframes, ...rest } = marked;
    const { description: _d2, keyframes: plainKeyframes, ...plainRest } = plain;
    expect(keyframes).toBe('marked');
    expect(plainKeyframes).toBe('grid');
    expect(rest).toEqual(plainRest);
  });

  it('default: parts stay ≥ 85% of PART-TARGET at common frame rates (frame-boundary cutting)', async () => {
    const { ladder } = await loadLadder('default');
    for (const fps of [24, 25, 30000 / 1001, 30, 50, 60000 / 1001, 60]) {
      const frames = Math.floor(ladder.part * fps + 1e-9);
      expect(frames / fps / ladder.part, `fps ${fps}`).toBeGreaterThanOrEqual(0.85);
    }
  });

  it('unknown ladder → LadderNotFound', async () => {
    await expect(loadLadder('nope')).rejects.toSatisfy((err) => isLivepipeError(err, ErrorCode.LadderNotFound));
    await expect(loadLadder('../default')).rejects.toSatisfy((err) => isLivepipeError(err, ErrorCode.LadderNotFound));
  });
});
