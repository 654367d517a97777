/**
 * Raw AAC-LC frames of 1024 samples of digital silence, by channel configuration: one SCE (mono) or
 * CPE (stereo) with no scale-factor bands, then END — the same bytes hls.js inserts for missing
 * audio (`AAC.getSilentFrame`). The sample rate is not coded in a raw frame, so one frame serves
 * every rate; its duration is 1024 samples at the stream's rate. Decoded by ffmpeg as digital silence
 * (checked in test/unit/ingest/input-outage-fill.test.ts).
 */
const SILENT_AAC_LC: Record<number, Uint8Array> = {
  1: Uint8Array.from([0x00, 0xc8, 0x00, 0x80, 0x23, 0x80]),
  2: Uint8Array.from([0x21, 0x00, 0x49, 0x90, 0x02, 0x19, 0x00, 0x23, 0x80]),
};

/** Samples in one AAC-LC frame. */
export const AAC_FRAME_SAMPLES = 1024;

/** A silent raw AAC-LC frame for `channels` (1 or 2), or undefined for any other layout. */
export function silentAacLcFrame(channels: number): Uint8Array | undefined {
  return SILENT_AAC_LC[channels];
}
