/**
 * Operator restart of a live channel (`POST /api/v1/channels/{id}/restart`) on the `low-latency`
 * ladder: a real `serve` in this process, an ffmpeg RTMP publisher (640x360 30 fps, 1 s GOP, AAC) and
 * hls.js (low-latency mode) playing the channel in Chromium throughout. Then the same number of
 * encoder crashes: the channel's ffmpeg SIGKILLed (found in the process list: the child of this
 * process that reads the feed on stdin and reports `-progress`), which the supervisor restarts at
 * once (`crash` in the results; `call` is then the kill, `stopMs` the exit being handled).
 *
 * Per restart:
 * - `firstPartMs`: restart call → the new run's first part listed in EVERY rendition's playlist (the
 *   playlists are polled at the origin every 20 ms, so figures are ±20 ms). Target ≤ 2000 ms.
 * - `gapMs`: last part of the old run → first part of the new run, in the slowest rendition: what a
 *   viewer at the live edge waits for.
 * - phases from the service log: `stopMs` (call → old ffmpeg gone), `spawnMs` (call → new ffmpeg
 *   spawned: probe of the live input included, none when the previous run's probe is reused),
 *   `firstFrameMs` (call → ffmpeg's first `-progress` report with a frame: reported every 0.5 s, so
 *   an upper bound).
 * - the viewer-visible stall as hls.js reports it: `waiting` events and stalled milliseconds added
 *   during the restart window, plus non-fatal errors (blocking reloads timing out).
 */
import { execFileSync } from 'node:child_process';
import type { Browser } from 'playwright-core';
import { launchBrowser, median, startPlayer, type Player } from '../test/helpers/player/hls-player.js';
import type { Publisher } from '../test/helpers/ingest/media.js';
import { publishTestPattern, startServeFixture, type ServeFixture } from '../test/helpers/serve/serve-fixture.js';
import { freePort } from '../test/helpers/ports.js';
import { waitFor } from '../test/helpers/wait.js';
import { runIfMain } from './run-if-main.js';

const RESTARTS = Number(process.env.LIVEPIPE_BENCH_RESTARTS ?? 5);
/** Seconds between restarts (playback settles, the restart window closes). */
const SPACING_SECONDS = 6;
const CHANNEL = 'bench';
const KEY = 'restart-bench-key-0123456789';
const RENDITIONS = ['360p', 'audio'];

interface RestartFigures {
  apiMs: number;
  stopMs: number | undefined;
  spawnMs: number | undefined;
  firstFrameMs: number | undefined;
  firstPartMs: number;
  firstPartByRendition: Record<string, number>;
  gapMs: number;
  stalls: number;
  stalledMs: number;
  nonFatalErrors: string[];
}

/** Discontinuities so far (sequence + tags) and whether a part follows the last tag; last part URI. */
function playlistState(text: string): { discontinuities: number; partAfterLast: boolean; lastPart: string | undefined } {
  const lines = text.split('\n');
  const dsn = Number(lines.find((l) => l.startsWith('#EXT-X-DISCONTINUITY-SEQUENCE:'))?.split(':')[1] ?? 0);
  let tags = 0;
  let partAfterLast = false;
  let lastPart: string | undefined;
  for (const line of lines) {
    if (line === '#EXT-X-DISCONTINUITY') {
      tags++;
      partAfterLast = false;
    } else if (line.startsWith('#EXT-X-PART:')) {
      partAfterLast = true;
      lastPart = /URI="([^"]+)"/.exec(line)?.[1];
    }
  }
  return { discontinuities: dsn + tags, partAfterLast, lastPart };
}

async function fetchText(url: string): Promise<string | undefined> {
  const res = await fetch(url);
  const text = await res.text();
  return res.status === 200 ? text : undefined;
}

/** The channel's encoder ffmpeg (the publisher, also a child of this process, pushes RTMP). */
function encoderPid(): number {
  const out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  const line = out.split('\n').find((l) => /\bffmpeg\b/.test(l) && l.includes('-progress') && !l.includes('rtmp://'));
  if (line === undefined) throw new Error('no encoder ffmpeg among the children of this process');
  return Number(line.trim().split(/\s+/)[0]);
}

