import { z } from 'zod';
import { AudioTrackListSchema } from '../core/audio-track-schema.js';
import { isValidId } from '../core/ids.js';

export { AudioTrackSchema, LANGUAGE_TAG_PATTERN, type AudioTrackConfig } from '../core/audio-track-schema.js';

/**
 * The ABR ladder file format (`ladders/*.yaml`). Strict: unknown keys are rejected so that a typo
 * (`bitrat: 3M`) fails loudly instead of silently using a default.
 *
 * Units are typed: bitrates accept bits/s numbers or strings with a k/M suffix (`3000k`, `3M`,
 * `128000`) and are stored as bits/s numbers; durations are seconds (a number, or `2s` / `500ms`).
 */

const BITRATE_PATTERN = /^(\d+(?:\.\d+)?)\s*([kKmM]?)(?:bps|b\/s)?$/;

/** Parses `3000k`, `3M`, `128000` or a number into bits/s (NaN when malformed). */
export function parseBitrate(value: string | number): number {
  if (typeof value === 'number') return value;
  const match = BITRATE_PATTERN.exec(value.trim());
  if (!match) return Number.NaN;
  const unit = (match[2] ?? '').toLowerCase();
  const factor = unit === 'k' ? 1_000 : unit === 'm' ? 1_000_000 : 1;
  return Math.round(Number(match[1]) * factor);
}

const DURATION_PATTERN = /^(\d+(?:\.\d+)?)\s*(s|ms)?$/;

/** Parses seconds from a number, `2s`, `0.5` or `500ms` (NaN when malformed). */
export function parseDurationSeconds(value: string | number): number {
  if (typeof value === 'number') return value;
  const match = DURATION_PATTERN.exec(value.trim());
  if (!match) return Number.NaN;
  const n = Number(match[1]);
  return match[2] === 'ms' ? n / 1000 : n;
}

/** A bitrate in bits/s, strictly positive. */
export const Bitrate = z
  .union([z.number(), z.string()])
  .transform((v) => parseBitrate(v))
  .refine((v) => Number.isFinite(v) && v > 0, { message: 'must be a positive bitrate (bits/s number, or e.g. "3000k", "3M")' });

/** A duration in seconds, strictly positive. */
export const DurationSeconds = z
  .union([z.number(), z.string()])
  .transform((v) => parseDurationSeconds(v))
  .refine((v) => Number.isFinite(v) && v > 0, { message: 'must be a positive duration in seconds (e.g. 2, "2s", "500ms")' });

const RenditionId = z.string().refine(isValidId, {
  message: 'must be an id: letters, digits, "_" and "-", starting with a letter or digit, at most 64 chars',
});

/** A dimension in pixels: positive and even (4:2:0 chroma subsampling needs even sizes). */
const EvenDimension = z
  .number()
  .int()
  .refine((v) => v > 0, { message: 'must be positive' })
  .refine((v) => v % 2 === 0, { message: 'must be even (yuv420p needs even dimensions)' });

export const X264_PRESETS = [
  'ultrafast',
  'superfast',
  'veryfast',
  'faster',
  'fast',
  'medium',
  'slow',
  'slower',
  'veryslow',
] as const;
export const X264_TUNES = ['film', 'animation', 'grain', 'stillimage', 'fastdecode', 'zerolatency'] as const;
export const H264_PROFILES = ['baseline', 'main', 'high'] as const;
/** H.264 levels x264 accepts (Annex A). */
export const H264_LEVELS = ['3.0', '3.1', '3.2', '4.0', '4.1', '4.2', '5.0', '5.1', '5.2'] as const;

const Level = z
  .union([z.number(), z.string()])
  .transform((v) => (typeof v === 'number' ? v.toFixed(1) : v.includes('.') ? v : `${v}.0`))
  .refine((v) => (H264_LEVELS as readonly string[]).includes(v), { message: `must be one of ${H264_LEVELS.join(', ')}` });

