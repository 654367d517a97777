import type { DateRange, MediaPlaylist } from '../hls/playlist-model.js';

/**
 * Ad cues waiting for their segment boundary, shared by every rendition of a channel.
 *
 * A cue asks for a splice at a wall-clock instant (`at`). It lands at the first segment boundary at or
 * after that instant: the first segment whose PROGRAM-DATE-TIME is ≥ `at` (within `toleranceMs`). The
 * first rendition to open such a segment fixes the cue's START-DATE to that segment's PDT; every
 * other rendition places the same START-DATE before its segment at that boundary (renditions share
 * segment boundaries, §6.2.4; their PDTs may differ by a fraction of a frame, hence the tolerance), so
 * all renditions carry the identical tag.
 *
 * Known limit: livepipe does not force a keyframe at `at`. ffmpeg fixes keyframe placement when the
 * encoder starts (`-force_key_frames` is an expression of the frame's time, with no input at run time;
 * Debian's ffmpeg 5.1 has no command to force one, see docs/on-air.md), and restarting the encoder would
 * cut the stream. So the splice lands on the next natural segment boundary — the nearest keyframe at
 * or after the requested instant, up to one segment duration later — and that offset is reported
 * (`onPlaced`) when the first rendition places the cue.
 */

export interface Cue {
  /** The EXT-X-DATERANGE ID: an 'in' cue completes the range of the 'out' cue with the same ID. */
  id: string;
  kind: 'out' | 'in';
  /** Requested splice instant, epoch ms. */
  at: number;
  /** 'out': the announced break length, seconds (PLANNED-DURATION). */
  plannedDuration?: number;
  /** The splice_info_section as a hexadecimal-sequence (SCTE35-OUT / SCTE35-IN). */
  scte35: string;
  /** CLASS of the date range, optional. */
  class?: string;
}

interface ScheduledCue extends Cue {
  /** START-DATE fixed by the first rendition that placed the cue. */
  startDate?: number;
  placedIn: Set<string>;
}

/** How long a placed cue is kept for renditions that have not reached its boundary yet, ms. */
const KEEP_PLACED_MS = 120_000;

export class CueSchedule {
  private cues: ScheduledCue[] = [];

  /** `onPlaced`: once per cue, when its START-DATE is fixed; `offsetMs` = START-DATE − requested instant. */
  constructor(private readonly onPlaced?: (cue: Cue, startDate: number, offsetMs: number) => void) {}

  add(cue: Cue): void {
    this.cues.push({ ...cue, placedIn: new Set() });
  }

  /** Cues not placed anywhere yet (for tests and the channel view). */
  get waiting(): number {
    return this.cues.filter((c) => c.startDate === undefined).length;
  }

  /**
   * A rendition opened a segment at `segmentPdt`: applies to its playlist every cue due at that
   * boundary it has not placed yet, in the order they were added. Returns the cues applied.
   */
  place(rendition: string, playlist: MediaPlaylist, segmentPdt: number, toleranceMs: number): Cue[] {
    const applied: Cue[] = [];
    for (const cue of this.cues) {
      if (cue.placedIn.has(rendition)) continue;
      if (cue.startDate === undefined) {
        if (cue.at > segmentPdt + toleranceMs) continue;
        cue.startDate = segmentPdt;
        this.onPlaced?.(cue, segmentPdt, segmentPdt - cue.at);
      } else if (cue.startDate > segmentPdt + toleranceMs) continue;
      cue.placedIn.add(rendition);
      applyCue(playlist, cue, cue.startDate);
      applied.push(cue);
    }
    const horizon = segmentPdt - KEEP_PLACED_MS;
    this.cues = this.cues.filter((c) => c.startDate === undefined || c.startDate > horizon);
    return applied;
  }
}

/**
 * 'out' opens a range (SCTE35-OUT, PLANNED-DURATION); 'in' completes the range with its ID (SCTE35-IN,
 * DURATION = in − out), or the latest range still open when none has that ID, or else stands alone.
 */
export function applyCue(playlist: MediaPlaylist, cue: Cue, startDate: number): void {
  const ranges = (playlist.dateRanges ??= []);
  if (cue.kind === 'out') {
    const range: DateRange = { id: cue.id, startDate, scte35Out: cue.scte35 };
    if (cue.class !== undefined) range.class = cue.class;
    if (cue.plannedDuration !== undefined) range.plannedDuration = cue.plannedDuration;
    const same = ranges.findIndex((r) => r.id === cue.id);
    if (same >= 0) ranges[same] = range;
    else ranges.push(range);
    return;
  }
  const open =
    ranges.find((r) => r.id === cue.id) ??
    [...ranges].reverse().find((r) => r.scte35Out !== undefined && r.scte35In === undefined && r.startDate <= startDate);
  if (open === undefined) {
    ranges.push({ id: cue.id, startDate, scte35In: cue.scte35 });
    return;
  }
  open.scte35In = cue.scte35;
  open.duration = Math.round(startDate - open.startDate) / 1000;
}
