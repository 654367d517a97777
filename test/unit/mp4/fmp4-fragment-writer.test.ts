import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Fmp4Reader, type FragmentEvent, type InitSegmentEvent } from '../../../src/mp4/fmp4-reader.js';
import { encodeMediaChunk, NON_SYNC_SAMPLE_FLAGS, SYNC_SAMPLE_FLAGS } from '../../../src/mp4/fmp4-fragment-writer.js';
import { encodeLadderFixture, type LadderFixture } from '../../helpers/package/fixtures.js';

const run = promisify(execFile);

interface Track {
  init: InitSegmentEvent;
  fragments: FragmentEvent[];
  bytes: Uint8Array;
}

function read(bytes: Uint8Array): Track {
  const events = new Fmp4Reader().push(bytes);
  const init = events.find((e): e is InitSegmentEvent => e.type === 'init')!;
  return { init, fragments: events.filter((e): e is FragmentEvent => e.type === 'fragment'), bytes };
}

/** The first sample's data of a fragment written by ffmpeg (default-base-is-moof: data right after the mdat header). */
function firstSampleData(fragment: FragmentEvent): Uint8Array {
  const moofSize = new DataView(fragment.bytes.buffer, fragment.bytes.byteOffset).getUint32(0);
  return fragment.bytes.subarray(moofSize + 8, moofSize + 8 + fragment.samples[0]!.size);
}

function endOf(track: Track): number {
  const last = track.fragments.at(-1)!;
  return last.decodeTime + last.duration;
}

let fixture: LadderFixture;
let dir: string;

beforeAll(async () => {
  fixture = await encodeLadderFixture({ seconds: 1, sizes: ['320x180'] });
  dir = await mkdtemp(join(tmpdir(), 'lp-chunk-'));
});

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('encodeMediaChunk', () => {
  it('writes a chunk the reader reads back as written: decode time, durations, sizes, sync flags, composition offsets', () => {
    const data = [new Uint8Array([1, 2, 3]), new Uint8Array([4, 5]), new Uint8Array([6])];
    const chunk = encodeMediaChunk({
      sequenceNumber: 7, trackId: 1, baseDecodeTime: 2 ** 40 + 5,
      samples: [{ duration: 100, data: data[0]!, sync: true }, { duration: 101, data: data[1]!, sync: false, compositionOffset: -3 }, { duration: 102, data: data[2]!, sync: false, compositionOffset: 9 }],
    });
    const video = read(fixture.video[0]!);
    const [event] = new Fmp4Reader().push(new Uint8Array([...video.init.bytes, ...chunk])).filter((e): e is FragmentEvent => e.type === 'fragment');
    expect(event).toMatchObject({ sequenceNumber: 7, decodeTime: 2 ** 40 + 5, duration: 303, independent: true });
    expect(event!.samples.map((s) => [s.duration, s.size, s.flags, s.compositionOffset, s.isSync])).toEqual([
      [100, 3, SYNC_SAMPLE_FLAGS, 0, true], [101, 2, NON_SYNC_SAMPLE_FLAGS, -3, false], [102, 1, NON_SYNC_SAMPLE_FLAGS, 9, false],
    ]);
    // The mdat holds the samples in order, right where the trun's data offset says.
    const moofSize = new DataView(chunk.buffer).getUint32(0);
    expect([...chunk.subarray(moofSize + 8)]).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('refuses a chunk without samples or with a negative decode time', () => {
    expect(() => encodeMediaChunk({ sequenceNumber: 1, trackId: 1, baseDecodeTime: 0, samples: [] })).toThrow(RangeError);
    expect(() => encodeMediaChunk({ sequenceNumber: 1, trackId: 1, baseDecodeTime: -1, samples: [{ duration: 1, data: new Uint8Array(1), sync: true }] })).toThrow(RangeError);
  });

  it('a held picture (the last keyframe again, one long sample) and silence-length audio continue ffmpeg\'s own output: ffmpeg decodes the result without an error', async () => {
    const video = read(fixture.video[0]!);
    const keyframe = video.fragments.filter((f) => f.samples[0]!.isSync).at(-1)!;
    const timescale = video.init.track.timescale;
    const held = encodeMediaChunk({
      sequenceNumber: video.fragments.at(-1)!.sequenceNumber + 1, trackId: 1, baseDecodeTime: endOf(video),
      samples: [{ duration: Math.round(timescale / 2), data: firstSampleData(keyframe), sync: true }],
    });
    const audio = read(fixture.audio);
    const frame = audio.fragments.at(-1)!;
    const repeated = encodeMediaChunk({
      sequenceNumber: frame.sequenceNumber + 1, trackId: 1, baseDecodeTime: endOf(audio),
      samples: Array.from({ length: 24 }, () => ({ duration: frame.samples[0]!.duration, data: firstSampleData(frame), sync: true })),
    });
    for (const [name, track, chunk, extra] of [['v.mp4', video, held, 1], ['a.mp4', audio, repeated, 24]] as const) {
      const file = join(dir, name);
      await writeFile(file, Buffer.concat([track.bytes, chunk]));
      const { stderr } = await run('ffmpeg', ['-hide_banner', '-v', 'error', '-i', file, '-f', 'null', '-']);
      expect(stderr, name).toBe('');
      const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', '0', '-count_packets', '-show_entries', 'stream=nb_read_packets', '-of', 'csv=p=0', file]);
      const samples = track.fragments.reduce((n, f) => n + f.samples.length, 0);
      expect(Number(stdout.trim()), name).toBe(samples + extra);
    }
  });
});
