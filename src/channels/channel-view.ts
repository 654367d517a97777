/**
 * What the ops API shows of a channel (`ChannelView`), built from a plain snapshot of the channel's
 * state: a pure function, so the fields that take logic (the state reason while the encoder fails or
 * falls behind, the transcoder's renditions and restarts, the ladder adjustment, the publisher) are
 * unit-tested without a channel, a supervisor or a feed. `Channel.view()` gathers the snapshot.
 */
import type { ChannelConfig } from '../config/service-config.js';
import type { PublisherInfo } from '../ingest/ingest-feed.js';
import type { ResolvedLadder } from '../ladder/ladder-loader.js';
import type { Ladder } from '../ladder/ladder-schema.js';
import { NO_ADJUSTMENT, adjustLadder, type BehindAdjustment, type BehindPolicy } from '../transcode/behind-policy.js';
import type { TranscoderStateSnapshot } from '../transcode/transcoder-supervisor.js';
import type { ChannelInputView } from './channel-inputs.js';
import type { ChannelState, ChannelView, RenditionStats } from './channel-service.js';

const round2 = (n: number): number => Math.round(n * 100) / 100;

/** The behind-realtime policy's state in a publish session (`behind-policy.ts`). */
export interface LadderAdjustmentSnapshot {
  policy: BehindPolicy;
  /** The ladder as configured, of the running supervisor; undefined before the first ladder loaded. */
  baseLadder: Ladder | undefined;
  /** `NO_ADJUSTMENT` (the very object) while the ladder runs as configured. */
  adjustment: BehindAdjustment;
}

/** Everything `channelView` reads: the channel's state at one instant, as plain data. */
export interface ChannelViewSnapshot {
  spec: Pick<ChannelConfig, 'id' | 'ladder' | 'key'>;
  state: ChannelState;
  /** The reason of the channel's last transition. */
  stateReason: string | undefined;
  /** The running supervisor's state; undefined between publish sessions. */
  transcoder: TranscoderStateSnapshot | undefined;
  /** Operator and crash restarts of earlier supervisors (the running one's are in `transcoder`). */
  restarts: number;
  /** The channel's last error, shown while the supervisor has none. */
  lastError: string | undefined;
  /** `failingSince` of the failure series that made the channel end its stream, if it did. */
  endedFailureSeries: number | undefined;
  /** `ChannelDeps.encoderGiveUpMs` (or its default). */
  encoderGiveUpMs: number;
  /** The latest run's resolved ladder: output sizes and bitrates. */
  ladder: ResolvedLadder | undefined;
  /** Last published position per rendition (the packager's). */
  positions: Array<{ rendition: string; lastMsn: number; lastPart: number }>;
  ladderAdjustment: LadderAdjustmentSnapshot;
  /** The publisher of a channel without inputs block. */
  publisher: PublisherInfo | undefined;
  /** The channel's inputs, when it has an `inputs:` block. */
  input: ChannelInputView | undefined;
  urls: ChannelView['urls'];
  /** Epoch ms the view is taken at. */
  now: number;
}

