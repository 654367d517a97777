/**
 * Faults a live channel must ride through, with real ffmpeg and real storage: the encoder killed
 * mid-stream, S3 gone for 10 s, and the packager process restarted on the same storage.
 */
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import { FsStorage } from '../../../src/storage/fs-storage.js';
import { PendingObjects, PendingReadStorage } from '../../../src/storage/pending-objects.js';
import { S3Storage } from '../../../src/storage/s3-storage.js';
import type { UploadStats } from '../../../src/storage/upload-queue.js';
import { runCli } from '../../helpers/cli/livepipe-cli.js';
import { allSegments, DirectoryPlaylistPoller, lastVersion, objectsNamedBy, readMediaPlaylist, RecordingStorage, ruleViolations, smallLadder, startLiveChannel, versionsOf, writeSmallLadder, type LiveChannel, type Recording } from '../../helpers/package/live.js';
import { alignmentProblems, mediaProblems, type RunShape } from '../../helpers/package/run-checks.js';
import { startS3Server, type TestS3Server } from '../../helpers/storage/s3-server.js';
import { lavfiSource } from '../../helpers/transcode/media.js';
import { waitFor } from '../../helpers/wait.js';

const SOURCE = lavfiSource(320, 180, 30);
const RENDITIONS = ['v180', 'v90', 'audio'];

const lastMsnOf = (channel: LiveChannel, rendition = 'v180'): number =>
  channel.packager.positions().find((p) => p.rendition === rendition)?.lastMsn ?? -1;

/** Every msn ever listed, in order, for each rendition, must be consecutive (nothing skipped or reused). */
function msnProblems(recording: Recording): string[] {
  const problems: string[] = [];
  for (const rendition of RENDITIONS) {
    const msns = [...allSegments(recording, rendition).keys()].sort((a, b) => a - b);
    msns.forEach((msn, i) => {
      if (i > 0 && msn !== msns[i - 1]! + 1) problems.push(`${rendition}: msn ${msns[i - 1]} is followed by ${msn}`);
    });
  }
  return problems;
}

