/**
 * Honest admission (issue 19, docs/capacity.md) through a real `serve`, real ffmpeg publishers and
 * real ladders:
 * - a node given a tiny capacity runs a first channel, refuses a second whose ladder does not fit
 *   (the publisher dropped, a log line, `publish.refused` to a webhook receiver, the state reason, the
 *   refusal metric, `GET /api/v1/node`), and measures the first channel's cost from ffmpeg's CPU time;
 * - a channel fed more than the node can encode (a 1080p60 source on the `default` ladder: four
 *   renditions at 60 fps, about three cores' worth on this two-core machine) is reported `behind`,
 *   with its edge lag in the metrics, and its node's `cheaper-preset` policy restarts its encoder one
 *   x264 preset faster (logged, in the view and a metric; the playlists go on after a discontinuity);
 * - the same on a node whose policy is `drop-top-rendition`: the encoder restarts without 1080p, the
 *   multivariant playlist stops listing it, its ended playlist names only media the origin serves;
 * - the refused RTMP publisher (a real ffmpeg) is told why: ffmpeg prints the server's error status.
 * The nodes run side by side to keep the suite short; nothing here asserts a speed target.
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
import { getText, lastMsn, mediaPlaylist, renditionsOf, startServeFixture, type ServeFixture } from '../helpers/serve/serve-fixture.js';
import { waitFor } from '../helpers/wait.js';

const KEY = 'capacity-test-key-0123456789';
const SECRET = 'capacity-webhook-secret-0123';

/** The x264 presets, in output order, of the ffmpeg command line a run of `channel` was spawned with (debug log). */
function spawnedPresets(serve: ServeFixture, channel: string): string[][] {
  return serve.logs
    .entries()
    .filter((e) => e.channel === channel && e.msg === 'ffmpeg spawned' && Array.isArray(e.args))
    .map((e) => {
      const args = e.args as string[];
      return args.flatMap((a, i) => (a === '-preset' && args[i - 2] === '-c:v' && args[i - 1] === 'libx264' ? [args[i + 1]!] : []));
    });
}

async function metricsOf(serve: ServeFixture) {
  const response = await fetch(`${serve.apiBase}/metrics`);
  return parsePrometheusText(await response.text());
}

