/**
 * A channel as the ops API shows it (`GET /api/v1/channels`, and in every event-stream message): the
 * public contract of `src/api/api-schemas.ts` (channelViewSchema), restated for the browser bundle;
 * test/unit/console/channel-view-contract.test.ts fails the typecheck when the two drift apart.
 */
export type ChannelState = 'idle' | 'live' | 'reconnecting' | 'standby' | 'stopped' | 'failed';

/** What a channel with an `inputs:` block can play out (`POST /api/v1/channels/{id}/input`). */
export type SelectableInput = 'primary' | 'backup' | 'slate';

/** The channel view's `input` block (src/channels/channel-inputs.ts, ChannelInputView). */
export interface ChannelInputStatus {
  active: SelectableInput | 'none';
  forced?: SelectableInput;
  failback: 'auto' | 'manual';
  inputs: Array<{ role: 'primary' | 'backup'; kind: 'rtmp' | 'srt' | 'pull'; connected: boolean; healthy: boolean; lastVideoAgeMs?: number; activations: number }>;
  switches: number;
  slateReady: boolean;
  slateSecondsLeft?: number;
}

export interface RenditionStats {
  name: string;
  kind: 'video' | 'audio';
  width?: number;
  height?: number;
  bitrate: number;
  fps?: number;
  speed?: number;
  lastMsn?: number;
  lastPart?: number;
}

export interface ChannelView {
  id: string;
  ladder: string;
  state: ChannelState;
  stateReason?: string;
  keyLast4: string;
  publisher?: {
    protocol: 'rtmp' | 'srt';
    remoteAddress?: string;
    since: string;
    video?: { codec: string; width: number; height: number; frameRate?: number };
    audio?: { codec: string; sampleRate?: number; channels?: number };
    bitrate?: number;
    timestampJumps?: number;
    /** How long after its video the publisher's audio arrives, s (SRT). */
    audioDelaySeconds?: number;
  };
  transcoder: {
    state: string;
    runId: number;
    restarts: number;
    crashLooping: boolean;
    failingSeconds?: number;
    uptimeSeconds: number;
    lastError?: string;
    renditions: RenditionStats[];
    dropped: Array<{ name: string; reason: string }>;
  };
  /** Present when the channel has an `inputs:` block (backup input, slate, pulled sources). */
  input?: ChannelInputStatus;
  mediaSequence?: number;
  urls: { playback: string; rtmp: string; srt?: string };
}
