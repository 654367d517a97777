import { describe, expect, it } from 'vitest';
import {
  FLV_DECLARED_AUDIO_ONLY_DEADLINE_MS,
  FLV_VIDEO_DEADLINE_MS,
  flvDeclaredStreams,
  flvNoVideoReason,
  flvVideoDeadlineMs,
  tsNoVideoReason,
  type TsElementaryStream,
} from '../../../src/ingest/video-presence.js';

describe('FLV video presence', () => {
  it.each([
    // What ffmpeg's FLV muxer writes for an audio-only output, and for audio + video.
    [{ duration: 0, audiocodecid: 10, audiosamplerate: 48000 }, { video: false, audio: true }],
    [{ width: 640, height: 360, videocodecid: 7, audiocodecid: 10 }, { video: true, audio: true }],
    // OBS writes codec ids as numbers; Enhanced RTMP as FourCC numbers or strings.
    [{ videocodecid: 'avc1', audiocodecid: 'mp4a' }, { video: true, audio: true }],
    [{ hasVideo: true, hasAudio: false }, { video: true, audio: false }],
    [{}, { video: false, audio: false }],
  ])('reads %o as %o', (metadata, declared) => {
    expect(flvDeclaredStreams(metadata)).toEqual(declared);
  });

  it('waits less when the metadata declares audio only', () => {
    expect(flvVideoDeadlineMs({ video: false, audio: true })).toBe(FLV_DECLARED_AUDIO_ONLY_DEADLINE_MS);
    expect(flvVideoDeadlineMs({ video: true, audio: true })).toBe(FLV_VIDEO_DEADLINE_MS);
    expect(flvVideoDeadlineMs({ video: false, audio: false })).toBe(FLV_VIDEO_DEADLINE_MS);
    expect(flvVideoDeadlineMs(undefined)).toBe(FLV_VIDEO_DEADLINE_MS);
    expect(FLV_DECLARED_AUDIO_ONLY_DEADLINE_MS).toBeLessThan(FLV_VIDEO_DEADLINE_MS);
  });

  it('says what happened in the refusal', () => {
    expect(flvNoVideoReason({ video: false, audio: true }, 1000)).toBe(
      'no video: the publisher sent 1 s of audio and no video (its metadata declares audio only); livepipe needs a video track to build the ladder',
    );
    expect(flvNoVideoReason(undefined, 3000)).toBe('no video: the publisher sent 3 s of audio and no video; livepipe needs a video track to build the ladder');
  });
});

describe('MPEG-TS video presence', () => {
  const stream = (streamType: number, kind: TsElementaryStream['kind'], codec?: string): TsElementaryStream => ({ pid: 0x100, streamType, kind, ...(codec ? { codec } : {}) });

  it.each([
    [[stream(0x1b, 'video', 'h264'), stream(0x0f, 'audio', 'aac')], undefined],
    [[stream(0x90, 'unknown')], undefined], // could be video: the transcoder's probe decides
    [[stream(0x0f, 'audio', 'aac'), stream(0x90, 'unknown')], undefined],
    [[stream(0x0f, 'audio', 'aac')], 'no video: the MPEG-TS program has no video stream (streams: aac (0x0f)); livepipe needs a video track to build the ladder'],
    [[stream(0x06, 'data', 'private data')], 'no video: the MPEG-TS program has no video stream (streams: private data (0x06)); livepipe needs a video track to build the ladder'],
    [[], 'no video: the MPEG-TS program has no video stream (streams: none); livepipe needs a video track to build the ladder'],
  ])('%o → %s', (streams, reason) => {
    expect(tsNoVideoReason(streams)).toBe(reason);
  });
});