export function channelView(s: ChannelViewSnapshot): ChannelView {
  const snapshot = s.transcoder;
  const info = s.publisher;
  const positions = s.positions.map((p) => ({ rendition: p.rendition, msn: p.lastMsn, part: p.lastPart }));
  const ladder = s.ladder;
  const stats = (name: string) => {
    const position = positions.find((p) => p.rendition === name);
    return position !== undefined ? { lastMsn: position.msn, lastPart: position.part } : {};
  };
  const renditions: RenditionStats[] = [
    ...(ladder?.video ?? []).map((v) => ({
      name: v.name,
      kind: 'video' as const,
      width: v.outputWidth,
      height: v.outputHeight,
      bitrate: v.bitrate,
      // One ffmpeg encodes the whole ladder: its progress is the channel's.
      ...(snapshot?.lastProgress?.fps !== undefined ? { fps: snapshot.lastProgress.fps } : {}),
      ...(snapshot?.lastProgress?.speed !== undefined ? { speed: snapshot.lastProgress.speed } : {}),
      ...stats(v.name),
    })),
    ...(ladder?.audio ?? []).map((a) => ({ name: a.name, kind: 'audio' as const, bitrate: a.bitrate, ...stats(a.name) })),
  ];
  const failingSince = s.state === 'live' ? snapshot?.failingSince : undefined;
  const realtime = snapshot?.realtime;
  const behindReason = s.state === 'live' && realtime?.behind === true ? realtime.reason : undefined;
  const stateReason = failingSince !== undefined && snapshot !== undefined ? failureReason(s, snapshot, failingSince) : (behindReason ?? s.stateReason);
  const view: ChannelView = {
    id: s.spec.id,
    ladder: s.spec.ladder,
    state: s.state,
    ...(stateReason !== undefined ? { stateReason } : {}),
    keyLast4: s.spec.key.slice(-4),
    transcoder: {
      state: snapshot?.state ?? 'idle',
      runId: snapshot?.runId ?? 0,
      restarts: s.restarts + (snapshot?.restarts ?? 0),
      crashLooping: snapshot?.crashLooping ?? false,
      ...(failingSince !== undefined ? { failingSeconds: Math.round((s.now - failingSince) / 1000) } : {}),
      uptimeSeconds: Math.round((snapshot?.uptimeMs ?? 0) / 1000),
      lastError: snapshot?.lastError ?? s.lastError,
      renditions,
      dropped: (snapshot?.decisions ?? []).filter((d) => !d.kept).map((d) => ({ name: d.name, reason: d.reason ?? 'dropped' })),
      ...(s.ladderAdjustment.adjustment !== NO_ADJUSTMENT ? { ladderAdjustment: ladderAdjustmentView(s.ladderAdjustment) } : {}),
      ...(realtime !== undefined
        ? {
            realtime: {
              behind: realtime.behind,
              ...(realtime.edgeLagSeconds !== undefined ? { edgeLagSeconds: round2(realtime.edgeLagSeconds) } : {}),
              ...(realtime.speed !== undefined ? { speed: round2(realtime.speed) } : {}),
              ...(snapshot?.measuredCores !== undefined ? { cores: round2(snapshot.measuredCores) } : {}),
            },
          }
        : {}),
    },
    urls: s.urls,
  };
  if (s.input !== undefined) view.input = s.input;
  const mediaSequence = positions.reduce<number | undefined>((max, p) => (max === undefined || p.msn > max ? p.msn : max), undefined);
  if (mediaSequence !== undefined) view.mediaSequence = mediaSequence;
  if (info !== undefined) {
    view.publisher = {
      protocol: info.protocol,
      since: info.since,
      bitrate: info.bitrateBps,
      ...(info.remoteAddress !== undefined ? { remoteAddress: info.remoteAddress } : {}),
      ...(info.video !== undefined
        ? { video: { codec: info.video.codec, width: info.video.width ?? 0, height: info.video.height ?? 0, frameRate: info.video.frameRate } }
        : {}),
      ...(info.audio !== undefined ? { audio: info.audio } : {}),
      ...(info.timestampJumps !== undefined ? { timestampJumps: info.timestampJumps } : {}),
      ...(info.audioDelaySeconds !== undefined ? { audioDelaySeconds: info.audioDelaySeconds } : {}),
    };
  }
  return view;
}

/** The view's reason while the encoder is failing (not yet healthy again). */
function failureReason(s: ChannelViewSnapshot, snapshot: TranscoderStateSnapshot, failingSince: number): string {
  const seconds = Math.round((s.now - failingSince) / 1000);
  const last = snapshot.lastError !== undefined ? ` (last: ${snapshot.lastError})` : '';
  if (s.endedFailureSeries === failingSince) {
    return `encoder failing for ${seconds} s${last}: stream ended with EXT-X-ENDLIST; still retrying, a run that produces media continues it`;
  }
  const giveUp = Math.round(s.encoderGiveUpMs / 1000);
  const what = snapshot.crashLooping ? `encoder crash-looping: ${snapshot.consecutiveFailures} fast failures in a row` : 'encoder restarted after a failure';
  return `${what} for ${seconds} s${last}; retrying, the stream ends after ${giveUp} s of failures`;
}

/** The view of the policy's changes: each encoded rendition's x264 preset now, and what was dropped. */
export function ladderAdjustmentView({ policy, baseLadder, adjustment }: LadderAdjustmentSnapshot): NonNullable<ChannelView['transcoder']['ladderAdjustment']> {
  const adjusted = baseLadder !== undefined ? adjustLadder(baseLadder, adjustment) : undefined;
  return {
    policy,
    presetSteps: adjustment.presetSteps,
    presets: Object.fromEntries((adjusted?.video ?? []).map((v) => [v.name, v.preset])),
    droppedRenditions: [...adjustment.droppedRenditions],
  };
}
