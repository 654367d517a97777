/**
 * The channel registry's Redis store on a real redis-server: compare-and-set writes on the revision,
 * the seed from a node's state file, and two registries (two "nodes", two connections) on one Redis —
 * the rules (create-if-absent, letter case, the definition cap) hold across both under concurrent
 * writes, each sees the other's changes, a change nobody announced is found by the revision check,
 * and a Redis that goes away leaves the last state readable and writes refused with `Unavailable`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ChannelRegistry, type ChannelChange } from '../../../src/channels/channel-registry.js';
import { FileRegistryStore, defaultStateFile } from '../../../src/channels/channel-registry-store.js';
import { clusterKeys } from '../../../src/cluster/cluster-keys.js';
import { RedisConnection } from '../../../src/cluster/redis-connection.js';
import { RedisRegistryStore, parseRegistryNotification } from '../../../src/cluster/redis-registry-store.js';
import type { ChannelConfig } from '../../../src/config/service-config.js';
import { ErrorCode, isLivepipeError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { startRedisServer, type RedisServerProcess } from '../../helpers/redis/redis-server.js';
import { waitFor } from '../../helpers/wait.js';
import { errorCodeOf } from '../../helpers/errors.js';

const KEY = 'registry-store-key-0123456789';
const CONFIG: ChannelConfig[] = [{ id: 'from-config', ladder: 'default', key: KEY }];


describe('RedisRegistryStore on a real redis-server', () => {
  let redis: RedisServerProcess;
  let raw: Redis;
  let dir: string;
  const connections: RedisConnection[] = [];
  const registries: ChannelRegistry[] = [];

  const connection = async (): Promise<RedisConnection> => {
    const c = new RedisConnection({ url: redis.url, logger: silentLogger(), commandTimeoutMs: 1000 });
    connections.push(c);
    expect(await c.connect()).toBe(true);
    return c;
  };

  /** A "node": its own connection, store and registry, with every change it emits recorded. */
  const node = async (options: { maxChannels?: number; seedFrom?: FileRegistryStore; checkIntervalMs?: number } = {}) => {
    const store = new RedisRegistryStore({ redis: await connection(), logger: silentLogger(), ...(options.checkIntervalMs ? { checkIntervalMs: options.checkIntervalMs } : {}) });
    const registry = new ChannelRegistry({
      configChannels: CONFIG,
      store,
      logger: silentLogger(),
      ...(options.seedFrom !== undefined ? { seedFrom: options.seedFrom } : {}),
      ...(options.maxChannels !== undefined ? { maxChannels: options.maxChannels } : {}),
    });
    registries.push(registry);
    const changes: ChannelChange[] = [];
    registry.onChange((c) => changes.push(c));
    await registry.start();
    return { store, registry, changes };
  };

  beforeAll(async () => {
    redis = await startRedisServer({ appendOnly: true });
    raw = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    raw.on('error', () => undefined); // refused while Redis is stopped on purpose
    await raw.connect();
  });
  beforeEach(async () => {
    await raw.flushall();
    dir = await mkdtemp(join(tmpdir(), 'livepipe-registry-store-'));
  });
  afterEach(async () => {
    for (const r of registries.splice(0)) await r.close();
    for (const c of connections.splice(0)) await c.close();
    await rm(dir, { recursive: true, force: true });
  });
  afterAll(async () => {
    raw?.disconnect();
    await redis?.close();
  });

  it('writes as a compare-and-set on the revision, and publishes each change', async () => {
    const store = new RedisRegistryStore({ redis: await connection(), logger: silentLogger() });
    expect(await store.load()).toEqual({ overrides: new Map(), removed: new Set(), revision: 0 });
    const listener = raw.duplicate();
    const messages: string[] = [];
    listener.on('message', (_channel: string, message: string) => messages.push(message));
    await listener.subscribe(clusterKeys.channelsChanged);
    try {
      const news: ChannelConfig = { id: 'news', ladder: 'default', key: KEY };
      expect(await store.write({ id: 'news', definition: news, removed: false }, 0)).toEqual({ revision: 1 });
      expect(await store.write({ id: 'other', definition: { ...news, id: 'other' }, removed: false }, 0)).toBe('stale');
      expect(await store.write({ id: 'from-config', removed: true }, 1)).toEqual({ revision: 2 });
      const state = await store.load();
      expect(state.revision).toBe(2);
      expect([...state.overrides.keys()]).toEqual(['news']);
      expect(state.overrides.get('news')).toEqual(news);
      expect([...state.removed]).toEqual(['from-config']);
      await waitFor(() => messages.length === 2, { timeoutMs: 5000, message: 'two change notifications' });
      expect(messages.map(parseRegistryNotification)).toEqual([1, 2]);
      // The notification names the channel and the revision, never the definition.
      expect(messages.join('')).not.toContain(KEY);
    } finally {
      listener.disconnect();
    }
  });

  it('refuses a stored definition that does not validate, naming the key and channel', async () => {
    await raw.hset(clusterKeys.channels, 'bad', JSON.stringify({ id: 'bad', ladder: 'default', key: 'short' }));
    const store = new RedisRegistryStore({ redis: await connection(), logger: silentLogger() });
    const err = await store.load().catch((e: unknown) => e);
    expect(isLivepipeError(err, ErrorCode.ConfigInvalid)).toBe(true);
    expect(String((err as Error).message)).toMatch(/livepipe:channels: channel bad/);
  });

  it("seeds an empty Redis from a node's state file once; a second node does not seed again", async () => {
    const stateFile = new FileRegistryStore(defaultStateFile(dir));
    await stateFile.load();
    await stateFile.write({ id: 'migrated', definition: { id: 'migrated', ladder: 'default', key: KEY }, removed: false }, 0);
    await stateFile.write({ id: 'from-config', removed: true }, 1);
    const a = await node({ seedFrom: stateFile });
    expect(a.registry.list().map((c) => c.id)).toEqual(['migrated']);
    expect(a.registry.revision).toBe(1);
    await a.registry.create({ id: 'later', ladder: 'default', key: KEY });
    const b = await node({ seedFrom: stateFile });
    expect(b.registry.list().map((c) => c.id)).toEqual(['later', 'migrated']);
    expect(b.registry.revision).toBe(2);
  });

  it('keeps create-if-absent, letter case and the definition cap across two nodes writing at once', async () => {
    const a = await node({ maxChannels: 4 });
    const b = await node({ maxChannels: 4 });
    // The same id, and ids differing only in case, from both nodes at once: exactly one is created.
    const same = await Promise.all([a.registry.create({ id: 'news', ladder: 'default', key: KEY }), b.registry.create({ id: 'NEWS', ladder: 'default', key: KEY })].map(errorCodeOf));
    expect(same.filter((code) => code === undefined)).toHaveLength(1);
    expect(same.filter((code) => code === ErrorCode.Conflict)).toHaveLength(1);
    // 1 config channel + 1 created: 2 more fit under the cap of 4, whichever node asks.
    const creations = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6'].map((id, i) => (i % 2 === 0 ? a : b).registry.create({ id, ladder: 'default', key: KEY }));
    const codes = await Promise.all(creations.map(errorCodeOf));
    expect(codes.filter((code) => code === undefined)).toHaveLength(2);
    expect(codes.filter((code) => code === ErrorCode.LimitReached)).toHaveLength(4);
    await waitFor(() => a.registry.revision === b.registry.revision, { timeoutMs: 5000, message: 'both nodes at the same revision' });
    expect(a.registry.list()).toEqual(b.registry.list());
    expect(a.registry.list()).toHaveLength(4);
  });

  it("emits the other node's creates, updates and deletes as changes", async () => {
    const a = await node();
    const b = await node();
    await a.registry.create({ id: 'news', ladder: 'default', key: KEY });
    await waitFor(() => b.registry.has('news'), { timeoutMs: 2000, message: 'node b to see the channel node a created' });
    await a.registry.update('news', { ladder: 'constrained' });
    await waitFor(() => b.registry.get('news')?.ladder === 'constrained', { timeoutMs: 2000, message: 'node b to see the update' });
    await b.registry.remove('from-config');
    await waitFor(() => !a.registry.has('from-config'), { timeoutMs: 2000, message: 'node a to see the delete' });
    expect(b.changes.map((c) => `${c.type}:${c.channel.id}`)).toEqual(['created:news', 'updated:news', 'removed:from-config']);
    expect(b.changes[1]).toMatchObject({ type: 'updated', changed: ['ladder'], previous: { ladder: 'default' } });
    expect(a.changes.map((c) => `${c.type}:${c.channel.id}`)).toEqual(['created:news', 'updated:news', 'removed:from-config']);
  });

  it('finds a change that was never announced by its periodic revision check', async () => {
    const b = await node({ checkIntervalMs: 200 });
    // Written behind the store's back, without a notification (as if the message had been lost).
    await raw.multi().hset(clusterKeys.channels, 'silent', JSON.stringify({ id: 'silent', ladder: 'default', key: KEY })).incr(clusterKeys.channelsRevision).exec();
    await waitFor(() => b.registry.has('silent'), { timeoutMs: 3000, message: 'the unannounced channel to be read' });
    expect(b.changes.map((c) => `${c.type}:${c.channel.id}`)).toEqual(['created:silent']);
  });

  it("a Redis that lost its data is seeded again from the nodes' last-known copy, and changes flow on", async () => {
    const a = await node({ checkIntervalMs: 200 });
    const b = await node({ checkIntervalMs: 200 });
    await a.registry.create({ id: 'keep', ladder: 'default', key: KEY });
    await b.registry.remove('from-config');
    await waitFor(() => b.registry.has('keep') && !a.registry.has('from-config'), { timeoutMs: 2000, message: 'both nodes at the same state' });
    const revision = a.registry.revision;
    await raw.flushall();
    await waitFor(async () => (await raw.hexists(clusterKeys.channels, 'keep')) === 1, { timeoutMs: 5000, message: 'the registry seeded again' });
    expect(await raw.smembers(clusterKeys.channelsRemoved)).toEqual(['from-config']);
    expect(Number(await raw.get(clusterKeys.channelsRevision))).toBeGreaterThan(revision);
    // Nothing was removed on either node, and a change made now reaches the other node.
    await b.registry.create({ id: 'next', ladder: 'default', key: KEY });
    await waitFor(() => a.registry.has('next'), { timeoutMs: 2000, message: 'node a to see a change made after the reseed' });
    for (const n of [a, b]) {
      expect(n.changes.filter((c) => c.type === 'removed').map((c) => c.channel.id)).toEqual(['from-config']);
      expect(n.registry.list().map((c) => c.id)).toEqual(['keep', 'next']);
    }
  });

  it('while Redis is stopped: the last state is served and writes are refused; afterwards it re-reads', async () => {
    const a = await node();
    const b = await node();
    await a.registry.create({ id: 'before', ladder: 'default', key: KEY });
    await waitFor(() => b.registry.has('before'), { timeoutMs: 2000, message: 'node b to see the first channel' });
    await redis.stop();
    try {
      expect(await errorCodeOf(b.registry.create({ id: 'during', ladder: 'default', key: KEY }))).toBe(ErrorCode.Unavailable);
      expect(await errorCodeOf(b.registry.remove('before'))).toBe(ErrorCode.Unavailable);
      expect(b.registry.list().map((c) => c.id)).toEqual(['before', 'from-config']);
    } finally {
      await redis.start();
    }
    // Node a is back first and writes; node b catches up on its own reconnect or the notification.
    await waitFor(async () => (await errorCodeOf(a.registry.create({ id: 'after', ladder: 'default', key: KEY }))) === undefined, {
      timeoutMs: 10_000,
      intervalMs: 200,
      message: 'node a to write again once Redis is back',
    });
    await waitFor(() => b.registry.has('after'), { timeoutMs: 5000, message: 'node b to read the change made after the outage' });
    expect(b.registry.list()).toEqual(a.registry.list());
    expect(b.registry.list().map((c) => c.id)).toEqual(['after', 'before', 'from-config']);
  });
});
