import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadLadder, resolveLadder } from '../../../src/ladder/ladder-loader.js';
import { EventBus } from '../../../src/core/event-bus.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { InputSpec } from '../../../src/transcode/input-spec.js';
import { compileLadder } from '../../../src/transcode/ladder-compiler.js';
import type { TranscodeRun } from '../../../src/ladder/run-contract.js';
import { TranscoderSupervisor } from '../../../src/transcode/transcoder-supervisor.js';
import { groupAlive, lavfiSource, packetPts, probeFile, summarizeFmp4, type ProbedFile } from '../../helpers/transcode/media.js';

/**
 * The `default` ladder on a generated 1080p30 source with audio, 4 s (two 2 s GOPs), encoded as fast
 * as the machine allows (not realtime: the point is the output, not the pacing).
 *
 * Bitrate tolerance: ±40% of the target. Four seconds is two GOPs, half of the bits are the two
 * keyframes, the VBV (maxrate ≈ 1.07×, bufsize 1.5×) only bounds peaks, and testsrc2 is synthetic
 * content that x264 finds easy or hard in patches: a short sample honestly lands within tens of
 * percent of the target, not within a few.
 */
const SECONDS = 4;
const input: InputSpec = { kind: 'url', url: lavfiSource(1920, 1080, 30), format: 'lavfi', realtime: false, maxDurationSec: SECONDS };

describe('default ladder on 1080p30 + audio', () => {
  let dir: string;
  let run: TranscodeRun | undefined;
  const files = new Map<string, string>();
  const probes = new Map<string, ProbedFile>();
  const buffers = new Map<string, Buffer>();
  let pid: number | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'livepipe-default-ladder-'));
    const { ladder } = await loadLadder('default');
    const collected: Promise<void>[] = [];
    const supervisor = new TranscoderSupervisor({
      channel: 'itest',
      ladder,
      input,
      bus: new EventBus(),
      logger: silentLogger(),
      stallTimeoutMs: 60_000,
      onRun: (r) => {
        run = r;
        for (const o of r.outputs) {
          const chunks: Buffer[] = [];
          o.stream.on('data', (c: Buffer) => chunks.push(c));
          collected.push(new Promise((resolve) => o.stream.on('end', () => (buffers.set(o.name, Buffer.concat(chunks)), resolve()))));
        }
      },
    });
    await supervisor.start();
    pid = supervisor.state().pid;
    expect(await supervisor.finished()).toBe('stopped');
    await Promise.all(collected);
    for (const [name, buf] of buffers) {
      const file = join(dir, `${name}.mp4`);
      await writeFile(file, buf);
      files.set(name, file);
      probes.set(name, await probeFile(file));
    }
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('produces one output per rendition through the run contract', () => {
    expect(run?.runId).toBe(1);
    expect(run?.outputs.map((o) => `${o.kind}:${o.name}`)).toEqual(['video:1080p', 'video:720p', 'video:480p', 'video:360p', 'audio:audio']);
    expect(run!.startedAt).toBeGreaterThan(Date.now() - 120_000);
    expect(pid).toBeDefined();
    expect(groupAlive(pid!)).toBe(false);
  });

  it.each([
    ['1080p', 1920, 1080, 5_000_000],
    ['720p', 1280, 720, 2_800_000],
    ['480p', 854, 480, 1_400_000],
    ['360p', 640, 360, 800_000],
  ])('%s is %dx%d H.264 at its target bitrate ±40%%', (name, width, height, target) => {
    const p = probes.get(name)!;
    expect(p).toMatchObject({ codec: 'h264', width, height });
    expect(p.durationSec).toBeGreaterThan(SECONDS - 0.2);
    expect(p.bitrate).toBeGreaterThan(target * 0.6);
    expect(p.bitrate).toBeLessThan(target * 1.4);
  });

  it('puts keyframes at identical timestamps (every 2 s) in every video rendition', () => {
    const reference = probes.get('1080p')!.keyframePts;
    expect(reference).toEqual([0, 2]);
    for (const name of ['720p', '480p', '360p']) expect(probes.get(name)!.keyframePts, name).toEqual(reference);
  });

  it('fragments video per part (15 frames of 0.5 s) and audio per 3 AAC frames, and every output starts on the same timeline (first tfdt)', () => {
    const video = ['1080p', '720p', '480p', '360p'].map((n) => summarizeFmp4(buffers.get(n)!));
    for (const s of video) {
      expect(s.topLevel.slice(0, 4)).toEqual(['ftyp', 'moov', 'moof', 'mdat']);
      expect(s.timescale).toBe(90_000);
      expect(s.samplesPerFragment).toEqual(Array.from({ length: SECONDS * 2 }, () => 15));
    }
    expect(new Set(video.map((s) => s.firstTfdt)).size).toBe(1);
    const audio = summarizeFmp4(buffers.get('audio')!);
    expect(audio.timescale).toBe(48_000);
    // every fragment but the stream's last holds 3 frames
    expect(new Set(audio.samplesPerFragment.slice(0, -1))).toEqual(new Set([3]));
    // Audio starts within one AAC frame (1024 samples ≈ 21 ms) of video.
    expect(Math.abs(audio.firstTfdt / audio.timescale - video[0]!.firstTfdt / 90_000)).toBeLessThanOrEqual(1024 / 48_000);
  });

  it('encodes audio exactly once: one aac encoder in the argv and one AAC output', async () => {
    const { ladder } = await loadLadder('default');
    const probe = { width: 1920, height: 1080, frameRate: 30, videoCodec: 'wrapped_avframe', hasAudio: true };
    const { args } = compileLadder(resolveLadder(ladder, probe), probe, input);
    expect(args.filter((a, i) => args[i - 1] === '-c:a')).toEqual(['aac']);
    const audioOutputs = [...probes.values()].filter((p) => p.codec === 'aac');
    expect(audioOutputs).toHaveLength(1);
    expect(audioOutputs[0]!.profile).toBe('LC');
  });
});

