/**
 * Audio languages (issue 17) on a real serve: an ffmpeg SRT publisher sends MPEG-TS with two tagged
 * audio tracks (eng: a 440 Hz tone, spa: 1000 Hz; FLV/RTMP cannot carry two), the `low-latency`
 * ladder encodes each as its own AAC rendition in the one ffmpeg run, and the multivariant playlist
 * lists both in the audio group. hls.js in Chromium lists the two tracks and switches between them
 * while playing; what the video element plays is heard through Web Audio (440 Hz, then 1000 Hz).
 * The steps share one serve and run in order.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMediaPlaylist } from '../../src/hls/playlist-parser.js';
import type { MediaPlaylist } from '../../src/hls/playlist-model.js';
import { checkMediaPlaylist, checkMultivariantPlaylist, checkRenditionSet } from '../helpers/hls/llhls-rules.js';
import { launchBrowser, startPlayer } from '../helpers/player/hls-player.js';
import { originText, renditionsOf, startServeFixture, type ServeFixture } from '../helpers/serve/serve-fixture.js';
import { freePort } from '../helpers/ports.js';
import { toneFrequency } from '../helpers/transcode/tone.js';
import { waitFor } from '../helpers/wait.js';

const KEY = 'audio-languages-key-0123';
const PASS = 'audio-languages-srt-pass';
const TONES = { 'audio-en': 440, 'audio-es': 1000 } as const;

async function fetchBytes(url: string): Promise<Buffer> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

describe('audio languages: a two-language SRT source on a real serve', () => {
  let serve: ServeFixture;
  let dir: string;
  let renditions: string[] = [];

  const playlists = async (): Promise<Map<string, { text: string; model: MediaPlaylist }>> => {
    const out = new Map<string, { text: string; model: MediaPlaylist }>();
    for (const r of renditions) {
      const text = await originText(serve, `/live/langs/${r}/playlist.m3u8`);
      if (text !== undefined) out.set(r, { text, model: parseMediaPlaylist(text) });
    }
    return out;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lp-langs-'));
    const srtPort = await freePort('udp');
    serve = await startServeFixture({ srt: { portBase: srtPort, portCount: 1 } });
    expect((await serve.api('POST', '/api/v1/channels', { id: 'langs', ladder: 'low-latency', key: KEY, srt: { port: srtPort, passphrase: PASS } })).status).toBe(201);
    serve.publish(serve.srtUrl(srtPort, PASS, 'langs'), 'mpegts', {
      seconds: 300,
      audioLanguages: [
        { language: 'eng', frequency: TONES['audio-en'] },
        { language: 'spa', frequency: TONES['audio-es'] },
      ],
    });
  });

  afterAll(async () => {
    await serve?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('two audio renditions with LANGUAGE, NAME and one DEFAULT=YES, referenced by every variant, in step with video, each carrying its own track', async () => {
    const master = (await waitFor(() => originText(serve, '/live/langs/master.m3u8'), { until: (t) => t !== undefined, message: 'master', timeoutMs: 60_000 }))!;
    const media = master.split('\n').filter((l) => l.startsWith('#EXT-X-MEDIA:TYPE=AUDIO'));
    expect(media).toEqual([
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="audio-en/playlist.m3u8"',
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="Spanish",LANGUAGE="es",DEFAULT=NO,AUTOSELECT=YES,CHANNELS="2",URI="audio-es/playlist.m3u8"',
    ]);
    expect(checkMultivariantPlaylist(master)).toEqual([]);
    renditions = renditionsOf(master);
    expect(renditions).toEqual(expect.arrayContaining(['audio-en', 'audio-es']));
    expect(renditions.length).toBeGreaterThanOrEqual(3);

    // Every rendition passes the LL-HLS rules (rendition reports for all others, the new ones included)
    // and all share media sequence numbers and boundaries.
    const found = await waitFor(playlists, { until: (m) => m.size === renditions.length && [...m.values()].every((p) => p.model.segments.length >= 3), message: 'segments everywhere', timeoutMs: 45_000 });
    for (const [name, { text }] of found) expect(checkMediaPlaylist(text, { otherRenditions: renditions.filter((r) => r !== name) }), name).toEqual([]);
    expect(checkRenditionSet([...found.values()].map((p) => p.text), { names: [...found.keys()] })).toEqual([]);
    const [en, es] = [found.get('audio-en')!.model, found.get('audio-es')!.model];
    const shared = en.segments.filter((s) => es.segments.some((t) => t.msn === s.msn));
    expect(shared.length).toBeGreaterThanOrEqual(2);

    // Each rendition is its own track: the stored segments decode to that track's tone.
    for (const [name, tone] of Object.entries(TONES)) {
      const model = found.get(name)!.model;
      const segments = model.segments.slice(-2);
      const bytes = [await fetchBytes(`${serve.live('langs')}/${name}/${segments[0]!.mapUri}`), ...(await Promise.all(segments.map((s) => fetchBytes(`${serve.live('langs')}/${name}/${s.uri}`))))];
      const file = join(dir, `${name}.mp4`);
      await writeFile(file, Buffer.concat(bytes));
      expect(Math.abs((await toneFrequency(file)) - tone), `${name}: ${tone} Hz`).toBeLessThan(20);
    }
  });

  it('hls.js in Chromium lists both audio tracks and switches from English to Spanish while playing, without a fatal error', async () => {
    const browser = await launchBrowser();
    try {
      const player = await startPlayer(browser, `${serve.live('langs')}/master.m3u8`);
      const playing = await player.waitFor((s) => (s.currentTime > 1 && s.audioTracks.length === 2) || s.fatalErrors.length > 0, 45_000);
      expect(playing.fatalErrors).toEqual([]);
      expect(playing.audioTracks).toEqual([
        { name: 'English', lang: 'en', default: true, autoselect: true },
        { name: 'Spanish', lang: 'es', default: false, autoselect: true },
      ]);
      expect(playing.audioTrack).toBe(0);
      // What the element plays, heard through Web Audio: the English tone…
      const tone = (hz: number) => (t: { hz: number; db: number }) => Math.abs(t.hz - hz) < 20 && t.db > -80;
      await player.audioTone();
      const before = await waitFor(() => player.audioTone(), { until: tone(TONES['audio-en']), message: 'English tone heard', timeoutMs: 20_000 });
      expect(Math.abs(before.hz - TONES['audio-en'])).toBeLessThan(20);
      const switchedAt = Date.now();
      const playedBefore = (await player.stats()).currentTime;
      await player.setAudioTrack(1);
      const after = await player.waitFor((s) => (s.audioTrack === 1 && s.currentTime > playedBefore + 3) || s.fatalErrors.length > 0, 45_000);
      // …then the Spanish one, from the same element, without reloading the player.
      const heardAfter = await waitFor(() => player.audioTone(), { until: tone(TONES['audio-es']), message: 'Spanish tone heard after the switch', timeoutMs: 30_000 });
      const requests = player.requests();
      await player.close();
      expect(after.fatalErrors).toEqual([]);
      expect(after.audioTrack).toBe(1);
      expect(after.currentTime).toBeGreaterThan(playedBefore + 3);
      expect(Math.abs(heardAfter.hz - TONES['audio-es'])).toBeLessThan(20);
      // Spanish media was fetched after the switch (the player now plays that rendition's parts)…
      const audioAfter = requests.filter((r) => r.startedAtMs > switchedAt && /\/audio-(en|es)\/(part|seg)-/.test(r.url));
      expect(audioAfter.some((r) => r.url.includes('/audio-es/'))).toBe(true);
      // …and its last audio requests are all Spanish (English requests stop once the switch is done).
      expect(audioAfter.slice(-3).every((r) => r.url.includes('/audio-es/')), audioAfter.map((r) => r.url).join('\n')).toBe(true);
    } finally {
      await browser.close();
    }
  });
});
