import type { ResolvedLadder } from '../ladder/ladder-loader.js';
import { listedMediaEnd, type MediaPlaylist, type MultivariantPlaylist } from '../hls/playlist-model.js';
import { variantBandwidth, variantCodecs } from './bitrate-meter.js';

/** GROUP-ID of the audio EXT-X-MEDIA group. */
export const AUDIO_GROUP = 'audio';
/** GROUP-ID of the closed captions carried in the video (CEA-608 channel 1). */
export const CC_GROUP = 'cc';

/** What the packager knows of one rendition's output once its init segment came. */
export interface RenditionOutputFacts {
  /** RFC 6381 codec string of its track. */
  codecs: string;
  /** Audio: channels the track says it has. */
  channelCount?: number;
  /** Measured segment bitrates, once a segment is complete. */
  measured?: { peak: number; average: number };
  /** Video with the ladder's `muxAudio`: the codec of the audio muxed into its segments. */
  muxedAudioCodecs?: string;
}

/**
 * The multivariant playlist model of a run's ladder, pure: every video rendition a variant (BANDWIDTH =
 * measured peak, or the ladder's maxrate until a segment is measured), audio as one EXT-X-MEDIA group
 * they all reference — the first ladder audio rendition, once per published language (LANGUAGE,
 * NAME, exactly one DEFAULT=YES; see `ladder/audio-tracks.ts`), or that one rendition. Returns
 * undefined until every rendition in it has told its codec (a variant without CODECS is not allowed).
 */
export function buildMultivariant(
  ladder: ResolvedLadder,
  facts: (rendition: string) => RenditionOutputFacts | undefined,
  closedCaptions: boolean,
): MultivariantPlaylist | undefined {
  // A muxed ladder's variants carry their audio: no audio group (§4.4.6.2: CODECS names both).
  const muxed = ladder.ladder.muxAudio === true;
  const muxedBitrate = muxed ? (ladder.audio[0]?.bitrate ?? 0) : 0;
  const group = ladder.audio[0]?.group;
  const audios = muxed ? [] : ladder.audio.filter((a) => a.group === group).map((rendition) => ({ rendition, facts: facts(rendition.name) }));
  const videos = ladder.video.map((rendition) => ({ rendition, facts: facts(rendition.name) }));
  if ([...videos, ...audios].some((r) => r.facts === undefined)) return undefined;
  const audioCodec = audios[0]?.facts!.codecs;
  // A variant plays with any rendition of its group: its BANDWIDTH counts the largest (§4.4.6.2).
  const audioRates = audios.map(({ rendition, facts: f }) => f!.measured ?? { peak: rendition.bitrate, average: rendition.bitrate });
  const audioMeasured =
    audioRates.length > 0 ? { peak: Math.max(...audioRates.map((r) => r.peak)), average: Math.max(...audioRates.map((r) => r.average)) } : undefined;
  return {
    version: 9,
    // Every segment starts with a keyframe: GOPs divide the segment duration (ladder validation).
    independentSegments: true,
    audio: audios.map(({ rendition, facts: f }) => ({
      groupId: AUDIO_GROUP,
      name: rendition.label ?? rendition.name,
      uri: `${rendition.name}/playlist.m3u8`,
      default: rendition.isDefault,
      channels: f!.channelCount ?? rendition.channels,
      ...(rendition.language !== undefined ? { language: rendition.language } : {}),
    })),
    // The encoders keep the source's A53 captions in every rendition (x264 `a53cc`, on by default).
    ...(closedCaptions ? { closedCaptions: [{ groupId: CC_GROUP, name: 'CC1', instreamId: 'CC1', default: true }] } : {}),
    variants: videos.map(({ rendition, facts: f }) => {
      // A muxed variant's segments hold its audio: its measured bitrate includes it, its declared one adds it.
      const declared = { peak: (rendition.maxrate ?? rendition.bitrate) + muxedBitrate, average: rendition.bitrate + muxedBitrate };
      const measured = f!.measured;
      const video = measured ? { peak: Math.max(measured.peak, declared.peak), average: measured.average } : declared;
      const { bandwidth, averageBandwidth } = variantBandwidth(video, audioMeasured);
      return {
        uri: `${rendition.name}/playlist.m3u8`,
        bandwidth,
        averageBandwidth,
        codecs: variantCodecs(f!.codecs, audioCodec ?? f!.muxedAudioCodecs),
        resolution: { width: rendition.outputWidth, height: rendition.outputHeight },
        frameRate: ladder.frameRate,
        ...(audios.length > 0 ? { audioGroup: AUDIO_GROUP } : {}),
        // Saying NONE when there are none spares Shaka Player a CEA-608 probe of three video
        // segments before its first frame (docs/latency.md).
        closedCaptions: closedCaptions ? CC_GROUP : 'NONE',
      };
    }),
  };
}

