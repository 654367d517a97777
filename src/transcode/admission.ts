import { availableParallelism } from 'node:os';
import PQueue from 'p-queue';
import { ErrorCode, LivepipeError } from '../core/errors.js';
import type { BehindPolicy } from './behind-policy.js';
import { LadderCostModel, type LadderCostEstimate, type LadderCostSource } from './ladder-cost.js';

/**
 * Node-wide admission control for transcoding. A ladder encode takes whole CPU cores; running more
 * ladders than the machine can encode in realtime makes every channel fall behind at once, so a
 * channel that does not fit is refused with `CapacityExceeded` instead of being silently
 * oversubscribed. Two limits (see docs/capacity.md):
 * - `maxLadders`: a count of concurrent ladders (the service config's `maxChannels`);
 * - with `capacity`: the node's cores × `headroom`, against the sum of the running channels' costs
 *   (`LadderCostModel`: measured at run time, seeded from the benchmark). A channel whose ladder's
 *   cost does not fit in what is free is refused; and under the `refuse-new` policy no new channel is
 *   admitted while a running one is behind realtime.
 * Process starts (probe + ffmpeg start, a CPU burst) also go through a small queue so that a burst of
 * publishers or a mass restart does not spawn every encoder in the same instant.
 */

/** What the node does while a channel runs behind realtime (docs/capacity.md, `behind-policy.ts`). */
export type { BehindPolicy } from './behind-policy.js';

export interface CapacityOptions {
  /** CPU cores the node may use for ladders; default all of them (`availableParallelism()`). */
  cores?: number;
  /** Fraction of `cores` admission fills (0 < headroom ≤ 1); default 0.9. */
  headroom?: number;
  behindPolicy?: BehindPolicy;
  /** The cost of each ladder; default a model without seeds (pixel-rate estimates until measured). */
  costs?: LadderCostModel;
}

export interface AdmissionOptions {
  /**
   * Concurrent ladders on this node. Default: half the CPU cores, at least 1 (a 1080p `default` ladder
   * needs about 1.6 cores for realtime; see the quality benchmark).
   */
  maxLadders?: number;
  /** Simultaneous process starts; default 1. */
  maxConcurrentStarts?: number;
  /** Cost-based admission; without it only `maxLadders` limits. */
  capacity?: CapacityOptions;
}

/** The ladder a channel wants to run, for its cost. */
export interface LadderDemand {
  name: string;
  /** Encoded pixels per second of the ladder resolved against the source (`resolvedPixelsPerSecond`). */
  pixelsPerSecond: number;
}

/** How a running channel keeps up (reported by its supervisor). */
export interface RealtimeReport {
  behind: boolean;
  edgeLagSeconds?: number | undefined;
  speed?: number | undefined;
}

/** A held ladder slot; `release()` is idempotent. */
export interface LadderSlot {
  readonly channel: string;
  release(): void;
  /**
   * A run measured its cost: cores per channel at realtime (CPU s per media s). `asPriced` false: the
   * run encodes a lightened ladder (behind-realtime policy), so the measurement is the channel's but
   * says nothing of the ladder's figure.
   */
  reportCost?(cores: number, asPriced?: boolean): void;
  reportRealtime?(report: RealtimeReport): void;
}

/** What the supervisor needs from admission (narrow, so tests and other callers can supply their own). */
export interface TranscodeAdmission {
  acquire(channel: string, demand?: LadderDemand): LadderSlot;
  runStart<T>(start: () => Promise<T>): Promise<T>;
}

export type AdmissionRefusal = 'max-channels' | 'over-capacity' | 'node-behind';

export interface AdmissionInput {
  channel: string;
  running: number;
  maxLadders: number;
  /** Absent: no cost-based admission. */
  capacity?: {
    capacityCores: number;
    usedCores: number;
    /** The new channel's cost; undefined when unknown (the cost check is skipped). */
    demandCores: number | undefined;
    demandLadder: string;
    behindChannels: readonly string[];
    behindPolicy: BehindPolicy;
  };
}

export type AdmissionDecision = { admitted: true } | { admitted: false; refusal: AdmissionRefusal; message: string };

const round2 = (n: number): number => Math.round(n * 100) / 100;

