import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseLadder, resolveLadder } from '../../../src/ladder/ladder-loader.js';
import type { LadderInput } from '../../../src/ladder/ladder-schema.js';
import type { InputProbe } from '../../../src/transcode/input-probe.js';
import { compileLadder } from '../../../src/transcode/ladder-compiler.js';

/**
 * What can be proved about the hardware encoders without the hardware (livepipe's machines have no
 * GPU): every option, option value, filter, filter option and device type the compiler emits is one
 * this ffmpeg build documents (`ffmpeg -h encoder=…`, `-h filter=…`, `-h full`, `-init_hw_device
 * list`). It does not prove that a GPU accepts them, nor the quality or speed of the encodes. An
 * encoder this build lacks is skipped (Debian 12's ffmpeg 5.1 has all three).
 */

const exec = promisify(execFile);

async function help(...args: string[]): Promise<string> {
  const { stdout, stderr } = await exec('ffmpeg', ['-hide_banner', ...args], { maxBuffer: 64 * 2 ** 20 }).catch(
    (err: { stdout?: string; stderr?: string }) => ({ stdout: err.stdout ?? '', stderr: err.stderr ?? '' }),
  );
  return stdout + stderr;
}

/** Option name → its named constants, from an AVOptions listing (`-name <type> …` then constant lines). */
function parseOptions(text: string): Map<string, Set<string>> {
  const options = new Map<string, Set<string>>();
  let current: Set<string> | undefined;
  for (const line of text.split('\n')) {
    const option = /^\s{1,3}-?([\w-]+)\s+<[\w ]+>/.exec(line) ?? /^-([\w-]+)\s/.exec(line);
    if (option) {
      current = options.get(option[1]!) ?? new Set();
      options.set(option[1]!, current);
      continue;
    }
    const constant = /^\s{4,}(\S+)\s+(?:\S+\s+)?[A-Z.]{11}(?:\s|$)/.exec(line);
    if (constant && current) current.add(constant[1]!);
    else if (!/^\s/.test(line)) current = undefined;
  }
  return options;
}

const probe: InputProbe = { width: 1920, height: 1080, frameRate: 60, videoCodec: 'h264', hasAudio: false, durationSec: 10 };

function shapes(encoder: LadderInput['encoder']): LadderInput[] {
  const video = [
    { name: '720p', width: 1280, height: 720, bitrate: '2500k', profile: 'high' as const, level: '3.1' },
    { name: '360p', width: 640, height: 360, bitrate: '700k', profile: 'baseline' as const, level: '3.0' },
  ];
  return [
    { gop: 2, segment: 2, part: 0.5, encoder, video },
    { gop: 1, segment: 1, part: 0.1, frameRate: { cap: 30 }, tune: 'zerolatency', bFrames: 2, encoder, video },
  ];
}

const ENCODERS: Array<[string, LadderInput['encoder'][]]> = [
  ['h264_nvenc', [{ kind: 'nvenc' }, { kind: 'nvenc', gpu: 1, preset: 'p7', rateControl: 'cbr' }]],
  ['h264_vaapi', [{ kind: 'vaapi' }, { kind: 'vaapi', lowPower: true, rateControl: 'cbr' }]],
  ['h264_qsv', [{ kind: 'qsv' }, { kind: 'qsv', device: '/dev/dri/renderD128', lowPower: true, preset: 'veryslow', rateControl: 'cbr' }]],
];

describe('hardware encoder options exist in this ffmpeg build', () => {
  it.each(ENCODERS)('%s: every emitted option, value, filter and device type is documented', async (codec, encoders) => {
    const encoderHelp = await help('-h', `encoder=${codec}`);
    if (/not recognized|Unknown encoder/.test(encoderHelp)) return; // this build lacks the encoder
    const full = await help('-h', 'full');
    // Generic options: the ffmpeg CLI's own (before the first AVOptions block) and AVCodecContext's.
    const cli = parseOptions(full.slice(0, full.indexOf('AVCodecContext AVOptions:')));
    const codecContext = parseOptions(full.slice(full.indexOf('AVCodecContext AVOptions:'), full.indexOf('\n\n', full.indexOf('AVCodecContext AVOptions:'))));
    const filterGeneric = parseOptions(full.slice(full.indexOf('AVFilter AVOptions:'), full.indexOf('\n\n', full.indexOf('AVFilter AVOptions:'))));
    const priv = parseOptions(encoderHelp.slice(encoderHelp.indexOf('AVOptions:')));
    const deviceTypes = (await help('-init_hw_device', 'list')).split('\n').map((l) => l.trim());
    const filterHelp = new Map<string, Map<string, Set<string>>>();

    let checked = 0;
    for (const encoder of encoders) {
      for (const shape of shapes(encoder)) {
        const args = compileLadder(resolveLadder(parseLadder(shape, 't.yaml'), probe), probe, { kind: 'url', url: 'in.mp4', realtime: true }).args;

        // Global: the device options and their types.
        for (let i = 0; i < args.length; i++) {
          if (args[i] === '-init_hw_device') {
            expect(cli.has('init_hw_device')).toBe(true);
            expect(deviceTypes, args[i + 1]).toContain(args[i + 1]!.split('=')[0]);
          }
          if (args[i] === '-filter_hw_device') expect(cli.has('filter_hw_device')).toBe(true);
        }

        // Encoder options: each video output's `-name value` pairs from -c:v to the stream-disabling flags.
        for (let start = args.indexOf('-c:v'); start >= 0; start = args.indexOf('-c:v', start + 1)) {
          expect(args[start + 1]).toBe(codec);
          const end = args.indexOf('-an', start);
          for (let i = start; i < end; i += 2) {
            const name = args[i]!.replace(/^-/, '').replace(/:v$/, '');
            const value = args[i + 1]!;
            const known = priv.get(name) ?? codecContext.get(name) ?? cli.get(name);
            expect(known, `${codec}: -${name} is not an option of this ffmpeg`).toBeDefined();
            if (known!.size > 0 && !/^-?\d+$/.test(value)) expect([...known!], `${codec}: -${name} ${value}`).toContain(value);
            checked++;
          }
        }

        // Filters: each filter of the graph exists; each key=value option is one of its own or a generic filter option.
        const graph = args[args.indexOf('-filter_complex') + 1]!;
        for (const chain of graph.split(';')) {
          for (const filter of chain.replace(/\[[^\]]*\]/g, '').split(',')) {
            const [name, params] = filter.split(/=(.*)/s) as [string, string | undefined];
            if (!filterHelp.has(name)) {
              const text = await help('-h', `filter=${name}`);
              expect(text, `filter ${name}`).not.toMatch(/Unknown filter/);
              filterHelp.set(name, parseOptions(text));
            }
            for (const param of (params ?? '').split(':').filter((p) => p.includes('='))) {
              const [key, value] = param.split('=') as [string, string];
              const known = filterHelp.get(name)!.get(key) ?? filterGeneric.get(key);
              expect(known, `${name}: ${key} is not an option of this ffmpeg`).toBeDefined();
              if (known!.size > 0 && !/^-?\d+$/.test(value)) expect([...known!], `${name}: ${key}=${value}`).toContain(value);
              checked++;
            }
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(40);
  });
});
