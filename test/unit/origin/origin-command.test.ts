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