describe('the encoder is killed mid-stream (SIGKILL to the ffmpeg child)', () => {
  let dir: string;
  let storage: RecordingStorage;
  let killedAtMsn: number;
  let killedPid: number;
  let restarted: { runId: number; restarts: number; pid: number | undefined };
  const shape: RunShape = { folder: 'live/killed/', video: ['v180', 'v90'], audio: 'audio', fps: 30 };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'livepipe-pkgtest-kill-'));
    storage = new RecordingStorage(new FsStorage({ root: dir }, silentLogger()));
    await storage.start();
    // 6 s of DVR (the minimum for 1 s segments): the discontinuity slides out before the end.
    const channel = await startLiveChannel({ channel: 'killed', ladder: smallLadder({ gop: 1, segment: 1, part: 0.2 }), source: SOURCE, storage, dvrWindowSeconds: 6 });
    try {
      await waitFor(() => lastMsnOf(channel) >= 3, { timeoutMs: 30_000, message: 'four segments' });
      killedPid = channel.supervisor.state().pid!;
      killedAtMsn = lastMsnOf(channel);
      process.kill(killedPid, 'SIGKILL');
      await waitFor(() => channel.supervisor.state().runId === 2 && channel.supervisor.state().state === 'running', { timeoutMs: 30_000, message: 'the restarted run' });
      const state = channel.supervisor.state();
      restarted = { runId: state.runId, restarts: state.restarts, pid: state.pid };
      await waitFor(() => lastMsnOf(channel) >= killedAtMsn + 9, { timeoutMs: 40_000, message: 'the discontinuity to slide out of the window' });
    } finally {
      await channel.stop({ endList: true });
    }
  }, 120_000);

  afterAll(async () => {
    await storage?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('the supervisor restarts ffmpeg as a new run', () => {
    expect(restarted.runId).toBe(2);
    expect(restarted.restarts).toBe(1);
    expect(restarted.pid).not.toBe(killedPid);
  });

  it('every playlist keeps the rules: media sequence only increases, discontinuity sequence right', () => {
    expect(storage.problems).toEqual([]);
    expect(ruleViolations(storage, { endListExpected: true })).toEqual([]);
    expect(msnProblems(storage)).toEqual([]);
  });

  it('the stream continues after a discontinuity with a new EXT-X-MAP, in every rendition at the same msn', () => {
    const breaks = RENDITIONS.map((rendition) => {
      const segments = [...allSegments(storage, rendition).values()];
      const after = segments.filter((s) => s.discontinuity);
      expect(after, rendition).toHaveLength(1);
      const first = after[0]!;
      expect(first.mapUri, rendition).toBe('init-2.mp4');
      expect(segments.filter((s) => s.msn < first.msn).every((s) => s.mapUri === 'init-1.mp4'), rendition).toBe(true);
      expect(segments.filter((s) => s.msn >= first.msn).every((s) => s.mapUri === 'init-2.mp4'), rendition).toBe(true);
      expect(first.msn, rendition).toBeGreaterThan(killedAtMsn);
      // Run 2 went on for several segments after the break.
      expect(Math.max(...segments.map((s) => s.msn)) - first.msn, rendition).toBeGreaterThanOrEqual(5);
      // Some version showed the break itself, before it slid out of the window.
      expect(versionsOf(storage, rendition).some((t) => /#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="init-2.mp4"/.test(t)), rendition).toBe(true);
      // …and once it slid out, the discontinuity sequence counts it.
      const final = readMediaPlaylist(lastVersion(storage, rendition)!);
      const listedBreaks = final.segments.filter((s) => s.discontinuity).length;
      expect(final.discontinuitySequence + listedBreaks, rendition).toBe(1);
      expect(final.discontinuitySequence, rendition).toBe(1);
      return first.msn;
    });
    expect(new Set(breaks).size).toBe(1);
  });

  it('media of both runs decodes, each run as one continuous stream, renditions aligned', async () => {
    const { problems } = await mediaProblems(storage, shape);
    expect(problems).toEqual([]);
    expect(alignmentProblems(storage, shape)).toEqual([]);
  });
});

describe('S3 is unreachable for 10 s mid-stream', () => {
  let s3: TestS3Server;
  let storage: RecordingStorage;
  let outage: { fromMsn: number; restartedAt: number };
  /** What the embedded origin saw while storage was down: the served model's edge, and a part read through. */
  let duringOutage: { lastMsn: number; newestPart: string; newestPartGap: boolean; served: number | undefined };
  const samples: UploadStats[] = [];
  const pending = new PendingObjects();
  const limits = { maxQueuedItems: 48, maxQueuedBytes: 4 * 1024 * 1024, pending };

  beforeAll(async () => {
    s3 = await startS3Server();
    storage = new RecordingStorage(
      new S3Storage({ bucket: s3.bucket, endpoint: s3.endpoint, forcePathStyle: true, credentials: s3.credentials, listApi: 'v1' }, silentLogger()),
    );
    await storage.start();
    const channel = await startLiveChannel({
      channel: 'outage',
      ladder: smallLadder({ gop: 1, segment: 1, part: 0.2 }),
      source: SOURCE,
      storage,
      uploadOptions: limits,
    });
    const sampler = setInterval(() => samples.push(channel.uploads.stats()), 100);
    try {
      await waitFor(() => lastMsnOf(channel) >= 2, { timeoutMs: 30_000, message: 'three segments' });
      await s3.stop();
      const fromMsn = lastMsnOf(channel);
      await new Promise((r) => setTimeout(r, 9_000));
      // Storage has been down for 9 s: the live edge the embedded origin serves has moved on, and its
      // newest part is read through the upload queue's pending objects.
      const model = channel.packager.playlist('v180')!;
      const newest = model.pending?.parts.at(-1) ?? model.segments.at(-1)!.parts.at(-1)!;
      const msn = model.pending?.msn ?? model.segments.at(-1)!.msn;
      const read = await new PendingReadStorage(storage, pending).get(`live/outage/v180/${newest.uri}`).catch(() => undefined);
      duringOutage = { lastMsn: msn, newestPart: newest.uri, newestPartGap: newest.gap === true, served: read && 'body' in read ? read.body.length : undefined };
      await new Promise((r) => setTimeout(r, 1_000));
      await s3.restart();
      outage = { fromMsn, restartedAt: Date.now() };
      // Media captured once storage is back (EXT-X-PROGRAM-DATE-TIME is the capture time).
      const capturedAfter = (): number => channel.packager.playlist('v180')!.segments.filter((x) => x.programDateTime > outage.restartedAt).length;
      await waitFor(() => capturedAfter() >= 5, { timeoutMs: 40_000, message: 'five segments captured after the outage' });
    } finally {
      clearInterval(sampler);
      await channel.stop({ endList: true });
    }
  }, 120_000);

  afterAll(async () => {
    await storage?.close();
    await s3?.close();
  });

  it('never names an object before it is stored, and keeps the rules through the outage', () => {
    expect(storage.problems).toEqual([]);
    expect(ruleViolations(storage, { endListExpected: true })).toEqual([]);
    expect(msnProblems(storage)).toEqual([]);
  });

  it('afterwards every object the stored playlists name is in the bucket; what could not be stored is a gap', async () => {
    let gaps = 0;
    for (const rendition of RENDITIONS) {
      const stored = await storage.get(`live/outage/${rendition}/playlist.m3u8`);
      const text = stored && 'body' in stored ? stored.body.toString('utf8') : '';
      expect(text, rendition).toBe(lastVersion(storage, rendition));
      const keys = new Set(await storage.list(`live/outage/${rendition}/`));
      for (const name of objectsNamedBy(text)) expect(keys.has(`live/outage/${rendition}/${name}`), `${rendition}/${name}`).toBe(true);
      // Every part or segment listed at any time is either stored or marked GAP; gaps are really absent.
      for (const s of allSegments(storage, rendition).values()) {
        for (const item of [{ uri: s.uri, gap: s.gap }, ...s.parts]) {
          if (item.gap) {
            gaps++;
            expect(storage.objects.has(`live/outage/${rendition}/${item.uri}`), `${rendition}/${item.uri} is GAP but was stored`).toBe(false);
          }
        }
      }
    }
    // 10 s without storage is far beyond the upload retries (~1.5 s): media was lost and says so.
    expect(gaps).toBeGreaterThan(0);
  });

  it('the live edge kept moving while storage was down, its newest part served from memory', () => {
    expect(duringOutage.lastMsn).toBeGreaterThanOrEqual(outage.fromMsn + 5);
    expect(duringOutage.newestPartGap).toBe(false);
    expect(duringOutage.served, duringOutage.newestPart).toBeGreaterThan(0);
  });

  it('the stream continues with stored parts after the outage', () => {
    for (const rendition of RENDITIONS) {
      const segments = [...allSegments(storage, rendition).values()];
      expect(segments.some((s) => s.msn > outage.fromMsn && (s.gap || s.parts.some((p) => p.gap))), `${rendition} has gaps`).toBe(true);
      // Anything captured later than the retries after storage came back (~1.5 s) is stored.
      const after = segments.filter((s) => s.programDateTime !== undefined && s.programDateTime > outage.restartedAt + 2000);
      expect(after.length, rendition).toBeGreaterThanOrEqual(3);
      for (const s of after) {
        expect(s.gap || s.parts.some((p) => p.gap), `${rendition} msn ${s.msn} has gaps`).toBe(false);
        expect(storage.objects.has(`live/outage/${rendition}/${s.uri}`), `${rendition} msn ${s.msn}`).toBe(true);
      }
      expect(after.some((s) => s.parts.length > 0), rendition).toBe(true);
    }
  });

  it('memory stays within the upload queue limits', () => {
    expect(samples.length).toBeGreaterThan(100);
    const unhealthy = samples.filter((s) => !s.healthy);
    expect(unhealthy.length).toBeGreaterThan(0);
    expect(samples.at(-1)!.healthy).toBe(true);
    // The backlog of an outage is in the upload queue, where the limits hold it: the queue filled up
    // and dropped its oldest waiting media for newer (those objects became gaps) rather than the
    // backlog growing elsewhere, and the newest media was always accepted.
    expect(samples.at(-1)!.evicted).toBeGreaterThan(0);
    expect(samples.at(-1)!.rejected).toBe(0);
    expect(Math.max(...samples.map((s) => s.queuedItems))).toBeGreaterThanOrEqual(limits.maxQueuedItems - 4);
    // Playlists are never refused but hold at most two versions per key (3 renditions + master).
    const playlistAllowance = 8;
    expect(Math.max(...samples.map((s) => s.queuedItems))).toBeLessThanOrEqual(limits.maxQueuedItems + playlistAllowance);
    expect(Math.max(...samples.map((s) => s.queuedBytes))).toBeLessThanOrEqual(limits.maxQueuedBytes + playlistAllowance * 64 * 1024);
  });
});

describe('the packager process restarts on the same storage (livepipe package run twice)', () => {
  let dir: string;
  let poller: DirectoryPlaylistPoller;
  let exits: Array<number | string>;
  let lastOfRun1: Map<string, number>;
  let unlistedByRun1: string[];
  let leftAfterRun1: string[];
  const shape: RunShape = { folder: 'live/again/', video: ['v180', 'v90'], audio: 'audio', fps: 30 };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'livepipe-pkgtest-restart-'));
    const ladders = join(dir, 'ladders');
    const data = join(dir, 'data');
    await writeSmallLadder(ladders, { gop: 1, segment: 1, part: 0.2 });
    const args = (seconds: number): string[] =>
      ['package', '--input', SOURCE, '--input-format', 'lavfi', '--channel', 'again', '--ladder', 'small', '--ladders-dir', ladders, '--data-dir', data, '--duration', String(seconds)];
    poller = new DirectoryPlaylistPoller(data, 'again', RENDITIONS);
    poller.start();
    exits = [];
    const first = runCli(args(5));
    exits.push(await first.exited);
    await poller.stop();
    lastOfRun1 = new Map(RENDITIONS.map((r) => [r, Math.max(-1, ...readMediaPlaylist(lastVersion(poller, r) ?? '').segments.map((s) => s.msn))]));
    // Parts run 1 had unlisted but not yet deleted when it exited (their deletion was due later).
    unlistedByRun1 = RENDITIONS.flatMap((r) => {
      const final = new Set(objectsNamedBy(lastVersion(poller, r) ?? ''));
      return versionsOf(poller, r)
        .flatMap((text) => objectsNamedBy(text))
        .filter((name) => name.startsWith('part-') && !final.has(name))
        .map((name) => join(data, 'live/again', r, name));
    });
    leftAfterRun1 = (await Promise.all([...new Set(unlistedByRun1)].map((f) => access(f).then(() => f, () => undefined)))).filter((f) => f !== undefined);
    poller.start();
    // Long enough for leftovers (due 3 target durations after resume) to be deleted even on a loaded machine.
    const second = runCli(args(10));
    exits.push(await second.exited);
    await poller.stop();
  }, 90_000);

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('both runs exit cleanly', () => {
    expect(exits).toEqual([0, 0]);
  });

  it('the second run continues the media sequence after a discontinuity, never going backwards', () => {
    expect(poller.problems).toEqual([]);
    expect(ruleViolations(poller)).toEqual([]);
    expect(msnProblems(poller)).toEqual([]);
    for (const rendition of RENDITIONS) {
      const last1 = lastOfRun1.get(rendition)!;
      expect(last1, rendition).toBeGreaterThanOrEqual(3);
      const segments = [...allSegments(poller, rendition).values()];
      const run2 = segments.filter((s) => s.mapUri === 'init-2.mp4');
      expect(run2.length, rendition).toBeGreaterThanOrEqual(3);
      expect(run2[0]!.msn, rendition).toBeGreaterThan(last1);
      expect(run2[0]!.discontinuity, rendition).toBe(true);
      expect(segments.filter((s) => s.msn <= last1).every((s) => s.mapUri === 'init-1.mp4'), rendition).toBe(true);
    }
  });

  it('the second run deletes what the first left behind', async () => {
    // Run 1 exited within 3 target durations of unlisting these parts: they outlived it.
    expect(leftAfterRun1.length).toBeGreaterThan(0);
    const remaining = (await Promise.all(leftAfterRun1.map((f) => access(f).then(() => f, () => undefined)))).filter((f) => f !== undefined);
    expect(remaining).toEqual([]);
  });

  it('media of both runs decodes, renditions aligned', async () => {
    const { problems } = await mediaProblems(poller, shape);
    expect(problems).toEqual([]);
    expect(alignmentProblems(poller, shape)).toEqual([]);
  });
});

