/**
 * `RenditionPackager.bridgeGap`, both ways an encoder outage is listed: with the last run's media held
 * (`OutageFill`: stored fill parts and segments) and as EXT-X-GAP parts (the publisher left: nothing
 * stored), and a held bridge followed by a gap bridge. One AAC-LC rendition (its fill is silence, so no
 * keyframe is needed) fed synthetic frames; the store is an in-memory map.
 */
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import type { MediaPlaylist } from '../../../src/hls/playlist-model.js';
import { encodeMediaChunk } from '../../../src/mp4/fmp4-fragment-writer.js';
import type { TrackInfo } from '../../../src/mp4/fmp4-reader.js';
import { encodeBox } from '../../../src/mp4/mp4-mux.js';
import { silentAacLcFrame } from '../../../src/mp4/silent-aac.js';
import type { FragmentFeed } from '../../../src/package/fragment-feed.js';
import { RenditionPackager } from '../../../src/package/rendition-packager.js';
import { RenditionTimeline, segmentName } from '../../../src/package/rendition-timeline.js';
import { RunAlignment } from '../../../src/package/run-alignment.js';

const AUDIO: TrackInfo = { trackId: 1, timescale: 48000, handler: 'audio', format: 'mp4a', codecs: 'mp4a.40.2', channelCount: 2, sampleRate: 48000 };
const PART = 0.1;
const SEGMENT = 1;
const PER_SEGMENT = SEGMENT / PART;
const ANCHOR = Date.UTC(2026, 11, 5, 12, 0, 0);

/**
 * The part of an init segment the packager reads itself (its parts coalesce fragments with the
 * track's trex defaults): a moov with an mvex. Nothing here decodes the media.
 */
const INIT = encodeBox('moov', encodeBox('mvex', encodeBox('trex', Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))));

/** One run's output: its init, then `seconds` of 1024-sample AAC frames, each its own moof + mdat as ffmpeg writes them. */
function audioRun(seconds: number): FragmentFeed {
  return {
    start(handlers) {
      handlers.onEvent({ type: 'init', bytes: INIT, track: AUDIO });
      for (let t = 0; t + 1024 <= seconds * 48000; t += 1024) {
        const bytes = encodeMediaChunk({ sequenceNumber: t / 1024 + 1, trackId: 1, baseDecodeTime: t, samples: [{ duration: 1024, data: silentAacLcFrame(2)!, sync: true }] });
        handlers.onEvent({ type: 'fragment', decodeTime: t, duration: 1024, independent: true, bytes });
      }
      handlers.onEnd();
    },
  };
}

async function renditionWithRun(seconds: number) {
  const stored = new Map<string, Uint8Array>();
  /** Objects named by a playlist version before their upload finished. */
  const namedUnstored: string[] = [];
  const timeline = new RenditionTimeline({ targetDuration: SEGMENT, partTarget: PART, dvrWindow: 60 });
  const rendition = new RenditionPackager({
    name: 'audio',
    kind: 'audio',
    timeline,
    store: {
      // An upload takes a few ms (well within the listing wait, half a part target): what is named
      // before it completes shows in `namedUnstored`.
      putMedia: async (name, bytes) => {
        await new Promise((r) => setTimeout(r, 5));
        stored.set(name, bytes);
      },
    },
    logger: silentLogger(),
    partTarget: PART,
    segmentDuration: SEGMENT,
    onChange: (r) => {
      const { segments, pending } = r.playlist;
      const uris = [
        ...segments.filter((s) => s.gap !== true).map((s) => s.uri),
        ...[...segments, ...(pending ? [pending] : [])].flatMap((s) => s.parts.filter((p) => p.gap !== true).map((p) => p.uri)),
      ];
      for (const uri of uris) if (!stored.has(uri) && !namedUnstored.includes(uri)) namedUnstored.push(uri);
    },
    onTrack: () => undefined,
    clock: () => ANCHOR + 10_000,
  });
  await rendition.consume(audioRun(seconds), 1, () => ({ wallclockAnchor: ANCHOR }), new RunAlignment(['audio'], { segmentDuration: SEGMENT }));
  return { rendition, stored, timeline, namedUnstored };
}

