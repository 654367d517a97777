import { describe, expect, it } from 'vitest';
import { loadLadder, parseLadder, resolveLadder } from '../../../src/ladder/ladder-loader.js';
import { ErrorCode, isLivepipeError } from '../../../src/core/errors.js';
import type { InputProbe } from '../../../src/transcode/input-probe.js';
import type { InputSpec } from '../../../src/transcode/input-spec.js';
import { compileLadder } from '../../../src/transcode/ladder-compiler.js';

const probe1080: InputProbe = { width: 1920, height: 1080, frameRate: 30, videoCodec: 'h264', hasAudio: true, audioCodec: 'aac', durationSec: 10 };
const file: InputSpec = { kind: 'url', url: '/media/in.mp4', realtime: true };

/** Values following each occurrence of `flag`. */
function valuesOf(args: string[], flag: string): string[] {
  return args.flatMap((a, i) => (a === flag ? [args[i + 1]!] : []));
}

async function compile(name: string, probe = probe1080, input: InputSpec = file) {
  const { ladder } = await loadLadder(name);
  const resolved = resolveLadder(ladder, probe);
  return { resolved, compiled: compileLadder(resolved, probe, input) };
}

describe('compileLadder', () => {
  it('default ladder: one decode, one split into 4 scales, 4 x264 + 1 aac encode, each on its own pipe', async () => {
    const { compiled } = await compile('default');
    const { args, outputs } = compiled;
    expect(valuesOf(args, '-i')).toEqual(['/media/in.mp4']);
    expect(valuesOf(args, '-filter_complex')).toHaveLength(1);
    const graph = valuesOf(args, '-filter_complex')[0]!;
    expect(graph.match(/split=(\d+)/)?.[1]).toBe('4');
    expect(graph.match(/scale=/g)).toHaveLength(4);
    expect(graph).not.toMatch(/fps=/);
    expect(valuesOf(args, '-c:v')).toEqual(['libx264', 'libx264', 'libx264', 'libx264']);
    expect(valuesOf(args, '-c:a')).toEqual(['aac']);
    expect(valuesOf(args, '-map')).toEqual(['[v0]', '[v1]', '[v2]', '[v3]', '0:a:0']);
    expect(outputs.map((o) => `${o.name}@${o.fd}`)).toEqual(['1080p@3', '720p@4', '480p@5', '360p@6', 'audio@7']);
    expect(args.filter((a) => /^pipe:\d+$/.test(a))).toEqual(['pipe:1', 'pipe:3', 'pipe:4', 'pipe:5', 'pipe:6', 'pipe:7']);
    expect(args).toContain('-re');
    expect(args).toContain('-nostdin');
    expect(args).not.toContain('-analyzeduration');
  });

  it('loudness: an audio rendition with EBU R128 targets gets a single-pass loudnorm before its AAC encode; others none', async () => {
    const { ladder } = await loadLadder('default');
    const withLoudness = parseLadder({ ...ladder, audio: [{ name: 'audio', loudness: { integrated: -24 } }, { name: 'plain' }] }, 'loudness.yaml');
    expect(withLoudness.audio[0]!.loudness).toEqual({ integrated: -24, truePeak: -1, range: 7 });
    const { args } = compileLadder(resolveLadder(withLoudness, probe1080), probe1080, file);
    expect(valuesOf(args, '-af')).toEqual(['loudnorm=I=-24:TP=-1:LRA=7']);
    expect(args.indexOf('-af')).toBeLessThan(args.indexOf('-c:a'));
    expect(() => parseLadder({ ...ladder, audio: [{ name: 'audio', loudness: { integrated: 3 } }] }, 'bad.yaml')).toThrow(/loudness/);
  });

  it('two source audio languages: one AAC encode per language (0:a:0, 0:a:1) in the same run, one decode of each, on their own pipes', async () => {
    const probe: InputProbe = { ...probe1080, audioTracks: [{ index: 0, language: 'eng', default: false }, { index: 1, language: 'spa', default: false }] };
    const { compiled } = await compile('default', probe);
    const { args, outputs } = compiled;
    expect(valuesOf(args, '-i')).toEqual(['/media/in.mp4']);
    expect(valuesOf(args, '-map')).toEqual(['[v0]', '[v1]', '[v2]', '[v3]', '0:a:0', '0:a:1']);
    expect(valuesOf(args, '-c:a')).toEqual(['aac', 'aac']);
    expect(valuesOf(args, '-b:a')).toEqual(['128k', '128k']);
    expect(outputs.map((o) => `${o.name}@${o.fd}`)).toEqual(['1080p@3', '720p@4', '480p@5', '360p@6', 'audio-en@7', 'audio-es@8']);
    // Each audio output carries its own fragmenting (every output is cut the same way as with one language).
    expect(valuesOf(args, '-movflags')).toHaveLength(6);
    // A one-track probe compiles to exactly what it did before issue 17.
    const one = await compile('default', { ...probe1080, audioTracks: [{ index: 0, language: 'eng', default: true }] });
    expect(one.compiled.args).toEqual((await compile('default')).compiled.args);
  });

  it('two source audio languages on a muxAudio ladder: only the default track is encoded (it is muxed into every variant), the other is named as left out', async () => {
    const probe: InputProbe = { ...probe1080, audioTracks: [{ index: 0, language: 'eng', default: false }, { index: 1, language: 'spa', default: true }] };
    const { ladder } = await loadLadder('low-latency-muxed');
    const resolved = resolveLadder(ladder, probe);
    expect(resolved.audio.map((a) => ({ name: a.name, track: a.track, language: a.language }))).toEqual([{ name: 'audio', track: 1, language: 'es' }]);
    expect(resolved.decisions.find((d) => d.kind === 'audio' && !d.kept)?.reason).toMatch(/track 0 \(en\) left out: muxAudio/);
    const { args } = compileLadder(resolved, probe, file);
    expect(valuesOf(args, '-map').filter((m) => m.startsWith('0:a'))).toEqual(['0:a:1']);
  });

  it('identical closed GOPs in every rendition: keyint = GOP × fps, no scenecut, no open GOP', async () => {
    const { compiled } = await compile('default');
    const { args } = compiled;
    expect(new Set(valuesOf(args, '-g'))).toEqual(new Set(['60']));
    expect(new Set(valuesOf(args, '-keyint_min'))).toEqual(new Set(['60']));
    expect(valuesOf(args, '-sc_threshold')).toEqual(['0', '0', '0', '0']);
    expect(new Set(valuesOf(args, '-x264-params'))).toEqual(new Set(['keyint=60:min-keyint=60:scenecut=0:open-gop=0']));
    expect(new Set(valuesOf(args, '-force_key_frames'))).toEqual(new Set(['expr:gte(t,n_forced*2-0.0001)']));
    expect(valuesOf(args, '-bf')).toEqual(['0', '0', '0', '0']);
  });

  it.each([
    ['default', {}, 'expr:gte(t,n_forced*2-0.0001)'],
    ['grid, said so', { keyframes: 'grid' }, 'expr:gte(t,n_forced*2-0.0001)'],
    ['marked', { keyframes: 'marked' }, 'source'],
    ['marked, nvenc', { keyframes: 'marked', encoder: { kind: 'nvenc' } }, 'source'],
  ])('keyframes %s: -force_key_frames %s in every rendition, the GOP unchanged', async (_name, extra, expected) => {
    const { ladder } = await loadLadder('default');
    const resolved = resolveLadder(parseLadder({ ...ladder, ...extra }, 'test'), probe1080);
    const { args } = compileLadder(resolved, probe1080, file);
    expect(valuesOf(args, '-force_key_frames')).toEqual(['1080p', '720p', '480p', '360p'].map(() => expected));
    expect(new Set(valuesOf(args, '-g'))).toEqual(new Set(['60']));
    // Marked keyframes fall off the part grid: video fragments per frame (no part cut short at a keyframe), audio as before.
    expect(valuesOf(args, '-frag_duration')).toEqual(expected === 'source' ? ['53333'] : ['483333', '483333', '483333', '483333', '53333']);
  });

  it('keyframes marked on an HEVC input: keyed on the GOP grid (its decoder flags IRAP pictures only, no marks), per-frame fragments kept', async () => {
    const { ladder } = await loadLadder('default');
    const hevc = { ...probe1080, videoCodec: 'hevc' };
    const resolved = resolveLadder(parseLadder({ ...ladder, keyframes: 'marked' }, 'test'), hevc);
    const { args } = compileLadder(resolved, hevc, file);
    expect(valuesOf(args, '-force_key_frames')).toEqual(['1080p', '720p', '480p', '360p'].map(() => 'expr:gte(t,n_forced*2-0.0001)'));
    expect(valuesOf(args, '-frag_duration')).toEqual(['53333']);
  });

  it('rejects an unknown keyframes mode with path and reason', async () => {
    const { ladder } = await loadLadder('default');
    expect(() => parseLadder({ ...ladder, keyframes: 'scene' }, 'test')).toThrow(/keyframes/);
  });

  it('default ladder: fragmented MP4 per part for video and per 3 AAC frames for audio, flushed at once, 90 kHz video timescale, progress on pipe:1', async () => {
    const { args } = (await compile('default')).compiled;
    expect(valuesOf(args, '-f').filter((f) => f === 'mp4')).toHaveLength(5);
    expect(new Set(valuesOf(args, '-movflags'))).toEqual(new Set(['+empty_moov+default_base_moof+frag_keyframe+skip_trailer']));
    // 0.5 s parts at 30 fps: 15 frames, cut at 14.5 frame durations; audio: 3 × 1024 samples at 48 kHz, cut at 2.5
    expect(valuesOf(args, '-frag_duration')).toEqual(['483333', '483333', '483333', '483333', '53333']);
    expect(valuesOf(args, '-flush_packets')).toHaveLength(5);
    expect(new Set(valuesOf(args, '-video_track_timescale'))).toEqual(new Set(['90000']));
    expect(valuesOf(args, '-progress')).toEqual(['pipe:1']);
    expect(args).toContain('-nostats');
  });

  it('low-latency ladder (3-frame parts): video fragmented per part, audio per AAC frame', async () => {
    const { args } = (await compile('low-latency', { ...probe1080, frameRate: 30 })).compiled;
    expect(valuesOf(args, '-movflags')).toEqual([
      '+empty_moov+default_base_moof+frag_keyframe+skip_trailer',
      '+empty_moov+default_base_moof+frag_keyframe+skip_trailer',
      '+empty_moov+default_base_moof+frag_keyframe+skip_trailer',
      '+empty_moov+default_base_moof+frag_every_frame+skip_trailer',
    ]);
    expect(valuesOf(args, '-frag_duration')).toEqual(['83333', '83333', '83333']);
  });

  it('decodes paced sources up to 1080p60 with slice threads (no frames held back), larger or unpaced ones with frame threads', async () => {
    const decoderThreads = (args: string[]) => {
      const input = args.indexOf('-i');
      return args.slice(0, input).includes('-thread_type') ? args[args.indexOf('-thread_type') + 1] : 'ffmpeg default';
    };
    expect(decoderThreads((await compile('default')).compiled.args)).toBe('slice');
    expect(decoderThreads((await compile('default', probe1080, { kind: 'stdin', format: 'flv' })).compiled.args)).toBe('slice');
    expect(decoderThreads((await compile('default', { ...probe1080, frameRate: 60 })).compiled.args)).toBe('slice');
    expect(decoderThreads((await compile('default', { ...probe1080, width: 3840, height: 2160 })).compiled.args)).toBe('ffmpeg default');
    expect(decoderThreads((await compile('default', probe1080, { kind: 'url', url: '/media/in.mp4', realtime: false })).compiled.args)).toBe('ffmpeg default');
  });

  it('keeps every video output at a constant frame rate (part-sized fragments rely on it)', async () => {
    for (const ladder of ['default', 'low-latency', 'constrained']) {
      const { args, outputs } = (await compile(ladder)).compiled;
      expect(valuesOf(args, '-fps_mode')).toEqual(outputs.filter((o) => o.kind === 'video').map(() => 'cfr'));
    }
  });

  it('caps the frame rate with fps before split, keyint follows the cap (low-latency, 60 fps source)', async () => {
    const { compiled, resolved } = await compile('low-latency', { ...probe1080, frameRate: 60 });
    const graph = valuesOf(compiled.args, '-filter_complex')[0]!;
    expect(graph.startsWith('[0:v:0]fps=30,split=3')).toBe(true);
    // 0.5 s GOPs at the 30 fps cap.
    expect(resolved.keyint).toBe(15);
    expect(new Set(valuesOf(compiled.args, '-g'))).toEqual(new Set(['15']));
    expect(new Set(valuesOf(compiled.args, '-tune'))).toEqual(new Set(['zerolatency']));
  });

  it('does not add fps when the source is already under the cap', async () => {
    const { compiled } = await compile('low-latency', { ...probe1080, frameRate: 25 });
    expect(valuesOf(compiled.args, '-filter_complex')[0]).not.toMatch(/fps=/);
    // 0.5 s at 25 fps is 12.5 frames: a mid-segment keyframe would fall inside a 3-frame part, so the
    // run is keyed at segment starts only (`keyframeGop`): 25 frames, on a 1 s grid.
    expect(new Set(valuesOf(compiled.args, '-g'))).toEqual(new Set(['25']));
    expect(new Set(valuesOf(compiled.args, '-force_key_frames'))).toEqual(new Set(['expr:gte(t,n_forced*1-0.0001)']));
  });

  it('raises a source slower than one frame per part with fps before split (low-latency, 0.5 fps source)', async () => {
    const { compiled, resolved } = await compile('low-latency', { ...probe1080, frameRate: 0.5 });
    expect(valuesOf(compiled.args, '-filter_complex')[0]!.startsWith('[0:v:0]fps=10,split=3')).toBe(true);
    expect(resolved.keyint).toBe(5);
    const defaultLadder = await compile('default', { ...probe1080, frameRate: 0.5 });
    expect(valuesOf(defaultLadder.compiled.args, '-filter_complex')[0]!.startsWith('[0:v:0]fps=2,split=4')).toBe(true);
  });

  it('drops renditions above a 720p source', async () => {
    const { compiled } = await compile('default', { ...probe1080, width: 1280, height: 720 });
    expect(compiled.outputs.map((o) => o.name)).toEqual(['720p', '480p', '360p', 'audio']);
    expect(valuesOf(compiled.args, '-filter_complex')[0]).toMatch(/split=3/);
  });

  it('audio-less input: no audio output', async () => {
    const { compiled } = await compile('default', { ...probe1080, hasAudio: false });
    expect(valuesOf(compiled.args, '-c:a')).toEqual([]);
    expect(compiled.outputs.every((o) => o.kind === 'video')).toBe(true);
  });

  it('audio-less input with silenceIfMissing: one anullsrc input, bounded by the file duration', () => {
    const ladder = parseLadder(
      { gop: 2, segment: 2, part: 0.5, video: [{ name: 'v', width: 640, height: 360, bitrate: '800k' }], audio: [{ name: 'audio', silenceIfMissing: true }] },
      't.yaml',
    );
    const probe = { ...probe1080, hasAudio: false };
    const { args, outputs } = compileLadder(resolveLadder(ladder, probe), probe, file);
    expect(valuesOf(args, '-i')).toEqual(['/media/in.mp4', 'anullsrc=channel_layout=stereo:sample_rate=48000']);
    expect(valuesOf(args, '-map')).toEqual(['[v0]', '1:a:0']);
    expect(valuesOf(args, '-c:a')).toEqual(['aac']);
    expect(valuesOf(args, '-t')).toEqual(['10']);
    expect(outputs.map((o) => o.kind)).toEqual(['video', 'audio']);
  });

  it('stdin input: reads pipe:0 with the demuxer and a short analysis, stdin not disabled', async () => {
    const { compiled } = await compile('default', probe1080, { kind: 'stdin', format: 'flv' });
    const { args } = compiled;
    expect(valuesOf(args, '-i')).toEqual(['pipe:0']);
    const inputArgs = args.slice(0, args.indexOf('-i'));
    expect(inputArgs).toEqual(expect.arrayContaining(['-f', 'flv', '-analyzeduration', '1000000', '-probesize', '2000000']));
    // nobuffer would drop the probed first GOP (see the compiler); low_delay breaks B-frame streams.
    expect(inputArgs).not.toContain('-fflags');
    expect(inputArgs).not.toContain('-flags');
    expect(args).not.toContain('-nostdin');
    expect(args).not.toContain('-re');
    expect(compiled.stdinMedia).toBe(true);
  });

  it('keeps the x264 video filter graph across a size change of the input (-reinit_filter:v 0), not a hardware one', async () => {
    const inputArgs = (args: string[]) => args.slice(0, args.indexOf('-i'));
    const x264 = (await compile('default', probe1080, { kind: 'stdin', format: 'flv' })).compiled.args;
    expect(inputArgs(x264).join(' ')).toContain('-reinit_filter:v 0');
    const { ladder } = await loadLadder('default');
    const nvenc = { ...ladder, encoder: { kind: 'nvenc' as const, gpu: 0, preset: 'p4' as const, rateControl: 'vbr' as const } };
    const hw = compileLadder(resolveLadder(nvenc, probe1080), probe1080, { kind: 'stdin', format: 'flv' }).args;
    expect(hw.join(' ')).not.toContain('-reinit_filter');
  });

  it('refuses an input without video', async () => {
    const { ladder } = await loadLadder('default');
    const probe = { ...probe1080, width: 0, height: 0 };
    let caught: unknown;
    try {
      compileLadder(resolveLadder(ladder, probe1080), probe, file);
    } catch (err) {
      caught = err;
    }
    expect(isLivepipeError(caught, ErrorCode.InputUnusable)).toBe(true);
  });
});

