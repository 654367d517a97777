import { describe, expect, it } from 'vitest';
import { parseLadder, resolveLadder } from '../../../src/ladder/ladder-loader.js';
import type { LadderInput } from '../../../src/ladder/ladder-schema.js';
import type { InputProbe } from '../../../src/transcode/input-probe.js';
import type { InputSpec } from '../../../src/transcode/input-spec.js';
import { compileLadder, levelIdc } from '../../../src/transcode/ladder-compiler.js';

/**
 * The exact ffmpeg arguments of each encoder (x264, NVENC, VAAPI, QSV) for the rendition shapes the
 * shipped ladders use. Hardware encoders are untested on real hardware: these tables are what the
 * compiler promises; test/integration/transcode/hardware-encoder-options.test.ts checks that this
 * ffmpeg build knows every option and filter they name.
 */

const probe1080: InputProbe = { width: 1920, height: 1080, frameRate: 30, videoCodec: 'h264', hasAudio: false, durationSec: 10 };
const file: InputSpec = { kind: 'url', url: '/media/in.mp4', realtime: true };

/** The default ladder's shape: 2 s GOP, source rate, 1080p high + 480p main, capped VBR. */
function defaultShape(encoder: LadderInput['encoder'], extra: Partial<LadderInput> = {}): LadderInput {
  return {
    gop: 2,
    segment: 2,
    part: 0.5,
    ...(encoder !== undefined ? { encoder } : {}),
    video: [
      { name: '1080p', width: 1920, height: 1080, bitrate: '5000k', maxrate: '5350k', bufsize: '7500k', profile: 'high' },
      { name: '480p', width: 854, height: 480, bitrate: '1400k', maxrate: '1500k', bufsize: '2100k', profile: 'main' },
    ],
    ...extra,
  };
}

/** The low-latency ladder's shape: 1 s GOP, ≤30 fps, zerolatency, levels pinned, baseline at the bottom. */
function lowLatencyShape(encoder: LadderInput['encoder']): LadderInput {
  return {
    gop: 1,
    segment: 1,
    part: 0.1,
    frameRate: { cap: 30 },
    tune: 'zerolatency',
    ...(encoder !== undefined ? { encoder } : {}),
    video: [
      { name: '720p', width: 1280, height: 720, bitrate: '2500k', maxrate: '2700k', bufsize: '2500k', profile: 'high', level: '3.1' },
      { name: '360p', width: 640, height: 360, bitrate: '700k', maxrate: '750k', bufsize: '700k', profile: 'baseline', level: '3.0' },
    ],
  };
}

function compile(input: LadderInput, probe: InputProbe = probe1080) {
  const ladder = parseLadder(input, 'test.yaml');
  return compileLadder(resolveLadder(ladder, probe), probe, file).args;
}

/** The encoder arguments of video output `i`: after its `-map [vi]`, up to the stream-disabling flags. */
function videoArgs(args: string[], i: number): string[] {
  const start = args.findIndex((a, k) => a === `[v${i}]` && args[k - 1] === '-map') + 1;
  const end = args.indexOf('-an', start);
  return args.slice(start, end);
}

/** The global options between `-stats_period 0.5` and the first input option. */
function deviceArgs(args: string[]): string[] {
  return args.slice(args.indexOf('-stats_period') + 2, args.indexOf('-re'));
}

function graph(args: string[]): string[] {
  return args[args.indexOf('-filter_complex') + 1]!.split(';');
}

