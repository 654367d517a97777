import { FALLBACK_FRAME_RATE, type ResolvedAudioRendition, type ResolvedLadder, type ResolvedVideoRendition } from '../ladder/ladder-loader.js';
import { vbvOf, type Encoder, type Ladder } from '../ladder/ladder-schema.js';
import { runPartTarget } from '../ladder/part-target.js';
import { ErrorCode, LivepipeError } from '../core/errors.js';
import { FfmpegArgs, formatSeconds, type InputOptions, type OutputOptions, type VideoEncoding } from './ffmpeg-args.js';
import type { InputProbe } from './input-probe.js';
import { isLiveInput, type InputSpec } from './input-spec.js';
import { audioFragmentingOf, videoFragmentingOf, type Fragmenting } from './output-fragmenting.js';

/**
 * The pure ladder → ffmpeg argv compiler. One ffmpeg process per channel:
 *
 * - the input is decoded ONCE; one `-filter_complex` splits the decoded video (`fps` first when the
 *   ladder caps the rate, or raises a source slower than one frame per part) and scales each branch;
 * - every video rendition gets identical closed GOPs: fixed keyint = GOP × fps, `-sc_threshold 0`,
 *   x264 `scenecut=0:open-gop=0`, plus `-force_key_frames` on a time expression so that keyframes
 *   fall on the same timestamps in every rendition (segment boundaries align across the ladder) —
 *   or, with `keyframes: marked`, on the frames the input marks (`source`: the same frames in every
 *   rendition too);
 * - each source audio track used is decoded once and each audio rendition (one per ladder entry and
 *   published language, see `ladder/audio-tracks.ts`) is encoded once into its own output;
 * - every output is fragmented MP4 written to its own pipe to the parent (`pipe:3`, `pipe:4`, … in
 *   output order): video one moof+mdat per part, cut by ffmpeg where the packager would cut
 *   (`videoFragmentingOf`: far fewer reads and parses than per frame, same latency), audio one per
 *   few AAC frames (`audioFragmentingOf`). How ffmpeg fragments costs the packager's CPU only: it
 *   stores every part as one CMAF chunk whatever number of fragments it came in (`SegmentCutter`'s
 *   `partChunks`), so viewers download no fragment headers;
 * - progress goes to `pipe:1` as key=value blocks (`-progress pipe:1 -nostats`), stderr carries
 *   warnings and errors only.
 *
 * All outputs come from the same input timeline (no `-copyts`: ffmpeg rebases every output on the
 * input start), so the first fragment of every rendition carries the same decode time.
 */

/** File descriptor of the first output pipe; outputs follow in order (3, 4, 5, …). */
export const FIRST_OUTPUT_FD = 3;
/** Every video track uses a 90 kHz timescale (MPEG convention), identical across renditions. */
export const VIDEO_TIMESCALE = 90_000;
/** Progress report period; short enough for a 10 s stall watchdog and live dashboards. Default 0.5 s. */
export const PROGRESS_PERIOD_SEC = 0.5;

/** fMP4 flags: an empty moov (init segment) first, then self-contained moof+mdat per frame. */
export const FMP4_MOVFLAGS = ['empty_moov', 'default_base_moof', 'frag_every_frame', 'skip_trailer'];
/**
 * fMP4 flags for grouped fragments: a new fragment at every keyframe (segment boundaries; audio has
 * none) and, with `-frag_duration`, once a group's frames are in (see output-fragmenting.ts).
 */
export const FMP4_GROUPED_MOVFLAGS = ['empty_moov', 'default_base_moof', 'frag_keyframe', 'skip_trailer'];

/** The mp4 muxer options of a fragmenting plan. */
function fmp4Fragmenting(plan: Fragmenting): Pick<OutputOptions, 'movflags' | 'fragDurationUs'> {
  return plan.kind === 'grouped' ? { movflags: FMP4_GROUPED_MOVFLAGS, fragDurationUs: plan.fragDurationUs } : { movflags: FMP4_MOVFLAGS };
}

