import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, isLivepipeError } from '../../../src/core/errors.js';
import { Fmp4Reader, type Fmp4Event, type FragmentEvent } from '../../../src/mp4/fmp4-reader.js';
import { encodeLadderFixture, type LadderFixture } from '../../helpers/package/fixtures.js';

/** Reads a whole stream cut at the given offsets; returns the events or the error thrown. */
function readChunked(bytes: Uint8Array, cuts: number[]): { events: Fmp4Event[]; error?: unknown } {
  const reader = new Fmp4Reader();
  const events: Fmp4Event[] = [];
  const offsets = [...new Set(cuts.filter((c) => c > 0 && c < bytes.byteLength))].sort((a, b) => a - b);
  let at = 0;
  try {
    for (const cut of [...offsets, bytes.byteLength]) {
      events.push(...reader.push(bytes.subarray(at, cut)));
      at = cut;
    }
    reader.end();
    return { events };
  } catch (error) {
    return { events, error };
  }
}

/** Events without their byte arrays' identity: comparable across chunkings. */
function summary(events: Fmp4Event[]): unknown[] {
  return events.map((e) => ({ ...e, bytes: Buffer.from(e.bytes).toString('base64') }));
}

function fragments(events: Fmp4Event[]): FragmentEvent[] {
  return events.filter((e): e is FragmentEvent => e.type === 'fragment');
}

let ladder: LadderFixture;
let bframes: LadderFixture;

beforeAll(async () => {
  // 2 s of 30 fps video, keyframe every 30 frames, two sizes; AAC audio; and a B-frame variant.
  [ladder, bframes] = await Promise.all([
    encodeLadderFixture({ seconds: 2, sizes: ['320x180', '160x90'] }),
    encodeLadderFixture({ seconds: 1, sizes: ['160x90'], bframes: 2 }),
  ]);
});

