import type { InputProbe, ProbedAudioTrack } from '../ladder/run-contract.js';
import { spawn } from 'node:child_process';
import { PassThrough, type Readable } from 'node:stream';
import { ErrorCode, LivepipeError, errorMessage } from '../core/errors.js';
import type { InputSpec } from './input-spec.js';

/** What livepipe needs to know about an input before compiling a ladder for it. */
export type { InputProbe };

interface FfprobeStream {
  codec_type?: string;
  codec_name?: string;
  /** `0x000f`: for FLV the codec id, for MP4/MKV the FourCC. */
  codec_tag?: string;
  codec_tag_string?: string;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  channels?: number;
  sample_rate?: string;
  /** 1 when the decoder saw CEA-608/708 caption side data while probing. */
  closed_captions?: number;
  tags?: { language?: string; title?: string };
  disposition?: { default?: number };
}

interface FfprobeOutput {
  streams?: FfprobeStream[];
  format?: { duration?: string };
}

/** Parses an ffprobe rational (`30000/1001`, `25/1`, `0/0`) into a number (0 when undefined). */
export function parseRational(value: string | undefined): number {
  if (value === undefined) return 0;
  const [num, den] = value.split('/').map(Number);
  if (num === undefined || !Number.isFinite(num)) return 0;
  if (den === undefined) return num;
  return Number.isFinite(den) && den !== 0 ? num / den : 0;
}

/** ffprobe's JSON omits `codec_name` for a stream without a decoder (its other writers print `unknown`). */
function hasDecoder(stream: FfprobeStream): boolean {
  return stream.codec_name !== undefined && stream.codec_name !== 'none' && stream.codec_name !== 'unknown';
}

/** How a stream without a decoder is named in messages: its codec tag, when there is one. */
function undecodable(kind: 'video' | 'audio', stream: FfprobeStream): string {
  const tag = stream.codec_tag !== undefined && stream.codec_tag !== '0x0000' ? ` (codec tag ${stream.codec_tag})` : '';
  return `${kind} codec not supported: this ffmpeg has no decoder for it${tag}`;
}

/**
 * Pure: ffprobe `-print_format json -show_streams -show_format` output → `InputProbe`. Uses the first
 * video and first audio stream (the ones ffmpeg maps with `0:v:0` / `0:a:0`), and lists every
 * decodable audio stream in `audioTracks` (audio languages, `ladder/audio-tracks.ts`).
 * Throws `InputUnusable` when the JSON is malformed, there is no video stream, or the first video or
 * audio stream has no decoder in this ffmpeg (livepipe decodes what its ffmpeg decodes; ffmpeg would
 * otherwise fail on every start and the channel would crash-loop before saying why).
 */
export function parseFfprobeJson(json: string, label: string): InputProbe {
  let data: FfprobeOutput;
  try {
    data = JSON.parse(json) as FfprobeOutput;
  } catch {
    throw new LivepipeError(ErrorCode.InputUnusable, `${label}: ffprobe returned unreadable output`);
  }
  const streams = Array.isArray(data.streams) ? data.streams : [];
  const video = streams.find((s) => s.codec_type === 'video');
  const audio = streams.find((s) => s.codec_type === 'audio');
  if (!video) {
    const kinds = streams.map((s) => s.codec_type ?? 'unknown').join(', ') || 'none';
    throw new LivepipeError(ErrorCode.InputUnusable, `${label}: no video stream (streams: ${kinds})`);
  }
  if (!hasDecoder(video)) {
    throw new LivepipeError(ErrorCode.InputUnusable, `${label}: ${undecodable('video', video)}`);
  }
  if (audio !== undefined && !hasDecoder(audio)) {
    throw new LivepipeError(ErrorCode.InputUnusable, `${label}: ${undecodable('audio', audio)}`);
  }
  if (!video.width || !video.height) {
    throw new LivepipeError(ErrorCode.InputUnusable, `${label}: video stream has no dimensions (codec ${video.codec_name ?? 'unknown'})`);
  }
  const frameRate = parseRational(video.avg_frame_rate) || parseRational(video.r_frame_rate);
  const probe: InputProbe = {
    width: video.width,
    height: video.height,
    // Absurd rates are kept as they are: `input-limits.ts` refuses them with the value in the message.
    frameRate: Number.isFinite(frameRate) && frameRate > 0 ? frameRate : 0,
    videoCodec: video.codec_name ?? 'unknown',
    hasAudio: audio !== undefined,
  };
  if (video.closed_captions === 1) probe.closedCaptions = true;
  if (audio) {
    if (audio.codec_name !== undefined) probe.audioCodec = audio.codec_name;
    if (audio.channels !== undefined) probe.audioChannels = audio.channels;
    if (audio.sample_rate !== undefined) probe.audioSampleRate = Number(audio.sample_rate);
  }
  const audioTracks = audioTracksOf(streams);
  if (audioTracks.length > 0) probe.audioTracks = audioTracks;
  const duration = Number(data.format?.duration);
  if (Number.isFinite(duration) && duration > 0) probe.durationSec = duration;
  return probe;
}

/**
 * Every decodable audio stream with its language, title and default flag. A second track this ffmpeg
 * cannot decode is left out (the first one refuses the input above): a channel plays the languages it
 * can rather than none.
 */