describe('hardware encoders: argument tables', () => {
  it('x264 (the default, no encoder key): the common rate/GOP/B-frame options then -sc_threshold 0, software scaling, no device', () => {
    const args = compile(defaultShape(undefined));
    expect(deviceArgs(args)).toEqual([]);
    expect(graph(args)).toEqual([
      '[0:v:0]split=2[s0][s1]',
      '[s0]scale=1920:1080:flags=bicubic,setsar=1,format=yuv420p[v0]',
      '[s1]scale=854:480:flags=bicubic,setsar=1,format=yuv420p[v1]',
    ]);
    expect(videoArgs(args, 1)).toEqual([
      '-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'main',
      '-b:v', '1400k', '-maxrate', '1500k', '-bufsize', '2100k',
      '-g', '60', '-keyint_min', '60', '-bf', '0', '-sc_threshold', '0',
      '-force_key_frames', 'expr:gte(t,n_forced*2-0.0001)',
      '-x264-params', 'keyint=60:min-keyint=60:scenecut=0:open-gop=0',
    ]);
  });

  it('nvenc, default shape: CUDA device, one upload, scale_cuda per rendition, p4 hq capped VBR, forced IDR keyframes', () => {
    const args = compile(defaultShape({ kind: 'nvenc' }));
    expect(deviceArgs(args)).toEqual(['-init_hw_device', 'cuda=hw:0', '-filter_hw_device', 'hw']);
    expect(graph(args)).toEqual([
      '[0:v:0]format=nv12,hwupload,split=2[s0][s1]',
      '[s0]scale_cuda=w=1920:h=1080:interp_algo=bicubic:format=nv12,setsar=1[v0]',
      '[s1]scale_cuda=w=854:h=480:interp_algo=bicubic:format=nv12,setsar=1[v1]',
    ]);
    expect(videoArgs(args, 0)).toEqual([
      '-c:v', 'h264_nvenc', '-preset', 'p4', '-tune', 'hq', '-profile:v', 'high', '-rc', 'vbr',
      '-b:v', '5000k', '-maxrate', '5350k', '-bufsize', '7500k',
      '-g', '60', '-keyint_min', '60', '-bf', '0',
      '-rc-lookahead', '0', '-no-scenecut', '1', '-forced-idr', '1',
      '-force_key_frames', 'expr:gte(t,n_forced*2-0.0001)',
    ]);
  });

  it('nvenc, low-latency shape on GPU 1 with CBR: tune ll, zerolatency, no delay, maxrate = bitrate, level_idc, fps cap before upload', () => {
    const args = compile(lowLatencyShape({ kind: 'nvenc', gpu: 1, preset: 'p1', rateControl: 'cbr' }), { ...probe1080, frameRate: 60 });
    expect(deviceArgs(args)).toEqual(['-init_hw_device', 'cuda=hw:1', '-filter_hw_device', 'hw']);
    expect(graph(args)[0]).toBe('[0:v:0]fps=30,format=nv12,hwupload,split=2[s0][s1]');
    expect(videoArgs(args, 1)).toEqual([
      '-c:v', 'h264_nvenc', '-preset', 'p1', '-tune', 'll', '-zerolatency', '1', '-delay', '0',
      '-profile:v', 'baseline', '-level:v', '30', '-rc', 'cbr',
      '-b:v', '700k', '-maxrate', '700k', '-bufsize', '700k',
      '-g', '30', '-keyint_min', '30', '-bf', '0',
      '-rc-lookahead', '0', '-no-scenecut', '1', '-forced-idr', '1',
      '-force_key_frames', 'expr:gte(t,n_forced*1-0.0001)',
    ]);
  });

  it('vaapi, default shape: the render node as device, scale_vaapi, VBR, every I-frame an IDR', () => {
    const args = compile(defaultShape({ kind: 'vaapi' }));
    expect(deviceArgs(args)).toEqual(['-init_hw_device', 'vaapi=hw:/dev/dri/renderD128', '-filter_hw_device', 'hw']);
    expect(graph(args)).toEqual([
      '[0:v:0]format=nv12,hwupload,split=2[s0][s1]',
      '[s0]scale_vaapi=w=1920:h=1080:format=nv12,setsar=1[v0]',
      '[s1]scale_vaapi=w=854:h=480:format=nv12,setsar=1[v1]',
    ]);
    expect(videoArgs(args, 1)).toEqual([
      '-c:v', 'h264_vaapi', '-rc_mode', 'VBR', '-profile:v', 'main',
      '-b:v', '1400k', '-maxrate', '1500k', '-bufsize', '2100k',
      '-g', '60', '-keyint_min', '60', '-bf', '0', '-idr_interval', '0',
      '-force_key_frames', 'expr:gte(t,n_forced*2-0.0001)',
    ]);
  });

  it('vaapi, low-latency shape, low power, CBR: baseline becomes constrained_baseline (VAAPI has no plain baseline)', () => {
    const args = compile(lowLatencyShape({ kind: 'vaapi', device: '/dev/dri/renderD129', lowPower: true, rateControl: 'cbr' }));
    expect(deviceArgs(args)).toEqual(['-init_hw_device', 'vaapi=hw:/dev/dri/renderD129', '-filter_hw_device', 'hw']);
    expect(videoArgs(args, 1)).toEqual([
      '-c:v', 'h264_vaapi', '-rc_mode', 'CBR', '-low_power', '1', '-profile:v', 'constrained_baseline', '-level:v', '30',
      '-b:v', '700k', '-maxrate', '700k', '-bufsize', '700k',
      '-g', '30', '-keyint_min', '30', '-bf', '0', '-idr_interval', '0',
      '-force_key_frames', 'expr:gte(t,n_forced*1-0.0001)',
    ]);
  });

  it('qsv, default shape: the runtime picks the device, a 64-frame upload pool, scale_qsv, no adaptive I/B, no lookahead', () => {
    const args = compile(defaultShape({ kind: 'qsv' }));
    expect(deviceArgs(args)).toEqual(['-init_hw_device', 'qsv=hw', '-filter_hw_device', 'hw']);
    expect(graph(args)).toEqual([
      '[0:v:0]format=nv12,hwupload=extra_hw_frames=64,split=2[s0][s1]',
      '[s0]scale_qsv=w=1920:h=1080:format=nv12,setsar=1[v0]',
      '[s1]scale_qsv=w=854:h=480:format=nv12,setsar=1[v1]',
    ]);
    expect(videoArgs(args, 0)).toEqual([
      '-c:v', 'h264_qsv', '-preset', 'veryfast', '-profile:v', 'high',
      '-b:v', '5000k', '-maxrate', '5350k', '-bufsize', '7500k',
      '-g', '60', '-keyint_min', '60', '-bf', '0',
      '-idr_interval', '0', '-forced_idr', '1', '-adaptive_i', '0', '-adaptive_b', '0', '-look_ahead', '0',
      '-force_key_frames', 'expr:gte(t,n_forced*2-0.0001)',
    ]);
  });

  it('qsv, low-latency shape on a render node, CBR, low power: derived from a VAAPI device, one frame in flight', () => {
    const args = compile(lowLatencyShape({ kind: 'qsv', device: '/dev/dri/renderD128', preset: 'faster', lowPower: true, rateControl: 'cbr' }));
    expect(deviceArgs(args)).toEqual(['-init_hw_device', 'vaapi=va:/dev/dri/renderD128', '-init_hw_device', 'qsv=hw@va', '-filter_hw_device', 'hw']);
    expect(videoArgs(args, 0)).toEqual([
      '-c:v', 'h264_qsv', '-preset', 'faster', '-low_power', '1', '-async_depth', '1', '-low_delay_brc', '1',
      '-profile:v', 'high', '-level:v', '31',
      '-b:v', '2500k', '-maxrate', '2500k', '-bufsize', '2500k',
      '-g', '30', '-keyint_min', '30', '-bf', '0',
      '-idr_interval', '0', '-forced_idr', '1', '-adaptive_i', '0', '-adaptive_b', '0', '-look_ahead', '0',
      '-force_key_frames', 'expr:gte(t,n_forced*1-0.0001)',
    ]);
  });

  it.each(['nvenc', 'vaapi', 'qsv'] as const)('%s: B-frames follow the ladder (bFrames 2 → -bf 2), identical GOP in every rendition', (kind) => {
    const args = compile(defaultShape({ kind }, { bFrames: 2 }));
    for (const i of [0, 1]) {
      const v = videoArgs(args, i);
      expect(v[v.indexOf('-bf') + 1]).toBe('2');
      expect(v[v.indexOf('-g') + 1]).toBe('60');
      expect(v[v.indexOf('-keyint_min') + 1]).toBe('60');
    }
  });

  it.each(['nvenc', 'vaapi', 'qsv'] as const)('%s: outputs, pipes and fragmenting are the same as with x264', (kind) => {
    const strip = (args: string[]) => args.filter((_, i) => !['-c:v', '-filter_complex'].includes(args[i - 1] ?? ''));
    const hw = compile(defaultShape({ kind }));
    const sw = compile(defaultShape(undefined));
    const tail = (args: string[], i: number) => args.slice(args.indexOf('-an', args.indexOf(`[v${i}]`)), args.indexOf(`pipe:${3 + i}`) + 1);
    for (const i of [0, 1]) expect(tail(strip(hw), i)).toEqual(tail(strip(sw), i));
  });

  it.each([
    ['3.0', 30],
    ['3.1', 31],
    ['4.0', 40],
    ['4.2', 42],
    ['5.2', 52],
  ])('level %s → level_idc %d', (level, idc) => expect(levelIdc(level)).toBe(idc));
});