export type CompiledOutput =
  | { name: string; kind: 'video'; fd: number; rendition: ResolvedVideoRendition }
  | { name: string; kind: 'audio'; fd: number; rendition: ResolvedAudioRendition };

export interface CompiledLadder {
  /** ffmpeg argv, without the binary. */
  args: string[];
  /** One per output pipe, in fd order. */
  outputs: CompiledOutput[];
  /** True when ffmpeg reads the media from stdin (the supervisor must pipe `openInput()` into it). */
  stdinMedia: boolean;
}

function mainInputOptions(input: InputSpec): { url: string; options: InputOptions } {
  const live = isLiveInput(input);
  // Live inputs: stream analysis limited to 1 s / 2 MB (ffmpeg's default waits for 5 s of media
  // before the first frame), and a larger thread queue to absorb network bursts.
  // Deliberately NOT used: `-fflags nobuffer` discards the packets read while probing — the first
  // GOP, keyframe included — so a publisher with long GOPs (OBS: 2–10 s) yields nothing but
  // "missing reference picture" errors until its next keyframe; and the decoder flag
  // `-flags low_delay` breaks streams with B-frames. The probed backlog costs latency only once: the
  // encoder catches up with it faster than realtime.
  const lowDelay: InputOptions = live ? { threadQueueSize: 1024, probeSize: 2_000_000, analyzeDurationUs: 1_000_000 } : {};
  if (input.kind === 'stdin') {
    return { url: 'pipe:0', options: { ...lowDelay, format: input.format } };
  }
  const options: InputOptions = { ...lowDelay, realtime: input.realtime };
  if (input.format !== undefined) options.format = input.format;
  if (input.maxDurationSec !== undefined) options.durationSec = input.maxDurationSec;
  return { url: input.url, options };
}

/**
 * Where each encoder's frames are scaled. The input is always decoded in software (publishers send
 * any codec, and one decode path keeps the `fps` decisions identical); hardware encoders then get
 * the decoded frame uploaded ONCE (`format=nv12,hwupload`, NV12 being the surface format all three
 * encoders take), split on the GPU and scaled there per rendition, so no CPU time goes to N software
 * scales and N uploads:
 * - nvenc: `scale_cuda` (CUDA frames);
 * - vaapi: `scale_vaapi` (VA surfaces);
 * - qsv: `scale_qsv` (the VPP scaler; `vpp_qsv` does the same with more knobs we do not use).
 *   QSV's frame pool is fixed in size: `extra_hw_frames=64` leaves room for every rendition's queue.
 * x264 scales in software (swscale bicubic) per rendition from the full-size decode.
 */
export const HW_SCALERS = { nvenc: 'scale_cuda', vaapi: 'scale_vaapi', qsv: 'scale_qsv' } as const;

/** The ffmpeg device type and filter-graph device of a hardware encoder (global options). */
export function hwDeviceOptions(encoder: Encoder): { initHwDevices: string[]; filterHwDevice: string } | undefined {
  switch (encoder.kind) {
    case 'x264':
      return undefined;
    case 'nvenc':
      return { initHwDevices: [`cuda=hw:${encoder.gpu}`], filterHwDevice: 'hw' };
    case 'vaapi':
      // The long form of `-vaapi_device <node>`, spelled like the other two.
      return { initHwDevices: [`vaapi=hw:${encoder.device}`], filterHwDevice: 'hw' };
    case 'qsv':
      // With a render node, the QSV session derives from a VAAPI device on it (ffmpeg's documented way
      // to pick a GPU on Linux); without one the runtime picks.
      return encoder.device !== undefined
        ? { initHwDevices: [`vaapi=va:${encoder.device}`, 'qsv=hw@va'], filterHwDevice: 'hw' }
        : { initHwDevices: ['qsv=hw'], filterHwDevice: 'hw' };
  }
}

