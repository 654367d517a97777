/**
 * Webhooks from a real `livepipe serve` with a real ffmpeg publisher: one receiver answers, another
 * hangs on every request. The answering one gets every channel, publish and restart event, signed; while the
 * hanging one holds its deliveries, the channel's parts keep appearing at the origin.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lastPosition } from '../../src/hls/playlist-model.js';
import { parsePrometheusText, sampleValue } from '../helpers/observability/prometheus-text-parser.js';
import { getText, mediaPlaylist, renditionsOf, startServeFixture, type ServeFixture } from '../helpers/serve/serve-fixture.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/notify/webhook-receiver.js';
import { waitFor } from '../helpers/wait.js';

const KEY = 'hooked-channel-key-0123';
const SECRET = 'webhook-secret-0123456789';
const HANGING_SECRET = 'hanging-secret-0123456789';

describe('livepipe serve: webhooks', () => {
  let serve: ServeFixture;
  let healthy: WebhookReceiver;
  let hanging: WebhookReceiver;

  beforeAll(async () => {
    healthy = await startWebhookReceiver();
    hanging = await startWebhookReceiver(() => 'hang');
    serve = await startServeFixture({
      reconnectGraceSeconds: 1,
      channels: [{ id: 'hooked', ladder: 'low-latency', key: KEY }],
      webhooks: [
        { url: hanging.url, secret: HANGING_SECRET },
        { url: healthy.url, secret: SECRET },
      ],
    });
  });

  afterAll(async () => {
    await serve?.close();
    await healthy?.close();
    await hanging?.close();
  });

  const types = () => healthy.received.map((d) => d.event.type);
  const metric = async (name: string, labels: Record<string, string> = {}) =>
    sampleValue(parsePrometheusText((await getText(`${serve.apiBase}/metrics`)).text), name, labels);

  it('tells the receivers of a refused publish', async () => {
    const refused = serve.publish(serve.rtmpUrl('hooked', 'not-the-right-key-000'), 'flv', { seconds: 8 });
    await refused.exited;
    const delivery = await waitFor(() => healthy.received.find((d) => d.event.type === 'publish.refused'), { message: 'publish.refused', timeoutMs: 10_000 });
    expect(delivery.event.data).toMatchObject({ channel: 'hooked', protocol: 'rtmp', reason: 'wrong-key' });
    expect(healthy.verify(delivery, SECRET)).toBe('valid');
    expect(delivery.body).not.toContain('not-the-right-key-000');
  });

  it('parts keep appearing while a receiver hangs, and the answering receiver gets publish.started and channel.live', async () => {
    serve.publish(serve.rtmpUrl('hooked', KEY), 'flv');
    await waitFor(() => (types().includes('channel.live') ? true : undefined), { message: 'channel.live delivered', timeoutMs: 30_000 });
    expect(types()).toContain('publish.started');
    const master = await waitFor(async () => {
      const r = await getText(`${serve.live('hooked')}/master.m3u8`);
      return r.status === 200 ? r.text : undefined;
    }, { message: 'master playlist', timeoutMs: 45_000 });
    const rendition = renditionsOf(master)[0]!;
    await waitFor(async () => ((await mediaPlaylist(serve.live('hooked'), rendition)) !== undefined ? true : undefined), { message: 'first part', timeoutMs: 30_000 });

    // The hanging receiver holds a delivery and has a backlog the whole time we watch the parts.
    expect(hanging.hanging()).toBeGreaterThanOrEqual(1);
    expect(await metric('livepipe_webhook_queue_depth')).toBeGreaterThan(0);
    const positions: string[] = [];
    for (let i = 0; i < 16; i++) {
      const playlist = await mediaPlaylist(serve.live('hooked'), rendition);
      if (playlist !== undefined) {
        const p = lastPosition(playlist);
        positions.push(`${p.msn}.${p.part}`);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    // 8 s of watching: the live edge moved in every 2 s window (no stall behind the hung receiver).
    for (let w = 0; w + 4 < positions.length; w += 4) {
      expect(positions[w + 4], positions.join(' ')).not.toBe(positions[w]);
    }
    expect(new Set(positions).size).toBeGreaterThanOrEqual(8);
    // Still behind on the hanging receiver: its backlog is there. (Whether a request is hanging at
    // this instant depends on the retry schedule: each attempt times out after 5 s, then backs off.)
    expect(await metric('livepipe_webhook_queue_depth')).toBeGreaterThan(0);
    expect(hanging.received.length).toBeGreaterThanOrEqual(1);
    expect(await metric('livepipe_webhook_deliveries_total', { outcome: 'delivered' })).toBeGreaterThanOrEqual(3);
  });

  it('tells of an operator restart of the ladder', async () => {
    await serve.handle.manager.restart('hooked');
    const delivery = await waitFor(() => healthy.received.find((d) => d.event.type === 'transcoder.restarting'), { message: 'transcoder.restarting', timeoutMs: 10_000 });
    expect(delivery.event.data).toEqual({ channel: 'hooked', cause: 'operator', reason: 'operator restart' });
    await waitFor(() => (serve.state('hooked') === 'live' ? true : undefined), { message: 'live again', timeoutMs: 30_000 });
  });

  it('tells of the publish ending, the reconnect wait and the channel going idle, each delivery signed', async () => {
    expect(serve.handle.ingest.kick('hooked')).toBe(true);
    await waitFor(() => (types().includes('channel.idle') ? true : undefined), { message: 'channel.idle delivered', timeoutMs: 30_000 });
    const order = types();
    expect(order.indexOf('publish.ended')).toBeGreaterThan(order.indexOf('publish.started'));
    expect(order.indexOf('channel.reconnecting')).toBeGreaterThan(order.indexOf('channel.live'));
    expect(order.lastIndexOf('channel.idle')).toBeGreaterThan(order.indexOf('channel.reconnecting'));
    for (const delivery of healthy.received) expect(healthy.verify(delivery, SECRET), delivery.event.type).toBe('valid');
    // The receivers' secrets never reach the log.
    expect(serve.logs.text()).not.toContain(SECRET);
    expect(serve.logs.text()).not.toContain(HANGING_SECRET);
  });
});