describe('renditions stay in step through several encoder kills and a packager restart (issue 15)', () => {
  let dir: string;
  let storage: RecordingStorage;
  const kills: number[] = [];
  const shape: RunShape = { folder: 'live/instep/', video: ['v180', 'v90'], audio: 'audio', fps: 30 };

  /** Polls `predicate` every 2 ms (a segment boundary is a window of ~0.2 s, too short for `waitFor`). */
  async function soon(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  /**
   * Kills the encoder just after audio crossed a segment boundary that video has not reached yet:
   * ffmpeg writes audio ~0.2 s ahead of video, so for a moment audio has closed segment N (its cutter
   * knows where N ends) while video still lists N as open. Killed `delayMs` later, audio's output
   * has run a few frames into N + 1, video's has not: the moment that numbered audio ahead of video.
   */
  async function killWhenAudioLeads(channel: LiveChannel, delayMs: number): Promise<void> {
    const runId = channel.supervisor.state().runId;
    await soon(
      () => {
        const audio = channel.packager.playlist('audio');
        const video = channel.packager.playlist('v180');
        return audio?.pending === undefined && video?.pending !== undefined && audio?.segments.at(-1)?.msn === video.pending.msn;
      },
      15_000,
      'audio ahead of video at a boundary',
    );
    await new Promise((r) => setTimeout(r, delayMs));
    process.kill(channel.supervisor.state().pid!, 'SIGKILL');
    kills.push(lastMsnOf(channel));
    await waitFor(() => channel.supervisor.state().runId === runId + 1 && channel.supervisor.state().state === 'running', { timeoutMs: 30_000, message: 'the restarted run' });
    await waitFor(() => lastMsnOf(channel) >= kills.at(-1)! + 2, { timeoutMs: 30_000, message: 'two segments of the new run' });
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'livepipe-pkgtest-instep-'));
    storage = new RecordingStorage(new FsStorage({ root: dir }, silentLogger()));
    await storage.start();
    const ladder = smallLadder({ gop: 1, segment: 1, part: 0.2 });
    const first = await startLiveChannel({ channel: 'instep', ladder, source: SOURCE, storage });
    try {
      await waitFor(() => lastMsnOf(first) >= 2, { timeoutMs: 30_000, message: 'three segments' });
      for (const delayMs of [25, 50, 75, 100]) await killWhenAudioLeads(first, delayMs);
    } finally {
      // A process stop: the stream is not ended, the next packager continues it.
      await first.stop();
    }
    const second = await startLiveChannel({ channel: 'instep', ladder, source: SOURCE, storage });
    try {
      await waitFor(() => lastMsnOf(second) >= kills.at(-1)! + 6, { timeoutMs: 30_000, message: 'the resumed stream' });
      await killWhenAudioLeads(second, 40);
    } finally {
      await second.stop({ endList: true });
    }
  }, 180_000);

  afterAll(async () => {
    await storage?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('every rendition, audio included, lists the same media under each msn, with no segment under 100 ms', () => {
    expect(kills).toHaveLength(5);
    expect(storage.problems).toEqual([]);
    // ruleViolations compares every msn ever listed across renditions (date, discontinuity sequence)
    // and rejects segments under 100 ms (test/helpers/llhls-rules.ts).
    expect(ruleViolations(storage, { endListExpected: true })).toEqual([]);
    expect(msnProblems(storage)).toEqual([]);
  });

  it('every run (five kills and a restart: seven) starts at the same msn in every rendition', () => {
    const starts = RENDITIONS.map((rendition) =>
      [...allSegments(storage, rendition).values()]
        .filter((s) => s.discontinuity)
        .map((s) => `${s.msn}:${s.mapUri}`)
        .join(' '),
    );
    // Five kills and a packager restart: six discontinuities.
    expect(starts[0]!.split(' ')).toHaveLength(6);
    expect(new Set(starts).size, starts.join(' | ')).toBe(1);
    const last = RENDITIONS.map((rendition) => Math.max(...allSegments(storage, rendition).keys()));
    expect(new Set(last).size, last.join(' ')).toBe(1);
  });

  it('renditions share segment durations, dates and maps', () => {
    // Decoding is checked by the single-kill test above (ffprobe over six runs is minutes on a shared box).
    expect(alignmentProblems(storage, shape)).toEqual([]);
  });
});
