import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The transcoder's fMP4 flags: one moof+mdat per frame, written to a pipe-friendly stream. */
export const FMP4_MOVFLAGS = '+empty_moov+default_base_moof+frag_every_frame';

export interface LadderFixture {
  /** One fMP4 byte stream per video rendition (aligned GOPs). */
  video: Uint8Array[];
  audio: Uint8Array;
}

export interface LadderFixtureOptions {
  seconds: number;
  /** Video sizes, e.g. ['320x180', '160x90']. */
  sizes: string[];
  fps?: number;
  /** Keyframe interval, frames (default: one second of frames). */
  gop?: number;
  /** B-frames (default 0, as in the low-latency ladder). */
  bframes?: number;
}

/**
 * Encodes a short lavfi test source with one ffmpeg process into one fMP4 stream per rendition, with
 * the same flags the transcoder uses (`-movflags +empty_moov+default_base_moof+frag_every_frame`,
 * fixed GOP, no scene-cut keyframes), plus one AAC audio stream.
 */
export async function encodeLadderFixture(options: LadderFixtureOptions): Promise<LadderFixture> {
  const fps = options.fps ?? 30;
  const gop = options.gop ?? fps;
  const bframes = options.bframes ?? 0;
  const dir = await mkdtemp(join(tmpdir(), 'livepipe-pkg-'));
  try {
    const split = options.sizes.map((_, i) => `[v${i}]`).join('');
    const scales = options.sizes.map((size, i) => `[v${i}]scale=${size.replace('x', ':')}[o${i}]`).join(';');
    const args = [
      '-hide_banner', '-loglevel', 'error', '-nostdin',
      '-t', String(options.seconds), '-f', 'lavfi', '-i', `testsrc2=size=${options.sizes[0]}:rate=${fps}`,
      '-t', String(options.seconds), '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-filter_complex', `[0:v]split=${options.sizes.length}${split};${scales}`,
    ];
    options.sizes.forEach((_, i) => {
      args.push(
        '-map', `[o${i}]`, '-c:v', 'libx264', '-preset', bframes > 0 ? 'veryfast' : 'ultrafast',
        ...(bframes > 0 ? [] : ['-tune', 'zerolatency']),
        '-bf', String(bframes), '-g', String(gop), '-keyint_min', String(gop), '-sc_threshold', '0',
        '-pix_fmt', 'yuv420p', '-b:v', '200k', '-f', 'mp4', '-movflags', FMP4_MOVFLAGS, join(dir, `v${i}.mp4`),
      );
    });
    args.push('-map', '1:a', '-c:a', 'aac', '-b:a', '64k', '-f', 'mp4', '-movflags', FMP4_MOVFLAGS, join(dir, 'a.mp4'));
    await run('ffmpeg', args, { timeout: 60_000 });
    const video = await Promise.all(options.sizes.map((_, i) => readFile(join(dir, `v${i}.mp4`))));
    const audio = await readFile(join(dir, 'a.mp4'));
    return { video: video.map((b) => new Uint8Array(b)), audio: new Uint8Array(audio) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
