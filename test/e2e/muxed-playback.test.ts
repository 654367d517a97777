/**
 * A ladder with `muxAudio` (ladders/low-latency-muxed.yaml) through `livepipe serve`: an RTMP test
 * pattern with a tone, 854x480 so the channel keeps two variants (480p, 360p). The multivariant
 * playlist lists the variants with both codecs and no audio group; every media playlist keeps the
 * LL-HLS rules (the project's checker) and names only stored media; a stored segment holds an H.264
 * and an AAC stream; hls.js and Shaka Player each play it — parts, no fatal error, audio and video
 * both decoded — and never ask for an audio playlist.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchBrowser, startPlayer, type Player, type PlayerStats } from '../helpers/player/hls-player.js';
import { startShakaPlayer } from '../helpers/player/shaka-player.js';
import { getText, lastMsn, mediaPlaylist, renditionsOf, startServeFixture, type ServeFixture } from '../helpers/serve/serve-fixture.js';
import { checkMediaPlaylist, checkRenditionSet } from '../helpers/hls/llhls-rules.js';
import { ffprobeStreams, objectsNamedBy } from '../helpers/package/live.js';
import { masterProblems } from '../helpers/package/run-checks.js';
import { waitFor } from '../helpers/wait.js';

const KEY = 'muxed-key-0123456789';
const CHANNEL = 'muxed';
const VARIANTS = ['480p', '360p'];
/** Seconds each player must have played. */
const PLAYED_SECONDS = 4;

/** The folder serve stores `live/{channel}/` in (under its data directory). */
async function storedChannelDir(dataDir: string): Promise<string> {
  const found = await waitFor(async () => {
    const walk = async (dir: string, depth: number): Promise<string | undefined> => {
      if (depth > 4) return undefined;
      for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
        if (!e.isDirectory()) continue;
        const path = join(dir, e.name);
        if (e.name === CHANNEL && dir.endsWith('live')) return path;
        const below = await walk(path, depth + 1);
        if (below !== undefined) return below;
      }
      return undefined;
    };
    return walk(dataDir, 0);
  }, { timeoutMs: 30_000, message: 'stored channel folder' });
  return found;
}

function expectPlayedBoth(s: PlayerStats, label: string): void {
  const what = `${label}: ${JSON.stringify({ fatal: s.fatalErrors, played: s.latencySamples.length / 4, stalls: s.stalls, parts: s.partsLoaded, decoded: s.decodedBytes, levels: s.levels })}`;
  expect(s.fatalErrors, what).toEqual([]);
  // Samples are taken every 250 ms while playing (currentTime is the live media time, not time played).
  expect(s.latencySamples.length, what).toBeGreaterThanOrEqual(PLAYED_SECONDS * 4);
  expect(s.sawParts, what).toBe(true);
  expect(s.partsLoaded, what).toBeGreaterThan(0);
  expect(s.decodedBytes.video, what).toBeGreaterThan(0);
  expect(s.decodedBytes.audio, what).toBeGreaterThan(0);
  for (const level of s.levels) expect(level.codecs, what).toMatch(/avc1.*mp4a|mp4a.*avc1/);
}

/** Paths (no query) the player asked the origin for (not its own page's blobs and scripts). */
function requestedPaths(player: Player, originBase: string): string[] {
  return player.requests().filter((r) => r.url.startsWith(originBase)).map((r) => new URL(r.url).pathname);
}