describe('low-latency ladder on a 60 fps source', () => {
  it('caps to 30 fps, keyframes every 0.5 s (two independent parts per 1 s segment), no B-frames (decode order = presentation order)', async () => {
    const { ladder } = await loadLadder('low-latency');
    const chunks: Buffer[] = [];
    let ended: Promise<unknown> = Promise.resolve();
    const supervisor = new TranscoderSupervisor({
      channel: 'itest-ll',
      ladder,
      // 640x360 source: only the 360p rendition is kept, which keeps this test cheap.
      input: { kind: 'url', url: lavfiSource(640, 360, 60), format: 'lavfi', realtime: false, maxDurationSec: 2 },
      bus: new EventBus(),
      logger: silentLogger(),
      onRun: (r) => {
        for (const o of r.outputs) {
          if (o.name === '360p') {
            o.stream.on('data', (c: Buffer) => chunks.push(c));
            ended = new Promise((resolve) => o.stream.on('end', resolve));
          } else {
            o.stream.resume();
          }
        }
      },
    });
    await supervisor.start();
    expect(await supervisor.finished()).toBe('stopped');
    await ended;
    expect(supervisor.state().droppedRenditions).toEqual(['720p', '480p']);
    const dir = await mkdtemp(join(tmpdir(), 'livepipe-ll-'));
    try {
      const file = join(dir, '360p.mp4');
      await writeFile(file, Buffer.concat(chunks));
      const p = await probeFile(file);
      expect(p).toMatchObject({ width: 640, height: 360, packets: 60 });
      expect(p.keyframePts).toEqual([0, 0.5, 1, 1.5]);
      const fmp4 = summarizeFmp4(Buffer.concat(chunks));
      // one fragment per 0.1 s part: 3 frames
      expect(fmp4.samplesPerFragment).toEqual(Array.from({ length: 20 }, () => 3));
      const pts = await packetPts(file);
      expect(pts).toEqual([...pts].sort((a, b) => a - b));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
