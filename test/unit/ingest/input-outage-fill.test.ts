import { describe, expect, it } from 'vitest';
import { silentAudioFor } from '../../../src/ingest/input-outage-fill.js';

/** An FLV AAC sequence header: 0xAF (AAC, 44 kHz flag, 16-bit, stereo flag), packet type 0, AudioSpecificConfig. */
const header = (objectType: number, rateIndex: number, channels: number) => {
  const config = (objectType << 11) | (rateIndex << 7) | (channels << 3);
  return Buffer.from([0xaf, 0, config >> 8, config & 0xff]);
};

describe('silentAudioFor', () => {
  it.each([
    ['AAC-LC stereo 48 kHz', header(2, 3, 2), [0x21, 0x00, 0x49, 0x90, 0x02, 0x19, 0x00, 0x23, 0x80], 1024 / 48],
    ['AAC-LC mono 44.1 kHz', header(2, 4, 1), [0x00, 0xc8, 0x00, 0x80, 0x23, 0x80], (1024 * 1000) / 44100],
  ])('gives a silent raw frame for %s, as an FLV audio body, and its duration', (_name, sequenceHeader, frame, frameMs) => {
    const silence = silentAudioFor(sequenceHeader)!;
    expect([...silence.body]).toEqual([0xaf, 1, ...frame]);
    expect(silence.frameMs).toBeCloseTo(frameMs, 9);
  });

  it.each([
    ['HE-AAC', header(5, 3, 2)],
    ['5.1 channels', header(2, 3, 6)],
    ['a reserved sample rate index', header(2, 13, 2)],
    ['an AAC frame, not a sequence header', Buffer.from([0xaf, 1, 0x11, 0x90])],
    ['MP3', Buffer.from([0x2f, 0, 0x11, 0x90])],
    ['a truncated header', Buffer.from([0xaf, 0, 0x11])],
  ])('gives nothing for %s (no fill)', (_name, sequenceHeader) => {
    expect(silentAudioFor(sequenceHeader)).toBeUndefined();
  });
});
