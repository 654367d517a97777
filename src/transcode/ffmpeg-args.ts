/**
 * A small typed, pure builder for ffmpeg command lines (we spawn ffmpeg directly; fluent-ffmpeg is
 * archived). It only knows the options livepipe uses, each as a typed field, and renders them in the
 * order ffmpeg requires: global options, then per input `[input options] -i url`, then the filter
 * graph, then per output `[output options] target`.
 */

export interface GlobalOptions {
  /** `-loglevel`; default `warning` (stderr carries only what an operator needs). */
  logLevel?: 'quiet' | 'panic' | 'fatal' | 'error' | 'warning' | 'info' | 'verbose' | 'debug';
  /** Write machine-readable progress (`-progress url -nostats`). */
  progress?: string;
  /** `-stats_period` in seconds (ffmpeg ≥ 4.4); default ffmpeg's 0.5 s. */
  statsPeriodSec?: number;
  /** `-nostdin`: ffmpeg must not read commands from stdin (set unless stdin carries the media). */
  noStdin?: boolean;
  /** `-y`: overwrite output files. */
  overwrite?: boolean;
  /** `-init_hw_device type=name[:device][@source]`, in order (a QSV device may derive from a VAAPI one). */
  initHwDevices?: string[];
  /** `-filter_hw_device name`: the device `hwupload` in the filter graph uploads to. */
  filterHwDevice?: string;
}

export interface InputOptions {
  /** `-f` demuxer. */
  format?: string;
  /** `-re`: read at native frame rate. */
  realtime?: boolean;
  /** `-fflags`, e.g. `['nobuffer']` → `-fflags +nobuffer`. */
  fflags?: string[];
  /** `-flags`, e.g. `['low_delay']`. */
  flags?: string[];
  /** `-probesize` bytes. */
  probeSize?: number;
  /** `-analyzeduration` microseconds. */
  analyzeDurationUs?: number;
  /** `-fpsprobesize`: frames analysed to estimate the frame rate (0 = trust the headers). */
  fpsProbeFrames?: number;
  /** `-t`: read at most this many seconds. */
  durationSec?: number;
  /** `-thread_queue_size` packets. */
  threadQueueSize?: number;
  /** `-thread_type` of the decoder: `slice` holds no frame back, `frame` (ffmpeg's default) does. */
  decoderThreadType?: 'slice' | 'frame';
  /**
   * `-reinit_filter:v 0`: a new picture size or format mid-stream goes into the running filter graph
   * instead of a rebuilt one (ffmpeg's default rebuilds it, and the frame a filter held — `fps` holds
   * the newest — is lost). Only for graphs whose first size-dependent filter adapts per frame (`scale`).
   */
  keepVideoFilterGraph?: boolean;
}

export interface X264Options {
  preset: string;
  tune?: string;
  profile: string;
  level?: string;
  bitrate: number;
  maxrate: number;
  bufsize: number;
  /** Fixed GOP length in frames (`-g`, `keyint_min`, x264 keyint/min-keyint). */
  keyint: number;
  bFrames: number;
  /** `-force_key_frames` expression (time-based keyframes, identical in every rendition). */
  forceKeyFrames?: string;
  /** Extra `-x264-params` entries, rendered `k=v:k=v`. */
  x264Params?: Record<string, string | number>;
}

/** `h264_nvenc` (NVIDIA). Rate control, GOP and B-frames as for x264; keyframes forced as IDR. */
export interface NvencOptions {
  /** `-preset` p1 (fastest) … p7 (best quality). */
  preset: string;
  /** `-tune`: `hq`, or `ll` (low latency: no lookahead, no reordering delay). */
  tune: 'hq' | 'll' | 'ull';
  /** `-zerolatency 1 -delay 0`: no reordering delay, each frame out as soon as it is encoded. */
  zeroLatency: boolean;
  /** `-rc`: `cbr` or `vbr` (capped by maxrate/bufsize). */
  rateControl: 'cbr' | 'vbr';
  profile: string;
  /** level_idc (`31` for 3.1). */
  level?: number;
  bitrate: number;
  maxrate: number;
  bufsize: number;
  keyint: number;
  bFrames: number;
  forceKeyFrames?: string;
}

