/**
 * `GET /api/v1/cluster` over serve's real stack and a real redis-server: the node's own heartbeat,
 * its channels, and who holds each channel's writer lease under which epoch — read from Redis, so a
 * lease another node holds shows as that node's. Without the cluster setting the route says 404.
 * And `/readyz` in cluster mode: not ready while Redis does not answer (the node can take no lease),
 * ready again once it does.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServerProcess } from '../../helpers/redis/redis-server.js';
import { startServeFixture, type ServeFixture } from '../../helpers/serve/serve-fixture.js';
import { waitFor } from '../../helpers/wait.js';

const KEY = 'cluster-view-key-0123456789';

interface ClusterAnswer {
  nodeId: string;
  redis: string;
  leaseTtlMs: number;
  nodes: Array<{ nodeId: string; self: boolean; apiPort: number; channels: string[] }>;
  channels: Array<{ id: string; holder?: string; epoch?: number; leaseAgeMs?: number }>;
}

describe('GET /api/v1/cluster', () => {
  let redis: RedisServerProcess;
  let serve: ServeFixture;
  let single: ServeFixture;
  let client: Redis;

  beforeAll(async () => {
    redis = await startRedisServer();
    client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    // The readiness case stops Redis: this client's reconnect errors are expected.
    client.on('error', () => undefined);
    await client.connect();
    serve = await startServeFixture(
      { cluster: { redis: redis.url, nodeId: 'node-a' }, channels: [{ id: 'news', ladder: 'constrained', key: KEY }, { id: 'sport', ladder: 'constrained', key: KEY }] },
      { token: 'cluster-view-token-0123456789' },
    );
    single = await startServeFixture({ channels: [{ id: 'news', ladder: 'constrained', key: KEY }] });
  });
  afterAll(async () => {
    client?.disconnect();
    await serve?.close();
    await single?.close();
    await redis?.close();
  });

  it('shows this node from its heartbeat and its channels with nobody writing them', async () => {
    const view = await waitFor(
      async () => {
        const answer = await serve.api('GET', '/api/v1/cluster');
        const body = answer.json as ClusterAnswer;
        // The first heartbeat goes out before the ops API listens (port 0); the next one names it.
        return answer.status === 200 && body.nodes[0]?.apiPort === Number(new URL(serve.apiBase).port) ? body : undefined;
      },
      { timeoutMs: 10_000, message: 'the node to appear in its own cluster view with its bound API port' },
    );
    expect(view.nodeId).toBe('node-a');
    expect(view.leaseTtlMs).toBeGreaterThan(0);
    expect(view.nodes).toEqual([expect.objectContaining({ nodeId: 'node-a', self: true, channels: [] })]);
    expect(view.nodes[0]!.apiPort).toBe(Number(new URL(serve.apiBase).port));
    expect(view.channels).toEqual([{ id: 'news' }, { id: 'sport' }]);
  });

  it("shows a lease held by another node: holder, epoch and age from Redis", async () => {
    await client.set('livepipe:lease:sport', 'node-b:7', 'PX', 60_000);
    const answer = await serve.api('GET', '/api/v1/cluster');
    expect(answer.status).toBe(200);
    const sport = (answer.json as ClusterAnswer).channels.find((c) => c.id === 'sport');
    expect(sport).toMatchObject({ holder: 'node-b', epoch: 7 });
    expect(sport!.leaseAgeMs).toBeGreaterThanOrEqual(0);
    expect(sport!.leaseAgeMs).toBeLessThan(60_000);
    expect((answer.json as ClusterAnswer).channels.find((c) => c.id === 'news')).toEqual({ id: 'news' });
  });

  it('needs the token, as every channel route does', async () => {
    const answer = await serve.api('GET', '/api/v1/cluster', undefined, { token: null });
    expect(answer.status).toBe(401);
  });

  it('answers 404 with the error shape on a node without the cluster setting', async () => {
    const answer = await single.api('GET', '/api/v1/cluster');
    expect(answer.status).toBe(404);
    expect(answer.json).toMatchObject({ error: { code: 'NOT_FOUND', message: expect.stringMatching(/cluster/) } });
  });

  it('/readyz: not ready (503, check cluster-redis) while Redis is stopped, ready again once it answers', async () => {
    type Readiness = { status: string; checks: Array<{ name: string; ok: boolean; error?: string }> };
    const readiness = async (fixture: ServeFixture) => {
      const answer = await fixture.api('GET', '/readyz');
      return { status: answer.status, body: answer.json as Readiness };
    };
    const ready = await waitFor(() => readiness(serve), { until: (r) => r.status === 200, timeoutMs: 15_000, message: 'serve ready' });
    expect(ready.body.checks.find((c) => c.name === 'cluster-redis')).toMatchObject({ ok: true });
    // A node without the cluster setting has no such check.
    expect((await readiness(single)).body.checks.map((c) => c.name)).not.toContain('cluster-redis');

    await redis.stop();
    const down = await waitFor(() => readiness(serve), { until: (r) => r.status === 503, timeoutMs: 15_000, message: 'not ready without Redis' });
    expect(down.body.status).toBe('not-ready');
    const check = down.body.checks.find((c) => c.name === 'cluster-redis')!;
    expect(check.ok).toBe(false);
    expect(check.error).toMatch(/redis/i);
    // Only the cluster check failed: storage, ffmpeg and the listeners are fine.
    expect(down.body.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(['cluster-redis']);

    await redis.start();
    await waitFor(() => readiness(serve), { until: (r) => r.status === 200 && r.body.status === 'ready', timeoutMs: 15_000, message: 'ready again once Redis answers' });
  }, 60_000);
});
