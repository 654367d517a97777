/**
 * The web console (issue 18): a real `serve` in this process with an API token and 100 channel
 * definitions (`low-latency` ladder), the console in Debian's Chromium through playwright-core (the
 * token put in session storage before the page loads, as after a login).
 *
 * - `firstLoad`: a fresh browser context each time (cold cache): bytes transferred for the page, its
 *   script and style and the channel-list probe (the Resource Timing `transferSize`, headers included;
 *   hls.js is loaded only when a preview opens and is reported apart), and the time from navigation
 *   start to all 100 channel cards on screen.
 * - `eventToUpdate`: a channel stopped and started again through the API, alternately; per change the
 *   time from the bus event (`channel:state`, taken in this process) to the console's state badge
 *   showing it (a MutationObserver in the page; same machine clock), with 1 console open and with 10.
 * - `cpu`: one channel live (ffmpeg RTMP publisher, 640x360 30 fps): CPU seconds of this process (serve
 *   and the idle playwright client; not ffmpeg, not Chromium) per wall second, alternating phases with
 *   no console and with 10 consoles open (each on the 100-channel list, no preview), side by side.
 */
import { writeFile } from 'node:fs/promises';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { loadConsoleAssets } from '../src/api/console-assets.js';
import { LivepipeEvent } from '../src/core/event-bus.js';
import { launchBrowser, median } from '../test/helpers/player/hls-player.js';
import { publishTestPattern, startServeFixture, type ServeFixture } from '../test/helpers/serve/serve-fixture.js';
import { waitFor } from '../test/helpers/wait.js';
import { runIfMain } from './run-if-main.js';

const TOKEN = 'console-bench-token-0123456789';
const CHANNELS = 100;
const LOADS = Number(process.env.LIVEPIPE_BENCH_CONSOLE_LOADS ?? 5);
const CHANGES = Number(process.env.LIVEPIPE_BENCH_CONSOLE_CHANGES ?? 20);
const CONSOLES = 10;
const CPU_PHASE_SECONDS = Number(process.env.LIVEPIPE_BENCH_CONSOLE_CPU_SECONDS ?? 15);
const CPU_ROUNDS = 2;
/**
 * Consoles per Chromium: a browser opens at most 6 HTTP/1.1 connections to one host (shared by its
 * contexts), and every open console holds one for its event stream; 10 consoles need 2 browsers.
 */
const CONSOLES_PER_BROWSER = 5;

const id = (i: number): string => `ch-${String(i).padStart(3, '0')}`;

function spread(values: number[]): { median: number; min: number; max: number; p95: number; n: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const round = (v: number): number => Math.round(v * 10) / 10;
  return {
    median: round(median(sorted)),
    min: round(sorted[0] ?? NaN),
    max: round(sorted[sorted.length - 1] ?? NaN),
    p95: round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))] ?? NaN),
    n: sorted.length,
  };
}

/** A logged-in console on the channel list: its own context, so its session storage is its own. */
async function openConsole(browser: Browser, base: string): Promise<{ context: BrowserContext; page: Page }> {
  // The measuring scripts below are text (this file is type-checked for Node), which playwright runs
  // with eval: the console's CSP forbids that, so the bench contexts bypass it.
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, bypassCSP: true });
  await context.addInitScript(`sessionStorage.setItem('livepipe.apiToken', ${JSON.stringify(TOKEN)})`);
  const page = await context.newPage();
  await page.goto(`${base}/`);
  await page.waitForFunction(`document.querySelectorAll('article[data-channel]').length === ${CHANNELS}`, undefined, { timeout: 60_000 });
  await page.waitForFunction(`document.querySelector('.connection')?.textContent === 'Live updates on'`, undefined, { timeout: 30_000 }).catch(async (err: Error) => {
    throw new Error(`console not connected (${await page.locator('.connection').textContent()}): ${err.message}`);
  });
  return { context, page };
}

async function firstLoad(browser: Browser, base: string): Promise<Record<string, unknown>> {
  const listMs: number[] = [];
  let bytes: Record<string, number> = {};
  for (let i = 0; i < LOADS; i++) {
    const { context, page } = await openConsole(browser, base);
    listMs.push(await page.evaluate(() => performance.now()));
    // In the page (browser code, as text: this file is type-checked for Node).
    bytes = (await page.evaluate(`(() => {
      const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
      const of = (match) => entries.filter((e) => match(e.name)).reduce((sum, e) => sum + e.transferSize, 0);
      return {
        total: of(() => true),
        page: of((n) => !n.includes('/assets/') && !n.includes('/api/')),
        assets: of((n) => n.includes('/assets/')),
        channelList: of((n) => n.includes('/api/v1/channels')),
        consoleFilesUncompressed: entries.filter((e) => !e.name.includes('/api/')).reduce((sum, e) => sum + e.decodedBodySize, 0),
      };
    })()`)) as Record<string, number>;
    await context.close();
  }
  return { bytesTransferred: bytes, timeToChannelListMs: spread(listMs) };
}

