import { describe, expect, it } from 'vitest';
import { parseMediaPlaylist } from '../../../src/hls/playlist-parser.js';
import { serializeMediaPlaylist } from '../../../src/hls/playlist-serializer.js';
import type { MediaPlaylist } from '../../../src/hls/playlist-model.js';
import { CueSchedule } from '../../../src/package/cue-schedule.js';
import { RenditionTimeline } from '../../../src/package/rendition-timeline.js';
import { checkMediaPlaylist, checkRenditionSet } from '../../helpers/hls/llhls-rules.js';

const T0 = Date.UTC(2026, 11, 5, 4, 0, 0);
const OUT = '0xFC30';
const IN = '0xFC31';

/** Two renditions of one channel: video, and audio whose PDTs lag by 3 ms (AAC frame rounding). */
function channel() {
  const schedule = new CueSchedule();
  const make = (rendition: string) => new RenditionTimeline({ targetDuration: 2, partTarget: 0.5, dvrWindow: 12, cues: { schedule, rendition } });
  const video = make('720p');
  const audio = make('audio');
  let time = 0;
  let now = T0;
  video.startRun({ runId: 1, wallclockAnchor: T0, timeOrigin: 0 }, now);
  audio.startRun({ runId: 1, wallclockAnchor: T0 - 3, timeOrigin: 0 }, now);
  const segment = (): void => {
    for (let i = 0; i < 4; i++) {
      for (const t of [video, audio]) t.addPart({ startTime: time, duration: 0.5, independent: i === 0, endsAtBoundary: i === 3 }, now);
      time += 0.5;
      now += 500;
    }
    for (const t of [video, audio]) t.endSegment({ duration: 2 }, now);
  };
  return { schedule, video, audio, segment, now: () => now };
}

