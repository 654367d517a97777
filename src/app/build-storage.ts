import type { Logger } from '../core/logger.js';
import type { StorageMetrics } from '../observability/metrics.js';
import { MeteredStorage } from '../storage/metered-storage.js';
import type { ObjectStorage } from '../storage/object-storage.js';
import { createStorage, parseStorageUrl } from '../storage/storage-url.js';
import { component, type Component } from './component.js';

export interface StorageSettings {
  /** A directory, `file:///dir` or `s3://bucket/prefix[?…]` (see `parseStorageUrl`). */
  location: string;
  logger: Logger;
  /** When given, every operation of the driver is timed and failures counted (`serve`). */
  metrics?: StorageMetrics;
}

export interface BuiltStorage {
  storage: ObjectStorage;
  /** `storage`: started first, closed last. */
  component: Component;
}

/** The storage driver of `location`, metered when `metrics` is given. */
export function buildStorage(settings: StorageSettings): BuiltStorage {
  const driver = createStorage(parseStorageUrl(settings.location), settings.logger);
  return storageOf(settings.metrics === undefined ? driver : new MeteredStorage(driver, settings.metrics));
}

/** A storage opened elsewhere (the standalone origin's injected driver) as the `storage` component. */
export function storageOf(storage: ObjectStorage): BuiltStorage {
  return { storage, component: component('storage', storage) };
}
