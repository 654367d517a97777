/**
 * Ad markers from the ops API on a real serve (RTMP ingest, the `low-latency` ffmpeg ladder, packager,
 * filesystem storage, origin) with a real ffmpeg publisher: `POST /api/v1/channels/{id}/cues` gives an
 * EXT-X-DATERANGE at a segment boundary at or after the cue time, with the same START-DATE in every
 * rendition, carrying a splice_info_section that parses; the in cue completes it; the playlists keep
 * passing the LL-HLS checker. The steps share one serve and run in order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMediaPlaylist } from '../../src/hls/playlist-parser.js';
import type { MediaPlaylist } from '../../src/hls/playlist-model.js';
import { parseSpliceInfoSection } from '../../src/scte35/splice-info-parser.js';
import type { Publisher } from '../helpers/ingest/media.js';
import { checkMediaPlaylist, checkRenditionSet } from '../helpers/hls/llhls-rules.js';
import { originText, publishTestPattern, startServeFixture, type ServeFixture } from '../helpers/serve/serve-fixture.js';
import { freePort } from '../helpers/ports.js';
import { waitFor } from '../helpers/wait.js';

const KEY = 'ad-cues-key-0123456789';
const CH = '/api/v1/channels';

describe('ad cues through the ops API on a real serve', () => {
  let serve: ServeFixture;
  let publisher: Publisher | undefined;
  let renditions: string[] = [];

  const texts = async (): Promise<Map<string, string>> => {
    const out = new Map<string, string>();
    for (const r of renditions) {
      const text = await originText(serve, `/live/ads/${r}/playlist.m3u8`);
      if (text !== undefined) out.set(r, text);
    }
    return out;
  };
  const models = async (): Promise<Map<string, { text: string; model: MediaPlaylist }>> => {
    const out = new Map<string, { text: string; model: MediaPlaylist }>();
    for (const [r, text] of await texts()) out.set(r, { text, model: parseMediaPlaylist(text) });
    return out;
  };

  beforeAll(async () => {
    serve = await startServeFixture({ srt: { portBase: await freePort('udp'), portCount: 100 } });
    expect((await serve.api('POST', CH, { id: 'ads', ladder: 'low-latency', key: KEY })).status).toBe(201);
  });

  afterAll(async () => {
    await publisher?.stop();
    await serve?.close();
  });

  it('refuses bad cues with the API error shape: 404, 400, and 409 while not live', async () => {
    const cases: Array<[string, string, unknown, number, string]> = [
      ['no such channel', 'ghost', { type: 'out' }, 404, 'NOT_FOUND'],
      ['unknown type', 'ads', { type: 'sideways' }, 400, 'BAD_REQUEST'],
      ['unknown field', 'ads', { type: 'out', colour: 'blue' }, 400, 'BAD_REQUEST'],
      ['negative duration', 'ads', { type: 'out', durationSeconds: -1 }, 400, 'BAD_REQUEST'],
      ['not a date', 'ads', { type: 'out', at: 'tomorrow' }, 400, 'BAD_REQUEST'],
      ['duration on an in', 'ads', { type: 'in', durationSeconds: 5 }, 400, 'BAD_REQUEST'],
      ['not live', 'ads', { type: 'out' }, 409, 'CONFLICT'],
    ];
    for (const [what, id, body, status, code] of cases) {
      const r = await serve.api('POST', `${CH}/${id}/cues`, body);
      expect(r.status, what).toBe(status);
      expect(r.json?.error?.code, what).toBe(code);
      expect(typeof r.json.error.message, what).toBe('string');
    }
  });

  it('goes live with a real publisher', async () => {
    publisher = publishTestPattern(serve, 'ads', KEY);
    await waitFor(() => serve.api('GET', `${CH}/ads`), { until: (r) => r.json.state === 'live', message: 'channel live', timeoutMs: 45_000 });
    const master = await waitFor(() => originText(serve, '/live/ads/master.m3u8'), { until: (t) => t !== undefined, message: 'master', timeoutMs: 45_000 });
    renditions = [...master!.matchAll(/^([^#\s][^/\s]*)\/playlist\.m3u8$|URI="([^"/]+)\/playlist\.m3u8"/gm)].map((m) => m[1] ?? m[2]!);
    expect(renditions.length).toBeGreaterThanOrEqual(2); // at least one video and the audio rendition
    await waitFor(models, { until: (m) => m.size === renditions.length && [...m.values()].every((p) => p.model.segments.length >= 3), message: 'segments in every rendition', timeoutMs: 45_000 });
    expect((await serve.api('POST', `${CH}/ads/cues`, { type: 'in' })).status).toBe(409); // no break open
  });

  it('an out cue becomes one EXT-X-DATERANGE at a segment boundary at/after its time in every rendition; the in cue completes it', async () => {
    const at = Date.now() + 1500;
    const out = await serve.api('POST', `${CH}/ads/cues`, { type: 'out', durationSeconds: 30, at: new Date(at).toISOString() });
    expect(out.status).toBe(202);
    expect(out.json).toMatchObject({ type: 'out', at: new Date(at).toISOString() });
    const id: string = out.json.id;
    const section = parseSpliceInfoSection(Buffer.from(out.json.scte35.slice(2), 'hex'));
    expect(section.command).toMatchObject({ type: 'splice_insert', cancel: false, outOfNetwork: true, breakDuration: { autoReturn: true, duration: 30 * 90_000 } });

    const withRange = await waitFor(models, { until: (m) => m.size === renditions.length && [...m.values()].every((p) => p.model.dateRanges?.some((r) => r.id === id)), message: 'DATERANGE in every rendition', timeoutMs: 30_000 });
    const starts = new Set<number>();
    for (const [name, { text, model }] of withRange) {
      const range = model.dateRanges!.find((r) => r.id === id)!;
      expect(range, name).toMatchObject({ plannedDuration: 30, scte35Out: out.json.scte35 });
      expect(range.startDate, name).toBeGreaterThanOrEqual(at - 50);
      // A segment boundary: a listed segment (or the open one) starts at START-DATE (within a frame).
      const boundaries = [...model.segments.map((s) => s.programDateTime), ...(model.pending ? [model.pending.programDateTime] : [])];
      expect(boundaries.some((pdt) => Math.abs(pdt - range.startDate) <= 50), `${name}: START-DATE on a boundary`).toBe(true);
      // …and the tag is written right before that segment.
      expect(text, name).toMatch(new RegExp(`#EXT-X-DATERANGE:ID="${id}"[^\\n]*\\n(#EXT-X-(DISCONTINUITY|MAP)[^\\n]*\\n)*#EXT-X-PROGRAM-DATE-TIME:`));
      expect(checkMediaPlaylist(text, { otherRenditions: renditions.filter((r) => r !== name) }), name).toEqual([]);
      starts.add(range.startDate);
    }
    expect(starts.size, 'one START-DATE in every rendition').toBe(1);
    expect(checkRenditionSet([...withRange.values()].map((p) => p.text))).toEqual([]);
    const start = [...starts][0]!;
    // Once the first segment of the break is complete, it is the segment starting at START-DATE in every rendition.
    const done = await waitFor(models, { until: (m) => [...m.values()].every((p) => p.model.segments.some((s) => Math.abs(s.programDateTime - start) <= 50)), message: 'break segment complete', timeoutMs: 30_000 });
    for (const [name, { model }] of done) {
      const segment = model.segments.find((s) => Math.abs(s.programDateTime - start) <= 50)!;
      expect(segment.parts.length === 0 || segment.parts[0]!.independent, `${name}: the break starts on an independent part`).toBe(true);
    }

    const inCue = await serve.api('POST', `${CH}/ads/cues`, { type: 'in' });
    expect(inCue.status).toBe(202);
    expect(inCue.json.id).toBe(id);
    expect(parseSpliceInfoSection(Buffer.from(inCue.json.scte35.slice(2), 'hex')).command).toMatchObject({ type: 'splice_insert', outOfNetwork: false });
    const closed = await waitFor(models, { until: (m) => [...m.values()].every((p) => p.model.dateRanges?.find((r) => r.id === id)?.scte35In !== undefined), message: 'SCTE35-IN in every rendition', timeoutMs: 30_000 });
    const durations = new Set<number>();
    for (const [name, { text, model }] of closed) {
      const range = model.dateRanges!.find((r) => r.id === id)!;
      expect(range.scte35In, name).toBe(inCue.json.scte35);
      expect(range.duration, name).toBeGreaterThan(0);
      durations.add(range.duration!);
      expect(checkMediaPlaylist(text, { otherRenditions: renditions.filter((r) => r !== name) }), name).toEqual([]);
    }
    expect(durations.size, 'one DURATION in every rendition').toBe(1);
    // Delta updates keep the range (clients that skip segments still learn of it).
    const delta = await originText(serve, `/live/ads/${renditions[0]}/playlist.m3u8?_HLS_skip=YES`);
    expect(delta).toContain(`#EXT-X-DATERANGE:ID="${id}"`);
  });
});
