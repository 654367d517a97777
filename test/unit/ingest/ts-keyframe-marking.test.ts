import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firstFrameArrivedAt, stampFirstFrameArrival } from '../../../src/core/media-clock.js';
import { RECOVERY_POINT_SEI_NAL, annexBNalUnits } from '../../../src/ingest/keyframe-marks.js';
import { withTsKeyframeMarks, type TsKeyframeMarking } from '../../../src/ingest/ts-keyframe-marking.js';
import { TS_PACKET_SIZE, TsProgramScanner, isRandomAccessStart, pesPresentationTimestamp, tsPacketPid, tsPayloadStart } from '../../../src/ingest/ts-program-info.js';
import { renderSource } from '../../helpers/transcode/media.js';

const exec = promisify(execFile);

/**
 * TsKeyframeMarking on real bytes: a 4 s 30 fps x264 + AAC MPEG-TS from ffmpeg with a single IDR
 * (`-g 1000`), so every keyframe past the first is a mark.
 */

interface Pes {
  pid: number;
  /** PTS in ms (90 kHz / 90). */
  ptsMs: number;
  packets: Buffer[];
}

function packetsOf(ts: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at + TS_PACKET_SIZE <= ts.length; at += TS_PACKET_SIZE) out.push(ts.subarray(at, at + TS_PACKET_SIZE));
  return out;
}

/** The PES of each PID in stream order (each with its packets), and the video and audio PIDs. */
function pesOf(ts: Buffer): { video: Pes[]; audio: Pes[]; videoPid: number; audioPid: number } {
  const scanner = new TsProgramScanner();
  scanner.push(ts);
  const videoPid = scanner.streams!.video!.pid;
  const audioPid = scanner.streams!.audio!.pid;
  const current = new Map<number, Pes>();
  const video: Pes[] = [];
  const audio: Pes[] = [];
  for (const packet of packetsOf(ts)) {
    const pid = tsPacketPid(packet);
    if (pid !== videoPid && pid !== audioPid) continue;
    if ((packet[1]! & 0x40) !== 0) {
      const pes = { pid, ptsMs: pesPresentationTimestamp(packet, 0)! / 90, packets: [] as Buffer[] };
      current.set(pid, pes);
      (pid === videoPid ? video : audio).push(pes);
    }
    current.get(pid)?.packets.push(packet);
  }
  return { video, audio, videoPid, audioPid };
}

/** The Annex-B access unit of a video PES. */
function accessUnit(pes: Pes): Buffer {
  const bytes = Buffer.concat(pes.packets.flatMap((p) => (tsPayloadStart(p) === undefined ? [] : [p.subarray(tsPayloadStart(p))])));
  return bytes.subarray(9 + bytes[8]!);
}

const isMarked = (pes: Pes) => {
  const au = accessUnit(pes);
  return annexBNalUnits(au).some(([s, e]) => au.subarray(s, e).equals(RECOVERY_POINT_SEI_NAL));
};
const withoutCc = (packet: Buffer) => {
  const copy = Buffer.from(packet);
  copy[3] = copy[3]! & 0xf0;
  return copy;
};

/** Runs `ts` through a marking in `chunk`-byte writes; `during(marking, written, outBytes)` is called after each write. */
async function mark(ts: Buffer, options: { intervalMs?: number; chunk?: number; stamp?: number; during?: (m: TsKeyframeMarking, written: number, outBytes: number) => void } = {}): Promise<Buffer> {
  const source = new PassThrough();
  if (options.stamp !== undefined) stampFirstFrameArrival(source, options.stamp);
  const marking = withTsKeyframeMarks(source, options.intervalMs ?? 1000, 30);
  const out: Buffer[] = [];
  marking.on('data', (c: Buffer) => out.push(c));
  const ended = new Promise((resolve, reject) => {
    marking.on('end', resolve);
    marking.on('error', reject);
  });
  const chunk = options.chunk ?? 1000;
  for (let at = 0; at < ts.length; at += chunk) {
    source.write(ts.subarray(at, at + chunk));
    await new Promise((r) => setImmediate(r));
    options.during?.(marking, Math.min(ts.length, at + chunk), out.reduce((n, c) => n + c.length, 0));
  }
  source.end();
  await ended;
  if (options.stamp !== undefined) expect(firstFrameArrivedAt(marking)).toBe(options.stamp);
  return Buffer.concat(out);
}

