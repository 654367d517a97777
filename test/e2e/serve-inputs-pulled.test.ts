/**
 * Pulled sources as a channel's PRIMARY (issue 14), through a real `serve`, two channels at once:
 * - `rtmppull` pulls RTMP from ffmpeg acting as an RTMP server (`-listen 1`, the client plays);
 *   the source vanishes — the pull's ffmpeg is restarted after pauses that double (its log lines),
 *   the slate plays meanwhile — and returns: the channel plays it again, in the same encoder run;
 * - `srtpull` pulls SRT in caller mode from ffmpeg as an SRT listener; its slate is a configured
 *   PNG (`slateImage`) and `slateSeconds` is 4: the source vanishes, the slate shows the picture
 *   (a decoded pixel of the last segment has its colour), and after 4 s the stream ends with
 *   EXT-X-ENDLIST.
 * Every playlist read goes through the LL-HLS rule checker.
 *
 * RTSP is in serve-rtsp-pull.test.ts (a real RTSP server: Debian's rtsp-server-perl).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { followPlaylists, PlaylistWatch } from '../helpers/hls/playlist-watch.js';
import { publish, type Publisher } from '../helpers/ingest/media.js';
import { freePort } from '../helpers/ports.js';
import { getText, startServeFixture, type ServeFixture } from '../helpers/serve/serve-fixture.js';
import { waitFor } from '../helpers/wait.js';

const exec = promisify(execFile);
const RENDITIONS = ['360p', 'audio'];
const SLATE_SECONDS = 4;
/** The slate picture's colour (R, G, B): saturated, far from the test pattern's average and from the generated card. */
const SLATE_RGB = [200, 40, 140] as const;