/** `h264_vaapi` (Intel/AMD through libva). */
export interface VaapiOptions {
  /** `-rc_mode CBR|VBR`. */
  rateControl: 'cbr' | 'vbr';
  /** `-low_power 1`: the fixed-function encoder (VDEnc) where the platform has one. */
  lowPower: boolean;
  /** `main`, `high` or `constrained_baseline` (VAAPI has no plain baseline). */
  profile: string;
  level?: number;
  bitrate: number;
  maxrate: number;
  bufsize: number;
  keyint: number;
  bFrames: number;
  forceKeyFrames?: string;
}

/** `h264_qsv` (Intel Quick Sync through oneVPL/libmfx). */
export interface QsvOptions {
  /** `-preset` veryfast … veryslow (target usage). */
  preset: string;
  /** QSV chooses CBR when maxrate = bitrate and VBR when maxrate > bitrate: the caller sets maxrate. */
  lowPower: boolean;
  /** `-async_depth 1 -low_delay_brc 1`: one frame in flight, frame sizes kept to the average. */
  lowDelay: boolean;
  profile: string;
  level?: number;
  bitrate: number;
  maxrate: number;
  bufsize: number;
  keyint: number;
  bFrames: number;
  forceKeyFrames?: string;
}

/** One video encode: the encoder and its typed options. */
export type VideoEncoding =
  | ({ codec: 'libx264' } & X264Options)
  | ({ codec: 'h264_nvenc' } & NvencOptions)
  | ({ codec: 'h264_vaapi' } & VaapiOptions)
  | ({ codec: 'h264_qsv' } & QsvOptions);

export interface AacOptions {
  bitrate: number;
  channels: number;
  sampleRate: number;
}

export interface OutputOptions {
  /** `-map` specifiers in order (`[v0]`, `0:a:0`, …). */
  maps: string[];
  video?: VideoEncoding;
  audio?: AacOptions;
  /** `-af`: the audio filter chain of this output (e.g. `loudnorm=…`). */
  audioFilter?: string;
  /** `-vn` / `-an` / `-sn` / `-dn` for streams this output must not carry. */
  disable?: Array<'video' | 'audio' | 'subtitle' | 'data'>;
  /** `-fps_mode` (ffmpeg ≥ 5.1): `cfr` repeats or drops frames to the output's constant rate. */
  fpsMode?: 'cfr' | 'vfr' | 'passthrough';
  /** `-f` muxer. */
  format: string;
  /** `-movflags +a+b`. */
  movflags?: string[];
  /** `-frag_duration` (mp4 muxer), microseconds: start a new fragment once this much is in. */
  fragDurationUs?: number;
  /** `-flush_packets 1`: hand every packet to the pipe at once. */
  flushPackets?: boolean;
  /** `-video_track_timescale`. */
  videoTrackTimescale?: number;
  /** `-max_muxing_queue_size` packets. */
  maxMuxingQueueSize?: number;
  /** `-t` output duration in seconds. */
  durationSec?: number;
}

/** Renders a number of bits/s the way ffmpeg reads it (`2800k` when exact, else bits). */
export function formatBitrate(bitsPerSecond: number): string {
  return bitsPerSecond % 1000 === 0 ? `${bitsPerSecond / 1000}k` : String(bitsPerSecond);
}

/** Renders seconds without float noise (`0.2`, not `0.20000000000000001`). */
export function formatSeconds(seconds: number): string {
  return String(Number(seconds.toFixed(6)));
}

function flagList(flags: string[]): string {
  return flags.map((f) => `+${f}`).join('');
}

export function renderGlobal(o: GlobalOptions): string[] {
  const args = ['-hide_banner', '-loglevel', `level+${o.logLevel ?? 'warning'}`];
  if (o.noStdin) args.push('-nostdin');
  if (o.overwrite) args.push('-y');
  if (o.progress !== undefined) args.push('-progress', o.progress, '-nostats');
  if (o.statsPeriodSec !== undefined) args.push('-stats_period', formatSeconds(o.statsPeriodSec));
  for (const device of o.initHwDevices ?? []) args.push('-init_hw_device', device);
  if (o.filterHwDevice !== undefined) args.push('-filter_hw_device', o.filterHwDevice);
  return args;
}