type Trigger = 'operator' | 'crash';

async function measureRestart(serve: ServeFixture, player: Player, logLines: () => Array<Record<string, unknown>>, trigger: Trigger): Promise<RestartFigures> {
  const urls = RENDITIONS.map((r) => `${serve.originBase}/live/${CHANNEL}/${r}/playlist.m3u8`);
  const initial = await Promise.all(urls.map(async (u) => playlistState((await fetchText(u)) ?? '')));
  const lastPartChange = initial.map(() => performance.now());
  const lastPartSeen = initial.map((s) => s.lastPart);
  const firstNewPart: Array<number | undefined> = initial.map(() => undefined);
  const gapStart: Array<number | undefined> = initial.map(() => undefined);
  const statsBefore = await player.stats();
  const logsBefore = logLines().length;

  // Looked up before the clock starts: `ps` is not part of the restart.
  const victim = trigger === 'crash' ? encoderPid() : undefined;
  const t0 = performance.now();
  const wall0 = Date.now();
  let done = false;
  const poll = (async () => {
    while (!done) {
      await Promise.all(
        urls.map(async (u, k) => {
          if (firstNewPart[k] !== undefined) return;
          const text = await fetchText(u);
          if (text === undefined) return;
          const now = performance.now();
          const state = playlistState(text);
          if (state.discontinuities > initial[k]!.discontinuities && state.partAfterLast) {
            firstNewPart[k] = now;
            gapStart[k] = lastPartChange[k];
          } else if (state.lastPart !== lastPartSeen[k]) {
            lastPartSeen[k] = state.lastPart;
            lastPartChange[k] = now;
          }
        }),
      );
      if (firstNewPart.every((t) => t !== undefined)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  if (victim === undefined) {
    const answer = await serve.api('POST', `/api/v1/channels/${CHANNEL}/restart`);
    if (answer.status !== 200) throw new Error(`restart answered ${answer.status}: ${answer.text}`);
  } else {
    process.kill(victim, 'SIGKILL');
  }
  const apiMs = performance.now() - t0;
  const deadline = Date.now() + 20_000;
  while (firstNewPart.some((t) => t === undefined) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  done = true;
  await poll;
  if (firstNewPart.some((t) => t === undefined)) throw new Error('no new part within 20 s of the restart');

  // Let the viewer ride through the restart window before reading its stall counters.
  await new Promise((r) => setTimeout(r, SPACING_SECONDS * 1000));
  const statsAfter = await player.stats();

  const logs = logLines().slice(logsBefore);
  const at = (predicate: (l: Record<string, unknown>) => boolean): number | undefined => {
    const line = logs.find(predicate);
    return line === undefined ? undefined : Math.round((line.time as number) - wall0);
  };
  const firstPartByRendition = Object.fromEntries(RENDITIONS.map((r, k) => [r, Math.round(firstNewPart[k]! - t0)]));
  return {
    apiMs: Math.round(apiMs),
    stopMs: at((l) => l.component === 'transcoder' && (trigger === 'operator' ? l.state === 'stopped' : l.msg === 'ffmpeg run ended')),
    spawnMs: at((l) => l.component === 'transcoder' && l.msg === 'ffmpeg spawned'),
    firstFrameMs: at((l) => l.component === 'transcoder' && l.state === 'running'),
    firstPartMs: Math.max(...Object.values(firstPartByRendition)),
    firstPartByRendition,
    gapMs: Math.round(Math.max(...firstNewPart.map((t, k) => t! - gapStart[k]!))),
    stalls: statsAfter.stalls - statsBefore.stalls,
    stalledMs: Math.round(statsAfter.stalledMs - statsBefore.stalledMs),
    nonFatalErrors: statsAfter.nonFatalErrors.slice(statsBefore.nonFatalErrors.length),
  };
}

function summary(values: number[]): { median: number; max: number; min: number } {
  return { median: Math.round(median(values)), max: Math.round(Math.max(...values)), min: Math.round(Math.min(...values)) };
}

export async function run(): Promise<Record<string, unknown>> {
  const serve = await startServeFixture({ srt: { portBase: await freePort('udp'), portCount: 100 } });
  let publisher: Publisher | undefined;
  let browser: Browser | undefined;
  let player: Player | undefined;
  try {
    const created = await serve.api('POST', '/api/v1/channels', { id: CHANNEL, ladder: 'low-latency', key: KEY });
    if (created.status !== 201) throw new Error(`create answered ${created.status}: ${created.text}`);
    publisher = publishTestPattern(serve, CHANNEL, KEY, 600);
    await waitFor(() => serve.api('GET', `/api/v1/channels/${CHANNEL}`), { until: (r) => r.json.state === 'live' && (r.json.mediaSequence ?? 0) >= 3, timeoutMs: 60_000, message: 'live' });
    browser = await launchBrowser();
    player = await startPlayer(browser, `${serve.originBase}/live/${CHANNEL}/master.m3u8`);
    const warm = await player.waitFor((s) => s.currentTime >= 5, 40_000);
    if (warm.fatalErrors.length > 0) throw new Error(`player failed before the restarts: ${warm.fatalErrors.join('; ')}`);
    // Settle: the player reaches its live edge before the first restart.
    await new Promise((r) => setTimeout(r, 3000));

    const restarts: RestartFigures[] = [];
    for (let i = 0; i < RESTARTS; i++) restarts.push(await measureRestart(serve, player, () => serve.logs.entries(), 'operator'));
    // Crashes SPACING_SECONDS apart: each run lived past the policy's 5 s, so each restart is a first one (immediate).
    const crashes: RestartFigures[] = [];
    for (let i = 0; i < RESTARTS; i++) crashes.push(await measureRestart(serve, player, () => serve.logs.entries(), 'crash'));
    const final = await player.stats();
    const defined = (values: Array<number | undefined>) => values.filter((v): v is number => v !== undefined);
    return {
      ladder: 'low-latency (360p + audio kept for a 640x360 source)',
      restarts: restarts.length,
      firstPartMs: summary(restarts.map((r) => r.firstPartMs)),
      targetFirstPartMs: 2000,
      gapMs: summary(restarts.map((r) => r.gapMs)),
      apiMs: summary(restarts.map((r) => r.apiMs)),
      phasesMedianMs: {
        stop: Math.round(median(defined(restarts.map((r) => r.stopMs)))),
        spawn: Math.round(median(defined(restarts.map((r) => r.spawnMs)))),
        firstFrame: Math.round(median(defined(restarts.map((r) => r.firstFrameMs)))),
        firstPart: Math.round(median(restarts.map((r) => r.firstPartMs))),
      },
      viewer: {
        stallsPerRestart: restarts.map((r) => r.stalls),
        stalledMsPerRestart: restarts.map((r) => r.stalledMs),
        stalledMs: summary(restarts.map((r) => r.stalledMs)),
        nonFatalErrors: restarts.flatMap((r) => r.nonFatalErrors),
        fatalErrors: final.fatalErrors,
        playedSeconds: Math.round(final.currentTime),
      },
      perRestart: restarts,
      crash: {
        crashes: crashes.length,
        firstPartMs: summary(crashes.map((r) => r.firstPartMs)),
        targetFirstPartMs: 2000,
        gapMs: summary(crashes.map((r) => r.gapMs)),
        phasesMedianMs: {
          exitHandled: Math.round(median(defined(crashes.map((r) => r.stopMs)))),
          spawn: Math.round(median(defined(crashes.map((r) => r.spawnMs)))),
          firstFrame: Math.round(median(defined(crashes.map((r) => r.firstFrameMs)))),
          firstPart: Math.round(median(crashes.map((r) => r.firstPartMs))),
        },
        viewer: {
          stalledMsPerCrash: crashes.map((r) => r.stalledMs),
          nonFatalErrors: crashes.flatMap((r) => r.nonFatalErrors),
        },
        perCrash: crashes,
      },
    };
  } finally {
    await player?.close();
    await browser?.close();
    await publisher?.stop();
    await serve.close();
  }
}

// `npx tsx bench/restart.bench.ts` runs it alone.
runIfMain(import.meta.url, run);