describe('pulled sources as primaries (serve)', () => {
  let serve: ServeFixture;
  let dir: string;
  let rtmpSourceUrl: string;
  let srtSourceUrl: string;
  const sources: Publisher[] = [];
  /** ffmpeg serving RTMP to one client (the channel's pull): `-listen 1` on the output. */
  const serveRtmp = () => publish(rtmpSourceUrl, 'flv', { seconds: 600, outputOptions: ['-listen', '1'] });
  /** ffmpeg as an SRT listener: the channel's pull calls it. */
  const serveSrt = () => publish(srtSourceUrl, 'mpegts', { seconds: 600 });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'livepipe-pulled-'));
    const slateImage = join(dir, 'slate.png');
    const hex = SLATE_RGB.map((c) => c.toString(16).padStart(2, '0')).join('');
    await exec('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `color=c=0x${hex}:s=320x180`, '-frames:v', '1', '-y', slateImage]);
    rtmpSourceUrl = `rtmp://127.0.0.1:${await freePort('tcp')}/live/src`;
    srtSourceUrl = `srt://127.0.0.1:${await freePort('udp')}?mode=listener`;
    // The sources wait for their client before the channels exist: the pulls' first attempts succeed,
    // so their backoff starts from the minimum when the source vanishes later.
    sources.push(serveRtmp(), serveSrt());
    const inputs = { inputLossMs: 1000, failbackSeconds: 2 };
    serve = await startServeFixture({
      channels: [
        { id: 'rtmppull', key: 'rtmppull-key-0123456789', ladder: 'constrained', inputs: { ...inputs, slateSeconds: 120, source: rtmpSourceUrl } },
        {
          id: 'srtpull',
          key: 'srtpull-key-0123456789',
          ladder: 'constrained',
          inputs: { ...inputs, slateSeconds: SLATE_SECONDS, slateImage, source: srtSourceUrl.replace('mode=listener', 'mode=caller') },
        },
      ],
    });
  }, 60_000);

  afterAll(async () => {
    for (const s of sources) await s.stop();
    await serve?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  const view = async (id: string) => (await serve.api('GET', `/api/v1/channels/${id}`)).json;
  const waitActive = (id: string, input: string) =>
    waitFor(async () => ((await view(id))?.input?.active === input ? true : undefined), { timeoutMs: 60_000, message: `${id} plays ${input}` });
  const retries = (id: string) => serve.logs.entries().filter((l) => l.msg === 'pulled source ended: retrying' && l.channel === id);

  it('plays a pulled RTMP and a pulled SRT primary; RTMP: backoff and return; SRT: the slate image, then EXT-X-ENDLIST after slateSeconds', async () => {
    for (const id of ['rtmppull', 'srtpull']) {
      await waitActive(id, 'primary');
      await waitFor(async () => {
        const v = await view(id);
        return { input: v?.input, mediaSequence: v?.mediaSequence };
      }, {
        until: (v) => v.input?.slateReady && v.input.inputs[0]?.kind === 'pull' && v.input.inputs[0]?.healthy && (v.mediaSequence ?? -1) >= 2,
        timeoutMs: 60_000,
        message: `${id}: pulled primary healthy, slate rendered, segments out`,
      });
    }

    // From here every playlist version goes through the rule checker (a run's very first playlist,
    // before any part, has no rendition report yet: not a switch matter).
    const watches = new Map(['rtmppull', 'srtpull'].map((id) => [id, RENDITIONS.map((r) => new PlaylistWatch(r, RENDITIONS))]));
    const stops = [...watches].map(([id, ws]) =>
      followPlaylists(ws, async (r) => {
        const { status, text } = await getText(`${serve.live(id)}/${r}/playlist.m3u8`);
        return status === 200 ? text : undefined;
      }, 300),
    );
    // Both sources vanish.
    const retriesBefore = retries('rtmppull').length;
    for (const s of sources.splice(0)) await s.stop();
    await Promise.all([waitActive('rtmppull', 'slate'), waitActive('srtpull', 'slate')]);

    // RTMP: the pull retries after pauses that double (from 0.5 s, or 1 s when its first attempt
    // came before the source listened: a run shorter than 30 s does not reset the backoff).
    const backoff = await waitFor(() => {
      const since = retries('rtmppull').slice(retriesBefore);
      return since.length >= 3 ? since.slice(0, 3).map((l) => l.retryInMs as number) : undefined;
    }, { timeoutMs: 30_000, message: 'three retries of the vanished RTMP source' });
    expect(backoff[0], JSON.stringify(backoff)).toBeLessThanOrEqual(1000);
    expect(backoff, JSON.stringify(backoff)).toEqual([backoff[0], backoff[0]! * 2, backoff[0]! * 4]);
    // It returns: the channel follows, in the same encoder run.
    sources.push(serveRtmp());
    await waitActive('rtmppull', 'primary');
    const rtmppull = await view('rtmppull');
    expect(rtmppull.transcoder.runId).toBe(1);
    expect(rtmppull.state).toBe('live');

    // SRT: the slate until slateSeconds, then the end of the stream.
    const ended = await waitFor(async () => {
      const { text } = await getText(`${serve.live('srtpull')}/360p/playlist.m3u8`);
      return text.includes('#EXT-X-ENDLIST') ? text : undefined;
    }, { timeoutMs: 60_000, message: 'srtpull ends with EXT-X-ENDLIST' }).catch((err: Error) => {
      const lines = serve.logs.entries().filter((l) => l.channel === 'srtpull').map((l) => `${l.time} ${l.msg} ${l.from ?? ''}>${l.to ?? ''} ${l.why ?? ''}`);
      throw new Error(`${err.message}\n${lines.join('\n')}`);
    });
    for (const stop of stops) await stop();
    const logs = serve.logs.entries().filter((l) => l.channel === 'srtpull');
    const toSlate = logs.find((l) => l.msg === 'input switched' && l.to === 'slate');
    const end = logs.find((l) => l.msg === 'no input came back while the slate played: ending the stream');
    expect(toSlate, JSON.stringify(logs.map((l) => l.msg))).toBeDefined();
    expect(end).toBeDefined();
    const slateMs = (end!.time as number) - (toSlate!.time as number);
    // slateSeconds counts from the moment no input was healthy, which the switch's log line follows
    // within the same tick (one CI run: 3999 ms between the lines): 100 ms of slack for that.
    expect(slateMs).toBeGreaterThanOrEqual(SLATE_SECONDS * 1000 - 100);
    expect(slateMs).toBeLessThan(SLATE_SECONDS * 1000 + 15_000);
    expect((await view('srtpull')).state).toBe('idle');

    // The last segment is the slate: the configured picture's colour in the middle of its last frame.
    const base = `${serve.live('srtpull')}/360p/`;
    const map = /#EXT-X-MAP:URI="([^"]+)"/.exec(ended)?.[1];
    const last = ended.split('\n').filter((l) => l.length > 0 && !l.startsWith('#')).at(-1);
    expect(map).toBeDefined();
    expect(last).toBeDefined();
    const bytes = await Promise.all([map!, last!].map(async (uri) => Buffer.from(await (await fetch(new URL(uri, base))).arrayBuffer())));
    const file = join(dir, 'last.mp4');
    await writeFile(file, Buffer.concat(bytes));
    const rgb = await exec('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', file, '-vf', 'crop=16:16,scale=1:1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], { encoding: 'buffer', maxBuffer: 1024 * 1024 });
    const pixel = [...rgb.stdout.subarray(-3)];
    for (const [i, c] of SLATE_RGB.entries()) expect(Math.abs(pixel[i]! - c), `pixel ${JSON.stringify(pixel)} vs ${JSON.stringify(SLATE_RGB)}`).toBeLessThan(30);

    for (const [id, ws] of watches) {
      for (const w of ws) {
        expect(w.violations, `${id}/${w.rendition}: ${w.textBeforeFirstViolation}\n---\n${w.firstViolationText}`).toEqual([]);
        expect(w.discontinuityAt.size, `${id}/${w.rendition}: no discontinuity`).toBe(0);
      }
    }
  }, 240_000);
});
