import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { classifyFlvTag, FlvTagType, type FlvTag } from './flv-tags.js';
import { FlvTagReader } from './flv-tag-reader.js';
import type { SlateClip } from './input-selector.js';

/**
 * The slate a channel shows when no input is healthy: a one-second H.264 clip (one GOP, no
 * B-frames) and AAC silence, rendered once per channel by ffmpeg into FLV and cut into tags for the
 * input selector, which loops it. Either a configured image (scaled and padded to the size) or a
 * generated card: a dark background with the channel's name (lavfi `color` + `drawtext`, when a
 * DejaVu font is installed — Debian's `fonts-dejavu-core` — else the card without text).
 *
 * The clip has the size and frame rate of the channel's input, so that the transcoder's decoder and
 * scalers see the same picture format whichever is selected.
 */

export interface SlateSpec {
  width: number;
  height: number;
  frameRate: number;
  /** Audio sample rate (default 48 000) and channels (default 2). */
  sampleRate?: number;
  channels?: number;
  /** Text on the generated card (letters, digits, spaces, `-` and `_` are kept). */
  title: string;
  /** A picture file to show instead of the card. */
  image?: string;
  ffmpegPath?: string;
}

const FONT_CANDIDATES = ['/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf', '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf'];

/** The font drawtext uses, if one is installed. */
export function slateFont(): string | undefined {
  return FONT_CANDIDATES.find((f) => existsSync(f));
}

/** Even dimensions (4:2:0) and a sane frame rate. */
function normalized(spec: SlateSpec): { width: number; height: number; fps: number } {
  const even = (n: number) => Math.max(16, Math.round(n / 2) * 2);
  const fps = Number.isFinite(spec.frameRate) && spec.frameRate >= 1 && spec.frameRate <= 120 ? Math.round(spec.frameRate) : 30;
  return { width: even(spec.width), height: even(spec.height), fps };
}

/** ffmpeg arguments rendering the slate clip as FLV to stdout. Pure. */
/** `font`: the drawtext font file; '' for a card without text. */
export function slateClipArgs(spec: SlateSpec, font = slateFont()): string[] {
  const { width, height, fps } = normalized(spec);
  const sampleRate = spec.sampleRate ?? 48_000;
  const layout = (spec.channels ?? 2) === 1 ? 'mono' : 'stereo';
  const title = spec.title.replace(/[^A-Za-z0-9 _-]/g, '').slice(0, 64);
  let video: string[];
  // An output option: it goes after every input (before the audio input, ffmpeg took it for one of
  // that input's options and refused to start — a configured image never rendered).
  let videoFilter: string[] = [];
  if (spec.image !== undefined) {
    video = ['-loop', '1', '-framerate', String(fps), '-i', spec.image];
    videoFilter = ['-vf', `scale=${width}:${height}:force_original_aspect_ratio=decrease,pad=${width}:${height}:(ow-iw)/2:(oh-ih)/2,format=yuv420p`];
  } else {
    const size = Math.max(12, Math.round(height / 12));
    const text =
      font !== undefined && font !== '' && title !== ''
        ? `,drawtext=fontfile=${font}:text='${title}':fontcolor=white:fontsize=${size}:x=(w-text_w)/2:y=(h-text_h)/2` +
          `,drawtext=fontfile=${font}:text='back shortly':fontcolor=0xb0b0b0:fontsize=${Math.round(size * 0.6)}:x=(w-text_w)/2:y=(h/2)+${size * 1.5}`
        : '';
    video = ['-f', 'lavfi', '-i', `color=c=0x1b2a41:s=${width}x${height}:r=${fps}${text}`];
  }
  return [
    '-hide_banner', '-nostdin', '-loglevel', 'error',
    ...video,
    '-f', 'lavfi', '-i', `anullsrc=r=${sampleRate}:cl=${layout}`,
    ...videoFilter,
    '-frames:v', String(fps), '-t', '1',
    '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'stillimage', '-profile:v', 'main', '-bf', '0',
    '-g', String(fps), '-keyint_min', String(fps), '-sc_threshold', '0', '-pix_fmt', 'yuv420p', '-r', String(fps),
    '-c:a', 'aac', '-b:a', '64k', '-ar', String(sampleRate),
    '-f', 'flv', 'pipe:1',
  ];
}

/** Cuts a rendered clip's FLV tags into a `SlateClip`. Pure. */
export function slateClipFromTags(tags: FlvTag[], spec: SlateSpec): SlateClip {
  const { width, height, fps } = normalized(spec);
  let videoSequenceHeader: FlvTag | undefined;
  let audioSequenceHeader: FlvTag | undefined;
  const videoFrames: Buffer[] = [];
  const audioFrames: Buffer[] = [];
  for (const tag of tags) {
    const kind = classifyFlvTag(tag.type, tag.body);
    if (kind === 'video-sequence-header') videoSequenceHeader = tag;
    else if (kind === 'audio-sequence-header') audioSequenceHeader = tag;
    else if (kind === 'video-keyframe' || (kind === 'video-frame' && videoFrames.length > 0)) videoFrames.push(tag.body);
    else if (kind === 'audio-frame') audioFrames.push(tag.body);
  }
  if (videoSequenceHeader === undefined || videoFrames.length === 0) throw new Error('slate clip has no H.264 video');
  // A frame from the middle: the encoder's first frames carry its priming, its last the flush.
  const audioFrame = audioFrames[Math.floor(audioFrames.length / 2)];
  return {
    videoSequenceHeader: { ...videoSequenceHeader, type: FlvTagType.Video, timestamp: 0 },
    ...(audioSequenceHeader !== undefined ? { audioSequenceHeader: { ...audioSequenceHeader, timestamp: 0 } } : {}),
    videoFrames,
    ...(audioFrame !== undefined ? { audioFrame } : {}),
    frameMs: 1000 / fps,
    audioFrameMs: (1024 * 1000) / (spec.sampleRate ?? 48_000),
    width,
    height,
  };
}

/** Renders the slate clip with ffmpeg (about a second of CPU at 720p). */
export async function renderSlateClip(spec: SlateSpec): Promise<SlateClip> {
  const child = spawn(spec.ffmpegPath ?? 'ffmpeg', slateClipArgs(spec), { stdio: ['ignore', 'pipe', 'pipe'] });
  const reader = new FlvTagReader();
  const tags: FlvTag[] = [];
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => tags.push(...reader.push(chunk)));
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c) => resolve(c));
  });
  if (code !== 0) throw new Error(`slate rendering failed (ffmpeg exit ${code}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return slateClipFromTags(tags, spec);
}
