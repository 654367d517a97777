import { afterEach, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import type { Readable } from 'node:stream';
import { TS_PACKET_SIZE, TsFanout, TsPacketAligner, isPatStart } from '../../../src/ingest/ts-fanout.js';
import { firstFrameArrivedAt } from '../../../src/core/media-clock.js';

function packet(pid: number, pusi: boolean, fill: number): Buffer {
  const p = Buffer.alloc(TS_PACKET_SIZE, fill);
  p[0] = 0x47;
  p[1] = (pusi ? 0x40 : 0) | ((pid >> 8) & 0x1f);
  p[2] = pid & 0xff;
  p[3] = 0x10;
  return p;
}

function read(stream: Readable): Buffer {
  const chunks: Buffer[] = [];
  let c: Buffer | null;
  while ((c = stream.read() as Buffer | null) !== null) chunks.push(c);
  return Buffer.concat(chunks);
}

describe('TsPacketAligner', () => {
  it('reassembles packets split anywhere', () => {
    const packets = Array.from({ length: 20 }, (_, i) => packet(0x100, i % 5 === 0, i));
    const stream = Buffer.concat(packets);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 10 }), (cuts) => {
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const aligner = new TsPacketAligner();
        const out: Buffer[] = [];
        let prev = 0;
        for (const p of [...points, stream.length]) {
          const got = aligner.push(stream.subarray(prev, p));
          expect(got.length % TS_PACKET_SIZE).toBe(0);
          out.push(got);
          prev = p;
        }
        expect(Buffer.concat(out).equals(stream)).toBe(true);
      }),
    );
  });

  it('resynchronises after garbage', () => {
    const aligner = new TsPacketAligner();
    const good = Buffer.concat([packet(1, true, 1), packet(1, false, 2), packet(1, false, 3)]);
    const out = aligner.push(Buffer.concat([Buffer.from([1, 2, 3, 0x47, 9]), good]));
    expect(out.equals(good)).toBe(true);
    expect(aligner.discarded).toBe(5);
  });
});

/** PAT naming program 1 at PMT PID 0x1000. */
function pat(): Buffer {
  const p = Buffer.alloc(TS_PACKET_SIZE, 0xff);
  Buffer.from([0x47, 0x40, 0x00, 0x10, 0x00, 0x00, 0xb0, 0x0d, 0x00, 0x01, 0xc1, 0x00, 0x00, 0x00, 0x01, 0xf0, 0x00, 0, 0, 0, 0]).copy(p);
  return p;
}
/** PMT: H.264 on PID 0x100, AAC (ADTS) on PID 0x101. */
function pmt(): Buffer {
  const p = Buffer.alloc(TS_PACKET_SIZE, 0xff);
  Buffer.from([
    0x47, 0x50, 0x00, 0x10, 0x00,
    0x02, 0xb0, 0x17, 0x00, 0x01, 0xc1, 0x00, 0x00, 0xe1, 0x00, 0xf0, 0x00,
    0x1b, 0xe1, 0x00, 0xf0, 0x00,
    0x0f, 0xe1, 0x01, 0xf0, 0x00,
    0, 0, 0, 0,
  ]).copy(p);
  return p;
}
/** A video PES start on PID 0x100; keyframes carry random_access_indicator in an adaptation field. */
function video(key: boolean, tag: number): Buffer {
  const p = Buffer.alloc(TS_PACKET_SIZE, tag);
  p[0] = 0x47;
  p[1] = 0x41;
  p[2] = 0x00;
  p[3] = key ? 0x30 : 0x10;
  if (key) {
    p[4] = 1;
    p[5] = 0x40;
  }
  return p;
}
const tagOf = (b: Buffer, i: number) => b[i * TS_PACKET_SIZE + 100];

/** A video PES start carrying a PTS (90 kHz, < 2^30 for brevity). */
function timedVideo(key: boolean, pts: number): Buffer {
  const p = video(key, 0);
  const at = key ? 6 : 4;
  const hi = Math.floor(pts / 2 ** 15);
  const lo = pts & 0x7fff;
  Buffer.from([0, 0, 1, 0xe0, 0, 0, 0x80, 0x80, 5, 0x21, hi >> 7, ((hi & 0x7f) << 1) | 1, lo >> 7, ((lo & 0x7f) << 1) | 1]).copy(p, at);
  return p;
}