/** `parts` bridge parts in the channel's pattern (`ChannelPackager.bridgeEncoderGap`). */
function bridge(rendition: RenditionPackager, parts: number, held: boolean): void {
  for (let listed = 1; listed <= parts; listed++) {
    rendition.bridgeGap({ startsBridge: listed === 1, endsSegment: listed % PER_SEGMENT === 0, programDateTime: ANCHOR + 2000, held });
  }
}

/** The segments of `playlist` from msn `from` on, with their parts' GAP flags. */
function listedFrom(playlist: MediaPlaylist, from: number) {
  const firstMsn = playlist.mediaSequence;
  const segments = playlist.segments.slice(from - firstMsn).map((s) => ({ uri: s.uri, gap: s.gap === true, gapParts: s.parts.filter((p) => p.gap === true).length, parts: s.parts.length }));
  const pending = playlist.pending === undefined ? undefined : { gapParts: playlist.pending.parts.filter((p) => p.gap === true).length, parts: playlist.pending.parts.length };
  return { segments, pending };
}

describe('RenditionPackager.bridgeGap', () => {
  it('held: lists fill parts and segments, each stored before it is named', async () => {
    const { rendition, stored, timeline, namedUnstored } = await renditionWithRun(2);
    const after = timeline.playlist.segments.at(-1)!.msn + 1;
    expect(rendition.fillsOutage).toBe(true);
    bridge(rendition, 25, true);
    await rendition.drain();
    const { segments, pending } = listedFrom(rendition.playlist, after);
    expect(segments).toEqual([
      { uri: segmentName(after), gap: false, gapParts: 0, parts: PER_SEGMENT },
      { uri: segmentName(after + 1), gap: false, gapParts: 0, parts: PER_SEGMENT },
    ]);
    expect(pending).toEqual({ gapParts: 0, parts: 5 });
    for (const s of segments) expect(stored.has(s.uri), s.uri).toBe(true);
    for (const p of rendition.playlist.pending!.parts) expect(stored.has(p.uri), p.uri).toBe(true);
    // The open bridge segment is stored and listed as media when the stream ends.
    await rendition.end();
    expect(listedFrom(rendition.playlist, after).segments.at(-1)).toEqual({ uri: segmentName(after + 2), gap: false, gapParts: 0, parts: 5 });
    expect(stored.has(segmentName(after + 2))).toBe(true);
    // Every version named only stored objects (the run's and the bridge's).
    expect(namedUnstored).toEqual([]);
  });

  it('gap: lists EXT-X-GAP parts and segments and stores nothing', async () => {
    const { rendition, stored, timeline } = await renditionWithRun(2);
    const after = timeline.playlist.segments.at(-1)!.msn + 1;
    const before = new Set(stored.keys());
    bridge(rendition, 25, false);
    await rendition.drain();
    const { segments, pending } = listedFrom(rendition.playlist, after);
    expect(segments.map((s) => [s.gapParts, s.parts])).toEqual([[PER_SEGMENT, PER_SEGMENT], [PER_SEGMENT, PER_SEGMENT]]);
    expect(pending).toEqual({ gapParts: 5, parts: 5 });
    expect([...stored.keys()].filter((k) => !before.has(k))).toEqual([]);
  });

  it('a gap bridge after a held one: the held bridge\'s open segment is stored and listed as media, then GAP parts follow', async () => {
    const { rendition, stored, timeline } = await renditionWithRun(2);
    const after = timeline.playlist.segments.at(-1)!.msn + 1;
    bridge(rendition, 13, true);
    bridge(rendition, 12, false);
    await rendition.end();
    const { segments } = listedFrom(rendition.playlist, after);
    expect(segments.map((s) => ({ ...s, stored: stored.has(s.uri) }))).toEqual([
      { uri: segmentName(after), gap: false, gapParts: 0, parts: PER_SEGMENT, stored: true },
      { uri: segmentName(after + 1), gap: false, gapParts: 0, parts: 3, stored: true },
      { uri: segmentName(after + 2), gap: true, gapParts: PER_SEGMENT, parts: PER_SEGMENT, stored: false },
      // The gap bridge's last two parts: the segment the end closes (a GAP segment, its parts not listed).
      { uri: segmentName(after + 3), gap: true, gapParts: 0, parts: 0, stored: false },
    ]);
  });
});
