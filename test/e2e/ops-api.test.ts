/**
 * The ops API against a real `serve` (in-process `startServe`: RTMP ingest, channel manager, real
 * ffmpeg ladder on `low-latency`, packager, filesystem storage, origin) with a real ffmpeg RTMP
 * publisher: every endpoint, auth and validation failures, stop/start, kick, key rotation, state that
 * survives a restart of serve, and `/metrics` moving with the media.
 *
 * The steps share one serve and run in order (vitest runs a file's tests sequentially).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Publisher } from '../helpers/ingest/media.js';
import { originText, publishTestPattern, startServeFixture, type ApiAnswer, type ServeFixture } from '../helpers/serve/serve-fixture.js';
import { playlistFacts } from '../helpers/hls/playlist-facts.js';
import { freePort } from '../helpers/ports.js';
import { checkMediaPlaylist } from '../helpers/hls/llhls-rules.js';
import { parsePrometheusText, sampleValue, type ParsedExposition } from '../helpers/observability/prometheus-text-parser.js';
import { waitFor } from '../helpers/wait.js';

const TOKEN = 'ops-e2e-token-0123456789abcdef';
const KEY = 'first-key-0123456789';
const NEW_KEY = 'rotated-key-9876543210';
const CH = '/api/v1/channels';

describe('ops API on a real serve with a real publisher', () => {
  let serve: ServeFixture;
  const publishers: Publisher[] = [];

  const view = async (id = 'ops'): Promise<ApiAnswer> => serve.api('GET', `${CH}/${id}`);
  const waitState = (state: string, extra: (json: Record<string, unknown>) => boolean = () => true, id = 'ops') =>
    waitFor(view.bind(null, id), { until: (r) => r.status === 200 && r.json.state === state && extra(r.json), timeoutMs: 45_000, message: `channel ${id} ${state}` });
  const startPublisher = (key: string): Publisher => {
    const p = publishTestPattern(serve, 'ops', key);
    publishers.push(p);
    return p;
  };
  /** A publisher that livepipe refuses or drops exits on its own; never leave one running. */
  const exitsWithin = async (p: Publisher, ms: number): Promise<boolean> => {
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms));
    const outcome = await Promise.race([p.exited.then(() => 'exited' as const), timer]);
    return outcome === 'exited';
  };
  const scrape = async (): Promise<ParsedExposition> => {
    const res = await fetch(`${serve.apiBase}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    return parsePrometheusText(await res.text());
  };

  beforeAll(async () => {
    // A range of SRT ports: the channels made through the API each get one.
    serve = await startServeFixture({ srt: { portBase: await freePort('udp'), portCount: 100 } }, { token: TOKEN });
  });

  afterAll(async () => {
    await Promise.all(publishers.map((p) => p.stop()));
    await serve?.close();
  });

  it('refuses unauthenticated and malformed calls with the documented statuses', async () => {
    const noToken = await serve.api('GET', CH, undefined, { token: null });
    expect(noToken.status).toBe(401);
    expect(noToken.headers.get('www-authenticate')).toMatch(/^Bearer realm="livepipe"/);
    const wrong = await serve.api('GET', CH, undefined, { token: 'wrong-token-0123456789abcdef' });
    expect(wrong.status).toBe(403);
    expect(wrong.json.error.code).toBe('FORBIDDEN');
    const basic = await serve.api('GET', CH, undefined, { token: null, headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    expect(basic.status).toBe(401);
    // A denied mutation does nothing.
    const deniedCreate = await serve.api('POST', CH, { id: 'sneaky', ladder: 'low-latency' }, { token: null });
    expect(deniedCreate.status).toBe(401);
    expect((await view('sneaky')).status).toBe(404);

    // Probes and scrapers need no token.
    for (const path of ['/healthz', '/readyz', '/metrics', '/api/v1/openapi.json']) {
      expect((await fetch(`${serve.apiBase}${path}`)).status, path).toBe(200);
    }

    const cases: Array<[string, unknown, number, string]> = [
      ['bad JSON', '{"id": "x",', 400, 'BAD_REQUEST'],
      ['unknown field', { id: 'x1', ladder: 'low-latency', colour: 'blue' }, 400, 'BAD_REQUEST'],
      ['invalid id', { id: '../etc', ladder: 'low-latency' }, 400, 'BAD_REQUEST'],
      ['short key', { id: 'x2', ladder: 'low-latency', key: 'short' }, 400, 'BAD_REQUEST'],
      ['unknown ladder', { id: 'x3', ladder: 'no-such-ladder' }, 422, 'LADDER_NOT_FOUND'],
    ];
    for (const [what, body, status, code] of cases) {
      const r = await serve.api('POST', CH, body);
      expect(r.status, what).toBe(status);
      expect(r.json?.error?.code, what).toBe(code);
      expect(typeof r.json.error.message, what).toBe('string');
    }
    const form = await serve.api('POST', CH, 'id=x4', { headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(form.status).toBe(415);
    expect((await view('nope')).status).toBe(404);
    expect((await serve.api('POST', `${CH}/nope/restart`)).status).toBe(404);
    expect((await serve.api('GET', CH)).json).toEqual({ channels: [] });
  });

  it('creates a channel (201, Location) and shows it idle with its URLs', async () => {
    const created = await serve.api('POST', CH, { id: 'ops', ladder: 'low-latency', key: KEY });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe(`${CH}/ops`);
    expect(created.json.key).toBeUndefined(); // a given key is never echoed
    expect(created.json).toMatchObject({ id: 'ops', ladder: 'low-latency', state: 'idle', keyLast4: KEY.slice(-4) });
    expect(created.json.urls.playback).toBe(`${serve.originBase}/live/ops/master.m3u8`);
    expect(created.json.urls.rtmp).toContain(`rtmp://127.0.0.1:${serve.rtmpPort}/live/ops`);
    expect(created.text).not.toContain(KEY);

    expect((await serve.api('POST', CH, { id: 'ops', ladder: 'low-latency', key: KEY })).status).toBe(409);

    const generated = await serve.api('POST', CH, { id: 'spare', ladder: 'low-latency' });
    expect(generated.status).toBe(201);
    expect(generated.json.key).toMatch(/^[A-Za-z0-9_-]{32,}$/);
    expect(generated.json.keyLast4).toBe(generated.json.key.slice(-4));

    const list = await serve.api('GET', CH);
    expect(list.status).toBe(200);
    expect(list.json.channels.map((c: { id: string }) => c.id).sort()).toEqual(['ops', 'spare']);
    expect(list.text).not.toContain(KEY);
    expect(list.text).not.toContain(generated.json.key);

    // Nothing to restart or kick without a publisher.
    expect((await serve.api('POST', `${CH}/ops/restart`)).json.error.code).toBe('CONFLICT');
    expect((await serve.api('POST', `${CH}/ops/kick`)).status).toBe(409);
  });

  it('goes live with a publisher: the view carries publisher, per-rendition stats, media sequence', async () => {
    const since = Date.now();
    startPublisher(KEY);
    const live = await waitState('live', (j) => typeof j.mediaSequence === 'number' && (j.mediaSequence as number) >= 2);
    const v = live.json;
    expect(v.publisher.protocol).toBe('rtmp');
    expect(v.publisher.remoteAddress).toMatch(/127\.0\.0\.1/);
    expect(Date.parse(v.publisher.since)).toBeGreaterThanOrEqual(since - 1000);
    expect(v.publisher.video).toMatchObject({ codec: expect.stringMatching(/h264|avc/i), width: 640, height: 360 });
    expect(v.publisher.audio.codec).toMatch(/aac/i);
    // The publisher's bitrate is sampled; wait for a measurement.
    const measured = await waitFor(view, { until: (r) => (r.json.publisher?.bitrate ?? 0) > 0, message: 'ingest bitrate' });
    expect(measured.json.publisher.bitrate).toBeGreaterThan(10_000);

    // low-latency ladder on a 640x360 source: 720p and 480p exceed it and are dropped.
    expect(v.transcoder.dropped.map((d: { name: string }) => d.name).sort()).toEqual(['480p', '720p']);
    const renditions = v.transcoder.renditions as Array<Record<string, unknown>>;
    expect(renditions.map((r) => r.name)).toEqual(['360p', 'audio']);
    expect(renditions[0]).toMatchObject({ kind: 'video', width: 640, height: 360, bitrate: 700_000 });
    expect(renditions[1]).toMatchObject({ kind: 'audio', bitrate: 96_000 });
    expect(v.transcoder.state).toMatch(/starting|running/);
    expect(v.transcoder.runId).toBe(1);
    const stats = await waitFor(view, { until: (r) => r.json.transcoder.renditions.every((x: { lastMsn?: number }) => typeof x.lastMsn === 'number') && r.json.transcoder.renditions[0].fps > 0, message: 'rendition stats' });
    for (const r of stats.json.transcoder.renditions) {
      expect(r.lastMsn).toBeGreaterThanOrEqual(1);
      expect(r.lastPart).toBeGreaterThanOrEqual(0);
    }
    expect(stats.json.transcoder.renditions[0].speed).toBeGreaterThan(0);
    expect(stats.json.mediaSequence).toBe(Math.max(...stats.json.transcoder.renditions.map((r: { lastMsn: number }) => r.lastMsn)));

    // The playback URL plays: the multivariant and media playlists are there at the origin.
    const master = await (await fetch(v.urls.playback)).text();
    expect(master).toContain('360p/playlist.m3u8');
    expect(master).toMatch(/#EXT-X-MEDIA:TYPE=AUDIO/);
    const facts = playlistFacts((await originText(serve, '/live/ops/360p/playlist.m3u8'))!);
    expect(facts.parts).toBeGreaterThan(0);
    // The view's position is close to the playlist's (both move; the playlist is read later).
    expect(facts.lastMsn).toBeGreaterThanOrEqual(stats.json.transcoder.renditions[0].lastMsn);
  });

  it('/metrics is valid Prometheus text and its counters move with the media and the origin', async () => {
    const ch = { channel: 'ops' };
    // Ingest bitrate and encoder progress are sampled every 2 s: wait for a sample with frames in it.
    const before = await waitFor(scrape, { until: (p) => (sampleValue(p, 'livepipe_encoder_fps', ch) ?? 0) > 0, message: 'an encoder fps sample' });
    expect(sampleValue(before, 'livepipe_channel_state', { channel: 'ops', state: 'live' })).toBe(1);
    expect(sampleValue(before, 'livepipe_channel_state', { channel: 'ops', state: 'idle' })).toBe(0);
    expect(sampleValue(before, 'livepipe_channels', { state: 'live' })).toBe(1);
    expect(sampleValue(before, 'livepipe_channels', { state: 'idle' })).toBe(1); // spare
    expect(sampleValue(before, 'livepipe_ingest_bitrate_bits_per_second', ch)).toBeGreaterThan(0);
    expect(sampleValue(before, 'livepipe_encoder_speed_ratio', ch)).toBeGreaterThan(0);

    const playlist = (await originText(serve, '/live/ops/360p/playlist.m3u8'))!;
    const facts = playlistFacts(playlist);
    const partUri = facts.partUris.at(-1)!;
    expect((await fetch(`${serve.originBase}/live/ops/360p/${partUri}`)).status).toBe(200);
    expect((await fetch(`${serve.originBase}/live/ops/360p/${partUri}`)).status).toBe(200);
    expect((await fetch(`${serve.originBase}/live/ops/360p/seg-${facts.segments.at(-1)!.msn}.m4s`)).status).toBe(200);
    expect((await fetch(`${serve.originBase}/live/ops/360p/playlist.m3u8?_HLS_msn=${facts.lastMsn + 1}&_HLS_part=0`)).status).toBe(200);
    expect((await fetch(`${serve.originBase}/live/ops/360p/nothing.m4s`)).status).toBe(404);
    await new Promise((r) => setTimeout(r, 1500)); // more parts and segments
    const after = await scrape();

    const grew = (name: string, labels: Record<string, string> = {}) => {
      const a = sampleValue(before, name, labels) ?? 0;
      const b = sampleValue(after, name, labels) ?? 0;
      expect(b, `${name} ${JSON.stringify(labels)}`).toBeGreaterThan(a);
    };
    grew('livepipe_parts_total', { channel: 'ops', rendition: '360p' });
    grew('livepipe_parts_total', { channel: 'ops', rendition: 'audio' });
    grew('livepipe_segments_total', { channel: 'ops', rendition: '360p' });
    grew('livepipe_part_latency_seconds_count', { channel: 'ops', rendition: '360p' });
    grew('livepipe_storage_operation_duration_seconds_count', { operation: 'put' });
    grew('livepipe_origin_requests_total', { class: 'playlist', status: '200' });
    grew('livepipe_origin_requests_total', { class: 'blocking_playlist', status: '200' });
    grew('livepipe_origin_requests_total', { class: 'part', status: '200' });
    grew('livepipe_origin_requests_total', { class: 'segment', status: '200' });
    grew('livepipe_origin_requests_total', { class: 'other', status: '404' });
    grew('livepipe_origin_cache_hits_total');
    expect(sampleValue(after, 'livepipe_storage_errors_total', { operation: 'put' })).toBe(0);
    // Part latency on loopback is well inside the histogram's range (recorded, not a timing target).
    expect(sampleValue(after, 'livepipe_part_latency_seconds_bucket', { channel: 'ops', rendition: '360p', le: '+Inf' })).toBe(
      sampleValue(after, 'livepipe_part_latency_seconds_count', { channel: 'ops', rendition: '360p' }),
    );
  });

  it('kick drops the publisher; the channel waits for it to come back', async () => {
    const current = publishers.at(-1)!;
    const kicked = await serve.api('POST', `${CH}/ops/kick`);
    expect(kicked.status).toBe(200);
    expect(await exitsWithin(current, 15_000)).toBe(true);
    const waiting = await waitState('reconnecting');
    expect(waiting.json.publisher).toBeUndefined();
    startPublisher(KEY);
    const back = await waitState('live', (j) => j.publisher !== undefined);
    expect(back.json.publisher.protocol).toBe('rtmp');
  });

  it('rotating the key drops the publisher; the old key is refused, the new one works', async () => {
    const current = publishers.at(-1)!;
    const patched = await serve.api('PATCH', `${CH}/ops`, { key: NEW_KEY });
    expect(patched.status).toBe(200);
    expect(patched.json.keyLast4).toBe(NEW_KEY.slice(-4));
    expect(patched.text).not.toContain(NEW_KEY);
    expect(await exitsWithin(current, 15_000)).toBe(true);
    await waitState('reconnecting');

    const stale = startPublisher(KEY);
    expect(await exitsWithin(stale, 15_000)).toBe(true);
    expect((await view()).json.state).not.toBe('live');

    startPublisher(NEW_KEY);
    const live = await waitState('live', (j) => j.publisher !== undefined);
    expect(live.json.keyLast4).toBe(NEW_KEY.slice(-4));
  });

  it('stop refuses publishes and ends the stream; start accepts them again', async () => {
    const current = publishers.at(-1)!;
    const stopped = await serve.api('POST', `${CH}/ops/stop`);
    expect(stopped.status).toBe(200);
    expect(stopped.json.state).toBe('stopped');
    expect(await exitsWithin(current, 15_000)).toBe(true);
    // The stream is closed for viewers.
    await waitFor(async () => playlistFacts((await originText(serve, '/live/ops/360p/playlist.m3u8'))!), { until: (f) => f.endList, message: 'EXT-X-ENDLIST' });

    const refused = startPublisher(NEW_KEY);
    expect(await exitsWithin(refused, 15_000)).toBe(true);
    const still = await view();
    expect(still.json.state).toBe('stopped');
    expect(still.json.publisher).toBeUndefined();

    const started = await serve.api('POST', `${CH}/ops/start`);
    expect(started.status).toBe(200);
    expect(started.json.state).toBe('idle');
    const before = playlistFacts((await originText(serve, '/live/ops/360p/playlist.m3u8'))!);
    startPublisher(NEW_KEY);
    await waitState('live');
    // The stream continues in the same playlist after a discontinuity, numbers still increasing.
    const resumed = await waitFor(async () => playlistFacts((await originText(serve, '/live/ops/360p/playlist.m3u8'))!), { until: (f) => !f.endList && f.lastMsn > before.lastMsn, message: 'the playlist to continue' });
    expect(resumed.discontinuities + resumed.discontinuitySequence).toBeGreaterThan(before.discontinuities + before.discontinuitySequence);
  });

  it('changing the ladder of a live channel restarts it with the new timing, in a new playlist', async () => {
    const playlist = async (r: string) => (await originText(serve, `/live/ops/${r}/playlist.m3u8`)) ?? '';
    for (const [ladder, td, partTarget] of [['default', 2, 0.5], ['low-latency', 1, 0.1]] as const) {
      const before = playlistFacts(await playlist('360p'));
      const patched = await serve.api('PATCH', `${CH}/ops`, { ladder });
      expect(patched.status).toBe(200);
      expect(patched.json.ladder).toBe(ladder);
      // Targets never change within a stream: the new timing gets a new list whose media sequence
      // continues after the old one, with parts of the new target.
      for (const rendition of ['360p', 'audio']) {
        const text = await waitFor(() => playlist(rendition), { until: (t) => t.includes(`#EXT-X-TARGETDURATION:${td}\n`) && playlistFacts(t).parts >= 3 && playlistFacts(t).segments.length >= 1, message: `${rendition} on ${ladder}` });
        expect(text).toContain(`#EXT-X-PART-INF:PART-TARGET=${partTarget.toFixed(3)}`);
        const facts = playlistFacts(text);
        expect(facts.mediaSequence).toBeGreaterThan(before.lastMsn);
        expect(facts.endList).toBe(false);
        expect(checkMediaPlaylist(text, { otherRenditions: ['360p', 'audio'].filter((x) => x !== rendition) })).toEqual([]);
      }
      const master = (await originText(serve, '/live/ops/master.m3u8')) ?? '';
      expect(master).toContain('360p/playlist.m3u8');
      expect((await view()).json).toMatchObject({ state: 'live', ladder });
    }
  });

  it('patch and delete persist across a restart of serve', async () => {
    expect((await serve.api('PATCH', `${CH}/spare`, { ladder: 'default' })).json.ladder).toBe('default');
    expect((await serve.api('PATCH', `${CH}/spare`, {})).status).toBe(400);
    expect((await serve.api('PATCH', `${CH}/spare`, { ladder: 'missing-ladder' })).status).toBe(422);
    expect((await serve.api('POST', CH, { id: 'gone', ladder: 'low-latency' })).status).toBe(201);
    expect((await serve.api('DELETE', `${CH}/gone`)).status).toBe(204);
    expect((await view('gone')).status).toBe(404);
    expect((await serve.api('DELETE', `${CH}/gone`)).status).toBe(404);

    await Promise.all(publishers.map((p) => p.stop()));
    await serve.restart();

    const list = await serve.api('GET', CH);
    expect(list.status).toBe(200);
    const byId = new Map<string, Record<string, unknown>>(list.json.channels.map((c: { id: string }) => [c.id, c]));
    expect([...byId.keys()].sort()).toEqual(['ops', 'spare']);
    expect(byId.get('ops')).toMatchObject({ ladder: 'low-latency', keyLast4: NEW_KEY.slice(-4) });
    // Its publisher left just before the restart, so its stored playlists have no EXT-X-ENDLIST: the
    // restarted serve restores them and waits out the grace period for the publisher (it answered
    // `idle` only when the list came before that restore, a race the console's start-up widened).
    await waitFor(async () => (await view()).json.state, { until: (state) => state === 'reconnecting', timeoutMs: 10_000, message: 'ops to wait for its publisher after the restart' });
    expect(byId.get('spare')).toMatchObject({ ladder: 'default' });

    // The rotated key is the one that publishes after the restart; the stream resumes from storage.
    const stored = playlistFacts((await originText(serve, '/live/ops/360p/playlist.m3u8')) ?? '');
    startPublisher(NEW_KEY);
    await waitState('live');
    const resumed = await waitFor(async () => playlistFacts((await originText(serve, '/live/ops/360p/playlist.m3u8')) ?? ''), { until: (f) => f.lastMsn > stored.lastMsn && f.parts > 0, message: 'the resumed playlist to advance' });
    expect(resumed.mediaSequence).toBeGreaterThanOrEqual(stored.mediaSequence);
  });
});
