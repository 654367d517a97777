import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, isLivepipeError } from '../../../src/core/errors.js';
import { EventBus, LivepipeEvent, type EventPayloads } from '../../../src/core/event-bus.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { ObjectStorage, PutOptions } from '../../../src/storage/object-storage.js';
import { S3Storage } from '../../../src/storage/s3-storage.js';
import { PendingObjects } from '../../../src/storage/pending-objects.js';
import { UploadQueue, type UploadQueueOptions } from '../../../src/storage/upload-queue.js';
import { startS3Server, type TestS3Server } from '../../helpers/storage/s3-server.js';
import { s3StorageOptions, startFsFixture, startS3Fixture, type DriverFixture } from '../../helpers/storage/drivers.js';

const SEGMENT: PutOptions = { contentType: 'video/iso.segment' };
const PLAYLIST: PutOptions = { contentType: 'application/vnd.apple.mpegurl' };

/** Wraps a real driver and records every completed put, in completion order. Not a mock: it forwards. */
class RecordingStorage {
  readonly written: Array<{ key: string; body: string }> = [];
  constructor(private readonly inner: ObjectStorage) {}
  async put(key: string, body: Uint8Array, options: PutOptions): Promise<void> {
    await this.inner.put(key, body, options);
    this.written.push({ key, body: Buffer.from(body).toString() });
  }
  bodiesOf(key: string): string[] {
    return this.written.filter((w) => w.key === key).map((w) => w.body);
  }
}

