import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { FlvTagReader } from '../../../src/ingest/flv-tag-reader.js';
import { classifyFlvTag, flvFileHeader, muxFlvTag, videoCompositionTime, FlvTagType, type FlvTag } from '../../../src/ingest/flv-tags.js';
import { InputSelector, type InputSwitch } from '../../../src/ingest/input-selector.js';
import { RECOVERY_POINT_SEI_NAL } from '../../../src/ingest/keyframe-marks.js';

// The input selector with `keyframeMarks` (the ladder's `keyframes: marked`): no waiting for a grid
// point, the GOP grid marked with recovery point SEIs. Frames are AVCC with 4-byte NAL lengths, as
// the real x264 sequence header below says.
const SEQUENCE_HEADER = Buffer.from('17000000000142c00affe100156742c00ada7b0110000003001000000303c0f1226a01000468ce0fc8', 'hex');
const nal = (bytes: number[]) => Buffer.concat([Buffer.from([0, 0, 0, bytes.length]), Buffer.from(bytes)]);
/** AUD, then an IDR (type 5) or non-IDR (type 1) slice whose last byte names the source. */
const avc = (key: boolean, source: number) => Buffer.concat([Buffer.from([key ? 0x17 : 0x27, 1, 0, 0, 0]), nal([0x09, 0x30]), nal([key ? 0x65 : 0x41, 0x9a, source])]);
/** The same as HEVC in Enhanced RTMP: ExHeader, FrameType, PacketType 3 (CodedFramesX), FourCC hvc1, an IDR_W_RADL (19) or TRAIL_R (1) NAL. */
const hevc = (key: boolean, source: number) => Buffer.concat([Buffer.from([0x80 | ((key ? 1 : 2) << 4) | 3]), Buffer.from('hvc1'), nal([key ? 0x26 : 0x02, 0x01, source])]);
const HEVC_SEQUENCE_START = Buffer.concat([Buffer.from([0x80 | (1 << 4) | 0]), Buffer.from('hvc1'), Buffer.alloc(23, 1)]);
const MARK = Buffer.concat([Buffer.from([0, 0, 0, RECOVERY_POINT_SEI_NAL.length]), RECOVERY_POINT_SEI_NAL]);
const FRAME_MS = 40;

const flush = () => new Promise((r) => setImmediate(r));

/**
 * With `bFrames`, frame i (decode order) of a source with B-frames as x264 `-bf 3` sends them (b-pyramid,
 * fixed pattern): after the IDR each group of four comes as P 4g, B 4g−2, B 4g−3, B 4g−1, so the
 * presentation frame of decode index i, and its CompositionTime (PTS − DTS, ≥ 0: PTS from 80 ms on).
 */
function bFrameOrder(i: number): { frame: number; ctsMs: number } {
  const frame = i === 0 ? 0 : 4 * Math.ceil(i / 4) - [0, 2, 3, 1][(i - 1) % 4]!;
  return { frame, ctsMs: 80 + (frame - i) * FRAME_MS };
}

/**
 * A selector on a fake clock; primary and backup send 25 fps with a keyframe every `gopFrames`, the
 * backup's frames `backupLagMs` after the primary's (default 0); with `bFrames`, in decode order
 * (`bFrameOrder`: keep `gopFrames` past the run, the only IDR is the first frame).
 */
