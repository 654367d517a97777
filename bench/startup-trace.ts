/**
 * Where a player's start-up time goes (docs/latency.md): `livepipe serve` on the `low-latency`
 * ladder, a live 720p30 x264 encoder publishing over RTMP, and viewers with hls.js and Shaka Player
 * (default config each) — one opening the channel as the publisher starts and one joining later.
 * For each viewer it prints the request timeline from the multivariant playlist load to the first
 * frame (ms after load, duration, path and query), the first frame time and the latency the player
 * started at, then the latency it settled at.
 *
 *   npx tsx bench/startup-trace.ts [joinAfterSeconds=20] [ladders=low-latency[,low-latency-muxed,…]]
 *
 * Ladders are traced one after the other (shipped ones, or the variants of bench/latency-ladders.ts);
 * `LIVEPIPE_TRACE_PLAYERS=hls.js` or `=Shaka` traces one player only.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { launchBrowser, median, startPlayer, type Player, type TracedRequest } from '../test/helpers/player/hls-player.js';
import { startShakaPlayer } from '../test/helpers/player/shaka-player.js';
import { startServeCli } from '../test/helpers/serve/serve-fixture.js';
import { publish } from '../test/helpers/ingest/media.js';
import { waitFor } from '../test/helpers/wait.js';
import { livepipeEdgePdt } from '../test/helpers/hls/edge-pdt.js';
import { writeBenchLadders } from './latency-ladders.js';
import { runIfMain } from './run-if-main.js';

const KEY = 'trace-key-0123456789';

export interface StartupTrace {
  player: string;
  firstFrameMs: number;
  startLatency: number;
  settledLatency: number;
  requestsBeforeFirstFrame: number;
  /** The requests before the first frame by kind (`requestKinds`). */
  kindsBeforeFirstFrame: RequestKinds;
  /** Requests per second of wall clock from the first frame to the end of the settle window, and their kinds. */
  settledRequestsPerSecond: number;
  kindsSettled: RequestKinds;
  timeline: string[];
}

export interface RequestKinds {
  master: number;
  /** Media playlists without `_HLS_msn` (a plain load). */
  playlist: number;
  /** Blocking playlist reloads (`_HLS_msn`). */
  blocking: number;
  init: number;
  part: number;
  segment: number;
  other: number;
}

/** Counts requests by what they ask for (livepipe's and ffmpeg's object names). */
export function requestKinds(requests: TracedRequest[]): RequestKinds {
  const kinds: RequestKinds = { master: 0, playlist: 0, blocking: 0, init: 0, part: 0, segment: 0, other: 0 };
  for (const r of requests) {
    const u = new URL(r.url);
    const file = u.pathname.split('/').at(-1) ?? '';
    if (file === 'master.m3u8') kinds.master++;
    else if (file.endsWith('.m3u8')) kinds[u.searchParams.has('_HLS_msn') ? 'blocking' : 'playlist']++;
    else if (/^init/.test(file) || file.endsWith('.mp4')) kinds.init++;
    else if (/^part-/.test(file)) kinds.part++;
    else if (file.endsWith('.m4s') || file.endsWith('.ts')) kinds.segment++;
    else kinds.other++;
  }
  return kinds;
}

function kindsText(k: RequestKinds): string {
  return `playlists ${k.master + k.playlist} + ${k.blocking} blocking, init ${k.init}, parts ${k.part}, segments ${k.segment}${k.other > 0 ? `, other ${k.other}` : ''}`;
}

/** The request timeline of a viewer up to its first frame, as text lines. */
export function timelineOf(requests: TracedRequest[], loadStartedAtMs: number, firstFrameAtMs: number): string[] {
  return requests
    .filter((r) => r.startedAtMs <= firstFrameAtMs)
    .map((r) => {
      const u = new URL(r.url);
      const took = Number.isNaN(r.finishedAtMs) ? 'open' : `${Math.round(r.finishedAtMs - r.startedAtMs)} ms`;
      return `${String(Math.round(r.startedAtMs - loadStartedAtMs)).padStart(5)} ms  +${took.padEnd(8)} ${r.status}  ${u.pathname.split('/').slice(-2).join('/')}${u.search}`;
    });
}

