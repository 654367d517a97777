import { PassThrough, type Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { FlvTagReader } from '../../../src/ingest/flv-tag-reader.js';
import { flvFileHeader, muxFlvTag, FlvTagType, type FlvTag } from '../../../src/ingest/flv-tags.js';
import { InputSelector, type InputSwitch, type SlateClip } from '../../../src/ingest/input-selector.js';
import { firstFrameArrivedAt } from '../../../src/core/media-clock.js';

/** AVC video tag bodies: [frame type|codec 7][AVCPacketType][CTS×3][marker byte naming the source]. */
const avc = (key: boolean, marker: number) => Buffer.from([key ? 0x17 : 0x27, 1, 0, 0, 0, marker]);
const avcHeader = (marker: number) => Buffer.from([0x17, 0, 0, 0, 0, marker]);
const aac = (marker: number) => Buffer.from([0xaf, 1, marker]);
const aacHeader = Buffer.from([0xaf, 0, 0x11, 0x90]);

/** A fake input: an FLV byte stream the test writes tags into. */
function fakeInput(): { stream: PassThrough; tag(tag: FlvTag): void } {
  const stream = new PassThrough();
  stream.write(flvFileHeader(true, true));
  return { stream, tag: (tag) => stream.write(muxFlvTag(tag)) };
}

/** Collects the tags a selector output carries. */
function collect(stream: Readable): FlvTag[] {
  const reader = new FlvTagReader();
  const tags: FlvTag[] = [];
  stream.on('data', (chunk: Buffer) => tags.push(...reader.push(chunk)));
  return tags;
}

const flush = () => new Promise((r) => setImmediate(r));
const videoFrames = (tags: FlvTag[]) => tags.filter((t) => t.type === FlvTagType.Video && t.body[1] === 1);

const slate: SlateClip = {
  videoSequenceHeader: { type: FlvTagType.Video, timestamp: 0, body: avcHeader(0xee) },
  audioSequenceHeader: { type: FlvTagType.Audio, timestamp: 0, body: aacHeader },
  videoFrames: [avc(true, 0xee), avc(false, 0xee)],
  audioFrame: aac(0xee),
  frameMs: 40,
  audioFrameMs: 1024 / 48,
  width: 640,
  height: 360,
};

describe('InputSelector', () => {
  /** A selector on a fake clock, primary and backup sending 25 fps with a keyframe every 10 frames. */
  async function rig(options: { failback?: 'auto' | 'manual'; gopFrames?: number; keyframeIntervalMs?: number; inputLossMs?: number } = {}) {
    let now = 1_000_000;
    const switches: InputSwitch[] = [];
    const { gopFrames = 10, ...selectorOptions } = options;
    const selector = new InputSelector({ inputLossMs: 500, failbackMs: 2000, tickMs: 0, now: () => now, onSwitch: (e) => switches.push(e), ...selectorOptions });
    const primary = fakeInput();
    const backup = fakeInput();
    const base = { primary: 5000, backup: 90_000 };
    const frame = { primary: 0, backup: 0 };
    const marker = { primary: 0xaa, backup: 0xbb };
    selector.attach('primary', primary.stream);
    selector.attach('backup', backup.stream);
    for (const [name, input] of [['primary', primary], ['backup', backup]] as const) {
      input.tag({ type: FlvTagType.Video, timestamp: base[name], body: avcHeader(marker[name]) });
      input.tag({ type: FlvTagType.Audio, timestamp: base[name], body: aacHeader });
    }
    const outputStream = selector.open();
    const output = collect(outputStream);
    /** Advances the clock by one frame (40 ms); the named inputs send a frame and an audio frame. */
    const step = async (...sending: Array<'primary' | 'backup'>) => {
      now += 40;
      for (const name of sending) {
        const input = name === 'primary' ? primary : backup;
        const n = frame[name]++;
        const ts = base[name] + n * 40;
        input.tag({ type: FlvTagType.Video, timestamp: ts, body: avc(n % gopFrames === 0, marker[name]) });
        input.tag({ type: FlvTagType.Audio, timestamp: ts, body: aac(marker[name]) });
      }
      await flush();
      selector.tick();
    };
    const steps = async (count: number, ...sending: Array<'primary' | 'backup'>) => {
      for (let i = 0; i < count; i++) await step(...sending);
    };
    /** Steps until `selected` is `target` (at most 10 s), then `after` more. */
    const stepsUntil = async (target: string, after: number, ...sending: Array<'primary' | 'backup'>) => {
      for (let i = 0; i < 250 && selector.selected !== target; i++) await step(...sending);
      expect(selector.selected).toBe(target);
      await steps(after, ...sending);
    };
    const flushAndTick = async () => {
      await flush();
      selector.tick();
    };
    return { selector, switches, output, outputStream, step, steps, stepsUntil, flushAndTick, primary, backup, advance: (ms: number) => (now += ms), now: () => now };
  }

  it('plays the primary, switches to the backup at a keyframe when the primary is lost, and fails back once it is healthy again', async () => {
    const r = await rig();
    await r.steps(20, 'primary', 'backup');
    expect(r.selector.selected).toBe('primary');
    // The primary stops; 500 ms later the backup plays from its latest keyframe, after its sequence headers.
    const before = r.output.length;
    await r.steps(15, 'backup');
    expect(r.selector.selected).toBe('backup');
    expect(r.switches.map((s) => [s.from, s.to, s.reason])).toEqual([
      ['none', 'primary', 'first-input'],
      ['primary', 'backup', 'input-lost'],
    ]);
    const after = r.output.slice(before);
    const firstBackup = after.findIndex((t) => t.body.at(-1) === 0xbb);
    expect(after[firstBackup]!.body[0]).toBe(0x17); // the video sequence header first…
    expect(after[firstBackup]!.body[1]).toBe(0);
    const firstBackupFrame = after.find((t) => t.type === FlvTagType.Video && t.body[1] === 1 && t.body.at(-1) === 0xbb)!;
    expect(firstBackupFrame.body[0]).toBe(0x17); // …then a keyframe
    // The primary comes back: not before it has been healthy for 2 s, then the selector fails back.
    await r.steps(40, 'primary', 'backup');
    expect(r.selector.selected).toBe('backup');
    await r.steps(20, 'primary', 'backup');
    expect(r.selector.selected).toBe('primary');
    expect(r.switches.at(-1)).toMatchObject({ from: 'backup', to: 'primary', reason: 'failback' });
    expect(r.selector.status().switches).toBe(2);
  });

  it('keeps the output timeline continuous and following the clock across switches', async () => {
    const r = await rig();
    await r.steps(20, 'primary', 'backup');
    await r.steps(20, 'backup');
    await r.steps(60, 'primary', 'backup');
    const video = videoFrames(r.output);
    for (let i = 1; i < video.length; i++) expect(video[i]!.timestamp).toBeGreaterThan(video[i - 1]!.timestamp);
    const audio = r.output.filter((t) => t.type === FlvTagType.Audio && t.body[1] === 1);
    for (let i = 1; i < audio.length; i++) expect(audio[i]!.timestamp).toBeGreaterThan(audio[i - 1]!.timestamp);
    // 100 frames of 40 ms passed on the clock: the output spans about that (± one GOP of placement).
    const span = video.at(-1)!.timestamp - video[0]!.timestamp;
    expect(span).toBeGreaterThan(100 * 40 - 600);
    expect(span).toBeLessThan(100 * 40 + 600);
  });

  /**
   * Fifty outages of the primary, each at a different point of both inputs' 2 s GOPs (so the
   * backup's cached keyframe is often older than the outage), each followed by a failback. After
   * every step the newest output frame may not be ahead of the wall clock by more than the packing
   * of one GOP (50 frames × 1 ms) plus a frame; once an input has played for a second, the output
   * may not lag the clock by more than a frame and its jitter either. Before the fix every switch
   * to a stale keyframe moved the timeline ahead by the keyframe's age, adding up over switches.
   */
  it.each([
    ['at once', undefined],
    ['on a 1 s keyframe grid', 1000],
  ])('keeps the output timeline on the wall clock over many switches (switching %s)', async (_name, keyframeIntervalMs) => {
    const r = await rig({ gopFrames: 50, ...(keyframeIntervalMs !== undefined ? { keyframeIntervalMs } : {}) });
    const leads: number[] = [];
    const settledLags: number[] = [];
    let lastSwitches = 0;
    let settledSince = 0;
    /** After every step; `delivering`: the selected input sent a frame in it. */
    const observe = (delivering = true) => {
      const wall = r.selector.wallOut();
      if (wall === undefined) return;
      const lead = r.selector.lastVideoTimestamp - wall;
      leads.push(lead);
      if (r.switches.length !== lastSwitches) {
        lastSwitches = r.switches.length;
        settledSince = r.now() + 1000;
      } else if (delivering && r.now() >= settledSince && r.selector.status().pending === undefined) settledLags.push(-lead);
    };
    await r.step('primary', 'backup');
    // The packager reads the run's PDT anchor: the wall-clock time of its first frame (this step's).
    expect(firstFrameArrivedAt(r.outputStream)).toBe(r.now());
    let seed = 7;
    const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
    for (let outage = 0; outage < 50; outage++) {
      for (let i = 0, n = 20 + Math.floor(random() * 60); i < n; i++) {
        await r.step('primary', 'backup');
        observe();
      }
      // The primary is lost: the backup takes over (after 500 ms, then up to the next grid point).
      for (let i = 0, n = 30 + Math.floor(random() * 40); i < n; i++) {
        await r.step('backup');
        observe(r.selector.selected === 'backup');
      }
      expect(r.selector.selected).toBe('backup');
      // It returns: failback after 2 s of health (then up to the next grid point).
      for (let i = 0; i < 90; i++) {
        await r.step('primary', 'backup');
        observe();
      }
      expect(r.selector.selected).toBe('primary');
    }
    expect(r.selector.status().switches).toBe(100);
    expect(Math.max(...leads)).toBeLessThanOrEqual(50 + 40);
    expect(settledLags.length).toBeGreaterThan(1000);
    expect(Math.max(...settledLags)).toBeLessThanOrEqual(40);
    // The timestamps only go forward.
    const video = videoFrames(r.output);
    for (let i = 1; i < video.length; i++) expect(video[i]!.timestamp).toBeGreaterThan(video[i - 1]!.timestamp);
  });

  it('takes a start-up burst (an SRT remux writing its probed seconds at once) as late, not as ahead of the clock', async () => {
    let now = 2_000_000;
    const selector = new InputSelector({ tickMs: 0, now: () => now });
    const input = fakeInput();
    selector.attach('primary', input.stream);
    const stream = selector.open();
    collect(stream);
    input.tag({ type: FlvTagType.Video, timestamp: 0, body: avcHeader(0xaa) });
    // 3 s of frames arrive at once, then one every 40 ms.
    for (let n = 0; n < 75; n++) input.tag({ type: FlvTagType.Video, timestamp: n * 40, body: avc(n % 25 === 0, 0xaa) });
    await flush();
    for (let n = 75; n < 100; n++) {
      now += 40;
      input.tag({ type: FlvTagType.Video, timestamp: n * 40, body: avc(n % 25 === 0, 0xaa) });
      await flush();
      expect(selector.lastVideoTimestamp - selector.wallOut()!).toBeLessThanOrEqual(0);
    }
    // The first frame (timestamp 0) came 3 s before the burst's end: that is its place on the clock.
    expect(firstFrameArrivedAt(stream)).toBe(2_000_000 - 74 * 40);
  });

  it('lands every switch on the forced-keyframe grid of the run, with the new input\'s keyframe first and nothing of the old input from there on', async () => {
    // A 500 ms grid: every outage (inputLossMs 500) spans a grid time, so lost inputs land on it too.
    const r = await rig({ gopFrames: 25, keyframeIntervalMs: 500 });
    r.selector.setSlate(slate);
    const marks = { 0xaa: 'primary', 0xbb: 'backup', 0xee: 'slate' } as Record<number, string>;
    await r.steps(30, 'primary', 'backup');
    await r.stepsUntil('backup', 7, 'backup'); // lost → backup
    await r.stepsUntil('primary', 13, 'primary', 'backup'); // failback
    await r.stepsUntil('slate', 3); // both lost → slate
    await r.stepsUntil('backup', 11, 'backup'); // → backup
    r.selector.force('slate');
    await r.stepsUntil('slate', 17, 'backup');
    r.selector.force('backup');
    await r.stepsUntil('backup', 10, 'backup');
    expect(r.switches.map((s) => s.to)).toEqual(['primary', 'backup', 'primary', 'slate', 'backup', 'slate', 'backup']);
    const video = videoFrames(r.output);
    // The run's start: its first frame (the output's first audio comes with or after it here).
    const origin = video[0]!.timestamp;
    expect(r.switches.filter((s) => s.from === 'slate').length).toBe(2);
    for (const s of r.switches.slice(1)) {
      expect((s.point! - origin) % 500).toBe(0);
      // Never ahead of the clock at the switch (the clock's output position at the commit).
      expect(s.point!).toBeLessThanOrEqual(r.selector.wallOut(s.at)!);
      const at = video.findIndex((t) => t.timestamp + (t.body.readIntBE(2, 3) ?? 0) >= s.point!);
      const first = video[at]!;
      expect(first.timestamp).toBe(s.point);
      expect(first.body[0]).toBe(0x17); // a keyframe…
      expect(marks[first.body.at(-1)!]).toBe(s.to); // …of the new selection
      // Every frame before the point belongs to the old selection, none after it.
      expect(marks[video[at - 1]!.body.at(-1)!]).toBe(s.from);
      const next = r.switches[r.switches.indexOf(s) + 1];
      const upTo = next === undefined ? video.length : video.findIndex((t) => t.timestamp >= next.point!);
      expect(video.slice(at, upTo).every((t) => marks[t.body.at(-1)!] === s.to)).toBe(true);
    }
    // The audio has no hole, whether a lost input's outage spans a grid time (silence up to the
    // point) or not (silence while the switch waits): one 40 ms source frame plus a silent frame at most.
    const audio = r.output.filter((t) => t.type === FlvTagType.Audio && t.body[1] === 1);
    const gaps = audio.slice(1).map((t, i) => t.timestamp - audio[i]!.timestamp);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(40 + 22);
  });

  it('waits for the grid after a lost input, filling up to the point with the old input\'s last keyframe and silence, then starts the backup there with a keyframe', async () => {
    const r = await rig({ keyframeIntervalMs: 2000 });
    // The primary's last frame 40 ms after a grid time: the loss is seen 500 ms later, the next grid
    // time is 1.5 s after that.
    await r.steps(52, 'primary', 'backup');
    const lostAt = r.now();
    await r.stepsUntil('backup', 10, 'backup');
    const lost = r.switches.at(-1)!;
    expect(lost).toMatchObject({ from: 'primary', to: 'backup', reason: 'input-lost' });
    // The switch latency is counted from the primary's last real frame, not from the fillers.
    expect(lost.lastFrameAt).toBe(lostAt);
    const video = videoFrames(r.output);
    const origin = video[0]!.timestamp;
    expect((lost.point! - origin) % 2000).toBe(0);
    expect(lost.point!).toBeLessThanOrEqual(r.selector.wallOut(lost.at)!);
    const at = video.findIndex((t) => t.timestamp >= lost.point!);
    expect(video[at]!.timestamp).toBe(lost.point);
    expect(video[at]!.body[0]).toBe(0x17);
    expect(video[at]!.body.at(-1)).toBe(0xbb);
    // Before it, after the primary's last frame: its last keyframe (0x17, 0xaa) repeated, one a frame
    // interval or two, up to a whole frame before the point.
    const lastReal = video.findLastIndex((t, i) => i < at && t.body[0] === 0x27);
    const fillers = video.slice(lastReal + 1, at);
    expect(fillers.length).toBeGreaterThan(5);
    expect(fillers.every((t) => t.body[0] === 0x17 && t.body.at(-1) === 0xaa)).toBe(true);
    for (let i = 1; i < fillers.length; i++) expect(fillers[i]!.timestamp - fillers[i - 1]!.timestamp).toBeLessThanOrEqual(80);
    expect(lost.point! - fillers.at(-1)!.timestamp).toBeGreaterThanOrEqual(40);
    // The audio has no hole: silent AAC-LC stereo frames (hls.js's bytes) up to the backup's audio.
    const audio = r.output.filter((t) => t.type === FlvTagType.Audio && t.body[1] === 1 && t.timestamp >= video[lastReal]!.timestamp && t.timestamp < lost.point! + 200);
    // (Silent frames are 21.3 ms; the rig's sources send one audio frame per 40 ms video frame.)
    for (let i = 1; i < audio.length; i++) expect(audio[i]!.timestamp - audio[i - 1]!.timestamp).toBeLessThanOrEqual(audio[i]!.timestamp < lost.point! ? 41 : 40 + 22);
    const silent = audio.filter((t) => t.body.subarray(2).equals(Buffer.from([0x21, 0x00, 0x49, 0x90, 0x02, 0x19, 0x00, 0x23, 0x80])));
    expect(silent.length).toBeGreaterThan(20);
    expect(silent.every((t) => t.timestamp < lost.point!)).toBe(true);
  });

  it('resumes an input that comes back while its switch waits for the grid at its next keyframe, after the fillers', async () => {
    const r = await rig({ keyframeIntervalMs: 2000 });
    await r.steps(52, 'primary', 'backup');
    await r.steps(18, 'backup'); // lost after 500 ms; the switch to the backup waits for the next grid time
    expect(r.selector.status().pending).toBe('backup');
    const before = videoFrames(r.output).length;
    // The primary is back before the point (frames 52…71 of its timeline, keyframes at 60 and 70),
    // its frames marked 0xab (inter) and 0xac (key) to tell them from the fillers (0xaa keyframes).
    for (let n = 52; n < 72; n++) {
      r.primary.tag({ type: FlvTagType.Video, timestamp: 5000 + n * 40, body: avc(n % 10 === 0, n % 10 === 0 ? 0xac : 0xab) });
      await r.step('backup');
    }
    expect(r.selector.selected).toBe('primary');
    expect(r.selector.status().pending).toBeUndefined();
    const after = videoFrames(r.output).slice(before);
    const resumed = after.filter((t) => t.body.at(-1) === 0xab || t.body.at(-1) === 0xac);
    // Frames 52…59 refer to pictures the decoder lost at the filler keyframes: dropped.
    expect(resumed.map((t) => t.body.at(-1))).toEqual([0xac, ...Array(9).fill(0xab), 0xac, 0xab]);
  });

  /**
   * A pulled HLS source delivers one segment at a time: here 2 s of frames at once every 2 s, the
   * same period as the keyframe grid, and healthy only for inputLossMs (1 s) after each burst. The
   * slate's switch to it is decided at a burst and waits for the next grid time, 1.6 s later: the
   * source is between bursts there. Before the fix the pending switch was dropped once the source
   * looked unhealthy and decided again at the next burst — at the same phase, every time: the slate
   * played for good (the e2e's pulled backup, 3 runs of 5).
   */
  it('leaves the slate on the grid for a source that delivers in bursts in phase with it', async () => {
    const r = await rig({ keyframeIntervalMs: 2000, inputLossMs: 1000 });
    r.selector.setSlate(slate);
    await r.steps(25, 'primary');
    await r.stepsUntil('slate', 0);
    const origin = videoFrames(r.output)[0]!.timestamp;
    // 400 ms after a grid time, then every 2 s: a burst of 50 frames (a 2 s segment, one GOP).
    let ts = 0;
    let nextBurst = -1;
    for (let i = 0; i < 300 && r.selector.selected === 'slate'; i++) {
      await r.step();
      const phase = (((r.selector.wallOut()! - origin) % 2000) + 2000) % 2000;
      if (nextBurst < 0 && phase >= 400 && phase < 440) nextBurst = r.now();
      if (nextBurst < 0 || r.now() < nextBurst) continue;
      nextBurst += 2000;
      for (let n = 0; n < 50; n++, ts += 40) r.backup.tag({ type: FlvTagType.Video, timestamp: 90_000 + ts, body: avc(n === 0, 0xbb) });
      await r.flushAndTick();
    }
    expect(r.selector.selected).toBe('backup');
    const left = r.switches.at(-1)!;
    expect(left).toMatchObject({ from: 'slate', to: 'backup', reason: 'input-returned' });
    expect((left.point! - origin) % 2000).toBe(0);
    const first = videoFrames(r.output).find((t) => t.timestamp >= left.point!)!;
    expect(first.timestamp).toBe(left.point);
    expect(first.body[0]).toBe(0x17);
    expect(first.body.at(-1)).toBe(0xbb);
  });

  it('keeps the old input playing until the switch point of a failback, then switches there', async () => {
    const r = await rig({ keyframeIntervalMs: 2000 });
    await r.steps(20, 'primary', 'backup');
    await r.stepsUntil('backup', 0, 'backup');
    // The primary returns; once healthy for 2 s the failback is decided and waits for its grid
    // point (at most 2 s more), the backup playing on.
    let pendingSteps = 0;
    for (let i = 0; i < 150 && r.selector.selected === 'backup'; i++) {
      await r.step('primary', 'backup');
      if (r.selector.status().pending === 'primary') pendingSteps += 1;
    }
    expect(r.selector.selected).toBe('primary');
    const failback = r.switches.at(-1)!;
    expect(failback.reason).toBe('failback');
    const video = videoFrames(r.output);
    const before = video.filter((t) => t.timestamp < failback.point!);
    // The backup's frames run up to one frame before the switch point: no frozen gap.
    expect(before.at(-1)!.body.at(-1)).toBe(0xbb);
    expect(failback.point! - before.at(-1)!.timestamp).toBeLessThanOrEqual(40);
    expect(pendingSteps).toBeLessThanOrEqual(50);
  });

  it('plays the slate, paced by the clock, when no input is healthy, and returns to an input that comes back', async () => {
    const r = await rig();
    r.selector.setSlate(slate);
    await r.steps(20, 'primary');
    await r.steps(25); // nothing for a second
    expect(r.selector.selected).toBe('slate');
    const slateFrames = videoFrames(r.output).filter((t) => t.body.at(-1) === 0xee);
    // ~500 ms of slate at 40 ms a frame: about a dozen frames, not a burst.
    expect(slateFrames.length).toBeGreaterThanOrEqual(8);
    expect(slateFrames.length).toBeLessThanOrEqual(16);
    expect(r.output.some((t) => t.type === FlvTagType.Audio && t.body.at(-1) === 0xee)).toBe(true);
    await r.steps(12, 'primary');
    expect(r.selector.selected).toBe('primary');
    expect(r.switches.at(-1)).toMatchObject({ from: 'slate', to: 'primary', reason: 'input-returned' });
  });

  it('switches away at once when the active input ends, and holds a manual failback', async () => {
    const r = await rig({ failback: 'manual' });
    await r.steps(20, 'primary', 'backup');
    r.selector.detach('primary');
    expect(r.selector.selected).toBe('backup');
    expect(r.switches.at(-1)?.reason).toBe('input-ended');
    const primary = fakeInput();
    r.selector.attach('primary', primary.stream);
    for (let i = 0; i < 80; i++) {
      primary.tag({ type: FlvTagType.Video, timestamp: i * 40, body: avc(i % 10 === 0, 0xaa) });
      await r.step('backup');
    }
    expect(r.selector.selected).toBe('backup'); // manual: the primary waits for the operator
    r.selector.force('primary');
    expect(r.selector.selected).toBe('primary');
  });

  it('refuses to force an input that is not healthy, or a slate that is not ready', async () => {
    const r = await rig();
    await r.steps(20, 'primary');
    expect(() => r.selector.force('backup')).toThrow(/backup is not healthy/);
    expect(() => r.selector.force('slate')).toThrow(/no slate/);
    r.selector.setSlate(slate);
    r.selector.force('slate');
    await r.steps(20, 'primary');
    expect(r.selector.selected).toBe('slate'); // a forced slate stays while inputs are healthy
    expect(r.selector.status().forced).toBe('slate');
  });

  it('starts a new output at the active input\'s keyframe with its sequence headers', async () => {
    const r = await rig();
    await r.steps(15, 'primary');
    const late = collect(r.selector.open());
    await flush();
    expect(late[0]!.body).toEqual(avcHeader(0xaa));
    expect(videoFrames(late)[0]!.body[0]).toBe(0x17);
  });
});

describe('FlvTagReader', () => {
  it('cuts a muxed stream back into its tags, whatever the chunking', () => {
    const tags: FlvTag[] = [
      { type: FlvTagType.Video, timestamp: 0x12345678, body: avc(true, 1) },
      { type: FlvTagType.Audio, timestamp: 7, body: aac(2) },
    ];
    const bytes = Buffer.concat([flvFileHeader(true, true), ...tags.map(muxFlvTag)]);
    for (const size of [1, 7, 64, bytes.length]) {
      const reader = new FlvTagReader();
      const out: FlvTag[] = [];
      for (let i = 0; i < bytes.length; i += size) out.push(...reader.push(bytes.subarray(i, i + size)));
      expect(out).toEqual(tags);
    }
  });

  it('refuses a stream that is not FLV', () => {
    expect(() => new FlvTagReader().push(Buffer.from('GIF89a-not-flv'))).toThrow(/not an FLV/);
  });
});

describe('InputSelector audio far ahead of the clock', () => {
  it("drops an input's audio running far ahead of its video, so the next input's audio is not taken for out of order", async () => {
    let now = 1_000_000;
    const selector = new InputSelector({ inputLossMs: 500, tickMs: 0, now: () => now });
    const pulled = fakeInput();
    const pushed = fakeInput();
    selector.attach('backup', pulled.stream);
    selector.attach('primary', pushed.stream);
    const output = collect(selector.open());
    for (const input of [pulled, pushed]) {
      input.tag({ type: FlvTagType.Video, timestamp: 0, body: avcHeader(1) });
      input.tag({ type: FlvTagType.Audio, timestamp: 0, body: aacHeader });
    }
    // The backup alone first: its audio 60 s ahead of its video (another timeline).
    for (let n = 0; n < 10; n++) {
      now += 40;
      pulled.tag({ type: FlvTagType.Video, timestamp: n * 40, body: avc(n === 0, 0xbb) });
      pulled.tag({ type: FlvTagType.Audio, timestamp: 60_000 + n * 40, body: aac(0xbb) });
      await flush();
      selector.tick();
    }
    expect(selector.selected).toBe('backup');
    // The primary is lost-free and preferred: the selector switches to it; its audio must go out.
    for (let n = 0; n < 30; n++) {
      now += 40;
      pushed.tag({ type: FlvTagType.Video, timestamp: n * 40, body: avc(n % 10 === 0, 0xaa) });
      pushed.tag({ type: FlvTagType.Audio, timestamp: n * 40, body: aac(0xaa) });
      await flush();
      selector.tick();
    }
    expect(selector.selected).toBe('primary');
    const audio = output.filter((t) => t.type === FlvTagType.Audio && t.body[1] === 1);
    expect(audio.filter((t) => t.body[2] === 0xbb)).toEqual([]);
    expect(audio.filter((t) => t.body[2] === 0xaa).length).toBeGreaterThan(10);
    selector.close();
  });
});
