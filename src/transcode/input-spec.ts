/**
 * Where a transcoder run reads its media from.
 *
 * - `url`: anything ffmpeg opens by name (a file, `srt://…`, or a lavfi graph with `format: 'lavfi'`
 *   in tests). `realtime: true` reads at native rate (`-re`): a file then behaves like a live feed.
 * - `stdin`: bytes piped into ffmpeg's stdin by the supervisor (live ingest: FLV from RTMP, MPEG-TS
 *   from SRT). The supervisor calls an `openInput()` factory for every run.
 */
export type InputSpec = UrlInputSpec | StdinInputSpec;

export interface UrlInputSpec {
  kind: 'url';
  url: string;
  /** Read at native frame rate (`-re`), as a live source would deliver. */
  realtime: boolean;
  /** Force the demuxer (`-f`), e.g. `lavfi` for generated test sources; default: probed by ffmpeg. */
  format?: string;
  /** Read at most this many seconds of input (`-t` on the input); default: all of it. */
  maxDurationSec?: number;
  /** Treat as a live source (low-delay input flags); default false for files. */
  live?: boolean;
}

export interface StdinInputSpec {
  kind: 'stdin';
  format: 'flv' | 'mpegts';
}

/** True when the input is live (low-delay flags help and never harm). Files read with `-re` are not. */
export function isLiveInput(input: InputSpec): boolean {
  return input.kind === 'stdin' || input.live === true;
}
