/**
 * Honest admission (issue 19, docs/capacity.md) through a real `serve`, real ffmpeg publishers and
 * real ladders:
 * - a node given a tiny capacity runs a first channel, refuses a second whose ladder does not fit
 *   (the publisher dropped, a log line, `publish.refused` to a webhook receiver, the state reason, the
 *   refusal metric, `GET /api/v1/node`), and measures the first channel's cost from ffmpeg's CPU time;
 * - a channel fed more than the node can encode (a 1080p60 source on the `default` ladder: four
 *   renditions at 60 fps, about three cores' worth on this two-core machine) is reported `behind`,
 *   with its edge lag in the metrics.
 * Both nodes run side by side to keep the suite short; nothing here asserts a speed target.
 */
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { parsePrometheusText, sampleValue } from '../helpers/observability/prometheus-text-parser.js';
import { freePort } from '../helpers/ports.js';
import { lastMsn, mediaPlaylist, startServeFixture, type ServeFixture } from '../helpers/serve/serve-fixture.js';
import { waitFor } from '../helpers/wait.js';

const KEY = 'capacity-test-key-0123456789';
const SECRET = 'capacity-webhook-secret-0123';

async function metricsOf(serve: ServeFixture) {
  const response = await fetch(`${serve.apiBase}/metrics`);
  return parsePrometheusText(await response.text());
}

