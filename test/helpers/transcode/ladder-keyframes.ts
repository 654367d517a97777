import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { EventBus } from '../../../src/core/event-bus.js';
import { silentLogger } from '../../../src/core/logger.js';
import { loadLadder, parseLadder } from '../../../src/ladder/ladder-loader.js';
import type { Ladder } from '../../../src/ladder/ladder-schema.js';
import type { StdinInputSpec } from '../../../src/transcode/input-spec.js';
import { TranscoderSupervisor } from '../../../src/transcode/transcoder-supervisor.js';
import { probeFile } from './media.js';

/** The ladder the keyframe-marks tests encode with: `constrained` (2 s GOP, ≤ 30 fps), `keyframes` set per call. */
const LADDER = 'constrained';

export interface LadderKeyframesOptions {
  /** How the bytes reach ffmpeg's stdin: `flv` as an RTMP channel's run, `mpegts` as a plain SRT channel's. */
  format: StdinInputSpec['format'];
  /** `marked`: the encoder keys where the input's decoder flags keyframes (`-force_key_frames source`); `grid`: every GOP. */
  keyframes: Ladder['keyframes'];
  /** Where each rendition's output is written for ffprobe. */
  dir: string;
  /** The source's frame rate (the ladder keeps it, ≤ 30): keyframe times become frame numbers. */
  fps: number;
  /** The ladder's GOP, s (default: the ladder's own, 2 s). */
  gop?: number;
  /** The ladder's part duration, s (default: its own, 0.5 s); a GOP shorter than the segment keeps its keyframes only as whole parts (`keyframeGop`). */
  part?: number;
}

/**
 * `input` encoded once by a real `TranscoderSupervisor` on the `constrained` ladder (no restarts,
 * stdin input): each video rendition's keyframes, as frame numbers from its first frame (0 first),
 * by rendition name. Which renditions there are is the ladder's choice for the source's size (no
 * upscaling): the caller asserts on them.
 */
export async function ladderKeyframeFrames(input: Buffer, options: LadderKeyframesOptions): Promise<Map<string, number[]>> {
  const { format, keyframes, dir, fps, gop, part } = options;
  const { ladder } = await loadLadder(LADDER);
  const outputs = new Map<string, Promise<Buffer>>();
  const supervisor = new TranscoderSupervisor({
    channel: `marks-${format}-${keyframes}`,
    ladder: parseLadder({ ...ladder, keyframes, ...(gop !== undefined ? { gop } : {}), ...(part !== undefined ? { part } : {}) }, LADDER),
    input: { kind: 'stdin', format },
    openInput: () => Readable.from([input]),
    bus: new EventBus(),
    logger: silentLogger(),
    stallTimeoutMs: 60_000,
    restart: { maxRestarts: 0 },
    onRun: (run) => {
      for (const out of run.outputs.filter((o) => o.kind === 'video')) {
        const chunks: Buffer[] = [];
        out.stream.on('data', (c: Buffer) => chunks.push(c));
        outputs.set(out.name, new Promise((resolve) => out.stream.on('end', () => resolve(Buffer.concat(chunks)))));
      }
    },
  });
  await supervisor.start();
  await supervisor.finished();
  const frames = new Map<string, number[]>();
  for (const [name, output] of outputs) {
    const file = join(dir, `${format}-${keyframes}-${gop ?? 'gop'}-${name}.mp4`);
    await writeFile(file, await output);
    const { keyframePts } = await probeFile(file);
    frames.set(name, keyframePts.map((t) => Math.round((t - keyframePts[0]!) * fps)));
  }
  return frames;
}
