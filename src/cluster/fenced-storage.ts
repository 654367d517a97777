import type { GetOptions, GetResult, ObjectStorage, PutOptions } from '../storage/object-storage.js';
import type { WriteFence } from './channel-leases.js';

/** Metadata names under which every object records its writer (S3: `x-amz-meta-livepipe-epoch`…). */
export const EPOCH_METADATA = 'livepipe-epoch';
export const NODE_METADATA = 'livepipe-node';

/** The lease check of one channel (`ChannelLeases.fence` bound to the channel). */
export type ChannelFence = () => WriteFence;

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
 */
export class FencedStorage implements ObjectStorage {
  constructor(
    private readonly inner: ObjectStorage,
    private readonly fence: ChannelFence,
  ) {}

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
        const now = this.fence();
        // A lease lost and taken again has a new epoch: the object would carry the old one.
        if (now.epoch !== epoch) throw new Error(`fencing epoch changed from ${epoch} to ${now.epoch} during the write`);
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
