import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { API_CLOSE_GRACE_MS, ApiServer } from '../../../src/api/api-server.js';
import { tokenIdentity } from '../../../src/api/bearer-auth.js';
import { Metrics, removeSeriesOnChannelRemoval } from '../../../src/observability/metrics.js';
import { ErrorCode, isLivepipeError } from '../../../src/core/errors.js';
import { captureLogger } from '../../helpers/logs/api-log-capture.js';
import { startServeFixture, type ServeFixtureWithTestApi } from '../../helpers/serve/serve-fixture.js';
import type { ChannelService } from '../../../src/channels/channel-service.js';
import { parsePrometheusText, sampleValue } from '../../helpers/observability/prometheus-text-parser.js';

const TOKEN = 'test-token-0123456789abcdef';
const KEY = 'news-publish-key-0001';
const OTHER_KEY = 'rotated-publish-key-9876';

interface CallOptions {
  token?: string | null;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
}

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

function client(base: string, defaultToken: string | undefined) {
  return async (method: string, path: string, options: CallOptions = {}): Promise<Reply> => {
    const headers: Record<string, string> = { ...options.headers };
    const token = options.token === undefined ? defaultToken : options.token;
    if (token !== null && token !== undefined) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (options.rawBody !== undefined) body = options.rawBody;
    else if (options.body !== undefined) body = JSON.stringify(options.body);
    if (body !== undefined && headers['content-type'] === undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${base}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await response.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.status, headers: response.headers, text, json };
  };
}

function expectError(reply: Reply, status: number, code: string, message?: RegExp): void {
  expect(reply.status, reply.text).toBe(status);
  expect(reply.headers.get('content-type')).toMatch(/^application\/json/);
  expect(reply.json.error.code).toBe(code);
  expect(typeof reply.json.error.message).toBe('string');
  if (message) expect(reply.json.error.message).toMatch(message);
}

