import { PassThrough } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import { childBoxes, requireChild } from '../../../src/mp4/mp4-boxes.js';
import { MuxedFeed, SharedAudioFeed, streamFeed, type FeedEvent } from '../../../src/package/fragment-feed.js';
import { encodeLadderFixture, type LadderFixture } from '../../helpers/package/fixtures.js';
import { readAll } from '../../helpers/package/pipeline.js';

let fixture: LadderFixture;

beforeAll(async () => {
  fixture = await encodeLadderFixture({ seconds: 1, sizes: ['160x90', '128x72'], gop: 15 });
}, 60_000);

interface Outcome {
  events: FeedEvent[];
  failures: unknown[];
}

/** Starts a feed and resolves with what it delivered once it ended. */
function collect(start: (handlers: Parameters<MuxedFeed['start']>[0]) => void): Promise<Outcome> {
  const out: Outcome = { events: [], failures: [] };
  return new Promise((resolve) => start({ onEvent: (e) => out.events.push(e), onFail: (err) => out.failures.push(err), onEnd: () => resolve(out) }));
}

/** Writes `bytes` to `stream` in chunks of `size`, then ends it. */
function feed(stream: PassThrough, bytes: Uint8Array | undefined, size: number): void {
  if (bytes !== undefined) for (let at = 0; at < bytes.byteLength; at += size) stream.write(Buffer.from(bytes.subarray(at, at + size)));
  stream.end();
}

function trakCount(init: Uint8Array): number {
  const moov = requireChild(childBoxes(init, 'init'), 'moov', 'init');
  return childBoxes(moov.payload, 'moov').filter((b) => b.type === 'trak').length;
}

describe('MuxedFeed', () => {
  it('gives each video variant the merged init and its frames with the shared audio inside', async () => {
    const audio = new PassThrough();
    const videos = fixture.video.map(() => new PassThrough());
    for (const s of [audio, ...videos]) s.pause();
    const shared = new SharedAudioFeed(audio, silentLogger());
    const outcomes = videos.map((v) => collect((h) => new MuxedFeed(v, shared, silentLogger()).start(h)));
    for (const s of [audio, ...videos]) s.resume();
    // Audio first, in odd chunks, then each video: the interleaver holds nothing back at the end.
    feed(audio, fixture.audio, 777);
    videos.forEach((v, i) => feed(v, fixture.video[i], 1000));
    const results = await Promise.all(outcomes);
    const audioBytes = readAll(fixture.audio).fragments.reduce((n, f) => n + f.bytes.byteLength, 0);
    results.forEach((r, i) => {
      expect(r.failures).toEqual([]);
      const [init, ...frames] = r.events;
      expect(init?.type).toBe('init');
      if (init?.type !== 'init') return;
      expect(init.muxedAudio?.codecs).toBe('mp4a.40.2');
      expect(init.track.handler).toBe('video');
      expect(trakCount(init.bytes)).toBe(2);
      const video = readAll(fixture.video[i]!);
      expect(frames.map((f) => (f.type === 'fragment' ? f.decodeTime : -1))).toEqual(video.fragments.map((f) => f.decodeTime));
      const muxedBytes = frames.reduce((n, f) => n + f.bytes.byteLength, 0);
      const videoBytes = video.fragments.reduce((n, f) => n + f.bytes.byteLength, 0);
      // Every audio fragment but those starting after the video's end (a frame or two) is inside.
      expect(muxedBytes - videoBytes).toBeGreaterThan(0.9 * audioBytes);
      expect(muxedBytes - videoBytes).toBeLessThanOrEqual(audioBytes);
    });
  });

  it('passes the video on as it is when the run has no audio (the audio output ends empty)', async () => {
    const audio = new PassThrough();
    const video = new PassThrough();
    const shared = new SharedAudioFeed(audio, silentLogger());
    const outcome = collect((h) => new MuxedFeed(video, shared, silentLogger()).start(h));
    feed(video, fixture.video[0], 4096);
    feed(audio, undefined, 1);
    const { events, failures } = await outcome;
    expect(failures).toEqual([]);
    const plain = await collect((h) => {
      const s = new PassThrough();
      streamFeed(s, silentLogger()).start(h);
      feed(s, fixture.video[0], 4096);
    });
    expect(events.map((e) => ({ ...e, bytes: e.bytes.byteLength }))).toEqual(
      plain.events.map((e) => (e.type === 'init' ? { type: 'init', track: e.track, bytes: e.bytes.byteLength } : { type: 'fragment', decodeTime: e.decodeTime, duration: e.duration, independent: e.independent, bytes: e.bytes.byteLength })),
    );
  });

  it('fails the variant when the audio becomes unusable', async () => {
    const audio = new PassThrough();
    const video = new PassThrough();
    const shared = new SharedAudioFeed(audio, silentLogger());
    const outcome = collect((h) => new MuxedFeed(video, shared, silentLogger()).start(h));
    const garbage = fixture.audio.slice(0, 2000);
    garbage.fill(0xff, 1500);
    feed(audio, garbage, 500);
    feed(video, fixture.video[0], 4096);
    const { failures } = await outcome;
    expect(failures).toHaveLength(1);
  });
});
