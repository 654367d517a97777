import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { firstFrameArrivedAt, stampFirstFrameArrival } from '../../../src/core/media-clock.js';
import { withKeyframeMarks } from '../../../src/ingest/flv-keyframe-marking.js';
import { FlvTagReader } from '../../../src/ingest/flv-tag-reader.js';
import { flvFileHeader, muxFlvTag, FlvTagType, type FlvTag } from '../../../src/ingest/flv-tags.js';
import { RECOVERY_POINT_SEI_NAL } from '../../../src/ingest/keyframe-marks.js';

// A real x264 sequence header (4-byte NAL lengths); frames are an AUD and a slice.
const SEQUENCE_HEADER = Buffer.from('17000000000142c00affe100156742c00ada7b0110000003001000000303c0f1226a01000468ce0fc8', 'hex');
const nal = (bytes: number[]) => Buffer.concat([Buffer.from([0, 0, 0, bytes.length]), Buffer.from(bytes)]);
const avc = (key: boolean) => Buffer.concat([Buffer.from([key ? 0x17 : 0x27, 1, 0, 0, 0]), nal([0x09, 0x30]), nal([key ? 0x65 : 0x41, 0x9a, 0x01])]);
const MARK = Buffer.concat([Buffer.from([0, 0, 0, RECOVERY_POINT_SEI_NAL.length]), RECOVERY_POINT_SEI_NAL]);

