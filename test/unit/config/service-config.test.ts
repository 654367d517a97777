import { describe, expect, it } from 'vitest';
import { buildServiceConfig, isLoopbackHost } from '../../../src/config/service-config.js';
import { ErrorCode, isLivepipeError } from '../../../src/core/errors.js';

const KEY = 'a-long-random-stream-key';

describe('buildServiceConfig', () => {
  it('applies defaults', () => {
    const cfg = buildServiceConfig(undefined, {}, {});
    expect(cfg.host).toBe('127.0.0.1');
    expect(cfg.origin.port).toBe(8080);
    expect(cfg.rtmp.port).toBe(1935);
    expect(cfg.srt.portBase).toBe(9000);
    expect(cfg.dataDir).toBe('./data');
    expect(cfg.channels).toEqual([]);
    expect(cfg.reconnectGraceSeconds).toBe(10);
    expect(cfg.encoderGiveUpSeconds).toBe(60);
    expect(Object.isFrozen(cfg)).toBe(true);
    expect(Object.isFrozen(cfg.origin)).toBe(true);
  });

  it('accepts the documented channel shape and fills channel defaults', () => {
    const cfg = buildServiceConfig(
      { channels: [{ id: 'news', ladder: 'low-latency', key: KEY, srt: { port: 9001, passphrase: 'a-passphrase-of-10-to-79-chars' } }] },
      {},
      {},
    );
    expect(cfg.channels[0]).toMatchObject({ id: 'news', ladder: 'low-latency', srt: { port: 9001, latencyMs: 120 } });
  });

  it('fills the RTMP flood limits with their defaults, also when only the port is given', () => {
    const defaults = { port: 1935, publishTimeoutMs: 5000, maxConnections: 1024, maxPendingConnections: 256, maxPendingPerAddress: 32 };
    expect(buildServiceConfig(undefined, {}, {}).rtmp).toEqual(defaults);
    expect(buildServiceConfig({ rtmp: { port: 1936 } }, {}, {}).rtmp).toEqual({ ...defaults, port: 1936 });
    expect(buildServiceConfig({ rtmp: { maxPendingPerAddress: 8, publishTimeoutMs: 3000 } }, {}, {}).rtmp).toEqual({ ...defaults, maxPendingPerAddress: 8, publishTimeoutMs: 3000 });
    expect(() => buildServiceConfig({ rtmp: { publishTimeoutMs: 100 } }, {}, {})).toThrow(/rtmp\.publishTimeoutMs/);
  });

  it('layers file < environment < flags', () => {
    const cfg = buildServiceConfig({ origin: { port: 1000 }, host: '127.0.0.2' }, { LIVEPIPE_ORIGIN_PORT: '2000', LIVEPIPE_HOST: '127.0.0.3' }, { originPort: 3000 });
    expect(cfg.origin.port).toBe(3000);
    expect(cfg.host).toBe('127.0.0.3');
  });

  it.each([
    [{ channels: [{ id: '../x', key: KEY }] }, 'channels.0.id'],
    [{ channels: [{ id: 'a', key: 'short' }] }, 'channels.0.key'],
    [{ channels: [{ id: 'a', key: KEY, srt: { passphrase: 'short' } }] }, 'channels.0.srt.passphrase'],
    [{ channels: [{ id: 'a', key: KEY }, { id: 'a', key: KEY }] }, 'channels.1.id'],
    [{ channels: [{ id: 'a', key: KEY, colour: 'red' }] }, 'channels.0'],
    [{ origin: { port: 70000 } }, 'origin.port'],
    [{ encoderGiveUpSeconds: 0 }, 'encoderGiveUpSeconds'],
    [{ bogus: true }, '(root)'],
  ])('rejects %j naming %s', (file, path) => {
    let error: unknown;
    try {
      buildServiceConfig(file, {}, {}, 'test.yaml');
    } catch (err) {
      error = err;
    }
    expect(isLivepipeError(error, ErrorCode.ConfigInvalid)).toBe(true);
    expect((error as Error).message).toContain(`test.yaml: ${path}`);
  });

  it('rejects a non-numeric port from the environment', () => {
    expect(() => buildServiceConfig(undefined, { LIVEPIPE_RTMP_PORT: 'abc' }, {})).toThrow(/rtmp\.port/);
  });
});

