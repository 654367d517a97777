import { describe, expect, it } from 'vitest';
import type { IngestCue } from '../../../src/ingest/ingest-feed.js';
import { MAX_SPLICE_DISTANCE_MS, TsCueReader, spliceInstant } from '../../../src/ingest/ts-cue-reader.js';
import type { TsProgramStreams } from '../../../src/ingest/ts-program-info.js';

/** ANSI/SCTE 35 §14.2 sample: time_signal at PTS 0x72BD0050 with a placement opportunity start (0x34). */
const SIGNAL = Buffer.from('/DA0AAAAAAAA///wBQb+cr0AUAAeAhxDVUVJSAAAjn/PAAGlmbAICAAAAAAsoKGKNAIAmsnRfg==', 'base64');
const PID = 0x102;

/** A clock where PTS 0 arrived at epoch 1_000_000 ms and time runs at the media rate. */
const clock = { arrivalOf: (pts: number) => 1_000_000 + pts / 90 };

/** The section as ffmpeg 5.1's TS muxer passes SCTE-35 on: one private_stream_1 PES with a PTS. */
function pesPacket(section: Buffer, pts: number, cc = 0): Buffer {
  const header = Buffer.alloc(14);
  header.writeUIntBE(0x000001, 0, 3);
  header[3] = 0xbd;
  header.writeUInt16BE(3 + 5 + section.length, 4);
  header[6] = 0x80;
  header[7] = 0x80; // PTS only
  header[8] = 5;
  header[9] = 0x21 | ((Math.floor(pts / 2 ** 30) & 0x07) << 1);
  header.writeUInt16BE((((pts >> 15) & 0x7fff) << 1) | 1, 10);
  header.writeUInt16BE(((pts & 0x7fff) << 1) | 1, 12);
  const payload = Buffer.concat([header, section]);
  const p = Buffer.alloc(188, 0xff);
  p[0] = 0x47;
  p[1] = 0x40 | (PID >> 8);
  p[2] = PID & 0xff;
  // Adaptation field stuffing so the PES ends exactly at the packet's end.
  const stuffing = 184 - payload.length;
  p[3] = 0x30 | cc;
  p[4] = stuffing - 1;
  if (stuffing > 1) p[5] = 0;
  payload.copy(p, 4 + stuffing);
  return p;
}

describe('spliceInstant', () => {
  const now = 1_000_000 + 0x72bd0050 / 90 - 4000; // 4 s before the sample's splice frame arrives
  it('a splice time maps onto the arrival clock (pre-roll kept)', () => expect(spliceInstant(0x72bd0050, undefined, clock, now)).toBeCloseTo(now + 4000, 6));
  it('immediate: the PES PTS the section came with', () => expect(spliceInstant(undefined, 0x72bd0050 - 90_000, clock, now)).toBeCloseTo(now + 3000, 6));
  it('immediate without a PES PTS: now', () => expect(spliceInstant(undefined, undefined, clock, now)).toBe(now));
  it('before any frame was seen: now', () => expect(spliceInstant(0x72bd0050, undefined, { arrivalOf: () => undefined }, now)).toBe(now));
  it('a splice time further than the limit is not trusted', () => expect(spliceInstant(0x72bd0050, undefined, clock, now - MAX_SPLICE_DISTANCE_MS - 5000)).toBe(now - MAX_SPLICE_DISTANCE_MS - 5000));
  it('a feed shifted by the publisher\'s start time: the splice time is shifted alike', () => {
    // The publisher's clock ran an hour ahead of the feed's (its first timestamp, which the listener took off).
    const hour = 3600 * 90_000;
    expect(spliceInstant(0x72bd0050 + hour, undefined, clock, now, hour)).toBeCloseTo(now + 4000, 6);
    // Unshifted, the same section would land an hour away: not trusted, placed now.
    expect(spliceInstant(0x72bd0050 + hour, undefined, clock, now)).toBe(now);
  });
  it('the shift wraps with the 33-bit clock', () => {
    const start = 2 ** 33 - 90_000; // the publisher's clock 1 s before its wrap
    expect(spliceInstant((0x72bd0050 + start) % 2 ** 33, undefined, clock, now, start)).toBeCloseTo(now + 4000, 6);
  });
  it('an immediate splice\'s PES PTS is already in the feed\'s clock: not shifted', () => {
    expect(spliceInstant(undefined, 0x72bd0050 - 90_000, clock, now, 3600 * 90_000)).toBeCloseTo(now + 3000, 6);
  });
});

describe('TsCueReader', () => {
  const streams = (streamType: number, kind: 'data' | 'unknown'): TsProgramStreams => ({ all: [{ pid: PID, streamType, kind }] });

  it('reads a section from a private-data PES (the SRT listener\'s remux) and dates its splice', () => {
    const cues: IngestCue[] = [];
    const now = 1_000_000 + 0x72bd0050 / 90 - 4000;
    const reader = new TsCueReader(clock, (c) => cues.push(c), undefined, () => now);
    reader.push(pesPacket(SIGNAL, 0x72bd0050 - 4 * 90_000), streams(0x06, 'data'));
    expect(cues).toHaveLength(1);
    expect(cues[0]).toMatchObject({ kind: 'out', eventId: 0x4800008e, source: 'scte35' });
    expect(cues[0]!.at).toBeCloseTo(now + 4000, 6);
    expect(Buffer.from(cues[0]!.section!).equals(SIGNAL)).toBe(true);
  });

  it('other private data on a PES PID is ignored without an error; a registered (non-data) stream is not read', () => {
    const cues: IngestCue[] = [];
    const errors: string[] = [];
    const reader = new TsCueReader(clock, (c) => cues.push(c), (_pid, reason) => errors.push(reason));
    reader.push(pesPacket(Buffer.from('KLV or ID3 bytes, not a section'), 90_000), streams(0x06, 'data'));
    reader.push(pesPacket(SIGNAL, 90_000, 1), streams(0x06, 'unknown'));
    expect(cues).toEqual([]);
    expect(errors).toEqual([]);
  });
});
