/**
 * The webhook dispatcher against a real HTTP receiver (node:http on 127.0.0.1): what it signs, how it
 * retries, what its bounded queue drops, and that a receiver that hangs neither blocks the bus nor
 * the other receivers.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EventBus, LivepipeEvent } from '../../../src/core/event-bus.js';
import { silentLogger } from '../../../src/core/logger.js';
import { WebhookDispatcher, type WebhookDispatcherOptions, type WebhookOutcome, type WebhookTarget } from '../../../src/notify/webhook-dispatcher.js';
import { startWebhookReceiver, type WebhookReceiver } from '../../helpers/notify/webhook-receiver.js';
import { waitFor } from '../../helpers/wait.js';

const SECRET = 'receiver-secret-0123456789';
const FAST = { initialMs: 20, maxMs: 100, jitter: 0 };

class RecordingMetrics {
  readonly outcomes: Record<WebhookOutcome, number> = { delivered: 0, retried: 0, failed: 0, dropped: 0 };
  depth = 0;
  countWebhookDelivery(outcome: WebhookOutcome): void {
    this.outcomes[outcome] += 1;
  }
  setWebhookQueueDepth(depth: number): void {
    this.depth = depth;
  }
}

describe('WebhookDispatcher with a real receiver', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function receiver(respond?: WebhookReceiver['respond']): Promise<WebhookReceiver> {
    const r = await startWebhookReceiver(respond);
    cleanups.push(() => r.close());
    return r;
  }

  async function dispatcher(targets: WebhookTarget[], options: Partial<WebhookDispatcherOptions> = {}) {
    const bus = new EventBus();
    const metrics = new RecordingMetrics();
    const d = new WebhookDispatcher({ targets, bus, logger: silentLogger(), metrics, backoff: FAST, drainMs: 200, ...options });
    await d.start();
    cleanups.push(() => d.close());
    return { bus, metrics, dispatcher: d };
  }

  const publish = (bus: EventBus, channel: string) => bus.emit(LivepipeEvent.PublishStarted, { channel, protocol: 'rtmp', remoteAddress: '127.0.0.1' });

  it('POSTs each event as JSON, signed over timestamp.body, with its type and id in headers', async () => {
    const r = await receiver();
    const { bus, metrics } = await dispatcher([{ url: r.url, secret: SECRET }]);
    bus.emit(LivepipeEvent.ChannelStateChanged, { channel: 'demo', state: 'live', previous: 'idle', reason: 'publishing over rtmp' });
    publish(bus, 'demo');
    bus.emit(LivepipeEvent.PublishRefused, { channel: 'demo', protocol: 'rtmp', reason: 'wrong-key', remoteAddress: '10.0.0.9' });
    bus.emit(LivepipeEvent.TranscoderState, { channel: 'demo', state: 'restarting', previous: 'running', reason: 'ffmpeg exited (1)' });
    bus.emit(LivepipeEvent.LadderRestarted, { channel: 'demo', reason: 'operator restart' });
    bus.emit(LivepipeEvent.StorageHealth, { healthy: true, channel: 'demo' }); // not a webhook event
    await waitFor(() => (r.received.length >= 5 ? true : undefined), { message: 'five deliveries', timeoutMs: 5000 });

    expect(r.received.map((d) => d.event.type)).toEqual(['channel.live', 'publish.started', 'publish.refused', 'transcoder.restarting', 'transcoder.restarting']);
    expect(r.received.slice(3).map((d) => d.event.data)).toEqual([
      { channel: 'demo', cause: 'crash', reason: 'ffmpeg exited (1)' },
      { channel: 'demo', cause: 'operator', reason: 'operator restart' },
    ]);
    for (const delivery of r.received) {
      expect(r.verify(delivery, SECRET)).toBe('valid');
      expect(r.verify(delivery, 'some-other-secret-000')).toBe('bad-signature');
      expect(delivery.headers['content-type']).toBe('application/json');
      expect(delivery.headers['x-livepipe-event']).toBe(delivery.event.type);
      expect(delivery.headers['x-livepipe-delivery']).toBe(delivery.event.id);
      expect(delivery.body).not.toContain(SECRET);
    }
    expect(r.received[0]!.event.data).toEqual({ channel: 'demo', state: 'live', previous: 'idle', reason: 'publishing over rtmp' });
    expect(r.received[2]!.event.data).toMatchObject({ reason: 'wrong-key', remoteAddress: '10.0.0.9' });
    // A tampered body no longer matches its signature.
    const tampered = { ...r.received[0]!, body: r.received[0]!.body.replace('live', 'idle') };
    expect(r.verify(tampered, SECRET)).toBe('bad-signature');
    expect(metrics.outcomes).toMatchObject({ delivered: 5, retried: 0, failed: 0, dropped: 0 });
  });

  it('sends a receiver only the events it asked for', async () => {
    const all = await receiver();
    const some = await receiver();
    const { bus } = await dispatcher([
      { url: all.url, secret: SECRET },
      { url: some.url, secret: SECRET, events: ['channel.failed'] },
    ]);
    bus.emit(LivepipeEvent.ChannelStateChanged, { channel: 'a', state: 'live', previous: 'idle', reason: 'x' });
    bus.emit(LivepipeEvent.ChannelStateChanged, { channel: 'a', state: 'failed', previous: 'live', reason: 'crash loop' });
    await waitFor(() => (all.received.length >= 2 && some.received.length >= 1 ? true : undefined), { message: 'deliveries', timeoutMs: 5000 });
    expect(all.received.map((d) => d.event.type)).toEqual(['channel.live', 'channel.failed']);
    expect(some.received.map((d) => d.event.type)).toEqual(['channel.failed']);
  });

  it('retries after a 500 with the same event id and a fresh signature, then counts it delivered', async () => {
    const r = await receiver((index) => (index < 2 ? 500 : 200));
    const { bus, metrics } = await dispatcher([{ url: r.url, secret: SECRET }]);
    publish(bus, 'demo');
    await waitFor(() => (metrics.outcomes.delivered === 1 ? true : undefined), { message: 'delivered after retries', timeoutMs: 5000 });
    expect(r.received).toHaveLength(3);
    expect(new Set(r.received.map((d) => d.event.id)).size).toBe(1);
    for (const delivery of r.received) expect(r.verify(delivery, SECRET)).toBe('valid');
    expect(metrics.outcomes).toMatchObject({ delivered: 1, retried: 2, failed: 0 });
    // Exponential: the second wait is at least the first (20 ms, then 40 ms).
    const [a, b, c] = r.received.map((d) => d.receivedAt) as [number, number, number];
    expect(b - a).toBeGreaterThanOrEqual(15);
    expect(c - b).toBeGreaterThanOrEqual(35);
  });

  it('gives up after maxAttempts, and at once on a 4xx other than 408/429', async () => {
    const failing = await receiver(() => 503);
    const gone = await receiver(() => 410);
    const { bus, metrics } = await dispatcher(
      [
        { url: failing.url, secret: SECRET },
        { url: gone.url, secret: SECRET },
      ],
      { maxAttempts: 3 },
    );
    publish(bus, 'demo');
    await waitFor(() => (metrics.outcomes.failed === 2 ? true : undefined), { message: 'both given up', timeoutMs: 5000 });
    expect(failing.received).toHaveLength(3);
    expect(gone.received).toHaveLength(1);
    expect(metrics.outcomes).toMatchObject({ delivered: 0, retried: 2, failed: 2 });
  });

  it('drops the oldest waiting events when a receiver’s queue is full, and counts them', async () => {
    const r = await receiver((index) => (index === 0 ? 'hang' : 200));
    const { bus, metrics, dispatcher: d } = await dispatcher([{ url: r.url, secret: SECRET }], { maxQueued: 3, timeoutMs: 10_000 });
    for (let i = 1; i <= 10; i++) publish(bus, `ch${i}`);
    await waitFor(() => (r.hanging() === 1 ? true : undefined), { message: 'first delivery hanging', timeoutMs: 5000 });
    // ch1 is in flight; ch2…ch7 were pushed out by the newest three.
    expect(d.queued()).toBe(3);
    expect(metrics.depth).toBe(3);
    expect(metrics.outcomes.dropped).toBe(6);
    r.releaseHung(200);
    await waitFor(() => (metrics.outcomes.delivered === 4 ? true : undefined), { message: 'the rest delivered', timeoutMs: 5000 });
    expect(r.received.map((x) => x.event.data.channel)).toEqual(['ch1', 'ch8', 'ch9', 'ch10']);
    expect(metrics.depth).toBe(0);
  });

  it('a receiver that hangs: emit returns at once, the request times out and is retried, other receivers are not delayed', async () => {
    const hanging = await receiver(() => 'hang');
    const healthy = await receiver();
    const { bus, metrics, dispatcher: d } = await dispatcher(
      [
        { url: hanging.url, secret: SECRET },
        { url: healthy.url, secret: SECRET },
      ],
      { timeoutMs: 300, maxAttempts: 2 },
    );
    let emitted = 0;
    for (let i = 0; i < 200; i++) {
      publish(bus, `ch${i}`);
      emitted += 1;
    }
    // Every emit came back while the first request to the hanging receiver is still unanswered.
    expect(emitted).toBe(200);
    await waitFor(() => (healthy.received.length === 200 ? true : undefined), { message: 'the healthy receiver got everything', timeoutMs: 10_000 });
    expect(d.queued()).toBeGreaterThan(0); // the hanging one's backlog
    await waitFor(() => (metrics.outcomes.failed >= 1 ? true : undefined), { message: 'first event given up after its timeouts', timeoutMs: 5000 });
    expect(hanging.received.filter((x) => x.event.data.channel === 'ch0')).toHaveLength(2);
  });

  it('close() aborts a hanging delivery after drainMs and counts what was left as dropped', async () => {
    const r = await receiver(() => 'hang');
    const bus = new EventBus();
    const metrics = new RecordingMetrics();
    const d = new WebhookDispatcher({ targets: [{ url: r.url, secret: SECRET }], bus, logger: silentLogger(), metrics, timeoutMs: 60_000, drainMs: 100 });
    await d.start();
    publish(bus, 'a');
    publish(bus, 'b');
    await waitFor(() => (r.hanging() === 1 ? true : undefined), { message: 'delivery hanging', timeoutMs: 5000 });
    const started = Date.now();
    await d.close();
    expect(Date.now() - started).toBeLessThan(2000);
    expect(metrics.outcomes.dropped).toBe(2);
    publish(bus, 'c'); // after close: not subscribed any more
    expect(d.queued()).toBe(0);
  });

  it('start() refuses an unknown event name or a URL that is not http(s)', async () => {
    const bus = new EventBus();
    const bad = new WebhookDispatcher({ targets: [{ url: 'ftp://example.com/', secret: SECRET, events: ['channel.exploded'] }], bus, logger: silentLogger() });
    await expect(bad.start()).rejects.toThrow(/webhooks\.0: url: ftp: is not http: or https:\nwebhooks\.0: events: unknown event "channel.exploded"/);
  });
});
