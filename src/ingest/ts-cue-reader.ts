import { spliceCueOf } from '../scte35/splice-cue.js';
import { TS_CLOCK_HZ, TS_WRAP, type ArrivalClock } from './arrival-clock.js';
import type { IngestCue } from './ingest-feed.js';
import { Scte35SectionReader, type Scte35Section } from './scte35-section-reader.js';
import type { TsProgramStreams } from './ts-program-info.js';

/**
 * A splice time further than this from now (either way) is not trusted as a time in the feed's clock
 * (a section from another program, an encoder's clock reset): the cue is placed as immediate.
 * SCTE 67 recommends a pre-roll of 4–10 s; 10 minutes leaves any real announcement alone.
 */
export const MAX_SPLICE_DISTANCE_MS = 10 * 60_000;

/**
 * The wall-clock instant (epoch ms) of a section's splice: its splice time (pts_adjustment applied,
 * 90 kHz) on the feed's arrival clock — the moment the frame with that timestamp arrives, which is
 * the same clock segments get their PROGRAM-DATE-TIME from — so a cue announced with pre-roll lands
 * on the segment boundary at or after its frame. Immediate splices (no time) take the PES PTS the
 * section came with, else `now`. Pure.
 */
export function spliceInstant(spliceMediaTime: number | undefined, pesPts: number | undefined, clock: Pick<ArrivalClock, 'arrivalOf'>, now: number, sourceStartTicks = 0): number {
  // The splice time is in the publisher's clock; the feed's (and the PES PTS) less `sourceStartTicks`.
  const pts = spliceMediaTime !== undefined ? (((spliceMediaTime - sourceStartTicks) % TS_WRAP) + TS_WRAP) % TS_WRAP : pesPts;
  const at = pts === undefined ? undefined : clock.arrivalOf(pts);
  if (at === undefined || Math.abs(at - now) > MAX_SPLICE_DISTANCE_MS) return now;
  return at;
}

/**
 * Reads the ad cues of an MPEG-TS feed: SCTE-35 sections on the PMT's stream_type 0x86 PIDs, and on
 * private-data PES PIDs (how the SRT listener's ffmpeg remux passes SCTE-35 on, see
 * `scte35-section-reader.ts`), turned into `IngestCue`s by `spliceCueOf` (splice_insert out/in,
 * time_signal with a break-type segmentation descriptor; others are ignored).
 */
export class TsCueReader {
  private readonly reader: Scte35SectionReader;
  private pmtSeen: TsProgramStreams | undefined;
  /** The publisher's first timestamp (90 kHz) that the feed's timestamps were shifted by; 0: none. */
  private sourceStartTicks = 0;

  constructor(
    private readonly clock: Pick<ArrivalClock, 'arrivalOf'>,
    private readonly onCue: (cue: IngestCue) => void,
    onError?: (pid: number, reason: string) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.reader = new Scte35SectionReader({ onSection: (s) => this.onSection(s), ...(onError === undefined ? {} : { onError }) });
  }

  /** The feed's timestamps are the publisher's less `seconds` (see `TsFanout.setSourceStart`). */
  setSourceStart(seconds: number): void {
    this.sourceStartTicks = Math.round(seconds * TS_CLOCK_HZ);
  }

  /** Whole packets, after the program scanner has seen them; `streams` is its current PMT. */
  push(packets: Buffer, streams: TsProgramStreams | undefined): void {
    if (streams === undefined) return;
    if (streams !== this.pmtSeen) {
      this.pmtSeen = streams;
      this.reader.setPids(streams.all.filter((s) => s.streamType === 0x86).map((s) => s.pid));
      this.reader.setPesPids(streams.all.filter((s) => s.streamType === 0x06 && s.kind === 'data').map((s) => s.pid));
    }
    this.reader.push(packets);
  }

  private onSection(s: Scte35Section): void {
    const meaning = spliceCueOf(s.section);
    if (meaning === undefined) return;
    const cue: IngestCue = {
      kind: meaning.kind,
      at: spliceInstant(meaning.ptsTime, s.pesPts, this.clock, this.now(), this.sourceStartTicks),
      eventId: meaning.eventId,
      section: s.bytes,
      source: 'scte35',
    };
    if (meaning.durationSeconds !== undefined) cue.durationSeconds = meaning.durationSeconds;
    this.onCue(cue);
  }
}
