/**
 * Issue 15, point 5 over the real `serve` stack and its own ops API: metric series exist only for
 * channels that are live (or were live recently) and leave with a deleted channel, so idle
 * definitions do not grow `/metrics`; and the publish path keeps the bounds of channel definitions
 * (open mode refuses an id differing only in letter case, and a channel over the limit).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startServeFixture, type ServeFixture } from '../../helpers/serve/serve-fixture.js';
import { parsePrometheusText, sampleValue, type ParsedExposition } from '../../helpers/observability/prometheus-text-parser.js';
import { waitFor } from '../../helpers/wait.js';

const KEY = 'series-publish-key-0001';

async function scrape(serve: ServeFixture): Promise<ParsedExposition> {
  const response = await fetch(`${serve.apiBase}/metrics`);
  expect(response.status).toBe(200);
  return parsePrometheusText(await response.text());
}

const channelsIn = (p: ParsedExposition): string[] => [...new Set(p.samples.flatMap((s) => (s.labels.channel !== undefined ? [s.labels.channel] : [])))].sort();

describe('metric series of channels over the real stack', () => {
  let serve: ServeFixture | undefined;
  afterEach(async () => {
    await serve?.close();
    serve = undefined;
  });

  it('adds no series for 100 idle channels made through the API, only their count by state', async () => {
    serve = await startServeFixture({});
    for (let i = 0; i < 100; i++) {
      const response = await fetch(`${serve.apiBase}/api/v1/channels`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id: `idle-${i}`, key: KEY }),
      });
      expect(response.status).toBe(201);
    }
    const after = await scrape(serve);
    expect(channelsIn(after)).toEqual([]);
    expect(after.samples.filter((sample) => sample.name.startsWith('livepipe_channel_state'))).toEqual([]);
    expect(sampleValue(after, 'livepipe_channels', { state: 'idle' })).toBe(100);
  });

  it('open mode: a live channel has series, ids differing only in case and channels over the limit are refused, and a deleted channel\'s series go', async () => {
    serve = await startServeFixture({ maxChannelDefinitions: 1 });
    const live = serve.publish(serve.rtmpUrl('LL'), 'flv', { seconds: 120 });
    await waitFor(() => (serve!.state('LL') === 'live' ? true : undefined), { message: 'LL live', timeoutMs: 60_000 });
    const whileLive = await scrape(serve);
    expect(channelsIn(whileLive)).toEqual(['LL']);
    expect(sampleValue(whileLive, 'livepipe_channel_state', { channel: 'LL', state: 'live' })).toBe(1);

    // ffmpeg ends with an error when the RTMP publish is rejected; no channel is made for either.
    for (const id of ['ll', 'other']) {
      const refused = serve.publish(serve.rtmpUrl(id), 'flv', { seconds: 120 });
      // An accepted publisher would still be running long after a refused one has given up.
      const outcome = await Promise.race([refused.exited, new Promise<'still publishing'>((r) => setTimeout(() => r('still publishing'), 20_000))]);
      expect(outcome, `${id}: ${refused.stderr()}`).not.toBe('still publishing');
      expect(outcome, `${id}: ${refused.stderr()}`).not.toBe(0);
      expect(serve.handle.manager.get(id), id).toBeUndefined();
    }
    const logged = serve.logs.text();
    expect(logged).toMatch(/publish refused: a channel whose id differs only in letter case exists/);
    expect(logged).toMatch(/publish refused: as many channels as maxChannelDefinitions allows exist/);
    expect(serve.state('LL')).toBe('live');

    // The ops API keeps the same bounds beside the open-mode channel the registry does not hold.
    const create = async (id: string): Promise<{ status: number; json: any }> => {
      const response = await fetch(`${serve!.apiBase}/api/v1/channels`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id, key: KEY }),
      });
      return { status: response.status, json: await response.json() };
    };
    const clash = await create('ll');
    expect(clash.status).toBe(409);
    expect(clash.json.error).toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/channel "LL" exists already/) });
    const full = await create('other');
    expect(full.status).toBe(409);
    expect(full.json.error).toMatchObject({ code: 'LIMIT_REACHED', details: { limit: 1 } });
    expect(serve.handle.registry.list()).toEqual([]);

    const deleted = await fetch(`${serve.apiBase}/api/v1/channels/LL`, { method: 'DELETE' });
    expect(deleted.status).toBe(204);
    await live.exited;
    const afterDelete = await scrape(serve);
    expect(channelsIn(afterDelete)).toEqual([]);
    expect(sampleValue(afterDelete, 'livepipe_channels', { state: 'live' })).toBe(0);
  });
});
