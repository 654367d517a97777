import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** A lavfi input with video and a sine tone (one input, two streams). */
export function lavfiSource(width: number, height: number, fps: number, withAudio = true): string {
  const video = `testsrc2=size=${width}x${height}:rate=${fps}`;
  return withAudio ? `${video}[out0];sine=frequency=440:sample_rate=48000[out1]` : video;
}

/** Renders a lavfi source into a file (for inputs that must be real files: FLV for stdin, …). */
/** `clockStartSeconds`: the file's timestamps start there (an encoder whose clock is not near 0). */
export async function renderSource(file: string, opts: { width: number; height: number; fps: number; seconds: number; format: string; gopFrames?: number; clockStartSeconds?: number }): Promise<void> {
  await exec('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', lavfiSource(opts.width, opts.height, opts.fps),
    '-t', String(opts.seconds),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', String(opts.gopFrames ?? opts.fps), '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '64k',
    ...(opts.clockStartSeconds === undefined ? [] : ['-output_ts_offset', String(opts.clockStartSeconds)]),
    '-f', opts.format, file,
  ]);
}

interface Box {
  type: string;
  start: number;
  end: number;
  body: number;
}

function* boxes(buf: Buffer, start: number, end: number): Generator<Box> {
  let pos = start;
  while (pos + 8 <= end) {
    let size = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    let header = 8;
    if (size === 1) {
      size = Number(buf.readBigUInt64BE(pos + 8));
      header = 16;
    } else if (size === 0) {
      size = end - pos;
    }
    if (size < header || pos + size > end) return;
    yield { type, start: pos, end: pos + size, body: pos + header };
    pos += size;
  }
}

function child(buf: Buffer, parent: Box, type: string): Box | undefined {
  for (const b of boxes(buf, parent.body, parent.end)) if (b.type === type) return b;
  return undefined;
}

export interface Fmp4Summary {
  /** Top-level box types in order, deduplicated runs (`ftyp, moov, moof, mdat, …`). */
  topLevel: string[];
  timescale: number;
  /** Number of moof boxes. */
  fragments: number;
  /** Samples per fragment (trun sample counts), in order. */
  samplesPerFragment: number[];
  /** baseMediaDecodeTime of the first moof, in timescale units. */
  firstTfdt: number;
}

/** Minimal fMP4 reader for tests: init timescale and the first fragment's decode time. */
export function summarizeFmp4(buf: Buffer): Fmp4Summary {
  const top = [...boxes(buf, 0, buf.length)];
  const moov = top.find((b) => b.type === 'moov');
  if (!moov) throw new Error('no moov');
  const trak = child(buf, moov, 'trak')!;
  const mdia = child(buf, trak, 'mdia')!;
  const mdhd = child(buf, mdia, 'mdhd')!;
  const version = buf.readUInt8(mdhd.body);
  const timescale = buf.readUInt32BE(mdhd.body + (version === 1 ? 20 : 12));
  const moofs = top.filter((b) => b.type === 'moof');
  let firstTfdt = Number.NaN;
  if (moofs[0]) {
    const traf = child(buf, moofs[0], 'traf')!;
    const tfdt = child(buf, traf, 'tfdt')!;
    const v = buf.readUInt8(tfdt.body);
    firstTfdt = v === 1 ? Number(buf.readBigUInt64BE(tfdt.body + 4)) : buf.readUInt32BE(tfdt.body + 4);
  }
  const samplesPerFragment = moofs.map((moof) => {
    const traf = child(buf, moof, 'traf')!;
    let count = 0;
    for (const b of boxes(buf, traf.body, traf.end)) if (b.type === 'trun') count += buf.readUInt32BE(b.body + 4);
    return count;
  });
  return { topLevel: [...new Set(top.map((b) => b.type))], timescale, fragments: moofs.length, samplesPerFragment, firstTfdt };
}

