/**
 * Bad media from an authenticated publisher (here: a feed without video) fails that channel with a
 * clear reason in its state and logs, drops the publisher, and leaves other channels running.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lastMsn, mediaPlaylist, startServeFixture, type ServeFixture } from '../helpers/serve/serve-fixture.js';
import { waitFor } from '../helpers/wait.js';

const GOOD_KEY = 'good-channel-key-0123456789';
const BAD_KEY = 'bad-channel-key-0123456789';

describe('livepipe serve: a channel with unusable media', () => {
  let serve: ServeFixture;

  beforeAll(async () => {
    serve = await startServeFixture({
      maxChannels: 4,
      channels: [
        { id: 'good', ladder: 'low-latency', key: GOOD_KEY },
        { id: 'novideo', ladder: 'low-latency', key: BAD_KEY },
      ],
    });
  });

  afterAll(async () => {
    await serve?.close();
  });

  it('fails the video-less channel with a readable reason while the other keeps publishing', async () => {
    serve.publish(serve.rtmpUrl('good', GOOD_KEY), 'flv', { seconds: 60 });
    const before = await waitFor(async () => {
      const p = await mediaPlaylist(serve.live('good'), '360p');
      return p !== undefined && p.segments.length > 0 ? lastMsn(p) : undefined;
    }, { message: 'the good channel publishing' });

    // An audio-only publisher: authenticated, but there is nothing to build a video ladder from.
    // Ingest refuses it one second after its first audio tag (its onMetaData declares audio only),
    // long before it stops by itself (`serve-bad-input.test.ts` covers the other bad inputs).
    const audioOnly = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-t', '60', '-c:a', 'aac', '-f', 'flv', serve.rtmpUrl('novideo', BAD_KEY)], { stdio: 'ignore' });
    try {
      const view = await waitFor(() => {
        const v = serve.handle.manager.get('novideo');
        return v?.state === 'failed' ? v : undefined;
      }, { message: 'the video-less channel to fail' });
      expect(view.transcoder.lastError).toMatch(/^no video: the publisher sent 1 s of audio and no video/);
      // The publisher is gone and the channel stays failed with its reason (no grace period).
      await waitFor(() => (serve.handle.ingest.feed('novideo') === undefined ? true : undefined), { message: 'the publisher to be dropped' });
      await new Promise((r) => setTimeout(r, 500));
      expect(serve.state('novideo')).toBe('failed');
      // Nothing was published for it.
      expect(await mediaPlaylist(serve.live('novideo'), '360p')).toBeUndefined();
    } finally {
      audioOnly.kill('SIGKILL');
    }

    // The other channel kept going the whole time.
    const after = await waitFor(async () => {
      const p = await mediaPlaylist(serve.live('good'), '360p');
      return p !== undefined && lastMsn(p) > before + 1 ? lastMsn(p) : undefined;
    }, { message: 'the good channel to keep publishing' });
    expect(after).toBeGreaterThan(before);
    expect(serve.state('good')).toBe('live');
  });
});