/** NVENC presets, p1 (fastest) … p7 (best quality). */
export const NVENC_PRESETS = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7'] as const;
/** QSV presets (target usage), fastest first. */
export const QSV_PRESETS = ['veryfast', 'faster', 'fast', 'medium', 'slow', 'slower', 'veryslow'] as const;
export const ENCODER_KINDS = ['x264', 'nvenc', 'vaapi', 'qsv'] as const;

/**
 * Rate control of a hardware encoder: `vbr` (default) is capped VBR like x264's (average `bitrate`,
 * peaks up to `maxrate` within `bufsize`); `cbr` holds every rendition at its `bitrate`
 * (maxrate = bitrate).
 */
const RateControl = z.enum(['vbr', 'cbr']).default('vbr');

/** A DRM render node (`/dev/dri/renderD128`). */
const DrmDevice = z.string().regex(/^\/dev\/dri\/[A-Za-z0-9_]+$/, { message: 'must be a DRM device path such as /dev/dri/renderD128' });

/**
 * The video encoder of every rendition. Hardware encoders are untested on real hardware (the
 * project's machines have none): the tests prove the argument lists and that this ffmpeg build
 * knows every option and filter they name, not that a GPU accepts them. See docs/hardware-encoders.md.
 */
export const EncoderSchema = z.discriminatedUnion('kind', [
  /** libx264 on the CPU (the default); presets per rendition. */
  z.strictObject({ kind: z.literal('x264') }),
  z.strictObject({
    kind: z.literal('nvenc'),
    /** CUDA device index; default 0 (the first GPU). */
    gpu: z.number().int().min(0).default(0),
    /** NVENC preset, shared by every rendition; default p4 (NVIDIA's balanced default). */
    preset: z.enum(NVENC_PRESETS).default('p4'),
    rateControl: RateControl,
  }),
  z.strictObject({
    kind: z.literal('vaapi'),
    /** DRM render node; default /dev/dri/renderD128 (the first GPU). */
    device: DrmDevice.default('/dev/dri/renderD128'),
    /** Low-power (VDEnc) mode, required for encoding on some recent Intel GPUs; default false. */
    lowPower: z.boolean().default(false),
    rateControl: RateControl,
  }),
  z.strictObject({
    kind: z.literal('qsv'),
    /** DRM render node the QSV session derives from; default: the runtime's choice (the first Intel GPU). */
    device: DrmDevice.optional(),
    /** QSV preset (target usage), shared by every rendition; default veryfast. */
    preset: z.enum(QSV_PRESETS).default('veryfast'),
    /** Low-power (VDEnc) mode; default false. */
    lowPower: z.boolean().default(false),
    rateControl: RateControl,
  }),
]);

export const VideoRenditionSchema = z.strictObject({
  /** Rendition id: a path segment of storage keys (`live/{channel}/{name}/…`). */
  name: RenditionId,
  width: EvenDimension,
  height: EvenDimension,
  /** Target average bitrate (`-b:v`). */
  bitrate: Bitrate,
  /** VBV max rate (`-maxrate`); default 1.1 × bitrate (capped VBR close to CBR, friendly to CDNs). */
  maxrate: Bitrate.optional(),
  /** VBV buffer (`-bufsize`); default 1.5 × bitrate. */
  bufsize: Bitrate.optional(),
  /** H.264 profile; default `high`. */
  profile: z.enum(H264_PROFILES).default('high'),
  /** H.264 level, e.g. `4.1`; default lets x264 pick. */
  level: Level.optional(),
  /** x264 preset; default `veryfast`. Hardware encoders use the encoder's preset instead. */
  preset: z.enum(X264_PRESETS).default('veryfast'),
});

