/**
 * A run whose ffmpeg is gone before the packager attaches to it (an operator stop right after a
 * publish started, or an encoder that fails at once) must still end in the packager: the channel's
 * stop and close wait for every run in flight, and a run that never ends held them forever — the
 * channel's later operations with them, since they are serialized.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBus } from '../../../src/core/event-bus.js';
import { silentLogger } from '../../../src/core/logger.js';
import { ChannelPackager } from '../../../src/package/channel-packager.js';
import { UploadQueue } from '../../../src/storage/upload-queue.js';
import { TranscoderSupervisor } from '../../../src/transcode/transcoder-supervisor.js';
import { CountingFsStorage } from '../../helpers/storage/counting-storage.js';
import { smallLadder } from '../../helpers/package/live.js';
import { lavfiSource } from '../../helpers/transcode/media.js';

describe('a run stopped before the packager attached to it', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'livepipe-early-stop-'));
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('ends: the packager\'s endStream and close return', async () => {
    const logger = silentLogger();
    const bus = new EventBus();
    const storage = new CountingFsStorage(dir);
    await storage.start();
    // The packager reads the stored playlists before it attaches (to resume them): a slow read makes
    // sure the run is over by then.
    storage.getDelayMs = 500;
    const uploads = new UploadQueue(storage, bus, logger, { channel: 'early' });
    const packager = new ChannelPackager({ channel: 'early', storage, uploads, logger });
    let stopped: Promise<void> | undefined;
    const supervisor: TranscoderSupervisor = new TranscoderSupervisor({
      channel: 'early',
      ladder: smallLadder({ gop: 1, segment: 1, part: 0.2 }),
      input: { kind: 'url', url: lavfiSource(320, 180, 30), format: 'lavfi', realtime: true, maxDurationSec: 60 },
      bus,
      logger,
      onRun: (run) => {
        packager.attachRun(run);
        stopped = supervisor.stop();
      },
    });
    await packager.start();
    await supervisor.start();
    await expect.poll(() => stopped !== undefined, { timeout: 30_000 }).toBe(true);
    await stopped;
    expect(supervisor.state().state).toBe('stopped');

    const timedOut = Symbol('timed out');
    const within = <T>(work: Promise<T>) => Promise.race([work, new Promise<typeof timedOut>((r) => setTimeout(() => r(timedOut), 15_000).unref())]);
    expect(await within(packager.endStream())).not.toBe(timedOut);
    expect(await within(packager.close())).not.toBe(timedOut);
    await uploads.close({ drainTimeoutMs: 10_000 });
    await storage.close();
  }, 60_000);
});
