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
  timeline: string[];
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

export async function traceViewer(name: string, open: () => Promise<Player>, settleSeconds = 10): Promise<StartupTrace> {
  const player = await open();
  try {
    const started = await player.waitFor((s) => !Number.isNaN(s.firstFrameAtMs), 40_000);
    const settled = await player.waitFor((s) => s.latencySamples.length >= settleSeconds * 4, settleSeconds * 1000 + 20_000);
    return {
      player: name,
      firstFrameMs: started.firstFrameAtMs - started.loadStartedAtMs,
      startLatency: started.startLatency,
      settledLatency: median(settled.latencySamples.slice(-16)),
      requestsBeforeFirstFrame: player.requests().filter((r) => r.startedAtMs <= started.firstFrameAtMs).length,
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
      traceViewer('hls.js at start', () => startPlayer(browser, url)),
      traceViewer('Shaka at start', () => startShakaPlayer(browser, url)),
    ];
    const early = await Promise.all(viewers);
    await new Promise((r) => setTimeout(r, Math.max(0, publishedAt + joinAfter * 1000 - Date.now())));
    const late = [await traceViewer(`hls.js joining at ${joinAfter} s`, () => startPlayer(browser, url)), await traceViewer(`Shaka joining at ${joinAfter} s`, () => startShakaPlayer(browser, url))];
    for (const t of [...early, ...late]) {
      console.log(`\n## ${t.player}: first frame ${t.firstFrameMs} ms after load, started at ${t.startLatency.toFixed(2)} s, settled at ${t.settledLatency.toFixed(2)} s, ${t.requestsBeforeFirstFrame} requests`);
      console.log(t.timeline.join('\n'));
    }
  } finally {
    await publisher.stop();
    await browser.close();
    await serve.close();
  }
}

runIfMain(import.meta.url, main);
