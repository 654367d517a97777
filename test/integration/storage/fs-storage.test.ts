import fc from 'fast-check';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, isLivepipeError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { md5ETag } from '../../../src/storage/etag.js';
import { FsStorage, INLINE_MAX_BYTES, INLINE_MAX_DELETES } from '../../../src/storage/fs-storage.js';
import { captureLogs } from '../../helpers/logs/log-capture.js';

describe('filesystem driver specifics', () => {
  let sandbox: string;

  beforeAll(async () => {
    sandbox = await mkdtemp(join(tmpdir(), 'livepipe-fs-'));
  });
  afterAll(async () => {
    await rm(sandbox, { recursive: true, force: true });
  });

  it('creates its root on start, and fails start clearly when the root is a file', async () => {
    const storage = new FsStorage({ root: join(sandbox, 'a', 'b', 'c') }, silentLogger());
    await storage.start();
    await storage.close();

    await writeFile(join(sandbox, 'plain-file'), 'x');
    const blocked = new FsStorage({ root: join(sandbox, 'plain-file') }, silentLogger());
    const err = await blocked.start().catch((e: unknown) => e);
    expect(isLivepipeError(err, ErrorCode.StorageUnavailable)).toBe(true);
    expect((err as Error).message).toContain('plain-file');
  });

  it('writes with fsync enabled and leaves no temporary files behind', async () => {
    const root = join(sandbox, 'fsync');
    const storage = new FsStorage({ root, fsync: true }, silentLogger());
    await storage.start();
    await storage.put('live/ch/v/seg-1.m4s', Buffer.from('durable'), { contentType: 'video/iso.segment' });
    await storage.put('live/ch/v/seg-1.m4s', Buffer.from('durable 2'), { contentType: 'video/iso.segment' });
    expect(await readdir(join(root, 'live/ch/v'))).toEqual(['seg-1.m4s']);
    await storage.close();
  });

  it('leaves no temporary file when a put is aborted', async () => {
    const root = join(sandbox, 'abort');
    const storage = new FsStorage({ root }, silentLogger());
    await storage.start();
    await storage.put('live/ch/v/seg-1.m4s', Buffer.alloc(10), { contentType: 'video/iso.segment' });
    const controller = new AbortController();
    controller.abort(new Error('attempt timed out'));
    const err = await storage
      .put('live/ch/v/seg-2.m4s', Buffer.alloc(1000), { contentType: 'video/iso.segment', signal: controller.signal })
      .catch((e: unknown) => e);
    expect(isLivepipeError(err, ErrorCode.StorageUnavailable)).toBe(true);
    expect(await storage.get('live/ch/v/seg-2.m4s')).toBeUndefined();
    expect(await readdir(join(root, 'live/ch/v'))).toEqual(['seg-1.m4s']);
    await storage.close();
  });

  it('creates a key folder on first use, again when it was removed behind its back, and computes the ETag on first read', async () => {
    const root = join(sandbox, 'folders');
    const storage = new FsStorage({ root }, silentLogger());
    await storage.start();
    await storage.put('live/ch/v/part-1-0.m4s', Buffer.from('one'), { contentType: 'video/iso.segment' });
    await rm(join(root, 'live/ch'), { recursive: true });
    await storage.put('live/ch/v/part-1-1.m4s', Buffer.from('two'), { contentType: 'video/iso.segment' });
    expect(await readdir(join(root, 'live/ch/v'))).toEqual(['part-1-1.m4s']);
    const object = await storage.get('live/ch/v/part-1-1.m4s');
    if (object === undefined || 'notModified' in object) throw new Error('expected the object');
    expect(object.etag).toBe(md5ETag(Buffer.from('two')));
    expect(await storage.get('live/ch/v/part-1-1.m4s', { ifNoneMatch: object.etag })).toEqual({ notModified: true, etag: object.etag });
    await storage.close();
  });

  it('gives concurrent puts of one key their own temporary files: the last rename wins, nothing is left behind', async () => {
    const root = join(sandbox, 'concurrent');
    const storage = new FsStorage({ root }, silentLogger());
    await storage.start();
    const bodies = Array.from({ length: 20 }, (_, i) => Buffer.from(`#EXTM3U\n#${i}\n`));
    await Promise.all(bodies.map((body) => storage.put('live/ch/v/playlist.m3u8', body, { contentType: 'application/vnd.apple.mpegurl' })));
    expect(await readdir(join(root, 'live/ch/v'))).toEqual(['playlist.m3u8']);
    const object = await storage.get('live/ch/v/playlist.m3u8');
    if (object === undefined || 'notModified' in object) throw new Error('expected the object');
    expect(bodies.some((b) => b.equals(object.body))).toBe(true);
    await storage.close();
  });

  it('ignores temporary files left by a crash when listing', async () => {
    const root = join(sandbox, 'crash');
    const storage = new FsStorage({ root }, silentLogger());
    await storage.start();
    await storage.put('live/ch/v/seg-3.m4s', Buffer.from('x'), { contentType: 'video/iso.segment' });
    await writeFile(join(root, 'live/ch/v/seg-4.m4s~0123456789ab.tmp'), 'half');
    expect(await storage.list('live/ch/')).toEqual(['live/ch/v/seg-3.m4s']);
    await storage.close();
  });

  it('notices a file rewritten behind its back (the ETag cache follows the file, not the key)', async () => {
    const root = join(sandbox, 'external');
    const storage = new FsStorage({ root }, silentLogger());
    await storage.start();
    const key = 'live/ch/v/playlist.m3u8';
    await storage.put(key, Buffer.from('#EXTM3U\n#1\n'), { contentType: 'application/vnd.apple.mpegurl' });
    const first = await storage.get(key);
    if (first === undefined || 'notModified' in first) throw new Error('expected the object');
    // another process replaces the file (same size) without going through the driver
    await writeFile(join(root, key), '#EXTM3U\n#2\n');
    const second = await storage.get(key, { ifNoneMatch: first.etag });
    if (second === undefined || 'notModified' in second) throw new Error('a changed file must not be 304');
    expect(second.body.toString()).toBe('#EXTM3U\n#2\n');
    expect(second.etag).toBe(md5ETag(Buffer.from('#EXTM3U\n#2\n')));
    await storage.close();
  });

  it('keeps every accepted key inside the root, whatever the key (fuzzed)', async () => {
    const sandboxDir = await mkdtemp(join(sandbox, 'fuzz-'));
    const root = join(sandboxDir, 'root');
    await writeFile(join(sandboxDir, 'secret.m4s'), 'outside the root');
    const storage = new FsStorage({ root }, silentLogger());
    await storage.start();
    const written = new Set<string>();
    const piece = fc.constantFrom('.', '..', '/', 'a', 'secret.m4s', '\\', '%2e', '\0', '~', ' ', 'é', 'root');
    const hostileKey = fc.array(piece, { minLength: 1, maxLength: 8 }).map((p) => p.join(''));
    // Half the runs are keys a packager could write, so accepted keys are exercised as much as refusals
    // (a random hostile join is accepted only rarely).
    const plausibleKey = fc
      .array(fc.constantFrom('a', 'live', 'seg-1.m4s', 'root', 'secret.m4s', '..', '.'), { minLength: 1, maxLength: 4 })
      .map((p) => p.join('/'));
    await fc.assert(
      fc.asyncProperty(fc.oneof(hostileKey, plausibleKey), async (key) => {
        const got = await storage.get(key).catch((err: unknown) => err);
        if (got instanceof TypeError) {
          await expect(storage.put(key, Buffer.from(key), { contentType: 'video/iso.segment' })).rejects.toThrow(TypeError);
          return;
        }
        // accepted: whatever it names lives under the root, and reading it never reaches outside
        if (got !== undefined && !(got instanceof Error) && 'body' in (got as object)) {
          expect((got as { body: Buffer }).body.toString()).not.toBe('outside the root');
        }
        await storage.put(key, Buffer.from(key), { contentType: 'video/iso.segment' }).catch((err: unknown) => {
          // a key can collide with a folder made by an earlier key (a/b vs a): a storage error, never an escape
          expect(isLivepipeError(err, ErrorCode.StorageUnavailable)).toBe(true);
        });
        written.add(key);
      }),
      { numRuns: 300 },
    );
    expect(written.size).toBeGreaterThan(10); // the fuzz did exercise accepted keys, not only rejections
    expect((await readdir(sandboxDir)).sort()).toEqual(['root', 'secret.m4s']);
    for (const key of await storage.list('')) {
      expect(relative(root, join(root, key)).split(sep)).not.toContain('..');
      expect(written.has(key)).toBe(true);
    }
    await storage.close();
  });

  it('writes inline on a local disk by default, through the thread pool with fsync or when asked', async () => {
    // The CI and developer machines keep the temporary directory on a local file system (ext4, xfs,
    // tmpfs, overlayfs…), never on NFS.
    const modes: Array<[ConstructorParameters<typeof FsStorage>[0], 'inline' | 'thread-pool']> = [
      [{ root: join(sandbox, 'mode-auto') }, 'inline'],
      [{ root: join(sandbox, 'mode-fsync'), fsync: true }, 'thread-pool'],
      [{ root: join(sandbox, 'mode-pool'), io: 'thread-pool' }, 'thread-pool'],
      [{ root: join(sandbox, 'mode-inline-fsync'), io: 'inline', fsync: true }, 'inline'],
    ];
    for (const [options, expected] of modes) {
      const storage = new FsStorage(options, silentLogger());
      await storage.start();
      expect(storage.ioMode, JSON.stringify(options)).toBe(expected);
      await storage.put('live/ch/v/part-1-0.m4s', Buffer.from('part'), { contentType: 'video/iso.segment' });
      await storage.put('live/ch/v/part-1-0.m4s', Buffer.from('part 2'), { contentType: 'video/iso.segment' });
      expect(await readdir(join(options.root, 'live/ch/v'))).toEqual(['part-1-0.m4s']);
      await storage.delete(['live/ch/v/part-1-0.m4s', 'live/ch/v/never-written.m4s']);
      expect(await readdir(join(options.root, 'live/ch/v'))).toEqual([]);
      await storage.close();
    }
  });

  it('turns to the thread pool after a slow inline call, says so, and keeps every write', async () => {
    const logs = captureLogs();
    // Every call counts as slow: the first put runs inline, then the driver pauses inline I/O.
    const storage = new FsStorage({ root: join(sandbox, 'slow'), io: 'inline', inlineSlowMs: -1 }, logs.logger);
    await storage.start();
    expect(storage.ioMode).toBe('inline');
    await storage.put('live/ch/v/part-1-0.m4s', Buffer.from('a'), { contentType: 'video/iso.segment' });
    expect(storage.ioMode).toBe('thread-pool');
    await storage.put('live/ch/v/part-1-1.m4s', Buffer.from('b'), { contentType: 'video/iso.segment' });
    expect(await readdir(join(sandbox, 'slow', 'live/ch/v'))).toEqual(['part-1-0.m4s', 'part-1-1.m4s']);
    const warnings = logs.entries().filter((e) => e.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ op: 'put', pauseSeconds: 60 });
    await storage.close();
  });

  it('writes large objects and deletes large batches through the thread pool even when inline', async () => {
    const logs = captureLogs();
    // Every inline call counts as slow, so the first one that runs inline pauses inline I/O (and
    // warns): until then, nothing ran inline.
    const root = join(sandbox, 'large');
    const storage = new FsStorage({ root, io: 'inline', inlineSlowMs: -1 }, logs.logger);
    await storage.start();
    const big = Buffer.alloc(INLINE_MAX_BYTES + 1, 3);
    await storage.put('live/ch/v/seg-1.m4s', big, { contentType: 'video/iso.segment' });
    const many = Array.from({ length: INLINE_MAX_DELETES + 1 }, (_, i) => `live/ch/v/part-1-${i}.m4s`);
    await storage.delete(many);
    expect(storage.ioMode).toBe('inline');
    expect(logs.entries().filter((e) => e.level === 40)).toEqual([]);
    const read = await storage.get('live/ch/v/seg-1.m4s');
    expect(read !== undefined && 'body' in read && read.body.equals(big)).toBe(true);
    // A small put runs inline (and, being "slow", pauses inline I/O).
    await storage.put('live/ch/v/part-1-0.m4s', Buffer.from('small'), { contentType: 'video/iso.segment' });
    expect(storage.ioMode).toBe('thread-pool');
    await storage.close();
  });

  it('reports inline failures as storage errors and leaves no temporary file', async () => {
    const root = join(sandbox, 'inline-fail');
    const storage = new FsStorage({ root, io: 'inline' }, silentLogger());
    await storage.start();
    // A file where the key needs a directory: the write fails with ENOTDIR.
    await writeFile(join(root, 'live'), 'not a directory');
    const err = await storage.put('live/ch/v/part-1-0.m4s', Buffer.from('x'), { contentType: 'video/iso.segment' }).catch((e: unknown) => e);
    expect(isLivepipeError(err, ErrorCode.StorageUnavailable)).toBe(true);
    expect((err as Error).message).toContain('live/ch/v/part-1-0.m4s');
    expect(await readdir(root)).toEqual(['live']);
    await storage.close();
  });

  it('rejects an empty root', () => {
    expect(() => new FsStorage({ root: '  ' }, silentLogger())).toThrow(/root is empty/);
  });
});
