/**
 * Part-sized fragments (ffmpeg cuts one fragment per part, see src/transcode/output-fragmenting.ts) on
 * a source whose timeline is not constant: timestamps jittered by 4 ms, as FLV's millisecond clock
 * does, and one frame in 25 dropped, as a congested publisher does. A fragment holding a gap would
 * outgrow PART-TARGET and end the run; constant-frame-rate video outputs (`-fps_mode cfr`) make every
 * full part exactly 15 frames.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import { FsStorage } from '../../../src/storage/fs-storage.js';
import { allSegments, lastVersion, RecordingStorage, ruleViolations, smallLadder, startLiveChannel } from '../../helpers/package/live.js';
import { mediaProblems, type RunShape } from '../../helpers/package/run-checks.js';
import { waitFor } from '../../helpers/wait.js';

const JITTERY_SOURCE =
  "testsrc2=size=320x180:rate=30,select='not(eq(mod(n,25),7))',setpts='PTS+if(eq(mod(N,3),1),0.004/TB,0)'[out0];" +
  'sine=frequency=440:sample_rate=48000[out1]';

describe('part-sized fragments on a jittery source with dropped frames (2 s segments, 0.5 s parts)', () => {
  let dir: string;
  let storage: RecordingStorage;
  let runs: number[] = [];
  const shape: RunShape = { folder: 'live/jitter/', video: ['v180', 'v90'], audio: 'audio', fps: 30, part: 0.5 };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'livepipe-part-fragments-'));
    storage = new RecordingStorage(new FsStorage({ root: dir }, silentLogger()));
    await storage.start();
    const channel = await startLiveChannel({ channel: 'jitter', ladder: smallLadder({ gop: 2, segment: 2, part: 0.5 }), source: JITTERY_SOURCE, storage });
    try {
      await waitFor(() => (channel.packager.positions().find((p) => p.rendition === 'v180')?.lastMsn ?? -1) >= 3, { timeoutMs: 40_000, message: 'four segments' });
    } finally {
      runs = [channel.supervisor.state().runId];
      await channel.stop({ endList: true });
    }
  }, 60_000);

  afterAll(async () => {
    await storage?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('keeps one ffmpeg run and every LL-HLS rule (no part over PART-TARGET, none under 85 % but the last)', () => {
    expect(runs).toEqual([1]);
    expect(storage.problems).toEqual([]);
    expect(ruleViolations(storage, { endListExpected: true })).toEqual([]);
  });

  it('cuts every full video part at exactly 15 frames and every segment at 2 s', () => {
    const segments = [...allSegments(storage, 'v180').values()];
    expect(segments.length).toBeGreaterThanOrEqual(4);
    // the last segment is where the run was stopped
    for (const s of segments.slice(0, -1)) expect(s.duration).toBeCloseTo(2, 6);
    const parts = [...lastVersion(storage, 'v180')!.matchAll(/#EXT-X-PART:DURATION=([\d.]+)/g)].map((m) => m[1]);
    expect(parts.length).toBeGreaterThanOrEqual(8);
    expect(new Set(parts.slice(0, -1))).toEqual(new Set(['0.500']));
  });

  it('decodes as one continuous stream per rendition: the dropped frames are filled, not holes', async () => {
    const { problems, checkedSegments } = await mediaProblems(storage, shape);
    expect(problems).toEqual([]);
    expect(checkedSegments).toBeGreaterThanOrEqual(8);
  });
});
