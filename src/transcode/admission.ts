import { availableParallelism } from 'node:os';
import PQueue from 'p-queue';
import { ErrorCode, LivepipeError } from '../core/errors.js';

/**
 * Node-wide admission control for transcoding. A ladder encode takes whole CPU cores; running more
 * ladders than the machine can encode in realtime makes every channel fall behind at once, so a
 * channel over the cap is refused with `CapacityExceeded` instead of being silently oversubscribed.
 * Process starts (probe + ffmpeg start, a CPU burst) also go through a small queue so that a burst of
 * publishers or a mass restart does not spawn every encoder in the same instant.
 */
export interface AdmissionOptions {
  /**
   * Concurrent ladders on this node. Default: half the CPU cores, at least 1 (a 1080p `default` ladder
   * needs about two cores for realtime; see the transcode benchmark).
   */
  maxLadders?: number;
  /** Simultaneous process starts; default 1. */
  maxConcurrentStarts?: number;
}

/** A held ladder slot; `release()` is idempotent. */
export interface LadderSlot {
  readonly channel: string;
  release(): void;
}

/** What the supervisor needs from admission (narrow, so tests and other callers can supply their own). */
export interface TranscodeAdmission {
  acquire(channel: string): LadderSlot;
  runStart<T>(start: () => Promise<T>): Promise<T>;
}

export class Admission implements TranscodeAdmission {
  readonly maxLadders: number;
  private readonly holders = new Set<string>();
  private readonly starts: PQueue;

  constructor(options: AdmissionOptions = {}) {
    this.maxLadders = options.maxLadders ?? Math.max(1, Math.floor(availableParallelism() / 2));
    if (!Number.isInteger(this.maxLadders) || this.maxLadders < 1) {
      throw new LivepipeError(ErrorCode.ConfigInvalid, `maxLadders must be a positive integer, got ${options.maxLadders}`);
    }
    const starts = options.maxConcurrentStarts ?? 1;
    if (!Number.isInteger(starts) || starts < 1) {
      throw new LivepipeError(ErrorCode.ConfigInvalid, `maxConcurrentStarts must be a positive integer, got ${starts}`);
    }
    this.starts = new PQueue({ concurrency: starts });
  }

  /** Takes a slot for `channel` or throws `CapacityExceeded` (or `Conflict` when it holds one already). */
  acquire(channel: string): LadderSlot {
    if (this.holders.has(channel)) {
      throw new LivepipeError(ErrorCode.Conflict, `channel ${channel} already has a transcoder`);
    }
    if (this.holders.size >= this.maxLadders) {
      throw new LivepipeError(
        ErrorCode.CapacityExceeded,
        `transcoding capacity reached: ${this.holders.size}/${this.maxLadders} ladders running; channel ${channel} refused`,
        { details: { channel, active: this.holders.size, max: this.maxLadders } },
      );
    }
    this.holders.add(channel);
    let released = false;
    return {
      channel,
      release: () => {
        if (released) return;
        released = true;
        this.holders.delete(channel);
      },
    };
  }

  /** Runs a process start when a start slot is free (FIFO). */
  runStart<T>(start: () => Promise<T>): Promise<T> {
    return this.starts.add(start);
  }

  /** Channels currently holding a slot. */
  active(): string[] {
    return [...this.holders];
  }

  /** Waits for queued starts to finish. */
  async close(): Promise<void> {
    await this.starts.onIdle();
  }
}
