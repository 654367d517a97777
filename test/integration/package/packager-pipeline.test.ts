import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { Fmp4Reader } from '../../../src/mp4/fmp4-reader.js';
import { parseMediaPlaylist } from '../../../src/hls/playlist-parser.js';
import { serializeMediaPlaylist } from '../../../src/hls/playlist-serializer.js';
import { checkMediaPlaylist, checkRenditionSet, PlaylistHistoryChecker } from '../../helpers/hls/llhls-rules.js';
import { encodeLadderFixture, type LadderFixture } from '../../helpers/package/fixtures.js';
import { runPipeline, type PipelineResult } from '../../helpers/package/pipeline.js';

const run = promisify(execFile);
const NAMES = ['360p', '180p', 'audio'];

let ladder: LadderFixture;
let bframes: LadderFixture;

beforeAll(async () => {
  // 7 s of a lavfi source, two video renditions with aligned 1 s GOPs plus AAC, as the transcoder writes them.
  [ladder, bframes] = await Promise.all([
    encodeLadderFixture({ seconds: 7, sizes: ['320x180', '160x90'] }),
    encodeLadderFixture({ seconds: 4, sizes: ['160x90'], bframes: 2 }),
  ]);
});

interface Observed {
  result: PipelineResult;
  playlists: Map<string, string[]>;
  violations: string[];
}

function observe(fixture: LadderFixture, names: string[], options: { chunkSize?: number; partTarget?: number } = {}): Observed {
  const playlists = new Map<string, string[]>(names.map((n) => [n, []]));
  const histories = new Map(names.map((n) => [n, new PlaylistHistoryChecker()]));
  const withParts = new Set<string>();
  const violations: string[] = [];
  const inputs = names.map((name, i) => ({ name, bytes: name === 'audio' ? fixture.audio : fixture.video[i]! }));
  const result = runPipeline(inputs, {
    partTarget: options.partTarget ?? 0.5,
    segmentDuration: 2,
    dvrWindow: 12,
    ...(options.chunkSize ? { chunkSize: options.chunkSize } : {}),
    onPlaylist: (name, text) => {
      playlists.get(name)!.push(text);
      if (text.includes('#EXT-X-PART:')) withParts.add(name);
      // A report is due for every other rendition that has published a part.
      const others = names.filter((o) => o !== name && withParts.has(o));
      for (const v of checkMediaPlaylist(text, { otherRenditions: others })) violations.push(`${name}: ${v}`);
      for (const v of histories.get(name)!.check(text)) violations.push(`${name}: ${v}`);
    },
  });
  return { result, playlists, violations };
}

describe('reader → cutter → timeline → serializer on real ffmpeg output', () => {
  it('produces playlists that keep the LL-HLS rules at every update', () => {
    const { playlists, violations } = observe(ladder, NAMES);
    expect(violations).toEqual([]);
    // One update per part at least: 7 s of 0.5 s parts.
    for (const name of NAMES) expect(playlists.get(name)!.length).toBeGreaterThanOrEqual(14);
    const lastLive = NAMES.map((n) => playlists.get(n)!.at(-2)!);
    expect(checkRenditionSet(lastLive)).toEqual([]);
  });

  it('cuts all renditions at the same instants (audio within one AAC frame)', () => {
    const { result } = observe(ladder, NAMES);
    const starts = (name: string): number[] => result.renditions.get(name)!.segments.map((s) => s.startTime);
    expect(starts('360p')).toEqual([0, 2, 4, 6]);
    expect(starts('180p')).toEqual(starts('360p'));
    const audio = starts('audio');
    expect(audio).toHaveLength(4);
    audio.forEach((t, i) => expect(Math.abs(t - starts('360p')[i]!)).toBeLessThan(1024 / 48000));
    // Same msn ↔ same instant, and the same program date time within an audio frame.
    const pdt = (name: string): number[] => result.renditions.get(name)!.timeline.playlist.segments.map((s) => s.programDateTime);
    expect(pdt('180p')).toEqual(pdt('360p'));
    pdt('audio').forEach((t, i) => expect(Math.abs(t - pdt('360p')[i]!)).toBeLessThanOrEqual(22));
  });

  it('stores segments equal to their parts, each a decodable CMAF sequence starting with a keyframe', async () => {
    const { result } = observe(ladder, NAMES);
    const objects = result.objects;
    for (const name of NAMES) {
      const playlist = result.renditions.get(name)!.timeline.playlist;
      const last = playlist.segments.at(-1)!;
      const segment = objects.get(`${name}/${last.uri}`)!;
      const parts = last.parts.map((p) => objects.get(`${name}/${p.uri}`)!);
      expect(Buffer.concat(parts).equals(Buffer.from(segment))).toBe(true);
      const reader = new Fmp4Reader();
      const events = reader.push(Buffer.concat([objects.get(`${name}/init-1.mp4`)!, segment]));
      reader.end();
      const fragments = events.filter((e) => e.type === 'fragment');
      expect(fragments[0]!.type === 'fragment' && fragments[0]!.independent).toBe(true);
    }
    // ffmpeg itself decodes init + segment: every frame of the 2 s segment is there.
    const dir = await mkdtemp(join(tmpdir(), 'livepipe-seg-'));
    try {
      const file = join(dir, 'seg.mp4');
      const seg = result.renditions.get('360p')!.timeline.playlist.segments[1]!;
      await writeFile(file, Buffer.concat([objects.get('360p/init-1.mp4')!, objects.get(`360p/${seg.uri}`)!]));
      const { stdout } = await run('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', file]);
      expect(Number(stdout.trim())).toBe(60);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('gives the same playlists whether the reader gets 1-byte chunks or the whole stream', () => {
    const whole = observe(ladder, ['180p'], {});
    const tiny = observe(ladder, ['180p'], { chunkSize: 1 });
    expect(tiny.playlists.get('180p')).toEqual(whole.playlists.get('180p'));
  });

  it('hints the part that actually comes next, across segment boundaries too', () => {
    const { playlists } = observe(ladder, NAMES);
    for (const name of NAMES) {
      const texts = playlists.get(name)!;
      let checked = 0;
      for (let i = 0; i + 1 < texts.length; i++) {
        const hint = /PRELOAD-HINT:TYPE=PART,URI="([^"]+)"/.exec(texts[i]!)?.[1];
        const listed = (text: string): string[] => [...text.matchAll(/#EXT-X-PART:.*URI="([^"]+)"/g)].map((m) => m[1]!);
        const before = new Set(listed(texts[i]!));
        const next = listed(texts[i + 1]!).find((u) => !before.has(u));
        if (!hint || !next) continue;
        expect(`${name}: ${next}`).toBe(`${name}: ${hint}`);
        checked++;
      }
      expect(checked).toBeGreaterThan(10);
    }
  });

  it('final playlists parse back to their models (resume after restart)', () => {
    const { result } = observe(ladder, NAMES);
    for (const name of NAMES) {
      const model = result.renditions.get(name)!.timeline.playlist;
      expect(parseMediaPlaylist(serializeMediaPlaylist(model))).toEqual(model);
    }
  });

  it('keeps parts under PART-TARGET with B-frames and a PART-TARGET that is not a frame multiple', () => {
    const { violations, result } = observe(bframes, ['180p', 'audio'], { partTarget: 0.4 });
    expect(violations).toEqual([]);
    expect(result.renditions.get('180p')!.segments.every((s) => s.independent)).toBe(true);
  });
});
