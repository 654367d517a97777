/**
 * Refusing video-less feeds early. livepipe builds a video ladder from every channel; a feed
 * without video cannot make one. The transcoder's ffprobe finds that out only at the end of the feed
 * or after its probe size (2 MB: minutes of audio), because a live FLV or TS consumer cannot tell
 * "no video yet" from "no video" — and the feed's consumers wait for a video keyframe before they
 * get any media. Ingest knows sooner:
 * - RTMP: a publisher that sends audio but no video tag within `FLV_VIDEO_DEADLINE_MS` of its first
 *   audio tag is refused; a shorter deadline applies when its onMetaData declares audio only
 *   (`audiocodecid` without `videocodecid`, what ffmpeg and OBS write for audio-only outputs). A
 *   deadline rather than the metadata alone, because metadata is optional and informative in RTMP.
 * - SRT (MPEG-TS): the PMT lists every elementary stream of the program (ISO/IEC 13818-1 §2.4.4.8).
 *   A program whose streams are all known non-video types is refused when the PMT arrives; a stream
 *   type livepipe does not know could be video and leaves the decision to the transcoder's probe.
 */

/** No video within this long after the first audio tag: refused. Default 3 s (an encoder's video
 * starts with its audio or within a few frames of it). */
export const FLV_VIDEO_DEADLINE_MS = 3000;
/** The same, when onMetaData declares audio only: 1 s. */
export const FLV_DECLARED_AUDIO_ONLY_DEADLINE_MS = 1000;

/** What onMetaData says about the streams (`undefined` fields: it does not say). */
export interface FlvDeclaredStreams {
  video: boolean;
  audio: boolean;
}

/** Reads the declaration from decoded onMetaData fields. */
export function flvDeclaredStreams(metadata: Record<string, unknown>): FlvDeclaredStreams {
  const present = (v: unknown) => v !== undefined && v !== null && v !== false && v !== 0 && v !== '';
  return {
    video: present(metadata.videocodecid) || metadata.hasVideo === true,
    audio: present(metadata.audiocodecid) || metadata.hasAudio === true,
  };
}

/** The deadline after the first audio tag, given what the metadata declared (if it came). */
export function flvVideoDeadlineMs(declared: FlvDeclaredStreams | undefined): number {
  return declared !== undefined && declared.audio && !declared.video ? FLV_DECLARED_AUDIO_ONLY_DEADLINE_MS : FLV_VIDEO_DEADLINE_MS;
}

/** The refusal text for an FLV feed without video. */
export function flvNoVideoReason(declared: FlvDeclaredStreams | undefined, waitedMs: number): string {
  const seconds = Math.round(waitedMs / 100) / 10;
  const what = declared !== undefined && declared.audio && !declared.video ? ' (its metadata declares audio only)' : '';
  return `no video: the publisher sent ${seconds} s of audio and no video${what}; livepipe needs a video track to build the ladder`;
}

/** How livepipe classifies an elementary stream of a TS program. */
export type TsStreamKind = 'video' | 'audio' | 'data' | 'unknown';

/** One entry of a PMT's stream loop. */
export interface TsElementaryStream {
  pid: number;
  /** stream_type (ISO/IEC 13818-1 Table 2-34). */
  streamType: number;
  kind: TsStreamKind;
  /** Codec name when the type names one. */
  codec?: string;
  /** format_identifier of a registration descriptor (tag 5), e.g. `HEVC`, `AV01`, `Opus`. */
  registration?: string;
}

/** The refusal text when a program certainly has no video; undefined when it may have some. */
export function tsNoVideoReason(streams: readonly TsElementaryStream[]): string | undefined {
  if (streams.some((s) => s.kind === 'video' || s.kind === 'unknown')) return undefined;
  const list = streams.map((s) => `${s.codec ?? s.kind} (0x${s.streamType.toString(16).padStart(2, '0')})`).join(', ') || 'none';
  return `no video: the MPEG-TS program has no video stream (streams: ${list}); livepipe needs a video track to build the ladder`;
}
