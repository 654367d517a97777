import { describe, expect, it } from 'vitest';
import { parseOriginOptions } from '../../../src/cli/origin-command.js';

describe('parseOriginOptions', () => {
  it('defaults: loopback, port 8080, ops port 8081, CORS *', () => {
    expect(parseOriginOptions({ dataDir: '/srv/live' })).toEqual({
      storage: { kind: 'fs', dir: '/srv/live' },
      host: '127.0.0.1',
      port: 8080,
      opsPort: 8081,
      corsOrigins: '*',
      maxHeldRequests: 20_000,
      cacheMaxBytes: 256 * 1024 * 1024,
    });
  });

  it.each([
    [{ storage: 's3://my-bucket/live/prefix/' }, { kind: 's3', bucket: 'my-bucket', prefix: 'live/prefix' }],
    [{ storage: 's3://my-bucket' }, { kind: 's3', bucket: 'my-bucket', prefix: '' }],
  ])('%j → %j', (raw, storage) => {
    expect(parseOriginOptions(raw).storage).toEqual(storage);
  });

  it.each([
    [{}, /exactly one/],
    [{ dataDir: '/a', storage: 's3://b/c' }, /exactly one/],
    [{ storage: 'http://bucket' }, /s3:\/\/bucket/],
    [{ storage: 's3://UPPER/x' }, /s3:\/\/bucket/],
    [{ dataDir: '/a', port: '70000' }, /--port/],
    [{ dataDir: '/a', port: 'eighty' }, /--port/],
    [{ dataDir: '/a', opsPort: '-1' }, /--ops-port/],
    [{ dataDir: '/a', maxHeld: '0' }, /--max-held/],
    [{ dataDir: '/a', corsOrigin: ['javascript:alert(1)'] }, /--cors-origin/],
  ])('%j is refused', (raw, message) => {
    expect(() => parseOriginOptions(raw)).toThrow(message);
  });

  it('keeps an explicit CORS list', () => {
    expect(parseOriginOptions({ dataDir: '/a', corsOrigin: ['https://a.example', 'http://localhost:3000'] }).corsOrigins).toEqual([
      'https://a.example',
      'http://localhost:3000',
    ]);
  });
});

describe('parseOriginOptions: cluster mode', () => {
  it('takes --redis, or LIVEPIPE_REDIS_URL when the flag is absent; the flag wins', () => {
    expect(parseOriginOptions({ dataDir: '/a', redis: 'redis://r:6379' }).redis).toBe('redis://r:6379');
    expect(parseOriginOptions({ dataDir: '/a' }, { LIVEPIPE_REDIS_URL: 'rediss://r:6380' }).redis).toBe('rediss://r:6380');
    expect(parseOriginOptions({ dataDir: '/a', redis: 'redis://flag:1' }, { LIVEPIPE_REDIS_URL: 'redis://env:2' }).redis).toBe('redis://flag:1');
    expect(parseOriginOptions({ dataDir: '/a' }, { LIVEPIPE_REDIS_URL: '' }).redis).toBeUndefined();
    expect(parseOriginOptions({ dataDir: '/a', redis: 'redis://r:1', notifiedRereadMs: '60000' }).notifiedRereadMs).toBe(60_000);
  });

  it.each([
    [{ dataDir: '/a', redis: 'http://r:6379' }, /redis:\/\/ or rediss:\/\//],
    [{ dataDir: '/a', notifiedRereadMs: '1000' }, /needs --redis/],
    [{ dataDir: '/a', redis: 'redis://r:1', notifiedRereadMs: '5' }, /--notified-reread-ms/],
  ])('%j is refused', (raw, message) => {
    expect(() => parseOriginOptions(raw)).toThrow(message);
  });
});