describe('livepipe serve: a muxAudio ladder (audio inside every variant)', () => {
  let serve: ServeFixture;
  let browser: Browser;
  let master: string;
  /** hls.js and Shaka, started as soon as the stream is up: they play while the playlists are checked. */
  let players: Player[] = [];

  beforeAll(async () => {
    serve = await startServeFixture({ maxChannels: 1, channels: [{ id: CHANNEL, ladder: 'low-latency-muxed', key: KEY }] });
    browser = await launchBrowser();
    serve.publish(serve.rtmpUrl(CHANNEL, KEY), 'flv', { video: { size: '854x480', rate: 30 }, seconds: 600 });
    master = await waitFor(async () => {
      const { status, text } = await getText(`${serve.live(CHANNEL)}/master.m3u8`);
      return status === 200 ? text : undefined;
    }, { timeoutMs: 90_000, message: 'multivariant playlist' });
    const url = `${serve.live(CHANNEL)}/master.m3u8`;
    players = await Promise.all([startPlayer(browser, url), startShakaPlayer(browser, url)]);
  }, 150_000);

  afterAll(async () => {
    await Promise.all(players.map((p) => p.close()));
    await browser?.close();
    await serve?.close();
  });

  it('lists each variant with both codecs and no audio group; every playlist keeps the LL-HLS rules and names only stored media', async () => {
    expect(renditionsOf(master)).toEqual(VARIANTS);
    const sizes = { '480p': { width: 854, height: 480 }, '360p': { width: 640, height: 360 } };
    expect(masterProblems(master, { folder: `live/${CHANNEL}/`, video: VARIANTS, audio: undefined, muxedAudio: true, fps: 30, part: 0.1 }, sizes)).toEqual([]);

    // A few seconds in, so the playlists carry whole segments, parts and skippable history.
    const channelDir = await storedChannelDir(serve.dataDir);
    const texts = await waitFor(async () => {
      const all = await Promise.all(VARIANTS.map(async (v) => (await getText(`${serve.live(CHANNEL)}/${v}/playlist.m3u8`)).text));
      return all.every((t) => (t.match(/#EXTINF/g) ?? []).length >= 3) ? all : undefined;
    }, { timeoutMs: 60_000, message: 'three segments in every variant' });
    texts.forEach((text, i) => {
      const others = VARIANTS.filter((_, j) => j !== i);
      expect(checkMediaPlaylist(text, { otherRenditions: others }), `${VARIANTS[i]}\n${text}`).toEqual([]);
      expect(text).toMatch(/#EXT-X-PRELOAD-HINT:TYPE=PART/);
      expect(text).toMatch(/INDEPENDENT=YES/);
      for (const other of others) expect(text).toContain(`#EXT-X-RENDITION-REPORT:URI="../${other}/playlist.m3u8"`);
    });
    expect(checkRenditionSet(texts, { names: VARIANTS })).toEqual([]);
    // The stored playlists name only stored objects (read from storage, not from the origin's memory).
    for (const v of VARIANTS) {
      const stored = await readFile(join(channelDir, v, 'playlist.m3u8'), 'utf8');
      expect(checkMediaPlaylist(stored, { otherRenditions: VARIANTS.filter((o) => o !== v) })).toEqual([]);
      const missing: string[] = [];
      for (const name of objectsNamedBy(stored)) {
        await readFile(join(channelDir, v, name)).catch(() => missing.push(name));
      }
      expect(missing, `${v}: named but not stored`).toEqual([]);
    }
    // Blocking reload (Safari's form: _HLS_msn alone) answers once the next segment is listed.
    const p = (await mediaPlaylist(serve.live(CHANNEL), VARIANTS[0]!))!;
    const next = lastMsn(p) + 1;
    const blocked = await getText(`${serve.live(CHANNEL)}/${VARIANTS[0]}/playlist.m3u8?_HLS_msn=${next}`);
    expect(blocked.status).toBe(200);
    expect(blocked.text).toContain(`seg-${next}.m4s`);
  }, 120_000);

  it('stores segments that hold an H.264 and an AAC stream, both decodable', async () => {
    const channelDir = await storedChannelDir(serve.dataDir);
    const text = await readFile(join(channelDir, '360p', 'playlist.m3u8'), 'utf8');
    const segment = [...text.matchAll(/^(seg-\d+\.m4s)$/gm)].map((m) => m[1]!).at(-1);
    const map = /#EXT-X-MAP:URI="([^"]+)"/.exec(text)?.[1];
    expect(segment).toBeDefined();
    expect(map).toBeDefined();
    const [init, media] = await Promise.all([readFile(join(channelDir, '360p', map!)), readFile(join(channelDir, '360p', segment!))]);
    const probe = await ffprobeStreams(Buffer.concat([init, media]));
    expect(probe.stderr).toBe('');
    expect(probe.streams).toEqual([
      { type: 'video', codec: 'h264' },
      { type: 'audio', codec: 'aac' },
    ]);
    // A 1 s segment: 30 frames of video, ~47 AAC frames.
    expect(probe.frames.video).toBeGreaterThanOrEqual(25);
    expect(probe.frames.audio).toBeGreaterThanOrEqual(40);
  }, 60_000);

  it('plays in hls.js and in Shaka Player with audio and video, no fatal error, one chain of requests', async () => {
    {
      const [hls, shaka] = await Promise.all(
        players.map((p) =>
          p.waitFor((s) => (s.latencySamples.length >= PLAYED_SECONDS * 4 && s.decodedBytes.audio > 0 && s.decodedBytes.video > 0) || s.fatalErrors.length > 0, 120_000),
        ),
      );
      expectPlayedBoth(hls!, 'hls.js');
      expectPlayedBoth(shaka!, 'shaka');
      for (const [i, player] of players.entries()) {
        const paths = requestedPaths(player, serve.originBase);
        // Only the variants' own playlists and media: there is no audio playlist to follow.
        expect(paths.filter((p) => !VARIANTS.some((v) => p.startsWith(`/live/${CHANNEL}/${v}/`)) && !p.endsWith('/master.m3u8')), `player ${i}`).toEqual([]);
        expect(paths.some((p) => /\/part-\d+-\d+\.m4s$/.test(p)), `player ${i}`).toBe(true);
      }
    }
  }, 150_000);
});
