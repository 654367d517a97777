/**
 * Where a player's start-up time goes (docs/latency.md): `livepipe serve` on the `low-latency`
 * ladder, a live 720p30 x264 encoder publishing over RTMP, and viewers with hls.js and Shaka Player
 * (default config each) — one opening the channel as the publisher starts and one joining later.
 * For each viewer it prints the request timeline from the multivariant playlist load to the first
 * frame (ms after load, duration, path and query), the first frame time and the latency the player
 * started at, then the latency it settled at.
 *
 *   npx tsx bench/startup-trace.ts [joinAfterSeconds=20] [ladder=low-latency]
 */
import type { Browser } from 'playwright-core';
import { launchBrowser, median, startPlayer, type Player, type TracedRequest } from '../test/helpers/player/hls-player.js';
import { startShakaPlayer } from '../test/helpers/player/shaka-player.js';
import { startServeCli } from '../test/helpers/serve/serve-fixture.js';
import { publish } from '../test/helpers/ingest/media.js';
import { waitFor } from '../test/helpers/wait.js';
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

export async function traceViewer(name: string, url: string, open: (url: string) => Promise<Player>, settleSeconds = 10): Promise<StartupTrace> {
  const player = await open(url);
  try {
    const started = await player.waitFor((s) => !Number.isNaN(s.firstFrameAtMs), 40_000);
    const settled = await player.waitFor((s) => s.latencySamples.length >= settleSeconds * 4, settleSeconds * 1000 + 20_000);
    const settledAt = Date.now();
    // The origin's requests only (the page's own blobs and scripts are not the stream's).
    const stream = new URL(url).origin;
    const afterFirstFrame = player.requests().filter((r) => r.url.startsWith(stream) && r.startedAtMs > started.firstFrameAtMs && r.startedAtMs <= settledAt);
    return {
      player: name,
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

async function main(): Promise<void> {
  const joinAfter = Number(process.argv[2] ?? 20);
  const ladder = process.argv[3] ?? 'low-latency';
  const serve = await startServeCli({ channels: [{ id: 'trace', ladder, key: KEY }] });
  const browser: Browser = await launchBrowser();
  const url = `${serve.live('trace')}/master.m3u8`;
  const publisher = publish(serve.rtmpUrl('trace', KEY), 'flv', { seconds: joinAfter + 60, video: { size: '1280x720', rate: 30 } });
  const publishedAt = Date.now();
  try {
    await waitFor(async () => (await fetch(url).catch(() => undefined))?.status === 200, { timeoutMs: 30_000, intervalMs: 50, message: 'master playlist' });
    const viewers = [
      traceViewer('hls.js at start', url, (u) => startPlayer(browser, u)),
      traceViewer('Shaka at start', url, (u) => startShakaPlayer(browser, u)),
    ];
    const early = await Promise.all(viewers);
    await new Promise((r) => setTimeout(r, Math.max(0, publishedAt + joinAfter * 1000 - Date.now())));
    const late = [
      await traceViewer(`hls.js joining at ${joinAfter} s`, url, (u) => startPlayer(browser, u)),
      await traceViewer(`Shaka joining at ${joinAfter} s`, url, (u) => startShakaPlayer(browser, u)),
    ];
    for (const t of [...early, ...late]) {
      console.log(`\n## ${t.player} (${ladder}): first frame ${t.firstFrameMs} ms after load, started at ${t.startLatency.toFixed(2)} s, settled at ${t.settledLatency.toFixed(2)} s, ${t.requestsBeforeFirstFrame} requests`);
      console.log(`before the first frame: ${kindsText(t.kindsBeforeFirstFrame)}`);
      console.log(`after it, until settled: ${t.settledRequestsPerSecond.toFixed(1)} requests/s (${kindsText(t.kindsSettled)})`);
      console.log(t.timeline.join('\n'));
    }
  } finally {
    await publisher.stop();
    await browser.close();
    await serve.close();
  }
}

runIfMain(import.meta.url, main);