/** Stops and starts channel `ch-050` through the API; per change, bus event → badge updated in every page. */
async function eventToUpdate(serve: ServeFixture, pages: Page[]): Promise<Record<string, unknown>> {
  const channel = id(50);
  const delays: number[] = [];
  for (let i = 0; i < CHANGES; i++) {
    const target = i % 2 === 0 ? 'stopped' : 'idle';
    // Resolves with the page's clock when the badge shows the new state.
    const seen = pages.map(
      (page) =>
        page.evaluate(`new Promise((resolve) => {
          const badge = document.querySelector('article[data-channel="${channel}"] [data-testid="state"]');
          const observer = new MutationObserver(() => {
            if (badge.textContent === '${target}') { observer.disconnect(); resolve(Date.now()); }
          });
          observer.observe(badge, { childList: true, characterData: true, subtree: true });
        })`) as Promise<number>,
    );
    let eventAt = 0;
    const off = serve.handle.bus.on(LivepipeEvent.ChannelStateChanged, (payload) => {
      if (payload.channel === channel && payload.state === target) eventAt = Date.now();
    });
    // The observers are in place before the change is made.
    await Promise.all(pages.map((page) => page.evaluate('new Promise((r) => requestAnimationFrame(r))')));
    const answer = await serve.api('POST', `/api/v1/channels/${channel}/${target === 'stopped' ? 'stop' : 'start'}`);
    if (answer.status !== 200) throw new Error(`${target}: ${answer.status} ${answer.text}`);
    const updated = await Promise.all(seen);
    off();
    for (const at of updated) delays.push(at - eventAt);
  }
  return spread(delays);
}

function cpuPercent(work: () => Promise<void>): Promise<number> {
  const before = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  return work().then(() => {
    const used = process.cpuUsage(before);
    const wallUs = Number(process.hrtime.bigint() - t0) / 1000;
    return Math.round(((used.user + used.system) / wallUs) * 1000) / 10;
  });
}

export async function run(): Promise<Record<string, unknown>> {
  const serve = await startServeFixture(
    { channels: Array.from({ length: CHANNELS }, (_, i) => ({ id: id(i), ladder: 'low-latency', key: `console-bench-key-${i}-0123456789` })) },
    { token: TOKEN },
  );
  const browsers = [await launchBrowser(), await launchBrowser()];
  const browser = browsers[0]!;
  const openConsoles = async (): Promise<Array<{ context: BrowserContext; page: Page }>> => {
    const open = [];
    for (let i = 0; i < CONSOLES; i++) open.push(await openConsole(browsers[Math.floor(i / CONSOLES_PER_BROWSER)]!, serve.apiBase));
    return open;
  };
  try {
    const progress = (what: string): boolean => process.stderr.write(`console bench: ${what}\n`);
    const load = await firstLoad(browser, serve.apiBase);
    progress('first load measured');

    // hls.js, fetched when the first preview opens: its size as served (the gzip twin is what goes out).
    const assets = (await loadConsoleAssets())!;
    const hls = [...assets.values()].find((asset) => asset.path.startsWith('/assets/hls-'));
    const hlsChunkBytes = { uncompressed: hls?.body.length, gzip: hls?.gzip?.length };
    const probe = await openConsole(browser, serve.apiBase);
    const single = await eventToUpdate(serve, [probe.page]);
    await probe.context.close();

    progress('delay with one console measured');
    const consoles = await openConsoles();
    const tenDelays = await eventToUpdate(serve, consoles.map((c) => c.page));
    await Promise.all(consoles.map((c) => c.context.close()));

    progress('delay with ten consoles measured');
    // CPU on a live node: one channel publishing, no console vs 10 consoles, alternately.
    const publisher = publishTestPattern(serve, id(0), `console-bench-key-0-0123456789`, 600);
    await waitFor(() => (serve.state(id(0)) === 'live' ? true : undefined), { timeoutMs: 60_000, message: 'channel live' });
    await new Promise((r) => setTimeout(r, 5_000));
    const idle: number[] = [];
    const withConsoles: number[] = [];
    const sleep = (): Promise<void> => new Promise((r) => setTimeout(r, CPU_PHASE_SECONDS * 1000));
    for (let round = 0; round < CPU_ROUNDS; round++) {
      idle.push(await cpuPercent(sleep));
      // Fresh browsers each round: nothing of an earlier round (closed contexts, caches) carries over.
      const roundBrowsers = [await launchBrowser(), await launchBrowser()];
      const open = [];
      for (let i = 0; i < CONSOLES; i++) open.push(await openConsole(roundBrowsers[Math.floor(i / CONSOLES_PER_BROWSER)]!, serve.apiBase));
      // Opening costs are not the steady state: settle, then measure.
      await new Promise((r) => setTimeout(r, 2_000));
      withConsoles.push(await cpuPercent(sleep));
      progress(`cpu round ${round + 1}: ${idle[round]} % without, ${withConsoles[round]} % with ${CONSOLES} consoles`);
      const stillOpen = open.filter((c) => !c.page.isClosed()).length;
      if (stillOpen !== CONSOLES) throw new Error(`only ${stillOpen} of ${CONSOLES} consoles stayed open during the phase`);
      await Promise.all(roundBrowsers.map((b) => b.close()));
      await new Promise((r) => setTimeout(r, 2_000));
    }
    await publisher.stop();

    const result = {
      conditions: `${CHANNELS} channel definitions, token auth, Chromium ${browser.version()}, 1366x768; 2-core machine shared with other helpers' tests and benches`,
      firstLoad: { ...load, hlsChunkOnFirstPreview: hlsChunkBytes },
      eventToUpdateMs: { oneConsole: single, tenConsoles: tenDelays },
      cpuPercentOfOneCore: {
        noConsole: idle,
        tenConsoles: withConsoles,
        addedByTenConsoles: spread(withConsoles.map((v, i) => v - idle[i]!)),
        phaseSeconds: CPU_PHASE_SECONDS,
        measured: 'this process: serve + the idle playwright client; ffmpeg and Chromium excluded',
      },
    };
    await writeFile(new URL('./results/console.json', import.meta.url), JSON.stringify(result, null, 2) + '\n');
    return result;
  } finally {
    await Promise.all(browsers.map((b) => b.close()));
    await serve.close();
  }
}

runIfMain(import.meta.url, run);
