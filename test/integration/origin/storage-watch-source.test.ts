import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lastPosition } from '../../../src/hls/playlist-model.js';
import { silentLogger } from '../../../src/core/logger.js';
import { OriginServer } from '../../../src/origin/origin-server.js';
import { StorageWatchSource } from '../../../src/origin/storage-watch-source.js';
import type { MediaPlaylist } from '../../../src/hls/playlist-model.js';
import { parseMediaPlaylist } from '../../../src/hls/playlist-parser.js';
import { serializeMediaPlaylist } from '../../../src/hls/playlist-serializer.js';
import { CountingFsStorage } from '../../helpers/storage/counting-storage.js';
import { httpRequest } from '../../helpers/origin/http.js';
import { advance, liveModel } from '../../helpers/origin/playlists.js';
import { waitFor } from '../../helpers/wait.js';

const KEY = 'live/news/v0/playlist.m3u8';

describe('standalone origin: StorageWatchSource over a storage directory', () => {
  let dir: string;
  let storage: CountingFsStorage;
  let source: StorageWatchSource;
  let server: OriginServer;
  let base: string;
  let parses = 0;

  const write = (model: MediaPlaylist, key = KEY) => storage.put(key, Buffer.from(serializeMediaPlaylist(model)), { contentType: 'application/vnd.apple.mpegurl' });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'livepipe-origin-watch-'));
    storage = new CountingFsStorage(dir);
    await storage.start();
    parses = 0;
    source = new StorageWatchSource({
      storage,
      parse: (text) => {
        parses++;
        return parseMediaPlaylist(text);
      },
      logger: silentLogger(),
      interestWindowMs: 400,
    });
    await source.start();
    server = new OriginServer({ source, storage, render: serializeMediaPlaylist, logger: silentLogger(), port: 0 });
    await server.start();
    base = `http://127.0.0.1:${server.address().port}`;
  });
  afterEach(async () => {
    await server.close();
    await source.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves playlists read from storage and releases blocking requests when the object changes', async () => {
    let model = liveModel();
    await write(model);
    const plain = await httpRequest(`${base}/${KEY}`);
    expect(plain.status).toBe(200);
    expect(plain.body.toString()).toBe(serializeMediaPlaylist(model));
    const held = httpRequest(`${base}/${KEY}?_HLS_msn=3&_HLS_part=1`);
    await waitFor(() => server.heldCount === 1, { timeoutMs: 10_000, intervalMs: 5, message: 'held' });
    model = advance(model);
    await write(model);
    const r = await held;
    expect(r.status).toBe(200);
    expect(r.body.toString()).toContain('part-3-1.m4s');
  });

  it('takes the text a notification carries instead of reading storage, unless it is behind, mismatched or unparsable', async () => {
    let model = liveModel();
    await write(model);
    expect((await httpRequest(`${base}/${KEY}`)).status).toBe(200);
    source.setNotified(true);
    await waitFor(() => storage.getsOf(KEY) >= 2, { timeoutMs: 5000, message: 'the read on entering notified mode' });
    const held = httpRequest(`${base}/${KEY}?_HLS_msn=3&_HLS_part=1`);
    await waitFor(() => server.heldCount === 1, { timeoutMs: 10_000, intervalMs: 5, message: 'held' });
    const gets = storage.getsOf(KEY);
    const next = advance(model);
    await write(next);
    const at = (m: MediaPlaylist) => ({ ...lastPosition(m), ended: m.endList });
    source.playlistStored('news', 'v0', { ...at(next), playlist: serializeMediaPlaylist(next) });
    const r = await held;
    expect(r.status).toBe(200);
    const partUri = (m: MediaPlaylist) => `part-${lastPosition(m).msn}-${lastPosition(m).part}.m4s`;
    expect(r.body.toString()).toContain(partUri(next));
    expect(storage.getsOf(KEY)).toBe(gets);
    expect(source.carried).toBe(1);
    model = next;

    // An older version (out of order), a text that is not at the announced position, or one that
    // does not parse: storage is read instead.
    const newer = advance(model);
    await write(newer);
    source.playlistStored('news', 'v0', { ...at(newer), playlist: serializeMediaPlaylist(liveModel()) });
    await waitFor(() => storage.getsOf(KEY) > gets, { timeoutMs: 5000, message: 'a storage read for a mismatched text' });
    await waitFor(async () => (await httpRequest(`${base}/${KEY}`)).body.toString().includes(partUri(newer)), { timeoutMs: 5000, message: 'the version read from storage served' });
    const reads = storage.getsOf(KEY);
    const newest = advance(newer);
    await write(newest);
    source.playlistStored('news', 'v0', { ...at(newest), playlist: '#EXTM3U\nnot a media playlist' });
    await waitFor(() => storage.getsOf(KEY) > reads, { timeoutMs: 5000, message: 'a storage read for an unparsable text' });
    expect(source.carried).toBe(1);
  });

  it('watches with conditional GETs: an unchanged playlist is not parsed again', async () => {
    await write(liveModel());
    const held = httpRequest(`${base}/${KEY}?_HLS_msn=3&_HLS_part=1`);
    await waitFor(() => server.heldCount === 1, { timeoutMs: 10_000, intervalMs: 5, message: 'held' });
    const before = source.fetches;
    await waitFor(() => source.fetches >= before + 4, { timeoutMs: 10_000, intervalMs: 5, message: 'several polls' });
    expect(parses).toBe(1);
    await write(advance(liveModel()));
    expect((await held).status).toBe(200);
    expect(parses).toBe(2);
  });

  it('holds a hinted part until storage has it and the playlist lists it', async () => {
    let model = liveModel();
    await write(model);
    const held = httpRequest(`${base}/live/news/v0/part-3-1.m4s`);
    await waitFor(() => server.heldCount === 1, { timeoutMs: 10_000, intervalMs: 5, message: 'held' });
    await storage.put('live/news/v0/part-3-1.m4s', Buffer.from('PART-3-1'), { contentType: 'video/iso.segment' });
    model = advance(model);
    await write(model);
    const r = await held;
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('PART-3-1');
  });

  it('watches only playlists with waiters or recent requests, and forgets them after', async () => {
    await write(liveModel());
    await write(liveModel(), 'live/quiet/v0/playlist.m3u8');
    expect((await httpRequest(`${base}/${KEY}`)).status).toBe(200);
    expect(source.watchedCount).toBe(1);
    // Interest window 400 ms without waiters: the entry is dropped and polling stops.
    await waitFor(() => source.watchedCount === 0, { timeoutMs: 10_000, intervalMs: 5, message: 'the idle playlist to be forgotten' });
    const fetches = storage.getsOf(KEY);
    await new Promise((r) => setTimeout(r, 300));
    expect(storage.getsOf(KEY)).toBe(fetches);
    expect(storage.getsOf('live/quiet/v0/playlist.m3u8')).toBe(0);
  });

  it('a playlist that does not parse keeps the previous state', async () => {
    await write(liveModel());
    expect((await httpRequest(`${base}/${KEY}`)).status).toBe(200);
    await storage.put(KEY, Buffer.from('garbage'), { contentType: 'application/vnd.apple.mpegurl' });
    const held = httpRequest(`${base}/${KEY}?_HLS_msn=3&_HLS_part=1`);
    await waitFor(() => server.heldCount === 1, { timeoutMs: 10_000, intervalMs: 5, message: 'held' });
    await write(advance(liveModel()));
    expect((await held).status).toBe(200);
  });

  it('404 for a playlist storage does not have', async () => {
    expect((await httpRequest(`${base}/live/none/v0/playlist.m3u8`)).status).toBe(404);
  });
});