/** Every PID's continuity counter goes up by one per packet with payload. */
function expectContinuousCounters(output: ReturnType<typeof pesOf>): void {
  for (const stream of [output.video, output.audio]) {
    let last: number | undefined;
    for (const packet of stream.flatMap((p) => p.packets)) {
      const cc = packet[3]! & 0x0f;
      if (last !== undefined) expect(cc, `pid ${tsPacketPid(packet)}`).toBe((last + 1) & 0x0f);
      last = cc;
    }
  }
}

describe('TsKeyframeMarking (real x264 MPEG-TS)', () => {
  let dir: string;
  let source: Buffer;
  let input: ReturnType<typeof pesOf>;
  /** The grid's origin: the smallest first PTS of the video and the audio (ms). */
  let origin: number;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'livepipe-ts-marks-'));
    const file = join(dir, 'source.ts');
    await renderSource(file, { width: 320, height: 180, fps: 30, seconds: 4, format: 'mpegts', gopFrames: 1000 });
    source = await readFile(file);
    input = pesOf(source);
    origin = Math.min(input.video[0]!.ptsMs, input.audio[0]!.ptsMs);
  }, 60_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the source: one IDR, audio starting before the video (AAC priming), nothing marked', () => {
    expect(input.video.length).toBe(120);
    expect(input.video.filter(isMarked)).toEqual([]);
    expect(input.audio[0]!.ptsMs).toBeLessThan(input.video[0]!.ptsMs);
  });

  it('marks the first frame at or after each grid point from the run start; passes everything else untouched; counters stay continuous', async () => {
    const output = pesOf(await mark(source, { chunk: 1000 }));
    // The first frame at or after origin + 1 s, 2 s, 3 s (the first frame, the source IDR, is keyed already).
    const expected = [1000, 2000, 3000].map((t) => input.video.findIndex((f) => f.ptsMs >= origin + t));
    expect(output.video.length).toBe(input.video.length);
    expect(output.video.flatMap((f, i) => (isMarked(f) ? [i] : []))).toEqual(expected);
    for (const [i, frame] of output.video.entries()) {
      expect(frame.ptsMs).toBe(input.video[i]!.ptsMs);
      if (expected.includes(i)) {
        // The same access unit with the SEI added; the first packet's adaptation field (PCR, random access) kept.
        expect(accessUnit(frame).length).toBe(accessUnit(input.video[i]!).length + 4 + RECOVERY_POINT_SEI_NAL.length);
        expect(frame.packets[0]![3]! & 0x30).toBe(input.video[i]!.packets[0]![3]! & 0x30);
        if ((frame.packets[0]![3]! & 0x20) !== 0) expect(frame.packets[0]!.subarray(5, 6 + 6)).toEqual(input.video[i]!.packets[0]!.subarray(5, 6 + 6));
        continue;
      }
      expect(frame.packets.map(withoutCc), `frame ${i} untouched`).toEqual(input.video[i]!.packets.map(withoutCc));
    }
    expect(output.audio).toEqual(input.audio);
    expectContinuousCounters(output);
  });

  it('re-packetizes a frame the SEI does not fit into: one packet more, counters of the PID shifted from then on', async () => {
    // A 20 ms grid on 33 ms frames: every frame past the IDR is marked.
    const bytes = await mark(source, { intervalMs: 20, chunk: 5000 });
    const output = pesOf(bytes);
    expect(output.video.filter(isMarked)).toHaveLength(input.video.length - 1);
    // ffmpeg's demuxer finds no counter gap (it would warn "Continuity check failed") and decodes every frame as a keyframe.
    const file = join(dir, 'every-frame.ts');
    await writeFile(file, bytes);
    const { stdout, stderr } = await exec('ffprobe', ['-v', 'warning', '-select_streams', 'v:0', '-show_frames', '-show_entries', 'frame=key_frame', '-of', 'json', file], { maxBuffer: 16 * 1024 * 1024 });
    expect(stderr).toBe('');
    const frames = (JSON.parse(stdout) as { frames: Array<{ key_frame: number }> }).frames;
    expect(frames.map((f) => f.key_frame)).toEqual(input.video.map(() => 1));
    const grown = output.video.filter((f, i) => f.packets.length === input.video[i]!.packets.length + 1);
    expect(grown.length).toBeGreaterThan(0);
    expect(output.video.every((f, i) => f.packets.length - input.video[i]!.packets.length <= 1)).toBe(true);
    expectContinuousCounters(output);
  });

  it('fixes PES_packet_length of a marked PES when the source sets it (ffmpeg writes 0 for video; other muxers do not)', async () => {
    const payloadLength = (packets: Buffer[]) => packets.reduce((n, p) => n + (tsPayloadStart(p) === undefined ? 0 : TS_PACKET_SIZE - tsPayloadStart(p)!), 0);
    const declaredLength = (pes: Pes) => pes.packets[0]!.readUInt16BE(tsPayloadStart(pes.packets[0]!)! + 4);
    // The source with every video PES's real length written in (each fits 16 bits at 320x180).
    const withLengths = Buffer.from(source);
    for (const pes of input.video) {
      const first = pes.packets[0]!;
      const at = first.byteOffset - source.byteOffset + tsPayloadStart(first)!;
      const length = payloadLength(pes.packets) - 6;
      expect(length).toBeLessThanOrEqual(0xffff);
      withLengths.writeUInt16BE(length, at + 4);
    }
    const bytes = await mark(withLengths, { intervalMs: 1000 });
    const output = pesOf(bytes);
    const marked = output.video.filter(isMarked);
    expect(marked).toHaveLength(3);
    for (const pes of output.video) expect(declaredLength(pes), `PES at ${pes.ptsMs} ms`).toBe(payloadLength(pes.packets) - 6);
    // ffmpeg reads the lengths as written: no warning, every frame there.
    const file = join(dir, 'with-lengths.ts');
    await writeFile(file, bytes);
    const { stdout, stderr } = await exec('ffprobe', ['-v', 'warning', '-select_streams', 'v:0', '-show_frames', '-show_entries', 'frame=key_frame', '-of', 'json', file], { maxBuffer: 16 * 1024 * 1024 });
    expect(stderr).toBe('');
    expect((JSON.parse(stdout) as { frames: unknown[] }).frames).toHaveLength(input.video.length);
  });

  it('passes a frame that gets no mark on at once: every packet written is out before the next is written, up to a marked frame', async () => {
    const firstMarked = input.video.find((f) => f.ptsMs >= origin + 1000)!;
    const heldFrom = (firstMarked.packets[0]!.byteOffset - source.byteOffset) / TS_PACKET_SIZE;
    expect(heldFrom).toBeGreaterThan(100);
    const lag: number[] = [];
    const out = await mark(source, {
      chunk: TS_PACKET_SIZE,
      during: (_marking, written, outBytes) => {
        if (written <= heldFrom * TS_PACKET_SIZE) lag.push(written - outBytes);
        else if (written === (heldFrom + 1) * TS_PACKET_SIZE) lag.push(written - outBytes); // the marked frame's first packet: held
      },
    });
    expect(lag.slice(0, -1).every((l) => l === 0)).toBe(true);
    expect(lag.at(-1)).toBe(TS_PACKET_SIZE);
    expect(out.subarray(0, heldFrom * TS_PACKET_SIZE)).toEqual(source.subarray(0, heldFrom * TS_PACKET_SIZE));
  });

  it('markAtWall: keys the frame standing for a wall-clock instant (arrival stamp = media time 0 = the run start), told in media time', async () => {
    const told: Array<{ pts: number; keyed: boolean; mediaMs: number }> = [];
    let asked = false;
    const output = pesOf(
      await mark(source, {
        intervalMs: 10_000,
        stamp: 50_000,
        during: (marking, written) => {
          if (asked || written < source.length / 4) return;
          asked = true;
          marking.markAtWall(50_000 + 2_250, (r) => told.push(r));
        },
      }),
    );
    const frame = input.video.findIndex((f) => f.ptsMs >= origin + 2_250);
    expect(output.video.flatMap((f, i) => (isMarked(f) ? [i] : []))).toEqual([frame]);
    expect(told).toHaveLength(1);
    expect(told[0]!.keyed).toBe(true);
    expect(told[0]!.mediaMs).toBeCloseTo(input.video[frame]!.ptsMs - origin, 3);
  });

  it('ffmpeg decodes the marked frames as keyframes (what -force_key_frames source keys)', async () => {
    const file = join(dir, 'marked.ts');
    await writeFile(file, await mark(source, { chunk: 4096 }));
    const { stdout } = await exec('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_frames', '-show_entries', 'frame=key_frame', '-of', 'json', file], { maxBuffer: 16 * 1024 * 1024 });
    const frames = (JSON.parse(stdout) as { frames: Array<{ key_frame: number }> }).frames;
    expect(frames).toHaveLength(input.video.length);
    const keyed = frames.flatMap((f, i) => (f.key_frame === 1 ? [i] : []));
    const expected = [0, ...[1000, 2000, 3000].map((t) => input.video.findIndex((f) => f.ptsMs >= origin + t))];
    expect(keyed).toEqual(expected);
  });

  it('passes bytes that are not TS packets through, and keeps marking after them', async () => {
    const junk = Buffer.alloc(100, 0x11);
    const cut = 200 * TS_PACKET_SIZE;
    const damaged = Buffer.concat([source.subarray(0, cut), junk, source.subarray(cut)]);
    const out = await mark(damaged, { chunk: 777 });
    const clean = await mark(source, { chunk: 777 });
    expect(out.length).toBe(clean.length + junk.length);
    expect(out.includes(junk)).toBe(true);
    const junkAt = out.indexOf(junk);
    expect(pesOf(Buffer.concat([out.subarray(0, junkAt), out.subarray(junkAt + junk.length)])).video.filter(isMarked)).toHaveLength(3);
  });

  it('survives corrupted packets (random bytes overwritten, PSI and PES headers included): no error, nothing dropped', async () => {
    let seed = 17;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let round = 0; round < 5; round++) {
      const damaged = Buffer.from(source);
      for (let n = 0; n < 3000; n++) damaged[Math.floor(random() * damaged.length)] = Math.floor(random() * 256);
      const out = await mark(damaged, { chunk: 3001 });
      // Every byte out again; a marked PES grows by whole packets (or not at all: the SEI in its stuffing).
      expect(out.length, `round ${round}`).toBeGreaterThanOrEqual(damaged.length);
      expect((out.length - damaged.length) % TS_PACKET_SIZE, `round ${round}`).toBe(0);
    }
  });

  it('HEVC (PMT stream_type 0x24): nothing marked, bytes untouched, a splice told not keyed', async () => {
    const hevc = asHevc(source);
    const told: Array<{ keyed: boolean }> = [];
    const out = await mark(hevc, { stamp: 0, during: (m, written) => void (written === 1000 && m.markAtWall(0, (r) => told.push(r))) });
    expect(out.equals(hevc)).toBe(true);
    expect(told).toEqual([expect.objectContaining({ keyed: false })]);
  });

  it('HEVC: a splice on one of the source\'s own keyframes is told not keyed either (a non-H.264 run is keyed on the grid, not at its keyframes)', async () => {
    // IDRs every 45 frames (1.5 s: off a 2 s ladder grid); the splice's first frame at or after is frame 45, an IDR.
    const file = join(dir, 'gop45.ts');
    await renderSource(file, { width: 320, height: 180, fps: 30, seconds: 4, format: 'mpegts', gopFrames: 45 });
    const gop45 = await readFile(file);
    const frames = pesOf(gop45);
    const start = Math.min(frames.video[0]!.ptsMs, frames.audio[0]!.ptsMs);
    const idr = frames.video[45]!;
    expect(isRandomAccessStart(idr.packets[0]!, 0, frames.videoPid)).toBe(true);
    const hevc = asHevc(gop45);
    const told: Array<{ keyed: boolean; mediaMs: number }> = [];
    let asked = false;
    const out = await mark(hevc, {
      intervalMs: 2000,
      stamp: 0,
      during: (m, written) => {
        if (asked || written < hevc.length / 8) return;
        asked = true;
        m.markAtWall(idr.ptsMs - start - 1, (r) => told.push(r)); // 1 ms before: no float rounding past it
      },
    });
    expect(out.equals(hevc)).toBe(true);
    expect(told).toHaveLength(1);
    expect(told[0]!.mediaMs).toBeCloseTo(idr.ptsMs - start, 3);
    expect(told[0]!.keyed).toBe(false);
  });
});

/** `ts` with its PMT saying HEVC (stream_type 0x24) for the video PID; the bytes of the PES stay H.264. */
function asHevc(ts: Buffer): Buffer {
  const scanner = new TsProgramScanner();
  scanner.push(ts);
  const videoPid = scanner.streams!.video!.pid;
  const entry = Buffer.from([0x1b, 0xe0 | (videoPid >> 8), videoPid & 0xff]);
  const hevc = Buffer.from(ts);
  let patched = 0;
  for (let at = 0; at < hevc.length; at += TS_PACKET_SIZE) {
    const i = hevc.subarray(at, at + TS_PACKET_SIZE).indexOf(entry);
    if (tsPacketPid(hevc, at) !== 0 && tsPacketPid(hevc, at) !== videoPid && i > 0) (hevc[at + i] = 0x24), (patched += 1);
  }
  expect(patched).toBeGreaterThan(0);
  return hevc;
}