/**
 * The `-filter_complex` chains: decode once, optional `fps` (down to the ladder's cap, or up to its
 * minimum rate for a source slower than one frame per part), upload for a hardware encoder, split,
 * scale per rendition (see HW_SCALERS).
 */
export function buildVideoFilterGraph(resolved: ResolvedLadder, sourceFrameRate: number): string[] {
  const n = resolved.video.length;
  const encoder = resolved.ladder.encoder;
  const pre: string[] = [];
  const faster = sourceFrameRate > resolved.frameRate + 1e-3;
  const slower = sourceFrameRate > 0 && sourceFrameRate < resolved.frameRate - 1e-3;
  if (faster || slower) pre.push(`fps=${formatSeconds(resolved.frameRate)}`);
  if (encoder.kind !== 'x264') pre.push('format=nv12', encoder.kind === 'qsv' ? 'hwupload=extra_hw_frames=64' : 'hwupload');
  const scaleOf = (r: ResolvedVideoRendition): string => {
    const size = `w=${r.outputWidth}:h=${r.outputHeight}`;
    return encoder.kind === 'x264'
      ? `scale=${r.outputWidth}:${r.outputHeight}:flags=bicubic,setsar=1,format=yuv420p`
      : encoder.kind === 'nvenc'
        ? `scale_cuda=${size}:interp_algo=bicubic:format=nv12,setsar=1`
        : `${HW_SCALERS[encoder.kind]}=${size}:format=nv12,setsar=1`;
  };
  if (resolved.ladder.scaling === 'cascade' && n > 1) return cascadeChains(resolved.video, pre, scaleOf);
  pre.push(`split=${n}${resolved.video.map((_, i) => `[s${i}]`).join('')}`);
  const chains = [`[0:v:0]${pre.join(',')}`];
  resolved.video.forEach((r, i) => chains.push(`[s${i}]${scaleOf(r)}[v${i}]`));
  return chains;
}

/**
 * Cascaded scaling: renditions from the largest down, each scaled from the one before it and split
 * into its encoder's input `[vI]` (I = the rendition's index in the ladder) and the next scaler's
 * `[cI]`. Equal sizes keep ladder order (the sort is stable).
 */
function cascadeChains(video: ResolvedVideoRendition[], pre: string[], scaleOf: (r: ResolvedVideoRendition) => string): string[] {
  const order = video.map((r, i) => ({ r, i })).sort((a, b) => b.r.outputWidth * b.r.outputHeight - a.r.outputWidth * a.r.outputHeight);
  return order.map(({ r, i }, k) => {
    const from = k === 0 ? `[0:v:0]${pre.map((f) => `${f},`).join('')}` : `[c${order[k - 1]!.i}]`;
    const to = k === order.length - 1 ? `[v${i}]` : `,split=2[v${i}][c${i}]`;
    return `${from}${scaleOf(r)}${to}`;
  });
}

/**
 * A `keyframes: marked` ladder keys on the input's flagged frames only when the input is H.264: the
 * relays mark H.264 frames (a recovery point SEI), and ffmpeg's HEVC decoder flags IRAP pictures
 * only, so an HEVC input under `source` got keyframes at its own IDRs and x264's keyint backstop —
 * off the segment grid, renditions out of step. Any other codec is keyed on the grid, as `grid`
 * ladders are (a splice then lands on the next boundary, as the relays already report).
 */
export function markedKeyframesApply(ladder: Ladder, probe: InputProbe): boolean {
  return ladder.keyframes === 'marked' && probe.videoCodec === 'h264';
}

/** An H.264 level (`3.1`) as the level_idc integer the hardware encoders take (`31`). */
export function levelIdc(level: string): number {
  return Math.round(Number(level) * 10);
}

/**
 * How far before a grid instant a frame still counts as on it, s. Far below any frame's duration
 * (4 ms at 240 fps), far above double rounding.
 */
