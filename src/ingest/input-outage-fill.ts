/**
 * What the input selector writes while a switch after a lost input waits for the encoder's next
 * forced-keyframe time: silent AAC frames, so that the audio output has no hole, and the old
 * input's last keyframe repeated, so that the encoder's output keeps moving with the clock (its
 * constant-frame-rate video only advances when a frame arrives).
 *
 * An audio hole is what stalled hls.js for good when such switches first waited for the grid: the
 * video output had no hole (the constant-frame-rate encoder fills one with repeated frames), the
 * audio output did, and hls.js skips a buffered-range hole larger than `maxBufferHole` (0.1 s) only
 * when the fragments around it were partly appended — here they were whole, so it waited forever.
 */

import { AAC_FRAME_SAMPLES, silentAacLcFrame } from '../mp4/silent-aac.js';

/** AAC-LC audio object type (ISO/IEC 14496-3 Table 1.1). */
const AAC_LC = 2;
/** ISO/IEC 14496-3 Table 1.18, indexed by samplingFrequencyIndex. */
const SAMPLE_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

export interface SilentAudio {
  /** The FLV audio tag body of one silent frame (the sequence header's first byte, packet type 1, the frame). */
  body: Buffer;
  /** Its duration, ms (1024 samples). */
  frameMs: number;
}

/**
 * A silent frame for the stream an FLV AAC sequence header (`0xAF 0x00` + AudioSpecificConfig)
 * describes, or undefined when it is not AAC-LC mono or stereo (no fill: the hole stays).
 */
export function silentAudioFor(sequenceHeader: Buffer): SilentAudio | undefined {
  if (sequenceHeader.length < 4 || sequenceHeader[0]! >> 4 !== 10 || sequenceHeader[1] !== 0) return undefined;
  const config = sequenceHeader.readUInt16BE(2);
  const objectType = config >> 11;
  const rateIndex = (config >> 7) & 0x0f;
  const channels = (config >> 3) & 0x0f;
  const frame = silentAacLcFrame(channels);
  const rate = SAMPLE_RATES[rateIndex];
  if (objectType !== AAC_LC || frame === undefined || rate === undefined) return undefined;
  return { body: Buffer.concat([Buffer.from([sequenceHeader[0]!, 1]), frame]), frameMs: (AAC_FRAME_SAMPLES * 1000) / rate };
}
