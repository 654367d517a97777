/** Real origin on an ephemeral loopback port, fed by an EmbeddedSource, media on a temp directory. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../src/core/logger.js';
import { EmbeddedSource } from '../../../src/origin/embedded-source.js';
import { OriginServer, type OriginServerOptions } from '../../../src/origin/origin-server.js';
import type { MediaPlaylist } from '../../../src/hls/playlist-model.js';
import { serializeMediaPlaylist } from '../../../src/hls/playlist-serializer.js';
import { CountingFsStorage } from '../storage/counting-storage.js';

export interface OriginFixture {
  server: OriginServer;
  source: EmbeddedSource;
  storage: CountingFsStorage;
  base: string;
  dir: string;
  /** Writes every part/segment/init the model names (4-byte-tagged bodies), then publishes it. */
  publish(model: MediaPlaylist, channel?: string, rendition?: string): Promise<void>;
  close(): Promise<void>;
}

/** Deterministic body of a media file, so tests can check what they got. */
export function mediaBody(key: string): Buffer {
  return Buffer.from(`media:${key}:`.padEnd(600, '#'), 'utf8');
}

export async function startOriginFixture(options: Partial<OriginServerOptions> = {}): Promise<OriginFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'livepipe-origin-'));
  const storage = new CountingFsStorage(join(dir, 'data'));
  await storage.start();
  const source = new EmbeddedSource();
  await source.start();
  const server = new OriginServer({ source, storage, render: serializeMediaPlaylist, logger: silentLogger(), port: 0, ...options });
  await server.start();
  const written = new Set<string>();
  const fixture: OriginFixture = {
    server,
    source,
    storage,
    dir,
    base: `http://127.0.0.1:${server.address().port}`,
    async publish(model, channel = 'news', rendition = 'v0') {
      const uris = new Set<string>();
      for (const s of model.segments) {
        uris.add(s.uri).add(s.mapUri);
        for (const p of s.parts) uris.add(p.uri);
      }
      if (model.pending) {
        uris.add(model.pending.mapUri);
        for (const p of model.pending.parts) uris.add(p.uri);
      }
      for (const uri of uris) {
        const key = `live/${channel}/${rendition}/${uri}`;
        if (written.has(key)) continue;
        written.add(key);
        await storage.put(key, mediaBody(key), { contentType: 'video/iso.segment' });
      }
      source.publish(channel, rendition, model);
    },
    async close() {
      await server.close();
      await source.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return fixture;
}
