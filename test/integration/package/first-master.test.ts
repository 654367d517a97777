/**
 * A channel's first multivariant playlist waits until every rendition lists a complete segment: hls.js
 * fails a media playlist that has parts only ("levelEmptyError: No Segments found in Playlist") and
 * then plays a second further behind the live edge for the whole session. Real ffmpeg, real packager;
 * checked in the order the packager hands playlists to the upload queue, and in the order storage
 * completes them (uploads of different keys may finish in any order, so the first master is handed
 * over only once those media playlists are stored: a standalone origin reads storage).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBus } from '../../../src/core/event-bus.js';
import { silentLogger } from '../../../src/core/logger.js';
import { ChannelPackager } from '../../../src/package/channel-packager.js';
import { FsStorage } from '../../../src/storage/fs-storage.js';
import type { PutOptions } from '../../../src/storage/object-storage.js';
import { UploadQueue } from '../../../src/storage/upload-queue.js';
import { TranscoderSupervisor } from '../../../src/transcode/transcoder-supervisor.js';
import { smallLadder } from '../../helpers/package/live.js';
import { lavfiSource } from '../../helpers/transcode/media.js';
import { waitFor } from '../../helpers/wait.js';

/** Records every playlist whose write completed, in completion order. */
class CompletionOrderStorage extends FsStorage {
  readonly stored: Array<{ key: string; text: string }> = [];
  override async put(key: string, body: Uint8Array, options: PutOptions): Promise<void> {
    await super.put(key, body, options);
    if (key.endsWith('.m3u8')) this.stored.push({ key, text: Buffer.from(body).toString('utf8') });
  }
}

/** Records every playlist handed to the queue, in hand-off order. */
class RecordingUploads extends UploadQueue {
  readonly handed: Array<{ key: string; text: string }> = [];
  override putLatest(key: string, body: Uint8Array, options: PutOptions): Promise<void> {
    this.handed.push({ key, text: Buffer.from(body).toString('utf8') });
    return super.putLatest(key, body, options);
  }
}

describe('the first multivariant playlist of a channel', () => {
  let dir: string;
  let uploads: RecordingUploads;
  let storage: CompletionOrderStorage;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'livepipe-first-master-'));
    const logger = silentLogger();
    const bus = new EventBus();
    storage = new CompletionOrderStorage({ root: dir }, logger);
    await storage.start();
    uploads = new RecordingUploads(storage, bus, logger, { channel: 'first' });
    const packager = new ChannelPackager({ channel: 'first', storage, uploads, logger });
    const supervisor = new TranscoderSupervisor({
      channel: 'first',
      ladder: smallLadder({ gop: 1, segment: 1, part: 0.2 }),
      input: { kind: 'url', url: lavfiSource(320, 180, 30), format: 'lavfi', realtime: true, maxDurationSec: 60 },
      bus,
      logger,
      onRun: (run) => packager.attachRun(run),
    });
    await packager.start();
    await supervisor.start();
    try {
      await waitFor(() => (packager.positions().find((p) => p.rendition === 'v180')?.lastMsn ?? -1) >= 2, { timeoutMs: 30_000, message: 'three segments' });
    } finally {
      await supervisor.stop();
      await packager.close();
      await uploads.close({ drainTimeoutMs: 10_000 });
      await storage.close();
    }
  }, 45_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it.each([
    ['handed to the upload queue', () => uploads.handed],
    ['stored', () => storage.stored],
  ])('is %s only after every rendition has listed a complete segment', (_what, recorded) => {
    const order = recorded();
    const firstMaster = order.findIndex((u) => u.key === 'live/first/master.m3u8');
    expect(firstMaster).toBeGreaterThan(0);
    const before = order.slice(0, firstMaster);
    for (const rendition of ['v180', 'v90', 'audio']) {
      const versions = before.filter((u) => u.key === `live/first/${rendition}/playlist.m3u8`).map((u) => u.text);
      // parts were published before the first segment completed, and the master waited for it
      expect(versions.some((t) => t.includes('#EXT-X-PART:') && !t.includes('#EXTINF:')), rendition).toBe(true);
      expect(versions.some((t) => t.includes('#EXTINF:')), rendition).toBe(true);
    }
    expect(order[firstMaster]!.text).toContain('#EXT-X-STREAM-INF:');
  });
});