describe('Fmp4Reader on ffmpeg output', () => {
  it('reads the init segment of each rendition', () => {
    const cases = [
      { bytes: () => ladder.video[0]!, handler: 'video', width: 320, height: 180, timescale: 15360, codec: /^avc1\.[0-9a-f]{6}$/ },
      { bytes: () => ladder.video[1]!, handler: 'video', width: 160, height: 90, timescale: 15360, codec: /^avc1\.[0-9a-f]{6}$/ },
      { bytes: () => ladder.audio, handler: 'audio', timescale: 48000, codec: /^mp4a\.40\.2$/ },
    ];
    for (const c of cases) {
      const { events, error } = readChunked(c.bytes(), []);
      expect(error).toBeUndefined();
      const init = events[0];
      expect(init?.type).toBe('init');
      if (init?.type !== 'init') return;
      expect(init.track.handler).toBe(c.handler);
      expect(init.track.timescale).toBe(c.timescale);
      expect(init.track.codecs).toMatch(c.codec);
      if (c.width) expect({ w: init.track.width, h: init.track.height }).toEqual({ w: c.width, h: c.height });
      else expect({ ch: init.track.channelCount, rate: init.track.sampleRate }).toEqual({ ch: 1, rate: 48000 });
      expect(init.track.codecConfig?.byteLength).toBeGreaterThan(0);
      // The init bytes are ftyp + moov, exactly.
      expect(Buffer.from(init.bytes.subarray(4, 8)).toString('latin1')).toBe('ftyp');
      const ftypSize = Buffer.from(init.bytes).readUInt32BE(0);
      expect(Buffer.from(init.bytes.subarray(ftypSize + 4, ftypSize + 8)).toString('latin1')).toBe('moov');
      expect(ftypSize + Buffer.from(init.bytes).readUInt32BE(ftypSize)).toBe(init.bytes.byteLength);
    }
  });

  it('reads one fragment per frame with contiguous decode times and keyframes every GOP', () => {
    const { events } = readChunked(ladder.video[0]!, []);
    const frags = fragments(events);
    expect(frags).toHaveLength(60);
    frags.forEach((f, i) => {
      expect(f.samples).toHaveLength(1);
      expect(f.decodeTime).toBe(i * 512);
      expect(f.duration).toBe(512);
      expect(f.independent).toBe(i % 30 === 0);
      expect(f.samples[0]!.size).toBeLessThan(f.bytes.byteLength);
      expect(Buffer.from(f.bytes.subarray(4, 8)).toString('latin1')).toBe('moof');
    });
    const audio = fragments(readChunked(ladder.audio, []).events);
    expect(audio.every((f) => f.independent)).toBe(true);
    expect(audio.slice(0, -1).every((f) => f.duration === 1024)).toBe(true);
    audio.forEach((f, i) => expect(f.decodeTime).toBe(i * 1024));
  });

  it('keeps decode order and composition offsets with B-frames', () => {
    const frags = fragments(readChunked(bframes.video[0]!, []).events);
    expect(frags.length).toBe(30);
    for (let i = 1; i < frags.length; i++) expect(frags[i]!.decodeTime).toBeGreaterThan(frags[i - 1]!.decodeTime);
    expect(frags.some((f) => f.samples[0]!.compositionOffset !== 0)).toBe(true);
    expect(frags[0]!.independent).toBe(true);
  });

  it('gives identical results for 1-byte, 7-byte and whole-stream chunking', () => {
    const bytes = ladder.video[1]!.subarray(0, 20_000);
    const whole = readChunked(bytes, []);
    const single = readChunked(bytes, Array.from({ length: bytes.byteLength }, (_, i) => i));
    const seven = readChunked(bytes, Array.from({ length: bytes.byteLength / 7 }, (_, i) => i * 7));
    expect(summary(single.events)).toEqual(summary(whole.events));
    expect(summary(seven.events)).toEqual(summary(whole.events));
  });

  it('property: any chunking yields the same events', () => {
    const bytes = ladder.audio;
    const expected = summary(readChunked(bytes, []).events);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: bytes.byteLength - 1 }), { maxLength: 200 }), (cuts) => {
        const got = readChunked(bytes, cuts);
        expect(got.error).toBeUndefined();
        expect(summary(got.events)).toEqual(expected);
      }),
      { numRuns: 60 },
    );
  });

  it('property: corrupted or truncated input gives MediaMalformed or valid events, never another exception', () => {
    const source = ladder.video[1]!.subarray(0, 12_000);
    fc.assert(
      fc.property(
        fc.array(fc.record({ at: fc.nat({ max: source.byteLength - 1 }), value: fc.nat({ max: 255 }) }), { maxLength: 8 }),
        fc.nat({ max: source.byteLength }),
        fc.array(fc.nat({ max: source.byteLength }), { maxLength: 5 }),
        (flips, truncateAt, cuts) => {
          const bytes = source.slice(0, Math.max(1, truncateAt));
          for (const f of flips) if (f.at < bytes.byteLength) bytes[f.at] = f.value;
          const { events, error } = readChunked(bytes, cuts);
          if (error !== undefined) {
            expect(isLivepipeError(error, ErrorCode.MediaMalformed)).toBe(true);
          }
          for (const e of fragments(events)) {
            expect(Number.isSafeInteger(e.decodeTime)).toBe(true);
            expect(e.samples.length).toBeGreaterThan(0);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('Fmp4Reader on malformed input', () => {
  const box = (type: string, payload: Uint8Array | number[] = [], size?: number): Uint8Array => {
    const body = Uint8Array.from(payload);
    const out = new Uint8Array(8 + body.byteLength);
    new DataView(out.buffer).setUint32(0, size ?? out.byteLength);
    out.set(Buffer.from(type, 'latin1'), 4);
    out.set(body, 8);
    return out;
  };
  const cat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(parts));

  const cases: Array<{ name: string; input: () => Uint8Array; message: RegExp; end?: boolean }> = [
    { name: 'a box larger than the limit', input: () => box('mdat', [], 0x7fff_ffff), message: /exceeds the .*limit/ },
    { name: 'a box type with control bytes', input: () => box('\u0000\u0001ab'), message: /invalid box type/ },
    { name: 'a size smaller than the header', input: () => box('free', [], 4), message: /smaller than its header/ },
    { name: 'a size-0 (to end of file) box', input: () => box('mdat', [], 0), message: /end of the stream/ },
    { name: 'a moof before any moov', input: () => box('moof'), message: /moof before any moov/ },
    { name: 'an mdat without moof', input: () => box('mdat', [1, 2, 3]), message: /mdat without a preceding moof/ },
    { name: 'an unknown top-level box', input: () => box('junk'), message: /unexpected top-level box 'junk'/ },
    { name: 'a moov without tracks', input: () => cat(box('ftyp', [0, 0, 0, 0]), box('moov')), message: /0 tracks/ },
    { name: 'a truncated box at the end', input: () => box('free', [1, 2, 3, 4]).subarray(0, 10), message: /truncated/, end: true },
  ];
  for (const c of cases) {
    it(`rejects ${c.name}`, () => {
      const reader = new Fmp4Reader({ maxBoxSize: 1 << 20 });
      const act = (): void => {
        reader.push(c.input());
        if (c.end) reader.end();
      };
      expect(act).toThrow(c.message);
      try {
        act();
      } catch (err) {
        expect(isLivepipeError(err, ErrorCode.MediaMalformed)).toBe(true);
      }
    });
  }

  it('skips boxes with a 64-bit size, in any chunking', () => {
    const large = Uint8Array.from([0, 0, 0, 1, ...Buffer.from('free', 'latin1'), 0, 0, 0, 0, 0, 0, 0, 20, 1, 2, 3, 4]);
    for (const step of [1, 3, large.byteLength]) {
      const reader = new Fmp4Reader();
      for (let at = 0; at < large.byteLength; at += step) expect(reader.push(large.subarray(at, at + step))).toEqual([]);
      expect(() => reader.end()).not.toThrow();
    }
  });

  it('rejects a trun announcing more samples than the fragment holds', () => {
    const stream = Uint8Array.from(ladder.audio);
    const initSize = new Fmp4Reader().push(stream)[0]!.bytes.byteLength;
    const view = Buffer.from(stream.buffer, stream.byteOffset);
    const trun = view.indexOf('trun', initSize, 'latin1');
    view.writeUInt32BE(0x7fff_ffff, trun + 8); // sample_count
    expect(() => new Fmp4Reader().push(stream)).toThrow(/sample_count 2147483647 does not fit/);
  });

  it('stays failed after an error', () => {
    const reader = new Fmp4Reader();
    expect(() => reader.push(box('junk'))).toThrow(/junk/);
    expect(() => reader.push(box('free'))).toThrow(/junk/);
    expect(() => reader.end()).toThrow(/junk/);
  });

  it('reports a moof left without its mdat at the end', () => {
    const stream = ladder.video[0]!;
    const reader = new Fmp4Reader();
    const events = reader.push(stream);
    const last = fragments(events).at(-1)!;
    const moofSize = Buffer.from(last.bytes).readUInt32BE(0);
    const again = new Fmp4Reader();
    again.push(stream.subarray(0, stream.byteLength - (last.bytes.byteLength - moofSize) - trailerSize(stream)));
    expect(() => again.end()).toThrow(/moof without its mdat/);
  });

  it('rejects a trun whose samples lie outside the mdat', () => {
    const stream = Uint8Array.from(ladder.audio);
    const reader = new Fmp4Reader();
    const events = reader.push(stream);
    const initSize = events[0]!.bytes.byteLength;
    // First fragment: moof(mfhd, traf(tfhd, tfdt, trun)); grow the trun's data offset past the mdat.
    const view = Buffer.from(stream.buffer, stream.byteOffset);
    const trun = view.indexOf('trun', initSize, 'latin1');
    view.writeUInt32BE(view.readUInt32BE(trun + 12) + 100_000, trun + 12);
    expect(() => new Fmp4Reader().push(stream)).toThrow(/outside the mdat/);
  });
});

/** Bytes after the last mdat (ffmpeg appends an mfra index to files it can seek in). */
function trailerSize(stream: Uint8Array): number {
  const view = Buffer.from(stream);
  let at = 0;
  let lastMdatEnd = 0;
  while (at + 8 <= view.byteLength) {
    const size = view.readUInt32BE(at);
    if (view.toString('latin1', at + 4, at + 8) === 'mdat') lastMdatEnd = at + size;
    at += size;
  }
  return view.byteLength - lastMdatEnd;
}