describe('compileLadder invariants (property)', () => {
  it('for any source: never upscales, even sizes, one split branch per x264 encode, one keyint, consecutive pipes', async () => {
    const fc = (await import('fast-check')).default;
    const ladders = await Promise.all(['default', 'low-latency', 'constrained'].map(async (n) => (await loadLadder(n)).ladder));
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 16, max: 4096 }),
        fc.integer({ min: 16, max: 2160 }),
        fc.constantFrom(0, 0.5, 2, 15, 24, 25, 30000 / 1001, 30, 50, 60000 / 1001, 60, 120),
        fc.boolean(),
        (which, width, height, frameRate, hasAudio) => {
          const probe: InputProbe = { width, height, frameRate, videoCodec: 'h264', hasAudio };
          const resolved = resolveLadder(ladders[which]!, probe);
          const { args, outputs } = compileLadder(resolved, probe, file);
          expect(resolved.video.length).toBeGreaterThan(0);
          for (const v of resolved.video) {
            expect(v.outputWidth % 2).toBe(0);
            expect(v.outputHeight % 2).toBe(0);
            expect(v.outputWidth).toBeLessThanOrEqual(width);
            expect(v.outputHeight).toBeLessThanOrEqual(height);
          }
          const graph = valuesOf(args, '-filter_complex')[0]!;
          expect(Number(graph.match(/split=(\d+)/)?.[1])).toBe(valuesOf(args, '-c:v').length);
          expect(new Set(valuesOf(args, '-g')).size).toBe(1);
          expect(valuesOf(args, '-c:a')).toHaveLength(hasAudio ? 1 : 0);
          expect(outputs.map((o) => o.fd)).toEqual(outputs.map((_, i) => 3 + i));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('compileLadder: scaling: cascade', () => {
  const cascade = (video: Array<{ name: string; width: number; height: number }>, extra: Record<string, unknown> = {}) =>
    parseLadder({ gop: 2, segment: 2, part: 0.5, scaling: 'cascade', video: video.map((v) => ({ ...v, bitrate: '1M' })), ...extra }, 't.yaml');
  const graphOf = (ladder: ReturnType<typeof parseLadder>, probe: InputProbe = probe1080) =>
    valuesOf(compileLadder(resolveLadder(ladder, probe), probe, file).args, '-filter_complex')[0]!.split(';');

  it('is off by default: every rendition scaled from the split source', async () => {
    const { resolved } = await compile('default');
    expect(resolved.ladder.scaling).toBe('source');
  });

  it('scales each rendition from the next larger one, largest first, each split to its encoder and the next scaler', () => {
    const ladder = cascade([
      { name: '1080p', width: 1920, height: 1080 },
      { name: '720p', width: 1280, height: 720 },
      { name: '480p', width: 854, height: 480 },
      { name: '360p', width: 640, height: 360 },
    ]);
    expect(graphOf(ladder)).toEqual([
      '[0:v:0]scale=1920:1080:flags=bicubic,setsar=1,format=yuv420p,split=2[v0][c0]',
      '[c0]scale=1280:720:flags=bicubic,setsar=1,format=yuv420p,split=2[v1][c1]',
      '[c1]scale=854:480:flags=bicubic,setsar=1,format=yuv420p,split=2[v2][c2]',
      '[c2]scale=640:360:flags=bicubic,setsar=1,format=yuv420p[v3]',
    ]);
  });

  it('follows size, not ladder order; fps comes first; outputs keep ladder order', () => {
    const ladder = cascade([
      { name: '360p', width: 640, height: 360 },
      { name: '720p', width: 1280, height: 720 },
    ], { frameRate: { cap: 30 } });
    const probe = { ...probe1080, frameRate: 60 };
    expect(graphOf(ladder, probe)).toEqual([
      '[0:v:0]fps=30,scale=1280:720:flags=bicubic,setsar=1,format=yuv420p,split=2[v1][c1]',
      '[c1]scale=640:360:flags=bicubic,setsar=1,format=yuv420p[v0]',
    ]);
    const { args } = compileLadder(resolveLadder(ladder, probe), probe, file);
    expect(valuesOf(args, '-map')).toEqual(['[v0]', '[v1]']);
  });

  it('one rendition: the plain graph (nothing to cascade)', () => {
    expect(graphOf(cascade([{ name: '720p', width: 1280, height: 720 }]))).toEqual([
      '[0:v:0]split=1[s0]',
      '[s0]scale=1280:720:flags=bicubic,setsar=1,format=yuv420p[v0]',
    ]);
  });

  it('with a hardware encoder: upload first, then the GPU scaler cascades', () => {
    const ladder = cascade([
      { name: '720p', width: 1280, height: 720 },
      { name: '360p', width: 640, height: 360 },
    ], { encoder: { kind: 'nvenc' } });
    expect(graphOf(ladder)).toEqual([
      '[0:v:0]format=nv12,hwupload,scale_cuda=w=1280:h=720:interp_algo=bicubic:format=nv12,setsar=1,split=2[v0][c0]',
      '[c0]scale_cuda=w=640:h=360:interp_algo=bicubic:format=nv12,setsar=1[v1]',
    ]);
  });

  it('rejects an unknown scaling mode with path and reason', () => {
    expect(() => parseLadder({ gop: 2, segment: 2, part: 0.5, scaling: 'tree', video: [{ name: 'v', width: 640, height: 360, bitrate: '1M' }] }, 't.yaml')).toThrow(
      /t\.yaml: scaling: /,
    );
  });
});
