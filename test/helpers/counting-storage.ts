/**
 * The real filesystem driver, observed: counts `get` calls per key (so origin tests can check that
 * concurrent requests share one storage read, and that the storage watch polls only what is waited
 * on) and can slow every `get` down (so concurrent requests overlap). Everything else is FsStorage.
 */
import { silentLogger } from '../../src/core/logger.js';
import { FsStorage } from '../../src/storage/fs-storage.js';
import type { GetOptions, GetResult, ObjectStorage, PutOptions } from '../../src/storage/object-storage.js';

export class CountingFsStorage implements ObjectStorage {
  private readonly storage: FsStorage;
  private readonly gets = new Map<string, number>();
  /** Delay added to every `get`, ms. */
  getDelayMs = 0;

  constructor(readonly root: string) {
    this.storage = new FsStorage({ root }, silentLogger());
  }

  start(): Promise<void> {
    return this.storage.start();
  }

  put(key: string, body: Uint8Array, options: PutOptions): Promise<void> {
    return this.storage.put(key, body, options);
  }

  async get(key: string, options?: GetOptions): Promise<GetResult | undefined> {
    this.gets.set(key, (this.gets.get(key) ?? 0) + 1);
    if (this.getDelayMs > 0) await new Promise((r) => setTimeout(r, this.getDelayMs));
    return this.storage.get(key, options);
  }

  delete(keys: readonly string[]): Promise<void> {
    return this.storage.delete(keys);
  }

  list(prefix: string): Promise<string[]> {
    return this.storage.list(prefix);
  }

  ping(): Promise<void> {
    return this.storage.ping();
  }

  close(): Promise<void> {
    return this.storage.close();
  }

  getsOf(key: string): number {
    return this.gets.get(key) ?? 0;
  }
}
