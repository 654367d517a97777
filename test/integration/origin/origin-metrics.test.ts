/**
 * The origin's metrics hook, through the real `Metrics` registry: every response is counted once by
 * what was asked (class) and its status, held requests show in the gauge while they wait, and media
 * reads split into cache hits and misses. Scraped and parsed with the strict Prometheus parser.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Metrics } from '../../../src/observability/metrics.js';
import { advance, liveModel } from '../../helpers/origin/playlists.js';
import { startOriginFixture, type OriginFixture } from '../../helpers/origin/fixture.js';
import { httpRequest } from '../../helpers/origin/http.js';
import { parsePrometheusText, sampleValue, type ParsedExposition } from '../../helpers/observability/prometheus-text-parser.js';
import { waitFor } from '../../helpers/wait.js';

const PL = '/live/news/v0/playlist.m3u8';

describe('origin metrics', () => {
  let f: OriginFixture;
  let metrics: Metrics;
  let model = liveModel();

  beforeEach(async () => {
    metrics = new Metrics({ processMetrics: false });
    f = await startOriginFixture({ metrics });
    model = liveModel();
    await f.publish(model);
  });
  afterEach(async () => {
    await f.close();
  });

  const get = (path: string, headers: Record<string, string> = {}, method = 'GET') => httpRequest(`${f.base}${path}`, { path, headers, method });
  const scrape = async (): Promise<ParsedExposition> => parsePrometheusText((await metrics.render()).body);
  const requests = (p: ParsedExposition, cls: string, status: string) => sampleValue(p, 'livepipe_origin_requests_total', { class: cls, status }) ?? 0;

  it('counts responses by class and status', async () => {
    expect((await get(PL)).status).toBe(200);
    expect((await get(PL)).status).toBe(200);
    expect((await get(`${PL}?_HLS_msn=3&_HLS_part=0`)).status).toBe(200);
    expect((await get(`${PL}?_HLS_msn=99`)).status).toBe(400);
    expect((await get('/live/news/v0/part-0-0.m4s')).status).toBe(200);
    expect((await get('/live/news/v0/seg-0.m4s')).status).toBe(200);
    expect((await get('/live/news/v0/seg-0.m4s', { range: 'bytes=0-9' })).status).toBe(206);
    expect((await get('/live/news/v0/init-1.mp4')).status).toBe(200);
    expect((await get('/live/news/v0/seg-999.m4s')).status).toBe(404);
    expect((await get('/live/news/master.m3u8')).status).toBe(404);
    expect((await get('/etc/passwd')).status).toBe(404);
    expect((await get('/live/news/v0/playlist.m3u8', {}, 'POST')).status).toBe(405);

    const p = await scrape();
    expect(requests(p, 'playlist', '200')).toBe(2);
    expect(requests(p, 'blocking_playlist', '200')).toBe(1);
    expect(requests(p, 'blocking_playlist', '400')).toBe(1);
    expect(requests(p, 'part', '200')).toBe(1);
    expect(requests(p, 'segment', '200')).toBe(1);
    expect(requests(p, 'segment', '206')).toBe(1);
    expect(requests(p, 'segment', '404')).toBe(1);
    expect(requests(p, 'init', '200')).toBe(1);
    expect(requests(p, 'multivariant', '404')).toBe(1);
    expect(requests(p, 'other', '404')).toBe(1);
    expect(requests(p, 'other', '405')).toBe(1);
    const total = p.samples.filter((s) => s.name === 'livepipe_origin_requests_total').reduce((sum, s) => sum + s.value, 0);
    expect(total).toBe(12); // each response counted exactly once
  });

  it('counters only grow across scrapes (deltas are added, never re-added)', async () => {
    await get(PL);
    expect(requests(await scrape(), 'playlist', '200')).toBe(1);
    expect(requests(await scrape(), 'playlist', '200')).toBe(1);
    await get(PL);
    await get(PL);
    expect(requests(await scrape(), 'playlist', '200')).toBe(3);
  });

  it('splits media reads into cache misses (first read) and hits (later reads)', async () => {
    const before = await scrape();
    expect(sampleValue(before, 'livepipe_origin_cache_hits_total')).toBe(0);
    expect(sampleValue(before, 'livepipe_origin_cache_misses_total')).toBe(0);
    await get('/live/news/v0/part-1-2.m4s');
    await get('/live/news/v0/part-1-2.m4s');
    await get('/live/news/v0/part-1-2.m4s', { 'if-none-match': '"x"' });
    const after = await scrape();
    expect(sampleValue(after, 'livepipe_origin_cache_misses_total')).toBe(1);
    expect(sampleValue(after, 'livepipe_origin_cache_hits_total')).toBe(2);
    expect(f.server.storageReads).toBe(1);
  });

  it('shows held requests in the gauge while they wait, and releases them', async () => {
    const pending = [get(`${PL}?_HLS_msn=3&_HLS_part=1`), get(`${PL}?_HLS_msn=3&_HLS_part=1`), get('/live/news/v0/part-3-1.m4s')];
    await waitFor(() => f.server.heldCount === 3, { timeoutMs: 10_000, intervalMs: 5, message: 'three held requests' });
    expect(sampleValue(await scrape(), 'livepipe_origin_held_requests')).toBe(3);
    model = advance(model);
    await f.publish(model);
    const answers = await Promise.all(pending);
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200]);
    await waitFor(() => f.server.heldCount === 0, { timeoutMs: 10_000, intervalMs: 5, message: 'released' });
    // The gauge drops when each response is done (its socket's 'close'), which follows the body.
    const deadline = Date.now() + 5000;
    let held = sampleValue(await scrape(), 'livepipe_origin_held_requests');
    while (held !== 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      held = sampleValue(await scrape(), 'livepipe_origin_held_requests');
    }
    expect(held).toBe(0);
    const p = await scrape();
    expect(requests(p, 'blocking_playlist', '200')).toBe(2);
    expect(requests(p, 'part', '200')).toBe(1);
  });
});
