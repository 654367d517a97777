/**
 * A publisher leaving and coming back, as seen in the playlists `livepipe serve` publishes:
 * - back within the reconnect grace period: the same playlist continues after EXT-X-DISCONTINUITY,
 *   the media sequence keeps increasing, no EXT-X-ENDLIST;
 * - gone longer: EXT-X-ENDLIST; a later publish continues the playlist with higher media sequence
 *   numbers (never a regression) after a discontinuity.
 * A monitor polls every rendition's playlist throughout and checks nothing ever goes backwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MediaPlaylist } from '../../src/hls/playlist-model.js';
import { lastMsn, mediaPlaylist, startServeFixture, type ServeFixture } from '../helpers/serve/serve-fixture.js';
import { waitFor } from '../helpers/wait.js';

const KEY = 'show-key-0123456789';
const GRACE_SECONDS = 5;
const RENDITIONS = ['360p', 'audio'];

interface Sample {
  rendition: string;
  mediaSequence: number;
  discontinuitySequence: number;
  lastMsn: number;
  endList: boolean;
}

/** Polls the playlists of `renditions` until stopped; keeps every sample. */
function monitor(serve: ServeFixture, channel: string): { samples: Sample[]; stop(): Promise<void> } {
  const samples: Sample[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      for (const rendition of RENDITIONS) {
        const p = await mediaPlaylist(serve.live(channel), rendition);
        if (p !== undefined) {
          samples.push({ rendition, mediaSequence: p.mediaSequence, discontinuitySequence: p.discontinuitySequence, lastMsn: lastMsn(p), endList: p.endList });
        }
      }
      await new Promise((r) => setTimeout(r, 300));
    }
  })();
  return {
    samples,
    async stop() {
      running = false;
      await loop;
    },
  };
}

/** Waits until every rendition's playlist satisfies `predicate`; returns them. */
async function allPlaylists(serve: ServeFixture, what: string, predicate: (p: MediaPlaylist) => boolean, timeoutMs = 45_000): Promise<Map<string, MediaPlaylist>> {
  return waitFor(async () => {
    const found = new Map<string, MediaPlaylist>();
    for (const rendition of RENDITIONS) {
      const p = await mediaPlaylist(serve.live('show'), rendition);
      if (p === undefined || !predicate(p)) return undefined;
      found.set(rendition, p);
    }
    return found;
  }, { timeoutMs, message: what });
}

describe('livepipe serve: publisher disconnect and reconnect', () => {
  let serve: ServeFixture;
  let watch: ReturnType<typeof monitor>;
  let second: ReturnType<ServeFixture['publish']>;

  beforeAll(async () => {
    serve = await startServeFixture({ reconnectGraceSeconds: GRACE_SECONDS, channels: [{ id: 'show', ladder: 'low-latency', key: KEY }] });
    watch = monitor(serve, 'show');
  });

  afterAll(async () => {
    await watch?.stop();
    await serve?.close();
  });

  it('continues the playlist after a discontinuity when the publisher is back within the grace period', async () => {
    const first = serve.publish(serve.rtmpUrl('show', KEY), 'flv');
    const before = await allPlaylists(serve, 'three segments', (p) => p.segments.length >= 3);
    const lastBefore = Math.max(...[...before.values()].map(lastMsn));

    await first.stop();
    await waitFor(() => (serve.state('show') === 'reconnecting' ? true : undefined), { message: 'reconnecting state' });
    second = serve.publish(serve.rtmpUrl('show', KEY), 'flv');
    await waitFor(() => (serve.state('show') === 'live' ? true : undefined), { message: 'live again' });

    // While the publisher was away the playlists went on with gap segments (EXT-X-GAP, so players'
    // blocking reloads are answered); wait for three segments of media after them.
    const after = await allPlaylists(serve, 'three media segments after the reconnect', (p) => p.segments.filter((s) => s.msn > lastBefore && s.gap !== true).length >= 3);
    for (const [rendition, p] of after) {
      expect(p.endList, rendition).toBe(false);
      const resumed = p.segments.filter((s) => s.msn > lastBefore - 1);
      // The first segment of the new run is marked; the playlist still holds the old run's segments.
      const marked = p.segments.filter((s) => s.discontinuity);
      expect(marked.length, rendition).toBeGreaterThanOrEqual(1);
      expect(marked.every((s) => s.msn > lastBefore - 1), rendition).toBe(true);
      expect(p.segments[0]!.msn, rendition).toBeLessThanOrEqual(lastBefore);
      expect(resumed.length, rendition).toBeGreaterThanOrEqual(3);
    }
    // Renditions share the discontinuity (§6.2.4): the same msn in each.
    const markedMsns = [...after.values()].map((p) => p.segments.filter((s) => s.discontinuity).map((s) => s.msn).join(','));
    expect(new Set(markedMsns).size).toBe(1);
    expect(watch.samples.some((s) => s.endList)).toBe(false);
  });

  it('ends the stream after the grace period, and a later publish continues with higher media sequence numbers', async () => {
    expect(serve.handle.ingest.feed('show')).toBeDefined();
    await second.stop();
    const ended = await allPlaylists(serve, 'EXT-X-ENDLIST', (p) => p.endList, (GRACE_SECONDS + 30) * 1000);
    await waitFor(() => (serve.state('show') === 'idle' ? true : undefined), { message: 'idle after the grace period' });
    const lastEnded = Math.max(...[...ended.values()].map(lastMsn));
    const sequenceEnded = Math.max(...[...ended.values()].map((p) => p.mediaSequence));

    serve.publish(serve.rtmpUrl('show', KEY), 'flv');
    const resumed = await allPlaylists(serve, 'new segments after the end', (p) => !p.endList && p.segments.filter((s) => s.msn > lastEnded).length >= 2);
    for (const [rendition, p] of resumed) {
      expect(p.mediaSequence, rendition).toBeGreaterThanOrEqual(sequenceEnded);
      const firstNew = p.segments.find((s) => s.msn > lastEnded)!;
      expect(firstNew.msn, rendition).toBe(lastEnded + 1);
      expect(firstNew.discontinuity, rendition).toBe(true);
    }
  });

  it('never moved a media sequence number or discontinuity sequence backwards', async () => {
    // The monitor polls on its own clock: let it see the resumed stream before it stops.
    await waitFor(() => watch.samples.filter((s) => s.rendition === '360p').at(-1)?.endList === false || undefined, { timeoutMs: 15_000, message: 'the monitor sampling the resumed stream' });
    await watch.stop();
    expect(watch.samples.length).toBeGreaterThan(20);
    for (const rendition of RENDITIONS) {
      const series = watch.samples.filter((s) => s.rendition === rendition);
      for (let i = 1; i < series.length; i++) {
        const [prev, next] = [series[i - 1]!, series[i]!];
        expect(next.mediaSequence, `${rendition} sample ${i}`).toBeGreaterThanOrEqual(prev.mediaSequence);
        expect(next.lastMsn, `${rendition} sample ${i}`).toBeGreaterThanOrEqual(prev.lastMsn);
        expect(next.discontinuitySequence, `${rendition} sample ${i}`).toBeGreaterThanOrEqual(prev.discontinuitySequence);
      }
    }
    // Both phases were observed: live with ENDLIST at some point, then live again without it.
    const video = watch.samples.filter((s) => s.rendition === '360p');
    expect(video.some((s) => s.endList)).toBe(true);
    expect(video[video.length - 1]!.endList).toBe(false);
  });
});
