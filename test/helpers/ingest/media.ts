import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';

export interface Publisher {
  child: ChildProcess;
  stderr(): string;
  /** Exit code (null if killed by a signal). */
  exited: Promise<number | null>;
  stop(): Promise<number | null>;
}

export interface PublishOptions {
  seconds?: number;
  outputOptions?: string[];
  /** The test pattern's size and rate (default 640x360 at 30 fps, 1 s GOP), or `false` for audio only. */
  video?: { size: string; rate: number } | false;
  /**
   * Several tagged audio tracks instead of the one 440 Hz tone: one sine per entry, in order, with its
   * `language` tag (MPEG-TS carries several audio streams; FLV/RTMP only one).
   */
  audioLanguages?: Array<{ language: string; frequency: number }>;
}

/**
 * ffmpeg publishing a small test pattern with a sine tone: 640x360, 30 fps, 1 s GOP, x264 ultrafast,
 * AAC, for `seconds` (default long: tests stop it). `audioLanguages`: one tagged tone per language.
 */
export function publish(url: string, format: 'flv' | 'mpegts' | 'rtsp', options: PublishOptions = {}): Publisher {
  const video = options.video ?? { size: '640x360', rate: 30 };
  const tones = options.audioLanguages ?? [{ frequency: 440 }];
  const firstTone = video === false ? 0 : 1;
  const args = [
    '-hide_banner', '-nostdin', '-loglevel', 'error', '-re',
    ...(video === false ? [] : ['-f', 'lavfi', '-i', `testsrc2=size=${video.size}:rate=${video.rate}`]),
    ...tones.flatMap((t) => ['-f', 'lavfi', '-i', `sine=frequency=${t.frequency}:sample_rate=48000`]),
    ...(options.audioLanguages === undefined ? [] : [...(video === false ? [] : ['-map', '0:v']), ...tones.flatMap((_t, i) => ['-map', `${i + firstTone}:a`])]),
    ...(options.audioLanguages ?? []).flatMap((t, i) => [`-metadata:s:a:${i}`, `language=${t.language}`]),
    '-t', String(options.seconds ?? 60),
    ...(video === false
      ? []
      : ['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', String(Math.max(1, Math.round(video.rate))), '-pix_fmt', 'yuv420p']),
    '-c:a', 'aac', '-b:a', '64k',
    ...(options.outputOptions ?? []),
    '-f', format, url,
  ];
  return spawnPublisher(args);
}

/**
 * ffmpeg as an SRT caller sending `bytes` (already MPEG-TS, possibly crafted) unchanged, paced at
 * `bytesPerSecond`: the `data` demuxer and muxer pass bytes through without parsing them.
 */
export function publishRawSrt(url: string, bytes: Buffer, bytesPerSecond: number): Publisher {
  const publisher = spawnPublisher(['-hide_banner', '-loglevel', 'error', '-f', 'data', '-i', 'pipe:0', '-map', '0', '-c', 'copy', '-f', 'data', url], 'pipe');
  const stdin = publisher.child.stdin!;
  stdin.on('error', () => {});
  const chunk = Math.max(188, Math.round(bytesPerSecond / 20 / 188) * 188);
  let off = 0;
  const timer = setInterval(() => {
    if (off >= bytes.length || stdin.destroyed) {
      clearInterval(timer);
      stdin.end();
      return;
    }
    stdin.write(bytes.subarray(off, off + chunk));
    off += chunk;
  }, 50);
  void publisher.exited.then(() => clearInterval(timer));
  return publisher;
}

function spawnPublisher(args: string[], stdin: 'ignore' | 'pipe' = 'ignore'): Publisher {
  const child = spawn('ffmpeg', args, { stdio: [stdin, 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    stderr: () => stderr,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

export interface ProbedFrame {
  media_type: string;
  key_frame: number;
  pict_type?: string;
  pts_time?: string;
}

/**
 * Decodes the first `videoFrames` video frames of a feed with ffprobe (`-show_frames` decodes) and
 * returns them with the stream list and ffprobe's error output. Destroys the Readable afterwards.
 */
export async function probeFeed(
  source: Readable,
  format: 'flv' | 'mpegts',
  videoFrames = 10,
): Promise<{ streams: Array<{ codec_name: string; codec_type: string; width?: number; height?: number }>; frames: ProbedFrame[]; stderr: string; code: number | null }> {
  const child = spawn('ffprobe', [
    '-hide_banner', '-v', 'error', '-analyzeduration', '1500000', '-f', format, '-i', 'pipe:0',
    '-select_streams', 'v:0', '-read_intervals', `%+#${videoFrames}`,
    '-show_streams', '-show_frames', '-show_entries', 'frame=media_type,key_frame,pict_type,pts_time:stream=codec_name,codec_type,width,height',
    '-of', 'json',
  ], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin!.on('error', () => {});
  source.on('error', () => {});
  source.pipe(child.stdin!);
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  source.unpipe(child.stdin!);
  source.destroy();
  const parsed = (out.trim() === '' ? {} : JSON.parse(out)) as { streams?: unknown[]; frames?: unknown[] };
  return { streams: (parsed.streams ?? []) as never, frames: (parsed.frames ?? []) as ProbedFrame[], stderr, code };
}

/** Lists the streams of a feed (all of them, video and audio) with ffprobe. */
export async function probeStreams(source: Readable, format: 'flv' | 'mpegts'): Promise<string[]> {
  const child = spawn('ffprobe', ['-hide_banner', '-v', 'error', '-analyzeduration', '1500000', '-f', format, '-i', 'pipe:0', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stdin!.on('error', () => {});
  source.on('error', () => {});
  source.pipe(child.stdin!);
  await new Promise((resolve) => child.once('close', resolve));
  source.destroy();
  // MPEG-TS lists each stream twice (under its program and on its own): report each codec once.
  return [...new Set(out.split('\n').map((s) => s.trim()).filter((s) => s !== ''))];
}

/** Whether a process id is still alive. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
