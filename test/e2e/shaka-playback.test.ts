/**
 * Shaka Player (npm `shaka-player`, its default config: low-latency mode on) plays every software
 * ladder through `livepipe serve`: one channel per ladder, each fed a small RTMP test pattern, all
 * three watched at once so the test stays cheap. Each must start, use LL-HLS parts, reach a steady
 * state, and then play on with no fatal error and no rebuffering. The hardware ladders
 * (ladders/hardware/*.yaml) are not shipped ladders and need a GPU this machine lacks.
 */
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchBrowser } from '../helpers/player/hls-player.js';
import { startShakaPlayer } from '../helpers/player/shaka-player.js';
import { getText, startServeFixture, type ServeFixture } from '../helpers/serve/serve-fixture.js';
import { waitFor } from '../helpers/wait.js';

const KEY = 'shaka-key-0123456789';
const LADDERS = readdirSync(new URL('../../ladders/', import.meta.url))
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => f.replace(/\.yaml$/, ''));
/** Seconds of playing (sampled every 250 ms while playing) before steady state: start-up stalls are the start's. */
const WARMUP_SECONDS = 6;
/** Wall-clock seconds of steady state watched for rebuffering. */
const STEADY_SECONDS = 10;

describe('Shaka Player plays every ladder', () => {
  let serve: ServeFixture;
  let browser: Browser;

  beforeAll(async () => {
    serve = await startServeFixture({ maxChannels: LADDERS.length, channels: LADDERS.map((ladder) => ({ id: ladder, ladder, key: KEY })) });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await serve?.close();
  });

  it(`plays ${LADDERS.join(', ')} with parts, no fatal error and no rebuffering in steady state`, async () => {
    expect(LADDERS).toEqual(expect.arrayContaining(['default', 'constrained', 'low-latency']));
    for (const ladder of LADDERS) serve.publish(serve.rtmpUrl(ladder, KEY), 'flv');
    const players = await Promise.all(
      LADDERS.map(async (ladder) => {
        const url = `${serve.live(ladder)}/master.m3u8`;
        await waitFor(async () => ((await getText(url)).status === 200 ? true : undefined), { timeoutMs: 45_000, message: `${ladder} master playlist` });
        return startShakaPlayer(browser, url);
      }),
    );
    try {
      const warm = await Promise.all(players.map((p) => p.waitFor((s) => s.latencySamples.length >= WARMUP_SECONDS * 4 || s.fatalErrors.length > 0, 60_000)));
      const steadyFrom = Date.now();
      const done = await Promise.all(
        players.map((p, i) => p.waitFor((s) => Date.now() - steadyFrom >= STEADY_SECONDS * 1000 || s.fatalErrors.length > 0, (STEADY_SECONDS + 20) * 1000).then((s) => ({ ladder: LADDERS[i], warm: warm[i]!, s }))),
      );
      for (const { ladder, warm: w, s } of done) console.log(`shaka ${ladder}: ${JSON.stringify({ latency: s.latency, stalls: s.stalls - w.stalls, stalledMs: Math.round(s.stalledMs - w.stalledMs), played: (s.latencySamples.length - w.latencySamples.length) / 4, parts: s.partsLoaded, segments: s.fragmentsLoaded, errors: s.nonFatalErrors })}`);
      for (const { ladder, warm: w, s } of done) {
        const played = (s.latencySamples.length - w.latencySamples.length) / 4;
        const label = `${ladder}: ${JSON.stringify({ fatal: s.fatalErrors, stalls: s.stalls - w.stalls, played })}`;
        expect(s.fatalErrors, label).toEqual([]);
        expect(w.latencySamples.length, label).toBeGreaterThanOrEqual(WARMUP_SECONDS * 4);
        expect(s.sawParts, label).toBe(true);
        expect(s.partsLoaded, label).toBeGreaterThan(0);
        // Steady state: played on in real time and never went back to waiting for data.
        expect(played, label).toBeGreaterThanOrEqual(STEADY_SECONDS * 0.8);
        expect(s.stalls - w.stalls, label).toBe(0);
      }
    } finally {
      await Promise.all(players.map((p) => p.close()));
    }
  }, 180_000);
});