const GRID_TOLERANCE_SECONDS = 0.0001;

/**
 * `-force_key_frames` for keyframes every `gop` seconds: the first frame at or after each grid
 * instant. ffmpeg evaluates `t` (the frame's pts times its time base) and `n_forced × gop` in
 * doubles, and where the grid instant is not a binary fraction the frame that lies exactly on it can
 * compare below it: at 30 fps with `gop: 0.2`, frame 18 has t = 0.6 and 3 × 0.2 = 0.6000000000000001,
 * so the plain `gte(t,n_forced*0.2)` keyed frames 0, 6, 12, **19**, 24, 30, **37**, … (with audio in
 * the run, pairs of keyframes one frame apart too) — one-frame LL-HLS parts under 85 % of
 * PART-TARGET, GOPs of 7, 5 and 1 frames. The tolerance keys the frame on the instant (0, 6, 12,
 * 18, …; test/integration/transcode/grid-keyframes.test.ts). Shipped ladders (GOP 2 s, 0.5 s) are
 * binary fractions and were not affected; ladders with `gop: 0.2` or `0.4` were at 25 and 30 fps
 * (0.6 and 1.2 happen to round the other way there).
 */
export function gridKeyframesExpression(gop: number): string {
  return `expr:gte(t,n_forced*${formatSeconds(gop)}-${formatSeconds(GRID_TOLERANCE_SECONDS)})`;
}

/**
 * The video encode of one rendition with the ladder's encoder. `keyframesFromSource`: keyframes where
 * the input's decoder flags them (`keyframes: marked` on an H.264 input, `markedKeyframesApply`),
 * else every `gop` seconds (the resolved ladder's `gop`, `keyframeGop`: the segment when the
 * ladder's GOP would put a keyframe inside a part).
 */
export function videoEncodingOf(ladder: Ladder, r: ResolvedVideoRendition, keyint: number, keyframesFromSource = ladder.keyframes === 'marked', gop = ladder.gop): VideoEncoding {
  const vbv = vbvOf(r);
  // `marked`: keyframes where the input's decoder flags them (IDRs, recovery point SEIs the FLV relay
  // puts on the grid and at switches: `ingest/keyframe-marks.ts`); keyint stays as the backstop.
  const forceKeyFrames = keyframesFromSource ? 'source' : gridKeyframesExpression(gop);
  const encoder = ladder.encoder;
  if (encoder.kind === 'x264') {
    return {
      codec: 'libx264',
      preset: r.preset,
      ...(ladder.tune !== undefined ? { tune: ladder.tune } : {}),
      profile: r.profile,
      ...(r.level !== undefined ? { level: r.level } : {}),
      bitrate: r.bitrate,
      maxrate: vbv.maxrate,
      bufsize: vbv.bufsize,
      keyint,
      bFrames: ladder.bFrames,
      forceKeyFrames,
      x264Params: { keyint, 'min-keyint': keyint, scenecut: 0, 'open-gop': 0 },
    };
  }
  // Hardware: CBR pins maxrate to the bitrate; the GOP is fixed (-g = -keyint_min) and keyframes are
  // forced on the same time expression as x264's, as IDR frames, so segments align across renditions.
  const common = {
    ...(r.level !== undefined ? { level: levelIdc(r.level) } : {}),
    bitrate: r.bitrate,
    maxrate: encoder.rateControl === 'cbr' ? r.bitrate : vbv.maxrate,
    bufsize: vbv.bufsize,
    keyint,
    bFrames: ladder.bFrames,
    forceKeyFrames,
  };
  const lowLatency = ladder.tune === 'zerolatency';
  switch (encoder.kind) {
    case 'nvenc':
      return {
        codec: 'h264_nvenc',
        preset: encoder.preset,
        tune: lowLatency ? 'll' : 'hq',
        zeroLatency: lowLatency,
        rateControl: encoder.rateControl,
        profile: r.profile,
        ...common,
      };
    case 'vaapi':
      return {
        codec: 'h264_vaapi',
        rateControl: encoder.rateControl,
        lowPower: encoder.lowPower,
        profile: r.profile === 'baseline' ? 'constrained_baseline' : r.profile,
        ...common,
      };
    case 'qsv':
      return { codec: 'h264_qsv', preset: encoder.preset, lowPower: encoder.lowPower, lowDelay: lowLatency, profile: r.profile, ...common };
  }
}

