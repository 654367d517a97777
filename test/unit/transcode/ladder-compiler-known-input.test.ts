import { describe, expect, it } from 'vitest';
import { loadLadder, resolveLadder } from '../../../src/ladder/ladder-loader.js';
import type { InputProbe } from '../../../src/transcode/input-probe.js';
import type { InputSpec } from '../../../src/transcode/input-spec.js';
import { compileLadder } from '../../../src/transcode/ladder-compiler.js';

const probe: InputProbe = { width: 640, height: 360, frameRate: 30, videoCodec: 'h264', hasAudio: true, audioCodec: 'aac' };
const stdin: InputSpec = { kind: 'stdin', format: 'flv' };
const file: InputSpec = { kind: 'url', url: '/media/in.mp4', realtime: true };

async function args(input: InputSpec, p: InputProbe, inputKnown?: boolean): Promise<string[]> {
  const { ladder } = await loadLadder('low-latency');
  const resolved = resolveLadder(ladder, p);
  return compileLadder(resolved, p, input, inputKnown === undefined ? {} : { inputKnown }).args;
}

/** The arguments before `-i`: the input options. */
function inputOptions(all: string[]): string[] {
  return all.slice(0, all.indexOf('-i'));
}

describe('compileLadder with an input probed by an earlier run', () => {
  it.each([
    ['live stdin, probe known', stdin, probe, true, true],
    ['live stdin, first run (not known)', stdin, probe, false, false],
    ['live stdin, option omitted', stdin, probe, undefined, false],
    ['live stdin, known but no frame rate in the probe', stdin, { ...probe, frameRate: 0 }, true, false],
    ['file input (not live), known', file, probe, true, false],
  ] as const)('%s → -fpsprobesize 0: %s', async (_name, input, p, known, expected) => {
    const options = inputOptions(await args(input, p, known));
    expect(options.includes('-fpsprobesize'), options.join(' ')).toBe(expected);
    if (expected) expect(options[options.indexOf('-fpsprobesize') + 1]).toBe('0');
  });

  it('changes nothing else: the same outputs, the same analysis limits', async () => {
    const first = await args(stdin, probe, false);
    const known = await args(stdin, probe, true);
    expect(known.filter((a, i) => !(a === '-fpsprobesize' || known[i - 1] === '-fpsprobesize'))).toEqual(first);
  });
});
