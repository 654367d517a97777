import { describe, expect, it } from 'vitest';
import { ArrivalClock, tsDelta } from '../../../src/ingest/arrival-clock.js';
import { pesDecodeTimestamp, pesPresentationTimestamp } from '../../../src/ingest/ts-program-info.js';

/** 5-byte PES timestamp field with marker bits (ISO/IEC 13818-1 §2.4.3.7). */
function timestampField(prefix: number, ts: number): number[] {
  const hi = Math.floor(ts / 2 ** 30) & 0x07;
  const mid = Math.floor(ts / 2 ** 15) & 0x7fff;
  const lo = ts & 0x7fff;
  return [(prefix << 4) | (hi << 1) | 1, mid >> 7, ((mid & 0x7f) << 1) | 1, lo >> 7, ((lo & 0x7f) << 1) | 1];
}

/** One TS packet starting a video PES on PID 0x100 with the given PTS (and DTS). */
function pesStart(pts: number, dts?: number, adaptation = false): Buffer {
  const p = Buffer.alloc(188, 0xff);
  p[0] = 0x47;
  p[1] = 0x40 | 0x01;
  p[2] = 0x00;
  let i = 4;
  if (adaptation) {
    p[3] = 0x30;
    p[4] = 7; // adaptation_field_length
    p[5] = 0x40; // random_access_indicator
    i = 4 + 1 + 7;
  } else {
    p[3] = 0x10;
  }
  const header = [0, 0, 1, 0xe0, 0, 0, 0x80, dts === undefined ? 0x80 : 0xc0, dts === undefined ? 5 : 10];
  const fields = dts === undefined ? timestampField(2, pts) : [...timestampField(3, pts), ...timestampField(1, dts)];
  Buffer.from([...header, ...fields]).copy(p, i);
  return p;
}

describe('tsDelta', () => {
  it.each([
    [0, 90_000, 90_000],
    [90_000, 0, -90_000],
    [2 ** 33 - 900, 900, 1800], // across the 33-bit wrap
    [900, 2 ** 33 - 900, -1800],
  ])('%d → %d is %d ticks', (a, b, d) => {
    expect(tsDelta(a, b)).toBe(d);
  });
});

describe('pesDecodeTimestamp', () => {
  it('reads the PTS when there is no DTS', () => {
    expect(pesDecodeTimestamp(pesStart(123_456_789), 0)).toBe(123_456_789);
  });

  it('prefers the DTS (decode order is arrival order)', () => {
    expect(pesDecodeTimestamp(pesStart(2 ** 32 + 3003, 2 ** 32), 0)).toBe(2 ** 32);
  });

  it('skips an adaptation field', () => {
    expect(pesDecodeTimestamp(pesStart(8_589_934_000, undefined, true), 0)).toBe(8_589_934_000);
  });

  it('returns undefined for a packet that starts no PES', () => {
    const p = pesStart(1000);
    p[1] = 0x01; // payload_unit_start_indicator cleared
    expect(pesDecodeTimestamp(p, 0)).toBeUndefined();
    const q = pesStart(1000);
    q[4] = 0x12; // no 00 00 01 start code
    expect(pesDecodeTimestamp(q, 0)).toBeUndefined();
  });
});

describe('pesPresentationTimestamp', () => {
  // A B-frame source's P picture: presented 3 frames (9009 ticks) after it is decoded. The keyframe
  // marking chooses the picture by this (its grid points are presentation times): the DTS here
  // would put a mark 1–3 frames off (test/integration/transcode/bframe-keyframe-marks.test.ts).
  it('reads the PTS of a PES that carries both, not its DTS', () => {
    expect(pesPresentationTimestamp(pesStart(900_000 + 9009, 900_000), 0)).toBe(909_009);
    expect(pesDecodeTimestamp(pesStart(900_000 + 9009, 900_000), 0)).toBe(900_000);
  });

  it('reads the PTS with 33 bits (above 2^32) and after an adaptation field', () => {
    expect(pesPresentationTimestamp(pesStart(2 ** 33 - 1, 2 ** 32, true), 0)).toBe(2 ** 33 - 1);
  });

  it('reads the PTS when there is no DTS; undefined when the packet starts no PES', () => {
    expect(pesPresentationTimestamp(pesStart(123_456_789), 0)).toBe(123_456_789);
    const p = pesStart(1000, 900);
    p[1] = 0x01;
    expect(pesPresentationTimestamp(p, 0)).toBeUndefined();
  });
});

describe('ArrivalClock', () => {
  it('dates frames flowing live at the moment they were seen', () => {
    const clock = new ArrivalClock();
    for (let f = 0; f < 30; f++) clock.observe(f * 3000, 1_000_000 + (f * 1000) / 30);
    expect(clock.arrivalOf(0)).toBeCloseTo(1_000_000, 6);
    expect(clock.arrivalOf(15 * 3000)).toBeCloseTo(1_000_500, 6);
  });

  it('dates the frames of a probe burst back to when they flowed in', () => {
    // The listener held one second of media, then flushed it at t = 2,000,000 and went on live.
    const clock = new ArrivalClock();
    for (let f = 0; f < 30; f++) clock.observe(f * 3000, 2_000_000 + f * 0.1);
    for (let f = 30; f < 60; f++) clock.observe(f * 3000, 2_000_000 + ((f - 29) * 1000) / 30);
    // Frame 0 really arrived about one second before the burst.
    expect(clock.arrivalOf(0)).toBeCloseTo(2_000_000 - 1000 + 1000 / 30, 3);
  });

  it('never dates a seen frame later than when it was seen', () => {
    const clock = new ArrivalClock();
    clock.observe(0, 5000);
    clock.observe(90_000, 5100); // a second of media arrived 100 ms later: a burst
    expect(clock.arrivalOf(90_000)).toBeLessThanOrEqual(5100);
    expect(clock.arrivalOf(0)).toBe(4100);
  });

  it('knows nothing before the first frame', () => {
    expect(new ArrivalClock().arrivalOf(0)).toBeUndefined();
  });
});
