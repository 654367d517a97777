import { describe, expect, it } from 'vitest';
import { EventBus, LivepipeEvent } from '../../../src/core/event-bus.js';
import { binaryReadinessCheck, listenersReadinessCheck, runReadinessChecks, storageReadinessCheck, uploadHealthReadinessCheck } from '../../../src/api/readiness.js';

describe('runReadinessChecks', () => {
  it('reports each check, in order, with the reason of failures', async () => {
    const results = await runReadinessChecks([
      { name: 'sync-ok', check: () => {} },
      { name: 'async-ok', check: async () => {} },
      { name: 'sync-throw', check: () => { throw new Error('boom'); } },
      { name: 'rejects', check: () => Promise.reject(new Error('nope')) },
      { name: 'hangs', check: () => new Promise<void>(() => {}) },
    ], 50);
    expect(results).toEqual([
      { name: 'sync-ok', ok: true },
      { name: 'async-ok', ok: true },
      { name: 'sync-throw', ok: false, error: 'boom' },
      { name: 'rejects', ok: false, error: 'nope' },
      { name: 'hangs', ok: false, error: 'no answer within 50 ms' },
    ]);
  });

  it('checks storage through ping()', async () => {
    const up = storageReadinessCheck({ ping: async () => {} });
    const down = storageReadinessCheck({ ping: async () => { throw new Error('bucket missing'); } });
    expect(await runReadinessChecks([up, down])).toEqual([
      { name: 'storage', ok: true },
      { name: 'storage', ok: false, error: 'bucket missing' },
    ]);
  });

  it('finds the real ffmpeg and reports a missing binary', async () => {
    const results = await runReadinessChecks([binaryReadinessCheck('ffmpeg'), binaryReadinessCheck('/nonexistent/ffmpeg', 'ffmpeg-missing')], 10_000);
    expect(results[0]).toEqual({ name: 'ffmpeg', ok: true });
    expect(results[1]).toMatchObject({ name: 'ffmpeg-missing', ok: false, error: expect.stringContaining('ENOENT') });
  });

  it('names the listeners that are not bound', async () => {
    const check = listenersReadinessCheck([
      { name: 'origin', isListening: () => true },
      { name: 'rtmp', isListening: () => false },
      { name: 'srt', isListening: () => false },
    ]);
    expect(await runReadinessChecks([check])).toEqual([{ name: 'listeners', ok: false, error: 'not listening: rtmp, srt' }]);
  });
});

describe('uploadHealthReadinessCheck', () => {
  it('fails while any channel reports failing uploads, names them, and recovers', async () => {
    const bus = new EventBus();
    const uploads = uploadHealthReadinessCheck(bus);
    expect(await runReadinessChecks([uploads])).toEqual([{ name: 'uploads', ok: true }]);

    bus.emit(LivepipeEvent.StorageHealth, { healthy: false, error: 'put live/b/x.m4s: 503', channel: 'b' });
    bus.emit(LivepipeEvent.StorageHealth, { healthy: false, error: 'put live/a/y.m4s: 503', channel: 'a' });
    const [down] = await runReadinessChecks([uploads]);
    expect(down).toMatchObject({ name: 'uploads', ok: false });
    expect(down?.error).toMatch(/^uploads failing for a, b: put live\/b\/x\.m4s: 503$/);

    bus.emit(LivepipeEvent.StorageHealth, { healthy: true, channel: 'b' });
    expect((await runReadinessChecks([uploads]))[0]?.error).toMatch(/^uploads failing for a:/);
    bus.emit(LivepipeEvent.StorageHealth, { healthy: true, channel: 'a' });
    expect(await runReadinessChecks([uploads])).toEqual([{ name: 'uploads', ok: true }]);
  });

  it('stops following the bus once closed', async () => {
    const bus = new EventBus();
    const uploads = uploadHealthReadinessCheck(bus);
    uploads.close();
    bus.emit(LivepipeEvent.StorageHealth, { healthy: false, error: 'down', channel: 'a' });
    expect(await runReadinessChecks([uploads])).toEqual([{ name: 'uploads', ok: true }]);
  });
});
