/**
 * The `livepipe serve` process as an operator runs it: SIGTERM while a publisher is live exits 0
 * (the CLI's own deadline turns a hung shutdown into exit 1), and a restart on the same data
 * directory continues the channel's media sequence. Also the refusal to start an open-publish
 * service on a public bind.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseMediaPlaylist } from '../../src/hls/playlist-parser.js';
import { publish, type Publisher } from '../helpers/ingest/media.js';
import { runCli, waitForHttp } from '../helpers/cli/livepipe-cli.js';
import { lastMsn, mediaPlaylist, startServeCli, type ServeCli } from '../helpers/serve/serve-fixture.js';
import { waitFor } from '../helpers/wait.js';
import { freePort, freePorts } from '../helpers/ports.js';

const KEY = 'term-key-0123456789';

describe('livepipe serve: SIGTERM and restart', () => {
  let serve: ServeCli | undefined;
  let dataDir: string | undefined;
  const publishers: Publisher[] = [];

  afterAll(async () => {
    await Promise.all(publishers.map((p) => p.stop()));
    await serve?.close();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });

  it('exits 0 on SIGTERM while publishing; a restart continues the media sequence', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'livepipe-serve-term-'));
    serve = await startServeCli({ channels: [{ id: 'term', ladder: 'low-latency', key: KEY }] }, { keepDataDir: dataDir });
    const first = publish(serve.rtmpUrl('term', KEY), 'flv');
    publishers.push(first);
    await waitFor(async () => {
      const p = await mediaPlaylist(serve!.live('term'), '360p');
      return p !== undefined && p.segments.length >= 3 ? p : undefined;
    }, { timeoutMs: 45_000, message: 'three segments' });

    const t0 = Date.now();
    const code = await serve.cli.stop('SIGTERM', 40_000);
    const shutdownMs = Date.now() - t0;
    expect(code, serve.cli.stderr().slice(-3000)).toBe(0);
    console.log(`serve: SIGTERM with a live publisher → exit 0 after ${shutdownMs} ms`);
    expect(serve.cli.stderr()).toContain('shutting down');
    // The publisher lost its server.
    await first.exited;

    // What the stopped service left in storage (filesystem driver: the data directory). The packager
    // finished the segment in flight; the playlist has no ENDLIST, so the channel resumes on restart.
    const stored = parseMediaPlaylist(await readFile(join(dataDir, 'live', 'term', '360p', 'playlist.m3u8'), 'utf8'));
    expect(stored.endList).toBe(false);
    expect(stored.pending?.parts.length ?? 0).toBe(0);
    const lastBefore = lastMsn(stored);
    const sequenceBefore = stored.mediaSequence;

    await serve.restart();

    publishers.push(publish(serve.rtmpUrl('term', KEY), 'flv'));
    const after = await waitFor(async () => {
      const p = await mediaPlaylist(serve!.live('term'), '360p');
      return p !== undefined && p.segments.some((s) => s.msn > lastBefore && !s.gap) ? p : undefined;
    }, { timeoutMs: 45_000, message: 'segments after the restart' });
    expect(after.mediaSequence).toBeGreaterThanOrEqual(sequenceBefore);
    expect(after.endList).toBe(false);
    const firstNew = after.segments.find((s) => s.msn > lastBefore)!;
    expect(firstNew.msn).toBe(lastBefore + 1);
    // The time nobody wrote (serve down, the publisher reconnecting) is listed as EXT-X-GAP segments
    // (LLHLS.md: missing media is marked GAP, never skipped), then the new run after one discontinuity.
    const firstMedia = after.segments.find((s) => s.msn > lastBefore && !s.gap)!;
    const hole = after.segments.filter((s) => s.msn > lastBefore && s.msn < firstMedia.msn);
    expect(hole.every((s) => s.gap === true && !s.discontinuity), JSON.stringify(hole)).toBe(true);
    expect(firstMedia.discontinuity).toBe(true);
    // The other renditions agree.
    const audio = await mediaPlaylist(serve.live('term'), 'audio');
    expect(audio?.segments.find((s) => s.msn === firstMedia.msn)?.discontinuity).toBe(true);

    const code2 = await serve.cli.stop('SIGTERM', 40_000);
    expect(code2, serve.cli.stderr().slice(-3000)).toBe(0);
  });
});

describe('livepipe serve: public binds', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  async function ports(): Promise<string[]> {
    // Distinct ports (one sequential freePort() can hand out the same number twice), the SRT one UDP.
    const [origin, api, rtmp] = await freePorts(3);
    return ['--origin-port', String(origin), '--api-port', String(api), '--rtmp-port', String(rtmp), '--srt-port', String(await freePort('udp'))];
  }

  it('refuses --host 0.0.0.0 without channels (open publishing), with a message saying what to do', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'livepipe-serve-open-'));
    dirs.push(dir);
    const cli = runCli(['serve', '--host', '0.0.0.0', '--data-dir', dir, ...(await ports())], { LIVEPIPE_API_TOKEN: 'a-token-for-the-api-0123' });
    const code = await Promise.race([cli.exited, new Promise((r) => setTimeout(() => r('still running'), 20_000))]);
    await cli.stop('SIGKILL');
    expect(code).toBe(1);
    expect(cli.stderr()).toMatch(/no channels are configured and the bind address 0\.0\.0\.0 is not loopback/);
    expect(cli.stderr()).toMatch(/allowOpenPublish: true/);
  });

  it('starts on 0.0.0.0 when the channels come from the ops API state file only', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'livepipe-serve-open-'));
    dirs.push(dir);
    await mkdir(join(dir, '.livepipe'), { recursive: true });
    const state = { version: 1, channels: { made: { id: 'made', ladder: 'low-latency', key: 'made-key-0123456789' } }, removed: [] };
    await writeFile(join(dir, '.livepipe', 'channels.json'), JSON.stringify(state), { mode: 0o600 });
    const args = await ports();
    const cli = runCli(['serve', '--host', '0.0.0.0', '--data-dir', dir, ...args], { LIVEPIPE_API_TOKEN: 'a-token-for-the-api-0123' });
    try {
      await waitForHttp(`http://127.0.0.1:${args[3]}/healthz`, 30_000);
      expect(cli.stdout()).toMatch(/channel made \(ladder low-latency\)/);
      expect(cli.stdout()).not.toMatch(/Open mode/);
    } finally {
      expect(await cli.stop('SIGTERM'), cli.stderr().slice(-2000)).toBe(0);
    }
  });

  it('refuses --host 0.0.0.0 without LIVEPIPE_API_TOKEN', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'livepipe-serve-open-'));
    dirs.push(dir);
    const config = join(dir, 'c.yaml');
    await writeFile(config, JSON.stringify({ channels: [{ id: 'a', key: 'a-key-0123456789abc' }] }));
    const cli = runCli(['serve', '--host', '0.0.0.0', '--config', config, '--data-dir', dir, ...(await ports())], { LIVEPIPE_API_TOKEN: '' });
    const code = await Promise.race([cli.exited, new Promise((r) => setTimeout(() => r('still running'), 20_000))]);
    await cli.stop('SIGKILL');
    expect(code).toBe(1);
    expect(cli.stderr()).toMatch(/LIVEPIPE_API_TOKEN is required when binding 0\.0\.0\.0/);
  });

  it('starts on 0.0.0.0 without channels when allowOpenPublish: true is set deliberately', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'livepipe-serve-open-'));
    dirs.push(dir);
    const config = join(dir, 'c.yaml');
    await writeFile(config, 'allowOpenPublish: true\n');
    const args = await ports();
    const cli = runCli(['serve', '--host', '0.0.0.0', '--config', config, '--data-dir', dir, ...args], { LIVEPIPE_API_TOKEN: 'a-token-for-the-api-0123' });
    try {
      await waitForHttp(`http://127.0.0.1:${args[3]}/healthz`, 30_000);
      expect(cli.stdout()).toMatch(/Open mode/);
    } finally {
      expect(await cli.stop('SIGTERM'), cli.stderr().slice(-2000)).toBe(0);
    }
  });
});
