import { describe, expect, it } from 'vitest';
import { parseLadder } from '../../../src/ladder/ladder-loader.js';
import { ErrorCode, isLivepipeError } from '../../../src/core/errors.js';
import { EventBus } from '../../../src/core/event-bus.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { InputSpec } from '../../../src/transcode/input-spec.js';
import type { TranscodeRun } from '../../../src/ladder/run-contract.js';
import { TranscoderSupervisor } from '../../../src/transcode/transcoder-supervisor.js';
import { lavfiSource, summarizeFmp4 } from '../../helpers/transcode/media.js';

const ladder = (silenceIfMissing: boolean) =>
  parseLadder(
    {
      gop: 1,
      segment: 1,
      part: 0.2,
      video: [{ name: 'v180', width: 320, height: 180, bitrate: '300k', preset: 'ultrafast' }],
      audio: [{ name: 'audio', bitrate: '64k', silenceIfMissing }],
    },
    'presence.yaml',
  );

async function transcode(silenceIfMissing: boolean, input: InputSpec): Promise<Map<string, Buffer>> {
  const buffers = new Map<string, Buffer>();
  const ends: Promise<void>[] = [];
  const supervisor = new TranscoderSupervisor({
    channel: 'presence',
    ladder: ladder(silenceIfMissing),
    input,
    bus: new EventBus(),
    logger: silentLogger(),
    onRun: (run: TranscodeRun) => {
      for (const o of run.outputs) {
        const chunks: Buffer[] = [];
        o.stream.on('data', (c: Buffer) => chunks.push(c));
        ends.push(new Promise((resolve) => o.stream.on('end', () => (buffers.set(o.name, Buffer.concat(chunks)), resolve()))));
      }
    },
  });
  try {
    await supervisor.start();
    expect(await supervisor.finished()).toBe('stopped');
    await Promise.all(ends);
  } finally {
    await supervisor.stop();
  }
  return buffers;
}

const videoOnly: InputSpec = { kind: 'url', url: lavfiSource(320, 180, 15, false), format: 'lavfi', realtime: false, maxDurationSec: 2 };

describe('inputs without audio or video', () => {
  it('audio-less input: no audio output', async () => {
    const outputs = await transcode(false, videoOnly);
    expect([...outputs.keys()]).toEqual(['v180']);
  });

  it('audio-less input with silenceIfMissing: a silent AAC output on the same timeline, ending with the input', async () => {
    const outputs = await transcode(true, videoOnly);
    expect([...outputs.keys()].sort()).toEqual(['audio', 'v180']);
    const audio = summarizeFmp4(outputs.get('audio')!);
    expect(audio.timescale).toBe(48_000);
    // ~2 s of 1024-sample AAC frames (one fragment each).
    expect(audio.fragments).toBeGreaterThan(80);
    expect(audio.fragments).toBeLessThan(110);
    const video = summarizeFmp4(outputs.get('v180')!);
    expect(Math.abs(audio.firstTfdt / 48_000 - video.firstTfdt / video.timescale)).toBeLessThanOrEqual(1024 / 48_000);
  });

  it('video-less input is refused with InputUnusable', async () => {
    const supervisor = new TranscoderSupervisor({
      channel: 'presence',
      ladder: ladder(false),
      input: { kind: 'url', url: 'sine=frequency=440:sample_rate=48000', format: 'lavfi', realtime: false, maxDurationSec: 1 },
      bus: new EventBus(),
      logger: silentLogger(),
    });
    let caught: unknown;
    try {
      await supervisor.start();
    } catch (err) {
      caught = err;
    }
    expect(isLivepipeError(caught, ErrorCode.InputUnusable)).toBe(true);
    expect((caught as Error).message).toMatch(/no video stream \(streams: audio\)/);
    expect(supervisor.state().state).toBe('failed');
  });
});
