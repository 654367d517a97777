/**
 * The origin's LL-HLS rules (../shared/LLHLS.md, "Origin behaviour") checked with real HTTP against a
 * real packager: `livepipe package --ladder low-latency --origin-port …` on a live test source. The
 * unit and integration suites under test/*\/origin check each rule against hand-made models; this
 * file proves they hold for the playlists our packager actually produces.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMediaPlaylist } from '../../src/hls/playlist-parser.js';
import { lastPosition } from '../../src/hls/playlist-model.js';
import { runCli, waitForHttp, type CliProcess } from '../helpers/cli/livepipe-cli.js';
import { freePort } from '../helpers/ports.js';

const SOURCE = 'testsrc2=size=640x360:rate=30[out0];sine=frequency=440:sample_rate=48000[out1]';
const TD = 1; // low-latency ladder: 1 s segments, 0.1 s parts (10 per segment at 30 fps)

describe('origin rules on a live low-latency channel from the real packager', () => {
  let dataDir: string;
  let pipeline: CliProcess;
  let base: string;

  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${base}/${path}`, { headers });
  const playlist = async (query = '') => {
    const res = await get(`360p/playlist.m3u8${query}`);
    return { res, text: await res.text() };
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'livepipe-conformance-'));
    const port = await freePort();
    base = `http://127.0.0.1:${port}/live/conf`;
    pipeline = runCli(['package', '--input', SOURCE, '--input-format', 'lavfi', '--channel', 'conf', '--ladder', 'low-latency',
      '--data-dir', dataDir, '--origin-port', String(port), '--duration', '120'], { LIVEPIPE_LOG_LEVEL: 'warn' });
    await waitForHttp(`${base}/360p/playlist.m3u8`, 30_000);
    // Enough media for delta updates: CAN-SKIP-UNTIL is 6 × TD, skipping needs older segments.
    const deadline = Date.now() + 40_000;
    while (Date.now() < deadline) {
      const model = parseMediaPlaylist((await playlist()).text);
      if (model.segments.length >= 9) break;
      await new Promise((r) => setTimeout(r, 500));
    }
  });

  afterAll(async () => {
    await pipeline?.stop('SIGINT');
    await rm(dataDir, { recursive: true, force: true });
  });

  it('serves the playlist with plain-playlist caching (0.5 × TD, at least 1 s) and an ETag', async () => {
    const { res, text } = await playlist();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/vnd.apple.mpegurl');
    expect(res.headers.get('cache-control')).toMatch(/max-age=1\b/);
    expect(res.headers.get('etag')).toBeTruthy();
    expect(text).toContain('#EXT-X-PRELOAD-HINT:TYPE=PART');
  });

  it('holds _HLS_msn/_HLS_part until that part exists, then sends the whole playlist with 6 × TD caching', async () => {
    const now = lastPosition(parseMediaPlaylist((await playlist()).text));
    const wantMsn = now.msn + 1;
    const started = Date.now();
    const { res, text } = await playlist(`?_HLS_msn=${wantMsn}&_HLS_part=1`);
    const waited = Date.now() - started;
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toMatch(new RegExp(`max-age=${6 * TD}\\b`));
    const model = parseMediaPlaylist(text);
    const pos = lastPosition(model);
    expect(pos.msn > wantMsn || (pos.msn === wantMsn && pos.part >= 1)).toBe(true);
    // It really waited for media: the part did not exist when asked.
    expect(waited).toBeGreaterThan(0);
    expect(text).toContain(`part-${wantMsn}-1.m4s`);
  });

  it('treats a part index past the segment end as part 0 of the next segment', async () => {
    // The segment being built has parts 0..9 (10 × 0.1 s); part 10 of it means part 0 of the next one.
    const model = parseMediaPlaylist((await playlist()).text);
    const building = model.pending?.msn ?? lastPosition(model).msn + 1;
    const { res, text } = await playlist(`?_HLS_msn=${building}&_HLS_part=10`);
    expect(res.status).toBe(200);
    expect(text).toContain(`part-${building + 1}-0.m4s`);
  });

  it('blocks _HLS_msn without _HLS_part (Safari) until segment M is complete', async () => {
    const model = parseMediaPlaylist((await playlist()).text);
    const building = model.pending?.msn ?? lastPosition(model).msn + 1;
    const { res, text } = await playlist(`?_HLS_msn=${building}`);
    expect(res.status).toBe(200);
    expect(text).toMatch(new RegExp(`\\nseg-${building}\\.m4s\\n`));
  });

  it.each([
    ['_HLS_part without _HLS_msn', '?_HLS_part=1'],
    ['non-numeric msn', '?_HLS_msn=abc'],
    ['negative part', '?_HLS_msn=1&_HLS_part=-1'],
    ['msn far ahead', '?_HLS_msn=99999999'],
    ['bad skip value', '?_HLS_skip=maybe'],
  ])('answers 400 at once for %s', async (_name, query) => {
    const started = Date.now();
    const { res } = await playlist(query);
    expect(res.status).toBe(400);
    expect(Date.now() - started).toBeLessThan(TD * 3 * 1000);
  });

  it('serves a delta update for _HLS_skip=YES with EXT-X-SKIP and a consistent media sequence', async () => {
    const fullText = (await playlist()).text;
    const full = parseMediaPlaylist(fullText);
    const { res, text } = await playlist('?_HLS_skip=YES');
    expect(res.status).toBe(200);
    const skipped = /#EXT-X-SKIP:SKIPPED-SEGMENTS=(\d+)/.exec(text);
    expect(skipped).not.toBeNull();
    expect(Number(skipped![1])).toBeGreaterThan(0);
    const sequence = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)![1]);
    expect(sequence).toBeGreaterThanOrEqual(full.mediaSequence);
    expect(text.length).toBeLessThan(fullText.length);
    expect(text).not.toContain(`\n${full.segments[0]!.uri}\n`);
  });

  it('holds a request for the preload-hinted part and answers with the part once it is stored', async () => {
    const text = (await playlist()).text;
    const hint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="([^"]+)"/.exec(text)![1]!;
    const res = await get(`360p/${hint}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toMatch(/immutable/);
    const body = Buffer.from(await res.arrayBuffer());
    expect(body.subarray(4, 8).toString('latin1')).toBe('moof');
  });

  it('answers 404 with short error caching for media that is neither known nor hinted', async () => {
    const res = await get('360p/part-999999-0.m4s');
    expect(res.status).toBe(404);
    expect(res.headers.get('cache-control')).toMatch(new RegExp(`max-age=${TD}\\b`));
  });

  it('serves media immutable, with Range and conditional GET', async () => {
    const model = parseMediaPlaylist((await playlist()).text);
    const segment = model.segments[model.segments.length - 1]!;
    const full = await get(`360p/${segment.uri}`);
    expect(full.status).toBe(200);
    expect(full.headers.get('cache-control')).toMatch(/immutable/);
    const etag = full.headers.get('etag')!;
    const bytes = Buffer.from(await full.arrayBuffer());
    const range = await get(`360p/${segment.uri}`, { range: 'bytes=0-7' });
    expect(range.status).toBe(206);
    expect(Buffer.from(await range.arrayBuffer())).toEqual(bytes.subarray(0, 8));
    const again = await get(`360p/${segment.uri}`, { 'if-none-match': etag });
    expect(again.status).toBe(304);
  });

  it('compresses playlists for clients that accept gzip', async () => {
    const res = await fetch(`${base}/360p/playlist.m3u8`, { headers: { 'accept-encoding': 'gzip' } });
    expect(res.status).toBe(200);
    // fetch decodes transparently: the header says it was compressed, the body still parses.
    expect(res.headers.get('content-encoding')).toBe('gzip');
    expect(res.headers.get('vary')).toMatch(/accept-encoding/i);
    expect(parseMediaPlaylist(await res.text()).segments.length).toBeGreaterThan(0);
  });

  it('names only media that is in storage, with rendition reports for the other renditions', async () => {
    const { text } = await playlist();
    const model = parseMediaPlaylist(text);
    const uris = [
      ...model.segments.flatMap((s) => [s.uri, ...s.parts.map((p) => p.uri)]),
      ...(model.pending?.parts.map((p) => p.uri) ?? []),
    ];
    for (const uri of uris) {
      const res = await fetch(`${base}/360p/${uri}`, { method: 'HEAD' });
      expect(res.status, uri).toBe(200);
    }
    // 720p and 480p exceed the 360p source and are dropped: the other rendition is the audio.
    expect(model.renditionReports.map((r) => r.uri)).toEqual(['../audio/playlist.m3u8']);
  });

  it('refuses path escapes', async () => {
    for (const path of ['..%2f..%2fetc%2fpasswd', '%2e%2e/%2e%2e/master.m3u8', '360p/..\\..\\x']) {
      const res = await fetch(`${base}/${path}`);
      expect(res.status, path).toBeGreaterThanOrEqual(400);
      expect(res.status, path).toBeLessThan(500);
    }
  });
});

