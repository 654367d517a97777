/**
 * The real filesystem driver, observed: counts `get` calls per key (so origin tests can check that
 * concurrent requests share one storage read, and that the storage watch polls only what is waited
 * on) and can slow every `get` down (so concurrent requests overlap). Everything else is FsStorage.
 */
import { silentLogger } from '../../../src/core/logger.js';
import { FsStorage } from '../../../src/storage/fs-storage.js';
import type { GetOptions, GetResult } from '../../../src/storage/object-storage.js';
import { ForwardingStorage } from './forwarding-storage.js';

export class CountingFsStorage extends ForwardingStorage {
  private readonly gets = new Map<string, number>();
  /** Delay added to every `get`, ms. */
  getDelayMs = 0;

  constructor(root: string) {
    super(new FsStorage({ root }, silentLogger()));
  }

  override async get(key: string, options?: GetOptions): Promise<GetResult | undefined> {
    this.gets.set(key, (this.gets.get(key) ?? 0) + 1);
    if (this.getDelayMs > 0) await new Promise((r) => setTimeout(r, this.getDelayMs));
    return super.get(key, options);
  }

  getsOf(key: string): number {
    return this.gets.get(key) ?? 0;
  }
}
