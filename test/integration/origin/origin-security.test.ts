import { connect } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertSafeKey } from '../../../src/storage/object-storage.js';
import { liveModel } from '../../helpers/origin/playlists.js';
import { startOriginFixture, type OriginFixture } from '../../helpers/origin/fixture.js';
import { httpRequest } from '../../helpers/origin/http.js';

const SECRET = 'TOP-SECRET-CONTENT';

/** Sends a raw request target byte for byte (no client-side normalisation) and returns the whole answer. */
function rawRequest(port: number, target: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, 'latin1');
    });
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', reject);
  });
}

describe('origin security: traversal and malformed requests', () => {
  let f: OriginFixture;
  const asked: string[] = [];

  beforeAll(async () => {
    f = await startOriginFixture();
    await f.publish(liveModel());
    // Secrets next to and above the storage root.
    await writeFile(join(f.dir, 'secret.txt'), SECRET);
    await writeFile(join(f.dir, 'data', 'secret.txt'), SECRET);
    await f.storage.put('live/news/secret.txt', Buffer.from(SECRET), { contentType: 'text/plain' });
    const get = f.storage.get.bind(f.storage);
    f.storage.get = (key, options) => {
      asked.push(key);
      return get(key, options);
    };
  });
  afterAll(async () => {
    await f.close();
  });

  it.each([
    '/live/news/../secret.txt',
    '/live/news/v0/../../../secret.txt',
    '/live/news/%2e%2e/%2e%2e/secret.txt',
    '/live/news/%2E%2E/secret.txt',
    '/live/news/v0/..%2f..%2fsecret.txt',
    '/live/news/v0/..%5c..%5csecret.txt',
    '/live/news/%252e%252e/secret.txt',
    '/live/news/v0/..\\..\\secret.txt',
    '/live/news/v0/%00/secret.txt',
    '/live/news/v0/seg-1.m4s%00.txt',
    '/live/news/%c0%ae%c0%ae/secret.txt',
    '/live/news/secret.txt',
    '/live/news/./secret.txt',
    '/live/news//secret.txt',
    '//secret.txt',
    '/secret.txt',
    '/data/secret.txt',
    '/live/news/',
    '/live/',
    '/live/news/v0/',
    '/live/news/v0/playlist.m3u8/..',
    `/live/news/v0/${'a'.repeat(3000)}.m4s`,
    '/live/news/v0/playlist.m3u8?_HLS_msn=1&_HLS_msn=1',
    '/live/news/v0/playlist.m3u8?_HLS_msn=-1',
    '/live/news/v0/playlist.m3u8?_HLS_msn=1e9',
    '/live/news/v0/playlist.m3u8?_HLS_part=0',
    '/live/news/v0/playlist.m3u8?_HLS_msn=99999999999999999999',
    '/live/news/v0/playlist.m3u8?_HLS_msn=%31',
    '/live/news/v0/playlist.m3u8?_HLS_skip=YES&_HLS_skip=v2',
    '*',
    'http://127.0.0.1/live/news/secret.txt',
  ])('%s → 4xx, nothing leaked', async (target) => {
    const answer = await rawRequest(f.server.address().port, target);
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);
    expect(status).toBeGreaterThanOrEqual(400);
    expect(status).toBeLessThan(500);
    expect(answer).not.toContain(SECRET);
    expect(answer).not.toContain(f.dir);
    expect(answer).not.toMatch(/\n\s+at /); // no stack traces
    for (const key of asked) {
      expect(() => assertSafeKey(key)).not.toThrow();
      expect(key.startsWith('live/news/v0/') || key === 'live/news/master.m3u8').toBe(true);
    }
  });

  it('the storage was never asked for anything outside live/{channel}/{rendition}/', () => {
    expect(asked.every((k) => /^live\/news\/v0\/[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(k))).toBe(true);
  });

  it('garbage on the socket gets 400 and does not crash the server', async () => {
    const answer = await new Promise<string>((resolve) => {
      const s = connect(f.server.address().port, '127.0.0.1', () => s.write('\x00\x01GARBAGE \r\n\r\n'));
      const chunks: Buffer[] = [];
      s.on('data', (c) => chunks.push(c));
      s.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
      s.on('error', () => resolve(''));
    });
    expect(answer === '' || answer.startsWith('HTTP/1.1 400')).toBe(true);
    expect((await httpRequest(`${f.base}/live/news/v0/playlist.m3u8`)).status).toBe(200);
  });

  it('oversized headers are refused (431) and the server keeps serving', async () => {
    const r = await httpRequest(`${f.base}/live/news/v0/playlist.m3u8`, { headers: { 'X-Big': 'x'.repeat(20_000) } }).catch(() => undefined);
    if (r) expect(r.status).toBe(431);
    expect((await httpRequest(`${f.base}/live/news/v0/playlist.m3u8`)).status).toBe(200);
  });
});

describe('origin security: slow clients', () => {
  it('a client that never finishes its headers is cut off after headersTimeout', async () => {
    const f = await startOriginFixture({ headersTimeoutMs: 400, requestTimeoutMs: 400 });
    try {
      const outcome = await new Promise<string>((resolve) => {
        const s = connect(f.server.address().port, '127.0.0.1', () => s.write('GET /live/news/v0/playlist.m3u8 HTTP/1.1\r\nHost: x\r\nX-Slow: '));
        let data = '';
        s.on('data', (c) => (data += c.toString('latin1')));
        s.on('close', () => resolve(data));
        s.on('error', () => resolve(data));
        // Trickle one byte now and then, like slowloris; never end the headers.
        const trickle = setInterval(() => s.writable && s.write('a'), 100);
        s.on('close', () => clearInterval(trickle));
      });
      expect(outcome === '' || outcome.startsWith('HTTP/1.1 408')).toBe(true);
    } finally {
      await f.close();
    }
  });
});
