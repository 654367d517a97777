import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseOriginOptions, runOrigin } from '../../../src/cli/origin-command.js';
import { silentLogger } from '../../../src/core/logger.js';
import { parseMediaPlaylist } from '../../../src/package/playlist-parser.js';
import { serializeMediaPlaylist } from '../../../src/package/playlist-serializer.js';
import { CountingFsStorage } from '../../helpers/counting-storage.js';
import { httpRequest } from '../../helpers/origin-http.js';
import { liveModel } from '../../helpers/origin-playlists.js';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

describe('livepipe origin (runOrigin wiring)', () => {
  it('serves a data directory on the configured port, then shuts down in order when stopped', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'livepipe-origin-cli-'));
    const storage = new CountingFsStorage(dir);
    await storage.put('live/news/v0/playlist.m3u8', Buffer.from(serializeMediaPlaylist(liveModel())), { contentType: 'application/vnd.apple.mpegurl' });
    const port = await freePort();
    const config = parseOriginOptions({ dataDir: dir, port: String(port) });
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
    stop();
    await running;
    expect(closed).toBe(true);
    await expect(httpRequest(`http://127.0.0.1:${port}/live/news/v0/playlist.m3u8`)).rejects.toThrow();
    await rm(dir, { recursive: true, force: true });
  });
});
