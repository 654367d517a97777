import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseLadder } from '../../../src/ladder/ladder-loader.js';
import { ErrorCode, isLivepipeError } from '../../../src/core/errors.js';
import { EventBus, LivepipeEvent, type EventPayloads } from '../../../src/core/event-bus.js';
import { silentLogger } from '../../../src/core/logger.js';
import { Admission } from '../../../src/transcode/admission.js';
import type { InputSpec } from '../../../src/transcode/input-spec.js';
import { TranscoderSupervisor, type TranscoderSupervisorOptions } from '../../../src/transcode/transcoder-supervisor.js';
import { groupAlive, lavfiSource, pidAlive, renderSource } from '../../helpers/transcode/media.js';
import { waitFor } from '../../helpers/wait.js';

/** A tiny ladder so that these lifecycle tests cost little CPU. */
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

type StateEvent = EventPayloads[LivepipeEvent.TranscoderState];

function harness(overrides: Partial<TranscoderSupervisorOptions> & { input: InputSpec }) {
  const bus = new EventBus();
  const states: StateEvent[] = [];
  const runs: number[] = [];
  bus.on(LivepipeEvent.TranscoderState, (e) => states.push(e));
  const supervisor = new TranscoderSupervisor({
    channel: 'sup',
    ladder: tiny,
    bus,
    // Each run announced to its consumer, which drains the outputs (as the supervisor does without one).
    onRun: (run) => {
      runs.push(run.runId);
      for (const output of run.outputs) output.stream.resume();
    },
    logger: silentLogger(),
    stallTimeoutMs: 10_000,
    stopTimeoutMs: 3_000,
    restart: { backoffDelayMs: 200, maxDelayMs: 400, maxRestarts: 5, windowMs: 60_000 },
    random: () => 0.5,
    ...overrides,
  });
  return { supervisor, states, runs, names: () => states.map((s) => s.state) };
}

const live: InputSpec = { kind: 'url', url: lavfiSource(320, 180, 15), format: 'lavfi', realtime: true, maxDurationSec: 60 };

