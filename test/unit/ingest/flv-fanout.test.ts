import { describe, expect, it } from 'vitest';
import type { Readable } from 'node:stream';
import { FlvFanout } from '../../../src/ingest/flv-fanout.js';
import { FlvTagType, type FlvTag } from '../../../src/ingest/flv-tags.js';

/** Reads what a consumer has buffered so far and splits it into (type, timestamp, first body byte) tuples. */
function drain(stream: Readable, withHeader = true): { header: Buffer; tags: Array<{ type: number; ts: number; body: Buffer }> } {
  const chunks: Buffer[] = [];
  let c: Buffer | null;
  while ((c = stream.read() as Buffer | null) !== null) chunks.push(c);
  const all = Buffer.concat(chunks);
  const header = withHeader ? all.subarray(0, 13) : Buffer.alloc(0);
  const tags: Array<{ type: number; ts: number; body: Buffer }> = [];
  let off = header.length;
  while (off < all.length) {
    const size = all.readUIntBE(off + 1, 3);
    const ts = ((all[off + 7]! << 24) | all.readUIntBE(off + 4, 3)) >>> 0;
    tags.push({ type: all[off]!, ts, body: all.subarray(off + 11, off + 11 + size) });
    expect(all.readUInt32BE(off + 11 + size)).toBe(11 + size);
    off += 11 + size + 4;
  }
  return { header, tags };
}

const metadata: FlvTag = {
  type: FlvTagType.Script,
  timestamp: 0,
  body: Buffer.concat([Buffer.from([0x02, 0x00, 0x0d]), Buffer.from('@setDataFrame'), Buffer.from([0x02, 0x00, 0x0a]), Buffer.from('onMetaData'), Buffer.from([0x08, 0, 0, 0, 0, 0, 0, 9])]),
};
const avcHeader = (ts = 0): FlvTag => ({ type: FlvTagType.Video, timestamp: ts, body: Buffer.from([0x17, 0x00, 0, 0, 0, 0xa1]) });
const aacHeader = (ts = 0): FlvTag => ({ type: FlvTagType.Audio, timestamp: ts, body: Buffer.from([0xaf, 0x00, 0x12, 0x10]) });
const key = (ts: number, size = 10): FlvTag => ({ type: FlvTagType.Video, timestamp: ts, body: Buffer.concat([Buffer.from([0x17, 0x01, 0, 0, 0]), Buffer.alloc(size, 0xaa)]) });
const inter = (ts: number, size = 10): FlvTag => ({ type: FlvTagType.Video, timestamp: ts, body: Buffer.concat([Buffer.from([0x27, 0x01, 0, 0, 0]), Buffer.alloc(size, 0xbb)]) });
const audio = (ts: number): FlvTag => ({ type: FlvTagType.Audio, timestamp: ts, body: Buffer.from([0xaf, 0x01, 0x21, 0x22]) });

function publishStart(f: FlvFanout): void {
  f.push(metadata);
  f.push(avcHeader());
  f.push(aacHeader());
}