function rig(options: { keyframeMarks: boolean; keyframeIntervalMs: number; gopFrames: number; backupLagMs?: number; codec?: 'avc' | 'hevc'; bFrames?: boolean }) {
  const frameBody = options.codec === 'hevc' ? hevc : avc;
  let now = 1_000_000;
  const switches: InputSwitch[] = [];
  const selector = new InputSelector({ inputLossMs: 500, tickMs: 0, now: () => now, onSwitch: (e) => switches.push(e), keyframeMarks: options.keyframeMarks, keyframeIntervalMs: options.keyframeIntervalMs });
  const inputs = { primary: new PassThrough(), backup: new PassThrough() };
  const base = { primary: 5000, backup: 90_000 };
  const sent = { primary: 0, backup: 0 };
  const sourceByte = { primary: 0xaa, backup: 0xbb };
  for (const role of ['primary', 'backup'] as const) {
    inputs[role].write(flvFileHeader(false, true));
    inputs[role].write(muxFlvTag({ type: FlvTagType.Video, timestamp: base[role], body: options.codec === 'hevc' ? HEVC_SEQUENCE_START : SEQUENCE_HEADER }));
    selector.attach(role, inputs[role]);
  }
  const reader = new FlvTagReader();
  const output: FlvTag[] = [];
  selector.open().on('data', (chunk: Buffer) => output.push(...reader.push(chunk)));
  const steps = async (count: number, ...sending: Array<'primary' | 'backup'>) => {
    const lag = options.backupLagMs ?? 0;
    for (let i = 0; i < count; i++) {
      now += FRAME_MS - lag;
      for (const role of sending) {
        if (role === 'backup') now += lag;
        const n = sent[role]++;
        const body = frameBody(n % options.gopFrames === 0, sourceByte[role]);
        if (options.bFrames) body.writeIntBE(bFrameOrder(n).ctsMs, 2, 3);
        inputs[role].write(muxFlvTag({ type: FlvTagType.Video, timestamp: base[role] + n * FRAME_MS, body }));
      }
      if (!sending.includes('backup')) now += lag;
      await flush();
      selector.tick();
    }
  };
  const frames = () =>
    output
      .filter((t) => t.type === FlvTagType.Video && ['video-keyframe', 'video-frame'].includes(classifyFlvTag(t.type, t.body)))
      .map((t) => ({ ts: t.timestamp, pts: t.timestamp + videoCompositionTime(t.body), key: classifyFlvTag(t.type, t.body) === 'video-keyframe', marked: t.body.includes(MARK), source: t.body.at(-1) === 0xbb ? 'backup' : 'primary' }));
  return { selector, switches, steps, frames, now: () => now };
}

