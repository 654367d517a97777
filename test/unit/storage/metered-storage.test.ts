import { describe, expect, it } from 'vitest';
import { Metrics } from '../../../src/observability/metrics.js';
import { MeteredStorage } from '../../../src/storage/metered-storage.js';
import type { GetResult, ObjectStorage } from '../../../src/storage/object-storage.js';
import { parsePrometheusText, sampleValue } from '../../helpers/observability/prometheus-text-parser.js';

/** Test-only storage: a Map, failing on keys that start with `fail/`. The real drivers are tested in their own area. */
class MapStorage implements ObjectStorage {
  readonly objects = new Map<string, Buffer>();
  async start(): Promise<void> {}
  async put(key: string, body: Uint8Array): Promise<void> {
    if (key.startsWith('fail/')) throw new Error('disk full');
    this.objects.set(key, Buffer.from(body));
  }
  async get(key: string): Promise<GetResult | undefined> {
    const body = this.objects.get(key);
    return body && { body, contentType: 'video/mp4', etag: '"1"', lastModified: new Date(0) };
  }
  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) this.objects.delete(key);
  }
  async list(prefix: string): Promise<string[]> {
    return [...this.objects.keys()].filter((key) => key.startsWith(prefix));
  }
  async ping(): Promise<void> {}
  async close(): Promise<void> {}
}

describe('MeteredStorage', () => {
  it('passes calls through and times each operation, counting failures', async () => {
    const inner = new MapStorage();
    const metrics = new Metrics({ processMetrics: false });
    const storage = new MeteredStorage(inner, metrics);
    await storage.put('live/a/seg-1.m4s', new Uint8Array([1, 2]), { contentType: 'video/iso.segment' });
    await storage.put('live/a/seg-2.m4s', new Uint8Array([3]), { contentType: 'video/iso.segment' });
    await expect(storage.put('fail/x', new Uint8Array([1]), { contentType: 'video/mp4' })).rejects.toThrow('disk full');
    expect((await storage.get('live/a/seg-1.m4s')) as { body: Buffer }).toMatchObject({ body: Buffer.from([1, 2]) });
    expect((await storage.list('live/a/')).sort()).toEqual(['live/a/seg-1.m4s', 'live/a/seg-2.m4s']);
    await storage.delete(['live/a/seg-1.m4s']);
    expect([...inner.objects.keys()]).toEqual(['live/a/seg-2.m4s']);

    const parsed = parsePrometheusText((await metrics.render()).body);
    const count = (operation: string) => sampleValue(parsed, 'livepipe_storage_operation_duration_seconds_count', { operation });
    expect([count('put'), count('get'), count('list'), count('delete')]).toEqual([3, 1, 1, 1]);
    expect(sampleValue(parsed, 'livepipe_storage_errors_total', { operation: 'put' })).toBe(1);
    expect(sampleValue(parsed, 'livepipe_storage_errors_total', { operation: 'get' })).toBe(0);
  });
});
