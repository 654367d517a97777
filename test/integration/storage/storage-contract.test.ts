import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, isLivepipeError } from '../../../src/core/errors.js';
import type { GetResult, ObjectStorage, StoredObject } from '../../../src/storage/object-storage.js';
import { startFsFixture, startS3Fixture, type DriverFixture } from '../../helpers/storage/drivers.js';

/**
 * One contract, two drivers: the filesystem driver in a temporary directory (with writes inline, its
 * default on a local disk, and through the thread pool, its mode for network file systems), and the
 * S3 driver against a real S3-compatible server (s3rver) over HTTP on loopback.
 */
const drivers: Array<[string, () => Promise<DriverFixture>]> = [
  ['fs (inline)', () => startFsFixture({ io: 'inline' })],
  ['fs (thread pool)', () => startFsFixture({ io: 'thread-pool' })],
  ['s3', () => startS3Fixture()],
];

const SEGMENT = 'video/iso.segment';
const PLAYLIST = 'application/vnd.apple.mpegurl';

function stored(result: GetResult | undefined): StoredObject {
  if (result === undefined || 'notModified' in result) throw new Error(`expected an object, got ${JSON.stringify(result)}`);
  return result;
}

function md5(body: Uint8Array): string {
  return `"${createHash('md5').update(body).digest('hex')}"`;
}