describe('livepipe serve: capacity and admission', () => {
  let small: ServeFixture;
  let busy: ServeFixture;
  let receiver: Server;
  const webhooks: Array<{ type: string; data: Record<string, unknown> }> = [];
  let dir: string;
  let heavyClip: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'livepipe-capacity-'));
    heavyClip = join(dir, 'heavy-1080p60.flv');
    // Two seconds of 1080p60, looped by the publisher without re-encoding: the input arrives at
    // realtime whatever the machine's load, only the node's encoder can fall behind.
    const clip = promisify(execFile)('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=1920x1080:rate=60', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-t', '2', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '60', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '64k', '-f', 'flv', heavyClip]);
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        webhooks.push(JSON.parse(body) as { type: string; data: Record<string, unknown> });
        res.writeHead(204).end();
      });
    });
    const hookPort = await freePort('tcp');
    await new Promise<void>((resolve) => receiver.listen(hookPort, '127.0.0.1', resolve));
    [small, busy] = await Promise.all([
      startServeFixture({
        // A 360p channel on low-latency costs ~0.15 cores by the benchmark's seed; a 720p one ~1.
        capacity: { cores: 0.5, headroom: 1 },
        channels: [
          { id: 'one', ladder: 'low-latency', key: KEY },
          { id: 'two', ladder: 'low-latency', key: KEY },
        ],
        webhooks: [{ url: `http://127.0.0.1:${hookPort}/hooks`, secret: SECRET, events: ['publish.refused'] }],
      }),
      startServeFixture({
        capacity: { enabled: false, behindLagSeconds: 2 },
        channels: [{ id: 'heavy', ladder: 'default', key: KEY }],
      }),
    ]);
    await clip;
  }, 120_000);

  afterAll(async () => {
    await Promise.all([small?.close(), busy?.close()]);
    await new Promise((resolve) => receiver?.close(resolve));
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it.concurrent('refuses a second channel that does not fit, with the reason, while the first plays; measures the first one\'s cost', async () => {
    small.publish(small.rtmpUrl('one', KEY), 'flv', { seconds: 120 });
    const before = await waitFor(async () => {
      const p = await mediaPlaylist(small.live('one'), '360p');
      return p !== undefined && p.segments.length > 0 ? lastMsn(p) : undefined;
    }, { timeoutMs: 60_000, message: 'channel one publishing' });

    const refused = small.publish(small.rtmpUrl('two', KEY), 'flv', { seconds: 120, video: { size: '1280x720', rate: 30 } });
    const hook = await waitFor(() => webhooks.find((w) => w.type === 'publish.refused' && w.data.channel === 'two'), {
      timeoutMs: 60_000,
      message: 'publish.refused for channel two',
    });
    expect(hook.data).toMatchObject({ reason: 'over-capacity', protocol: 'rtmp' });
    expect(hook.data.detail).toMatch(/^not enough transcoding capacity for channel two: ladder "low-latency" needs \d+\.\d+ cores for realtime, \d+(\.\d+)? of 0\.5 are free$/);
    // The publisher is dropped (its ffmpeg ends), the channel is idle with the reason, nothing was encoded.
    await waitFor(async () => ((await Promise.race([refused.exited, new Promise((r) => setTimeout(() => r('running'), 200))])) !== 'running' ? true : undefined), {
      timeoutMs: 30_000,
      message: 'the refused publisher to be dropped',
    });
    // The publisher was told why: an error onStatus before the close, which ffmpeg prints.
    expect(refused.stderr()).toContain(`Server error: publish refused: ${String(hook.data.detail)}`);
    const two = small.handle.manager.get('two')!;
    expect(two.state).toBe('idle');
    expect(two.stateReason).toMatch(/^publish refused: not enough transcoding capacity for channel two/);
    expect(small.logs.entries().some((e) => e.channel === 'two' && /^publish refused: not enough transcoding capacity/.test(String(e.msg)))).toBe(true);
    expect(await mediaPlaylist(small.live('two'), '360p')).toBeUndefined();
    expect(sampleValue(await metricsOf(small), 'livepipe_admission_refusals_total', { reason: 'over-capacity' })).toBeGreaterThanOrEqual(1);

    // The first channel kept playing.
    await waitFor(async () => {
      const p = await mediaPlaylist(small.live('one'), '360p');
      return p !== undefined && lastMsn(p) > before + 1 ? true : undefined;
    }, { timeoutMs: 60_000, message: 'channel one to keep publishing' });
    expect(small.state('one')).toBe('live');

    // Its cost, measured from ffmpeg's CPU time per media second, lands in sane bounds: one 360p
    // rendition (decode + scale + x264 + AAC) takes some CPU and cannot take more than the machine.
    const measured = await waitFor(() => small.handle.manager.get('one')?.transcoder.realtime?.cores, { timeoutMs: 60_000, message: 'a measured cost' });
    expect(measured).toBeGreaterThan(0.02);
    expect(measured).toBeLessThan(2);
    const node = await small.api('GET', '/api/v1/node');
    expect(node.status).toBe(200);
    expect(node.json).toMatchObject({ capacityCores: 0.5, running: 1, channels: [{ channel: 'one', ladder: 'low-latency', source: 'measured' }] });
    expect(node.json.usedCores).toBeCloseTo(node.json.channels[0].cores, 2);
    expect(sampleValue(await metricsOf(small), 'livepipe_node_capacity_cores')).toBe(0.5);
  }, 240_000);

  it.concurrent('reports a channel fed more than it can encode as behind, with its edge lag', async () => {
    const publisher = spawn('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', heavyClip, '-c', 'copy', '-t', '180', '-f', 'flv', busy.rtmpUrl('heavy', KEY)], { stdio: 'ignore' });
    try {
      const view = await waitFor(() => {
        const v = busy.handle.manager.get('heavy');
        return v?.transcoder.realtime?.behind === true ? v : undefined;
      }, { timeoutMs: 150_000, intervalMs: 500, message: 'the heavy channel flagged behind' });
      expect(view.state).toBe('live');
      expect(view.stateReason).toMatch(/^behind: (encoding at \d\.\d\d× realtime, )?edge \d+\.\d s behind arrival$/);
      expect(view.transcoder.realtime!.edgeLagSeconds!).toBeGreaterThanOrEqual(1);
      const metrics = await metricsOf(busy);
      expect(sampleValue(metrics, 'livepipe_channel_behind', { channel: 'heavy' })).toBe(1);
      expect(sampleValue(metrics, 'livepipe_channel_edge_lag_seconds', { channel: 'heavy' })!).toBeGreaterThanOrEqual(1);
      expect(busy.logs.entries().some((e) => e.channel === 'heavy' && /^encoder below realtime: behind/.test(String(e.msg)))).toBe(true);
    } finally {
      publisher.kill('SIGKILL');
    }
  }, 240_000);
});