export const AudioRenditionSchema = z.strictObject({
  /** Rendition id, unique across video and audio renditions. */
  name: RenditionId,
  /** AAC-LC bitrate; default 128k. */
  bitrate: Bitrate.default(128_000),
  /** Channel count; default 2 (stereo). */
  channels: z.number().int().min(1).max(8).default(2),
  /** Sample rate in Hz; default 48000. */
  sampleRate: z.union([z.literal(32_000), z.literal(44_100), z.literal(48_000)]).default(48_000),
  /**
   * When the input has no audio, encode silence instead of dropping the rendition, so the set of
   * renditions (and the multivariant playlist) does not change with the publisher. Default false.
   */
  silenceIfMissing: z.boolean().default(false),
  /**
   * EBU R128 loudness normalisation of this rendition (ffmpeg `loudnorm`, single pass, its dynamic
   * mode: the only one a live stream allows). Targets: integrated loudness in LUFS (default -23, EBU
   * R128), true peak in dBTP (default -1), loudness range in LU (default 7). Absent: no normalisation.
   * Note: loudnorm looks ~3 s ahead, so the audio — and the live edge with it — comes later.
   */
  loudness: z
    .strictObject({
      integrated: z.number().min(-70).max(-5).default(-23),
      truePeak: z.number().min(-9).max(0).default(-1),
      range: z.number().min(1).max(50).default(7),
    })
    .optional(),
});

/** `source` keeps the input frame rate; `{ cap: N }` limits it to N fps (lower rates are kept). */
export const FrameRatePolicySchema = z.union([
  z.literal('source'),
  z.strictObject({ cap: z.number().positive().max(120) }),
]);