/** The admission decision as a pure function of the node's state and the demand. */
export function decideAdmission(input: AdmissionInput): AdmissionDecision {
  const { channel, running, maxLadders, capacity } = input;
  if (running >= maxLadders) {
    return { admitted: false, refusal: 'max-channels', message: `transcoding capacity reached: ${running}/${maxLadders} ladders running (maxChannels); channel ${channel} refused` };
  }
  if (capacity === undefined) return { admitted: true };
  if (capacity.behindPolicy === 'refuse-new' && capacity.behindChannels.length > 0) {
    return {
      admitted: false,
      refusal: 'node-behind',
      message: `node is behind realtime (channel ${capacity.behindChannels.join(', ')} cannot keep up): channel ${channel} refused until it catches up`,
    };
  }
  const free = capacity.capacityCores - capacity.usedCores;
  // A hundredth of a core of slack: costs are rounded in reports, a channel exactly at the limit fits.
  if (capacity.demandCores !== undefined && capacity.demandCores > free + 0.01) {
    return {
      admitted: false,
      refusal: 'over-capacity',
      message:
        `not enough transcoding capacity for channel ${channel}: ladder "${capacity.demandLadder}" needs ${round2(capacity.demandCores)} cores for realtime, ` +
        `${round2(Math.max(0, free))} of ${round2(capacity.capacityCores)} are free`,
    };
  }
  return { admitted: true };
}

/** One running channel in the node view. */
export interface CapacityHolder {
  channel: string;
  ladder: string;
  /** Cores it is counted for: its own measurement once it has one, else its ladder's estimate. */
  cores: number;
  source: LadderCostSource;
  behind: boolean;
  edgeLagSeconds?: number;
  speed?: number;
}

/** The node's capacity as the ops API and metrics show it. */
export interface NodeCapacity {
  maxChannels: number;
  running: number;
  /** Absent without cost-based admission. */
  cores?: number;
  headroom?: number;
  capacityCores?: number;
  usedCores?: number;
  freeCores?: number;
  behindPolicy?: BehindPolicy;
  channels: CapacityHolder[];
  /** Known ladder costs (benchmark seeds and measurements on this node). */
  ladderCosts?: Record<string, LadderCostEstimate>;
}

interface Holder extends CapacityHolder {
  /** The estimate at admission, kept when no measurement came. */
  estimate: number;
}

export class Admission implements TranscodeAdmission {
  readonly maxLadders: number;
  private readonly holders = new Map<string, Holder>();
  private readonly starts: PQueue;
  private readonly capacity: { cores: number; headroom: number; behindPolicy: BehindPolicy; costs: LadderCostModel } | undefined;

  constructor(options: AdmissionOptions = {}) {
    this.maxLadders = options.maxLadders ?? Math.max(1, Math.floor(availableParallelism() / 2));
    if (!Number.isInteger(this.maxLadders) || this.maxLadders < 1) {
      throw new LivepipeError(ErrorCode.ConfigInvalid, `maxLadders must be a positive integer, got ${options.maxLadders}`);
    }
    const starts = options.maxConcurrentStarts ?? 1;
    if (!Number.isInteger(starts) || starts < 1) {
      throw new LivepipeError(ErrorCode.ConfigInvalid, `maxConcurrentStarts must be a positive integer, got ${starts}`);
    }
    const capacity = options.capacity;
    if (capacity !== undefined) {
      const cores = capacity.cores ?? availableParallelism();
      const headroom = capacity.headroom ?? 0.9;
      if (!(cores > 0)) throw new LivepipeError(ErrorCode.ConfigInvalid, `capacity.cores must be positive, got ${cores}`);
      if (!(headroom > 0 && headroom <= 1)) throw new LivepipeError(ErrorCode.ConfigInvalid, `capacity.headroom must be in (0, 1], got ${headroom}`);
      this.capacity = { cores, headroom, behindPolicy: capacity.behindPolicy ?? 'refuse-new', costs: capacity.costs ?? new LadderCostModel() };
    }
    this.starts = new PQueue({ concurrency: starts });
  }

