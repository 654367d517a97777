/**
 * The write gate of one reign (`FencedStorage`), on the real filesystem driver and the real upload
 * queue, with the lease as plain state. It reproduces what the cluster failover test's Redis-outage
 * case found (issue 13): a node loses its lease (Redis down), its packager's playlist upload is refused
 * and retried; the node takes the lease again under a new epoch and a new packager resumes the stored
 * playlist — then the old packager's retry landed too, storing the previous reign's newer window over
 * the one just restored (media sequence 1 stored, then 0 again from the new run).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { WriteFence } from '../../../src/cluster/channel-leases.js';
import { FencedStorage, fenceForReign, type ChannelFence } from '../../../src/cluster/fenced-storage.js';
import { ErrorCode, LivepipeError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { FsStorage } from '../../../src/storage/fs-storage.js';
import { UploadQueue } from '../../../src/storage/upload-queue.js';

/** One node's lease of one channel as `ChannelLeases.fence` answers for it. */
class LeaseState {
  private held: { epoch: number; reign: number } | undefined;
  private reigns = 0;
  readonly fence: ChannelFence = (): WriteFence => {
    if (this.held === undefined) throw new LivepipeError(ErrorCode.Fenced, 'not the writer: lease not held');
    return { nodeId: 'node-b', ...this.held };
  };

  /** Takes the lease under `epoch`; returns the reign (`ChannelLeases.heldReign`). */
  acquire(epoch: number): number {
    this.held = { epoch, reign: ++this.reigns };
    return this.held.reign;
  }

  lapse(): void {
    this.held = undefined;
  }
}

const KEY = 'live/ha/360p/playlist.m3u8';
const playlist = (mediaSequence: number, tail: string): Buffer => Buffer.from(`#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:${mediaSequence}\n${tail}\n`);

describe('fenceForReign', () => {
  it('opens only during the acquisition the writer was created in', () => {
    const lease = new LeaseState();
    const first = lease.acquire(4);
    expect(fenceForReign(lease.fence, first)).toEqual({ nodeId: 'node-b', epoch: 4, reign: first });
    // The same node holding the lease again, under a newer epoch: the first writer is over.
    lease.lapse();
    const second = lease.acquire(5);
    expect(() => fenceForReign(lease.fence, first)).toThrow(/reign 1 is over/);
    expect(fenceForReign(lease.fence, second).epoch).toBe(5);
    // Redis came back empty: epochs restart at 1, the same number as an earlier reign's — still another reign.
    lease.lapse();
    const third = lease.acquire(1);
    expect(() => fenceForReign(lease.fence, second)).toThrow(/is over/);
    expect(fenceForReign(lease.fence, third).epoch).toBe(1);
    // A writer created while the lease was not held writes nothing, whatever comes later.
    expect(() => fenceForReign(lease.fence, undefined)).toThrow(/without the lease/);
    lease.lapse();
    expect(() => fenceForReign(lease.fence, third)).toThrow(/not the writer/);
  });
});

describe('FencedStorage across a lease lost and taken again by the same node', () => {
  let dir: string;
  let storage: FsStorage;
  const queues: UploadQueue[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'livepipe-fenced-'));
    storage = new FsStorage({ root: dir }, silentLogger());
    await storage.start();
  });

  afterEach(async () => {
    for (const q of queues.splice(0)) await q.close({ drainTimeoutMs: 10 });
    await storage.close();
    await rm(dir, { recursive: true, force: true });
  });

  const uploadsThrough = (gate: FencedStorage): UploadQueue => {
    const queue = new UploadQueue(gate, { emit: () => undefined }, silentLogger(), { channel: 'ha', backoffBaseMs: 5, backoffMaxMs: 20 });
    queues.push(queue);
    return queue;
  };
  const stored = async (): Promise<string | undefined> => {
    const got = await storage.get(KEY);
    return got !== undefined && 'body' in got ? got.body.toString('utf8') : undefined;
  };

  it("the previous reign's retried playlist upload never lands over what the new reign restored", async () => {
    const lease = new LeaseState();
    const firstReign = new FencedStorage(storage, lease.fence, lease.acquire(1));
    const oldUploads = uploadsThrough(firstReign);
    await oldUploads.putLatest(KEY, playlist(0, 'seg-0 … part-17-1'), { contentType: 'application/vnd.apple.mpegurl' });

    // Redis goes away: the lease lapses. The old packager's window slides (media sequence 1); its
    // upload is refused at the gate and retried.
    lease.lapse();
    let lateOutcome: 'stored' | 'refused' | undefined;
    oldUploads.putLatest(KEY, playlist(1, 'seg-1 … part-17-1'), { contentType: 'application/vnd.apple.mpegurl' }).then(
      () => (lateOutcome = 'stored'),
      () => (lateOutcome = 'refused'),
    );
    await new Promise((r) => setTimeout(r, 50));
    expect(await stored()).toContain('MEDIA-SEQUENCE:0');

    // Redis is back and this node wins the lease again: its new packager resumes from storage.
    const secondReign = new FencedStorage(storage, lease.fence, lease.acquire(2));
    const resumedFrom = await stored();
    expect(resumedFrom).toContain('MEDIA-SEQUENCE:0');
    // The old packager's queue keeps retrying for a while (several backoffs): nothing of it lands.
    await new Promise((r) => setTimeout(r, 200));
    expect(await stored()).toBe(resumedFrom);
    expect(lateOutcome).toBeUndefined();
    const newUploads = uploadsThrough(secondReign);
    await newUploads.putLatest(KEY, playlist(0, 'seg-0 … seg-17 gap, discontinuity, part-18-0'), { contentType: 'application/vnd.apple.mpegurl' });
    expect(await stored()).toContain('part-18-0');
    await new Promise((r) => setTimeout(r, 100));
    expect(await stored()).toContain('part-18-0');
    // Closing the old packager abandons the refused version.
    await oldUploads.close({ drainTimeoutMs: 10 });
    await new Promise((r) => setTimeout(r, 0));
    expect(lateOutcome).toBe('refused');
  });

  it('refuses deletes of a reign that is over (the new writer may list those objects)', async () => {
    const lease = new LeaseState();
    const firstReign = new FencedStorage(storage, lease.fence, lease.acquire(1));
    await firstReign.put('live/ha/360p/seg-0.m4s', new Uint8Array(4), { contentType: 'video/mp4' });
    lease.lapse();
    const second = lease.acquire(2);
    await expect(firstReign.delete(['live/ha/360p/seg-0.m4s'])).rejects.toThrow(/reign 1 is over/);
    expect(await storage.list('live/ha/360p/')).toEqual(['live/ha/360p/seg-0.m4s']);
    await new FencedStorage(storage, lease.fence, second).delete(['live/ha/360p/seg-0.m4s']);
    expect(await storage.list('live/ha/360p/')).toEqual([]);
  });
});