describe('TranscoderSupervisor (real ffmpeg)', () => {
  let dir: string;
  let flv: Buffer;
  const toStop: TranscoderSupervisor[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'livepipe-supervisor-'));
    // One keyframe only (GOP longer than the file), like a publisher with long GOPs: the probed first
    // GOP must reach the encoder (regression: `-fflags nobuffer` dropped it and nothing was encoded).
    await renderSource(join(dir, 'in.flv'), { width: 320, height: 180, fps: 15, seconds: 3, format: 'flv', gopFrames: 300 });
    flv = await readFile(join(dir, 'in.flv'));
  });

  afterEach(async () => {
    await Promise.all(toStop.splice(0).map((s) => s.stop()));
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('restarts ffmpeg at once after a SIGKILL, emitting states in order; stop() leaves no process', async () => {
    const h = harness({ input: live });
    toStop.push(h.supervisor);
    await h.supervisor.start();
    expect(await waitFor(() => h.supervisor.state().state === 'running', { timeoutMs: 20_000, intervalMs: 20 })).toBe(true);
    const first = h.supervisor.state().pid!;
    expect(pidAlive(first)).toBe(true);

    process.kill(first, 'SIGKILL');
    expect(await waitFor(() => h.supervisor.state().runId === 2 && h.supervisor.state().state === 'running', { timeoutMs: 20_000 })).toBe(true);
    const second = h.supervisor.state().pid!;
    expect(second).not.toBe(first);
    expect(pidAlive(first)).toBe(false);
    // The first restart of a series is immediate (no backoff before it).
    const restarting = h.states.find((s) => s.state === 'restarting')!;
    expect(restarting.reason).toMatch(/killed by SIGKILL; restart in 0 ms$/);
    expect(h.supervisor.state()).toMatchObject({ restarts: 1, lastError: 'ffmpeg killed by SIGKILL', consecutiveFailures: 1, crashLooping: false });
    expect(h.supervisor.state().failingSince).toBeGreaterThan(0);

    await h.supervisor.stop();
    await h.supervisor.stop(); // idempotent
    expect(h.names()).toEqual(['starting', 'running', 'restarting', 'starting', 'running', 'stopping', 'stopped']);
    expect(h.runs).toEqual([1, 2]);
    expect(pidAlive(second)).toBe(false);
    expect(groupAlive(second)).toBe(false);
    expect(await h.supervisor.finished()).toBe('stopped');
  });

  it('kills and restarts a run whose stdin input stops delivering bytes (stall watchdog)', async () => {
    let opened = 0;
    const h = harness({
      input: { kind: 'stdin', format: 'flv' },
      stallTimeoutMs: 1_500,
      // Each run gets the whole file, then the stream stays open without another byte: a stalled publisher.
      openInput: () => {
        opened += 1;
        const stream = new Readable({ read() {} });
        stream.push(flv);
        return stream;
      },
    });
    toStop.push(h.supervisor);
    await h.supervisor.start();
    expect(await waitFor(() => h.states.some((s) => s.state === 'restarting'), { timeoutMs: 30_000, intervalMs: 20 })).toBe(true);
    expect(h.states.find((s) => s.state === 'restarting')!.reason).toMatch(/stalled: no frame encoded for 1.5 s/);
    expect(await waitFor(() => h.runs.length >= 2, { timeoutMs: 20_000, intervalMs: 20 })).toBe(true);
    expect(opened).toBeGreaterThanOrEqual(2);
    const pid = h.supervisor.state().pid;
    await h.supervisor.stop();
    expect(h.names().slice(0, 4)).toEqual(['starting', 'running', 'restarting', 'starting']);
    expect(h.names().at(-1)).toBe('stopped');
    if (pid !== undefined) expect(groupAlive(pid)).toBe(false);
  });

  it('does not count a run that stalled as healthy, however long it existed: stall kills back off', async () => {
    const h = harness({
      input: { kind: 'stdin', format: 'flv' },
      // Each run encodes the 3 s file in well under stableAfterMs, then gets nothing more until the
      // watchdog kills it: existed > stableAfterMs, worked < stableAfterMs.
      stallTimeoutMs: 4_000,
      restart: { backoffDelayMs: 100, maxDelayMs: 200, stableAfterMs: 3_000 },
      openInput: () => {
        const stream = new Readable({ read() {} });
        stream.push(flv);
        return stream;
      },
    });
    toStop.push(h.supervisor);
    await h.supervisor.start();
    expect(await waitFor(() => h.names().filter((s) => s === 'restarting').length === 2, { timeoutMs: 60_000 })).toBe(true);
    const reasons = h.states.filter((s) => s.state === 'restarting').map((s) => s.reason);
    expect(reasons[0]).toMatch(/^stalled: no frame encoded for 4 s; restart in 0 ms$/);
    // The second stall continues the series (a backoff), instead of restarting at once as after a healthy run.
    expect(reasons[1]).toMatch(/^stalled: no frame encoded for 4 s; restart in 75 ms$/);
    expect(h.supervisor.state().consecutiveFailures).toBe(2);
  });

  it('fails with a readable reason on an undecodable input, without restarting', async () => {
    const garbage = join(dir, 'garbage.mp4');
    // Fixed bytes, not random ones: about one random 64 KiB file in 300 happens to probe as some
    // format (an H.263 header, seen in CI) and fails differently.
    await writeFile(garbage, Buffer.alloc(64 * 1024, 'livepipe: not a video. '));
    const h = harness({ input: { kind: 'url', url: garbage, realtime: true } });
    let caught: unknown;
    try {
      await h.supervisor.start();
    } catch (err) {
      caught = err;
    }
    expect(isLivepipeError(caught, ErrorCode.InputUnusable)).toBe(true);
    expect((caught as Error).message).toMatch(/garbage\.mp4: cannot read input: .*Invalid data/);
    expect(h.names()).toEqual(['starting', 'failed']);
    expect(h.states.at(-1)!.reason).toMatch(/Invalid data found/);
    expect(h.supervisor.state()).toMatchObject({ state: 'failed', restarts: 0 });
    expect(await h.supervisor.finished()).toBe('failed');
    await h.supervisor.stop(); // a no-op on a failed supervisor
    expect(h.names()).toEqual(['starting', 'failed']);
  });

  it('gives up (failed) when ffmpeg keeps dying: the crash-loop guard names the cause', async () => {
    const h = harness({ input: live, restart: { backoffDelayMs: 50, maxDelayMs: 100, maxRestarts: 2, windowMs: 60_000 } });
    toStop.push(h.supervisor);
    await h.supervisor.start();
    for (let run = 1; run <= 3; run++) {
      expect(await waitFor(() => h.supervisor.state().runId === run && h.supervisor.state().pid !== undefined, { timeoutMs: 20_000, intervalMs: 20 })).toBe(true);
      process.kill(h.supervisor.state().pid!, 'SIGKILL');
    }
    expect(await h.supervisor.finished()).toBe('failed');
    expect(h.states.at(-1)).toMatchObject({ state: 'failed', reason: expect.stringMatching(/crash loop: 3 failures within 60 s \(limit 2\); last error: ffmpeg killed by SIGKILL/) });
    expect(h.names().filter((s) => s === 'restarting')).toHaveLength(2);
    expect(h.supervisor.state().pid).toBeUndefined();
  });

  it('without a give-up guard keeps retrying a crash loop at the capped rate, reports it, and clears it once a run is healthy', async () => {
    const h = harness({ input: live, restart: { backoffDelayMs: 100, maxDelayMs: 200, stableAfterMs: 2_000, crashLoopAfter: 3 } });
    toStop.push(h.supervisor);
    await h.supervisor.start();
    for (let run = 1; run <= 5; run++) {
      expect(await waitFor(() => h.supervisor.state().runId === run && h.supervisor.state().pid !== undefined, { timeoutMs: 20_000 })).toBe(true);
      process.kill(h.supervisor.state().pid!, 'SIGKILL');
      expect(await waitFor(() => h.names().filter((s) => s === 'restarting').length === run, { timeoutMs: 20_000 })).toBe(true);
      expect(h.supervisor.state()).toMatchObject({ consecutiveFailures: run, crashLooping: run >= 3 });
    }
    const delays = h.states.filter((s) => s.state === 'restarting').map((s) => Number(/restart in (\d+) ms/.exec(s.reason ?? '')![1]));
    // Immediate, then 100 ms doubling to the 200 ms cap (jitter 0.5 → 75 % of the step).
    expect(delays).toEqual([0, 75, 150, 150, 150]);
    expect(h.states.filter((s) => s.state === 'restarting').at(-1)!.reason).toMatch(/crash loop: 5 fast failures in a row/);
    const failingSince = h.supervisor.state().failingSince!;
    expect(failingSince).toBeGreaterThan(0);
    expect(h.names()).not.toContain('failed');
    // The sixth run is left alone: once it has encoded for 2 s the failures are over.
    expect(await waitFor(() => h.supervisor.state().runId === 6 && !h.supervisor.state().crashLooping, { timeoutMs: 30_000 })).toBe(true);
    expect(h.supervisor.state()).toMatchObject({ state: 'running', consecutiveFailures: 0, failingSince: undefined, restarts: 5 });
  });

  it('refuses a channel over the node-wide cap with CapacityExceeded, spawning nothing', async () => {
    const admission = new Admission({ maxLadders: 1 });
    const held = admission.acquire('other-channel');
    const h = harness({ input: live, admission });
    let caught: unknown;
    try {
      await h.supervisor.start();
    } catch (err) {
      caught = err;
    }
    expect(isLivepipeError(caught, ErrorCode.CapacityExceeded)).toBe(true);
    expect(h.supervisor.state()).toMatchObject({ state: 'idle', runId: 0, pid: undefined });
    expect(h.runs).toEqual([]);
    held.release();
    // With the slot free, the same supervisor starts; stopping it frees the slot again.
    await h.supervisor.start();
    expect(admission.active()).toEqual(['sup']);
    await h.supervisor.stop();
    expect(admission.active()).toEqual([]);
  });

  it('fails at start() with BinaryMissing when ffmpeg cannot be found', async () => {
    const h = harness({ input: live, ffmpegPath: '/nonexistent/ffmpeg' });
    let caught: unknown;
    try {
      await h.supervisor.start();
    } catch (err) {
      caught = err;
    }
    expect(isLivepipeError(caught, ErrorCode.BinaryMissing)).toBe(true);
    expect(h.names()).toEqual(['starting', 'failed']);
    expect(h.runs).toEqual([]);
  });

  it('stop() ends a run blocked on a silent stdin publisher gracefully (EOF + SIGTERM, no SIGKILL)', async () => {
    const ended: Array<Promise<{ code: number | null; signal: string | null }>> = [];
    const h = harness({
      input: { kind: 'stdin', format: 'flv' },
      stallTimeoutMs: 60_000,
      stopTimeoutMs: 30_000,
      openInput: () => {
        const stream = new Readable({ read() {} });
        stream.push(flv);
        return stream;
      },
      onRun: (run) => {
        ended.push(run.ended);
        for (const o of run.outputs) o.stream.resume();
      },
    });
    toStop.push(h.supervisor);
    await h.supervisor.start();
    // All the bytes are encoded, then ffmpeg sits in a blocking read on stdin.
    expect(await waitFor(() => (h.supervisor.state().lastProgress?.frame ?? 0) >= 30, { timeoutMs: 20_000, intervalMs: 20 })).toBe(true);
    const pid = h.supervisor.state().pid!;
    await h.supervisor.stop();
    // Exited by itself (ffmpeg's status after a handled SIGTERM is 255, after EOF 0), not SIGKILLed.
    const exit = await ended[0]!;
    expect(exit.signal).toBeNull();
    expect([0, 255]).toContain(exit.code);
    expect(groupAlive(pid)).toBe(false);
    expect(h.names().slice(-2)).toEqual(['stopping', 'stopped']);
  });
});