export async function traceViewer(
  name: string,
  url: string,
  open: (url: string) => Promise<Player>,
  settleSeconds = 10,
  /** Read once the first frame shows (e.g. the stream's edge lag then). */
  atFirstFrame?: () => Promise<number>,
): Promise<StartupTrace & { edgeLagAtFirstFrame: number }> {
  const player = await open(url);
  try {
    const started = await player.waitFor((s) => !Number.isNaN(s.firstFrameAtMs), 40_000);
    const edgeLagAtFirstFrame = atFirstFrame === undefined ? NaN : await atFirstFrame();
    const settled = await player.waitFor((s) => s.latencySamples.length >= settleSeconds * 4, settleSeconds * 1000 + 20_000);
    const settledAt = Date.now();
    // The origin's requests only (the page's own blobs and scripts are not the stream's).
    const stream = new URL(url).origin;
    const afterFirstFrame = player.requests().filter((r) => r.url.startsWith(stream) && r.startedAtMs > started.firstFrameAtMs && r.startedAtMs <= settledAt);
    return {
      player: name,
      edgeLagAtFirstFrame,
      firstFrameMs: started.firstFrameAtMs - started.loadStartedAtMs,
      startLatency: started.startLatency,
      settledLatency: median(settled.latencySamples.slice(-16)),
      requestsBeforeFirstFrame: player.requests().filter((r) => r.startedAtMs <= started.firstFrameAtMs).length,
      kindsBeforeFirstFrame: requestKinds(player.requests().filter((r) => r.startedAtMs <= started.firstFrameAtMs)),
      settledRequestsPerSecond: afterFirstFrame.length / Math.max(0.001, (settledAt - started.firstFrameAtMs) / 1000),
      kindsSettled: requestKinds(afterFirstFrame),
      timeline: timelineOf(player.requests(), started.loadStartedAtMs, started.firstFrameAtMs),
    };
  } finally {
    await player.close();
  }
}

/** The stream's own lag when a viewer's first frame came: now − PDT of the newest part's end, s. */
async function edgeLagNow(playlistUrl: string): Promise<number> {
  const res = await fetch(playlistUrl).catch(() => undefined);
  const edge = res?.status === 200 ? livepipeEdgePdt(await res.text()) : undefined;
  return edge === undefined ? NaN : (Date.now() - edge) / 1000;
}

/**
 * One viewer at a time, each player on its own fresh publish (so two Chromium players never compete
 * for the 2 cores): for every ladder and player, a viewer at the publish start, then one joining at
 * `joinAfter`. Ladders may be shipped ones or the lever variants of bench/latency-ladders.ts, traced
 * back to back for an A/B in the same minutes.
 */
async function main(): Promise<void> {
  const joinAfter = Number(process.argv[2] ?? 20);
  const ladders = (process.argv[3] ?? 'low-latency').split(',');
  const players = [
    { name: 'hls.js', open: (browser: Browser, u: string) => startPlayer(browser, u) },
    { name: 'Shaka', open: (browser: Browser, u: string) => startShakaPlayer(browser, u) },
  ].filter((p) => (process.env.LIVEPIPE_TRACE_PLAYERS ?? 'hls.js,Shaka').split(',').includes(p.name));
  const dir = await mkdtemp(join(tmpdir(), 'livepipe-startup-trace-'));
  const channels = ladders.flatMap((ladder) => players.map((p) => ({ id: `${ladder}-${p.name.toLowerCase().replace(/[^a-z0-9]/g, '')}`, ladder, key: KEY })));
  const serve = await startServeCli({ maxChannels: channels.length, channels }, { laddersDir: await writeBenchLadders(join(dir, 'ladders')) });
  const browser: Browser = await launchBrowser();
  try {
    for (const player of players) {
      for (const ladder of ladders) {
        const channel = `${ladder}-${player.name.toLowerCase().replace(/[^a-z0-9]/g, '')}`;
        const url = `${serve.live(channel)}/master.m3u8`;
        const publisher = publish(serve.rtmpUrl(channel, KEY), 'flv', { seconds: joinAfter + 60, video: { size: '1280x720', rate: 30 } });
        const publishedAt = Date.now();
        try {
          await waitFor(async () => (await fetch(url).catch(() => undefined))?.status === 200, { timeoutMs: 30_000, intervalMs: 50, message: 'master playlist' });
          const playableAfterMs = Date.now() - publishedAt;
          const traces: Array<StartupTrace & { edgeLagAtFirstFrame: number }> = [];
          for (const when of ['at start', `joining at ${joinAfter} s`]) {
            if (when !== 'at start') await new Promise((r) => setTimeout(r, Math.max(0, publishedAt + joinAfter * 1000 - Date.now())));
            const t = await traceViewer(`${player.name} ${when}`, url, (u) => player.open(browser, u), 10, () => edgeLagNow(`${serve.live(channel)}/720p/playlist.m3u8`));
            traces.push(t);
          }
          console.log(`\n# ${player.name} on ${ladder}: publish → multivariant playlist ${playableAfterMs} ms`);
          for (const t of traces) {
            console.log(`\n## ${t.player} (${ladder}): first frame ${t.firstFrameMs} ms after load, started at ${t.startLatency.toFixed(2)} s (stream edge ${t.edgeLagAtFirstFrame.toFixed(2)} s behind the clock, so the player ${(t.startLatency - t.edgeLagAtFirstFrame).toFixed(2)} s behind the edge), settled at ${t.settledLatency.toFixed(2)} s, ${t.requestsBeforeFirstFrame} requests`);
            console.log(`before the first frame: ${kindsText(t.kindsBeforeFirstFrame)}`);
            console.log(`after it, until settled: ${t.settledRequestsPerSecond.toFixed(1)} requests/s (${kindsText(t.kindsSettled)})`);
            console.log(t.timeline.join('\n'));
          }
        } finally {
          await publisher.stop();
        }
      }
    }
  } finally {
    await browser.close();
    await serve.close();
    await rm(dir, { recursive: true, force: true });
  }
}

runIfMain(import.meta.url, main);
