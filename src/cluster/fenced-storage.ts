import { ErrorCode, LivepipeError } from '../core/errors.js';
import type { GetOptions, GetResult, ObjectStorage, PutOptions } from '../storage/object-storage.js';
import type { WriteFence } from './channel-leases.js';

/** Metadata names under which every object records its writer (S3: `x-amz-meta-livepipe-epoch`…). */
export const EPOCH_METADATA = 'livepipe-epoch';
export const NODE_METADATA = 'livepipe-node';

/** The lease check of one channel (`ChannelLeases.fence` bound to the channel). */
export type ChannelFence = () => WriteFence;

/**
 * The write gate's check for one reign: the fence's answer if the node still holds the lease from
 * the acquisition (`WriteFence.reign`) the writer was created in; `Fenced` otherwise — also when this
 * node took the lease again since (a new reign, whatever the epoch: Redis may have restarted empty).
 * Pure but for the fence it calls.
 */
export function fenceForReign(fence: ChannelFence, reign: number | undefined): WriteFence {
  const now = fence();
  if (now.reign !== reign) {
    throw new LivepipeError(
      ErrorCode.Fenced,
      reign === undefined
        ? `writer created without the lease (now held under epoch ${now.epoch}): it writes nothing`
        : `writer of reign ${reign} is over: this node took the lease again since (reign ${now.reign}, epoch ${now.epoch})`,
      { details: { reign, epoch: now.epoch } },
    );
  }
  return now;
}

/**
 * The write gate of one channel in cluster mode: everything the channel's packager and upload queue
 * store or delete passes here. Each write is checked twice against the lease deadline — when it is
 * queued into the driver, and again synchronously right before it leaves the process
 * (`PutOptions.beforeSend`, on every retry) — so a writer that was frozen (SIGSTOP, a long pause)
 * between the two finds its deadline past when it wakes and sends nothing. Each stored object records
 * the fencing epoch and node it was written under (object metadata).
 *
 * What remains: bytes already handed to the kernel before the freeze are delivered by the kernel
 * while the process sleeps — before the lease can expire, so before any new writer's first write.
 * Reads pass through: a standby and a fenced-off node may read what the writer stored.
 *
 * One FencedStorage serves one reign: `reign` is the acquisition of the lease current when the
 * channel's packager (with its upload queue) was created, and only that acquisition opens the gate. A node that lost the lease
 * and took it again (a Redis outage: every lease lapses, then the same node wins) runs a new packager
 * that resumes the stored playlists; the old packager, closing in the background, still retries the
 * uploads the gate refused meanwhile. Were the gate open to any epoch this node holds, those stale
 * writes would land after the new packager read storage — the previous reign's last playlist stored
 * over what the new one restored, the window sliding back (found by the cluster failover test's Redis
 * outage case, issue 13). Pinned, they are refused for good. The pin is the node's own acquisition
 * count, not the epoch: a Redis that comes back empty restarts epochs at 1, the same epoch again.
 */
export class FencedStorage implements ObjectStorage {
  /** The lease check of this reign. */
  private readonly fence: ChannelFence;

  constructor(
    private readonly inner: ObjectStorage,
    fence: ChannelFence,
    /** The reign this storage writes for (`ChannelLeases.heldReign`; `undefined`: the lease was not held, it writes nothing). */
    readonly reign: number | undefined,
  ) {
    this.fence = () => fenceForReign(fence, reign);
  }

  /** The shared driver is started and closed by its owner (the app), not by each channel. */
  async start(): Promise<void> {}

  async close(): Promise<void> {}

  async put(key: string, body: Uint8Array, options: PutOptions): Promise<void> {
    const { epoch, nodeId } = this.fence();
    const outer = options.beforeSend;
    return this.inner.put(key, body, {
      ...options,
      metadata: { ...options.metadata, [EPOCH_METADATA]: String(epoch), [NODE_METADATA]: nodeId },
      beforeSend: () => {
        // Past the deadline, or a lease lost and taken again since (a new reign): refused.
        this.fence();
        outer?.();
      },
    });
  }

  async delete(keys: readonly string[]): Promise<void> {
    // A fenced-off node must not delete what the new writer lists.
    this.fence();
    return this.inner.delete(keys);
  }

  get(key: string, options?: GetOptions): Promise<GetResult | undefined> {
    return this.inner.get(key, options);
  }

  list(prefix: string): Promise<string[]> {
    return this.inner.list(prefix);
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }
}
