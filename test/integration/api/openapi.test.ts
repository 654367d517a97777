import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTES } from '../../../src/api/api-routes.js';
import { startServeFixture, type ServeFixtureWithTestApi } from '../../helpers/serve/serve-fixture.js';
import { channelInputsSchema } from '../../../src/config/service-config.js';
import { publish, type Publisher } from '../../helpers/ingest/media.js';
import { waitFor } from '../../helpers/wait.js';

const TOKEN = 'openapi-token-0123456789';
const METHODS = ['get', 'post', 'patch', 'delete', 'put'];
const PROBE_KEY = 'probe-key-0123456789';

describe('GET /api/v1/openapi.json', () => {
  let api: ServeFixtureWithTestApi;
  let doc: any;
  const publishers: Publisher[] = [];

  beforeAll(async () => {
    api = await startServeFixture({}, { testApi: { token: TOKEN } });
    const response = await fetch(`${api.testApi.base}/api/v1/openapi.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    doc = await response.json();
  });
  afterAll(async () => {
    await Promise.all(publishers.map((p) => p.stop()));
    await api?.close();
  });

  function documented(): string[] {
    return Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
      Object.keys(ops).filter((m) => METHODS.includes(m)).map((m) => `${m.toUpperCase()} ${path}`),
    );
  }

  it('is an OpenAPI 3.1 document', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.title).toBeTruthy();
    expect(doc.info.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(doc.components.securitySchemes.bearerAuth).toEqual({ type: 'http', scheme: 'bearer' });
  });

  it('documents every route the server registered, and nothing else', () => {
    const registered = api.testApi.server
      .registeredRoutes()
      .filter((route) => route.method !== 'HEAD') // fastify's automatic HEAD twins of GET routes
      .map((route) => `${route.method} ${route.url.replace(/:(\w+)/g, '{$1}')}`);
    expect(registered.length).toBe(API_ROUTES.length);
    expect([...registered].sort()).toEqual([...documented()].sort());
  });

  it('answers every documented operation over HTTP (no documented route is missing)', async () => {
    // With an inputs block, so that forcing its input (POST …/input) applies too.
    await api.handle.registry.create({ id: 'probe', ladder: 'low-latency', key: PROBE_KEY, inputs: channelInputsSchema.parse({}) });
    // Restart and kick while the publisher is live, stop before start, delete last.
    const order = ['/restart', '/kick', undefined, '/stop', '/start'];
    const rank = (operation: string): number => (operation.startsWith('DELETE') ? order.length : Math.max(2, order.findIndex((end) => end !== undefined && operation.endsWith(end))));
    const operations = documented().sort((a, b) => rank(a) - rank(b));
    for (const operation of operations) {
      const [method, path] = operation.split(' ') as [string, string];
      // restart, kick and cues act on a publisher: a real one publishes first (again after a kick).
      if (/\/(restart|kick|cues|input)$/.test(path) && api.handle.manager.get('probe')?.state !== 'live') {
        publishers.push(publish(api.rtmpUrl('probe', PROBE_KEY), 'flv'));
        await waitFor(() => (api.handle.manager.get('probe')?.state === 'live' ? true : undefined), { timeoutMs: 45_000, message: 'probe live' });
      }
      const url = `${api.testApi.base}${path.replace('{id}', 'probe')}`;
      const op = doc.paths[path][method.toLowerCase()];
      const body =
        method === 'POST' && path === '/api/v1/channels'
          ? { id: 'made', key: 'made-key-0123456789' }
          : path.endsWith('/cues')
            ? { type: 'out' }
            : path.endsWith('/input')
              ? { input: 'primary' }
            : method === 'PATCH'
              ? { ladder: 'default' }
              : undefined;
      const response = await fetch(url, {
        method,
        headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      // Read every body: an unread large response (the metrics text) keeps its connection busy. The
      // event stream never ends: its first message is read, then it is cancelled.
      if (response.headers.get('content-type')?.startsWith('text/event-stream')) await readFirstAndCancel(response);
      else await response.arrayBuffer();
      expect(Object.keys(op.responses), operation).toContain(String(response.status));
      // This serve runs without Redis: the cluster view answers its documented 404 here; its 200 is
      // checked against a real redis-server in test/integration/cluster/cluster-view.test.ts.
      if (operation === 'GET /api/v1/cluster') expect(response.status, operation).toBe(404);
      else expect(response.status, operation).toBeLessThan(300);
    }
  });

  it('requires the bearer token exactly where the server does', async () => {
    for (const operation of documented()) {
      const [method, path] = operation.split(' ') as [string, string];
      const op = doc.paths[path][method.toLowerCase()];
      const response = await fetch(`${api.testApi.base}${path.replace('{id}', 'ghost')}`, { method });
      if (response.headers.get('content-type')?.startsWith('text/event-stream')) await readFirstAndCancel(response);
      else await response.arrayBuffer();
      const secured = op.security.length > 0;
      expect(response.status === 401, `${operation}: secured=${secured}, status ${response.status}`).toBe(secured);
      if (secured) expect(op.responses['401']).toBeDefined();
    }
  });

  it('describes request bodies from the zod schemas (strict objects, constraints kept)', () => {
    const create = doc.paths['/api/v1/channels'].post.requestBody.content['application/json'].schema;
    expect(create.additionalProperties).toBe(false);
    expect(create.required).toEqual(['id']);
    expect(create.properties.id.pattern).toBe('^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$');
    expect(create.properties.key.minLength).toBe(16);
    expect(create.properties.srt.properties.passphrase).toMatchObject({ minLength: 10, maxLength: 79 });
    const patch = doc.paths['/api/v1/channels/{id}'].patch.requestBody.content['application/json'].schema;
    expect(patch.additionalProperties).toBe(false);
    expect(Object.keys(patch.properties).sort()).toEqual(['audioTracks', 'inputs', 'key', 'ladder', 'srt']);
    expect(patch.properties.srt.anyOf.some((s: { type?: string }) => s.type === 'null')).toBe(true);
    expect(patch.properties.audioTracks.anyOf.some((s: { type?: string }) => s.type === 'null')).toBe(true);
    expect(create.properties.audioTracks).toMatchObject({ type: 'array', minItems: 1, maxItems: 16 });
    expect(create.properties.audioTracks.items.properties.language.pattern).toBeDefined();
    const view = doc.paths['/api/v1/channels/{id}'].get.responses['200'].content['application/json'].schema;
    expect(view.properties.keyLast4).toBeDefined();
    expect(view.properties.key).toBeUndefined();
  });

  it('resolves every $ref', () => {
    const refs = JSON.stringify(doc).match(/"\$ref":"[^"]+"/g) ?? [];
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of new Set(refs)) {
      const pointer = JSON.parse(`{${ref}}`).$ref as string;
      expect(pointer.startsWith('#/')).toBe(true);
      const target = pointer.slice(2).split('/').reduce((node: any, key) => node?.[key], doc);
      expect(target, pointer).toBeDefined();
    }
  });
});

async function readFirstAndCancel(response: Response): Promise<void> {
  const reader = response.body!.getReader();
  await reader.read();
  await reader.cancel();
}
