/**
 * An encoder outage is filled with media (issue 15): while the encoder is down between two runs, the
 * channel's gap bridge lists real parts — the last keyframe held, and silence — stored before they are
 * named, in segments stored and listed as media, continuing each rendition's decode times; the next
 * run follows after one discontinuity. (GAP parts, listed before, stopped hls.js 10–40 s at about one
 * encoder restart in seven: it skips them in low-latency mode without tracking them.)
 *
 * Real ffmpeg output fed to a real `ChannelPackager` on disk storage; what it stored is read back and
 * decoded by ffmpeg.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MediaPlaylist } from '../../../src/hls/playlist-model.js';
import { serializeMediaPlaylist } from '../../../src/hls/playlist-serializer.js';
import { Fmp4Reader, type FragmentEvent } from '../../../src/mp4/fmp4-reader.js';
import { checkMediaPlaylist } from '../../helpers/hls/llhls-rules.js';
import type { LadderFixture } from '../../helpers/package/fixtures.js';
import { encodeStageMedia, memoryTempDir, STAGE_RENDITIONS, startPackagerStage } from '../../helpers/package/packager-stage.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let fixture: LadderFixture;
let dir: string;

beforeAll(async () => {
  fixture = await encodeStageMedia(3);
  dir = await memoryTempDir('livepipe-fill-');
}, 60_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Writes each output's init and its frames up to `seconds` of media, then ends the outputs (a crash). */
async function play(streams: PassThrough[], seconds: number): Promise<void> {
  const sources = [fixture.video[0]!, fixture.video[1]!, fixture.audio];
  streams.forEach((stream, i) => {
    const events = new Fmp4Reader().push(sources[i]!);
    for (const e of events) {
      if (e.type === 'init') stream.write(e.bytes);
      else if ((e.decodeTime + e.duration) / (sources[i] === fixture.audio ? 48000 : 15360) <= seconds) stream.write(e.bytes);
    }
  });
  await sleep(50);
  for (const s of streams) s.end();
}

describe('an encoder outage filled with a held picture and silence', () => {
  it('lists stored media parts and segments while the encoder is down, continuing each rendition\'s decode times; ffmpeg decodes run, fill and nothing else', async () => {
    const versions = new Map<string, MediaPlaylist[]>();
    const violations: string[] = [];
    const stage = await startPackagerStage({
      channel: 'fill', root: dir, dvrWindowSeconds: 30,
      onPlaylist: (_c, rendition, model) => {
        const copy = structuredClone(model);
        versions.set(rendition, [...(versions.get(rendition) ?? []), copy]);
        for (const v of checkMediaPlaylist(serializeMediaPlaylist(model))) violations.push(`${rendition}: ${v}`);
      },
    });
    const { packager } = stage;
    const first = STAGE_RENDITIONS.map(() => new PassThrough());
    packager.attachRun(stage.run(1, first));
    await play(first, 1.6);
    // The run crashed: the channel bridges until the restart's first media, ~1.5 s later.
    packager.bridgeEncoderGap();
    await sleep(1500);
    const second = STAGE_RENDITIONS.map(() => new PassThrough());
    packager.attachRun(stage.run(2, second));
    await play(second, 1.2);
    await stage.close();
    expect(violations).toEqual([]);

    for (const { name, kind } of STAGE_RENDITIONS) {
      const final = versions.get(name)!.at(-1)!;
      const firstRun = final.segments.filter((s) => s.mapUri === 'init-1.mp4');
      const secondRun = final.segments.filter((s) => s.mapUri === 'init-2.mp4');
      // Run 1's media (1.6 s: one segment and a short one), then the bridge: no GAP anywhere.
      expect(firstRun.length, name).toBeGreaterThanOrEqual(3);
      expect(final.segments.filter((s) => s.gap === true).map((s) => s.uri), name).toEqual([]);
      expect(secondRun[0]?.discontinuity, name).toBe(true);
      // Every fill part listed in any version was a real part (GAP=YES never appeared) and is stored.
      const bridgeParts = new Set<string>();
      for (const v of versions.get(name)!) {
        for (const s of [...v.segments, ...(v.pending ? [v.pending] : [])]) {
          if (s.mapUri !== 'init-1.mp4') continue;
          for (const p of s.parts) {
            expect(p.gap, `${name} ${p.uri}`).toBeUndefined();
            bridgeParts.add(p.uri);
          }
        }
      }
      for (const uri of bridgeParts) expect(existsSync(join(dir, 'live/fill', name, uri)), `${name} ${uri}`).toBe(true);

      // Run 1's stored segments, fill included, decode as one stream with continuous decode times.
      const init = await readFile(join(dir, 'live/fill', name, 'init-1.mp4'));
      const bodies = await Promise.all(firstRun.map((s) => readFile(join(dir, 'live/fill', name, s.uri))));
      const file = join(dir, `${name}.mp4`);
      await writeFile(file, Buffer.concat([init, ...bodies]));
      const { stderr } = await run('ffmpeg', ['-hide_banner', '-v', 'error', '-i', file, '-f', 'null', '-']);
      expect(stderr, name).toBe('');
      const fragments = new Fmp4Reader().push(new Uint8Array(Buffer.concat([init, ...bodies]))).filter((e): e is FragmentEvent => e.type === 'fragment');
      for (let i = 1; i < fragments.length; i++) {
        expect(fragments[i]!.decodeTime, `${name} fragment ${i}`).toBe(fragments[i - 1]!.decodeTime + fragments[i - 1]!.duration);
      }
      // The media lasts what the playlist says (audio: whole AAC frames, at most one frame more).
      const timescale = kind === 'audio' ? 48000 : 15360;
      const listed = firstRun.reduce((n, s) => n + s.duration, 0);
      const media = fragments.reduce((n, f) => n + f.duration, 0) / timescale;
      expect(media, name).toBeGreaterThanOrEqual(listed - 0.001);
      expect(media, name).toBeLessThanOrEqual(listed + 1024 / 48000 + 0.001);
      // ~1.5 s of bridge: at least one whole segment of fill after run 1's 1.6 s.
      expect(listed, name).toBeGreaterThan(2.6);
      if (kind === 'video') {
        // The held picture: every fill sample is a sync sample.
        const fill = fragments.filter((f) => f.decodeTime >= Math.round(1.6 * timescale));
        expect(fill.length, name).toBeGreaterThan(5);
        expect(fill.every((f) => f.samples.every((s) => s.isSync)), name).toBe(true);
      } else {
        // Silence after the tone: the bridge's last whole segment decodes to digital silence.
        const silent = join(dir, 'silent.mp4');
        await writeFile(silent, Buffer.concat([init, bodies.at(-2)!]));
        const { stderr: volume } = await run('ffmpeg', ['-hide_banner', '-i', silent, '-af', 'volumedetect', '-f', 'null', '-']);
        expect(volume).toMatch(/max_volume: -91\.0 dB/);
      }
    }
  }, 60_000);
});
