/**
 * Renditions stay in step across any sequence of transcoder runs (issue 15, point 3): a segment has
 * the same media sequence number in every rendition, audio included, however the runs end — an
 * operator restart (the next run attached at once), a crash (the gap bridge lists GAP parts until
 * the next run has media), a stop (EXT-X-ENDLIST, then a new run) — and however much of its output
 * each rendition had written when its run ended (none, the init segment only, part of a segment,
 * audio ahead of video).
 *
 * The runs are synthetic: real ffmpeg output (one lavfi encode, as the transcoder writes it) cut at
 * random points and fed through `PassThrough` streams to a real `ChannelPackager`, with a seeded
 * random schedule, so that hundreds of runs take seconds and a failure names its seed. Every version
 * of every rendition is checked as a viewer polling them sees it (each rendition's newest version
 * together, `RenditionSetChecker`) and over the whole stream (an msn never stands for two starts).
 *
 * What it found (issue 15): the gap bridge numbered renditions apart — it started each rendition's
 * bridge from that rendition's own position, so one left a segment behind by the failed run (its
 * output ended before its media was listed) bridged under other msns and dates, and renditions that
 * had no run yet were not bridged at all; and a rendition whose only segments were gaps started its
 * next run without the EXT-X-DISCONTINUITY the others had. Operator restarts alone kept the numbering.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serializeMediaPlaylist } from '../../../src/hls/playlist-serializer.js';
import { checkMediaPlaylist, parseWithM3u8Parser, RenditionSetChecker } from '../../helpers/hls/llhls-rules.js';
import { encodeStageMedia, memoryTempDir, STAGE_RENDITIONS, startPackagerStage } from '../../helpers/package/packager-stage.js';
import { readAll } from '../../helpers/package/pipeline.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** mulberry32: a small seeded generator, so a failing schedule can be replayed from its seed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface OutputMedia {
  name: string;
  kind: 'video' | 'audio';
  init: Uint8Array;
  /** Frames in decode order: end time (s) and bytes (moof + mdat). */
  frames: Array<{ end: number; bytes: Uint8Array }>;
}

let media: OutputMedia[];
let dir: string;

