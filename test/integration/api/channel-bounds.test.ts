import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../src/core/errors.js';
import { startServeFixture, type ServeFixture } from '../../helpers/serve/serve-fixture.js';

/**
 * Issue 15, point 5 through the real ops API over the real channel stack: channel definitions are
 * bounded (`maxChannelDefinitions`) and ids that differ only in letter case cannot both exist.
 */

const KEY = 'bounds-publish-key-0001';

interface Reply {
  status: number;
  json: any;
}

async function call(base: string, method: string, path: string, body?: unknown): Promise<Reply> {
  const response = await fetch(`${base}${path}`, {
    method,
    ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
  });
  const text = await response.text();
  return { status: response.status, json: text === '' ? undefined : JSON.parse(text) };
}

function expectError(reply: Reply, status: number, code: string, message: RegExp): void {
  expect(reply.status, JSON.stringify(reply.json)).toBe(status);
  expect(Object.keys(reply.json)).toEqual(['error']);
  expect(reply.json.error.code).toBe(code);
  expect(reply.json.error.message).toMatch(message);
}

describe('bounded channel definitions through the ops API', () => {
  let api: ServeFixture | undefined;
  afterEach(async () => {
    await api?.close();
    api = undefined;
  });

  it('answers 409 LIMIT_REACHED beyond maxChannelDefinitions (config-file channels count), and a delete makes room', async () => {
    api = await startServeFixture({ maxChannelDefinitions: 3, channels: [{ id: 'from-config', ladder: 'default', key: KEY }] });
    for (const id of ['one', 'two']) expect((await call(api.apiBase, 'POST', '/api/v1/channels', { id, key: KEY })).status).toBe(201);
    const refused = await call(api.apiBase, 'POST', '/api/v1/channels', { id: 'three', key: KEY });
    expectError(refused, 409, ErrorCode.LimitReached, /3 channels are defined, the most maxChannelDefinitions allows/);
    expect(refused.json.error.details).toEqual({ limit: 3 });
    expect((await call(api.apiBase, 'GET', '/api/v1/channels')).json.channels.map((c: { id: string }) => c.id)).toEqual(['from-config', 'one', 'two']);
    expect((await call(api.apiBase, 'GET', '/api/v1/channels/three')).status).toBe(404);

    expect((await call(api.apiBase, 'DELETE', '/api/v1/channels/one')).status).toBe(204);
    expect((await call(api.apiBase, 'POST', '/api/v1/channels', { id: 'three', key: KEY })).status).toBe(201);
  });

  it('holds the limit under a burst of concurrent creates', async () => {
    api = await startServeFixture({ maxChannelDefinitions: 5 });
    const base = api.apiBase;
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => call(base, 'POST', '/api/v1/channels', { id: `burst-${i}`, key: KEY })));
    expect(replies.filter((r) => r.status === 201)).toHaveLength(5);
    for (const reply of replies.filter((r) => r.status !== 201)) expectError(reply, 409, ErrorCode.LimitReached, /maxChannelDefinitions/);
    expect(api.handle.registry.list()).toHaveLength(5);
  });

  it('refuses an id that differs from an existing one only in letter case, in the API and in the registry', async () => {
    api = await startServeFixture();
    expect((await call(api.apiBase, 'POST', '/api/v1/channels', { id: 'LL', key: KEY })).status).toBe(201);
    for (const id of ['ll', 'Ll']) {
      expectError(await call(api.apiBase, 'POST', '/api/v1/channels', { id, key: KEY }), 409, ErrorCode.Conflict, /channel "LL" exists already: ids that differ only in letter case/);
    }
    // Ids are matched exactly: "ll" is not another name of "LL".
    expectError(await call(api.apiBase, 'GET', '/api/v1/channels/ll'), 404, ErrorCode.NotFound, /no channel "ll"/);
    expect((await call(api.apiBase, 'GET', '/api/v1/channels')).json.channels.map((c: { id: string }) => c.id)).toEqual(['LL']);
    expect(api.handle.registry.list().map((c) => c.id)).toEqual(['LL']);
  });

  it('refuses an API id that clashes in case with a config-file channel', async () => {
    api = await startServeFixture({ channels: [{ id: 'News', ladder: 'default', key: KEY }] });
    expectError(await call(api.apiBase, 'POST', '/api/v1/channels', { id: 'news', key: KEY }), 409, ErrorCode.Conflict, /channel "News" exists already/);
  });
});