export function renderInput(url: string, o: InputOptions): string[] {
  const args: string[] = [];
  if (o.realtime) args.push('-re');
  if (o.threadQueueSize !== undefined) args.push('-thread_queue_size', String(o.threadQueueSize));
  if (o.fflags?.length) args.push('-fflags', flagList(o.fflags));
  if (o.flags?.length) args.push('-flags', flagList(o.flags));
  if (o.probeSize !== undefined) args.push('-probesize', String(o.probeSize));
  if (o.analyzeDurationUs !== undefined) args.push('-analyzeduration', String(o.analyzeDurationUs));
  if (o.fpsProbeFrames !== undefined) args.push('-fpsprobesize', String(o.fpsProbeFrames));
  if (o.durationSec !== undefined) args.push('-t', formatSeconds(o.durationSec));
  if (o.decoderThreadType !== undefined) args.push('-thread_type', o.decoderThreadType);
  if (o.keepVideoFilterGraph === true) args.push('-reinit_filter:v', '0');
  if (o.format !== undefined) args.push('-f', o.format);
  args.push('-i', url);
  return args;
}

export function renderX264(v: X264Options): string[] {
  const args = ['-c:v', 'libx264', '-preset', v.preset];
  if (v.tune !== undefined) args.push('-tune', v.tune);
  args.push('-profile:v', v.profile);
  if (v.level !== undefined) args.push('-level:v', v.level);
  // No scene-cut I-frames: keyframes only where the GOP and forced keyframes put them (aligned renditions).
  args.push(...renderCommonVideo(v), '-sc_threshold', '0');
  if (v.forceKeyFrames !== undefined) args.push('-force_key_frames', v.forceKeyFrames);
  const params = Object.entries(v.x264Params ?? {}).map(([k, val]) => `${k}=${val}`);
  if (params.length > 0) args.push('-x264-params', params.join(':'));
  return args;
}

/** Rate, GOP and B-frame options every encoder reads from the codec context. */
function renderCommonVideo(v: { bitrate: number; maxrate: number; bufsize: number; keyint: number; bFrames: number }): string[] {
  return [
    '-b:v',
    formatBitrate(v.bitrate),
    '-maxrate',
    formatBitrate(v.maxrate),
    '-bufsize',
    formatBitrate(v.bufsize),
    '-g',
    String(v.keyint),
    '-keyint_min',
    String(v.keyint),
    '-bf',
    String(v.bFrames),
  ];
}

export function renderNvenc(v: NvencOptions): string[] {
  const args = ['-c:v', 'h264_nvenc', '-preset', v.preset, '-tune', v.tune];
  if (v.zeroLatency) args.push('-zerolatency', '1', '-delay', '0');
  args.push('-profile:v', v.profile);
  if (v.level !== undefined) args.push('-level:v', String(v.level));
  args.push('-rc', v.rateControl, ...renderCommonVideo(v));
  // No lookahead (it delays output and would place scene-cut I-frames); forced keyframes become IDR.
  args.push('-rc-lookahead', '0', '-no-scenecut', '1', '-forced-idr', '1');
  if (v.forceKeyFrames !== undefined) args.push('-force_key_frames', v.forceKeyFrames);
  return args;
}

export function renderVaapi(v: VaapiOptions): string[] {
  const args = ['-c:v', 'h264_vaapi', '-rc_mode', v.rateControl.toUpperCase()];
  if (v.lowPower) args.push('-low_power', '1');
  args.push('-profile:v', v.profile);
  if (v.level !== undefined) args.push('-level:v', String(v.level));
  // idr_interval 0: every I-frame is an IDR (closed GOPs); VAAPI's GOP structure is fixed (no scene cuts).
  args.push(...renderCommonVideo(v), '-idr_interval', '0');
  if (v.forceKeyFrames !== undefined) args.push('-force_key_frames', v.forceKeyFrames);
  return args;
}

