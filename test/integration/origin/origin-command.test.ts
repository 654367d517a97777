import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseOriginOptions, runOrigin } from '../../../src/cli/origin-command.js';
import { silentLogger } from '../../../src/core/logger.js';
import { parseMediaPlaylist } from '../../../src/hls/playlist-parser.js';
import { serializeMediaPlaylist } from '../../../src/hls/playlist-serializer.js';
import { CountingFsStorage } from '../../helpers/storage/counting-storage.js';
import { httpRequest } from '../../helpers/origin/http.js';
import { liveModel } from '../../helpers/origin/playlists.js';
import { parsePrometheusText, sampleValue } from '../../helpers/observability/prometheus-text-parser.js';
import { freePort } from '../../helpers/ports.js';

describe('livepipe origin (runOrigin wiring)', () => {
  it('serves a data directory on the configured port, then shuts down in order when stopped', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'livepipe-origin-cli-'));
    const storage = new CountingFsStorage(dir);
    await storage.put('live/news/v0/playlist.m3u8', Buffer.from(serializeMediaPlaylist(liveModel())), { contentType: 'application/vnd.apple.mpegurl' });
    const port = await freePort();
    const opsPort = await freePort();
    const config = parseOriginOptions({ dataDir: dir, port: String(port), opsPort: String(opsPort) });
    let stop!: () => void;
    const stopped = new Promise<void>((r) => (stop = r));
    let closed = false;
    const opened = new CountingFsStorage(dir);
    const originalClose = opened.close.bind(opened);
    opened.close = async () => {
      closed = true;
      await originalClose();
    };
    const running = runOrigin(config, { openStorage: () => opened, parse: parseMediaPlaylist, render: serializeMediaPlaylist }, silentLogger(), stopped);
    let r;
    for (let i = 0; i < 100; i++) {
      r = await httpRequest(`http://127.0.0.1:${port}/live/news/v0/playlist.m3u8`).catch(() => undefined);
      if (r) break;
      await new Promise((res) => setTimeout(res, 20));
    }
    expect(r?.status).toBe(200);
    expect(r?.body.toString()).toContain('#EXT-X-PART-INF');

    // The ops port: health, readiness (storage and origin) and the origin's own metrics.
    const ops = `http://127.0.0.1:${opsPort}`;
    expect((await httpRequest(`${ops}/healthz`)).status).toBe(200);
    const ready = await httpRequest(`${ops}/readyz`);
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body.toString())).toEqual({ status: 'ready', checks: [{ name: 'storage', ok: true }, { name: 'listeners', ok: true }] });
    expect((await httpRequest(`http://127.0.0.1:${port}/live/news/nope/playlist.m3u8`)).status).toBe(404);
    const scrape = parsePrometheusText((await httpRequest(`${ops}/metrics`)).body.toString());
    expect(sampleValue(scrape, 'livepipe_origin_requests_total', { class: 'playlist', status: '200' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(scrape, 'livepipe_origin_requests_total', { class: 'playlist', status: '404' })).toBe(1);
    // No channel routes there (they belong to the packager's serve), and the document says so.
    expect((await httpRequest(`${ops}/api/v1/channels`)).status).toBe(404);
    const doc = JSON.parse((await httpRequest(`${ops}/api/v1/openapi.json`)).body.toString()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths).sort()).toEqual(['/api/v1/openapi.json', '/healthz', '/metrics', '/readyz']);
    // CDNs reach the origin port only: it does not answer the ops paths.
    expect((await httpRequest(`http://127.0.0.1:${port}/metrics`)).status).toBe(404);
    stop();
    await running;
    expect(closed).toBe(true);
    await expect(httpRequest(`http://127.0.0.1:${port}/live/news/v0/playlist.m3u8`)).rejects.toThrow();
    await expect(httpRequest(`${ops}/healthz`)).rejects.toThrow();
    await rm(dir, { recursive: true, force: true });
  });
});