describe('withKeyframeMarks (a run input without the input selector)', () => {
  it('marks the first frame at or after each grid point from the run start (audio first here), in any chunking, keeping the FLV header flags and the arrival stamp', async () => {
    const tags: FlvTag[] = [{ type: FlvTagType.Video, timestamp: 1000, body: SEQUENCE_HEADER }];
    tags.push({ type: FlvTagType.Audio, timestamp: 990, body: Buffer.from([0xaf, 1, 0x21]) });
    for (let n = 0; n < 100; n++) tags.push({ type: FlvTagType.Video, timestamp: 1000 + n * 40, body: avc(n === 0 || n === 75) });
    const bytes = Buffer.concat([flvFileHeader(true, true), ...tags.map((t) => muxFlvTag(t))]);
    const source = new PassThrough();
    stampFirstFrameArrival(source, 1234);
    const marked = withKeyframeMarks(source, 1000);
    const reader = new FlvTagReader();
    const out: Buffer[] = [];
    marked.on('data', (c: Buffer) => out.push(c));
    const ended = new Promise((r) => marked.on('end', r));
    for (let at = 0; at < bytes.length; at += 7) source.write(bytes.subarray(at, at + 7));
    source.end();
    await ended;
    const all = Buffer.concat(out);
    expect(all.subarray(0, 13)).toEqual(flvFileHeader(true, true));
    const frames = reader.push(all).filter((t) => t.type === FlvTagType.Video && t.body[1] === 1);
    expect(frames).toHaveLength(100);
    // Grid from 990 (the audio's first frame): 1990, 2990, 3990 (the source's own IDR at 4000 takes it), 4990 (past the last frame, 4960).
    expect(frames.filter((t) => t.body.includes(MARK)).map((t) => t.timestamp)).toEqual([2000, 3000]);
    expect(frames.filter((t) => t.body[0] === 0x17).map((t) => t.timestamp)).toEqual([1000, 4000]);
    expect(firstFrameArrivedAt(marked)).toBe(1234);
  });

  it('markAtWall: keys the frame standing for a wall-clock instant (arrival stamp = media time 0 = the run start), told in media time', async () => {
    const source = new PassThrough();
    stampFirstFrameArrival(source, 50_000);
    const marked = withKeyframeMarks(source, 1000);
    const reader = new FlvTagReader();
    const frames: FlvTag[] = [];
    marked.on('data', (c: Buffer) => frames.push(...reader.push(c).filter((t) => t.type === FlvTagType.Video && t.body[1] === 1)));
    const send = (tags: FlvTag[]) => source.write(Buffer.concat(tags.map((t) => muxFlvTag(t))));
    source.write(flvFileHeader(true, true));
    send([{ type: FlvTagType.Video, timestamp: 1000, body: SEQUENCE_HEADER }, { type: FlvTagType.Audio, timestamp: 990, body: Buffer.from([0xaf, 1, 0x21]) }]);
    send(Array.from({ length: 10 }, (_, n) => ({ type: FlvTagType.Video, timestamp: 1000 + n * 40, body: avc(n === 0) })));
    await new Promise((r) => setImmediate(r));
    const told: Array<{ pts: number; keyed: boolean; mediaMs: number }> = [];
    // 50 000 + 1 250 ms stands for timestamp 990 + 1 250 = 2240: the frame at 2240 is the first at or after it.
    marked.markAtWall(51_250, (r) => told.push(r));
    send(Array.from({ length: 30 }, (_, n) => ({ type: FlvTagType.Video, timestamp: 1400 + n * 40, body: avc(false) })));
    await new Promise((r) => setImmediate(r));
    expect(told).toEqual([{ pts: 2240, keyed: true, mediaMs: 1250 }]);
    expect(frames.filter((t) => t.body.includes(MARK)).map((t) => t.timestamp)).toEqual([2000, 2240]);
    marked.destroy();
  });

  it('HEVC (Enhanced RTMP): nothing marked, and a splice on one of the source\'s own keyframes is told not keyed (a non-H.264 run is keyed on the grid, not at its keyframes)', async () => {
    // ExHeader, FrameType (1 key, 2 inter), PacketType 3 (CodedFramesX: no CompositionTime), FourCC hvc1, then a length-prefixed NAL.
    const hevc = (key: boolean) => Buffer.concat([Buffer.from([0x80 | ((key ? 1 : 2) << 4) | 3]), Buffer.from('hvc1'), nal([key ? 0x26 : 0x02, 0x01, 0xaf])]);
    const source = new PassThrough();
    stampFirstFrameArrival(source, 50_000);
    const marked = withKeyframeMarks(source, 1000);
    const out: Buffer[] = [];
    marked.on('data', (c: Buffer) => out.push(c));
    const send = (tags: FlvTag[]) => source.write(Buffer.concat(tags.map((t) => muxFlvTag(t))));
    const sequenceStart = Buffer.concat([Buffer.from([0x80 | (1 << 4) | 0]), Buffer.from('hvc1'), Buffer.alloc(23, 1)]);
    const header = flvFileHeader(true, false);
    const sent: FlvTag[] = [{ type: FlvTagType.Video, timestamp: 1000, body: sequenceStart }, ...Array.from({ length: 10 }, (_, n) => ({ type: FlvTagType.Video, timestamp: 1000 + n * 40, body: hevc(n === 0) }))];
    source.write(header);
    send(sent);
    await new Promise((r) => setImmediate(r));
    const told: Array<{ pts: number; keyed: boolean; mediaMs: number }> = [];
    // 50 000 + 1 000 ms stands for timestamp 2000: the source's keyframe there is the first frame at or after it.
    marked.markAtWall(51_000, (r) => told.push(r));
    const rest = Array.from({ length: 30 }, (_, n) => ({ type: FlvTagType.Video, timestamp: 1400 + n * 40, body: hevc(1400 + n * 40 === 2000) }));
    send(rest);
    await new Promise((r) => setImmediate(r));
    expect(told).toEqual([{ pts: 2000, keyed: false, mediaMs: 1000 }]);
    expect(Buffer.concat(out)).toEqual(Buffer.concat([header, ...[...sent, ...rest].map((t) => muxFlvTag(t))]));
    marked.destroy();
  });

  it('B-frames: marks the tag presented first at each grid point — the tag timestamp is the DTS, CompositionTime gives the PTS, whole ms', async () => {
    // 30 fps as x264 `-bf 3` (b-pyramid, fixed pattern) and ffmpeg's FLV muxer send it: frame n is
    // presented at 1000 + round(n·33.3) ms; after the IDR each group of four comes as P 4g, B 4g−2,
    // B 4g−3, B 4g−1; DTS run from 67 ms before. A 500 ms grid falls on frames 15, 30, 45, 60, 75:
    // the frame after 15 (533: 33 ms past the point) is the P picture that comes before it.
    const order = [0];
    for (let p = 4; p < 90; p += 4) order.push(p, p - 2, p - 3, p - 1);
    const ms = (n: number) => Math.round((n * 1000) / 30);
    const withCts = (key: boolean, cts: number) => {
      const body = avc(key);
      body.writeIntBE(cts, 2, 3);
      return body;
    };
    const tags: FlvTag[] = [{ type: FlvTagType.Video, timestamp: 933, body: SEQUENCE_HEADER }];
    order.forEach((n, i) => tags.push({ type: FlvTagType.Video, timestamp: 933 + ms(i), body: withCts(n === 0, 1000 + ms(n) - (933 + ms(i))) }));
    const source = new PassThrough();
    const marked = withKeyframeMarks(source, 500);
    const reader = new FlvTagReader();
    const frames: FlvTag[] = [];
    marked.on('data', (c: Buffer) => frames.push(...reader.push(c).filter((t) => t.type === FlvTagType.Video && t.body[1] === 1)));
    const ended = new Promise((r) => marked.on('end', r));
    source.end(Buffer.concat([flvFileHeader(false, true), ...tags.map((t) => muxFlvTag(t))]));
    await ended;
    expect(frames).toHaveLength(order.length);
    const pts = (t: FlvTag) => t.timestamp + t.body.readIntBE(2, 3);
    expect(frames.filter((t) => t.body.includes(MARK)).map(pts).sort((a, b) => a - b)).toEqual([1500, 2000, 2500, 3000, 3500]);
  });

  it('destroys the source when the run stops reading', async () => {
    const source = new PassThrough();
    const marked = withKeyframeMarks(source, 1000);
    marked.destroy();
    await new Promise((r) => setImmediate(r));
    expect(source.destroyed).toBe(true);
  });
});
