/**
 * `GET /api/v1/events` and the console's files over a real `serve` (no publisher: channel actions make
 * the events), read with the console's own stream parser: the snapshot, bus events with the channel's
 * view, `stats`; a client that stops reading is dropped while a reading one gets everything; the
 * server's close ends open streams instead of waiting on them; the console is served without a token,
 * compressed, with its security headers; and state-changing calls from another site are refused.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_CLOSE_GRACE_MS, ApiServer } from '../../../src/api/api-server.js';
import { EventBus, LivepipeEvent } from '../../../src/core/event-bus.js';
import { SseParser, type SseMessage } from '../../../console/src/sse-parser.js';
import { captureLogger } from '../../helpers/logs/api-log-capture.js';
import { startServeFixture, type ServeFixture } from '../../helpers/serve/serve-fixture.js';
import { waitFor } from '../../helpers/wait.js';
import { Metrics } from '../../../src/observability/metrics.js';

const TOKEN = 'events-token-0123456789';
const KEY = 'events-key-0123456789';

/** An event-stream reader: every message parsed as it arrives. */
interface StreamReader {
  messages: SseMessage[];
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  cancel(): Promise<void>;
}

async function openStream(base: string, token: string): Promise<StreamReader> {
  const response = await fetch(`${base}/api/v1/events`, { headers: { authorization: `Bearer ${token}` } });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
  expect(response.headers.get('cache-control')).toBe('no-store, no-transform');
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  const parser = new SseParser();
  const messages: SseMessage[] = [];
  const ended = (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true as const }));
      if (done) return;
      messages.push(...parser.push(value));
    }
  })();
  return { messages, ended, cancel: () => reader.cancel().catch(() => undefined) };
}

const body = (message: SseMessage): any => JSON.parse(message.data);