describe('CueSchedule with RenditionTimeline', () => {
  it('places an out cue at the first boundary at/after its time, with one START-DATE in every rendition, and the in cue completes it', () => {
    const c = channel();
    c.segment();
    c.segment(); // segments 0, 1 (PDT T0, T0+2 s)
    c.schedule.add({ id: 'break-1', kind: 'out', at: T0 + 4100, plannedDuration: 30, scte35: OUT }); // between boundaries 4 s and 6 s
    c.segment(); // segment 2 starts at 4 s: too early
    expect(c.video.playlist.dateRanges ?? []).toEqual([]);
    c.segment(); // segment 3 starts at 6 s: the splice
    for (const t of [c.video, c.audio]) {
      expect(t.playlist.dateRanges).toEqual([{ id: 'break-1', startDate: T0 + 6000, plannedDuration: 30, scte35Out: OUT }]);
    }
    c.schedule.add({ id: 'break-1', kind: 'in', at: T0 + 9000, scte35: IN });
    c.segment();
    c.segment(); // segment 5 starts at 10 s
    for (const t of [c.video, c.audio]) {
      expect(t.playlist.dateRanges).toEqual([{ id: 'break-1', startDate: T0 + 6000, plannedDuration: 30, duration: 4, scte35Out: OUT, scte35In: IN }]);
      const text = serializeMediaPlaylist(t.playlist);
      expect(text).toMatch(/#EXT-X-DATERANGE:ID="break-1",START-DATE="2026-12-05T04:00:06.000Z",DURATION=4.000,PLANNED-DURATION=30.000,SCTE35-OUT=0xFC30,SCTE35-IN=0xFC31\n(#EXT-X-[A-Z]+.*\n)?#EXT-X-PROGRAM-DATE-TIME:2026-12-05T04:00:0(6.000|5.997)Z/);
      expect(checkMediaPlaylist(text, { otherRenditions: [] }).filter((v) => !v.includes('RENDITION-REPORT'))).toEqual([]);
      expect(parseMediaPlaylist(text).dateRanges).toEqual(t.playlist.dateRanges);
    }
    expect(checkRenditionSet([c.video, c.audio].map((t) => serializeMediaPlaylist(t.playlist)))).toEqual([]);
  });

  it('bind: a cue cut at its keyed frame starts at that segment in every rendition (audio a fragment later), not earlier or at the next boundary', () => {
    const schedule = new CueSchedule();
    const make = (rendition: string) => new RenditionTimeline({ targetDuration: 2, partTarget: 0.5, dvrWindow: 12, cues: { schedule, rendition } });
    const video = make('540p');
    const audio = make('audio');
    for (const t of [video, audio]) t.startRun({ runId: 1, wallclockAnchor: T0, timeOrigin: 0 }, T0);
    const cue = { id: 'splice-7', kind: 'out' as const, at: T0 + 4480, plannedDuration: 30, scte35: OUT };
    schedule.add(cue);
    expect(schedule.bindable(cue)).toBe(true);
    // The relay keyed the frame at 4.5 s; the cutters cut there: video [4, 4.5) [4.5, 6), audio from
    // 4.564 s (its next 64 ms fragment). Audio lists first (it runs ahead): unbound, its 4.564 s would
    // have fixed START-DATE, and video's segment at 4.5 s, 64 ms earlier, would not have matched it.
    expect(schedule.bind(cue, T0 + 4500)).toBe(true);
    expect(schedule.bindable(cue)).toBe(false);
    const segments: Record<string, Array<[number, number]>> = { '540p': [[0, 2], [2, 2], [4, 0.5], [4.5, 1.5], [6, 2]], audio: [[0, 2], [2, 2], [4, 0.564], [4.564, 1.436], [6, 2]] };
    for (const [t, list] of [[audio, segments.audio!], [video, segments['540p']!]] as const) {
      for (const [start, duration] of list) {
        t.addPart({ startTime: start, duration: Math.min(duration, 0.5), independent: true }, T0);
        // Only the segment starting at the cut carries the range, from its start on.
        if (start < 4.5) expect(t.playlist.dateRanges ?? []).toEqual([]);
        else expect(t.playlist.dateRanges).toEqual([{ id: 'splice-7', startDate: T0 + 4500, plannedDuration: 30, scte35Out: OUT }]);
        t.endSegment({ duration }, T0);
      }
    }
    // START-DATE = the PROGRAM-DATE-TIME of the video segment at the cut.
    expect(video.playlist.segments[3]!.programDateTime).toBe(T0 + 4500);
    expect(checkRenditionSet([video, audio].map((t) => serializeMediaPlaylist(t.playlist)))).toEqual([]);
  });

  it('a range leaves the playlist with its segments and survives a resume', () => {
    const c = channel();
    c.schedule.add({ id: 'b', kind: 'out', at: T0, plannedDuration: 2, scte35: OUT });
    c.segment();
    expect(c.video.playlist.dateRanges).toHaveLength(1);
    const resumed = new RenditionTimeline({ targetDuration: 2, partTarget: 0.5, dvrWindow: 12, resumeFrom: parseMediaPlaylist(serializeMediaPlaylist(c.video.playlist)) });
    expect(resumed.playlist.dateRanges).toEqual(c.video.playlist.dateRanges);
    for (let i = 0; i < 8; i++) c.segment(); // a 12 s window: segment 0 slides out
    expect(c.video.playlist.dateRanges).toEqual([]);
    expect(c.video.playlist.recentlyRemovedDateRanges?.map((r) => r.id)).toEqual(['b']);
  });
});

describe('CueSchedule offset report', () => {
  it('reports once per cue, when the first rendition fixes START-DATE, the offset from the requested splice', () => {
    const placed: Array<[string, number, number]> = [];
    const schedule = new CueSchedule((cue, startDate, offsetMs) => placed.push([cue.id, startDate, offsetMs]));
    // place() touches only the date ranges of the playlist it is given.
    const playlist = (): MediaPlaylist => ({ dateRanges: [] }) as unknown as MediaPlaylist;
    const video = playlist();
    const audio = playlist();
    schedule.add({ id: 'b', kind: 'out', at: T0 + 4100, scte35: OUT });
    schedule.place('720p', video, T0 + 4000, 50);
    expect(placed).toEqual([]);
    schedule.place('720p', video, T0 + 6000, 50);
    schedule.place('audio', audio, T0 + 5997, 50);
    expect(placed).toEqual([['b', T0 + 6000, 1900]]);
    expect(audio.dateRanges?.[0]?.startDate).toBe(T0 + 6000);
  });
});