describe('livepipe serve: capacity and admission', () => {
  let small: ServeFixture;
  let busy: ServeFixture;
  let dropping: ServeFixture;
  let cheaperPresetCaseFinished!: () => void;
  const cheaperPresetCaseDone = new Promise<void>((resolve) => (cheaperPresetCaseFinished = resolve));
  let receiver: Server;
  const webhooks: Array<{ type: string; data: Record<string, unknown> }> = [];
  let dir: string;
  let heavyClip: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'livepipe-capacity-'));
    heavyClip = join(dir, 'heavy-1080p60.flv');
    // Two seconds of 1080p60, looped by the publisher without re-encoding: the input arrives at
    // realtime whatever the machine's load, only the node's encoder can fall behind. testsrc2 (moving
    // detail), not testsrc: on a quiet machine the default ladder encoded testsrc's flat pattern close
    // enough to realtime that a clean-clone CI run waited 150 s for the drop-top-rendition flag.
    const clip = promisify(execFile)('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=1920x1080:rate=60', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
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
    [small, busy, dropping] = await Promise.all([
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
        capacity: { enabled: false, behindLagSeconds: 2, behindPolicy: 'cheaper-preset' },
        channels: [{ id: 'heavy', ladder: 'default', key: KEY }],
      }),
      startServeFixture({
        capacity: { enabled: false, behindLagSeconds: 2, behindPolicy: 'drop-top-rendition' },
        channels: [{ id: 'heavy', ladder: 'default', key: KEY }],
      }),
    ]);
    await clip;
  }, 120_000);

  afterAll(async () => {
    await Promise.all([small?.close(), busy?.close(), dropping?.close()]);
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

  it.concurrent('reports a channel fed more than it can encode as behind, with its edge lag, and its cheaper-preset policy restarts it one preset faster', async () => {
    const publisher = spawn('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', heavyClip, '-c', 'copy', '-t', '180', '-f', 'flv', busy.rtmpUrl('heavy', KEY)], { stdio: 'ignore' });
    try {
      // The policy restarts the encoder as soon as it is flagged, which ends the run whose lag was
      // measured: on a quiet machine the faster run then keeps up and the flag's window in the view and
      // the metric can be shorter than a poll (the first clean-clone CI run caught it, the second did
      // not). So the wait ends on the flag or on the policy's act; the report is always checked in its
      // log line, and in the view and the metric whenever the poll caught it.
      const caught = await waitFor(async () => {
        const v = busy.handle.manager.get('heavy');
        if (v?.transcoder.realtime?.behind === true) {
          const m = await metricsOf(busy);
          if (sampleValue(m, 'livepipe_channel_behind', { channel: 'heavy' }) === 1) return { view: v, metrics: m };
        }
        return (v?.transcoder.ladderAdjustment?.presetSteps ?? 0) >= 1 ? { view: undefined, metrics: undefined } : undefined;
      }, { timeoutMs: 150_000, intervalMs: 300, message: 'the heavy channel flagged behind' });
      const behindLine = busy.logs.entries().find((e) => e.channel === 'heavy' && /^encoder below realtime: behind/.test(String(e.msg)));
      expect(String(behindLine?.msg)).toMatch(/^encoder below realtime: behind: (encoding at \d\.\d\d× realtime, )?edge \d+\.\d s behind arrival$/);
      expect(Number(behindLine?.edgeLagSeconds)).toBeGreaterThanOrEqual(1);
      if (caught.view !== undefined) {
        const { view, metrics } = caught;
        expect(view.state).toBe('live');
        expect(view.stateReason).toMatch(/^behind: (encoding at \d\.\d\d× realtime, )?edge \d+\.\d s behind arrival$/);
        expect(view.transcoder.realtime!.edgeLagSeconds!).toBeGreaterThanOrEqual(1);
        expect(sampleValue(metrics!, 'livepipe_channel_edge_lag_seconds', { channel: 'heavy' })!).toBeGreaterThanOrEqual(1);
      }

      // cheaper-preset: the encoder was restarted with every x264 preset one step faster than the
      // ladder's veryfast (two steps if it was flagged again since), logged, in the view and a metric.
      const adjusted = await waitFor(() => {
        const a = busy.handle.manager.get('heavy')?.transcoder.ladderAdjustment;
        return a !== undefined && a.presetSteps >= 1 ? a : undefined;
      }, { timeoutMs: 30_000, message: 'the cheaper-preset policy to act' });
      expect(adjusted.policy).toBe('cheaper-preset');
      expect(adjusted.droppedRenditions).toEqual([]);
      expect(Object.keys(adjusted.presets)).toEqual(['1080p', '720p', '480p', '360p']);
      for (const preset of Object.values(adjusted.presets)) expect(['superfast', 'ultrafast']).toContain(preset);
      const restartLine = busy.logs.entries().find((e) => e.channel === 'heavy' && /^encoder restarted on a lighter ladder: /.test(String(e.msg)));
      expect(String(restartLine?.msg)).toMatch(/^encoder restarted on a lighter ladder: behind realtime \(behind: .*\): x264 preset one step faster \(1080p veryfast → superfast, 720p veryfast → superfast, 480p veryfast → superfast, 360p veryfast → superfast\)$/);
      expect(sampleValue(await metricsOf(busy), 'livepipe_channel_ladder_adjustment', { channel: 'heavy', adjustment: 'preset_steps' })!).toBeGreaterThanOrEqual(1);

      // The first run was spawned with the ladder's presets, the one after the restart with the faster ones.
      const faster = ['superfast', 'superfast', 'superfast', 'superfast'];
      const spawned = await waitFor(() => {
        const runs = spawnedPresets(busy, 'heavy');
        return runs.some((p) => p.join() === faster.join()) ? runs : undefined;
      }, { timeoutMs: 30_000, message: 'an ffmpeg run of the heavy channel on superfast' });
      expect(spawned[0]).toEqual(['veryfast', 'veryfast', 'veryfast', 'veryfast']);

      // The playlists go on across the restart (a discontinuity, the same media sequence).
      const before = lastMsn((await mediaPlaylist(busy.live('heavy'), '1080p'))!);
      // (The new run's first segment may still be open, parts only, when the msn has moved on: it is
      // waited for until listed, after its EXT-X-DISCONTINUITY, on the new run's init segment.)
      const after = await waitFor(async () => {
        const p = await mediaPlaylist(busy.live('heavy'), '1080p');
        return p !== undefined && lastMsn(p) >= before + 2 && (p.segments.some((seg) => seg.discontinuity) || p.discontinuitySequence > 0) ? p : undefined;
      }, { timeoutMs: 90_000, message: 'the 1080p playlist to go on after the restart' });
      expect(after.endList).toBe(false);
      expect(new Set(after.segments.map((seg) => seg.mapUri)).size + after.discontinuitySequence).toBeGreaterThanOrEqual(2);
      expect(busy.state('heavy')).toBe('live');
    } finally {
      publisher.kill('SIGKILL');
      await busy.handle.manager.stop('heavy').catch(() => undefined);
      cheaperPresetCaseFinished();
    }
  }, 240_000);

  it.concurrent('drop-top-rendition: a channel behind realtime loses its top rendition; the multivariant playlist stops listing it and its ended playlist names only stored media', async () => {
    // One heavy channel at a time: the machine has two cores, each of these ladders needs three.
    await cheaperPresetCaseDone;
    const publisher = spawn('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', heavyClip, '-c', 'copy', '-t', '180', '-f', 'flv', dropping.rtmpUrl('heavy', KEY)], { stdio: 'ignore' });
    const live = dropping.live('heavy');
    try {
      const adjusted = await waitFor(() => {
        const a = dropping.handle.manager.get('heavy')?.transcoder.ladderAdjustment;
        return a !== undefined && a.droppedRenditions.length >= 1 ? a : undefined;
      }, { timeoutMs: 150_000, intervalMs: 500, message: 'the drop-top-rendition policy to act' });
      expect(adjusted).toMatchObject({ policy: 'drop-top-rendition', presetSteps: 0 });
      expect(adjusted.droppedRenditions[0]).toBe('1080p');
      expect(dropping.logs.entries().some((e) => e.channel === 'heavy' && /^encoder restarted on a lighter ladder: behind realtime \(.*\): top rendition 1080p dropped \(3 video renditions left\)$/.test(String(e.msg)))).toBe(true);
      expect(sampleValue(await metricsOf(dropping), 'livepipe_channel_ladder_adjustment', { channel: 'heavy', adjustment: 'dropped_renditions' })!).toBeGreaterThanOrEqual(1);

      // The multivariant playlist no longer lists it; the others go on.
      const master = await waitFor(async () => {
        const m = await getText(`${live}/master.m3u8`);
        return m.status === 200 && !renditionsOf(m.text).includes('1080p') ? renditionsOf(m.text) : undefined;
      }, { timeoutMs: 60_000, message: 'the multivariant playlist without 1080p' });
      expect(master).toEqual(expect.arrayContaining(['720p', '480p', '360p', 'audio']));
      const view = dropping.handle.manager.get('heavy')!;
      expect(view.state).toBe('live');
      expect(view.transcoder.renditions.map((r) => r.name)).not.toContain('1080p');

      // Its playlist (it may have been dropped before the first multivariant playlist listed it) is
      // ended, and every object it names is stored (served by the origin).
      const ended = await waitFor(async () => {
        const p = await mediaPlaylist(live, '1080p');
        return p?.endList === true ? p : undefined;
      }, { timeoutMs: 30_000, message: 'the 1080p playlist ended' });
      const named = new Set<string>();
      for (const seg of ended.segments) {
        named.add(seg.uri).add(seg.mapUri);
        for (const part of seg.parts) if (part.gap !== true) named.add(part.uri);
      }
      for (const part of ended.pending?.parts ?? []) if (part.gap !== true) named.add(part.uri);
      expect(named.size).toBeGreaterThan(1);
      const statuses = await Promise.all([...named].map(async (uri) => [uri, (await fetch(`${live}/1080p/${uri}`).then(async (r) => (await r.arrayBuffer(), r.status)))] as const));
      expect(statuses.filter(([, status]) => status !== 200)).toEqual([]);

      // The remaining top rendition keeps going.
      const before = lastMsn((await mediaPlaylist(live, '720p'))!);
      await waitFor(async () => {
        const p = await mediaPlaylist(live, '720p');
        return p !== undefined && !p.endList && lastMsn(p) >= before + 1 ? true : undefined;
      }, { timeoutMs: 60_000, message: 'the 720p playlist to go on' });
    } finally {
      publisher.kill('SIGKILL');
    }
  }, 420_000);
});