export const LadderSchema = z
  .strictObject({
    /** Free text for operators (`livepipe ladders list`). */
    description: z.string().optional(),
    /** Keyframe interval in seconds; every GOP is closed and starts at the same time in all renditions. */
    gop: DurationSeconds,
    /**
     * Where the encoder's keyframes come from. `grid` (default): forced every `gop` seconds by a time
     * expression fixed when the encoder starts (`-force_key_frames expr:gte(t,n_forced*GOP)`).
     * `marked`: forced on every input frame the decoder flags as a keyframe (`-force_key_frames
     * source`) — the source's IDRs and the frames livepipe's FLV relay marks with an H.264 recovery
     * point SEI: the GOP grid, the first frame of an input switch (no wait for the next grid point).
     * H.264 sources on RTMP only (docs/inputs.md, "Keyframe marks"); costs an extra keyframe per
     * source IDR off the grid.
     */
    keyframes: z.enum(['grid', 'marked']).default('grid'),
    /** HLS segment (EXT-X-TARGETDURATION basis) in seconds; a whole number of GOPs. */
    segment: DurationSeconds,
    /** LL-HLS PART-TARGET in seconds; ≤ segment. */
    part: DurationSeconds,
    frameRate: FrameRatePolicySchema.default('source'),
    /**
     * x264 tune, e.g. `zerolatency` (no lookahead, no frame threads: lowest encoder delay). Default none.
     * With a hardware encoder only `zerolatency` is allowed, compiled to that encoder's low-delay mode.
     */
    tune: z.enum(X264_TUNES).optional(),
    /**
     * Where each rendition is scaled from: `source` (default) scales every rendition from the decoded
     * source; `cascade` scales each from the next larger rendition (1080p → 720p → 480p → 360p), so
     * every scaler after the first reads a smaller picture. Judged by `npm run bench -- quality`.
     */
    scaling: z.enum(['source', 'cascade']).default('source'),
    /** The video encoder; default `{ kind: x264 }`. */
    encoder: EncoderSchema.default({ kind: 'x264' }),
    /** Max consecutive B-frames; 0 disables them (lowest latency, parts never wait on reordering). Default 0. */
    bFrames: z.number().int().min(0).max(4).default(0),
    video: z.array(VideoRenditionSchema).min(1, { message: 'needs at least one video rendition' }),
    /**
     * Audio renditions. Each is encoded once per published source audio track (one decode per track,
     * all in the one ffmpeg run); with one track, once, named as here. May be empty.
     */
    audio: z.array(AudioRenditionSchema).default([]),
    /**
     * The source audio tracks to publish, each as its own rendition of every audio rendition above
     * (`{name}-{language}`), with LANGUAGE, NAME and DEFAULT. Default: every decodable audio track of
     * the source, described by its metadata (docs/on-air.md). Tracks the source lacks are skipped. A
     * channel's own `audioTracks` replaces this list (`withChannelAudioTracks`).
     */
    audioTracks: AudioTrackListSchema.optional(),
    /**
     * Ad breaks also as the legacy `EXT-X-CUE-OUT:<seconds>` / `EXT-X-CUE-IN` before the segments where
     * a break starts and ends, for ad inserters that predate EXT-X-DATERANGE (which is always written).
     * Default false.
     */
    cueTags: z.boolean().default(false),
    /**
     * Carry the audio inside every video variant's fMP4 (one init segment with both tracks, each part
     * the video's frames followed by the audio of the same window) instead of as an EXT-X-MEDIA audio
     * group: a player loads one playlist and one chain of parts instead of two, half the requests
     * (docs/latency.md). The encodes do not change: the packager muxes the one audio rendition into
     * each video rendition. Needs at most one audio rendition (several languages are alternatives a
     * muxed variant cannot offer; such a ladder is refused). Default false.
     */
    muxAudio: z.boolean().default(false),
    /**
     * Hold a channel's first multivariant playlist until every rendition's newest part ends within
     * 2 × PART-TARGET of the wall clock (by its PDT), for at most 3 target durations after the first
     * segment: a run starts by working off what ingest buffered while ffmpeg started, and a player
     * that opens then positions itself PART-HOLD-BACK behind an edge that is itself behind real time,
     * and keeps that distance (default hls.js and Shaka never speed up). Costs up to that much
     * publish → playable time, once per channel (docs/latency.md). Default false.
     */
    startAtEdge: z.boolean().default(false),
  })
  .superRefine((ladder, ctx) => {
    if (ladder.part > ladder.segment) {
      ctx.addIssue({ code: 'custom', path: ['part'], message: `part duration ${ladder.part}s is above segment duration ${ladder.segment}s` });
    }
    const gopsPerSegment = ladder.segment / ladder.gop;
    if (Math.abs(gopsPerSegment - Math.round(gopsPerSegment)) > 1e-6 || Math.round(gopsPerSegment) < 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['segment'],
        message: `segment duration ${ladder.segment}s is not a multiple of the GOP (${ladder.gop}s): segments must start on keyframes`,
      });
    }
    if (ladder.encoder.kind !== 'x264' && ladder.tune !== undefined && ladder.tune !== 'zerolatency') {
      ctx.addIssue({
        code: 'custom',
        path: ['tune'],
        message: `tune "${ladder.tune}" is an x264 tune; with encoder ${ladder.encoder.kind} only "zerolatency" is allowed`,
      });
    }
    if (ladder.muxAudio && ladder.audio.length > 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['muxAudio'],
        message: `muxAudio carries one audio rendition inside the video; this ladder has ${ladder.audio.length} (use an audio group instead)`,
      });
    }
    const seen = new Map<string, number>();
    const all = [...ladder.video.map((r) => ['video', r.name] as const), ...ladder.audio.map((r) => ['audio', r.name] as const)];
    const counters = { video: 0, audio: 0 };
    for (const [kind, name] of all) {
      const index = counters[kind]++;
      if (seen.has(name)) {
        ctx.addIssue({ code: 'custom', path: [kind, index, 'name'], message: `duplicate rendition name "${name}"` });
      }
      seen.set(name, index);
    }
    ladder.video.forEach((r, index) => {
      const maxrate = r.maxrate ?? r.bitrate;
      if (maxrate < r.bitrate) {
        ctx.addIssue({ code: 'custom', path: ['video', index, 'maxrate'], message: `maxrate ${maxrate} is below bitrate ${r.bitrate}` });
      }
    });
  });

export type LadderInput = z.input<typeof LadderSchema>;
export type Ladder = z.output<typeof LadderSchema>;
export type VideoRendition = Ladder['video'][number];
export type AudioRendition = Ladder['audio'][number];
export type FrameRatePolicy = Ladder['frameRate'];
export type Encoder = Ladder['encoder'];
export type EncoderKind = Encoder['kind'];

/** Effective VBV settings of a rendition (defaults applied). */
export function vbvOf(r: VideoRendition): { maxrate: number; bufsize: number } {
  return { maxrate: r.maxrate ?? Math.round(r.bitrate * 1.1), bufsize: r.bufsize ?? Math.round(r.bitrate * 1.5) };
}