  /** Takes a slot for `channel` or throws `CapacityExceeded` (or `Conflict` when it holds one already). */
  acquire(channel: string, demand?: LadderDemand): LadderSlot {
    if (this.holders.has(channel)) {
      throw new LivepipeError(ErrorCode.Conflict, `channel ${channel} already has a transcoder`);
    }
    const estimate = demand !== undefined && this.capacity !== undefined ? this.capacity.costs.estimate(demand.name, demand.pixelsPerSecond) : undefined;
    const decision = this.decide(channel, demand?.name ?? '', estimate?.cores);
    if (!decision.admitted) {
      throw new LivepipeError(ErrorCode.CapacityExceeded, decision.message, {
        details: { channel, refusal: decision.refusal, ...this.summary(), ...(estimate !== undefined ? { demandCores: round2(estimate.cores) } : {}) },
      });
    }
    const holder: Holder = {
      channel,
      ladder: demand?.name ?? '',
      cores: estimate?.cores ?? 0,
      estimate: estimate?.cores ?? 0,
      source: estimate?.source ?? 'pixel-rate',
      behind: false,
    };
    this.holders.set(channel, holder);
    let released = false;
    return {
      channel,
      release: () => {
        if (released) return;
        released = true;
        if (this.holders.get(channel) === holder) this.holders.delete(channel);
      },
      reportCost: (cores, asPriced = true) => {
        if (released || !(cores > 0) || !Number.isFinite(cores)) return;
        holder.cores = cores;
        holder.source = 'measured';
        if (asPriced && holder.ladder !== '' && demand !== undefined) this.capacity?.costs.observe(holder.ladder, cores, demand.pixelsPerSecond);
      },
      reportRealtime: (report) => {
        if (released) return;
        holder.behind = report.behind;
        if (report.edgeLagSeconds !== undefined) holder.edgeLagSeconds = report.edgeLagSeconds;
        if (report.speed !== undefined) holder.speed = report.speed;
      },
    };
  }

  private decide(channel: string, ladder: string, demandCores: number | undefined): AdmissionDecision {
    const capacity = this.capacity;
    return decideAdmission({
      channel,
      running: this.holders.size,
      maxLadders: this.maxLadders,
      ...(capacity !== undefined
        ? {
            capacity: {
              capacityCores: capacity.cores * capacity.headroom,
              usedCores: this.usedCores(),
              demandCores,
              demandLadder: ladder,
              behindChannels: [...this.holders.values()].filter((h) => h.behind).map((h) => h.channel),
              behindPolicy: capacity.behindPolicy,
            },
          }
        : {}),
    });
  }

  private usedCores(): number {
    let used = 0;
    for (const h of this.holders.values()) used += h.cores;
    return used;
  }

  private summary(): Record<string, number> {
    if (this.capacity === undefined) return { running: this.holders.size, maxChannels: this.maxLadders };
    const capacityCores = this.capacity.cores * this.capacity.headroom;
    return { running: this.holders.size, maxChannels: this.maxLadders, capacityCores: round2(capacityCores), usedCores: round2(this.usedCores()) };
  }

  /** The node's capacity, used and free, with every running channel's cost. */
  snapshot(): NodeCapacity {
    const channels = [...this.holders.values()]
      .map(({ estimate: _estimate, ...h }) => ({ ...h, cores: round2(h.cores) }))
      .sort((a, b) => (a.channel < b.channel ? -1 : 1));
    const base = { maxChannels: this.maxLadders, running: this.holders.size, channels };
    const capacity = this.capacity;
    if (capacity === undefined) return base;
    const capacityCores = capacity.cores * capacity.headroom;
    const used = this.usedCores();
    const ladderCosts = Object.fromEntries(Object.entries(capacity.costs.known()).map(([name, e]) => [name, { ...e, cores: round2(e.cores) }]));
    return {
      ...base,
      cores: capacity.cores,
      headroom: capacity.headroom,
      capacityCores: round2(capacityCores),
      usedCores: round2(used),
      freeCores: round2(Math.max(0, capacityCores - used)),
      behindPolicy: capacity.behindPolicy,
      ladderCosts,
    };
  }

  /** Runs a process start when a start slot is free (FIFO). */
  runStart<T>(start: () => Promise<T>): Promise<T> {
    return this.starts.add(start);
  }

  /** Channels currently holding a slot. */
  active(): string[] {
    return [...this.holders.keys()];
  }

  /** Waits for queued starts to finish. */
  async close(): Promise<void> {
    await this.starts.onIdle();
  }
}