describe('TsFanout with keyframe-marked video', () => {
  it('reads the codecs from the PMT', () => {
    const f = new TsFanout();
    f.push(Buffer.concat([pat(), pmt()]));
    expect(f.programStreams).toMatchObject({ video: { codec: 'h264', pid: 0x100 }, audio: { codec: 'aac', pid: 0x101 } });
  });

  it('starts a late consumer at the PAT before the latest keyframe', () => {
    const f = new TsFanout();
    f.push(Buffer.concat([pat(), pmt(), video(true, 1), video(false, 2), pat(), pmt(), video(false, 3)]));
    f.push(Buffer.concat([pat(), pmt(), video(true, 4), video(false, 5), pat(), pmt(), video(false, 6)]));
    const got = read(f.open());
    expect(got.length).toBe(7 * TS_PACKET_SIZE);
    expect(isPatStart(got)).toBe(true);
    expect([2, 3, 6].map((i) => tagOf(got, i))).toEqual([4, 5, 6]);
    expect(f.cachedBytes).toBe(7 * TS_PACKET_SIZE);
  });

  it('makes a consumer with nothing cached wait for the next keyframe group, not just any PAT', () => {
    // A consumer that lags past a tiny bound must rejoin; marking was seen, so it rejoins at a keyframe group.
    const g = new TsFanout({ maxConsumerBufferBytes: 2 * TS_PACKET_SIZE });
    g.push(Buffer.concat([pat(), pmt(), video(true, 1)]));
    const c = g.open(); // gets the cached group (3 packets) -> over the bound: will skip
    g.push(Buffer.concat([video(false, 2), pat(), pmt(), video(false, 3)]));
    read(c);
    g.push(Buffer.concat([video(false, 4), pat(), pmt(), video(true, 5), video(false, 6)]));
    const got = read(c);
    expect(got.length).toBe(4 * TS_PACKET_SIZE);
    expect(isPatStart(got)).toBe(true);
    expect([2, 3].map((i) => tagOf(got, i))).toEqual([5, 6]);
  });

  it('dates a keyframe flushed in a burst back to when its media flowed in, not to the burst', () => {
    // The SRT listener probes ~1 s, then writes what it held at once: the keyframe at PTS 0 came in
    // a second before the burst that carries frames up to PTS 1 s.
    const f = new TsFanout();
    const before = Date.now();
    f.push(Buffer.concat([pat(), pmt(), timedVideo(true, 0), ...Array.from({ length: 30 }, (_, i) => timedVideo(false, (i + 1) * 3000))]));
    const stamp = firstFrameArrivedAt(f.open());
    expect(stamp).toBeDefined();
    expect(stamp!).toBeLessThanOrEqual(before - 900);
    expect(stamp!).toBeGreaterThan(before - 1100);
  });

  it('dates a keyframe that flows live at the moment it arrives', () => {
    const f = new TsFanout();
    const before = Date.now();
    f.push(Buffer.concat([pat(), pmt(), timedVideo(true, 0)]));
    const after = Date.now();
    const stamp = firstFrameArrivedAt(f.open())!;
    expect(stamp).toBeGreaterThanOrEqual(before);
    expect(stamp).toBeLessThanOrEqual(after);
  });

  it('drops an oversized keyframe group from the cache', () => {
    const f = new TsFanout({ maxGopCacheBytes: 5 * TS_PACKET_SIZE });
    f.push(Buffer.concat([pat(), pmt(), video(true, 1)]));
    expect(f.cachedBytes).toBe(3 * TS_PACKET_SIZE);
    f.push(Buffer.concat([video(false, 2), video(false, 2), video(false, 2)]));
    expect(f.cachedBytes).toBe(0);
  });
});

