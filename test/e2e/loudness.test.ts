/**
 * Loudness normalisation (issue 17, docs/on-air.md "Loudness") on a real serve: an ffmpeg RTMP
 * publisher sends a loud tone (a 440 Hz sine at −6 dBFS peak, stereo, −9.8 LUFS) to a channel whose
 * ladder has two audio renditions of the one source track: `loud` with `loudness: { integrated: -23 }`
 * (ffmpeg loudnorm, single pass) and `plain` without. The stored segments of each are read back over
 * the origin and measured with ffmpeg's `ebur128`: `loud` is at −23 LUFS, `plain` is left at the
 * source's loudness, measured the same way from the same signal rendered to a file.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MediaPlaylist } from '../../src/hls/playlist-model.js';
import { parseMediaPlaylist } from '../../src/hls/playlist-parser.js';
import { originText, startServeFixture, type ServeFixture } from '../helpers/serve/serve-fixture.js';
import { integratedLoudness } from '../helpers/transcode/tone.js';
import { waitFor } from '../helpers/wait.js';

const exec = promisify(execFile);
const KEY = 'loudness-channel-key-0123';
/** The publisher's tone: lavfi `sine` is 1/8 full scale (−18 dBFS peak); +12 dB makes −6 dBFS. */
const TONE_AUDIO_OPTIONS = ['-af', 'volume=12dB', '-ac', '2'];
const PUBLISH_SECONDS = 16;
/** loudnorm adapts over its first ~3 s (its 3 s look-ahead window): measure from this segment on. */
const FIRST_MEASURED_SEGMENT = 4;
const MEASURED_SEGMENTS = 7;

const LADDER = `description: loudness e2e — one small video, one audio track normalised and one not
gop: 1
segment: 1
part: 0.5
frameRate: { cap: 15 }
bFrames: 0
video:
  - { name: 180p, width: 320, height: 180, bitrate: 150k, profile: baseline, preset: ultrafast }
audio:
  - { name: loud, bitrate: 64k, channels: 2, sampleRate: 48000, loudness: { integrated: -23 } }
  - { name: plain, bitrate: 64k, channels: 2, sampleRate: 48000 }
`;

describe('loudness: a ladder audio rendition with loudness normalised to its EBU R128 target, end to end', () => {
  let serve: ServeFixture;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lp-loudness-'));
    await writeFile(join(dir, 'loudness.yaml'), LADDER);
    serve = await startServeFixture({}, { laddersDir: dir });
    expect((await serve.api('POST', '/api/v1/channels', { id: 'loudness', ladder: 'loudness', key: KEY })).status).toBe(201);
    serve.publish(serve.rtmpUrl('loudness', KEY), 'flv', { seconds: PUBLISH_SECONDS, video: { size: '320x180', rate: 15 }, outputOptions: TONE_AUDIO_OPTIONS });
  });

  afterAll(async () => {
    await serve?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  /** Init segment + the rendition's segments FIRST_MEASURED_SEGMENT… (counted from its first), as one fMP4 file. */
  async function storedAudio(rendition: string, playlist: MediaPlaylist): Promise<string> {
    const segments = playlist.segments.slice(FIRST_MEASURED_SEGMENT, FIRST_MEASURED_SEGMENT + MEASURED_SEGMENTS);
    const get = async (uri: string) => {
      const res = await fetch(`${serve.live('loudness')}/${rendition}/${uri}`);
      if (res.status !== 200) throw new Error(`${rendition}/${uri}: ${res.status}`);
      return Buffer.from(await res.arrayBuffer());
    };
    const bytes = [await get(segments[0]!.mapUri), ...(await Promise.all(segments.map((s) => get(s.uri))))];
    const file = join(dir, `${rendition}.mp4`);
    await writeFile(file, Buffer.concat(bytes));
    return file;
  }

  it('the normalised rendition measures −23 ± 2 LUFS; the other keeps the source loudness, far from it', async () => {
    const playlists = await waitFor(
      async () => {
        const out = new Map<string, MediaPlaylist>();
        for (const r of ['loud', 'plain']) {
          const text = await originText(serve, `/live/loudness/${r}/playlist.m3u8`);
          if (text !== undefined) out.set(r, parseMediaPlaylist(text));
        }
        return out;
      },
      { until: (m) => [...m.values()].filter((p) => p.segments.length >= FIRST_MEASURED_SEGMENT + MEASURED_SEGMENTS).length === 2, message: `${FIRST_MEASURED_SEGMENT + MEASURED_SEGMENTS} segments in both audio renditions`, timeoutMs: 60_000, intervalMs: 500 },
    );
    // Every measured segment comes from one run: no discontinuity (a restart) among them.
    for (const p of playlists.values()) expect(p.segments.slice(0, FIRST_MEASURED_SEGMENT + MEASURED_SEGMENTS).some((s, i) => i > 0 && s.discontinuity)).toBe(false);

    // The source: the publisher's signal, encoded as it encodes it, measured the same way.
    const sourceFile = join(dir, 'source.mp4');
    await exec('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '10', ...TONE_AUDIO_OPTIONS, '-c:a', 'aac', '-b:a', '64k', '-y', sourceFile]);
    const source = await integratedLoudness(sourceFile);
    const loud = await integratedLoudness(await storedAudio('loud', playlists.get('loud')!));
    const plain = await integratedLoudness(await storedAudio('plain', playlists.get('plain')!));
    const figures = `source ${source} LUFS, loud ${loud} LUFS, plain ${plain} LUFS`;

    expect(source, figures).toBeGreaterThan(-12); // a loud source: ≥ 11 LU above the target
    expect(Math.abs(loud - -23), figures).toBeLessThanOrEqual(2);
    expect(Math.abs(plain - source), figures).toBeLessThanOrEqual(1.5);
    expect(plain - loud, figures).toBeGreaterThan(9);
  });
});
