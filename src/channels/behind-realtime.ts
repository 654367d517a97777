/**
 * A channel's answer to its encoder falling behind realtime (docs/capacity.md), over a publish
 * session: the realtime metric and the log when `behind` flips, and under `cheaper-preset` /
 * `drop-top-rendition` the lighter ladder the encoder is restarted on (`behind-policy.ts` decides).
 * The channel keeps what is its own — which supervisor is current, its state, the order of its
 * lifecycle steps — and calls in: `onRealtime` for each status, `lighten` (serialized) when it says
 * the encoder just fell behind, `ladderFor` when a supervisor starts, `encoderStopped` when it stops.
 */
import type { Logger } from '../core/logger.js';
import type { ResolvedVideoRendition } from '../ladder/ladder-loader.js';
import type { Ladder } from '../ladder/ladder-schema.js';
import { NO_ADJUSTMENT, adjustLadder, decideBehindAction, type BehindAdjustment, type BehindPolicy } from '../transcode/behind-policy.js';
import type { RealtimeStatus } from '../transcode/realtime-tracker.js';
import type { ChannelMetricsPort, ChannelSupervisorPort } from './channel-ports.js';
import type { LadderAdjustmentSnapshot } from './channel-view.js';

export interface BehindRealtimeDeps {
  channel: string;
  /** `ChannelDeps.behindPolicy` (default `warn`: flag it, change nothing). */
  policy: BehindPolicy;
  /** The channel's logger (its lines are the channel's). */
  logger: Logger;
  metrics?: Pick<ChannelMetricsPort, 'setChannelRealtime' | 'setChannelLadderAdjustment'>;
}

export class BehindRealtime {
  /** Whether the running encoder was last reported behind realtime. */
  private behind = false;
  /** The behind-realtime policy's changes to the ladder in this publish session (`behind-policy.ts`). */
  private adjustment: BehindAdjustment = NO_ADJUSTMENT;
  /** The ladder as configured, of the running supervisor (the policy adjusts from it). */
  private baseLadder: Ladder | undefined;

  constructor(private readonly deps: BehindRealtimeDeps) {}

  /** The ladder a new supervisor runs: `configured` under this session's adjustment (which it is kept as the base of). */
  ladderFor(configured: Ladder): Ladder {
    this.baseLadder = configured;
    return adjustLadder(configured, this.adjustment);
  }

  /** A new publish session (its source may be lighter) or a changed ladder: run the ladder as configured. */
  resetAdjustment(): void {
    this.setAdjustment(NO_ADJUSTMENT);
  }

  /**
   * A realtime status of the running encoder: metrics every time, the log when `behind` flips.
   * True when the encoder just fell behind: the channel then calls `lighten`, in its lifecycle order.
   */
  onRealtime(status: RealtimeStatus): boolean {
    this.deps.metrics?.setChannelRealtime?.(this.deps.channel, { edgeLagSeconds: status.edgeLagSeconds, behind: status.behind });
    if (status.behind === this.behind) return false;
    this.behind = status.behind;
    if (status.behind) this.deps.logger.warn({ edgeLagSeconds: status.edgeLagSeconds, speed: status.speed }, `channel ${status.reason ?? 'behind realtime'}`);
    else this.deps.logger.info({ edgeLagSeconds: status.edgeLagSeconds, speed: status.speed }, 'channel caught up with realtime');
    return status.behind;
  }

  /**
   * `cheaper-preset` / `drop-top-rendition` (docs/capacity.md): each time the encoder is flagged behind,
   * it is restarted on a lighter ladder — one x264 preset step faster, or without its highest
   * rendition — on the same feed and admission slot; the packager continues the playlists after a
   * discontinuity (and ends a dropped rendition's, which the multivariant playlist then no longer lists).
   * `supervisor`: the channel's current one, while live; `encoded`: the video its latest run encodes.
   */
  lighten(supervisor: Pick<ChannelSupervisorPort, 'reconfigure'>, encoded: ReadonlyArray<Pick<ResolvedVideoRendition, 'name' | 'outputWidth' | 'outputHeight'>>, status: RealtimeStatus): void {
    const policy = this.deps.policy;
    if (policy === 'warn' || policy === 'refuse-new') return;
    const base = this.baseLadder;
    if (base === undefined || supervisor.reconfigure === undefined) return;
    const action = decideBehindAction({
      policy,
      ladder: base,
      encoded: encoded.map((v) => ({ name: v.name, width: v.outputWidth, height: v.outputHeight })),
      adjustment: this.adjustment,
    });
    if (action.kind === 'none') {
      this.deps.logger.warn({ policy, why: action.why }, 'behind realtime: the policy can lighten the ladder no further');
      return;
    }
    const reason = `behind realtime (${status.reason ?? 'below realtime'}): ${action.summary}`;
    if (!supervisor.reconfigure(adjustLadder(base, action.adjustment), reason)) return;
    this.deps.logger.warn({ policy, presetSteps: action.adjustment.presetSteps, droppedRenditions: action.adjustment.droppedRenditions }, `encoder restarted on a lighter ladder: ${reason}`);
    this.setAdjustment(action.adjustment);
    // The new run is judged afresh (after its warm-up); flagged again, it goes one step further.
    this.behind = false;
  }

  /** The encoder stopped (`hadSupervisor`: one was running): its realtime series is cleared. */
  encoderStopped(hadSupervisor: boolean): void {
    if (this.behind || hadSupervisor) this.deps.metrics?.setChannelRealtime?.(this.deps.channel, { edgeLagSeconds: undefined, behind: false });
    this.behind = false;
  }

  /** What the channel's view shows of the policy's changes. */
  ladderAdjustment(): LadderAdjustmentSnapshot {
    return { policy: this.deps.policy, baseLadder: this.baseLadder, adjustment: this.adjustment };
  }

  private setAdjustment(adjustment: BehindAdjustment): void {
    const before = this.adjustment;
    this.adjustment = adjustment;
    if (before === adjustment || (before.presetSteps === 0 && before.droppedRenditions.length === 0 && adjustment === NO_ADJUSTMENT)) return;
    this.deps.metrics?.setChannelLadderAdjustment?.(this.deps.channel, { presetSteps: adjustment.presetSteps, droppedRenditions: adjustment.droppedRenditions.length });
  }
}