describe('ops API with a token', () => {
  let api: ServeFixtureWithTestApi;
  let call: ReturnType<typeof client>;

  beforeEach(async () => {
    api = await startServeFixture({}, { testApi: { token: TOKEN } });
    call = client(api.testApi.base, TOKEN);
  });
  afterEach(async () => {
    await api.close();
  });

  describe('authentication', () => {
    it('answers 401 with a Bearer challenge when no token is sent', async () => {
      const reply = await call('GET', '/api/v1/channels', { token: null });
      expectError(reply, 401, ErrorCode.Unauthorized, /missing bearer token/);
      expect(reply.headers.get('www-authenticate')).toBe('Bearer realm="livepipe"');
    });

    it('answers 401 invalid_request for a non-Bearer Authorization header', async () => {
      const reply = await call('GET', '/api/v1/channels', { token: null, headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } });
      expectError(reply, 401, ErrorCode.Unauthorized, /malformed/);
      expect(reply.headers.get('www-authenticate')).toContain('error="invalid_request"');
    });

    it('answers 403 invalid_token for a wrong token', async () => {
      const reply = await call('GET', '/api/v1/channels', { token: 'wrong-token-0123456789abcdef' });
      expectError(reply, 403, ErrorCode.Forbidden, /invalid bearer token/);
      expect(reply.headers.get('www-authenticate')).toContain('error="invalid_token"');
    });

    it('accepts the right token', async () => {
      const reply = await call('GET', '/api/v1/channels');
      expect(reply.status).toBe(200);
      expect(reply.json).toEqual({ channels: [] });
    });

    it('authenticates before reading the body: no token and bad JSON is a 401, and nothing changes', async () => {
      const reply = await call('POST', '/api/v1/channels', { token: null, rawBody: '{nope' });
      expect(reply.status).toBe(401);
      expect(api.handle.registry.list()).toEqual([]);
    });

    it('leaves probes, metrics and the OpenAPI document open', async () => {
      for (const path of ['/healthz', '/readyz', '/metrics', '/api/v1/openapi.json']) {
        expect((await call('GET', path, { token: null })).status, path).toBe(200);
      }
    });

    it('audits denied mutating calls, which change nothing', async () => {
      expect((await call('POST', '/api/v1/channels', { body: { id: 'news', key: KEY } })).status).toBe(201);
      const reply = await call('DELETE', '/api/v1/channels/news', { token: 'wrong-token-0123456789abcdef' });
      expect(reply.status).toBe(403);
      expect(api.handle.registry.has('news')).toBe(true);
      expect(api.handle.manager.get('news')?.state).toBe('idle');
      const audit = api.testApi.log.component('audit');
      expect(audit).toHaveLength(2);
      expect(audit[1]).toMatchObject({ who: 'unauthenticated', operation: 'deleteChannel', channel: 'news', status: 403, outcome: 'denied', remoteAddress: '127.0.0.1' });
    });
  });

  describe('channels', () => {
    it('creates a channel: 201, Location, the view without the key', async () => {
      const reply = await call('POST', '/api/v1/channels', { body: { id: 'news', ladder: 'low-latency', key: KEY } });
      expect(reply.status, reply.text).toBe(201);
      expect(reply.headers.get('location')).toBe('/api/v1/channels/news');
      expect(reply.json).toMatchObject({ id: 'news', ladder: 'low-latency', state: 'idle', keyLast4: KEY.slice(-4) });
      expect(reply.json.key).toBeUndefined();
      expect(reply.text).not.toContain(KEY);
      expect(api.handle.registry.verifyKey('news', KEY)).toBe(true);
    });

    it('generates a key when none is given and returns it once', async () => {
      const reply = await call('POST', '/api/v1/channels', { body: { id: 'gen' } });
      expect(reply.status).toBe(201);
      expect(reply.json.key).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect(reply.json.ladder).toBe('default');
      expect(api.handle.registry.verifyKey('gen', reply.json.key)).toBe(true);
      const again = await call('GET', '/api/v1/channels/gen');
      expect(again.json.key).toBeUndefined();
      expect(again.text).not.toContain(reply.json.key);
    });

    it('lists and gets channels, never showing keys', async () => {
      await call('POST', '/api/v1/channels', { body: { id: 'b-chan', key: KEY } });
      await call('POST', '/api/v1/channels', { body: { id: 'a-chan', key: OTHER_KEY, srt: { passphrase: 'a-secret-passphrase' } } });
      const list = await call('GET', '/api/v1/channels');
      expect(list.status).toBe(200);
      expect(list.json.channels.map((c: { id: string }) => c.id)).toEqual(['a-chan', 'b-chan']);
      expect(list.text).not.toContain(KEY);
      expect(list.text).not.toContain(OTHER_KEY);
      expect(list.text).not.toContain('a-secret-passphrase');
      const one = await call('GET', '/api/v1/channels/a-chan');
      expect(one.status).toBe(200);
      expect(one.json).toMatchObject({ id: 'a-chan', keyLast4: OTHER_KEY.slice(-4), urls: { srt: expect.stringContaining('srt://') } });
    });

    it('answers 404 for unknown channels on every channel route', async () => {
      const routes: Array<[string, string, unknown?]> = [
        ['GET', '/api/v1/channels/ghost'],
        ['PATCH', '/api/v1/channels/ghost', { ladder: 'default' }],
        ['DELETE', '/api/v1/channels/ghost'],
        ['POST', '/api/v1/channels/ghost/restart'],
        ['POST', '/api/v1/channels/ghost/stop'],
        ['POST', '/api/v1/channels/ghost/start'],
        ['POST', '/api/v1/channels/ghost/kick'],
      ];
      for (const [method, path, body] of routes) {
        expectError(await call(method, path, body === undefined ? {} : { body }), 404, ErrorCode.NotFound, /ghost/);
      }
    });

    it('answers 400 for a channel id outside the id alphabet', async () => {
      expectError(await call('GET', '/api/v1/channels/bad.id'), 400, ErrorCode.BadRequest, /invalid channel id/);
    });

    it('answers 409 for an existing id and for a taken SRT port', async () => {
      await call('POST', '/api/v1/channels', { body: { id: 'news', key: KEY, srt: { port: 9001, passphrase: 'passphrase-one' } } });
      expectError(await call('POST', '/api/v1/channels', { body: { id: 'news', key: KEY } }), 409, ErrorCode.Conflict, /exists/);
      expectError(
        await call('POST', '/api/v1/channels', { body: { id: 'other', key: KEY, srt: { port: 9001, passphrase: 'passphrase-two' } } }),
        409,
        ErrorCode.Conflict,
        /SRT port 9001/,
      );
    });

    it('answers 422 for an unknown ladder', async () => {
      expectError(await call('POST', '/api/v1/channels', { body: { id: 'news', key: KEY, ladder: 'nope' } }), 422, ErrorCode.LadderNotFound, /nope/);
    });

    it('rotates the key, changes the ladder and removes SRT with PATCH', async () => {
      await call('POST', '/api/v1/channels', { body: { id: 'news', key: KEY, srt: { passphrase: 'passphrase-one' } } });
      const rotated = await call('PATCH', '/api/v1/channels/news', { body: { key: OTHER_KEY } });
      expect(rotated.status, rotated.text).toBe(200);
      expect(rotated.json.keyLast4).toBe(OTHER_KEY.slice(-4));
      expect(api.handle.registry.verifyKey('news', OTHER_KEY)).toBe(true);
      expect(api.handle.registry.verifyKey('news', KEY)).toBe(false);

      const laddered = await call('PATCH', '/api/v1/channels/news', { body: { ladder: 'low-latency', srt: null } });
      expect(laddered.status).toBe(200);
      expect(laddered.json.ladder).toBe('low-latency');
      expect(laddered.json.urls.srt).toBeUndefined();
      expect(api.handle.registry.get('news')?.srt).toBeUndefined();

      const merged = await call('PATCH', '/api/v1/channels/news', { body: { ladder: 'default' }, headers: { 'content-type': 'application/merge-patch+json' } });
      expect(merged.status, merged.text).toBe(200);
      expect(merged.json.ladder).toBe('default');

      expectError(await call('PATCH', '/api/v1/channels/news', { body: {} }), 400, ErrorCode.BadRequest, /nothing to change/);
      expectError(await call('PATCH', '/api/v1/channels/news', { body: { ladder: 'nope' } }), 422, ErrorCode.LadderNotFound);
    });

    it('deletes a channel: 204, then 404', async () => {
      await call('POST', '/api/v1/channels', { body: { id: 'news', key: KEY } });
      const deleted = await call('DELETE', '/api/v1/channels/news');
      expect(deleted.status).toBe(204);
      expect(deleted.text).toBe('');
      expect((await call('GET', '/api/v1/channels/news')).status).toBe(404);
      expect((await call('DELETE', '/api/v1/channels/news')).status).toBe(404);
    });

    // With a publisher (restart → a new encoder run, kick → reconnecting): test/e2e/ops-api.test.ts.
    it('stops and starts a channel, and answers 409 to restart and kick without a publisher', async () => {
      await call('POST', '/api/v1/channels', { body: { id: 'news', key: KEY } });
      expectError(await call('POST', '/api/v1/channels/news/restart'), 409, ErrorCode.Conflict, /no publisher: nothing to restart/);
      expectError(await call('POST', '/api/v1/channels/news/kick'), 409, ErrorCode.Conflict, /no publisher to kick/);
      const stopped = await call('POST', '/api/v1/channels/news/stop');
      expect(stopped.status).toBe(200);
      expect(stopped.json).toMatchObject({ id: 'news', state: 'stopped', transcoder: { state: 'idle', runId: 0 } });
      expect(api.handle.manager.get('news')?.state).toBe('stopped');
      const started = await call('POST', '/api/v1/channels/news/start');
      expect(started.status).toBe(200);
      expect(started.json.state).toBe('idle');
      expect(api.testApi.log.component('audit').map((line) => `${line.operation} ${line.status}`)).toEqual([
        'createChannel 201',
        'restartChannel 409',
        'kickChannel 409',
        'stopChannel 200',
        'startChannel 200',
      ]);
    });

    it('answers 404 JSON for unknown routes', async () => {
      expectError(await call('GET', '/api/v1/nope'), 404, ErrorCode.NotFound, /no route GET \/api\/v1\/nope/);
    });

    it('answers 405 with Allow for a known path and a method it does not serve', async () => {
      const reply = await call('PUT', '/api/v1/channels/news', { body: { ladder: 'default' } });
      expectError(reply, 405, ErrorCode.BadRequest, /PUT is not allowed/);
      expect(reply.headers.get('allow')).toBe('GET, PATCH, DELETE, HEAD');
      expect((await call('GET', '/api/v1/channels/news/restart')).headers.get('allow')).toBe('POST');
    });
  });

  describe('request validation', () => {
    it('rejects bad JSON with the reason', async () => {
      expectError(await call('POST', '/api/v1/channels', { rawBody: '{"id": "news",' }), 400, ErrorCode.BadRequest, /body is not valid JSON: .*position 14/);
    });

    it('rejects wrong types naming the field', async () => {
      const reply = await call('POST', '/api/v1/channels', { body: { id: 5, key: KEY, srt: { passphrase: 'passphrase-one', port: 'x' } } });
      expectError(reply, 400, ErrorCode.BadRequest, /body: id: .*expected string/);
      expect(reply.json.error.message).toMatch(/body: srt\.port: .*expected number/);
    });

    it('rejects unknown fields naming them', async () => {
      expectError(await call('POST', '/api/v1/channels', { body: { id: 'news', key: KEY, colour: 'red' } }), 400, ErrorCode.BadRequest, /colour/);
      await call('POST', '/api/v1/channels', { body: { id: 'news', key: KEY } });
      expectError(await call('PATCH', '/api/v1/channels/news', { body: { id: 'renamed' } }), 400, ErrorCode.BadRequest, /"id"/);
    });

    it('rejects values out of range with the schema reason', async () => {
      expectError(await call('POST', '/api/v1/channels', { body: { id: 'news', key: 'short' } }), 400, ErrorCode.BadRequest, /body: key: stream keys must be at least 16 characters/);
      expectError(await call('POST', '/api/v1/channels', { body: { id: '../etc', key: KEY } }), 400, ErrorCode.BadRequest, /body: id/);
    });

    it('rejects a body that is not an object, and a missing body', async () => {
      expectError(await call('POST', '/api/v1/channels', { body: [{ id: 'news', key: KEY }] }), 400, ErrorCode.BadRequest, /expected object/);
      expectError(await call('POST', '/api/v1/channels'), 400, ErrorCode.BadRequest, /JSON object is required/);
      expectError(await call('POST', '/api/v1/channels', { rawBody: '' }), 400, ErrorCode.BadRequest, /empty/);
    });

    it('rejects an oversized body with 413', async () => {
      const reply = await call('POST', '/api/v1/channels', { body: { id: 'news', key: KEY, padding: 'x'.repeat(20_000) } });
      expectError(reply, 413, ErrorCode.BadRequest, /larger than 16384 bytes/);
      expect(api.handle.registry.has('news')).toBe(false);
    });

    it('rejects a non-JSON content type with 415', async () => {
      expectError(
        await call('POST', '/api/v1/channels', { rawBody: 'id=news', headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
        415,
        ErrorCode.BadRequest,
        /application\/json/,
      );
      expectError(
        await call('POST', '/api/v1/channels', { rawBody: JSON.stringify({ id: 'news', key: KEY }), headers: { 'content-type': 'text/plain' } }),
        415,
        ErrorCode.BadRequest,
      );
    });

    it('rejects prototype pollution attempts', async () => {
      const reply = await call('POST', '/api/v1/channels', { rawBody: `{"id":"news","key":"${KEY}","__proto__":{"admin":true}}` });
      expectError(reply, 400, ErrorCode.BadRequest, /forbidden key "__proto__"/);
      expect(api.handle.registry.has('news')).toBe(false);
    });
  });

  describe('audit', () => {
    it('writes one line per mutating call with who, where and what, never the key or token', async () => {
      await call('POST', '/api/v1/channels', { body: { id: 'news', key: KEY, srt: { passphrase: 'a-secret-passphrase' } } });
      await call('GET', '/api/v1/channels/news');
      await call('PATCH', '/api/v1/channels/news', { body: { key: OTHER_KEY } });
      await call('POST', '/api/v1/channels/news/restart');
      await call('POST', '/api/v1/channels', { body: { id: 'news', key: KEY } });
      await call('DELETE', '/api/v1/channels/news');

      const audit = api.testApi.log.component('audit');
      expect(audit.map((line) => [line.operation, line.status, line.outcome])).toEqual([
        ['createChannel', 201, 'ok'],
        ['updateChannel', 200, 'ok'],
        ['restartChannel', 409, 'failed'], // no publisher
        ['createChannel', 409, 'failed'],
        ['deleteChannel', 204, 'ok'],
      ]);
      for (const line of audit) {
        expect(line).toMatchObject({ who: tokenIdentity(TOKEN), remoteAddress: '127.0.0.1', channel: 'news', level: 30 });
      }
      expect(audit[0]).toMatchObject({ fields: ['id', 'key', 'srt'], keyGenerated: false, method: 'POST', url: '/api/v1/channels' });
      expect(audit[1]).toMatchObject({ fields: ['key'] });
      const everything = api.testApi.log.text();
      for (const secret of [KEY, OTHER_KEY, TOKEN, 'a-secret-passphrase']) expect(everything).not.toContain(secret);
    });
  });

  describe('health and metrics', () => {
    it('drops a deleted channel\'s series from /metrics', async () => {
      const unsubscribe = removeSeriesOnChannelRemoval(api.handle.registry, api.testApi.metrics);
      await call('POST', '/api/v1/channels', { body: { id: 'news', key: KEY } });
      await call('POST', '/api/v1/channels', { body: { id: 'sport', key: KEY } });
      for (const channel of ['news', 'sport']) {
        api.testApi.metrics.setChannelState(channel, 'live');
        api.testApi.metrics.countPart(channel, '720p');
      }
      await call('DELETE', '/api/v1/channels/news');
      const parsed = parsePrometheusText((await call('GET', '/metrics')).text);
      expect(parsed.samples.filter((sample) => sample.labels.channel === 'news')).toEqual([]);
      expect(sampleValue(parsed, 'livepipe_parts_total', { channel: 'sport', rendition: '720p' })).toBe(1);
      unsubscribe();
    });

    it('answers /healthz', async () => {
      const reply = await call('GET', '/healthz');
      expect(reply.status).toBe(200);
      expect(reply.json).toEqual({ status: 'ok' });
    });

    it('serves Prometheus text with the livepipe families', async () => {
      api.testApi.metrics.countPart('news', '720p');
      const reply = await call('GET', '/metrics', { token: null });
      expect(reply.status).toBe(200);
      expect(reply.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      const parsed = parsePrometheusText(reply.text);
      expect(parsed.types.get('livepipe_parts_total')).toBe('counter');
      expect(sampleValue(parsed, 'livepipe_parts_total', { channel: 'news', rendition: '720p' })).toBe(1);
      api.testApi.metrics.countPart('news', '720p');
      const again = parsePrometheusText((await call('GET', '/metrics', { token: null })).text);
      expect(sampleValue(again, 'livepipe_parts_total', { channel: 'news', rendition: '720p' })).toBe(2);
    });
  });

  it('keeps API-made channels across a restart of the service', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'livepipe-api-restart-'));
    try {
      const first = await startServeFixture({ dataDir }, { testApi: { token: TOKEN } });
      try {
        const firstCall = client(first.testApi.base, TOKEN);
        expect((await firstCall('POST', '/api/v1/channels', { body: { id: 'news', key: KEY } })).status).toBe(201);
        expect((await firstCall('PATCH', '/api/v1/channels/news', { body: { ladder: 'low-latency' } })).status).toBe(200);
      } finally {
        await first.close();
      }
      const second = await startServeFixture({ dataDir }, { testApi: { token: TOKEN } });
      try {
        const reply = await client(second.testApi.base, TOKEN)('GET', '/api/v1/channels/news');
        expect(reply.status).toBe(200);
        expect(reply.json).toMatchObject({ id: 'news', ladder: 'low-latency', state: 'idle' });
        expect(second.handle.registry.verifyKey('news', KEY)).toBe(true);
      } finally {
        await second.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('readiness', () => {
  it('stays 200 but says degraded when only checks that degrade the node fail', async () => {
    const api = await startServeFixture({}, {
      testApi: {
        readiness: [
          { name: 'storage', degradesOnly: true, check: async () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:4569')) },
          { name: 'ffmpeg', check: () => {} },
        ],
      },
    });
    try {
      const reply = await client(api.testApi.base, undefined)('GET', '/readyz');
      expect(reply.status).toBe(200);
      expect(reply.json).toEqual({
        status: 'degraded',
        checks: [
          { name: 'storage', ok: false, error: 'connect ECONNREFUSED 127.0.0.1:4569', degraded: true },
          { name: 'ffmpeg', ok: true },
        ],
      });
    } finally {
      await api.close();
    }
  });


  it('answers 200 with every check when all pass', async () => {
    const api = await startServeFixture({}, { testApi: { readiness: [{ name: 'storage', check: async () => {} }, { name: 'ffmpeg', check: () => {} }] } });
    try {
      const reply = await client(api.testApi.base, undefined)('GET', '/readyz');
      expect(reply.status).toBe(200);
      expect(reply.json).toEqual({ status: 'ready', checks: [{ name: 'storage', ok: true }, { name: 'ffmpeg', ok: true }] });
    } finally {
      await api.close();
    }
  });

  it('answers 503 naming the failing check and its reason', async () => {
    const api = await startServeFixture({}, {
      testApi: {
        readiness: [
          { name: 'storage', check: async () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:4569')) },
          { name: 'ffmpeg', check: () => {} },
          { name: 'listeners', check: () => { throw new Error('not listening: rtmp'); } },
        ],
      },
    });
    try {
      const reply = await client(api.testApi.base, undefined)('GET', '/readyz');
      expect(reply.status).toBe(503);
      expect(reply.json.status).toBe('not-ready');
      expect(reply.json.checks).toEqual([
        { name: 'storage', ok: false, error: 'connect ECONNREFUSED 127.0.0.1:4569' },
        { name: 'ffmpeg', ok: true },
        { name: 'listeners', ok: false, error: 'not listening: rtmp' },
      ]);
    } finally {
      await api.close();
    }
  });
});

describe('open mode (no token)', () => {
  it('serves on loopback with a warning and audits as loopback-open', async () => {
    const api = await startServeFixture({}, { testApi: {} });
    try {
      const warning = api.testApi.log.component('api').find((line) => line.level === 40);
      expect(warning?.msg).toMatch(/open: no LIVEPIPE_API_TOKEN/);
      const call = client(api.testApi.base, undefined);
      expect((await call('POST', '/api/v1/channels', { body: { id: 'news', key: KEY } })).status).toBe(201);
      expect(api.testApi.log.component('audit')[0]).toMatchObject({ who: 'loopback-open', operation: 'createChannel', channel: 'news' });
    } finally {
      await api.close();
    }
  });

  it('refuses to start on a non-loopback bind without a token', async () => {
    const log = captureLogger();
    const server = new ApiServer({ host: '0.0.0.0', port: 0, channels: {} as ChannelService, metrics: new Metrics({ processMetrics: false }), logger: log.logger });
    let error: unknown;
    try {
      await server.start();
    } catch (err) {
      error = err;
    }
    expect(isLivepipeError(error, ErrorCode.ConfigInvalid)).toBe(true);
    expect((error as Error).message).toMatch(/refusing to serve the ops API on 0\.0\.0\.0 without a token: set LIVEPIPE_API_TOKEN/);
    expect(server.isListening()).toBe(false);
    await server.close();
  });

  it('serves probes and metrics on any bind without a token when it manages no channels (the standalone origin\'s ops port)', async () => {
    const log = captureLogger();
    const server = new ApiServer({ host: '0.0.0.0', port: 0, metrics: new Metrics({ processMetrics: false }), logger: log.logger });
    await server.start();
    try {
      const call = client(`http://127.0.0.1:${server.port}`, undefined);
      expect((await call('GET', '/healthz')).status).toBe(200);
      expect((await call('GET', '/metrics')).status).toBe(200);
      expectError(await call('GET', '/api/v1/channels'), 404, ErrorCode.NotFound);
      expectError(await call('POST', '/api/v1/channels', { body: { id: 'news', key: KEY } }), 404, ErrorCode.NotFound);
      expect(log.component('api').some((line) => line.level === 40)).toBe(false); // nothing is open that needs a token
    } finally {
      await server.close();
    }
  });

  it('refuses a token shorter than 16 characters', async () => {
    const server = new ApiServer({ host: '127.0.0.1', port: 0, token: 'short', channels: {} as ChannelService, metrics: new Metrics({ processMetrics: false }), logger: captureLogger().logger });
    await expect(server.start()).rejects.toThrow(/too short/);
  });

  it('refuses a token that cannot travel in a Bearer header', async () => {
    const server = new ApiServer({ host: '127.0.0.1', port: 0, token: 'a token with spaces and !', channels: {} as ChannelService, metrics: new Metrics({ processMetrics: false }), logger: captureLogger().logger });
    await expect(server.start()).rejects.toThrow(/characters a bearer token cannot carry/);
  });

  it('fails loudly when the port is taken', async () => {
    const first = await startServeFixture({}, { testApi: {} });
    try {
      const port = first.testApi.server.port;
      const second = new ApiServer({ host: '127.0.0.1', port, channels: first.handle.manager, metrics: first.testApi.metrics, logger: captureLogger().logger });
      await expect(second.start()).rejects.toThrow(new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}`));
      await second.close();
    } finally {
      await first.close();
    }
  });
});

/** Every call passed to the real channel manager, for the tests below to replace one with a fault. */
function passThrough(channels: ChannelService): ChannelService {
  return {
    list: () => channels.list(),
    get: (id) => channels.get(id),
    create: (spec) => channels.create(spec),
    update: (id, patch) => channels.update(id, patch),
    remove: (id) => channels.remove(id),
    restart: (id) => channels.restart(id),
    stop: (id) => channels.stop(id),
    start: (id) => channels.start(id),
    kick: (id) => channels.kick(id),
    cue: (id, request) => channels.cue(id, request),
  };
}

describe('internal errors', () => {
  it('answers 500 INTERNAL without leaking the message, and logs it', async () => {
    const api = await startServeFixture({}, { testApi: { token: TOKEN } });
    const broken: ChannelService = {
      ...passThrough(api.handle.manager),
      restart: async () => {
        throw new Error('database password is hunter2');
      },
    };
    const server = new ApiServer({ host: '127.0.0.1', port: 0, token: TOKEN, channels: broken, metrics: api.testApi.metrics, logger: api.testApi.log.logger });
    await server.start();
    try {
      await api.handle.registry.create({ id: 'news', key: KEY });
      const reply = await client(server.url, TOKEN)('POST', '/api/v1/channels/news/restart');
      expectError(reply, 500, ErrorCode.Internal, /internal error/);
      expect(reply.text).not.toContain('hunter2');
      expect(api.testApi.log.component('api').some((line) => line.level === 50 && String(line.err).includes('hunter2'))).toBe(true);
    } finally {
      await server.close();
      await api.close();
    }
  });

  it('strips fields outside the ChannelView contract (a leaked key never leaves)', async () => {
    const api = await startServeFixture({}, { testApi: { token: TOKEN } });
    const leaky: ChannelService = {
      ...passThrough(api.handle.manager),
      get: (id) => {
        const view = api.handle.manager.get(id);
        return view && ({ ...view, key: KEY, internal: { passphrase: 'x' } } as typeof view);
      },
    };
    const server = new ApiServer({ host: '127.0.0.1', port: 0, token: TOKEN, channels: leaky, metrics: api.testApi.metrics, logger: api.testApi.log.logger });
    await server.start();
    try {
      await api.handle.registry.create({ id: 'news', key: KEY });
      const reply = await client(server.url, TOKEN)('GET', '/api/v1/channels/news');
      expect(reply.status).toBe(200);
      expect(reply.json.id).toBe('news');
      expect(reply.json.key).toBeUndefined();
      expect(reply.json.internal).toBeUndefined();
      expect(reply.text).not.toContain(KEY);
    } finally {
      await server.close();
      await api.close();
    }
  });
});

describe('shutdown', () => {
  it('cuts a connection stuck mid-request after the grace period instead of waiting for it', async () => {
    const api = await startServeFixture({}, { testApi: { token: TOKEN } });
    const { port } = new URL(api.testApi.base);
    // A client that sent half a request and went quiet: its connection is not idle, so a plain
    // close would wait for the request timeout (10 s, checked every 30 s).
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const socketClosed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await new Promise((r) => setTimeout(r, 100));
    const started = performance.now();
    await api.close();
    const closedAfterMs = performance.now() - started;
    await socketClosed;
    expect(closedAfterMs).toBeGreaterThanOrEqual(API_CLOSE_GRACE_MS - 100);
    // Well before the request timeout would have ended the stuck request.
    expect(closedAfterMs).toBeLessThan(9_000);
  }, 20_000);
});
