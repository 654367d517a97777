/**
 * After a whole-process restart of `livepipe serve` (the real CLI), a channel whose publisher has not
 * come back is served from what the previous process stored: first as it was (the channel waits out
 * the reconnect grace period, `reconnecting`), then ended with EXT-X-ENDLIST (`idle`) — never 404.
 * A publisher coming back later continues the same playlist after a discontinuity.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseMediaPlaylist } from '../../src/hls/playlist-parser.js';
import { publish, type Publisher } from '../helpers/ingest/media.js';
import { getText, lastMsn, mediaPlaylist, renditionsOf, startServeCli, type ServeCli } from '../helpers/serve/serve-fixture.js';
import { waitFor } from '../helpers/wait.js';

const KEY = 'restart-stored-key-0123456789';

/**
 * Asks for each URL in a tight loop until the origin answers at all (connection refused until it
 * listens), and records that first answer's status. Call before the restart: the first request
 * that reaches the restarted origin is what is recorded.
 */
function firstAnswers(urls: string[], timeoutMs = 30_000): Promise<Record<string, number>> {
  const deadline = Date.now() + timeoutMs;
  const first = async (url: string): Promise<number> => {
    while (Date.now() < deadline) {
      const { status } = await getText(url);
      if (status !== 0) return status;
      await new Promise((r) => setTimeout(r, 5));
    }
    return 0;
  };
  return Promise.all(urls.map(async (url) => [url, await first(url)] as const)).then(Object.fromEntries);
}

describe('livepipe serve: a restart before the publisher is back', () => {
  let serve: ServeCli | undefined;
  let dataDir: string | undefined;
  const publishers: Publisher[] = [];

  afterAll(async () => {
    await Promise.all(publishers.map((p) => p.stop()));
    await serve?.close();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });

  it('serves the stored playlists, ends them after the grace period, and continues them when the publisher returns', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'livepipe-serve-stored-'));
    serve = await startServeCli({ reconnectGraceSeconds: 4, channels: [{ id: 'kept', ladder: 'low-latency', key: KEY }] }, { keepDataDir: dataDir });
    const first = publish(serve.rtmpUrl('kept', KEY), 'flv');
    publishers.push(first);
    await waitFor(async () => {
      const p = await mediaPlaylist(serve!.live('kept'), '360p');
      return p !== undefined && p.segments.length >= 3 ? p : undefined;
    }, { timeoutMs: 45_000, message: 'three segments' });
    expect(await serve.cli.stop('SIGTERM', 40_000), serve.cli.stderr().slice(-3000)).toBe(0);
    await first.exited;
    const storedText = await readFile(join(dataDir, 'live', 'kept', '360p', 'playlist.m3u8'), 'utf8');
    const stored = parseMediaPlaylist(storedText);
    expect(stored.endList).toBe(false);
    const renditions = renditionsOf(await readFile(join(dataDir, 'live', 'kept', 'master.m3u8'), 'utf8'));
    expect(renditions).toContain('audio');
    expect(renditions.length).toBeGreaterThanOrEqual(2);

    const urls = renditions.map((r) => `${serve!.live('kept')}/${r}/playlist.m3u8`);
    const answered = firstAnswers(urls);
    await serve.restart();
    // The very first request for every rendition's playlist is answered from what was stored: 200,
    // not 404 for the renditions the restarted channel had not read back yet.
    expect(await answered).toEqual(Object.fromEntries(urls.map((u) => [u, 200])));

    // Served at once from storage, as it was: same media sequence, same last segment, not ended.
    const restored = await waitFor(() => mediaPlaylist(serve!.live('kept'), '360p'), { timeoutMs: 10_000, message: 'the stored playlist served after the restart' });
    expect(restored.mediaSequence).toBe(stored.mediaSequence);
    expect(lastMsn(restored)).toBe(lastMsn(stored));
    expect(restored.endList).toBe(false);
    expect((await mediaPlaylist(serve.live('kept'), 'audio'))?.endList).toBe(false);
    expect((await getText(`${serve.live('kept')}/master.m3u8`)).status).toBe(200);
    const view = await serve.api<{ state: string; mediaSequence?: number }>('/api/v1/channels/kept');
    expect(view?.state).toBe('reconnecting');
    expect(view?.mediaSequence).toBe(lastMsn(stored));

    // The grace period passes without a publisher: the stream ends, in storage too.
    const ended = await waitFor(async () => {
      const p = await mediaPlaylist(serve!.live('kept'), '360p');
      return p?.endList === true ? p : undefined;
    }, { timeoutMs: 20_000, message: 'EXT-X-ENDLIST after the grace period' });
    expect(lastMsn(ended)).toBe(lastMsn(stored));
    expect(ended.preloadHint).toBeUndefined();
    expect((await mediaPlaylist(serve.live('kept'), 'audio'))?.endList).toBe(true);
    expect((await serve.api<{ state: string }>('/api/v1/channels/kept'))?.state).toBe('idle');
    await waitFor(async () => (parseMediaPlaylist(await readFile(join(dataDir!, 'live', 'kept', '360p', 'playlist.m3u8'), 'utf8')).endList ? true : undefined), { message: 'the ended playlist stored' });

    // A publisher later: the same playlist goes on, after a discontinuity, without a sequence regression.
    publishers.push(publish(serve.rtmpUrl('kept', KEY), 'flv'));
    const after = await waitFor(async () => {
      const p = await mediaPlaylist(serve!.live('kept'), '360p');
      return p !== undefined && p.segments.some((s) => s.msn > lastMsn(stored)) ? p : undefined;
    }, { timeoutMs: 45_000, message: 'segments after the publisher is back' });
    expect(after.endList).toBe(false);
    expect(after.mediaSequence).toBeGreaterThanOrEqual(stored.mediaSequence);
    const firstNew = after.segments.find((s) => s.msn > lastMsn(stored))!;
    expect(firstNew.msn).toBe(lastMsn(stored) + 1);
    expect(firstNew.discontinuity).toBe(true);
  });
});