/**
 * Largest source pixel rate (width × height × fps) decoded with slice threads: 1080p60. ffmpeg's
 * default frame threading holds (threads − 1) frames back before the first one leaves the decoder:
 * two frames on a 2-core machine, 67 ms at 30 fps (measured on the `low-latency` ladder: part latency
 * p50 158 → 94 ms with slice threads). Slice threading holds none, but most streams carry one slice
 * per frame, so it decodes on one core: 1080p60 H.264 decodes ~4.7× faster than real time on one
 * core of this 2-core machine. Larger sources keep frame threads: throughput before two frames.
 */
export const SLICE_THREADED_DECODE_MAX_PIXEL_RATE = 1920 * 1080 * 60;

/** Whether a paced (live or real-time) source is decoded with slice threads (see above). */
export function decodesSliceThreaded(probe: Pick<InputProbe, 'width' | 'height' | 'frameRate'>): boolean {
  const fps = probe.frameRate > 0 && Number.isFinite(probe.frameRate) ? probe.frameRate : FALLBACK_FRAME_RATE;
  return probe.width * probe.height * fps <= SLICE_THREADED_DECODE_MAX_PIXEL_RATE;
}

/**
 * Compiles a resolved ladder for one run. Throws `InputUnusable` when the input has no video (the
 * probe already refuses such inputs; this guards direct callers).
 */
export interface CompileOptions {
  /**
   * The probe was taken from this same live input by an earlier run (an operator restart with the
   * publisher still connected). ffmpeg then skips its frame-rate estimation (`-fpsprobesize 0`),
   * which otherwise waits for ~1 s of realtime media (FLV timestamps are coarse, so ffmpeg wants 40
   * frames) before the first frame is decoded: the rate comes from the stream headers (x264/NVENC
   * VUI timing, FLV onMetaData), and the ladder's frame-rate decisions were already made from the
   * probe. Default false.
   */
  inputKnown?: boolean;
}

