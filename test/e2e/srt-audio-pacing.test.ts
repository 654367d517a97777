/**
 * An SRT publisher that batches its audio (ffmpeg's MPEG-TS muxer packs ~0.37 s of AAC into one PES)
 * makes the transcoder's audio parts arrive four or five at once. Listed as they come, a player that
 * loads parts one after another takes a segment's second-to-last part from a playlist that already
 * closes the segment — and hls.js, doing so, marks the segment buffered 0.06 s early and never loads
 * the last part (docs/latency.md, "SRT publishers"). The packager paces such bursts: here a client
 * modelled on hls.js takes every segment's second-to-last audio part while the segment is still
 * open. An RTMP publisher's even audio is not paced. (With pacing off, 3 segments of a 16 s run failed.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MediaPlaylist } from '../../src/hls/playlist-model.js';
import { lastPosition } from '../../src/hls/playlist-model.js';
import { parseMediaPlaylist } from '../../src/hls/playlist-parser.js';
import { freePorts } from '../helpers/ports.js';
import { getText, startServeFixture, type ServeFixture } from '../helpers/serve/serve-fixture.js';
import { waitFor } from '../helpers/wait.js';

const RTMP_KEY = 'even-key-0123456789';
const PASSPHRASE = 'batched-srt-passphrase';

/** How a client loading one media playlist's parts in order took each segment's second-to-last part. */
interface SecondToLastTaken {
  msn: number;
  /** The newest playlist the client had when it took that part already closed the segment. */
  closedAlready: boolean;
}

/** Each part's "append" time in the client model: hls.js took 25–45 ms from loading one audio part to the next. */
const APPEND_MS = 25;

/**
 * A client modelled on hls.js: one loop keeps the newest playlist with `_HLS_msn`/`_HLS_part`
 * requests for the next part; another loads parts in order, each from the newest playlist it has
 * when it gets to it, and spends `APPEND_MS` on each. Runs `seconds`, and reports for every segment
 * whose parts it began after `settleSeconds` how it took the segment's second-to-last part.
 */
async function loadLikeAPlayer(url: string, seconds: number, settleSeconds: number): Promise<SecondToLastTaken[]> {
  const startedAt = Date.now();
  const running = () => Date.now() - startedAt < seconds * 1000;
  let latest: MediaPlaylist | undefined;
  const reloads = (async () => {
    while (running()) {
      const last = latest === undefined ? undefined : lastPosition(latest);
      const next = last === undefined ? '' : `?_HLS_msn=${last.msn}&_HLS_part=${last.part + 1}`;
      const { status, text } = await getText(`${url}${next}`);
      if (status === 200) latest = parseMediaPlaylist(text);
      else await new Promise((r) => setTimeout(r, 50));
    }
  })();
  /** Whether the playlist a part was taken from had already closed its segment, by `msn.index`. */
  const takenFromClosed = new Map<string, boolean>();
  /** Parts per segment, once a playlist showed the segment complete. */
  const partCounts = new Map<number, number>();
  /** The segment `msn` in `p`: its parts, and whether it is complete. */
  const segmentIn = (p: MediaPlaylist, msn: number) => {
    const closed = p.segments.find((s) => s.msn === msn);
    if (closed) return { parts: closed.parts, closed: true };
    return p.pending?.msn === msn ? { parts: p.pending.parts, closed: false } : undefined;
  };
  await waitFor(async () => Date.now() - startedAt >= settleSeconds * 1000 && latest?.pending !== undefined, { timeoutMs: 60_000, message: 'an open segment' });
  // From the next segment on, part by part.
  const first = latest!.pending!.msn + 1;
  let at = { msn: first, index: 0 };
  while (running()) {
    const segment = latest === undefined ? undefined : segmentIn(latest, at.msn);
    if (segment?.closed) partCounts.set(at.msn, segment.parts.length);
    if (segment === undefined || at.index >= segment.parts.length) {
      if (segment?.closed) at = { msn: at.msn + 1, index: 0 };
      else await new Promise((r) => setTimeout(r, 5));
      continue;
    }
    takenFromClosed.set(`${at.msn}.${at.index}`, segment.closed);
    await getText(new URL(segment.parts[at.index]!.uri, url).toString());
    await new Promise((r) => setTimeout(r, APPEND_MS));
    at = { msn: at.msn, index: at.index + 1 };
  }
  await reloads;
  return [...partCounts].flatMap(([msn, parts]) => {
    const closedAlready = parts >= 2 ? takenFromClosed.get(`${msn}.${parts - 2}`) : undefined;
    return closedAlready === undefined ? [] : [{ msn, closedAlready }];
  });
}

describe('audio parts from a batching SRT publisher are listed at an even pace', () => {
  let serve: ServeFixture;
  let srtPort: number;

  beforeAll(async () => {
    [srtPort] = (await freePorts(1, 'udp')) as [number];
    serve = await startServeFixture({
      maxChannels: 2,
      channels: [
        { id: 'batched', ladder: 'low-latency', key: 'batched-key-0123456789', srt: { port: srtPort, passphrase: PASSPHRASE } },
        { id: 'even', ladder: 'low-latency', key: RTMP_KEY },
      ],
    });
  });

  afterAll(async () => {
    await serve?.close();
  });

  it("a player takes every segment's second-to-last audio part while the segment is open; RTMP audio is not paced", async () => {
    serve.publish(serve.srtUrl(srtPort, PASSPHRASE, 'batched'), 'mpegts');
    serve.publish(serve.rtmpUrl('even', RTMP_KEY), 'flv');
    for (const channel of ['batched', 'even']) {
      await waitFor(async () => (await getText(`${serve.live(channel)}/audio/playlist.m3u8`)).status === 200, { timeoutMs: 45_000, message: `${channel} audio playlist` });
    }
    // The publisher does batch: the ingest measures its audio 0.3 s or more behind its video.
    const delay = await waitFor(async () => serve.handle.manager.get('batched')?.publisher?.audioDelaySeconds, { timeoutMs: 15_000, message: 'audio delay measured' });
    expect(delay).toBeGreaterThanOrEqual(0.25);

    const taken = await loadLikeAPlayer(`${serve.live('batched')}/audio/playlist.m3u8`, 16, 4);
    expect(taken.length).toBeGreaterThanOrEqual(8);
    expect(taken.filter((t) => t.closedAlready)).toEqual([]);

    const paced = serve.logs.entries().filter((e) => typeof e.msg === 'string' && e.msg.includes('listing them at an even pace'));
    expect(paced.some((e) => e.channel === 'batched' && e.rendition === 'audio')).toBe(true);
    expect(paced.filter((e) => e.channel === 'even')).toEqual([]);
  }, 120_000);
});