beforeAll(async () => {
  const fixture = await encodeStageMedia(5);
  const bytes = [fixture.video[0]!, fixture.video[1]!, fixture.audio];
  media = STAGE_RENDITIONS.map((r, i) => {
    const { track, fragments, init } = readAll(bytes[i]!);
    return { name: r.name, kind: r.kind, init, frames: fragments.map((f) => ({ end: (f.decodeTime + f.duration) / track.timescale, bytes: f.bytes })) };
  });
  dir = await memoryTempDir('livepipe-in-step-');
}, 60_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** How a run ends, and what the channel does next (see `Channel`). */
type Ending = 'restart' | 'crash' | 'stop';

/**
 * One run's outputs, written as ffmpeg would: frames interleaved by time (audio `audioLead` s ahead),
 * each output stopping at its own point (`cut`: media seconds it got out before the run died; below 0
 * not even its init segment), in small random chunks with the event loop turning in between.
 */
async function playRun(random: () => number, outputs: Array<{ media: OutputMedia; stream: PassThrough; cut: number }>, audioLead: number): Promise<void> {
  const items: Array<{ at: number; stream: PassThrough; bytes: Uint8Array }> = [];
  for (const o of outputs) {
    if (o.cut < 0) continue;
    const lead = o.media.kind === 'audio' ? audioLead : 0;
    items.push({ at: -1, stream: o.stream, bytes: o.media.init });
    for (const f of o.media.frames) if (f.end <= o.cut) items.push({ at: f.end - lead, stream: o.stream, bytes: f.bytes });
  }
  items.sort((a, b) => a.at - b.at);
  for (const item of items) {
    // A pipe read may end anywhere in a box.
    const split = random() < 0.2 ? Math.floor(random() * item.bytes.byteLength) : 0;
    if (split > 0) item.stream.write(item.bytes.subarray(0, split));
    item.stream.write(item.bytes.subarray(split));
    if (random() < 0.15) await new Promise((r) => setImmediate(r));
    if (random() < 0.02) await sleep(1 + random() * 20);
  }
  // The outputs end in any order, a little apart.
  for (const o of [...outputs].sort(() => random() - 0.5)) {
    o.stream.end();
    if (random() < 0.3) await sleep(random() * 5);
  }
}

interface Schedule {
  runs: number;
  /** Chance that a run dies almost at once (before or just after its first output). */
  early: number;
  /** Chances that a run ends in a crash, or in a stop; else an operator restart. */
  crash: number;
  stop: number;
}

async function exercise(seed: number, schedule: Schedule): Promise<string[]> {
  const random = seeded(seed);
  const names = media.map((m) => m.name);
  /** Every version of every rendition: an msn never stands for different media in two renditions. */
  const history = new RenditionSetChecker();
  /** Each rendition's newest version, as a viewer polling every rendition sees them. */
  const latest = new Map<string, Record<string, any>>();
  const violations: string[] = [];
  // In memory (/dev/shm), written inline: this test is about numbering, not storage latency.
  const stage = await startPackagerStage({
    channel: 'step',
    root: join(dir, String(seed)),
    // The shortest window (6 × TARGETDURATION) keeps the playlists checked at every change short.
    dvrWindowSeconds: 6,
    onPlaylist: (_channel, rendition, model) => {
      const text = serializeMediaPlaylist(model);
      const manifest = parseWithM3u8Parser(text).manifest;
      history.addManifest(rendition, manifest);
      latest.set(rendition, manifest);
      // The full rule check at segment boundaries (every version would triple the test's time).
      if (model.pending === undefined) for (const v of checkMediaPlaylist(text)) violations.push(`${rendition}: ${v}`);
      const now = new RenditionSetChecker();
      for (const [name, m] of latest) now.addManifest(name, m);
      for (const v of now.violations()) violations.push(`in step: ${v}`);
    },
  });
  const { packager } = stage;
  let previous: { ending: Ending; played: Promise<void> } | undefined;
  for (let runId = 1; runId <= schedule.runs; runId++) {
    const outputs = media.map((m) => ({ media: m, stream: new PassThrough(), cut: 0 }));
    const stopAt = random() < schedule.early ? random() * 0.4 - 0.2 : random() * 2.5;
    for (const o of outputs) o.cut = stopAt + (o.media.kind === 'audio' ? random() * 0.3 : random() * 0.3 - 0.2);
    // `media` follows STAGE_RENDITIONS: the outputs are in the run's order.
    const run = stage.run(runId, outputs.map((o) => o.stream));
    // A new run is spawned only once the last one's process is gone: its outputs have all ended.
    await previous?.played;
    if (previous?.ending === 'crash') {
      // The supervisor reports `restarting`; the channel bridges the gap; the restart comes after its delay.
      packager.bridgeEncoderGap();
      await sleep(random() * 350);
    } else if (previous?.ending === 'stop') {
      await packager.endStream();
      await sleep(random() * 50);
    }
    packager.attachRun(run);
    const draw = random();
    const ending: Ending = draw < schedule.crash ? 'crash' : draw < schedule.crash + schedule.stop ? 'stop' : 'restart';
    previous = { ending, played: playRun(random, outputs, 0.1 + random() * 0.2) };
  }
  await previous?.played;
  await stage.close();
  violations.push(...history.violations());
  if (latest.size !== names.length) violations.push(`only ${[...latest.keys()].join(', ')} listed anything`);
  return [...new Set(violations)].map((v) => `seed ${seed}: ${v}`);
}

describe('renditions in step across runs that end anywhere', () => {
  it.each([
    ['operator restarts', { runs: 20, early: 0.3, crash: 0, stop: 0 }],
    ['operator restarts, crashes and stops', { runs: 20, early: 0.3, crash: 0.4, stop: 0.06 }],
    ['runs that die at once, before or just after their first output', { runs: 20, early: 0.8, crash: 0.4, stop: 0.06 }],
  ] as const)('%s', async (_name, schedule) => {
    const violations: string[] = [];
    for (let seed = 1; seed <= 3; seed++) violations.push(...(await exercise(seed * 7919 + schedule.runs + Math.round(schedule.early * 100), schedule)));
    expect(violations).toEqual([]);
  }, 120_000);
});
