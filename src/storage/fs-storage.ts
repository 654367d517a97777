import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  close as fsClose,
  constants as fsConstants,
  fsync as fsFsync,
  mkdirSync,
  open as fsOpen,
  openSync,
  renameSync,
  unlinkSync,
  write as fsWrite,
  writeSync,
} from 'node:fs';
import { access, mkdir, open, readdir, rename, rm, stat, statfs, unlink } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { dirname, join, resolve, sep } from 'node:path';
import { ErrorCode, LivepipeError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { contentTypeForKey } from './content-types.js';
import { ifNoneMatchHits, md5ETag } from './etag.js';
import { localFilesystemName } from './local-filesystems.js';
import { assertSafeKey, assertSafePrefix, type GetOptions, type GetResult, type ObjectStorage, type PutOptions } from './object-storage.js';
import { OperationTracker } from './operation-tracker.js';

export interface FsStorageOptions {
  /** Directory holding the objects; created by `start()`. Relative paths resolve against the cwd. */
  root: string;
  /**
   * fsync each object (and its directory after the rename) before `put` resolves. Default `false`:
   * live media is short-lived and readers see a renamed file at once through the page cache; a
   * power cut loses the live window whatever we do, and an fsync per part costs milliseconds of
   * latency on every write. Turn it on for recordings kept on local disk.
   */
  fsync?: boolean;
  /** ETags remembered for recently written or read files (an LRU). Default 4096. */
  etagCacheSize?: number;
  /**
   * How writes and deletes reach the file system. Default `'auto'`: `'inline'` when `root` is on a
   * local disk or memory file system (`local-filesystems.ts`) and `fsync` is off, else `'thread-pool'`.
   *
   * - `'inline'`: synchronous calls on the event loop. Creating a file of a part or playlist in the
   *   page cache takes ~0.1–0.3 ms here, less than the CPU of handing each of its four calls (open,
   *   write, close, rename) to libuv's thread pool and back (wake-ups of a pool thread and of the
   *   loop); inline writes cut the packager's CPU by about an eighth and part write p99 from ~20 ms
   *   (queued behind other pool work) to ~3 ms (`npm run bench`, packager-live).
   * - `'thread-pool'`: asynchronous calls, for network file systems and fsync, where one call can take
   *   milliseconds to seconds and must not hold up the event loop (origin, ingest, API).
   *
   * An inline call slower than `inlineSlowMs` (a saturated disk, a remount) switches the
   * driver to the thread pool for {@link INLINE_PAUSE_MS}, with a warning.
   */
  io?: FsIoMode;
  /** Milliseconds above which an inline call counts as slow. Default {@link INLINE_SLOW_MS}. */
  inlineSlowMs?: number;
}

export type FsIoMode = 'auto' | 'inline' | 'thread-pool';

/** An inline write or delete slower than this pauses inline I/O. */
export const INLINE_SLOW_MS = 20;
/** How long inline I/O stays paused after a slow call. */
export const INLINE_PAUSE_MS = 60_000;
/**
 * Larger objects are written through the thread pool even when inline I/O is on: copying megabytes
 * into the page cache takes milliseconds of event loop, and such objects (a high-bitrate segment)
 * come at most once a segment per rendition, so the hand-off costs nothing that matters.
 */
export const INLINE_MAX_BYTES = 1024 * 1024;
/** Larger delete batches (a channel's whole window at once) use the thread pool, for the same reason. */
export const INLINE_MAX_DELETES = 64;

/** Files whose name contains this are the driver's temporary files; no valid key contains it. */
const TEMP_MARK = '~';
/** Concurrent unlinks in one `delete` call. */
const DELETE_CONCURRENCY = 32;

interface CachedETag {
  /** dev:ino:size:mtimeNs of the file the ETag was computed for. */
  fingerprint: string;
  etag: string;
}

/**
 * The embedded default driver: one file per object under `root`, at the path of its key.
 *
 * - **Atomic writes**: the body goes to a temporary file in the destination directory (same file
 *   system) and is renamed over the key; readers see the old file or the new one, never a partial one.
 * - **Metadata**: the content type is derived from the key's extension (`content-types.ts`), so there
 *   is no metadata file next to each object. The `contentType` given to `put` is therefore not kept
 *   (an audio-only init segment `init-1.mp4` reads back as `video/mp4`, which players accept), and
 *   neither is `cacheControl`: the origin sets Cache-Control itself (LL-HLS App. B.1).
 * - **ETag**: the quoted MD5 of the body (same as S3's for a single PUT), computed by the first `get`
 *   of a version (which reads the whole file anyway), not by `put`: most objects written (parts,
 *   playlist versions) are never read back through the driver. An LRU of fingerprint → ETag lets a
 *   later conditional GET on an unchanged file answer 304 after a single `fstat`, without reading or
 *   hashing. A new version is always a new inode (it is created while the old one still exists), so
 *   the fingerprint changes with the content.
 * - **Safety**: keys pass `assertSafeKey` and the resolved path must stay under `root`.
 *   Directories left empty by `delete` are kept (removing them would race with concurrent puts).
 */
export class FsStorage implements ObjectStorage {
  private readonly root: string;
  private readonly fsync: boolean;
  private readonly etagCacheSize: number;
  private readonly etags = new Map<string, CachedETag>();
  private readonly ops = new OperationTracker('filesystem storage');
  private readonly logger: Logger;
  /** Temporary file names: this instance's random prefix and a counter (unique without a random draw per put). */
  private readonly tempPrefix = randomBytes(4).toString('hex');
  private tempCount = 0;
  private readonly ioOption: FsIoMode;
  private readonly inlineSlowMs: number;
  /** Resolved by `start()`: whether writes and deletes may run inline. */
  private inlineCapable = false;
  /** `performance.now()` before which inline I/O is paused after a slow call. */
  private inlinePausedUntil = 0;

  constructor(options: FsStorageOptions, logger: Logger) {
    if (options.root.trim() === '') throw new LivepipeError(ErrorCode.ConfigInvalid, 'filesystem storage root is empty');
    this.root = resolve(options.root);
    this.fsync = options.fsync ?? false;
    this.etagCacheSize = options.etagCacheSize ?? 4096;
    this.ioOption = options.io ?? 'auto';
    this.inlineSlowMs = options.inlineSlowMs ?? INLINE_SLOW_MS;
    this.logger = logger.child({ component: 'fs-storage' });
  }

  /** The absolute root directory. */
  get rootDir(): string {
    return this.root;
  }

  /** How writes and deletes run right now (`'inline'` may turn to `'thread-pool'` for a while after a slow call). */
  get ioMode(): 'inline' | 'thread-pool' {
    return this.inlineCapable && performance.now() >= this.inlinePausedUntil ? 'inline' : 'thread-pool';
  }

  async start(): Promise<void> {
    let filesystem: string | undefined;
    try {
      await mkdir(this.root, { recursive: true });
      await this.ping();
      filesystem = localFilesystemName((await statfs(this.root)).type);
    } catch (err) {
      throw new LivepipeError(ErrorCode.StorageUnavailable, `storage directory ${this.root} is not usable: ${errorMessage(err)}`, {
        cause: err,
      });
    }
    this.inlineCapable = this.ioOption === 'inline' || (this.ioOption === 'auto' && !this.fsync && filesystem !== undefined);
    this.logger.info(
      { root: this.root, fsync: this.fsync, filesystem: filesystem ?? 'not a local disk', io: this.ioMode },
      'filesystem storage ready',
    );
  }

  async put(key: string, body: Uint8Array, options: PutOptions): Promise<void> {
    const path = this.pathOf(key);
    return this.ops.run(async () => {
      const { signal } = options;
      const tmp = `${path}${TEMP_MARK}${this.tempPrefix}${(this.tempCount++).toString(36)}.tmp`;
      try {
        signal?.throwIfAborted();
        if (this.ioMode === 'inline' && body.byteLength <= INLINE_MAX_BYTES) {
          this.timedInline('put', () => putInline(tmp, path, body, this.fsync, options.beforeSend));
        } else {
          try {
            await writeNewFile(tmp, body, this.fsync);
          } catch (err) {
            if (!isErrno(err, 'ENOENT')) throw err;
            // The key's directory does not exist yet (the first object of a rendition): create it and
            // write again. Trying first saves a mkdir on every other put.
            await mkdir(dirname(path), { recursive: true });
            await writeNewFile(tmp, body, this.fsync);
          }
          signal?.throwIfAborted();
          options.beforeSend?.();
          await rename(tmp, path);
          if (this.fsync) await syncDirectory(dirname(path));
        }
      } catch (err) {
        await rm(tmp, { force: true }).catch(() => undefined);
        throw storageError('put', key, err);
      }
      // The ETag is computed by the first `get` (most objects written are never read back through
      // this driver, and hashing every part and playlist on write cost more than the write itself).
      this.etags.delete(path);
    });
  }

  async get(key: string, options: GetOptions = {}): Promise<GetResult | undefined> {
    const path = this.pathOf(key);
    return this.ops.run(async () => {
      let handle;
      try {
        handle = await open(path, 'r');
      } catch (err) {
        if (isMissing(err)) return undefined;
        throw storageError('get', key, err);
      }
      try {
        // Everything below reads through the one descriptor, so a concurrent rename cannot mix
        // the metadata of one version with the body of another.
        const stats = await handle.stat({ bigint: true });
        if (!stats.isFile()) return undefined;
        const fingerprint = fingerprintOf(stats);
        const cached = this.etags.get(path);
        let etag = cached?.fingerprint === fingerprint ? cached.etag : undefined;
        if (etag !== undefined && options.ifNoneMatch !== undefined && ifNoneMatchHits(options.ifNoneMatch, etag)) {
          return { notModified: true, etag };
        }
        const body = await handle.readFile();
        if (etag === undefined) {
          etag = md5ETag(body);
          this.remember(path, { fingerprint, etag });
        }
        if (options.ifNoneMatch !== undefined && ifNoneMatchHits(options.ifNoneMatch, etag)) {
          return { notModified: true, etag };
        }
        return {
          body,
          contentType: contentTypeForKey(key),
          etag,
          lastModified: new Date(Number(stats.mtimeMs)),
        };
      } catch (err) {
        throw storageError('get', key, err);
      } finally {
        await handle.close();
      }
    });
  }

  async delete(keys: readonly string[]): Promise<void> {
    // Validate every key before deleting anything: one unsafe key fails the whole call. Async methods
    // turn the TypeError of an unsafe key into a rejection, never a synchronous throw.
    const paths = keys.map((key) => this.pathOf(key));
    return this.ops.run(async () => {
      if (this.ioMode === 'inline' && paths.length <= INLINE_MAX_DELETES) {
        this.timedInline('delete', () => {
          paths.forEach((path, i) => {
            this.etags.delete(path);
            try {
              unlinkSync(path);
            } catch (err) {
              if (!isMissing(err)) throw storageError('delete', keys[i] ?? path, err);
            }
          });
        });
        return;
      }
      for (let i = 0; i < paths.length; i += DELETE_CONCURRENCY) {
        await Promise.all(
          paths.slice(i, i + DELETE_CONCURRENCY).map(async (path, j) => {
            this.etags.delete(path);
            try {
              await unlink(path);
            } catch (err) {
              if (isMissing(err)) return;
              throw storageError('delete', keys[i + j] ?? path, err);
            }
          }),
        );
      }
    });
  }

  async list(prefix: string): Promise<string[]> {
    // `prefix` is a string prefix of keys (S3 semantics): `live/a/` lists that folder, `live/a`
    // also matches `live/ab/…`. Walk the deepest directory the prefix fully names.
    assertSafePrefix(prefix);
    const folder = prefix.slice(0, prefix.lastIndexOf('/') + 1);
    return this.ops.run(async () => {
      const keys: string[] = [];
      try {
        await this.walk(join(this.root, folder), folder, prefix, keys);
      } catch (err) {
        throw storageError('list', prefix, err);
      }
      return keys;
    });
  }

  ping(): Promise<void> {
    return this.ops.run(async () => {
      const stats = await stat(this.root);
      if (!stats.isDirectory()) throw new LivepipeError(ErrorCode.StorageUnavailable, `${this.root} is not a directory`);
      await access(this.root, fsConstants.W_OK);
    });
  }

  close(): Promise<void> {
    return this.ops.close();
  }

  /** Absolute path of a key; throws `TypeError` for an unsafe key or one that would leave the root. */
  private pathOf(key: string): string {
    assertSafeKey(key);
    const path = resolve(this.root, key);
    // Defence in depth: assertSafeKey already forbids `..`, `/…` and empty segments.
    if (!path.startsWith(this.root + sep)) throw new TypeError(`storage key escapes the root: ${JSON.stringify(key)}`);
    return path;
  }

  private async walk(dir: string, keyPrefix: string, wanted: string, out: string[]): Promise<void> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (isMissing(err)) return;
      throw err;
    }
    for (const entry of entries) {
      if (entry.name.includes(TEMP_MARK)) continue;
      const key = keyPrefix + entry.name;
      if (entry.isDirectory()) {
        // Descend only where keys can still match the prefix.
        const sub = `${key}/`;
        if (sub.startsWith(wanted) || wanted.startsWith(sub)) await this.walk(join(dir, entry.name), sub, wanted, out);
      } else if (entry.isFile() && key.startsWith(wanted)) {
        out.push(key);
      }
    }
  }

  /** Runs an inline call; a slow one pauses inline I/O (the event loop was held for its duration). */
  private timedInline(op: string, call: () => void): void {
    const started = performance.now();
    try {
      call();
    } finally {
      const ms = performance.now() - started;
      if (ms > this.inlineSlowMs) {
        this.inlinePausedUntil = performance.now() + INLINE_PAUSE_MS;
        this.logger.warn(
          { op, ms: Math.round(ms), pauseSeconds: INLINE_PAUSE_MS / 1000 },
          'a synchronous file system call was slow: writing through the thread pool for a while',
        );
      }
    }
  }

  private remember(path: string, entry: CachedETag): void {
    this.etags.delete(path); // re-insert at the young end of the LRU
    this.etags.set(path, entry);
    if (this.etags.size > this.etagCacheSize) {
      const oldest = this.etags.keys().next();
      if (!oldest.done) this.etags.delete(oldest.value);
    }
  }
}

