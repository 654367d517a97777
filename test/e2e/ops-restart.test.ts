/**
 * Operator restarts while a viewer watches: a real `serve` with an ffmpeg RTMP publisher on the
 * `low-latency` ladder, hls.js (low-latency mode) playing it in Chromium, and three
 * `POST /api/v1/channels/{id}/restart` a few seconds apart. Playback must go on without a fatal
 * error, media sequence numbers must only increase, and each restart must add exactly one
 * EXT-X-DISCONTINUITY, at the same media sequence number in every rendition, with a new init segment
 * and a discontinuity sequence that stays consistent as the playlist slides.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, startPlayer } from '../helpers/player/hls-player.js';
import { parsePrometheusText, sampleValue } from '../helpers/observability/prometheus-text-parser.js';
import { checkRenditionSet } from '../helpers/hls/llhls-rules.js';
import { PlaylistWatch } from '../helpers/hls/playlist-watch.js';
import type { Publisher } from '../helpers/ingest/media.js';
import { originText, publishTestPattern, startServeFixture, type ServeFixture } from '../helpers/serve/serve-fixture.js';
import { freePort } from '../helpers/ports.js';
import { waitFor } from '../helpers/wait.js';

const KEY = 'restart-e2e-key-0123456789';
const RENDITIONS = ['360p', 'audio'];

describe('operator restarts while hls.js plays', () => {
  let serve: ServeFixture;
  let publisher: Publisher;
  let browser: Browser;

  beforeAll(async () => {
    serve = await startServeFixture({ srt: { portBase: await freePort('udp'), portCount: 100 } });
    expect((await serve.api('POST', '/api/v1/channels', { id: 'restarts', ladder: 'low-latency', key: KEY })).status).toBe(201);
    publisher = publishTestPattern(serve, 'restarts', KEY);
    await waitFor(() => serve.api('GET', '/api/v1/channels/restarts'), { until: (r) => r.json.state === 'live' && (r.json.mediaSequence ?? 0) >= 3, timeoutMs: 60_000, message: 'live with 3 segments' });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await publisher?.stop();
    await serve?.close();
  });

  it('three restarts: playback continues, one discontinuity each, numbers only increase', async () => {
    const watches = RENDITIONS.map((r) => new PlaylistWatch(r, RENDITIONS));
    let polling = true;
    const poller = (async () => {
      while (polling) {
        await Promise.all(
          watches.map(async (w) => {
            const text = await originText(serve, `/live/restarts/${w.rendition}/playlist.m3u8`);
            if (text !== undefined) w.observeText(text);
          }),
        );
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    const player = await startPlayer(browser, `${serve.originBase}/live/restarts/master.m3u8`);
    try {
      const warm = await player.waitFor((s) => s.currentTime >= 3, 40_000);
      expect(warm.fatalErrors).toEqual([]);
      expect(warm.currentTime).toBeGreaterThanOrEqual(3);
      const existing = watches.map((w) => new Set(w.discontinuityAt));

      const runIds: number[] = [];
      for (let i = 0; i < 3; i++) {
        const answer = await serve.api('POST', '/api/v1/channels/restarts/restart');
        expect(answer.status).toBe(200);
        expect(answer.json.state).toBe('live');
        runIds.push(answer.json.transcoder.runId);
        // Every rendition shows the new run's discontinuity, then plays on for a few seconds.
        await waitFor(() => watches, { until: (ws) => ws.every((w, k) => [...w.discontinuityAt].filter((m) => !existing[k]!.has(m)).length === i + 1), timeoutMs: 20_000, message: `restart ${i + 1}'s discontinuity in every rendition` });
        await new Promise((r) => setTimeout(r, 4000));
      }

      const before = await player.stats();
      const after = await player.waitFor((s) => s.currentTime >= before.currentTime + 4, 30_000);
      expect(after.fatalErrors).toEqual([]);
      expect(after.currentTime).toBeGreaterThanOrEqual(before.currentTime + 4);
      expect(after.paused).toBe(false);
      console.log(
        `restart e2e: played ${after.currentTime.toFixed(1)} s, stalls ${after.stalls} (${Math.round(after.stalledMs)} ms), ` +
          `parts ${after.partsLoaded}, non-fatal errors ${after.nonFatalErrors.length}: ${after.nonFatalErrors.slice(0, 5).join('; ')}`,
      );

      polling = false;
      await poller;
      const added = watches.map((w, k) => [...w.discontinuityAt].filter((m) => !existing[k]!.has(m)).sort((a, b) => a - b));
      expect(checkRenditionSet(watches.map((w) => w.latestText))).toEqual([]);
      for (const [k, w] of watches.entries()) {
        expect(w.violations, w.rendition).toEqual([]);
        expect(w.polls).toBeGreaterThan(50);
        // Exactly one discontinuity per restart, each opening a segment with a new init segment.
        expect(added[k], w.rendition).toHaveLength(3);
        for (const msn of added[k]!) {
          expect(w.mapOf.get(msn), `${w.rendition} ${msn}`).not.toBe(w.mapOf.get(msn - 1));
          expect(w.discontinuityNumber.get(msn)).toBe(w.discontinuityNumber.get(msn - 1)! + 1);
        }
      }
      // §6.2.4: renditions share segment boundaries and discontinuities.
      expect(added[1]).toEqual(added[0]);
      // The view counts the restarts; the transcoder of each restart is a fresh run.
      const view = await serve.api('GET', '/api/v1/channels/restarts');
      expect(view.json.transcoder.restarts).toBeGreaterThanOrEqual(3);
      expect(runIds).toHaveLength(3);
      const metrics = parsePrometheusText(await (await fetch(`${serve.apiBase}/metrics`)).text());
      expect(sampleValue(metrics, 'livepipe_transcoder_restarts_total', { channel: 'restarts' })).toBe(3);
      expect(sampleValue(metrics, 'livepipe_channel_state', { channel: 'restarts', state: 'live' })).toBe(1);
      // The player's traffic reached the origin counters.
      expect(sampleValue(metrics, 'livepipe_origin_requests_total', { class: 'part', status: '200' })).toBeGreaterThan(0);
      expect(sampleValue(metrics, 'livepipe_origin_requests_total', { class: 'blocking_playlist', status: '200' })).toBeGreaterThan(0);
      expect(sampleValue(metrics, 'livepipe_origin_requests_total', { class: 'init', status: '200' })).toBeGreaterThanOrEqual(4); // one per run at least
    } finally {
      polling = false;
      await poller;
      await player.close();
    }
  });
});
