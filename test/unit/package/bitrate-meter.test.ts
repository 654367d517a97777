import { describe, expect, it } from 'vitest';
import { multivariantOutdated } from '../../../src/package/bitrate-meter.js';
import type { MultivariantPlaylist } from '../../../src/hls/playlist-model.js';

const master = (variants: Array<[number, number]>, change: Partial<MultivariantPlaylist> = {}): MultivariantPlaylist => ({
  version: 9,
  independentSegments: true,
  audio: [{ groupId: 'audio', name: 'audio', uri: 'audio/playlist.m3u8', default: true, channels: 2 }],
  variants: variants.map(([bandwidth, averageBandwidth], i) => ({
    uri: `v${i}/playlist.m3u8`,
    bandwidth,
    averageBandwidth,
    codecs: 'avc1.64001f,mp4a.40.2',
    resolution: { width: 1280, height: 720 },
    frameRate: 30,
    audioGroup: 'audio',
  })),
  ...change,
});

describe('multivariantOutdated', () => {
  const written = master([
    [3_000_000, 2_800_000],
    [900_000, 800_000],
  ]);
  const cases: Array<[string, MultivariantPlaylist | undefined, MultivariantPlaylist, boolean]> = [
    ['nothing written yet', undefined, written, true],
    ['the same playlist', written, master([[3_000_000, 2_800_000], [900_000, 800_000]]), false],
    ['averages drifting within 5 %', written, master([[3_000_000, 2_900_000], [900_000, 770_000]]), false],
    ['an average drifting by more than 5 %', written, master([[3_000_000, 2_800_000], [900_000, 841_000]]), true],
    ['an average falling by more than 5 %', written, master([[3_000_000, 2_600_000], [900_000, 800_000]]), true],
    ['a peak rising by one bit per second (BANDWIDTH is an upper bound)', written, master([[3_000_001, 2_800_000], [900_000, 800_000]]), true],
    ['a peak falling within 5 %', written, master([[2_900_000, 2_800_000], [900_000, 800_000]]), false],
    ['a peak falling by more than 5 %', written, master([[2_800_000, 2_700_000], [900_000, 800_000]]), true],
    ['a variant more', written, master([[3_000_000, 2_800_000], [900_000, 800_000], [500_000, 400_000]]), true],
    ['other codecs', written, { ...written, variants: written.variants.map((v) => ({ ...v, codecs: 'avc1.640028,mp4a.40.2' })) }, true],
    ['other audio channels', written, master([[3_000_000, 2_800_000], [900_000, 800_000]], { audio: [{ ...written.audio[0]!, channels: 6 }] }), true],
  ];
  it.each(cases)('%s → %s', (_name, before, next, expected) => {
    expect(multivariantOutdated(before, next)).toBe(expected);
  });
});
