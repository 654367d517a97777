/**
 * TEST-ONLY minimal filesystem `ObjectStorage` for the origin tests, until the real driver
 * (`src/storage/fs-storage.ts`) lands. It counts `get` calls per key so tests can check coalescing.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { assertSafeKey, type GetOptions, type GetResult, type ObjectStorage, type PutOptions } from '../../src/storage/object-storage.js';

function typeOf(key: string): string {
  if (key.endsWith('.m3u8')) return 'application/vnd.apple.mpegurl';
  if (key.endsWith('.m4s')) return 'video/iso.segment';
  return 'video/mp4';
}

export class TestFsStorage implements ObjectStorage {
  readonly gets = new Map<string, number>();
  /** Optional delay of every get, ms (to make concurrent requests overlap). */
  getDelayMs = 0;

  constructor(readonly root: string) {}

  async start(): Promise<void> {
    await mkdir(this.root, { recursive: true });
  }

  async put(key: string, body: Uint8Array, _options?: PutOptions): Promise<void> {
    assertSafeKey(key);
    const file = join(this.root, key);
    await mkdir(dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    await writeFile(tmp, body);
    await rename(tmp, file);
  }

  async get(key: string, options: GetOptions = {}): Promise<GetResult | undefined> {
    assertSafeKey(key);
    this.gets.set(key, (this.gets.get(key) ?? 0) + 1);
    if (this.getDelayMs > 0) await new Promise((r) => setTimeout(r, this.getDelayMs));
    const file = join(this.root, key);
    let body: Buffer;
    let mtime: Date;
    try {
      [body, mtime] = await Promise.all([readFile(file), stat(file).then((s) => s.mtime)]);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const etag = `"${createHash('sha1').update(body).digest('hex')}"`;
    if (options.ifNoneMatch === etag) return { notModified: true, etag };
    return { body, contentType: typeOf(key), etag, lastModified: mtime };
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) await rm(join(this.root, key), { force: true });
  }

  async list(prefix: string): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        const p = join(dir, e.name);
        if (e.isDirectory()) await walk(p);
        else out.push(relative(this.root, p));
      }
    };
    await walk(join(this.root, prefix));
    return out;
  }

  async ping(): Promise<void> {
    await stat(this.root);
  }

  async close(): Promise<void> {}

  getsOf(key: string): number {
    return this.gets.get(key) ?? 0;
  }
}
