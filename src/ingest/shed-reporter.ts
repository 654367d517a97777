import type { Logger } from '../core/logger.js';
import { ShedTally, type ShedReason } from './connection-admission.js';

/** What ingest needs from the metrics registry to count connections it shed. */
export interface IngestShedMetrics {
  countIngestConnectionShed(protocol: 'rtmp' | 'srt', reason: ShedReason): void;
}

/** At most one shed summary line per this many ms. */
export const SHED_LOG_INTERVAL_MS = 10_000;

/**
 * Reports connections closed before they authenticated: each one to the metric, and to the log as
 * one warning for the first after a quiet spell, then one summary per interval while shedding goes
 * on. A flood of 10 000 connections costs a handful of lines, never one per connection (those are
 * at debug level where the listener closes them).
 */
export class ShedReporter {
  private readonly tally = new ShedTally();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly log: Logger,
    private readonly protocol: 'rtmp' | 'srt',
    private readonly metrics: IngestShedMetrics | undefined,
    private readonly message: string,
    private readonly intervalMs = SHED_LOG_INTERVAL_MS,
  ) {}

  shed(reason: ShedReason): void {
    this.metrics?.countIngestConnectionShed(this.protocol, reason);
    this.tally.add(reason);
    if (this.timer === undefined && !this.closed) this.flush();
  }

  /** Logs what was counted since the last line; stops the timer once a whole interval was quiet. */
  private flush(): void {
    const counts = this.tally.take();
    if (counts === undefined) {
      this.timer = undefined;
      return;
    }
    this.log.warn({ shed: counts, intervalMs: this.intervalMs }, this.message);
    this.timer = setTimeout(() => this.flush(), this.intervalMs);
    this.timer.unref();
  }

  /** Logs what is left and stops. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    const counts = this.tally.take();
    if (counts !== undefined) this.log.warn({ shed: counts }, this.message);
  }
}