describe('channel definition bounds', () => {
  const channel = (id: string) => ({ id, key: KEY });
  function issueOf(file: unknown): string | undefined {
    try {
      buildServiceConfig(file, {}, {}, 'livepipe.yaml');
    } catch (err) {
      return isLivepipeError(err, ErrorCode.ConfigInvalid) ? err.message : `unexpected: ${String(err)}`;
    }
    return undefined;
  }

  it('defaults maxChannelDefinitions to 256', () => {
    expect(buildServiceConfig(undefined, {}, {}).maxChannelDefinitions).toBe(256);
  });

  it.each([
    ['distinct ids', { channels: [channel('news'), channel('sport')] }, undefined],
    ['mixed case, no clash', { channels: [channel('News'), channel('sport')] }, undefined],
    ['a duplicate id', { channels: [channel('news'), channel('news')] }, /channels\.1\.id: duplicate channel id "news"/],
    ['ids differing only in case', { channels: [channel('LL'), channel('ll')] }, /channels\.1\.id: channel id "ll" differs from "LL" only in letter case/],
    ['a clash further down', { channels: [channel('a'), channel('News'), channel('b'), channel('NEWS')] }, /channels\.3\.id: .*"NEWS" differs from "News"/],
    ['channels up to the limit', { maxChannelDefinitions: 2, channels: [channel('a'), channel('b')] }, undefined],
    ['more channels than the limit', { maxChannelDefinitions: 2, channels: [channel('a'), channel('b'), channel('c')] }, /channels: 3 channels configured, more than maxChannelDefinitions \(2\)/],
    ['a limit of zero', { maxChannelDefinitions: 0 }, /maxChannelDefinitions/],
  ])('%s', (_name, file, issue) => {
    const message = issueOf(file);
    if (issue === undefined) expect(message).toBeUndefined();
    else expect(message).toMatch(issue);
  });
});

describe('webhooks', () => {
  const secret = 'a-webhook-secret-0123';
  it('defaults to none', () => {
    expect(buildServiceConfig({}, {}, {}).webhooks).toEqual([]);
  });

  it('accepts a receiver with and without an event filter', () => {
    const config = buildServiceConfig(
      { webhooks: [{ url: 'https://hooks.example.com/livepipe?t=1', secret }, { url: 'http://127.0.0.1:9999/', secret, events: ['channel.live', 'publish.refused'] }] },
      {},
      {},
    );
    expect(config.webhooks).toEqual([
      { url: 'https://hooks.example.com/livepipe?t=1', secret },
      { url: 'http://127.0.0.1:9999/', secret, events: ['channel.live', 'publish.refused'] },
    ]);
  });

  // [what, receiver, the message naming the problem]
  const refused: Array<[string, Record<string, unknown>, RegExp]> = [
    ['a short secret', { url: 'https://h.example/', secret: 'short' }, /webhooks\.0\.secret: webhook secrets must be at least 16 characters/],
    ['no URL', { url: 'not a url', secret }, /webhooks\.0\.url/],
    ['another scheme', { url: 'ftp://h.example/', secret }, /webhooks\.0\.url: http:\/\/ or https:\/\/ only/],
    ['an empty event filter', { url: 'https://h.example/', secret, events: [] }, /webhooks\.0\.events/],
    ['an unknown setting', { url: 'https://h.example/', secret, retries: 3 }, /webhooks\.0/],
  ];
  it.each(refused)('refuses %s', (_what, receiver, message) => {
    expect(() => buildServiceConfig({ webhooks: [receiver] }, {}, {}, 'test')).toThrow(message);
  });
});

describe('isLoopbackHost', () => {
  it.each([
    ['127.0.0.1', true],
    ['::1', true],
    ['localhost', true],
    ['0.0.0.0', false],
    ['192.168.1.2', false],
  ])('%s → %s', (host, expected) => expect(isLoopbackHost(host)).toBe(expected));
});

describe('cluster settings', () => {
  it('are absent by default: one node, no Redis', () => {
    expect(buildServiceConfig(undefined, {}, {}).cluster).toBeUndefined();
  });

  it('come from the file or from LIVEPIPE_REDIS_URL and LIVEPIPE_NODE_ID, the environment winning', () => {
    const fromFile = buildServiceConfig({ cluster: { redis: 'redis://10.0.0.5:6379', nodeId: 'edge-a' } }, {}, {});
    const lease = { ttlMs: 1200, renewIntervalMs: 300, safetyMarginMs: 300 };
    expect(fromFile.cluster).toEqual({ redis: 'redis://10.0.0.5:6379', nodeId: 'edge-a', lease });
    const fromEnv = buildServiceConfig(
      { cluster: { redis: 'redis://10.0.0.5:6379' } },
      { LIVEPIPE_REDIS_URL: 'rediss://user:pw@redis.internal:6380/2', LIVEPIPE_NODE_ID: 'node-2' },
      {},
    );
    expect(fromEnv.cluster).toEqual({ redis: 'rediss://user:pw@redis.internal:6380/2', nodeId: 'node-2', lease });
  });

  it('take lease timings, refusing ones that leave no room for two renewals before the write deadline', () => {
    const cluster = buildServiceConfig({ cluster: { redis: 'redis://r:6379', lease: { ttlMs: 3000, renewIntervalMs: 1000 } } }, {}, {}).cluster;
    expect(cluster?.lease).toEqual({ ttlMs: 3000, renewIntervalMs: 1000, safetyMarginMs: 300 });
    expect(() => buildServiceConfig({ cluster: { redis: 'redis://r:6379', lease: { ttlMs: 1500, renewIntervalMs: 700 } } }, {}, {})).toThrow(/cluster\.lease/);
  });

  it('refuse a URL that is not redis:// and a node id with a slash, naming the setting', () => {
    expect(() => buildServiceConfig({ cluster: { redis: 'http://redis:6379' } }, {}, {})).toThrow(/cluster\.redis/);
    expect(() => buildServiceConfig({ cluster: { redis: 'redis://r:6379', nodeId: 'a/b' } }, {}, {})).toThrow(/cluster\.nodeId/);
  });
});