export interface ProbedFile {
  width?: number;
  height?: number;
  codec: string;
  profile?: string;
  durationSec: number;
  /** Sum of packet sizes × 8 / duration. */
  bitrate: number;
  keyframePts: number[];
  packets: number;
}

/** ffprobe of the first stream of a file: size, codec, packet-level bitrate and keyframe times. */
export async function probeFile(file: string): Promise<ProbedFile> {
  const { stdout } = await exec('ffprobe', [
    '-v', 'error', '-show_entries', 'stream=codec_name,profile,width,height:packet=pts_time,duration_time,size,flags', '-of', 'json', file,
  ], { maxBuffer: 64 * 1024 * 1024 });
  const data = JSON.parse(stdout) as {
    streams: Array<{ codec_name: string; profile?: string; width?: number; height?: number }>;
    packets: Array<{ pts_time: string; duration_time?: string; size: string; flags: string }>;
  };
  const s = data.streams[0]!;
  const pts = data.packets.map((p) => Number(p.pts_time));
  const last = data.packets.at(-1);
  const durationSec = Math.max(...pts) + Number(last?.duration_time ?? 0) - Math.min(...pts);
  const bytes = data.packets.reduce((sum, p) => sum + Number(p.size), 0);
  const out: ProbedFile = {
    codec: s.codec_name,
    durationSec,
    bitrate: (bytes * 8) / durationSec,
    keyframePts: data.packets.filter((p) => p.flags.startsWith('K')).map((p) => Number(p.pts_time)),
    packets: data.packets.length,
  };
  if (s.width !== undefined) out.width = s.width;
  if (s.height !== undefined) out.height = s.height;
  if (s.profile !== undefined) out.profile = s.profile;
  return out;
}

/** True while any process of the group `pgid` exists. */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Presentation timestamps of the first stream's packets, in decode (file) order. */
export async function packetPts(file: string): Promise<number[]> {
  const { stdout } = await exec('ffprobe', ['-v', 'error', '-select_streams', '0', '-show_entries', 'packet=pts_time', '-of', 'csv=p=0', file]);
  return stdout.trim().split('\n').map(Number);
}

export interface VideoFrameStat {
  /** Presentation time, seconds. */
  pts: number;
  /** The packet is a keyframe (ffprobe flag K). */
  key: boolean;
  /** Mean chroma saturation of the decoded picture (signalstats SATAVG): ~0 for a grey picture. */
  saturation: number;
}

/**
 * The video frames of `file` in presentation order: keyframe flag (from the packets) and mean
 * saturation (decoded through lavfi `signalstats`), joined on the presentation time. Tells a colour
 * source from a grey one (`hue=s=0`) frame by frame: where a switch between them lands.
 */
export async function videoFrameStats(file: string): Promise<VideoFrameStat[]> {
  const packets = await exec('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,flags', '-of', 'csv=p=0', file], { maxBuffer: 64 * 1024 * 1024 });
  const keys = new Map<string, boolean>();
  for (const line of packets.stdout.trim().split('\n')) {
    const [pts, flags] = line.split(',');
    if (pts !== undefined && flags !== undefined) keys.set(Number(pts).toFixed(3), flags.includes('K'));
  }
  const escaped = file.replace(/([\\:',;[\]])/g, '\\$1');
  const frames = await exec('ffprobe', ['-v', 'error', '-f', 'lavfi', '-i', `movie=${escaped},signalstats`, '-show_entries', 'frame=pts_time:frame_tags=lavfi.signalstats.SATAVG', '-of', 'csv=p=0'], { maxBuffer: 64 * 1024 * 1024 });
  return frames.stdout
    .trim()
    .split('\n')
    .map((line) => line.split(','))
    .filter((f) => f.length >= 2)
    .map(([pts, saturation]) => ({ pts: Number(pts), key: keys.get(Number(pts).toFixed(3)) ?? false, saturation: Number(saturation) }))
    .sort((a, b) => a.pts - b.pts);
}
