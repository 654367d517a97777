import { describe, expect, it } from 'vitest';
import { ErrorCode, isLivepipeError } from '../../../src/core/errors.js';
import { parseFfprobeJson, parseRational } from '../../../src/transcode/input-probe.js';

describe('parseFfprobeJson', () => {
  it('extracts video, audio and duration', () => {
    const json = JSON.stringify({
      streams: [
        { codec_type: 'video', codec_name: 'h264', width: 1920, height: 1080, avg_frame_rate: '30000/1001', r_frame_rate: '30000/1001' },
        { codec_type: 'audio', codec_name: 'aac', channels: 2, sample_rate: '48000' },
      ],
      format: { duration: '12.5' },
    });
    expect(parseFfprobeJson(json, 'in')).toEqual({
      width: 1920,
      height: 1080,
      frameRate: 30000 / 1001,
      videoCodec: 'h264',
      hasAudio: true,
      audioCodec: 'aac',
      audioChannels: 2,
      audioSampleRate: 48_000,
      audioTracks: [{ index: 0, default: false, channels: 2 }],
      durationSec: 12.5,
    });
  });

  it('lists every decodable audio track with its language, title and default disposition (issue 17)', () => {
    const json = JSON.stringify({
      streams: [
        { codec_type: 'video', codec_name: 'h264', width: 640, height: 360, avg_frame_rate: '30/1' },
        { codec_type: 'audio', codec_name: 'aac', channels: 2, tags: { language: 'eng', title: 'Main' }, disposition: { default: 1 } },
        { codec_type: 'audio', codec_tag: '0x0000' },
        { codec_type: 'audio', codec_name: 'mp2', channels: 1, tags: { language: ' spa ' }, disposition: { default: 0 } },
      ],
    });
    expect(parseFfprobeJson(json, 'in').audioTracks).toEqual([
      { index: 0, language: 'eng', title: 'Main', default: true, channels: 2 },
      // index 1 has no decoder: left out, and 0:a:N keeps counting it
      { index: 2, language: 'spa', default: false, channels: 1 },
    ]);
  });

  it('notes CEA-608/708 captions the decoder saw (ffprobe closed_captions)', () => {
    const stream = { codec_type: 'video', codec_name: 'h264', width: 640, height: 360, avg_frame_rate: '30/1' };
    expect(parseFfprobeJson(JSON.stringify({ streams: [{ ...stream, closed_captions: 1 }] }), 'in').closedCaptions).toBe(true);
    expect(parseFfprobeJson(JSON.stringify({ streams: [{ ...stream, closed_captions: 0 }] }), 'in').closedCaptions).toBeUndefined();
  });

  it('uses r_frame_rate when avg is 0/0 and tolerates a live input without duration', () => {
    const json = JSON.stringify({ streams: [{ codec_type: 'video', codec_name: 'h264', width: 640, height: 360, avg_frame_rate: '0/0', r_frame_rate: '25/1' }], format: {} });
    expect(parseFfprobeJson(json, 'in')).toEqual({ width: 640, height: 360, frameRate: 25, videoCodec: 'h264', hasAudio: false });
  });

  it.each([
    ['audio only', JSON.stringify({ streams: [{ codec_type: 'audio', codec_name: 'mp3' }] }), /no video stream \(streams: audio\)/],
    ['no streams', JSON.stringify({}), /no video stream \(streams: none\)/],
    ['video without size', JSON.stringify({ streams: [{ codec_type: 'video', codec_name: 'h264' }] }), /no dimensions/],
    ['not JSON', 'Invalid data', /unreadable/],
    // What ffprobe 5.1 prints for an FLV video tag with codec id 15 (no decoder): no codec_name, size 0.
    [
      'a video codec without decoder',
      JSON.stringify({ streams: [{ codec_type: 'video', codec_tag: '0x000f', codec_tag_string: '[15][0][0][0]', width: 0, height: 0 }] }),
      /^in\.bin: video codec not supported: this ffmpeg has no decoder for it \(codec tag 0x000f\)$/,
    ],
    [
      'an audio codec without decoder',
      JSON.stringify({ streams: [{ codec_type: 'video', codec_name: 'h264', width: 64, height: 64 }, { codec_type: 'audio', codec_tag: '0x0000' }] }),
      /^in\.bin: audio codec not supported: this ffmpeg has no decoder for it$/,
    ],
  ])('refuses %s with InputUnusable', (_label, json, reason) => {
    let caught: unknown;
    try {
      parseFfprobeJson(json, 'in.bin');
    } catch (err) {
      caught = err;
    }
    expect(isLivepipeError(caught, ErrorCode.InputUnusable)).toBe(true);
    expect((caught as Error).message).toMatch(reason);
  });

  it('keeps an absurd frame rate as it is, for the input limits to refuse with the value', () => {
    const json = JSON.stringify({ streams: [{ codec_type: 'video', codec_name: 'h264', width: 128, height: 72, avg_frame_rate: '1000/1' }] });
    expect(parseFfprobeJson(json, 'in').frameRate).toBe(1000);
    const fast = JSON.stringify({ streams: [{ codec_type: 'video', codec_name: 'h264', width: 128, height: 72, avg_frame_rate: '90000/1' }] });
    expect(parseFfprobeJson(fast, 'in').frameRate).toBe(90_000);
  });

  it.each([
    ['30000/1001', 30000 / 1001],
    ['25/1', 25],
    ['0/0', 0],
    [undefined, 0],
    ['x/y', 0],
  ])('rational %s → %d', (text, value) => expect(parseRational(text)).toBeCloseTo(value, 9));
});
