/**
 * Keyframe marks through a real `serve` (`keyframes: marked`, the `constrained-marked` ladder: 2 s
 * GOP and segments): an RTMP primary with a 10 s GOP and a grey RTMP backup (`hue=s=0`) on a channel
 * with inputs. Every stored 360p segment starts with a keyframe although the primary sends one IDR
 * per 10 s (the selector's grid marks); the operator's switch to the primary is made at once (never
 * `pending` for a grid point) and keyed at its first frame; the switches to the backup when the
 * primary leaves and when a primary freezes (the loss detector) are made at once too, and keyed at
 * their first frames.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { watchStoredSegments } from '../helpers/hls/stored-segments.js';
import { startServeFixture, type ServeFixture } from '../helpers/serve/serve-fixture.js';
import { videoFrameStats } from '../helpers/transcode/media.js';
import { waitFor } from '../helpers/wait.js';

const KEY = 'marks-key-0123456789';

describe('keyframe marks (serve, constrained-marked)', () => {
  let serve: ServeFixture;
  let dir: string;
  const view = async () => (await serve.api('GET', '/api/v1/channels/km')).json;
  const inputOf = (v: { input?: { inputs?: Array<{ role: string; healthy: boolean }> } } | undefined, role: string) => v?.input?.inputs?.find((i) => i.role === role);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'livepipe-marks-e2e-'));
    serve = await startServeFixture({ channels: [{ id: 'km', key: KEY, ladder: 'constrained-marked', inputs: { inputLossMs: 600, failback: 'manual', slateSeconds: 120 } }] });
  }, 60_000);

  afterAll(async () => {
    await serve?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('keeps a keyframe at every segment start from a 10 s-GOP primary; switches are made at once', async () => {
    const primary = serve.publish(serve.rtmpUrl('km', KEY), 'flv', { seconds: 600, outputOptions: ['-g', '300'] });
    serve.publish(`${serve.rtmpUrl('km', KEY)}&role=backup`, 'flv', { seconds: 600, outputOptions: ['-vf', 'hue=s=0'] });
    await waitFor(async () => (inputOf(await view(), 'primary')?.healthy && inputOf(await view(), 'backup')?.healthy ? true : undefined), { timeoutMs: 60_000, message: 'both inputs healthy' });
    // Whichever connected first plays (failback manual): the primary is forced (it stays until it is lost).
    expect((await serve.api('POST', '/api/v1/channels/km/input', { input: 'primary' })).status).toBe(200);
    await waitFor(async () => ((await view())?.input?.active === 'primary' ? true : undefined), { timeoutMs: 30_000, message: 'the primary plays' });

    // The 360p segments as they are listed (they leave storage soon after they leave the playlist), and the LL-HLS rules on every read.
    let sawPending = false;
    const watch = watchStoredSegments(`${serve.live('km')}/360p/playlist.m3u8`, {
      onRead: async () => {
        if ((await view())?.input?.pending !== undefined) sawPending = true;
      },
    });
    const segmentCount = () => watch.mediaCount();
    const segmentsMore = async (count: number, message: string) => {
      const from = segmentCount();
      await waitFor(async () => (segmentCount() >= from + count ? true : undefined), { timeoutMs: 60_000, message });
    };
    let frozen: typeof primary | undefined;
    try {
      await waitFor(async () => (segmentCount() >= 4 ? true : undefined), { timeoutMs: 60_000, message: 'four primary segments' });
      // The publisher leaves (its connection closes): the switch is made at once (`input-ended`).
      await primary.stop();
      await waitFor(async () => ((await view())?.input?.active === 'backup' ? true : undefined), { timeoutMs: 30_000, message: 'the backup plays' });
      await segmentsMore(2, 'two backup segments');
      // A new primary, forced, then frozen: its connection stays up, so the loss detector
      // (`inputLossMs`) makes the switch (`input-lost`), after an outage.
      frozen = serve.publish(serve.rtmpUrl('km', KEY), 'flv', { seconds: 600, outputOptions: ['-g', '300'] });
      await waitFor(async () => (inputOf(await view(), 'primary')?.healthy ? true : undefined), { timeoutMs: 60_000, message: 'the new primary healthy' });
      expect((await serve.api('POST', '/api/v1/channels/km/input', { input: 'primary' })).status).toBe(200);
      await waitFor(async () => ((await view())?.input?.active === 'primary' ? true : undefined), { timeoutMs: 30_000, message: 'the new primary plays' });
      await segmentsMore(2, 'two segments of the new primary');
      frozen.child.kill('SIGSTOP');
      await waitFor(async () => ((await view())?.input?.active === 'backup' ? true : undefined), { timeoutMs: 30_000, message: 'the backup plays again' });
      await segmentsMore(3, 'three more backup segments');
    } finally {
      await watch.stop();
      frozen?.child.kill('SIGKILL');
    }
    const toBackup = serve.logs.entries().filter((l) => l.msg === 'input switched' && l.to === 'backup');
    expect(toBackup.map((l) => l.reason)).toEqual(expect.arrayContaining(['input-ended', 'input-lost']));
    expect(watch.violations).toEqual([]);
    expect(sawPending).toBe(false);

    // Frame by frame, each segment after the init segment: the first frame a keyframe. Every switch
    // between the colour primary and the grey backup (the operator's to the primary, the loss back to
    // the backup) is a keyframe, wherever it falls in its segment.
    const [init, ...media] = [...watch.segments.values()];
    const frames: Array<{ key: boolean; grey: boolean }> = [];
    for (const [i, segment] of media.entries()) {
      const file = join(dir, `${i}.mp4`);
      await writeFile(file, Buffer.concat([init!, segment]));
      const stats = await videoFrameStats(file);
      expect(stats[0]?.key, `segment ${i} starts with a keyframe`).toBe(true);
      frames.push(...stats.map((f) => ({ key: f.key, grey: f.saturation < 10 })));
    }
    const switches = frames.flatMap((f, i) => (i > 0 && f.grey !== frames[i - 1]!.grey ? [{ to: f.grey ? 'backup' : 'primary', key: f.key }] : []));
    expect(switches.at(-1)?.to).toBe('backup');
    expect(switches.filter((x) => x.to === 'backup').length, JSON.stringify(switches)).toBeGreaterThanOrEqual(2);
    // Every switch has a keyframe at its first frame: the operator's to the primary, the one after the
    // primary left (it used to be keyed in 1 of 4 runs: the `fps` filter kept an unmarked live backup
    // frame that followed the packed GOP within the switch's output slot, docs/inputs.md) and the one
    // after the frozen primary (an outage between the packed GOP and the live frames).
    expect(switches.filter((x) => !x.key)).toEqual([]);
  }, 240_000);
});
