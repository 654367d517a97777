import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import { EmbeddedSource } from '../../../src/origin/embedded-source.js';
import { parseMediaPlaylist } from '../../../src/hls/playlist-parser.js';
import { serializeMediaPlaylist } from '../../../src/hls/playlist-serializer.js';
import { advance, liveModel } from '../../helpers/origin/playlists.js';

/** Storage holding what a previous process stored: a few keys of playlist text. */
function storedPlaylists(objects: Record<string, string>) {
  const reads: string[] = [];
  return {
    reads,
    storage: {
      async get(key: string) {
        reads.push(key);
        const text = objects[key];
        return text === undefined ? undefined : { body: Buffer.from(text), etag: 'x', contentType: 'application/vnd.apple.mpegurl' };
      },
    },
  };
}

describe('EmbeddedSource: playlists this process has not published', () => {
  const stored = liveModel({ firstMsn: 40 });
  const objects = {
    'live/news/v0/playlist.m3u8': serializeMediaPlaylist(stored),
    'live/news/audio/playlist.m3u8': serializeMediaPlaylist(stored),
  };

  it('are answered from storage, every rendition, before the packager publishes any', async () => {
    const { storage } = storedPlaylists(objects);
    const source = new EmbeddedSource({ stored: { storage: storage as never, parse: parseMediaPlaylist, logger: silentLogger() } });
    await source.start();
    for (const rendition of ['v0', 'audio']) {
      const snapshot = await source.get('news', `${rendition}/playlist.m3u8`);
      expect(snapshot?.model.mediaSequence, rendition).toBe(40);
      expect(snapshot?.model.segments.map((s) => s.msn), rendition).toEqual(stored.segments.map((s) => s.msn));
    }
    expect(await source.get('news', 'v1/playlist.m3u8')).toBeUndefined();
  });

  it('published models win over storage, and are answered without a storage read', async () => {
    const { storage, reads } = storedPlaylists(objects);
    const source = new EmbeddedSource({ stored: { storage: storage as never, parse: parseMediaPlaylist, logger: silentLogger() } });
    const newer = advance(advance(stored));
    source.publish('news', 'v0', newer);
    const snapshot = await source.get('news', 'v0/playlist.m3u8');
    expect(snapshot?.model).toEqual(newer);
    expect(reads).toEqual([]);
  });

  it('an unpublished playlist stays 404 (its stored text is not served back) until published again', async () => {
    const { storage } = storedPlaylists(objects);
    const source = new EmbeddedSource({ stored: { storage: storage as never, parse: parseMediaPlaylist, logger: silentLogger() } });
    source.publish('news', 'v0', stored);
    source.unpublish('news', 'v0');
    expect(await source.get('news', 'v0/playlist.m3u8')).toBeUndefined();
    source.publish('news', 'v0', stored);
    expect((await source.get('news', 'v0/playlist.m3u8'))?.model.mediaSequence).toBe(40);
  });

  it('an unreadable stored playlist is missing, not an error', async () => {
    const { storage } = storedPlaylists({ 'live/news/v0/playlist.m3u8': 'not a playlist' });
    const source = new EmbeddedSource({ stored: { storage: storage as never, parse: parseMediaPlaylist, logger: silentLogger() } });
    expect(await source.get('news', 'v0/playlist.m3u8')).toBeUndefined();
  });

  it('without `stored`, only published playlists exist', async () => {
    const source = new EmbeddedSource();
    expect(await source.get('news', 'v0/playlist.m3u8')).toBeUndefined();
  });
});
