import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServerProcess } from '../../helpers/redis/redis-server.js';

// The cluster tests stand on this helper: a real redis-server that can be stopped, frozen and
// restarted under a live client. If Debian's redis-server is missing, setup.sh --test installs it.
describe('redis-server test helper', () => {
  let redis: RedisServerProcess;
  beforeAll(async () => {
    redis = await startRedisServer({ appendOnly: true });
  });
  afterAll(async () => redis?.close());

  it('serves a real Redis that keeps its data across stop and start with appendOnly', async () => {
    const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await client.connect();
    await client.set('livepipe:test', 'kept');
    expect(await client.get('livepipe:test')).toBe('kept');
    client.disconnect();

    const pidBefore = redis.pid();
    await redis.stop();
    await redis.start();
    expect(redis.pid()).not.toBe(pidBefore);

    const again = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await again.connect();
    expect(await again.get('livepipe:test')).toBe('kept');
    again.disconnect();
  });
});