describe('InputSelector with keyframe marks', () => {
  it('markFrameAt: keys the first frame at the output time of a wall-clock splice when it is written, and tells its media time', async () => {
    const r = rig({ keyframeMarks: true, keyframeIntervalMs: 1000, gopFrames: 125 });
    await r.steps(10, 'primary');
    const start = r.frames()[0]!.ts;
    const at = r.now() + 1530; // 1.53 s ahead: not on the 1 s grid
    const told: Array<{ pts: number; keyed: boolean; mediaMs: number }> = [];
    expect(r.selector.markFrameAt(at, (result) => told.push(result))).toBe(true);
    await r.steps(20, 'primary');
    expect(told).toEqual([]); // not before its frame passes
    await r.steps(40, 'primary');
    const target = r.selector.wallOut(at)!;
    const marked = r.frames().filter((f) => f.marked).map((f) => f.ts);
    const splice = r.frames().find((f) => f.ts >= target)!.ts;
    expect(splice - target).toBeLessThan(FRAME_MS);
    expect(marked).toContain(splice);
    expect(told).toEqual([{ pts: splice, keyed: true, mediaMs: splice - start }]);
    // Without keyframe marks there is nothing to schedule.
    const plain = rig({ keyframeMarks: false, keyframeIntervalMs: 1000, gopFrames: 125 });
    expect(plain.selector.markFrameAt(at, () => {})).toBe(false);
  });

  it('HEVC (Enhanced RTMP): marks are not in force (the run is keyed on the grid) — no splice is scheduled, nothing is marked', async () => {
    const r = rig({ keyframeMarks: true, keyframeIntervalMs: 1000, gopFrames: 25, codec: 'hevc' });
    await r.steps(10, 'primary');
    const start = r.frames()[0]!.ts;
    // The wall-clock instant 1 ms before the output time of frame 25, the source's second keyframe:
    // a keyframe of the source, but not one of the encoder's output (a non-H.264 run keys on the grid).
    const at = r.now() + (start + 25 * FRAME_MS - r.selector.wallOut(r.now())!) - 1;
    const told: Array<{ pts: number; keyed: boolean; mediaMs: number }> = [];
    // Not scheduled: the channel lets the cue land at the next boundary, as on a grid ladder.
    expect(r.selector.markFrameAt(at, (result) => told.push(result))).toBe(false);
    await r.steps(40, 'primary');
    expect(told).toEqual([]);
    expect(r.frames().filter((f) => f.marked)).toEqual([]);
  });

  it('HEVC: a lost input switches on the GOP grid, as without marks, not at once (no mark can key its first frame)', async () => {
    const switchDelay = async (codec: 'avc' | 'hevc') => {
      const r = rig({ keyframeMarks: true, keyframeIntervalMs: 2000, gopFrames: 10, codec });
      await r.steps(30, 'primary', 'backup');
      const lostAt = r.now();
      for (let i = 0; i < 150 && r.selector.selected !== 'backup'; i++) await r.steps(1, 'backup');
      expect(r.selector.selected).toBe('backup');
      const frames = r.frames();
      const start = frames[0]!.ts;
      const first = frames.find((f) => f.source === 'backup')!;
      return { delay: r.switches.at(-1)!.at - lostAt, firstAt: first.ts - start };
    };
    const avc = await switchDelay('avc');
    const hevc = await switchDelay('hevc');
    // H.264: at once, once the loss is seen (500 ms). HEVC: on the 2 s grid (the primary's last frame
    // went out 1.2 s into the run), its first frame at the grid point, which the encoder keys.
    expect(avc.delay).toBeLessThanOrEqual(500 + 2 * FRAME_MS);
    expect(hevc.delay).toBeGreaterThanOrEqual(avc.delay + 250);
    expect(hevc.firstAt % 2000).toBe(0);
    expect(avc.firstAt % 2000).not.toBe(0);
  });

  it('marks the first frame at each GOP grid point of the run, not where the source has its IDR', async () => {
    const r = rig({ keyframeMarks: true, keyframeIntervalMs: 1000, gopFrames: 125 });
    await r.steps(150, 'primary', 'backup');
    const frames = r.frames();
    const start = frames[0]!.ts;
    expect(frames[0]!.key).toBe(true);
    // 150 frames from an IDR at frame 0, one more at frame 125 (5 s): marks at 1, 2, 3, 4 s; 5 s is the IDR.
    expect(frames.filter((f) => f.marked).map((f) => f.ts - start)).toEqual([1000, 2000, 3000, 4000]);
    expect(frames.filter((f) => f.key).map((f) => f.ts - start)).toEqual([0, 5000]);
    expect(frames.every((f) => !(f.marked && f.key))).toBe(true); // marked frames stay inter frames in FLV
  });

  it('B-frames: marks the frame presented first at each grid point, not the first in decode order past it', async () => {
    const r = rig({ keyframeMarks: true, keyframeIntervalMs: 1000, gopFrames: 1000, bFrames: true });
    await r.steps(150, 'primary', 'backup');
    const frames = r.frames();
    const start = frames[0]!.pts;
    expect(frames[0]!.key).toBe(true);
    // Grid frames 25, 50, 75, 125 (1, 2, 3, 5 s): B pictures that come after the P picture 1–3 frames
    // later (decode order marked that one: 1120, 2080, 3040, 5120); frame 100 (4 s) is a P picture.
    expect(frames.filter((f) => f.marked).map((f) => f.pts - start)).toEqual([1000, 2000, 3000, 4000, 5000]);
  });

  it('switches at once when the input is lost (its first frame an IDR), where the grid mode waits for the next grid point', async () => {
    const lostAfter = async (keyframeMarks: boolean) => {
      const r = rig({ keyframeMarks, keyframeIntervalMs: 2000, gopFrames: 10 });
      await r.steps(30, 'primary', 'backup');
      const lostAt = r.now();
      for (let i = 0; i < 150 && r.selector.selected !== 'backup'; i++) await r.steps(1, 'backup');
      expect(r.selector.selected).toBe('backup');
      const frames = r.frames();
      const firstAt = frames.findIndex((f) => f.source === 'backup');
      expect(frames[firstAt]!.key).toBe(true);
      // Marked: right after the primary's last frame, no gap (ffmpeg 5.1 would not key a frame after one).
      if (keyframeMarks) expect(frames[firstAt]!.ts - frames[firstAt - 1]!.ts).toBe(FRAME_MS);
      return r.switches.at(-1)!.at - lostAt;
    };
    const marked = await lostAfter(true);
    const grid = await lostAfter(false);
    // Loss is seen after 500 ms without video; marked switches then. The grid mode waits for its point:
    // the primary's last frame went out 1.2 s into the run, the loss is seen at 1.72 s, the point is 2 s.
    expect(marked).toBeLessThanOrEqual(500 + 2 * FRAME_MS);
    expect(grid).toBeGreaterThanOrEqual(marked + 250);
  });

  it('marks every frame of the switch\'s first output slot after a loss: the packed GOP and the live frames after it', async () => {
    // The transcoder keeps one frame per output slot, the `fps` filter the last one: a live frame a
    // few ms after the packed GOP, unmarked, took the switch's slot from the IDR and the packed frames.
    const slotFrames = async (frameRateCap: number | undefined) => {
      // The backup's frames arrive 15 ms after the primary's: its live frames land between the primary's.
      const r = rig({ keyframeMarks: true, keyframeIntervalMs: 2000, gopFrames: 25, backupLagMs: 15 });
      r.selector.frameRateCap = frameRateCap;
      await r.steps(34, 'primary', 'backup');
      for (let i = 0; i < 150 && r.selector.selected !== 'backup'; i++) await r.steps(1, 'backup');
      await r.steps(10, 'backup');
      const frames = r.frames();
      const first = frames.findIndex((f) => f.source === 'backup');
      const start = frames[first]!.ts;
      const slotMs = Math.max(FRAME_MS, frameRateCap === undefined ? 0 : 1000 / frameRateCap);
      const slot = frames.slice(first).filter((f) => f.ts < start + slotMs);
      expect(frames[first]!.key).toBe(true);
      expect(slot.slice(1).every((f) => f.marked)).toBe(true);
      // Packed (1 ms apart) and then live: a frame of each after the IDR in the slot.
      expect(slot.some((f, i) => i > 0 && f.ts - slot[i - 1]!.ts === 1)).toBe(true);
      expect(slot.some((f, i) => i > 0 && f.ts - slot[i - 1]!.ts > 1)).toBe(true);
      // After the slot, the marks follow the grid again: none on the backup's next frames.
      expect(frames.slice(first).filter((f) => f.ts >= start + slotMs && f.ts < start + slotMs + 3 * FRAME_MS && f.marked)).toEqual([]);
      return slot.length;
    };
    const input = await slotFrames(undefined);
    // A ladder capped at 10 fps makes 100 ms slots out of the 25 fps input: more frames to mark.
    expect(await slotFrames(10)).toBeGreaterThan(input);
  });

  it('markNextFrame makes the next frame a marked one, and the grid goes on', async () => {
    const r = rig({ keyframeMarks: true, keyframeIntervalMs: 1000, gopFrames: 1000 });
    await r.steps(10, 'primary');
    r.selector.markNextFrame();
    await r.steps(20, 'primary');
    const frames = r.frames();
    const start = frames[0]!.ts;
    expect(frames.filter((f) => f.marked).map((f) => f.ts - start)).toEqual([400, 1000]);
  });

  it('marks nothing when the mode is off', async () => {
    const r = rig({ keyframeMarks: false, keyframeIntervalMs: 1000, gopFrames: 1000 });
    await r.steps(60, 'primary');
    r.selector.markNextFrame();
    await r.steps(5, 'primary');
    expect(r.frames().filter((f) => f.marked)).toEqual([]);
  });
});
