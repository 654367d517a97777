/**
 * The states a channel can be in: shared vocabulary of the channel layer (which owns the state
 * machine, `channels/channel.ts`), the ops API (which shows it) and metrics (which export it as a
 * label), declared here so the lower layers need not import the channel layer.
 */
export type ChannelState =
  /** Defined, nobody publishing. */
  | 'idle'
  /** A publisher is live and the ladder runs. */
  | 'live'
  /** The publisher left; waiting out the reconnect grace period. */
  | 'reconnecting'
  /**
   * Cluster mode: a publisher is connected (the feed is kept open) but another node holds the
   * channel's writer lease; this node takes over when that lease expires or is released.
   */
  | 'standby'
  /** Stopped by an operator: publishes are refused until `start`. */
  | 'stopped'
  /**
   * The ladder or the input cannot work (unusable media, a ladder that does not load); see
   * `transcoder.lastError`. An encoder that merely keeps crashing leaves the channel `live` (see
   * `transcoder.crashLooping`).
   */
  | 'failed';

/** Every state, in the order metrics and docs list them. */
export const CHANNEL_STATES: readonly ChannelState[] = ['idle', 'live', 'reconnecting', 'standby', 'stopped', 'failed'];
