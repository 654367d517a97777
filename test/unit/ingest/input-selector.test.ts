import { PassThrough, type Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { FlvTagReader } from '../../../src/ingest/flv-tag-reader.js';
import { flvFileHeader, muxFlvTag, FlvTagType, type FlvTag } from '../../../src/ingest/flv-tags.js';
import { InputSelector, type InputSwitch, type SlateClip } from '../../../src/ingest/input-selector.js';

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
  async function rig(options: { failback?: 'auto' | 'manual' } = {}) {
    let now = 1_000_000;
    const switches: InputSwitch[] = [];
    const selector = new InputSelector({ inputLossMs: 500, failbackMs: 2000, tickMs: 0, now: () => now, onSwitch: (e) => switches.push(e), ...options });
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
    const output = collect(selector.open());
    /** Advances the clock by one frame (40 ms); the named inputs send a frame and an audio frame. */
    const step = async (...sending: Array<'primary' | 'backup'>) => {
      now += 40;
      for (const name of sending) {
        const input = name === 'primary' ? primary : backup;
        const n = frame[name]++;
        const ts = base[name] + n * 40;
        input.tag({ type: FlvTagType.Video, timestamp: ts, body: avc(n % 10 === 0, marker[name]) });
        input.tag({ type: FlvTagType.Audio, timestamp: ts, body: aac(marker[name]) });
      }
      await flush();
      selector.tick();
    };
    const steps = async (count: number, ...sending: Array<'primary' | 'backup'>) => {
      for (let i = 0; i < count; i++) await step(...sending);
    };
    return { selector, switches, output, step, steps, primary, backup, advance: (ms: number) => (now += ms) };
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