/** The renditions a multivariant playlist of `ladder` names (its variants and audio group), in order. */
export function multivariantRenditions(ladder: ResolvedLadder): string[] {
  if (ladder.ladder.muxAudio === true) return ladder.video.map((v) => v.name);
  const group = ladder.audio[0]?.group;
  return [...ladder.video.map((v) => v.name), ...ladder.audio.filter((a) => a.group === group).map((a) => a.name)];
}

/**
 * Edge lag (now − PDT end of the newest part) under which a rendition counts as live for
 * `startAtEdge`, in PART-TARGETs. Checked as each part is listed, when the lag is at its smallest: a
 * realtime zerolatency run lists a part ~0.05 s after its last frame arrived, so two part targets
 * (0.2 s on `low-latency`) leave room for SRT's receiver latency (~0.15 s) and a late part.
 */
export const START_AT_EDGE_PARTS = 2;
/** Longest a `startAtEdge` hold lasts past the first complete segment, in target durations. */
export const START_AT_EDGE_MAX_HOLD_TARGETS = 3;

/**
 * Whether a channel's first multivariant playlist may be published, given the media playlists it
 * names (pure). Always: every one lists a complete segment — hls.js fails a playlist with parts only
 * (`levelEmptyError`), retries, and plays a second further behind for the whole session. With
 * `startAtEdge` (ladder option): also every one's newest media ends within `START_AT_EDGE_PARTS` ×
 * PART-TARGET of `now` (plus `allowanceMs`: lag that is not backlog — a paced rendition's hold,
 * `BurstPacer`, which every other rendition of the channel is held to, `LeadLimiter`), or `START_AT_EDGE_MAX_HOLD_TARGETS` target durations have
 * passed since the latest of their first segments ended (a run that stays behind real time is not
 * held for long).
 *
 * Why: a run starts by working off what ingest buffered while ffmpeg started (and an RTMP GOP cache),
 * so its edge trails the wall clock by 0.2–0.7 s for its first second or two. hls.js and Shaka position
 * themselves PART-HOLD-BACK behind the edge of the first playlist they load and, with default configs,
 * never play faster to catch up: a viewer who opens the channel then keeps that lag for good.
 */
export function firstMultivariantDue(
  playlists: ReadonlyArray<Pick<MediaPlaylist, 'segments' | 'pending' | 'partTarget' | 'targetDuration'>>,
  now: number,
  startAtEdge: boolean,
  allowanceMs = 0,
): boolean {
  if (playlists.some((p) => p.segments.length === 0)) return false;
  if (!startAtEdge) return true;
  const live = playlists.every((p) => {
    const end = listedMediaEnd(p);
    return end !== undefined && now - end <= START_AT_EDGE_PARTS * p.partTarget * 1000 + allowanceMs;
  });
  if (live) return true;
  const firstSegmentsEnded = Math.max(...playlists.map((p) => p.segments[0]!.programDateTime + 1000 * p.segments[0]!.duration));
  const maxHold = Math.max(...playlists.map((p) => START_AT_EDGE_MAX_HOLD_TARGETS * p.targetDuration * 1000));
  return now - firstSegmentsEnded >= maxHold;
}