describe.each(drivers)('%s storage contract', (_name, start) => {
  let fixture: DriverFixture;
  let storage: ObjectStorage;

  beforeAll(async () => {
    fixture = await start();
    storage = fixture.storage;
  });
  afterAll(async () => {
    await fixture?.close();
  });

  it('round-trips bytes with their content type, cache-control and a strong ETag', async () => {
    const body = Buffer.from([0, 1, 2, 255, 254, 10, 13]);
    await storage.put('live/ch1/v720/part-1-0.m4s', body, { contentType: SEGMENT, cacheControl: 'max-age=60, immutable' });
    const object = stored(await storage.get('live/ch1/v720/part-1-0.m4s'));
    expect(Buffer.compare(object.body, body)).toBe(0);
    expect(object.contentType).toBe(SEGMENT);
    expect(object.etag).toBe(md5(body)); // same validator on both drivers: S3's single-PUT ETag
    expect(object.lastModified.getTime()).toBeGreaterThan(Date.UTC(2020, 0, 1));
    if (fixture.keepsCacheControl) expect(object.cacheControl).toBe('max-age=60, immutable');
    else expect(object.cacheControl).toBeUndefined();

    await storage.put('live/ch1/v720/playlist.m3u8', Buffer.from('#EXTM3U\n'), { contentType: PLAYLIST });
    expect(stored(await storage.get('live/ch1/v720/playlist.m3u8')).contentType).toBe(PLAYLIST);
  });

  it('stores an empty object', async () => {
    await storage.put('live/ch1/empty.m4s', new Uint8Array(0), { contentType: SEGMENT });
    expect(stored(await storage.get('live/ch1/empty.m4s')).body.length).toBe(0);
  });

  it('returns undefined for a missing key, and for a key that is only a folder', async () => {
    expect(await storage.get('live/nothing/here.m4s')).toBeUndefined();
    await storage.put('live/folder/inner/x.m4s', Buffer.from('x'), { contentType: SEGMENT });
    expect(await storage.get('live/folder/inner')).toBeUndefined();
    expect(await storage.get('live/folder/inner/x.m4s/deeper')).toBeUndefined();
  });

  it('answers notModified when If-None-Match names the current ETag, the body otherwise', async () => {
    const key = 'live/ch1/v720/playlist-inm.m3u8';
    await storage.put(key, Buffer.from('#EXTM3U\n#v1\n'), { contentType: PLAYLIST });
    const first = stored(await storage.get(key));
    expect(await storage.get(key, { ifNoneMatch: first.etag })).toEqual({ notModified: true, etag: first.etag });
    // a second conditional GET (the fs driver answers this one from its ETag cache)
    expect(await storage.get(key, { ifNoneMatch: first.etag })).toEqual({ notModified: true, etag: first.etag });
    expect(stored(await storage.get(key, { ifNoneMatch: '"not-it"' })).etag).toBe(first.etag);

    await storage.put(key, Buffer.from('#EXTM3U\n#v2\n'), { contentType: PLAYLIST });
    const second = stored(await storage.get(key, { ifNoneMatch: first.etag }));
    expect(second.body.toString()).toBe('#EXTM3U\n#v2\n');
    expect(second.etag).not.toBe(first.etag);
  });

  it('replaces an object on overwrite', async () => {
    const key = 'live/ch1/v720/playlist-over.m3u8';
    await storage.put(key, Buffer.alloc(40_000, 'a'), { contentType: PLAYLIST });
    await storage.put(key, Buffer.from('short'), { contentType: PLAYLIST });
    expect(stored(await storage.get(key)).body.toString()).toBe('short');
    expect(await storage.list('live/ch1/v720/playlist-over')).toEqual([key]); // no temporary files show
  });

  it('never shows a partial object to concurrent readers while it is overwritten', async (context) => {
    // S3 PUTs are atomic; s3rver writes objects in place, so only drivers that promise it are checked.
    if (!fixture.atomicOverwrite) context.skip();
    const key = 'live/ch1/v720/atomic.m3u8';
    const versions = Array.from({ length: 30 }, (_, i) => Buffer.alloc(64_000 + i * 1000, String.fromCharCode(97 + (i % 26))));
    await storage.put(key, versions[0]!, { contentType: PLAYLIST });
    let writing = true;
    const seen: string[] = [];
    const reader = (async () => {
      while (writing) {
        const object = stored(await storage.get(key));
        const first = object.body[0]!;
        // every byte of one version is the same letter, and its length belongs to that letter
        expect(object.body.every((byte) => byte === first)).toBe(true);
        expect(versions.some((v) => v.length === object.body.length && v[0] === first)).toBe(true);
        seen.push(object.etag);
      }
    })();
    for (const version of versions) await storage.put(key, version, { contentType: PLAYLIST });
    writing = false;
    await reader;
    expect(seen.length).toBeGreaterThan(0);
  });

  it('lists every key under a prefix, recursively, with S3 prefix semantics', async () => {
    const keys = ['live/list/a/playlist.m3u8', 'live/list/a/seg-1.m4s', 'live/list/a/deep/x/y.m4s', 'live/list/ab/seg-1.m4s', 'live/list/b.m4s'];
    for (const key of keys) await storage.put(key, Buffer.from(key), { contentType: SEGMENT });
    expect((await storage.list('live/list/')).sort()).toEqual([...keys].sort());
    expect((await storage.list('live/list/a/')).sort()).toEqual(['live/list/a/deep/x/y.m4s', 'live/list/a/playlist.m3u8', 'live/list/a/seg-1.m4s']);
    expect((await storage.list('live/list/a')).sort()).toEqual(keys.filter((k) => k.startsWith('live/list/a')).sort());
    expect((await storage.list('live/list/a/seg-')).sort()).toEqual(['live/list/a/seg-1.m4s']);
    expect(await storage.list('live/absent/')).toEqual([]);
    expect(await storage.list('')).toEqual(expect.arrayContaining(keys));
  });

  it('deletes many keys at once, ignoring missing ones', async () => {
    const keys = Array.from({ length: 40 }, (_, i) => `live/del/v/part-${i}-0.m4s`);
    await Promise.all(keys.map((key) => storage.put(key, Buffer.from(key), { contentType: SEGMENT })));
    await storage.put('live/del/keep.m4s', Buffer.from('keep'), { contentType: SEGMENT });
    await storage.delete([...keys, 'live/del/never-existed.m4s']);
    expect(await storage.list('live/del/')).toEqual(['live/del/keep.m4s']);
    await storage.delete(keys); // all missing now: still fine
    await storage.delete([]);
  });

  const hostileKeys = [
    '',
    '/etc/passwd',
    '../escape.m4s',
    'live/../../escape.m4s',
    'live/..',
    '..',
    '.',
    'live/./x.m4s',
    'live//x.m4s',
    'live/x.m4s/',
    'live\\..\\x.m4s',
    'live/%2e%2e/x.m4s',
    'live/x\0.m4s',
    'live/\u00e9.m4s',
    'live/ x.m4s',
    'a'.repeat(1025),
  ];

  it.each(hostileKeys)('rejects the unsafe key %j everywhere and writes nothing', async (key) => {
    const body = Buffer.from('evil');
    await expect(storage.put(key, body, { contentType: SEGMENT })).rejects.toThrow(TypeError);
    await expect(storage.get(key)).rejects.toThrow(TypeError);
    await expect(storage.delete(['live/ok.m4s', key])).rejects.toThrow(TypeError);
  });

  it('rejects unsafe list prefixes', async () => {
    for (const prefix of ['../', '/abs/', 'live/../', 'live//', 'live/./x', 'live/\\x']) {
      await expect(storage.list(prefix), prefix).rejects.toThrow(TypeError);
    }
  });

  it('keeps everything inside its root', async (context) => {
    if (fixture.sandbox === undefined) context.skip();
    // The fs root is `{sandbox}/root`: after all hostile keys, the sandbox holds only the root.
    expect(await readdir(fixture.sandbox!)).toEqual(['root']);
  });

  it('answers ping', async () => {
    await expect(storage.ping()).resolves.toBeUndefined();
  });
});

describe.each(drivers)('%s storage lifecycle', (_name, start) => {
  it('refuses operations after close, and close is idempotent', async () => {
    const fixture = await start();
    const { storage } = fixture;
    const pending = storage.put('live/c/x.m4s', Buffer.from('x'), { contentType: SEGMENT });
    await fixture.close(); // waits for the in-flight put
    await expect(pending).resolves.toBeUndefined();
    await storage.close();
    const error = await storage.put('live/c/y.m4s', Buffer.from('y'), { contentType: SEGMENT }).catch((err: unknown) => err);
    expect(isLivepipeError(error, ErrorCode.Closed)).toBe(true);
  });
});
