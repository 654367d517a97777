/**
 * An SRT publisher that batches its audio (ffmpeg's MPEG-TS muxer packs ~0.37 s of AAC into one PES)
 * makes the transcoder's audio parts arrive four or five at once. Listed as they come, a player that
 * loads parts one after another takes a segment's last parts from a playlist that already closes
 * the segment — and hls.js, doing so, marks the segment buffered early and never loads the last part
 * (docs/latency.md, "SRT publishers"). The packager paces such bursts: here a client modelled on
 * hls.js takes every part near a segment's end (within hls.js's 0.2 s `bufferPadding`) while the
 * segment is still open. The video is held to the paced audio (`LeadLimiter`), so the renditions
 * advance within a PART-TARGET of each other. An RTMP publisher's even audio is not paced. (With
 * pacing off, 3 segments of a 16 s run failed; without the lead limit the video led by 0.19 s
 * median, 0.25 s p90.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MediaPlaylist } from '../../src/hls/playlist-model.js';
import { lastPosition, listedMediaEnd } from '../../src/hls/playlist-model.js';
import { parseMediaPlaylist } from '../../src/hls/playlist-parser.js';
import { freePorts } from '../helpers/ports.js';
import { getText, startServeFixture, type ServeFixture } from '../helpers/serve/serve-fixture.js';
import { waitFor } from '../helpers/wait.js';

const RTMP_KEY = 'even-key-0123456789';
const PASSPHRASE = 'batched-srt-passphrase';

/**
 * How a client loading one media playlist's parts in order took a part near a segment's end: a part
 * other than the last that ends within hls.js's 0.2 s `bufferPadding` of its segment's end.
 */
interface NearEndTaken {
  part: string;
  /** The newest playlist the client had when it took that part already closed the segment. */
  closedAlready: boolean;
}

/** hls.js counts a segment as fully buffered when the buffer reaches within this of its end, s. */
const BUFFER_PADDING = 0.2;

/** Each part's "append" time in the client model: hls.js took 25–45 ms from loading one audio part to the next. */
const APPEND_MS = 25;

/**
 * A client modelled on hls.js: one loop keeps the newest playlist with `_HLS_msn`/`_HLS_part`
 * requests for the next part; another loads parts in order, each from the newest playlist it has
 * when it gets to it, and spends `APPEND_MS` on each. Runs `seconds`, and reports for every segment
 * whose parts it began after `settleSeconds` how it took the parts that end within `BUFFER_PADDING`
 * of the segment's end, but for the last.
 */
async function loadLikeAPlayer(url: string, seconds: number, settleSeconds: number): Promise<NearEndTaken[]> {
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
  /** Each part's duration per segment, once a playlist showed the segment complete. */
  const completed = new Map<number, number[]>();
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
    if (segment?.closed) completed.set(at.msn, segment.parts.map((p) => p.duration));
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
  return [...completed].flatMap(([msn, durations]) => {
    const taken: NearEndTaken[] = [];
    let remaining = durations.reduce((a, b) => a + b, 0);
    durations.forEach((duration, index) => {
      remaining -= duration;
      const closedAlready = takenFromClosed.get(`${msn}.${index}`);
      if (index < durations.length - 1 && remaining < BUFFER_PADDING && closedAlready !== undefined) taken.push({ part: `${msn}.${index}`, closedAlready });
    });
    return taken;
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

  it("a player takes every audio part near a segment's end while the segment is open, and the video advances with the paced audio; RTMP audio is not paced", async () => {
    serve.publish(serve.srtUrl(srtPort, PASSPHRASE, 'batched'), 'mpegts');
    serve.publish(serve.rtmpUrl('even', RTMP_KEY), 'flv');
    for (const channel of ['batched', 'even']) {
      await waitFor(async () => (await getText(`${serve.live(channel)}/audio/playlist.m3u8`)).status === 200, { timeoutMs: 45_000, message: `${channel} audio playlist` });
    }
    // The publisher does batch: the ingest measures its audio 0.3 s or more behind its video.
    const delay = await waitFor(async () => serve.handle.manager.get('batched')?.publisher?.audioDelaySeconds, { timeoutMs: 15_000, message: 'audio delay measured' });
    expect(delay).toBeGreaterThanOrEqual(0.25);

    // Meanwhile, how far the video playlist's edge leads the audio's (ms), sampled every ~40 ms.
    const leads: number[] = [];
    const sampling = (async () => {
      const until = Date.now() + 16_000;
      while (Date.now() < until) {
        const [video, audio] = await Promise.all(['360p', 'audio'].map((r) => getText(`${serve.live('batched')}/${r}/playlist.m3u8`)));
        if (video!.status === 200 && audio!.status === 200) {
          const videoEnd = listedMediaEnd(parseMediaPlaylist(video!.text));
          const audioEnd = listedMediaEnd(parseMediaPlaylist(audio!.text));
          if (videoEnd !== undefined && audioEnd !== undefined) leads.push(videoEnd - audioEnd);
        }
        await new Promise((r) => setTimeout(r, 40));
      }
    })();
    const taken = await loadLikeAPlayer(`${serve.live('batched')}/audio/playlist.m3u8`, 16, 4);
    await sampling;
    // At least the second-to-last part of 8 segments.
    expect(taken.length).toBeGreaterThanOrEqual(8);
    expect(taken.filter((t) => t.closedAlready)).toEqual([]);
    // The renditions advance together (within a PART-TARGET, 0.1 s, plus the two requests' skew):
    // the video is held to the paced audio, not listed ~0.2 s ahead of it.
    leads.sort((a, b) => a - b);
    expect(leads.length).toBeGreaterThanOrEqual(100);
    expect(leads[Math.floor(0.9 * leads.length)]).toBeLessThanOrEqual(130);

    const paced = serve.logs.entries().filter((e) => typeof e.msg === 'string' && e.msg.includes('listing them at an even pace'));
    expect(paced.some((e) => e.channel === 'batched' && e.rendition === 'audio')).toBe(true);
    expect(paced.filter((e) => e.channel === 'even')).toEqual([]);
  }, 120_000);
});