/** Waits for a condition of the system under test (a guard against hanging, not a speed check). */
async function until(condition: () => boolean, what: string, limitMs = 15_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function settled(promise: Promise<unknown>): { done: boolean; error: unknown } {
  const state = { done: false, error: undefined as unknown };
  promise.then(
    () => {
      state.done = true;
    },
    (err: unknown) => {
      state.done = true;
      state.error = err;
    },
  );
  return state;
}

/** Retries fast and for long enough to ride out a stopped server. */
const PATIENT: Omit<UploadQueueOptions, 'channel'> = {
  maxAttempts: 200,
  backoffBaseMs: 20,
  backoffMaxMs: 100,
  attemptTimeoutMs: 2000,
};

describe('upload queue against a real S3 that goes away and comes back', () => {
  let s3: TestS3Server;
  let storage: S3Storage;
  const queues: UploadQueue[] = [];

  function queue(options: Omit<UploadQueueOptions, 'channel'>, bus = new EventBus(), target: Pick<ObjectStorage, 'put'> = storage): UploadQueue {
    const q = new UploadQueue(target, bus, silentLogger(), { channel: 'ch1', ...options });
    queues.push(q);
    return q;
  }

  beforeAll(async () => {
    s3 = await startS3Server();
    storage = new S3Storage(s3StorageOptions(s3, { maxAttempts: 1, connectionTimeoutMs: 500, requestTimeoutMs: 2000 }), silentLogger());
    await storage.start();
  });
  afterEach(async () => {
    await s3.restart(); // every test leaves S3 up
    await Promise.all(queues.splice(0).map((q) => q.close({ drainTimeoutMs: 100 })));
  });
  afterAll(async () => {
    await storage?.close();
    await s3?.close();
  });

  it('retries until S3 is back, then stores the object, reporting unhealthy then healthy', async () => {
    const bus = new EventBus();
    const health: Array<EventPayloads[LivepipeEvent.StorageHealth]> = [];
    bus.on(LivepipeEvent.StorageHealth, (payload) => health.push(payload));
    const q = queue({ ...PATIENT, unhealthyAfterFailures: 2 }, bus);

    await s3.stop();
    const upload = q.put('live/ch1/v/part-1-0.m4s', Buffer.alloc(45_000, 1), SEGMENT);
    await until(() => q.stats().retries >= 3, 'three retries');
    expect(health).toEqual([{ healthy: false, channel: 'ch1', error: expect.any(String) }]);
    await s3.restart();
    await upload;

    expect(health.map((h) => h.healthy)).toEqual([false, true]);
    const stats = q.stats();
    expect(stats).toMatchObject({ puts: 1, failures: 0, healthy: true, queuedItems: 0, queuedBytes: 0 });
    expect(stats.latencySamplesMs).toHaveLength(1);
    const object = await storage.get('live/ch1/v/part-1-0.m4s');
    expect(object && 'body' in object && object.body.length).toBe(45_000);
  });

  it('makes room for new media by evicting the oldest waiting media, never the one being written, and drains in order after recovery', async () => {
    const pending = new PendingObjects();
    const q = queue({ ...PATIENT, concurrency: 1, maxQueuedItems: 3, maxQueuedBytes: 1000, pending });
    await s3.stop();
    const keys = [0, 1, 2].map((i) => `live/ch1/v/part-2-${i}.m4s`);
    const waiting = keys.map((key, i) => q.put(key, Buffer.alloc(100, i), SEGMENT));
    const states = waiting.map(settled);
    await until(() => q.stats().retries >= 1, 'the first upload retrying');
    expect(keys.map((key) => pending.get(key)?.body.length)).toEqual([100, 100, 100]);

    // Full: the fourth put is accepted and the oldest *waiting* one (part 1; part 0 is being written) goes.
    const fourth = q.put('live/ch1/v/part-2-3.m4s', Buffer.alloc(100, 3), SEGMENT);
    const dropped = await waiting[1]!.catch((err: unknown) => err);
    expect(isLivepipeError(dropped, ErrorCode.StorageUnavailable)).toBe(true);
    expect((dropped as Error).message).toMatch(/dropped/);
    expect(states[0]!.done || states[2]!.done).toBe(false);
    expect(pending.get(keys[1]!)).toBeUndefined();
    expect(pending.get('live/ch1/v/part-2-3.m4s')?.body[0]).toBe(3);
    expect(q.stats()).toMatchObject({ evicted: 1, rejected: 0, queuedItems: 3, queuedBytes: 300 });
    expect(pending.bytes).toBe(300); // what livepipe_upload_queued_bytes reports

    // Nothing evictable (non-evictable waiting, the running one never): refused at once.
    const q2 = queue({ ...PATIENT, concurrency: 1, maxQueuedItems: 2, maxQueuedBytes: 1000 });
    const init = q2.put('live/ch1/v/init-1.mp4', Buffer.alloc(10), SEGMENT, { evictable: false });
    const init2 = q2.put('live/ch1/v/init-2.mp4', Buffer.alloc(10), SEGMENT, { evictable: false });
    const refused = await q2.put('live/ch1/v/part-9-0.m4s', Buffer.alloc(10), SEGMENT).catch((err: unknown) => err);
    expect(isLivepipeError(refused, ErrorCode.StorageUnavailable)).toBe(true);
    expect((refused as Error).message).toMatch(/full/);
    expect(q2.stats()).toMatchObject({ rejected: 1, evicted: 0 });

    await s3.restart();
    await Promise.all([waiting[0], waiting[2], fourth, init, init2]);
    expect(pending.size).toBe(0);
    expect(pending.bytes).toBe(0);
    for (const key of [keys[0]!, keys[2]!, 'live/ch1/v/part-2-3.m4s']) expect(await storage.get(key)).toBeDefined();
    expect(await storage.get(keys[1]!)).toBeUndefined();
    // the byte bound holds on its own too: an object larger than the bound is refused
    const tooBig = await q.put('live/ch1/v/big.m4s', Buffer.alloc(1001), SEGMENT).catch((err: unknown) => err);
    expect(isLivepipeError(tooBig, ErrorCode.StorageUnavailable)).toBe(true);
    expect(q.stats()).toMatchObject({ puts: 3, rejected: 1, evicted: 1, queuedItems: 0 });
  });

  it('drops a playlist version that is still retrying when a newer one arrives', async () => {
    const recorder = new RecordingStorage(storage);
    const q = queue(PATIENT, new EventBus(), recorder);
    const key = 'live/ch1/v/playlist.m3u8';
    await s3.stop();
    const v1 = q.putLatest(key, Buffer.from('v1'), PLAYLIST);
    await until(() => q.stats().retries >= 1, 'a retry of v1');
    const v2 = q.putLatest(key, Buffer.from('v2'), PLAYLIST);
    await s3.restart();
    await Promise.all([v1, v2]); // v1's caller is satisfied by the newer version

    expect(recorder.bodiesOf(key)).toEqual(['v2']);
    expect(q.stats().superseded).toBe(1);
    const object = await storage.get(key);
    expect(object && 'body' in object && object.body.toString()).toBe('v2');
  });

  it('abandons what is left when close() reaches its deadline', async () => {
    const q = queue(PATIENT);
    await s3.stop();
    const media = q.put('live/ch1/v/part-9-0.m4s', Buffer.from('x'), SEGMENT).catch((err: unknown) => err);
    const playlist = q.putLatest('live/ch1/v/playlist.m3u8', Buffer.from('p'), PLAYLIST).catch((err: unknown) => err);
    await q.close({ drainTimeoutMs: 200 });
    expect(isLivepipeError(await media, ErrorCode.Closed)).toBe(true);
    expect(isLivepipeError(await playlist, ErrorCode.Closed)).toBe(true);
    expect(q.stats()).toMatchObject({ queuedItems: 0, queuedBytes: 0 });
    const late = await q.put('live/ch1/v/late.m4s', Buffer.from('x'), SEGMENT).catch((err: unknown) => err);
    expect(isLivepipeError(late, ErrorCode.Closed)).toBe(true);
    await q.close(); // idempotent
  });

  it('stops retrying when the caller aborts its upload', async () => {
    const q = queue(PATIENT);
    await s3.stop();
    const controller = new AbortController();
    const upload = q.put('live/ch1/v/part-7-0.m4s', Buffer.from('x'), { ...SEGMENT, signal: controller.signal }).catch((e: unknown) => e);
    await until(() => q.stats().retries >= 1, 'a retry');
    controller.abort(new Error('segment dropped by the packager'));
    const err = await upload;
    expect(isLivepipeError(err, ErrorCode.StorageUnavailable)).toBe(true);
    expect((err as Error).message).toMatch(/aborted: segment dropped by the packager/);
    expect(q.stats()).toMatchObject({ failures: 1, queuedItems: 0 });
  });

  it('drains queued uploads on close', async () => {
    const q = queue({ ...PATIENT, concurrency: 2 });
    const keys = Array.from({ length: 20 }, (_, i) => `live/ch1/drain/part-${i}-0.m4s`);
    const uploads = keys.map((key) => q.put(key, Buffer.from(key), SEGMENT));
    await q.close();
    await Promise.all(uploads);
    expect((await storage.list('live/ch1/drain/')).sort()).toEqual([...keys].sort());
  });

  it('aborts an attempt that hangs past its timeout, retries, then gives up with StorageUnavailable', async () => {
    // A TCP server that accepts and never answers; the driver's own timeout is far away.
    const sockets = new Set<Socket>();
    const silent: Server = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const hung = new S3Storage(
      { ...s3StorageOptions(s3), endpoint: `http://127.0.0.1:${address.port}`, requestTimeoutMs: 60_000, maxAttempts: 1 },
      silentLogger(),
    );
    try {
      // 150 ms + 1000 bytes at 10 kB/s = 250 ms per attempt
      const q = queue({ attemptTimeoutMs: 150, minBytesPerSecond: 10_000, maxAttempts: 2, backoffBaseMs: 10 }, new EventBus(), hung);
      const err = await q.put('live/ch1/v/part-5-0.m4s', Buffer.alloc(1000), SEGMENT).catch((e: unknown) => e);
      expect(isLivepipeError(err, ErrorCode.StorageUnavailable)).toBe(true);
      expect((err as Error).message).toMatch(/after 2 attempts: attempt timed out after 250 ms/);
      expect(q.stats()).toMatchObject({ retries: 1, failures: 1, puts: 0 });
    } finally {
      await hung.close();
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });
});

describe.each<[string, () => Promise<DriverFixture>]>([
  ['fs', startFsFixture],
  ['s3', () => startS3Fixture()],
])('playlist ordering on %s', (_name, start) => {
  let fixture: DriverFixture;
  beforeAll(async () => {
    fixture = await start();
  });
  afterAll(async () => {
    await fixture?.close();
  });

  it('never writes an older playlist version after a newer one, under concurrency', async () => {
    const recorder = new RecordingStorage(fixture.storage);
    const q = new UploadQueue(recorder, new EventBus(), silentLogger(), { channel: 'ch1', concurrency: 4 });
    const keys = ['live/ch1/v720/playlist.m3u8', 'live/ch1/v360/playlist.m3u8'];
    const versions = 150;

    // A reader that checks, where overwrites are atomic, that the stored version never goes back.
    let reading = fixture.atomicOverwrite;
    let lastSeen = -1;
    const reader = (async () => {
      while (reading) {
        const object = await fixture.storage.get(keys[0]!);
        if (object !== undefined && 'body' in object) {
          const seen = Number(object.body.toString().slice(1));
          expect(seen).toBeGreaterThanOrEqual(lastSeen);
          lastSeen = seen;
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();

    const promises: Array<Promise<void>> = [];
    for (let v = 0; v < versions; v += 1) {
      const part = q.put(`live/ch1/v720/part-${v}-0.m4s`, Buffer.alloc(30_000, v), SEGMENT);
      promises.push(part);
      // Mixed arrival patterns: bursts (coalesced), one per turn of the event loop, and after media.
      if (v % 10 === 3) await part;
      else if (v % 3 === 0) await new Promise((resolve) => setImmediate(resolve));
      for (const key of keys) promises.push(q.putLatest(key, Buffer.from(`v${v}`), PLAYLIST));
    }
    await Promise.all(promises);
    reading = false;
    await reader;
    if (fixture.atomicOverwrite) expect(lastSeen).toBeGreaterThanOrEqual(0); // the reader did observe versions

    for (const key of keys) {
      const written = recorder.bodiesOf(key).map((body) => Number(body.slice(1)));
      for (let i = 1; i < written.length; i += 1) expect(written[i]).toBeGreaterThan(written[i - 1]!);
      expect(written.at(-1)).toBe(versions - 1);
      expect(written.length).toBeLessThan(versions); // versions were coalesced
      const object = await fixture.storage.get(key);
      expect(object && 'body' in object && object.body.toString()).toBe(`v${versions - 1}`);
    }
    const stats = q.stats();
    expect(stats.superseded).toBe(2 * versions - recorder.bodiesOf(keys[0]!).length - recorder.bodiesOf(keys[1]!).length);
    expect(stats).toMatchObject({ failures: 0, queuedItems: 0, queuedBytes: 0 });
    await q.close();
  });
});
