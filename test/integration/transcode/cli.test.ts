import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { DEFAULT_LADDERS_DIR } from '../../../src/ladder/ladder-loader.js';
import { lavfiSource, probeFile } from '../../helpers/transcode/media.js';

/** Runs the CLI in-process, capturing stdout and stderr. */
async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  try {
    const code = await main(['node', 'livepipe', ...args]);
    return { code: code ?? 0, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

describe('livepipe ladders / transcode', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'livepipe-cli-'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('ladders list shows the shipped ladders', async () => {
    const { code, stdout } = await cli('ladders', 'list');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^default {2}gop 2s, segment 2s, part 0.5s/m);
    expect(stdout).toMatch(/^low-latency {2}gop 0.5s, segment 1s, part 0.1s, ≤30 fps, tune zerolatency/m);
    expect(stdout).toMatch(/^constrained /m);
  });

  it('ladders validate: 0 for valid files, 1 with file, field and reason otherwise', async () => {
    const ok = await cli('ladders', 'validate', join(DEFAULT_LADDERS_DIR, 'default.yaml'), join(DEFAULT_LADDERS_DIR, 'low-latency.yaml'));
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/default\.yaml: ok \(4 video, 1 audio\)/);

    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'gop: 2\nsegment: 3\npart: 0.5\nvideo:\n  - { name: v, width: 641, height: 360, bitrate: 1M }\n');
    const res = await cli('ladders', 'validate', join(DEFAULT_LADDERS_DIR, 'default.yaml'), bad);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`${bad}: video.0.width: must be even`);
    expect(res.stderr).toContain(`${bad}: segment: segment duration 3s is not a multiple of the GOP (2s)`);
  });

  it('ladders validate: the hardware encoder examples pass, bad encoder fields fail with path and reason', async () => {
    const hw = join(DEFAULT_LADDERS_DIR, 'hardware');
    const ok = await cli('ladders', 'validate', join(hw, 'nvenc.yaml'), join(hw, 'vaapi.yaml'), join(hw, 'qsv.yaml'));
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/nvenc\.yaml: ok \(4 video, 1 audio\)/);

    const bad = join(dir, 'bad-encoder.yaml');
    await writeFile(bad, 'gop: 2\nsegment: 2\npart: 0.5\nencoder: { kind: nvenc, preset: veryfast, device: /dev/dri/renderD128 }\nvideo:\n  - { name: v, width: 640, height: 360, bitrate: 1M }\n');
    const tune = join(dir, 'bad-tune.yaml');
    await writeFile(tune, 'gop: 2\nsegment: 2\npart: 0.5\ntune: film\nencoder: { kind: qsv }\nvideo:\n  - { name: v, width: 640, height: 360, bitrate: 1M }\n');
    const res = await cli('ladders', 'validate', bad, tune);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`${bad}: encoder.preset: `);
    expect(res.stderr).toContain(`${bad}: encoder: Unrecognized key: "device"`);
    expect(res.stderr).toContain(`${tune}: tune: tune "film" is an x264 tune; with encoder qsv only "zerolatency" is allowed`);
  });

  it('--help works on every command', async () => {
    for (const args of [['ladders', '--help'], ['ladders', 'list', '--help'], ['ladders', 'validate', '--help'], ['transcode', '--help']]) {
      const res = await cli(...args);
      expect(res.code, args.join(' ')).toBe(0);
      expect(res.stdout).toMatch(/Usage: livepipe/);
    }
  });

  it('transcode writes <out>/<rendition>.mp4 and stops at --duration', async () => {
    const out = join(dir, 'out');
    const res = await cli(
      'transcode',
      '--input', lavfiSource(640, 360, 30),
      '--input-format', 'lavfi',
      '--ladder', 'constrained',
      '--out', out,
      '--duration', '2',
      '--no-realtime',
    );
    expect(res.code).toBe(0);
    const summary = JSON.parse(res.stdout) as { state: string; decisions: Array<{ name: string; kept: boolean }> };
    expect(summary.state).toBe('stopped');
    expect(summary.decisions.find((d) => d.name === '540p')?.kept).toBe(false);
    expect((await readdir(out)).sort()).toEqual(['360p.mp4', 'audio.mp4']);
    const video = await probeFile(join(out, '360p.mp4'));
    expect(video).toMatchObject({ codec: 'h264', width: 640, height: 360 });
    expect(video.durationSec).toBeCloseTo(2, 0);
  });
});