function fingerprintOf(stats: { dev: bigint; ino: bigint; size: bigint; mtimeNs: bigint }): string {
  return `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeNs}`;
}

/**
 * Creates `path` (which must not exist: `wx`) holding `body`, fsynced when asked: open, write, close
 * through the callback API, which costs less per call than `fs/promises` file handles (no FileHandle
 * object to track and finalize) — this runs for every part and playlist.
 */
function writeNewFile(path: string, body: Uint8Array, fsync: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    fsOpen(path, 'wx', 0o644, (openErr, fd) => {
      if (openErr) {
        reject(openErr);
        return;
      }
      const done = (err: NodeJS.ErrnoException | null): void => {
        fsClose(fd, (closeErr) => {
          const failure = err ?? closeErr;
          if (failure) reject(failure);
          else resolve();
        });
      };
      const writeFrom = (offset: number): void => {
        if (offset >= body.byteLength) {
          if (fsync) fsFsync(fd, done);
          else done(null);
          return;
        }
        fsWrite(fd, body, offset, body.byteLength - offset, null, (err, written) => {
          if (err) done(err);
          else writeFrom(offset + written);
        });
      };
      writeFrom(0);
    });
  });
}

/**
 * `put` on the event loop: the same temp-file-and-rename steps as the asynchronous path, with
 * synchronous calls. Throws the raw errno error; `put` removes the temporary file on failure, as for
 * the asynchronous path.
 */
function putInline(tmp: string, path: string, body: Uint8Array, fsync: boolean, beforeSend: (() => void) | undefined): void {
  try {
    writeNewFileSync(tmp, body, fsync);
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
    mkdirSync(dirname(path), { recursive: true });
    writeNewFileSync(tmp, body, fsync);
  }
  beforeSend?.();
  renameSync(tmp, path);
  if (fsync) syncDirectorySync(dirname(path));
}

function writeNewFileSync(path: string, body: Uint8Array, fsync: boolean): void {
  const fd = openSync(path, 'wx', 0o644);
  try {
    let offset = 0;
    while (offset < body.byteLength) offset += writeSync(fd, body, offset, body.byteLength - offset);
    if (fsync) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function syncDirectorySync(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === code;
}

/** The path (or a folder on it) does not exist: a missing object, not a storage failure. */
function isMissing(err: unknown): boolean {
  return isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR');
}

function storageError(op: string, key: string, err: unknown): LivepipeError {
  if (err instanceof LivepipeError) return err;
  return new LivepipeError(ErrorCode.StorageUnavailable, `filesystem ${op} ${key}: ${errorMessage(err)}`, {
    cause: err,
    details: { op, key },
  });
}
