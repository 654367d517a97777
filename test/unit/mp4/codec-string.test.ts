import { describe, expect, it } from 'vitest';
import { ErrorCode, isLivepipeError } from '../../../src/core/errors.js';
import { codecString, parseEsds } from '../../../src/mp4/codec-string.js';
import type { SampleEntry } from '../../../src/mp4/mp4-boxes.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s/g, ''), 'hex'));

function entry(format: string, box: string, payload: Uint8Array): SampleEntry {
  return { format, children: [{ type: box, offset: 0, size: payload.byteLength + 8, payload }] };
}

/** esds FullBox around a DecoderConfigDescriptor with the given object type and AudioSpecificConfig. */
function esds(objectType: number, asc: Uint8Array): Uint8Array {
  const dsi = [0x05, asc.byteLength, ...asc];
  const dcd = [0x04, 13 + dsi.length, objectType, 0x15, 0, 0, 0, 0, 0, 0x01, 0xf4, 0, 0, 0x01, 0xf4, ...dsi];
  // ES_Descriptor with a 4-byte expandable length, as ffmpeg writes it (0x80 0x80 0x80 n).
  const es = [0x03, 0x80, 0x80, 0x80, 3 + dcd.length, 0x00, 0x01, 0x00, ...dcd];
  return Uint8Array.from([0, 0, 0, 0, ...es]);
}

describe('codecString', () => {
  const table: Array<{ name: string; entry: SampleEntry; expected: string; channels?: number }> = [
    { name: 'H.264 High 3.1', entry: entry('avc1', 'avcC', hex('01 64 00 1f ff e1')), expected: 'avc1.64001f' },
    { name: 'H.264 Constrained Baseline 1.3', entry: entry('avc1', 'avcC', hex('01 42 c0 0d ff e1')), expected: 'avc1.42c00d' },
    { name: 'H.264 in-band parameter sets', entry: entry('avc3', 'avcC', hex('01 4d 40 28 ff e1')), expected: 'avc3.4d4028' },
    // hvcC bytes of a libx265 Main encode by ffmpeg 5.1
    { name: 'HEVC Main', entry: entry('hvc1', 'hvcC', hex('0101600000009000000000003cf000fcfdf8f800000f04')), expected: 'hvc1.1.6.L60.90' },
    { name: 'HEVC Main 10, high tier', entry: entry('hev1', 'hvcC', hex('01 22 20000000 b00000000000 99 f000')), expected: 'hev1.2.4.H153.B0' },
    { name: 'AAC-LC stereo', entry: entry('mp4a', 'esds', esds(0x40, hex('1210'))), expected: 'mp4a.40.2', channels: 2 },
    { name: 'HE-AAC', entry: entry('mp4a', 'esds', esds(0x40, hex('2990'))), expected: 'mp4a.40.5', channels: 2 },
    { name: 'escaped object type (USAC)', entry: entry('mp4a', 'esds', esds(0x40, hex('f94640'))), expected: 'mp4a.40.42', channels: 2 },
    { name: 'MP3 in MP4', entry: entry('mp4a', 'esds', esds(0x6b, new Uint8Array(0))), expected: 'mp4a.6B' },
    { name: 'Opus', entry: { format: 'Opus', children: [] }, expected: 'opus' },
  ];
  for (const c of table) {
    it(c.name, () => {
      expect(codecString(c.entry)).toBe(c.expected);
      if (c.channels !== undefined) expect(parseEsds(c.entry.children[0]!.payload).channels).toBe(c.channels);
    });
  }

  it('rejects a truncated or missing configuration with MediaMalformed', () => {
    const bad = [
      entry('avc1', 'avcC', hex('01 64')),
      { format: 'avc1', children: [] },
      entry('mp4a', 'esds', hex('00000000 04 02 40 15')),
      entry('hvc1', 'hvcC', hex('01 01 60')),
    ];
    for (const e of bad) {
      let error: unknown;
      try {
        codecString(e);
      } catch (err) {
        error = err;
      }
      expect(isLivepipeError(error, ErrorCode.MediaMalformed)).toBe(true);
    }
  });
});
