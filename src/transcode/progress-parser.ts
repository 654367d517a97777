/**
 * Parser for ffmpeg's machine-readable progress (`-progress pipe:1`): blocks of `key=value` lines,
 * each block closed by `progress=continue` (or `progress=end` for the last one), e.g.
 *
 *     frame=90
 *     fps=29.97
 *     bitrate=5156.2kbits/s
 *     out_time_us=3008000
 *     dup_frames=0
 *     drop_frames=0
 *     speed=0.401x
 *     progress=continue
 *
 * Values ffmpeg does not know yet are `N/A`; they parse to `undefined`. Pure, no I/O.
 */

export interface TranscodeProgress {
  /** Video frames encoded so far (first video output). */
  frame?: number;
  /** Encoding frames per second. */
  fps?: number;
  /** Output bitrate of the first output in bits/s. */
  bitrate?: number;
  /** Bytes written to the first output. */
  totalSize?: number;
  /** Output timestamp reached, in seconds. */
  outTimeSec?: number;
  dupFrames?: number;
  dropFrames?: number;
  /** Encoding speed relative to realtime (1 = realtime). */
  speed?: number;
  /** True on the last block (`progress=end`). */
  end: boolean;
}

function num(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed === '' || trimmed === 'N/A') return undefined;
  const n = Number(trimmed);
  return Number.isFinite(n) ? n : undefined;
}

/** `5156.2kbits/s` → 5156200; `N/A` → undefined. */
export function parseProgressBitrate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = /^\s*([0-9.]+)\s*(k|M)?bits\/s\s*$/.exec(value);
  if (!match) return undefined;
  const n = Number(match[1]);
  if (!Number.isFinite(n)) return undefined;
  return Math.round(n * (match[2] === 'M' ? 1_000_000 : match[2] === 'k' ? 1_000 : 1));
}

/** `HH:MM:SS.micro` (possibly negative) → seconds. */
export function parseClock(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = /^\s*(-)?(\d+):(\d{2}):(\d{2}(?:\.\d+)?)\s*$/.exec(value);
  if (!match) return undefined;
  const seconds = Number(match[2]) * 3600 + Number(match[3]) * 60 + Number(match[4]);
  return match[1] ? -seconds : seconds;
}

/** One block's key/value pairs → progress. `out_time_us` wins over `out_time` (more precise). */
export function progressFromFields(fields: ReadonlyMap<string, string>): TranscodeProgress {
  const progress: TranscodeProgress = { end: fields.get('progress')?.trim() === 'end' };
  const set = <K extends keyof TranscodeProgress>(key: K, value: TranscodeProgress[K] | undefined): void => {
    if (value !== undefined) progress[key] = value;
  };
  set('frame', num(fields.get('frame')));
  set('fps', num(fields.get('fps')));
  set('bitrate', parseProgressBitrate(fields.get('bitrate')));
  set('totalSize', num(fields.get('total_size')));
  const us = num(fields.get('out_time_us'));
  set('outTimeSec', us !== undefined ? us / 1e6 : parseClock(fields.get('out_time')));
  set('dupFrames', num(fields.get('dup_frames')));
  set('dropFrames', num(fields.get('drop_frames')));
  const speed = fields.get('speed')?.trim();
  set('speed', speed !== undefined && speed.endsWith('x') ? num(speed.slice(0, -1)) : undefined);
  return progress;
}

/**
 * Incremental parser: feed it chunks as they arrive (split anywhere, even inside a line); it returns
 * the blocks completed by that chunk.
 */
export class ProgressParser {
  private pending = '';
  private fields = new Map<string, string>();

  push(chunk: string): TranscodeProgress[] {
    this.pending += chunk;
    const done: TranscodeProgress[] = [];
    let newline = this.pending.indexOf('\n');
    while (newline !== -1) {
      const line = this.pending.slice(0, newline).replace(/\r$/, '');
      this.pending = this.pending.slice(newline + 1);
      newline = this.pending.indexOf('\n');
      const eq = line.indexOf('=');
      if (eq <= 0) continue;
      const key = line.slice(0, eq).trim();
      this.fields.set(key, line.slice(eq + 1));
      if (key === 'progress') {
        done.push(progressFromFields(this.fields));
        this.fields = new Map();
      }
    }
    // A line without newline never grows beyond a sane size: garbage must not eat memory.
    if (this.pending.length > 64 * 1024) this.pending = '';
    return done;
  }
}
