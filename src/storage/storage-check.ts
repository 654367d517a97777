import { randomBytes } from 'node:crypto';
import { ErrorCode, LivepipeError } from '../core/errors.js';
import type { ObjectStorage } from './object-storage.js';

/** What `livepipe storage-check` reports: each step's duration, in milliseconds. */
export interface StorageCheckReport {
  ok: true;
  probeKey: string;
  pingMs: number;
  putMs: number;
  getMs: number;
  conditionalGetMs: number;
  listMs: number;
  deleteMs: number;
}

/**
 * Exercises a started storage the way livepipe uses it: ping, put a probe object with its content
 * type, read it back byte for byte, a conditional GET that must answer "not modified", list it, and
 * delete it (also when a step fails). Throws `StorageUnavailable` naming the step that failed.
 */
export async function checkStorage(storage: ObjectStorage): Promise<StorageCheckReport> {
  const probeKey = `livepipe-check/probe-${randomBytes(6).toString('hex')}.m3u8`;
  const body = Buffer.from(`#EXTM3U\n# livepipe storage check ${new Date().toISOString()}\n`);
  const timed = async <T>(step: string, operation: () => Promise<T>): Promise<[T, number]> => {
    const started = performance.now();
    try {
      const result = await operation();
      return [result, Math.round((performance.now() - started) * 10) / 10];
    } catch (err) {
      if (err instanceof LivepipeError && err.code !== ErrorCode.StorageUnavailable) throw err;
      throw new LivepipeError(ErrorCode.StorageUnavailable, `storage check failed at ${step}: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
        details: { step },
      });
    }
  };
  const fail = (step: string, reason: string): never => {
    throw new LivepipeError(ErrorCode.StorageUnavailable, `storage check failed at ${step}: ${reason}`, { details: { step } });
  };

  const [, pingMs] = await timed('ping', () => storage.ping());
  const [, putMs] = await timed('put', () =>
    storage.put(probeKey, body, { contentType: 'application/vnd.apple.mpegurl', cacheControl: 'no-cache' }),
  );
  try {
    const [object, getMs] = await timed('get', () => storage.get(probeKey));
    if (object === undefined || 'notModified' in object) return fail('get', 'the object just written is missing');
    if (Buffer.compare(object.body, body) !== 0) fail('get', 'the object read back differs from the one written');
    if (object.contentType !== 'application/vnd.apple.mpegurl') fail('get', `content type came back as ${object.contentType}`);
    const [conditional, conditionalGetMs] = await timed('conditional get', () => storage.get(probeKey, { ifNoneMatch: object.etag }));
    if (conditional === undefined || !('notModified' in conditional)) {
      fail('conditional get', `If-None-Match ${object.etag} did not answer "not modified"`);
    }
    const [listed, listMs] = await timed('list', () => storage.list('livepipe-check/'));
    if (!listed.includes(probeKey)) fail('list', `${probeKey} is not listed`);
    const [, deleteMs] = await timed('delete', () => storage.delete([probeKey]));
    if ((await storage.get(probeKey)) !== undefined) fail('delete', 'the object is still there');
    return { ok: true, probeKey, pingMs, putMs, getMs, conditionalGetMs, listMs, deleteMs };
  } catch (err) {
    await storage.delete([probeKey]).catch(() => undefined);
    throw err;
  }
}
