/**
 * Shared channels (issue 13, point 2): two `serve` nodes on one real redis-server, each with its own
 * data directory and storage. A channel created, patched or deleted through one node's ops API is
 * seen by the other node's within a second; a deleted channel that was live on the other node stops
 * there and releases its writer lease; no key or passphrase appears in full in an API answer or a
 * log line. With Redis stopped, channel changes are refused (503, the documented error shape) and
 * reads are served; once Redis is back a change made through one node reaches the other and the
 * registry is what it was.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterKeys } from '../../src/cluster/cluster-keys.js';
import { startRedisServer, type RedisServerProcess } from '../helpers/redis/redis-server.js';
import { startServeFixture, type ApiAnswer, type ServeFixture } from '../helpers/serve/serve-fixture.js';
import { waitFor } from '../helpers/wait.js';

const TOKEN = 'cluster-registry-token-0123456789';
const KEY = 'shared-key-SECRET-0123456789abcdef';
const ROTATED = 'rotated-key-SECRET-9876543210fedcba';
const PASSPHRASE = 'srt-passphrase-SECRET-42';
const CHANNELS = '/api/v1/channels';
/** The brief's bound: a change through one node is visible on every other within a second. */
const PROPAGATION_MS = 1000;

describe('shared channel registry: two serve nodes on one Redis', () => {
  let redis: RedisServerProcess;
  let a: ServeFixture;
  let b: ServeFixture;
  let client: Redis;
  /** Every API answer body of this file, checked for secrets at the end. */
  const answers: string[] = [];

  const api = async (node: ServeFixture, method: string, path: string, body?: unknown): Promise<ApiAnswer> => {
    const answer = await node.api(method, path, body);
    answers.push(answer.text);
    return answer;
  };
  const ids = async (node: ServeFixture): Promise<string[]> => {
    const answer = await api(node, 'GET', CHANNELS);
    expect(answer.status).toBe(200);
    return (answer.json.channels as Array<{ id: string }>).map((c) => c.id);
  };

  beforeAll(async () => {
    // With persistence, as docs/cluster.md asks for the registry: a restarted Redis keeps it.
    redis = await startRedisServer({ appendOnly: true });
    client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    client.on('error', () => undefined); // refused while Redis is stopped on purpose
    await client.connect();
    a = await startServeFixture({ cluster: { redis: redis.url, nodeId: 'node-a' } }, { token: TOKEN });
    b = await startServeFixture({ cluster: { redis: redis.url, nodeId: 'node-b' } }, { token: TOKEN });
  }, 60_000);
  afterAll(async () => {
    client?.disconnect();
    await a?.close();
    await b?.close();
    await redis?.close();
  });

  it('a channel created through node A is listed by node B within a second', async () => {
    const created = await api(a, 'POST', CHANNELS, { id: 'news', ladder: 'constrained', key: KEY, srt: { passphrase: PASSPHRASE } });
    expect(created.status).toBe(201);
    await waitFor(async () => (await ids(b)).includes('news'), { timeoutMs: PROPAGATION_MS, intervalMs: 25, message: 'node B to list the channel node A created' });
    const onB = await api(b, 'GET', `${CHANNELS}/news`);
    expect(onB.json).toMatchObject({ id: 'news', ladder: 'constrained', keyLast4: KEY.slice(-4) });
    // Node B armed an SRT listener for it, from its own port range.
    expect(onB.json.urls.srt).toMatch(/^srt:\/\//);
  });

  it('a patch through node B reaches node A within a second', async () => {
    const patched = await api(b, 'PATCH', `${CHANNELS}/news`, { ladder: 'default', key: ROTATED });
    expect(patched.status).toBe(200);
    await waitFor(async () => (await api(a, 'GET', `${CHANNELS}/news`)).json?.ladder === 'default', {
      timeoutMs: PROPAGATION_MS,
      intervalMs: 25,
      message: "node A to see node B's patch",
    });
    expect((await api(a, 'GET', `${CHANNELS}/news`)).json.keyLast4).toBe(ROTATED.slice(-4));
  });

  it('a delete through node B stops the channel node A was writing and releases its lease', async () => {
    expect((await api(b, 'POST', CHANNELS, { id: 'live1', ladder: 'constrained', key: KEY })).status).toBe(201);
    await waitFor(async () => (await ids(a)).includes('live1'), { timeoutMs: PROPAGATION_MS, intervalMs: 25, message: 'node A to list live1' });
    a.publish(a.rtmpUrl('live1', KEY), 'flv');
    const lease = await waitFor(async () => (await client.get(clusterKeys.lease('live1'))) ?? undefined, {
      timeoutMs: 30_000,
      message: 'node A to take the writer lease of live1 (publisher connected)',
    });
    expect(lease).toMatch(/^node-a:\d+$/);
    expect((await api(b, 'DELETE', `${CHANNELS}/live1`)).status).toBe(204);
    await waitFor(async () => (await api(a, 'GET', `${CHANNELS}/live1`)).status === 404, {
      timeoutMs: PROPAGATION_MS,
      intervalMs: 25,
      message: "node A to drop the channel node B deleted",
    });
    await waitFor(async () => (await client.exists(clusterKeys.lease('live1'))) === 0, { timeoutMs: 10_000, message: 'the lease of the deleted channel released' });
    expect(a.state('live1')).toBeUndefined();
  }, 60_000);

  it('with Redis stopped: channel changes get 503 in the error shape, reads are served; once back, changes flow again and the registry is intact', async () => {
    const before = await ids(a);
    expect(before).toEqual(['news']);
    await redis.stop();
    try {
      for (const [node, method, path, body] of [
        [a, 'POST', CHANNELS, { id: 'during', ladder: 'constrained', key: KEY }],
        [b, 'PATCH', `${CHANNELS}/news`, { ladder: 'constrained' }],
        [b, 'DELETE', `${CHANNELS}/news`, undefined],
      ] as const) {
        const answer = await api(node, method, path, body);
        expect(answer.status, `${method} ${path}`).toBe(503);
        expect(answer.json).toEqual({ error: { code: 'UNAVAILABLE', message: expect.stringMatching(/registry/) } });
      }
      expect(await ids(a)).toEqual(before);
      expect(await ids(b)).toEqual(before);
    } finally {
      await redis.start();
    }
    // Node A writes as soon as its connection is back; node B reads the change after its own reconnect.
    await waitFor(async () => (await api(a, 'POST', CHANNELS, { id: 'after', ladder: 'constrained', key: KEY })).status === 201, {
      timeoutMs: 15_000,
      intervalMs: 200,
      message: 'node A to accept a channel change once Redis is back',
    });
    await waitFor(async () => (await ids(b)).includes('after'), { timeoutMs: 10_000, message: 'node B to list the channel created after the outage' });
    expect(await ids(a)).toEqual(['after', 'news']);
    expect(await ids(b)).toEqual(['after', 'news']);
    expect((await client.hkeys(clusterKeys.channels)).sort()).toEqual(['after', 'news']);
    expect((await api(b, 'GET', `${CHANNELS}/news`)).json).toMatchObject({ ladder: 'default', keyLast4: ROTATED.slice(-4) });
  }, 60_000);

  it('never shows a key or passphrase in full: not in any API answer, not in either log', () => {
    const secrets = [KEY, ROTATED, PASSPHRASE];
    expect(answers.length).toBeGreaterThan(10);
    for (const text of [...answers, a.logs.text(), b.logs.text()]) {
      for (const secret of secrets) expect(text).not.toContain(secret);
    }
    // The logs did record the registry's work (so the check above had something to read).
    expect(b.logs.text()).toMatch(/channel registry changed on another node/);
  });
});
