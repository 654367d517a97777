/**
 * The ops surface of the real `livepipe serve` CLI process (bin/livepipe.js → dist/): the API token
 * from `LIVEPIPE_API_TOKEN`, a channel created through the API surviving a SIGTERM and a new process
 * on the same data directory, `/metrics` from the running process counting origin requests, and the
 * refusal to open an unauthenticated API on a non-loopback bind.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, waitForHttp, type CliProcess } from '../helpers/cli/livepipe-cli.js';
import { parsePrometheusText, sampleValue } from '../helpers/observability/prometheus-text-parser.js';
import { freePort } from '../helpers/ports.js';

const TOKEN = 'cli-ops-token-0123456789abcdef';

describe('livepipe serve (CLI) ops surface', () => {
  let dataDir: string;
  let ports: { origin: number; api: number; rtmp: number; srt: number };
  const running: CliProcess[] = [];

  const serve = (env: Record<string, string> = { LIVEPIPE_API_TOKEN: TOKEN }, extra: string[] = []): CliProcess => {
    const cli = runCli(
      ['serve', '--data-dir', dataDir, '--origin-port', String(ports.origin), '--api-port', String(ports.api),
        '--rtmp-port', String(ports.rtmp), '--srt-port', String(ports.srt), ...extra],
      env,
    );
    running.push(cli);
    return cli;
  };
  const api = (path: string, init: RequestInit & { token?: string | null } = {}) => {
    const headers: Record<string, string> = { ...(init.headers as Record<string, string> | undefined) };
    const token = init.token === undefined ? TOKEN : init.token;
    if (token !== null) headers.authorization = `Bearer ${token}`;
    return fetch(`http://127.0.0.1:${ports.api}${path}`, { ...init, headers });
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'livepipe-ops-cli-'));
    ports = { origin: await freePort(), api: await freePort(), rtmp: await freePort(), srt: 21_000 + Math.floor(Math.random() * 10_000) };
  });

  afterAll(async () => {
    await Promise.all(running.map((c) => c.stop('SIGKILL', 1000)));
    await rm(dataDir, { recursive: true, force: true });
  });

  it('guards the API with the token, persists API channels across processes, counts origin requests', async () => {
    const first = serve();
    await waitForHttp(`http://127.0.0.1:${ports.api}/healthz`, 20_000);
    expect((await api('/api/v1/channels', { token: null })).status).toBe(401);
    expect((await api('/api/v1/channels', { token: 'not-the-token-0123456789' })).status).toBe(403);
    const created = await api('/api/v1/channels', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'cli', ladder: 'low-latency', key: 'cli-key-0123456789abc' }),
    });
    expect(created.status).toBe(201);
    // The state file holds stream keys: owner-only.
    expect((await stat(join(dataDir, '.livepipe', 'channels.json'))).mode & 0o777).toBe(0o600);

    expect((await fetch(`http://127.0.0.1:${ports.origin}/live/cli/master.m3u8`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${ports.origin}/live/cli/360p/playlist.m3u8`)).status).toBe(404);
    const metrics = parsePrometheusText(await (await api('/metrics', { token: null })).text());
    expect(sampleValue(metrics, 'livepipe_origin_requests_total', { class: 'multivariant', status: '404' })).toBe(1);
    expect(sampleValue(metrics, 'livepipe_origin_requests_total', { class: 'playlist', status: '404' })).toBe(1);
    // A channel that never went live has no series of its own; it is counted by state.
    expect(sampleValue(metrics, 'livepipe_channel_state', { channel: 'cli', state: 'idle' })).toBeUndefined();
    expect(sampleValue(metrics, 'livepipe_channels', { state: 'idle' })).toBe(1);
    expect(sampleValue(metrics, 'livepipe_origin_held_requests')).toBe(0);

    expect(await first.stop('SIGTERM')).toBe(0);

    const second = serve();
    await waitForHttp(`http://127.0.0.1:${ports.api}/healthz`, 20_000);
    const list = (await (await api('/api/v1/channels')).json()) as { channels: Array<{ id: string; ladder: string; keyLast4: string }> };
    expect(list.channels.map((c) => [c.id, c.ladder, c.keyLast4])).toEqual([['cli', 'low-latency', '9abc']]);
    // The banner names the persisted channel with its publish and play URLs.
    expect(second.stdout()).toContain('channel cli (ladder low-latency)');
    expect(second.stdout()).toContain(`play: http://127.0.0.1:${ports.origin}/live/cli/master.m3u8`);
    expect(second.stdout()).not.toContain('cli-key-0123456789abc');
    expect(await second.stop('SIGINT')).toBe(0);
  });

  it('refuses to start an open API on a non-loopback bind', async () => {
    const cli = serve({ LIVEPIPE_API_TOKEN: '' }, ['--host', '0.0.0.0']);
    expect(await cli.exited).not.toBe(0);
    expect(cli.stderr()).toMatch(/LIVEPIPE_API_TOKEN is required when binding 0\.0\.0\.0/);
  });

  it('on a non-loopback bind, channels made through the API count as configured (not open mode)', async () => {
    // Regression: only the config file's channels were counted, so a service whose channels all came
    // from the API refused to start on 0.0.0.0 as if it were open to any publisher.
    const withApiChannels = serve({ LIVEPIPE_API_TOKEN: TOKEN }, ['--host', '0.0.0.0']);
    await waitForHttp(`http://127.0.0.1:${ports.api}/healthz`, 20_000);
    expect((await api('/api/v1/channels', { token: null })).status).toBe(401);
    expect(withApiChannels.stdout()).toContain('channel cli (ladder low-latency)');
    expect(await withApiChannels.stop('SIGTERM')).toBe(0);

    const empty = await mkdtemp(join(tmpdir(), 'livepipe-ops-cli-empty-'));
    try {
      const open = runCli(['serve', '--host', '0.0.0.0', '--data-dir', empty, '--origin-port', String(ports.origin), '--api-port', String(ports.api),
        '--rtmp-port', String(ports.rtmp), '--srt-port', String(ports.srt)], { LIVEPIPE_API_TOKEN: TOKEN });
      running.push(open);
      expect(await open.exited).not.toBe(0);
      expect(open.stderr()).toMatch(/no channels are configured and the bind address 0\.0\.0\.0 is not loopback/);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});
