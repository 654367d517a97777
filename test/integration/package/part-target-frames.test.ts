/**
 * A part duration that is not a whole number of frames (0.1 s at 25 fps = 2.5 frames) must not give
 * parts below 85 % of PART-TARGET: the channel's PART-TARGET snaps to whole frames (3 = 0.12 s), the
 * same in every rendition, and every part keeps the LLHLS.md rules. Real ffmpeg, filesystem storage.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import { FsStorage } from '../../../src/storage/fs-storage.js';
import { lastVersion, RecordingStorage, ruleViolations, smallLadder, startLiveChannel } from '../../helpers/package/live.js';
import { lavfiSource } from '../../helpers/transcode/media.js';
import { waitFor } from '../../helpers/wait.js';

/** Four segments of a 320x180 25 fps lavfi source packaged on `ladder` into fresh filesystem storage. */
async function packageFourSegmentsAt25fps(channelId: string, ladder: ReturnType<typeof smallLadder>): Promise<{ dir: string; storage: RecordingStorage }> {
  const dir = await mkdtemp(join(tmpdir(), `livepipe-pkgtest-${channelId}-`));
  const storage = new RecordingStorage(new FsStorage({ root: dir }, silentLogger()));
  await storage.start();
  const channel = await startLiveChannel({ channel: channelId, ladder, source: lavfiSource(320, 180, 25), storage });
  try {
    const msn = () => channel.packager.positions().find((p) => p.rendition === 'v180')?.lastMsn ?? -1;
    await waitFor(() => msn() >= 3, { timeoutMs: 40_000, message: 'four segments' });
  } finally {
    await channel.stop({ endList: true });
  }
  return { dir, storage };
}

describe('0.1 s parts on a 25 fps source', () => {
  let dir: string;
  let storage: RecordingStorage;

  beforeAll(async () => {
    ({ dir, storage } = await packageFourSegmentsAt25fps('pal', smallLadder({ gop: 1, segment: 1, part: 0.1 })));
  }, 90_000);

  afterAll(async () => {
    await storage?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('PART-TARGET is 3 frames (0.12 s) and PART-HOLD-BACK 3 × that, in every rendition', () => {
    for (const rendition of ['v180', 'v90', 'audio']) {
      const text = lastVersion(storage, rendition);
      expect(text, rendition).toContain('#EXT-X-PART-INF:PART-TARGET=0.120\n');
      expect(text, rendition).toContain('PART-HOLD-BACK=0.360,');
    }
  });

  it('every playlist keeps the rules (parts ≤ PART-TARGET and ≥ 85 % of it, …)', () => {
    expect(storage.problems).toEqual([]);
    expect(ruleViolations(storage, { endListExpected: true })).toEqual([]);
  });

  it('video parts are whole 3-frame parts (the last of a 25-frame segment is shorter)', () => {
    const text = lastVersion(storage, 'v180')!;
    const durations = [...text.matchAll(/#EXT-X-PART:DURATION=([\d.]+),/g)].map((m) => Number(m[1]));
    expect(durations.length).toBeGreaterThan(5);
    expect(Math.max(...durations)).toBeCloseTo(0.12, 6);
    expect(durations.filter((d) => Math.abs(d - 0.12) < 1e-6).length).toBeGreaterThan(durations.length / 2);
  });
});

/**
 * The `low-latency` shape (0.5 s GOPs in 1 s segments, 0.1 s parts) on a 25 fps source: 0.5 s is
 * 12.5 frames, so a keyframe on that grid (frame 13) fell inside the 3-frame part 12–14 and the
 * packager made a one-frame part (0.04 s) before it in every segment. The run is keyed at segment
 * starts only there (`keyframeGop`, src/ladder/part-target.ts), and every part keeps the rules.
 */
describe('0.5 s GOPs, 1 s segments, 0.1 s parts on a 25 fps source', () => {
  let dir: string;
  let storage: RecordingStorage;

  beforeAll(async () => {
    ({ dir, storage } = await packageFourSegmentsAt25fps('palgop', smallLadder({ gop: 0.5, segment: 1, part: 0.1 })));
  }, 90_000);

  afterAll(async () => {
    await storage?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('every playlist keeps the rules (no part under 85 % of PART-TARGET before a mid-segment keyframe)', () => {
    expect(storage.problems).toEqual([]);
    expect(ruleViolations(storage, { endListExpected: true })).toEqual([]);
  });

  it('only each segment\'s first part is independent', () => {
    const text = lastVersion(storage, 'v180')!;
    const parts = [...text.matchAll(/#EXT-X-PART:DURATION=[\d.]+,URI="part-(\d+)-(\d+)\.m4s"(,INDEPENDENT=YES)?/g)];
    expect(parts.length).toBeGreaterThan(8);
    expect(parts.filter((m) => m[3] !== undefined).map((m) => Number(m[2]))).toEqual(parts.filter((m) => m[2] === '0').map(() => 0));
  });
});
