import type { GetOptions, GetResult, ObjectStorage, PutOptions } from '../../../src/storage/object-storage.js';

/**
 * A real storage driver behind a pass-through: every call goes to `inner` unchanged. The tests' and
 * benchmarks' observing wrappers (recording, timing, counting) extend it and override only the calls
 * they observe, so the driver always does the real work.
 */
export class ForwardingStorage implements ObjectStorage {
  constructor(protected readonly inner: ObjectStorage) {}

  start(): Promise<void> {
    return this.inner.start();
  }

  put(key: string, body: Uint8Array, options: PutOptions): Promise<void> {
    return this.inner.put(key, body, options);
  }

  get(key: string, options?: GetOptions): Promise<GetResult | undefined> {
    return this.inner.get(key, options);
  }

  delete(keys: readonly string[]): Promise<void> {
    return this.inner.delete(keys);
  }

  list(prefix: string): Promise<string[]> {
    return this.inner.list(prefix);
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
