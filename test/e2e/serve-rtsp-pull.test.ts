/**
 * A pulled RTSP source as a channel's primary (issue 14, point 3: "RTMP, SRT in caller mode, HLS,
 * RTSP, or any live URL ffmpeg reads"), through a real `serve`: ffmpeg publishes into a real RTSP
 * server (Debian's `rtsp-server-perl`), the channel pulls it over RTSP (RTP over UDP, ffmpeg's
 * default), the ladder encodes it, and the playlists follow the LL-HLS rules. The source goes away:
 * the slate; it comes back: the channel plays it again, in the same encoder run.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { followPlaylists, PlaylistWatch } from '../helpers/hls/playlist-watch.js';
import { publish, type Publisher } from '../helpers/ingest/media.js';
import { startRtspServer, type RtspServer } from '../helpers/ingest/rtsp-server.js';
import { getText, startServeFixture, type ServeFixture } from '../helpers/serve/serve-fixture.js';
import { waitFor } from '../helpers/wait.js';

const exec = promisify(execFile);
const RENDITIONS = ['360p', 'audio'];

describe('a pulled RTSP primary (serve)', () => {
  let rtsp: RtspServer;
  let serve: ServeFixture;
  let source: Publisher | undefined;
  const publishSource = () => publish(rtsp.publishUrl('cam'), 'rtsp', { seconds: 600, video: { size: '320x180', rate: 25 } });

  beforeAll(async () => {
    rtsp = await startRtspServer();
    source = publishSource();
    // The server knows the path once the publisher's ANNOUNCE went through.
    await waitFor(async () => {
      try {
        const { stdout } = await exec('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', rtsp.playUrl('cam')], { timeout: 10_000 });
        return stdout.includes('h264') ? true : undefined;
      } catch {
        return undefined;
      }
    }, { timeoutMs: 30_000, message: `the RTSP server plays the published source (${rtsp.log()})` });
    serve = await startServeFixture({
      channels: [{ id: 'rtsppull', key: 'rtsppull-key-0123456789', ladder: 'constrained', inputs: { inputLossMs: 1000, failbackSeconds: 2, slateSeconds: 120, source: rtsp.playUrl('cam') } }],
    });
  }, 90_000);

  afterAll(async () => {
    await source?.stop();
    await serve?.close();
    await rtsp?.stop();
  });

  const view = async () => (await serve.api('GET', '/api/v1/channels/rtsppull')).json;
  const waitActive = (input: string) =>
    waitFor(async () => ((await view())?.input?.active === input ? true : undefined), { timeoutMs: 60_000, message: `rtsppull plays ${input}` });

  it('plays the pulled RTSP source, goes to the slate when it vanishes and back when it returns, in one encoder run', async () => {
    await waitActive('primary');
    const pulled = (await view()).input.inputs.find((i: { role: string }) => i.role === 'primary');
    expect(pulled).toMatchObject({ kind: 'pull', healthy: true });
    // From the first multivariant playlist on — where a player can find the media playlists — every
    // playlist version goes through the rule checker. Before it, a video playlist can list parts
    // while the audio rendition has none, so it cannot report audio yet (a CI run read one such).
    await waitFor(async () => ((await getText(`${serve.live('rtsppull')}/master.m3u8`)).status === 200 ? true : undefined), { timeoutMs: 60_000, message: 'the multivariant playlist' });
    const watches = RENDITIONS.map((r) => new PlaylistWatch(r, RENDITIONS));
    const stopFollowing = followPlaylists(watches, async (r) => {
      const { status, text } = await getText(`${serve.live('rtsppull')}/${r}/playlist.m3u8`);
      return status === 200 ? text : undefined;
    }, 300);
    try {
      const video = watches[0]!;
      const advanced = (from: number, what: string) => waitFor(() => (video.lastMsn >= from + 3 ? video.lastMsn : undefined), { timeoutMs: 60_000, message: what });
      const first = await advanced(0, 'three segments from the RTSP source');
      const restarts = (await view()).transcoder.restarts;

      await source!.stop();
      await waitActive('slate');
      source = publishSource();
      await waitActive('primary');
      await advanced(video.lastMsn, 'three more segments after the source returned');
      expect(video.lastMsn).toBeGreaterThan(first);
      // The switches happened inside one encoder run: no restart.
      expect((await view()).transcoder.restarts).toBe(restarts);
      for (const w of watches) expect(w.violations, w.rendition).toEqual([]);
    } finally {
      await stopFollowing();
    }
  }, 180_000);
});
