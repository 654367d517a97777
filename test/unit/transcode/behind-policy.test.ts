import { describe, expect, it } from 'vitest';
import { loadLadder } from '../../../src/ladder/ladder-loader.js';
import type { Ladder } from '../../../src/ladder/ladder-schema.js';
import { NO_ADJUSTMENT, adjustLadder, decideBehindAction, fasterPreset, type BehindAdjustment, type BehindPolicy } from '../../../src/transcode/behind-policy.js';

const SIZES: Record<string, { width: number; height: number }> = {
  '1080p': { width: 1920, height: 1080 },
  '720p': { width: 1280, height: 720 },
  '480p': { width: 854, height: 480 },
  '360p': { width: 640, height: 360 },
};
const encoded = (...names: string[]) => names.map((name) => ({ name, ...SIZES[name]! }));
const ALL = encoded('1080p', '720p', '480p', '360p');

describe('fasterPreset', () => {
  it.each([
    ['veryfast', 1, 'superfast'],
    ['veryfast', 2, 'ultrafast'],
    ['veryfast', 5, 'ultrafast'],
    ['ultrafast', 1, 'ultrafast'],
    ['medium', 1, 'fast'],
    ['veryslow', 0, 'veryslow'],
  ] as const)('%s, %i step(s) faster → %s', (from, steps, to) => {
    expect(fasterPreset(from, steps)).toBe(to);
  });
});

describe('decideBehindAction', () => {
  let ladder: Ladder;
  const mixed = (): Ladder => ({ ...ladder, video: ladder.video.map((v, i) => ({ ...v, preset: i === 0 ? 'medium' : 'veryfast' })) });

  const cases: Array<{ name: string; policy: BehindPolicy; ladder?: () => Ladder; encoded?: ReturnType<typeof encoded>; adjustment?: BehindAdjustment; expect: { kind: 'none'; why: RegExp } | { kind: 'restart'; adjustment: BehindAdjustment; summary: RegExp } }> = [
    { name: 'warn never touches a running channel', policy: 'warn', expect: { kind: 'none', why: /policy warn/ } },
    { name: 'refuse-new acts in admission, not on the channel', policy: 'refuse-new', expect: { kind: 'none', why: /policy refuse-new/ } },
    {
      name: 'cheaper-preset: first flag, one step faster',
      policy: 'cheaper-preset',
      expect: { kind: 'restart', adjustment: { presetSteps: 1, droppedRenditions: [] }, summary: /^x264 preset one step faster \(1080p veryfast → superfast, 720p veryfast → superfast, 480p veryfast → superfast, 360p veryfast → superfast\)$/ },
    },
    {
      name: 'cheaper-preset: second flag, ultrafast',
      policy: 'cheaper-preset',
      adjustment: { presetSteps: 1, droppedRenditions: [] },
      expect: { kind: 'restart', adjustment: { presetSteps: 2, droppedRenditions: [] }, summary: /1080p superfast → ultrafast/ },
    },
    {
      name: 'cheaper-preset: bounded at ultrafast',
      policy: 'cheaper-preset',
      adjustment: { presetSteps: 2, droppedRenditions: [] },
      expect: { kind: 'none', why: /ultrafast already/ },
    },
    {
      name: 'cheaper-preset: a slower rendition keeps going after the others hit ultrafast',
      policy: 'cheaper-preset',
      ladder: mixed,
      adjustment: { presetSteps: 2, droppedRenditions: [] },
      expect: { kind: 'restart', adjustment: { presetSteps: 3, droppedRenditions: [] }, summary: /^x264 preset one step faster \(1080p faster → veryfast\)$/ },
    },
    {
      name: 'cheaper-preset: only renditions the source keeps count',
      policy: 'cheaper-preset',
      ladder: mixed,
      encoded: encoded('720p', '480p', '360p'),
      adjustment: { presetSteps: 2, droppedRenditions: [] },
      expect: { kind: 'none', why: /ultrafast already/ },
    },
    {
      name: 'cheaper-preset: hardware encoders have no x264 preset',
      policy: 'cheaper-preset',
      ladder: () => ({ ...ladder, encoder: { kind: 'nvenc', gpu: 0, preset: 'p4', rateControl: 'vbr' } }),
      expect: { kind: 'none', why: /x264 ladders only/ },
    },
    {
      name: 'drop-top-rendition: the highest encoded one goes',
      policy: 'drop-top-rendition',
      encoded: encoded('360p', '1080p', '480p', '720p'),
      expect: { kind: 'restart', adjustment: { presetSteps: 0, droppedRenditions: ['1080p'] }, summary: /^top rendition 1080p dropped \(3 video renditions left\)$/ },
    },
    {
      name: 'drop-top-rendition: a 720p source loses 720p (1080p was never encoded)',
      policy: 'drop-top-rendition',
      encoded: encoded('720p', '480p', '360p'),
      expect: { kind: 'restart', adjustment: { presetSteps: 0, droppedRenditions: ['720p'] }, summary: /top rendition 720p dropped/ },
    },
    {
      name: 'drop-top-rendition: flagged again, the next one goes',
      policy: 'drop-top-rendition',
      encoded: encoded('720p', '480p', '360p'),
      adjustment: { presetSteps: 0, droppedRenditions: ['1080p'] },
      expect: { kind: 'restart', adjustment: { presetSteps: 0, droppedRenditions: ['1080p', '720p'] }, summary: /720p dropped \(2 video/ },
    },
    {
      name: 'drop-top-rendition: never the last video rendition',
      policy: 'drop-top-rendition',
      encoded: encoded('360p'),
      adjustment: { presetSteps: 0, droppedRenditions: ['1080p', '720p', '480p'] },
      expect: { kind: 'none', why: /only one video rendition/ },
    },
  ];

  it.each(cases)('$name', async (c) => {
    ladder ??= (await loadLadder('default')).ladder;
    const action = decideBehindAction({ policy: c.policy, ladder: c.ladder?.() ?? ladder, encoded: c.encoded ?? ALL, adjustment: c.adjustment ?? NO_ADJUSTMENT });
    expect(action.kind).toBe(c.expect.kind);
    if (action.kind === 'none' && c.expect.kind === 'none') expect(action.why).toMatch(c.expect.why);
    if (action.kind === 'restart' && c.expect.kind === 'restart') {
      expect(action.adjustment).toEqual(c.expect.adjustment);
      expect(action.summary).toMatch(c.expect.summary);
    }
  });
});

describe('adjustLadder', () => {
  it('runs the ladder as configured without an adjustment', async () => {
    const { ladder } = await loadLadder('default');
    expect(adjustLadder(ladder, NO_ADJUSTMENT)).toBe(ladder);
  });

  it('drops renditions and moves every preset, leaving timing and audio alone', async () => {
    const { ladder } = await loadLadder('default');
    const adjusted = adjustLadder(ladder, { presetSteps: 1, droppedRenditions: ['1080p'] });
    expect(adjusted.video.map((v) => [v.name, v.preset])).toEqual([
      ['720p', 'superfast'],
      ['480p', 'superfast'],
      ['360p', 'superfast'],
    ]);
    expect(adjusted.audio).toEqual(ladder.audio);
    expect({ gop: adjusted.gop, segment: adjusted.segment, part: adjusted.part }).toEqual({ gop: ladder.gop, segment: ladder.segment, part: ladder.part });
    expect(ladder.video[0]!.preset).toBe('veryfast');
  });
});
