import { Agent } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { serializeMediaPlaylist } from '../../../src/hls/playlist-serializer.js';
import { mediaBody, startOriginFixture, type OriginFixture } from '../../helpers/origin/fixture.js';
import { httpRequest, type RawResponse } from '../../helpers/origin/http.js';
import { advance, endList, liveModel } from '../../helpers/origin/playlists.js';
import { waitFor } from '../../helpers/wait.js';

// Model: TD 2 s, part target 0.5 s, segments 0..2 complete (4 parts), pending segment 3 with part 0;
// the preload hint names part-3-1.m4s.
const PL = '/live/news/v0/playlist.m3u8';

describe('origin server (embedded source, real HTTP)', () => {
  let f: OriginFixture;
  let model = liveModel();

  beforeEach(async () => {
    f = await startOriginFixture();
    model = liveModel();
    await f.publish(model);
  });
  afterEach(async () => {
    await f.close();
  });

  const get = (path: string, headers: Record<string, string> = {}, method = 'GET') => httpRequest(`${f.base}${path}`, { path, headers, method });
  const step = async (n = 1) => {
    for (let i = 0; i < n; i++) model = advance(model);
    await f.publish(model);
  };

  it('serves a plain playlist rendered from the model, with 0.5 × TD caching', async () => {
    const r = await get(PL);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/vnd.apple.mpegurl');
    expect(r.headers['cache-control']).toBe('public, max-age=1');
    expect(r.body.toString()).toContain('#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-3-1.m4s"');
    expect(r.headers.date).toBeDefined();
    expect(r.headers['last-modified']).toBeDefined();
  });

  it('holds a blocking reload until the model contains the part, then sends the new playlist', async () => {
    let settled = false;
    const pending = get(`${PL}?_HLS_msn=3&_HLS_part=1`).then((r) => ((settled = true), r));
    await waitFor(() => f.server.heldCount === 1, { timeoutMs: 10_000, intervalMs: 5, message: 'the request to be held' });
    expect(settled).toBe(false);
    await step();
    const r = await pending;
    expect(r.status).toBe(200);
    expect(r.headers['cache-control']).toBe('public, max-age=12');
    expect(r.body.toString()).toContain('URI="part-3-1.m4s"');
    expect(f.server.heldCount).toBe(0);
  });

  it('a part index past the last part of a segment waits for part 0 of the next one', async () => {
    await step(3); // segment 3 complete (4 parts), pending segment 4 empty
    const pending = get(`${PL}?_HLS_msn=3&_HLS_part=4`);
    await waitFor(() => f.server.heldCount === 1, { timeoutMs: 10_000, intervalMs: 5, message: 'held' });
    await step();
    const r = await pending;
    expect(r.status).toBe(200);
    expect(r.body.toString()).toContain('part-4-0.m4s');
  });

  it('Safari form: _HLS_msn alone blocks until the whole segment is complete', async () => {
    const pending = get(`${PL}?_HLS_msn=3`);
    await waitFor(() => f.server.heldCount === 1, { timeoutMs: 10_000, intervalMs: 5, message: 'held' });
    await step(2); // parts 3-1 and 3-2 appear: still not a complete segment 3
    expect(f.server.heldCount).toBe(1);
    await step(); // part 3-3 completes segment 3
    const r = await pending;
    expect(r.status).toBe(200);
    expect(r.body.toString()).toMatch(/#EXTINF:[\d.]+,\nseg-3\.m4s/);
  });

  it('answers a satisfiable blocking request at once', async () => {
    const r = await get(`${PL}?_HLS_msn=2&_HLS_part=3`);
    expect(r.status).toBe(200);
    expect(r.headers['cache-control']).toBe('public, max-age=12');
    expect(f.server.heldCount).toBe(0);
  });

  it.each([
    ['_HLS_msn=5', 'more than 2 segments ahead'],
    ['_HLS_msn=3&_HLS_part=7', 'advance part limit'],
    ['_HLS_part=1', 'without _HLS_msn'],
    ['_HLS_msn=three', 'not a number'],
    ['_HLS_msn=3&_HLS_msn=3', 'repeated'],
    ['_HLS_msn=3&_HLS_part=', 'not a number'],
    ['_HLS_skip=maybe', 'YES or v2'],
  ])('400 at once for ?%s', async (query, reason) => {
    const r = await get(`${PL}?${query}`);
    expect(r.status).toBe(400);
    expect(r.body.toString()).toContain(reason);
    expect(r.headers['cache-control']).toBe(query.startsWith('_HLS_skip') ? 'public, max-age=2' : 'public, max-age=8');
    expect(f.server.heldCount).toBe(0);
  });

  it('ignores _HLS_msn/_HLS_part once the playlist has EXT-X-ENDLIST', async () => {
    await f.publish(endList(model));
    const r = await get(`${PL}?_HLS_msn=99&_HLS_part=9`);
    expect(r.status).toBe(200);
    expect(r.body.toString()).toContain('#EXT-X-ENDLIST');
  });

  it('delta update: _HLS_skip=YES replaces old segments by EXT-X-SKIP', async () => {
    model = liveModel({ segments: 10 });
    await f.publish(model);
    const full = (await get(PL)).body.toString();
    const delta = await get(`${PL}?_HLS_skip=YES`);
    expect(delta.status).toBe(200);
    expect(full).not.toContain('#EXT-X-SKIP');
    expect(delta.body.toString()).toMatch(/#EXT-X-SKIP:SKIPPED-SEGMENTS=[1-9]/);
    expect(delta.body.length).toBeLessThan(full.length);
    const blockingDelta = get(`${PL}?_HLS_msn=10&_HLS_part=1&_HLS_skip=v2`);
    await waitFor(() => f.server.heldCount === 1, { timeoutMs: 10_000, intervalMs: 5, message: 'held' });
    await step();
    const r = await blockingDelta;
    expect(r.body.toString()).toContain('#EXT-X-SKIP');
    expect(r.body.toString()).toContain('part-10-1.m4s');
  });

  it('holds a request for the hinted part until the part exists, then answers it', async () => {
    const path = '/live/news/v0/part-3-1.m4s';
    let settled = false;
    const pending = get(path).then((r) => ((settled = true), r));
    await waitFor(() => f.server.heldCount === 1, { timeoutMs: 10_000, intervalMs: 5, message: 'the part request to be held' });
    expect(settled).toBe(false);
    await step();
    const r = await pending;
    expect(r.status).toBe(200);
    expect(r.body.equals(mediaBody('live/news/v0/part-3-1.m4s'))).toBe(true);
    expect(r.headers['cache-control']).toBe('public, max-age=31536000, immutable');
  });

  it('404 for media neither known nor hinted, for unknown playlists and channels', async () => {
    for (const path of ['/live/news/v0/part-9-0.m4s', '/live/news/v0/seg-40.m4s', '/live/news/v9/playlist.m3u8', '/live/other/master.m3u8', '/live/news/v0/init-7.mp4']) {
      const r = await get(path);
      expect(r.status, path).toBe(404);
    }
    const r = await get('/live/news/v0/part-9-0.m4s');
    expect(r.headers['cache-control']).toBe('public, max-age=2');
    expect(f.server.heldCount).toBe(0);
  });

  it('Cache-Control by response class', async () => {
    await f.storage.put('live/news/master.m3u8', Buffer.from('#EXTM3U\n'), { contentType: 'application/vnd.apple.mpegurl' });
    const cases: Array<[string, number, string]> = [
      [PL, 200, 'public, max-age=1'],
      [`${PL}?_HLS_msn=3&_HLS_part=0`, 200, 'public, max-age=12'],
      [`${PL}?_HLS_msn=9`, 400, 'public, max-age=8'],
      ['/live/news/v9/playlist.m3u8', 404, 'public, max-age=2'],
      ['/live/news/v0/part-1-1.m4s', 200, 'public, max-age=31536000, immutable'],
      ['/live/news/v0/seg-1.m4s', 200, 'public, max-age=31536000, immutable'],
      ['/live/news/v0/init-1.mp4', 200, 'public, max-age=31536000, immutable'],
      ['/live/news/v0/seg-99.m4s', 404, 'public, max-age=2'],
      ['/live/news/master.m3u8', 200, 'public, max-age=2'],
      ['/live/news/v0/%2e%2e/x', 400, 'no-store'],
    ];
    for (const [path, status, cc] of cases) {
      const r = await get(path);
      expect([path, r.status, r.headers['cache-control']]).toEqual([path, status, cc]);
    }
  });

  it('ETag and If-None-Match → 304, for playlists and media', async () => {
    for (const path of [PL, '/live/news/v0/seg-1.m4s']) {
      const first = await get(path);
      expect(first.headers.etag).toMatch(/^"[^"]+"$/);
      const second = await get(path, { 'If-None-Match': first.headers.etag! });
      expect(second.status).toBe(304);
      expect(second.body.length).toBe(0);
      expect(second.headers.etag).toBe(first.headers.etag);
    }
    const stale = await get(PL, { 'If-None-Match': '"nope"' });
    expect(stale.status).toBe(200);
    const etag = (await get(PL)).headers.etag!;
    await step();
    expect((await get(PL, { 'If-None-Match': etag })).status).toBe(200);
  });

  it('Range on media: 206, suffix ranges, 416', async () => {
    const path = '/live/news/v0/seg-0.m4s';
    const body = mediaBody('live/news/v0/seg-0.m4s');
    const partial = await get(path, { Range: 'bytes=10-19' });
    expect(partial.status).toBe(206);
    expect(partial.headers['content-range']).toBe(`bytes 10-19/${body.length}`);
    expect(partial.body.equals(body.subarray(10, 20))).toBe(true);
    const suffix = await get(path, { Range: 'bytes=-5' });
    expect(suffix.body.equals(body.subarray(body.length - 5))).toBe(true);
    const bad = await get(path, { Range: `bytes=${body.length}-` });
    expect(bad.status).toBe(416);
    expect(bad.headers['content-range']).toBe(`bytes */${body.length}`);
    const ifRange = await get(path, { Range: 'bytes=0-1', 'If-Range': '"other"' });
    expect(ifRange.status).toBe(200);
    expect(ifRange.body.length).toBe(body.length);
  });

  it('HEAD: same headers as GET, no body', async () => {
    for (const path of [PL, '/live/news/v0/seg-2.m4s', '/live/news/v0/seg-2.m4s']) {
      const g = await get(path);
      const h = await get(path, {}, 'HEAD');
      expect(h.status).toBe(200);
      expect(h.body.length).toBe(0);
      expect(h.headers['content-length']).toBe(g.headers['content-length']);
      expect(h.headers.etag).toBe(g.headers.etag);
      expect(h.headers['content-type']).toBe(g.headers['content-type']);
    }
  });

  it('OPTIONS preflight and CORS headers on every response', async () => {
    const pre = await get(PL, { Origin: 'https://player.example', 'Access-Control-Request-Method': 'GET' }, 'OPTIONS');
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe('*');
    expect(pre.headers['access-control-allow-methods']).toContain('GET');
    expect(pre.headers['access-control-allow-headers']).toContain('Range');
    for (const path of [PL, '/live/news/v0/seg-1.m4s', '/live/news/v0/seg-77.m4s']) {
      const r = await get(path, { Origin: 'https://player.example' });
      expect(r.headers['access-control-allow-origin']).toBe('*');
      expect(r.headers['access-control-expose-headers']).toContain('Content-Range');
    }
  });

  it('405 with Allow for other methods', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const r = await get(PL, {}, method);
      expect(r.status).toBe(405);
      expect(r.headers.allow).toBe('GET, HEAD, OPTIONS');
    }
  });

  it('compresses playlists with brotli or gzip when accepted', async () => {
    const identity = await get(PL);
    const br = await get(PL, { 'Accept-Encoding': 'gzip, br' });
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers.vary).toContain('Accept-Encoding');
    expect(brotliDecompressSync(br.body).equals(identity.body)).toBe(true);
    expect(br.headers.etag).not.toBe(identity.headers.etag);
    const gz = await get(`${PL}?_HLS_msn=3&_HLS_part=0`, { 'Accept-Encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.body).toString()).toContain('#EXTM3U');
    expect(identity.headers['content-encoding']).toBeUndefined();
    const media = await get('/live/news/v0/seg-1.m4s', { 'Accept-Encoding': 'gzip, br' });
    expect(media.headers['content-encoding']).toBeUndefined();
  });

  it('coalesces concurrent identical requests into one storage read, then serves from memory', async () => {
    f.storage.getDelayMs = 50;
    const key = 'live/news/v0/seg-2.m4s';
    const results = await Promise.all(Array.from({ length: 25 }, () => get(`/${key}`)));
    expect(results.every((r) => r.status === 200 && r.body.equals(mediaBody(key)))).toBe(true);
    expect(f.storage.getsOf(key)).toBe(1);
    await get(`/${key}`);
    expect(f.storage.getsOf(key)).toBe(1);
  });

  it('playlist removed while requests wait: they get 404', async () => {
    const pending = get(`${PL}?_HLS_msn=3&_HLS_part=2`);
    await waitFor(() => f.server.heldCount === 1, { timeoutMs: 10_000, intervalMs: 5, message: 'held' });
    f.source.unpublish('news', 'v0');
    expect((await pending).status).toBe(404);
  });

  it('a client that goes away stops being held', async () => {
    const { request } = await import('node:http');
    const req = request(`${f.base}${PL}?_HLS_msn=3&_HLS_part=2`);
    req.on('error', () => {});
    req.end();
    await waitFor(() => f.server.heldCount === 1, { timeoutMs: 10_000, intervalMs: 5, message: 'held' });
    req.destroy();
    await waitFor(() => f.server.heldCount === 0, { timeoutMs: 10_000, intervalMs: 5, message: 'the held request to be dropped' });
  });
});

describe('origin server limits and lifecycle', () => {
  let f: OriginFixture | undefined;
  afterEach(async () => {
    await f?.close();
    f = undefined;
  });

  // Cached 4 × TD by CDNs only (s-maxage): a browser's retry of the same URL must reach the origin and
  // be held again, or a player (Shaka) meets its own stale 503 over and over once a takeover outlasts the hold.
  it('503 when a blocked request waited more than 3 target durations, cached by CDNs only, Retry-After', async () => {
    f = await startOriginFixture();
    await f.publish(liveModel({ targetDuration: 1, partTarget: 0.25 }));
    const r = await httpRequest(`${f.base}${PL}?_HLS_msn=3&_HLS_part=1`);
    expect(r.status).toBe(503);
    expect(r.headers['cache-control']).toBe('public, max-age=0, s-maxage=4');
    expect(r.headers['retry-after']).toBe('1');
    expect(f.server.heldCount).toBe(0);
  });

  it('503 when a hinted part did not appear within 3 target durations (its writer died), cached by CDNs only', async () => {
    f = await startOriginFixture();
    await f.publish(liveModel({ targetDuration: 1, partTarget: 0.25 }));
    const r = await httpRequest(`${f.base}/live/news/v0/part-3-1.m4s`);
    expect(r.status).toBe(503);
    expect(r.headers['cache-control']).toBe('public, max-age=0, s-maxage=1');
    expect(r.headers['retry-after']).toBe('1');
    expect(f.server.heldCount).toBe(0);
  });

  it('caps held requests: 503 + Retry-After beyond the cap', async () => {
    f = await startOriginFixture({ maxHeldRequests: 2 });
    await f.publish(liveModel());
    const held = [1, 2].map(() => httpRequest(`${f!.base}${PL}?_HLS_msn=3&_HLS_part=1`));
    await waitFor(() => f!.server.heldCount === 2, { timeoutMs: 10_000, intervalMs: 5, message: 'two held' });
    const refused = await httpRequest(`${f.base}${PL}?_HLS_msn=3&_HLS_part=1`);
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.headers['cache-control']).toBe('no-store');
    await f.publish(advance(liveModel()));
    expect((await Promise.all(held)).map((r) => r.status)).toEqual([200, 200]);
  });

  it('close() releases every held request with 503 and drains', async () => {
    f = await startOriginFixture();
    await f.publish(liveModel());
    const held = [
      httpRequest(`${f.base}${PL}?_HLS_msn=3&_HLS_part=2`),
      httpRequest(`${f.base}${PL}?_HLS_msn=4`),
      httpRequest(`${f.base}/live/news/v0/part-3-1.m4s`),
    ];
    await waitFor(() => f!.server.heldCount === 3, { timeoutMs: 10_000, intervalMs: 5, message: 'three held' });
    await f.server.close();
    const results: RawResponse[] = await Promise.all(held);
    expect(results.map((r) => r.status)).toEqual([503, 503, 503]);
    expect(results.every((r) => r.headers['retry-after'] === '1')).toBe(true);
    expect(f.server.heldCount).toBe(0);
    await f.server.close(); // idempotent
  });

  it('drain(): held requests are answered by the next part with Connection: close, new connections are not taken', async () => {
    f = await startOriginFixture();
    await f.publish(liveModel());
    const held = httpRequest(`${f.base}${PL}?_HLS_msn=3&_HLS_part=1`);
    await waitFor(() => f!.server.heldCount === 1, { timeoutMs: 10_000, intervalMs: 5, message: 'held' });
    const drained = f.server.drain(10_000);
    // Still waiting for the held request: the drain ends when it is answered, not at its deadline.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(f.server.heldCount).toBe(1);
    await f.publish(advance(liveModel()));
    const answered = await held;
    await drained;
    expect(answered.status).toBe(200);
    expect(answered.headers.connection).toBe('close');
    expect(answered.body.toString()).toContain('URI="part-3-1.m4s"');
    expect(f.server.isListening()).toBe(false);
    // A new connection is no longer accepted (under a socket unit it would wait for the next process).
    await expect(httpRequest(`${f.base}${PL}`)).rejects.toThrow(/ECONNREFUSED/);
    await f.server.close();
  });

  it('drain() gives up waiting after its bound, and close() then answers 503', async () => {
    f = await startOriginFixture();
    await f.publish(liveModel());
    const held = httpRequest(`${f.base}${PL}?_HLS_msn=4`);
    await waitFor(() => f!.server.heldCount === 1, { timeoutMs: 10_000, intervalMs: 5, message: 'held' });
    await f.server.drain(200);
    expect(f.server.heldCount).toBe(1);
    await f.server.close();
    expect((await held).status).toBe(503);
  });

  it('drain(): a response still awaiting storage when drain() runs also ends its connection', async () => {
    f = await startOriginFixture();
    await f.publish(liveModel());
    const agent = new Agent({ keepAlive: true });
    try {
      // Control: before the drain, the same kind of response keeps its connection.
      const before = await httpRequest(`${f.base}/live/news/v0/seg-0.m4s`, { agent });
      expect(before.headers.connection).toBe('keep-alive');
      f.storage.getDelayMs = 300;
      const key = 'live/news/v0/seg-1.m4s';
      const pending = httpRequest(`${f.base}/${key}`, { agent });
      await waitFor(() => f!.storage.getsOf(key) === 1, { timeoutMs: 10_000, intervalMs: 2, message: 'the storage read to start' });
      await f.server.drain(1000);
      const answered = await pending;
      expect(answered.status).toBe(200);
      expect(answered.body.equals(mediaBody(key))).toBe(true);
      expect(answered.headers.connection).toBe('close');
    } finally {
      agent.destroy();
    }
  });

  it('only the configured CORS origins are allowed', async () => {
    f = await startOriginFixture({ corsOrigins: ['https://player.example'] });
    await f.publish(liveModel());
    const ok = await httpRequest(`${f.base}/live/news/v0/seg-1.m4s`, { headers: { Origin: 'https://player.example' } });
    expect(ok.headers['access-control-allow-origin']).toBe('https://player.example');
    expect(ok.headers.vary).toContain('Origin');
    const other = await httpRequest(`${f.base}/live/news/v0/seg-1.m4s`, { headers: { Origin: 'https://evil.example' } });
    expect(other.status).toBe(200);
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('start() fails loudly when the port is taken', async () => {
    f = await startOriginFixture();
    const { OriginServer } = await import('../../../src/origin/origin-server.js');
    const { silentLogger } = await import('../../../src/core/logger.js');
    const clash = new OriginServer({ source: f.source, storage: f.storage, render: () => '', logger: silentLogger(), port: f.server.address().port });
    await expect(clash.start()).rejects.toThrow(/cannot listen/);
    await clash.close();
  });
});

describe('origin memory', () => {
  it('frees the renderings of superseded playlist versions', async () => {
    // Renderings live with their playlist snapshot: once the source moves on, a version's bodies
    // (every skip mode and coding) must be collectable. Padded renderings make a leak obvious.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    // V8 frees ArrayBuffer backing stores on a concurrent sweeper, so the figure right after gc()
    // can still count freed bodies (or not yet count the last ones): collect, let it settle, repeat.
    const settledArrayBuffers = async () => {
      for (let round = 0; round < 4; round++) {
        gc();
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      return process.memoryUsage().arrayBuffers;
    };
    const padding = 512 * 1024;
    const f = await startOriginFixture({ render: (m, o) => `${serializeMediaPlaylist(m, o)}#${String(m.pending?.parts.length)}${'x'.repeat(padding)}\n` });
    try {
      let model = liveModel();
      const serveAllVariants = async () => {
        for (const enc of ['identity', 'gzip', 'br']) {
          expect((await httpRequest(`${f.base}${PL}`, { headers: { 'Accept-Encoding': enc } })).status).toBe(200);
          expect((await httpRequest(`${f.base}${PL}?_HLS_skip=YES`, { headers: { 'Accept-Encoding': enc } })).status).toBe(200);
        }
      };
      await f.publish(model);
      await serveAllVariants();
      const before = await settledArrayBuffers();
      const versions = 40;
      for (let i = 0; i < versions; i++) {
        model = advance(model);
        await f.publish(model);
        await serveAllVariants();
      }
      const grown = (await settledArrayBuffers()) - before;
      // Kept: the current version's two uncompressed bodies, plus whatever a loaded machine still has
      // in flight (seen up to ~8 bodies in CI). Leaking would keep 2 × 40 of them (40 MiB).
      expect(grown).toBeLessThan(16 * padding);
    } finally {
      await f.close();
    }
  });
});