export function compileLadder(resolved: ResolvedLadder, probe: InputProbe, input: InputSpec, compileOptions: CompileOptions = {}): CompiledLadder {
  if (!(probe.width > 0 && probe.height > 0)) {
    throw new LivepipeError(ErrorCode.InputUnusable, 'input has no usable video stream');
  }
  const { ladder } = resolved;
  const main = mainInputOptions(input);
  const live = isLiveInput(input);
  if (compileOptions.inputKnown === true && live && probe.frameRate > 0) main.options.fpsProbeFrames = 0;
  if ((live || main.options.realtime === true) && decodesSliceThreaded(probe)) main.options.decoderThreadType = 'slice';
  // A new input size mid-run (an input switch to a backup of another size) goes through the running
  // graph: x264's graph starts with size-agnostic filters (`fps`, `split`) and its `scale` adapts to
  // each frame's size. A rebuilt graph lost the frame `fps` held — the old input's last — and the
  // constant-frame-rate output filled that slot with the new input's first picture, one frame before
  // the forced keyframe (docs/inputs.md). Hardware graphs upload to a fixed-size frame pool first: rebuilt.
  if (ladder.encoder.kind === 'x264') main.options.keepVideoFilterGraph = true;
  const builder = new FfmpegArgs().global({
    logLevel: 'warning',
    progress: 'pipe:1',
    statsPeriodSec: PROGRESS_PERIOD_SEC,
    noStdin: input.kind !== 'stdin',
    ...hwDeviceOptions(ladder.encoder),
  });
  builder.input(main.url, main.options);

  // Generated silence for audio-less inputs (`silenceIfMissing`): a second input, paced like the main
  // one. It never ends by itself, so a finite file bounds it with the file's duration; a live channel
  // is stopped by its owner when the publisher leaves.
  const silent = resolved.audio.find((a) => a.silent);
  let silenceInput = -1;
  let silenceDuration: number | undefined;
  if (silent) {
    silenceInput = builder.inputCount;
    const realtime = live || (input.kind === 'url' && input.realtime);
    builder.input(`anullsrc=channel_layout=${silent.channels === 1 ? 'mono' : 'stereo'}:sample_rate=${silent.sampleRate}`, {
      format: 'lavfi',
      realtime,
    });
    const bounds = [probe.durationSec, input.kind === 'url' ? input.maxDurationSec : undefined].filter((d): d is number => d !== undefined);
    if (!live && bounds.length > 0) silenceDuration = Math.min(...bounds);
  }

  const partTarget = runPartTarget(resolved);
  // `keyframes: marked` puts keyframes off the part grid (a switch, a source IDR): with part-sized
  // fragments `frag_keyframe` would cut a fragment there and the part holding it would come out short
  // (< 85 % of PART-TARGET), so its video is fragmented per frame and the packager packs the parts.
  const fragmenting: Fragmenting = ladder.keyframes === 'marked' ? { kind: 'frame' } : videoFragmentingOf(partTarget, resolved.frameRate);
  builder.filterComplex(buildVideoFilterGraph(resolved, probe.frameRate));

  const outputs: CompiledOutput[] = [];
  resolved.video.forEach((r, i) => {
    const fd = FIRST_OUTPUT_FD + outputs.length;
    builder.output(`pipe:${fd}`, {
      maps: [`[v${i}]`],
      video: videoEncodingOf(ladder, r, resolved.keyint, markedKeyframesApply(ladder, probe), resolved.gop),
      disable: ['audio', 'subtitle', 'data'],
      // Constant frame rate (ffmpeg's default for mp4, made explicit): part-sized fragments rely on it.
      fpsMode: 'cfr',
      format: 'mp4',
      ...fmp4Fragmenting(fragmenting),
      flushPackets: true,
      videoTrackTimescale: VIDEO_TIMESCALE,
      maxMuxingQueueSize: 1024,
    });
    outputs.push({ name: r.name, kind: 'video', fd, rendition: r });
  });

  for (const a of resolved.audio) {
    const fd = FIRST_OUTPUT_FD + outputs.length;
    builder.output(`pipe:${fd}`, {
      // Each source audio track is decoded once, whichever renditions encode it.
      maps: [a.silent ? `${silenceInput}:a:0` : `0:a:${a.track}`],
      audio: { bitrate: a.bitrate, channels: a.channels, sampleRate: a.sampleRate },
      ...(a.loudness !== undefined && !a.silent ? { audioFilter: loudnormFilter(a.loudness) } : {}),
      disable: ['video', 'subtitle', 'data'],
      format: 'mp4',
      ...fmp4Fragmenting(audioFragmentingOf(partTarget, a.sampleRate)),
      flushPackets: true,
      maxMuxingQueueSize: 1024,
      ...(a.silent && silenceDuration !== undefined ? { durationSec: silenceDuration } : {}),
    });
    outputs.push({ name: a.name, kind: 'audio', fd, rendition: a });
  }

  return { args: builder.build(), outputs, stdinMedia: input.kind === 'stdin' };
}

/**
 * EBU R128 normalisation, single pass (`loudnorm` without measured_* values runs its dynamic mode).
 * loudnorm works at 192 kHz internally; the AAC encode's `-ar` brings it back to the rendition's rate.
 */
export function loudnormFilter(target: { integrated: number; truePeak: number; range: number }): string {
  return `loudnorm=I=${target.integrated}:TP=${target.truePeak}:LRA=${target.range}`;
}