/** An audio PES start on PID 0x101 carrying a PTS (90 kHz, < 2^30). */
function timedAudio(pts: number): Buffer {
  const p = Buffer.alloc(TS_PACKET_SIZE, 0);
  p[0] = 0x47;
  p[1] = 0x41;
  p[2] = 0x01;
  p[3] = 0x10;
  const hi = Math.floor(pts / 2 ** 15);
  const lo = pts & 0x7fff;
  Buffer.from([0, 0, 1, 0xc0, 0, 0, 0x80, 0x80, 5, 0x21, hi >> 7, ((hi & 0x7f) << 1) | 1, lo >> 7, ((lo & 0x7f) << 1) | 1]).copy(p, 4);
  return p;
}

describe('TsFanout audio delay', () => {
  afterEach(() => vi.useRealTimers());

  /**
   * 3 s of 30 fps video flowing live, and its audio (21.3 ms AAC frames) sent as the publisher's
   * muxer packs it: `framesPerPes` frames per PES, each PES sent once its last frame is due.
   */
  function publishLive(framesPerPes: number): TsFanout {
    vi.useFakeTimers({ toFake: ['Date'] });
    const start = 1_800_000_000_000;
    const f = new TsFanout();
    const events: Array<{ at: number; packet: Buffer }> = [{ at: start, packet: Buffer.concat([pat(), pmt()]) }];
    for (let i = 0; i < 90; i++) events.push({ at: start + (i * 1000) / 30, packet: timedVideo(i % 30 === 0, i * 3000) });
    for (let first = 0; first < 140; first += framesPerPes) {
      const last = first + framesPerPes - 1;
      events.push({ at: start + ((last + 1) * 1024 * 1000) / 48_000, packet: timedAudio(Math.round((first * 1024 * 90_000) / 48_000)) });
    }
    for (const e of events.sort((a, b) => a.at - b.at)) {
      vi.setSystemTime(e.at);
      f.push(e.packet);
    }
    return f;
  }

  it('measures how long after its video a packed audio PES arrives', () => {
    // ffmpeg's default: ~2.9 KB per PES, 17 frames of 64 kbit/s AAC (0.36 s).
    const f = publishLive(17);
    expect(f.audioDelayMs()).toBeGreaterThan(340);
    expect(f.audioDelayMs()).toBeLessThan(380);
  });

  it('reads about one audio frame for a publisher that sends every frame in its own PES', () => {
    const f = publishLive(1);
    expect(f.audioDelayMs()).toBeLessThanOrEqual(25);
  });

  it('reports nothing for a feed without audio', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const f = new TsFanout();
    f.push(Buffer.concat([pat(), pmt(), timedVideo(true, 0)]));
    expect(f.audioDelayMs()).toBeUndefined();
  });
});

describe('TsFanout', () => {
  it('starts every consumer at a PAT, then passes everything', () => {
    const f = new TsFanout();
    const early = f.open();
    f.push(Buffer.concat([packet(0x100, false, 1), packet(0, true, 2), packet(0x1000, true, 3)]));
    const late = f.open();
    f.push(Buffer.concat([packet(0x100, true, 4), packet(0, true, 5), packet(0x100, false, 6)]));
    const e = read(early);
    const l = read(late);
    expect(e.length).toBe(5 * TS_PACKET_SIZE);
    expect(isPatStart(e)).toBe(true);
    expect(e[4]).toBe(2);
    expect(l.length).toBe(2 * TS_PACKET_SIZE);
    expect(isPatStart(l)).toBe(true);
    expect(l[4]).toBe(5);
  });

  it('makes a lagging consumer skip to the next PAT', () => {
    const f = new TsFanout({ maxConsumerBufferBytes: 10 * TS_PACKET_SIZE });
    const c = f.open();
    f.push(packet(0, true, 0));
    for (let i = 0; i < 30; i++) f.push(packet(0x100, false, 1));
    expect(c.readableLength).toBeLessThanOrEqual(12 * TS_PACKET_SIZE);
    read(c);
    f.push(packet(0x100, false, 7));
    f.push(packet(0, true, 8));
    const after = read(c);
    expect(after.length).toBe(TS_PACKET_SIZE);
    expect(after[4]).toBe(8);
  });

  it('ends consumers', async () => {
    const f = new TsFanout();
    const c = f.open();
    const ended = new Promise((r) => c.on('end', r));
    c.resume();
    f.end();
    await ended;
    expect(f.consumerCount).toBe(0);
  });
});