function audioTracksOf(streams: FfprobeStream[]): ProbedAudioTrack[] {
  const tracks: ProbedAudioTrack[] = [];
  streams
    .filter((s) => s.codec_type === 'audio')
    .forEach((s, index) => {
      if (!hasDecoder(s)) return;
      const track: ProbedAudioTrack = { index, default: s.disposition?.default === 1 };
      const language = s.tags?.language?.trim();
      const title = s.tags?.title?.trim();
      if (language) track.language = language;
      if (title) track.title = title;
      if (s.channels !== undefined) track.channels = s.channels;
      tracks.push(track);
    });
  return tracks;
}

export interface ProbeOptions {
  /** ffprobe binary; default `ffprobe`. */
  ffprobePath?: string;
  /** Give up after this long; default 15 s (live inputs must deliver their headers by then). */
  timeoutMs?: number;
}

const STDERR_LIMIT = 4096;

function runFfprobe(args: string[], options: ProbeOptions, label: string, feed?: (stdin: NodeJS.WritableStream) => void): Promise<InputProbe> {
  return new Promise<InputProbe>((resolve, reject) => {
    const child = spawn(options.ffprobePath ?? 'ffprobe', args, { stdio: [feed ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      stderr += `\nffprobe timed out after ${options.timeoutMs ?? 15_000} ms`;
    }, options.timeoutMs ?? 15_000);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < STDERR_LIMIT) stderr += d;
    });
    if (feed && child.stdin) {
      // ffprobe closes stdin once it has seen enough: EPIPE is expected, not an error.
      child.stdin.on('error', () => undefined);
      feed(child.stdin);
    }
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        err.code === 'ENOENT'
          ? new LivepipeError(ErrorCode.BinaryMissing, `ffprobe not found (${options.ffprobePath ?? 'ffprobe'}); install ffmpeg`)
          : new LivepipeError(ErrorCode.InputUnusable, `${label}: ffprobe failed: ${errorMessage(err)}`),
      );
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) {
        const reason = stderr.trim().split('\n').filter(Boolean).slice(-3).join('; ') || `ffprobe exited with ${code}`;
        reject(new LivepipeError(ErrorCode.InputUnusable, `${label}: cannot read input: ${reason}`));
        return;
      }
      try {
        resolve(parseFfprobeJson(stdout, label));
      } catch (err) {
        reject(err);
      }
    });
  });
}

/**
 * `-show_entries frame=media_type -read_intervals %+#30`: ffprobe decodes the first 30 packets (they
 * are already buffered from the stream analysis, so a live probe waits no longer). Only a decoded
 * frame tells whether the video carries CEA-608/708 captions: without it `closed_captions` is always 0.
 */
const PROBE_ARGS = ['-hide_banner', '-v', 'error', '-print_format', 'json', '-show_streams', '-show_format', '-show_entries', 'frame=media_type', '-read_intervals', '%+#30'];

/** Probes a `url` input with ffprobe. Throws `InputUnusable` with ffprobe's reason. */
export function probeUrl(input: Extract<InputSpec, { kind: 'url' }>, options: ProbeOptions = {}): Promise<InputProbe> {
  const args = [...PROBE_ARGS];
  if (input.format) args.push('-f', input.format);
  args.push('-i', input.url);
  return runFfprobe(args, options, input.url);
}

export interface ProbedStream {
  probe: InputProbe;
  /** The same bytes as the source, from the first one: what ffprobe read is replayed, then the rest. */
  stream: Readable;
}

/**
 * Probes a live byte stream without losing any of it: bytes are teed into ffprobe's stdin and kept;
 * when ffprobe has answered, the returned stream replays the kept bytes and continues with the
 * source. ffprobe is limited to ~1 s of analysis so a live channel starts quickly.
 */
export function probeStream(source: Readable, format: 'flv' | 'mpegts', options: ProbeOptions = {}): Promise<ProbedStream> {
  const kept: Buffer[] = [];
  let ffprobeStdin: NodeJS.WritableStream | undefined;
  const onData = (chunk: Buffer): void => {
    kept.push(chunk);
    if (ffprobeStdin && !(ffprobeStdin as unknown as { writableEnded: boolean }).writableEnded) ffprobeStdin.write(chunk);
  };
  const onEnd = (): void => {
    ffprobeStdin?.end();
  };
  const args = [...PROBE_ARGS, '-probesize', '2000000', '-analyzeduration', '1000000', '-f', format, '-i', 'pipe:0'];
  const probing = runFfprobe(args, options, `stdin (${format})`, (stdin) => {
    ffprobeStdin = stdin;
    source.on('data', onData);
    source.on('end', onEnd);
  });
  const detach = (): void => {
    source.off('data', onData);
    source.off('end', onEnd);
    source.pause();
    ffprobeStdin?.end();
  };
  return probing.then(
    (probe) => {
      detach();
      const stream = new PassThrough();
      for (const chunk of kept) stream.write(chunk);
      kept.length = 0;
      if (source.readableEnded) stream.end();
      else source.pipe(stream);
      source.on('error', (err) => stream.destroy(err));
      return { probe, stream };
    },
    (err: unknown) => {
      detach();
      source.destroy();
      throw err;
    },
  );
}