describe('FlvFanout', () => {
  it('starts a late consumer with header, metadata, sequence headers and the GOP from the latest keyframe', () => {
    const f = new FlvFanout();
    publishStart(f);
    f.push(key(0));
    f.push(inter(33));
    f.push(audio(40));
    f.push(key(1000));
    f.push(audio(1010));
    f.push(inter(1033));
    const { header, tags } = drain(f.open());
    expect(header.toString('hex')).toBe('464c5601050000000900000000');
    expect(tags.map((t) => [t.type, t.ts, t.body[0]])).toEqual([
      [18, 0, 0x02],
      [9, 1000, 0x17], // AVC sequence header, stamped with the GOP start
      [8, 1000, 0xaf],
      [9, 1000, 0x17],
      [8, 1010, 0xaf],
      [9, 1033, 0x27],
    ]);
    // onMetaData is the file form, not @setDataFrame.
    expect(tags[0]!.body.subarray(3, 13).toString()).toBe('onMetaData');
    expect(tags[1]!.body[1]).toBe(0x00);
    expect(tags[3]!.body[1]).toBe(0x01);
  });

  it('then forwards live tags to every consumer', () => {
    const f = new FlvFanout();
    publishStart(f);
    f.push(key(0));
    const a = f.open();
    const b = f.open();
    drain(a);
    drain(b);
    f.push(inter(33));
    f.push(audio(35));
    expect(drain(a, false).tags.map((t) => t.ts)).toEqual([33, 35]);
    expect(drain(b, false).tags.map((t) => t.ts)).toEqual([33, 35]);
    expect(f.consumerCount).toBe(2);
  });

  it('makes a consumer opened before any keyframe wait for one', () => {
    const f = new FlvFanout();
    publishStart(f);
    const c = f.open();
    f.push(audio(5));
    f.push(inter(10));
    f.push(key(20));
    f.push(inter(53));
    const tags = drain(c).tags;
    expect(tags.map((t) => [t.type, t.ts])).toEqual([
      [18, 0],
      [9, 0],
      [8, 0],
      [9, 20],
      [9, 53],
    ]);
  });

  it('bounds the GOP cache by bytes: an oversized GOP is dropped and late consumers wait', () => {
    const f = new FlvFanout({ maxGopCacheBytes: 500 });
    publishStart(f);
    f.push(key(0, 100));
    for (let i = 1; i <= 10; i++) f.push(inter(i * 33, 100));
    expect(f.cachedBytes).toBe(0);
    const c = f.open();
    f.push(inter(400, 100));
    f.push(key(1000, 100));
    const tags = drain(c).tags.filter((t) => t.type === 9 && t.body[1] === 1);
    expect(tags.map((t) => t.ts)).toEqual([1000]);
    expect(f.cachedBytes).toBeGreaterThan(0);
    expect(f.cachedBytes).toBeLessThanOrEqual(500);
  });

  it('makes a consumer that does not read skip to the next keyframe instead of growing', () => {
    const lags: number[] = [];
    const f = new FlvFanout({ maxConsumerBufferBytes: 2000, onConsumerLag: (n) => lags.push(n) });
    publishStart(f);
    f.push(key(0, 100));
    const c = f.open();
    for (let i = 1; i <= 100; i++) f.push(inter(i * 33, 100));
    expect(c.readableLength).toBeLessThan(2000 + 200);
    expect(lags).toHaveLength(1);
    const before = drain(c).tags.length;
    expect(before).toBeGreaterThan(0);
    f.push(inter(4000, 100)); // still skipping: no keyframe yet
    f.push(key(5000, 100));
    f.push(inter(5033, 100));
    expect(drain(c, false).tags.map((t) => t.ts)).toEqual([5000, 5033]);
  });

  it('ends consumers with the publish, and gives an ended stream afterwards', async () => {
    const f = new FlvFanout();
    publishStart(f);
    const c = f.open();
    const ended = new Promise((r) => c.on('end', r));
    c.resume();
    f.end();
    await ended;
    expect(f.consumerCount).toBe(0);
    const late = f.open();
    const chunks: Buffer[] = [];
    for await (const chunk of late) chunks.push(chunk as Buffer);
    expect(chunks).toHaveLength(0);
  });

  it('forgets consumers that are destroyed', async () => {
    const f = new FlvFanout();
    publishStart(f);
    const c = f.open();
    expect(f.consumerCount).toBe(1);
    c.destroy();
    await new Promise((r) => setImmediate(r));
    expect(f.consumerCount).toBe(0);
    f.push(key(0)); // no throw with no consumers
  });
});

describe('FlvFanout first-frame arrival stamps (PDT anchor)', () => {
  it('stamps a consumer that starts on the cached GOP with the keyframe arrival, not the open time', async () => {
    const { firstFrameArrivedAt } = await import('../../../src/core/media-clock.js');
    const f = new FlvFanout();
    publishStart(f);
    const before = Date.now();
    f.push(key(0));
    const after = Date.now();
    f.push(inter(33));
    await new Promise((r) => setTimeout(r, 30));
    const late = f.open();
    const stamp = firstFrameArrivedAt(late);
    expect(stamp).toBeGreaterThanOrEqual(before);
    expect(stamp).toBeLessThanOrEqual(after);
  });

  it('stamps a consumer waiting for its first keyframe when that keyframe arrives', async () => {
    const { firstFrameArrivedAt } = await import('../../../src/core/media-clock.js');
    const f = new FlvFanout();
    publishStart(f);
    const waiting = f.open();
    expect(firstFrameArrivedAt(waiting)).toBeUndefined();
    f.push(inter(10)); // not a start point
    expect(firstFrameArrivedAt(waiting)).toBeUndefined();
    const before = Date.now();
    f.push(key(33));
    expect(firstFrameArrivedAt(waiting)).toBeGreaterThanOrEqual(before);
  });
});