describe('GET /api/v1/events and the console files', () => {
  let serve: ServeFixture;

  beforeAll(async () => {
    serve = await startServeFixture({ channels: [{ id: 'alpha', ladder: 'low-latency', key: KEY }] }, { token: TOKEN });
  });
  afterAll(async () => {
    await serve?.close();
  });

  it('sends a snapshot, then each bus event with the channel view after it, and stats', async () => {
    const stream = await openStream(serve.apiBase, TOKEN);
    try {
      const snapshot = await waitFor(() => stream.messages.find((m) => m.event === 'snapshot'), { message: 'snapshot', timeoutMs: 10_000 });
      expect(body(snapshot).channels.map((c: { id: string }) => c.id)).toEqual(['alpha']);
      expect(JSON.stringify(body(snapshot))).not.toContain(KEY);

      expect((await serve.api('POST', '/api/v1/channels/alpha/stop')).status).toBe(200);
      const stopped = await waitFor(() => stream.messages.find((m) => m.event === LivepipeEvent.ChannelStateChanged), { message: 'state event', timeoutMs: 10_000 });
      expect(body(stopped).payload).toMatchObject({ channel: 'alpha', state: 'stopped', previous: 'idle' });
      expect(body(stopped).view).toMatchObject({ id: 'alpha', state: 'stopped', keyLast4: KEY.slice(-4) });
      expect(body(stopped).view.key).toBeUndefined();
      expect((await serve.api('POST', '/api/v1/channels/alpha/start')).status).toBe(200);

      const stats = await waitFor(() => stream.messages.find((m) => m.event === 'stats'), { message: 'stats', timeoutMs: 10_000 });
      expect(body(stats)).toMatchObject({ ids: ['alpha'], active: [] });
      // Message ids increase: a client can tell a gap from a repeat.
      const ids = stream.messages.map((m) => Number(m.id));
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
    } finally {
      await stream.cancel();
    }
  });

  it('drops a client that stops reading, keeps one that reads, and its close ends open streams', async () => {
    const bus = new EventBus();
    const log = captureLogger();
    const server = new ApiServer({
      host: '127.0.0.1',
      port: 0,
      token: TOKEN,
      channels: serve.handle.manager,
      bus,
      metrics: new Metrics({ processMetrics: false }),
      logger: log.logger,
      eventStream: { maxBufferedBytes: 64 * 1024, maxClients: 2 },
    });
    await server.start();
    let stalled: Socket | undefined;
    try {
      const reading = await openStream(server.url, TOKEN);
      // A client that sends its request and never reads a byte of the answer.
      stalled = connect(server.port, '127.0.0.1');
      stalled.on('error', () => undefined);
      // Its socket is paused, so it never sees the end of the stream; the server's log says it was dropped.
      const dropped = (): boolean => log.text().includes('event stream client too slow: dropped');
      // It reads the answer's first bytes (the stream is open), then nothing more.
      const opened = new Promise<void>((resolve) => stalled!.once('data', () => resolve()));
      stalled.write(`GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`);
      await opened;
      stalled.pause();
      // The limit of open streams holds while both are connected.
      const third = await fetch(`${server.url}/api/v1/events`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: AbortSignal.timeout(10_000) });
      expect(third.status).toBe(503);
      await third.arrayBuffer();

      // Bursts of 2 KiB events with a turn of the event loop between: the reader drains, the stalled client's
      // socket buffers fill, and then its unsent bytes pass the limit.
      const reason = 'x'.repeat(2048);
      let emitted = 0;
      for (let burst = 0; burst < 1000 && !dropped(); burst++) {
        for (let i = 0; i < 20; i++) {
          bus.emit(LivepipeEvent.ChannelStateChanged, { channel: 'alpha', state: 'idle', previous: 'idle', reason: `${emitted++} ${reason}` });
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      expect(dropped()).toBe(true);
      await waitFor(() => (reading.messages.filter((m) => m.event === LivepipeEvent.ChannelStateChanged).length === emitted ? true : undefined), {
        message: `the reading client gets all ${emitted} events`,
        timeoutMs: 20_000,
      });

      // close() ends the open stream at once instead of waiting for the forced cut.
      const started = Date.now();
      await server.close();
      await reading.ended;
      expect(Date.now() - started).toBeLessThan(API_CLOSE_GRACE_MS);
    } finally {
      stalled?.destroy();
      await server.close();
    }
  });

  it('serves the console without a token: compressed, revalidated, with its security headers', async () => {
    const page = await fetch(`${serve.apiBase}/`, { headers: { 'accept-encoding': 'gzip' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'self'; script-src 'self'/);
    expect(page.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    const html = await page.text();
    const script = /src="(\/assets\/index-[^"]+\.js)"/.exec(html)?.[1];
    expect(script, html).toBeDefined();
    // Nothing is fetched from elsewhere: every script and style is the console's own.
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);

    const asset = await fetch(`${serve.apiBase}${script}`, { headers: { 'accept-encoding': 'gzip' } });
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-encoding')).toBe('gzip');
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    await asset.arrayBuffer();
    const again = await fetch(`${serve.apiBase}${script}`, { headers: { 'if-none-match': asset.headers.get('etag')! } });
    expect(again.status).toBe(304);
    const missing = await fetch(`${serve.apiBase}/assets/nothing.js`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
  });

  it('refuses state-changing calls a browser marks as coming from another site, even with the token', async () => {
    const evil = await serve.api('POST', '/api/v1/channels/alpha/restart', undefined, { headers: { origin: 'http://evil.example' } });
    expect(evil.status).toBe(403);
    expect(evil.json.error).toMatchObject({ code: 'FORBIDDEN', message: expect.stringMatching(/http:\/\/evil\.example cannot change state/) });
    const fetchMetadata = await serve.api('DELETE', '/api/v1/channels/alpha', undefined, { headers: { 'sec-fetch-site': 'cross-site' } });
    expect(fetchMetadata.status).toBe(403);
    expect(serve.handle.manager.get('alpha')).toBeDefined();
    // The console itself (same origin) acts; reads are never refused for their origin.
    const sameOrigin = await serve.api('POST', '/api/v1/channels/alpha/stop', undefined, { headers: { origin: serve.apiBase, 'sec-fetch-site': 'same-origin' } });
    expect(sameOrigin.status).toBe(200);
    const read = await serve.api('GET', '/api/v1/channels/alpha', undefined, { headers: { origin: 'http://evil.example' } });
    expect(read.status).toBe(200);
    expect(read.headers.get('access-control-allow-origin')).toBeNull();
  });
});
