import { timeStorageOperation, type StorageMetrics } from '../observability/metrics.js';
import type { GetOptions, GetResult, ObjectStorage, PutOptions } from './object-storage.js';

/**
 * An `ObjectStorage` decorator that times every `put`, `get`, `delete` and `list` of the storage it
 * wraps into `livepipe_storage_operation_duration_seconds` and counts failures into
 * `livepipe_storage_errors_total`, so drivers need no metrics code. `start`, `ping` and `close` pass
 * through untimed.
 *
 * Where to wrap decides what is measured: around a driver, each attempt (an upload queue's retries
 * show as errors, and latency is the backend's); around the upload queue's sink, what callers see
 * after retries. The composition root wraps the driver.
 */
export class MeteredStorage implements ObjectStorage {
  constructor(
    private readonly inner: ObjectStorage,
    private readonly metrics: StorageMetrics,
  ) {}

  start(): Promise<void> {
    return this.inner.start();
  }

  put(key: string, body: Uint8Array, options: PutOptions): Promise<void> {
    return timeStorageOperation(this.metrics, 'put', () => this.inner.put(key, body, options));
  }

  get(key: string, options?: GetOptions): Promise<GetResult | undefined> {
    return timeStorageOperation(this.metrics, 'get', () => this.inner.get(key, options));
  }

  delete(keys: readonly string[]): Promise<void> {
    return timeStorageOperation(this.metrics, 'delete', () => this.inner.delete(keys));
  }

  list(prefix: string): Promise<string[]> {
    return timeStorageOperation(this.metrics, 'list', () => this.inner.list(prefix));
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
