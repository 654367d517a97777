/**
 * An operator restart of a channel whose publisher stayed connected hands the new supervisor the
 * previous run's probe: its first run must not run ffprobe (proved with an ffprobe path that does
 * not exist, which would fail the start with BinaryMissing), must compile from the known probe and
 * must encode the live input; a restart after a crash of a run that encoded frames reuses that probe,
 * a failure without any encoded frame probes again.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseLadder } from '../../../src/ladder/ladder-loader.js';
import { EventBus } from '../../../src/core/event-bus.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { InputProbe } from '../../../src/transcode/input-probe.js';
import type { TranscodeRun } from '../../../src/ladder/run-contract.js';
import { TranscoderSupervisor } from '../../../src/transcode/transcoder-supervisor.js';
import { renderSource } from '../../helpers/transcode/media.js';
import { waitFor } from '../../helpers/wait.js';

const tiny = parseLadder(
  {
    gop: 1,
    segment: 1,
    part: 0.2,
    frameRate: { cap: 15 },
    tune: 'zerolatency',
    video: [{ name: 'v180', width: 320, height: 180, bitrate: '300k', preset: 'ultrafast', profile: 'baseline' }],
    audio: [{ name: 'audio', bitrate: '64k' }],
  },
  'tiny.yaml',
);

const known: InputProbe = { width: 320, height: 180, frameRate: 15, videoCodec: 'h264', hasAudio: true, audioCodec: 'aac', audioChannels: 1, audioSampleRate: 48000 };

describe('TranscoderSupervisor with a known probe', () => {
  let dir: string;
  let flv: Buffer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'livepipe-known-probe-'));
    await renderSource(join(dir, 'in.flv'), { width: 320, height: 180, fps: 15, seconds: 3, format: 'flv', gopFrames: 15 });
    flv = await readFile(join(dir, 'in.flv'));
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('skips ffprobe for the first run and encodes the input', async () => {
    const runs: TranscodeRun[] = [];
    const supervisor = new TranscoderSupervisor({
      channel: 'known',
      ladder: tiny,
      input: { kind: 'stdin', format: 'flv' },
      openInput: () => Readable.from([flv]),
      knownProbe: known,
      ffprobePath: join(dir, 'no-such-ffprobe'),
      bus: new EventBus(),
      logger: silentLogger(),
      restart: { backoffDelayMs: 50, maxDelayMs: 100, maxRestarts: 1, windowMs: 60_000 },
      onRun: (run) => {
        runs.push(run);
        for (const o of run.outputs) o.stream.resume();
      },
    });
    try {
      await supervisor.start();
      expect(runs).toHaveLength(1);
      expect(runs[0]!.probe).toBe(known);
      expect(runs[0]!.outputs.map((o) => o.name)).toEqual(['v180', 'audio']);
      // The whole 3 s file is encoded (45 frames at 15 fps), then the input ends.
      expect(await waitFor(() => (supervisor.state().lastProgress?.frame ?? 0) >= 40, { timeoutMs: 20_000, intervalMs: 20 })).toBe(true);
      const exit = await runs[0]!.ended;
      expect(exit.code).toBe(0);
      expect(await supervisor.finished()).toBe('stopped');
    } finally {
      await supervisor.stop();
    }
  });

  it('a restart after a run that encoded frames reuses its probe (no ffprobe on the restart path)', async () => {
    const runs: TranscodeRun[] = [];
    const supervisor = new TranscoderSupervisor({
      channel: 'known3',
      ladder: tiny,
      input: { kind: 'stdin', format: 'flv' },
      // Each run gets the file, then the feed stays open: a live publisher between two frames.
      openInput: () => {
        const stream = new Readable({ read() {} });
        stream.push(flv);
        return stream;
      },
      knownProbe: known,
      // Any ffprobe call would fail the supervisor (BinaryMissing).
      ffprobePath: join(dir, 'no-such-ffprobe'),
      bus: new EventBus(),
      logger: silentLogger(),
      stallTimeoutMs: 60_000,
      onRun: (run) => {
        runs.push(run);
        for (const o of run.outputs) o.stream.resume();
      },
    });
    try {
      await supervisor.start();
      for (let run = 1; run <= 2; run++) {
        expect(await waitFor(() => supervisor.state().runId === run && supervisor.state().state === 'running', { timeoutMs: 20_000 })).toBe(true);
        process.kill(supervisor.state().pid!, 'SIGKILL');
      }
      expect(await waitFor(() => supervisor.state().runId === 3 && supervisor.state().state === 'running', { timeoutMs: 20_000 })).toBe(true);
      expect(runs.map((r) => r.probe)).toEqual([known, known, known]);
      expect(supervisor.state().lastError).toBe('ffmpeg killed by SIGKILL');
    } finally {
      await supervisor.stop();
    }
  });

  it('probes again after a failure without any encoded frame: the known probe serves the first run only', async () => {
    let opened = 0;
    const supervisor = new TranscoderSupervisor({
      channel: 'known2',
      ladder: tiny,
      input: { kind: 'stdin', format: 'flv' },
      // First run: garbage, so ffmpeg fails; the restart must then run (the missing) ffprobe.
      openInput: () => Readable.from([opened++ === 0 ? Buffer.from('not flv at all') : flv]),
      knownProbe: known,
      ffprobePath: join(dir, 'no-such-ffprobe'),
      bus: new EventBus(),
      logger: silentLogger(),
      restart: { backoffDelayMs: 50, maxDelayMs: 100, maxRestarts: 3, windowMs: 60_000 },
    });
    try {
      await supervisor.start();
      expect(await supervisor.finished()).toBe('failed');
      expect(supervisor.state().lastError).toMatch(/ffprobe not found/);
      expect(opened).toBe(2); // the failed run, then the probe of the restart
    } finally {
      await supervisor.stop();
    }
  });
});