export function renderQsv(v: QsvOptions): string[] {
  const args = ['-c:v', 'h264_qsv', '-preset', v.preset];
  if (v.lowPower) args.push('-low_power', '1');
  if (v.lowDelay) args.push('-async_depth', '1', '-low_delay_brc', '1');
  args.push('-profile:v', v.profile);
  if (v.level !== undefined) args.push('-level:v', String(v.level));
  args.push(...renderCommonVideo(v));
  // Every I-frame an IDR, forced ones too; no adaptive (scene-cut) I- or B-frames; no lookahead.
  args.push('-idr_interval', '0', '-forced_idr', '1', '-adaptive_i', '0', '-adaptive_b', '0', '-look_ahead', '0');
  if (v.forceKeyFrames !== undefined) args.push('-force_key_frames', v.forceKeyFrames);
  return args;
}

/** Renders one video encode, whichever the encoder. */
export function renderVideo(v: VideoEncoding): string[] {
  switch (v.codec) {
    case 'libx264':
      return renderX264(v);
    case 'h264_nvenc':
      return renderNvenc(v);
    case 'h264_vaapi':
      return renderVaapi(v);
    case 'h264_qsv':
      return renderQsv(v);
  }
}

export function renderAac(a: AacOptions): string[] {
  return ['-c:a', 'aac', '-profile:a', 'aac_low', '-b:a', formatBitrate(a.bitrate), '-ac', String(a.channels), '-ar', String(a.sampleRate)];
}

const DISABLE_FLAG = { video: '-vn', audio: '-an', subtitle: '-sn', data: '-dn' } as const;

export function renderOutput(target: string, o: OutputOptions): string[] {
  const args: string[] = [];
  for (const map of o.maps) args.push('-map', map);
  if (o.video) args.push(...renderVideo(o.video));
  if (o.audioFilter !== undefined) args.push('-af', o.audioFilter);
  if (o.audio) args.push(...renderAac(o.audio));
  for (const d of o.disable ?? []) args.push(DISABLE_FLAG[d]);
  if (o.durationSec !== undefined) args.push('-t', formatSeconds(o.durationSec));
  if (o.maxMuxingQueueSize !== undefined) args.push('-max_muxing_queue_size', String(o.maxMuxingQueueSize));
  if (o.fpsMode !== undefined) args.push('-fps_mode', o.fpsMode);
  if (o.videoTrackTimescale !== undefined) args.push('-video_track_timescale', String(o.videoTrackTimescale));
  args.push('-f', o.format);
  if (o.movflags?.length) args.push('-movflags', flagList(o.movflags));
  if (o.fragDurationUs !== undefined) args.push('-frag_duration', String(Math.round(o.fragDurationUs)));
  if (o.flushPackets) args.push('-flush_packets', '1');
  args.push(target);
  return args;
}

/** Accumulates an ffmpeg command line; `build()` returns the argv (without the binary). */
export class FfmpegArgs {
  private globalOptions: GlobalOptions = {};
  private readonly inputs: Array<{ url: string; options: InputOptions }> = [];
  private filterGraph: string | undefined;
  private readonly outputs: Array<{ target: string; options: OutputOptions }> = [];

  global(options: GlobalOptions): this {
    this.globalOptions = { ...this.globalOptions, ...options };
    return this;
  }

  /** Adds an input; inputs are numbered in call order (`-map N:…`), see `inputCount`. */
  input(url: string, options: InputOptions = {}): this {
    this.inputs.push({ url, options });
    return this;
  }

  get inputCount(): number {
    return this.inputs.length;
  }

  /** One `-filter_complex` graph: chains joined with `;`. */
  filterComplex(chains: string[]): this {
    this.filterGraph = chains.join(';');
    return this;
  }

  output(target: string, options: OutputOptions): this {
    this.outputs.push({ target, options });
    return this;
  }

  build(): string[] {
    const args = renderGlobal(this.globalOptions);
    for (const i of this.inputs) args.push(...renderInput(i.url, i.options));
    if (this.filterGraph !== undefined) args.push('-filter_complex', this.filterGraph);
    for (const o of this.outputs) args.push(...renderOutput(o.target, o.options));
    return args;
  }
}
