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
 * On a ladder without keyframe marks nothing forces a keyframe at `at` (ffmpeg fixes keyframe
 * placement when the encoder starts; see docs/on-air.md), so the splice lands on the next natural
 * segment boundary — up to one segment duration later — and that offset is reported (`onPlaced`)
 * when the first rendition places the cue. With `keyframes: marked` the relay keys the splice's frame
 * and every rendition cuts a segment there; the channel packager then `bind`s the cue to that cut:
 * its START-DATE is fixed to the PROGRAM-DATE-TIME of the cut, and every rendition places it at its
 * segment starting there (within the tolerance: audio starts up to one fragment later).
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
  /** START-DATE fixed by the first rendition that placed the cue, or by `bind`. */
  startDate?: number;
  placedIn: Set<string>;
  /** The cue as given to `add` (what `bind` names). */
  added: Cue;
}

/** How long a placed cue is kept for renditions that have not reached its boundary yet, ms. */
const KEEP_PLACED_MS = 120_000;

export class CueSchedule {
  private cues: ScheduledCue[] = [];

  /** `onPlaced`: once per cue, when its START-DATE is fixed; `offsetMs` = START-DATE − requested instant. */
  constructor(private readonly onPlaced?: (cue: Cue, startDate: number, offsetMs: number) => void) {}

  add(cue: Cue): void {
    this.cues.push({ ...cue, placedIn: new Set(), added: cue });
  }

  /** Whether `cue` (as given to `add`) waits unplaced, so that `bind` would take it. */
  bindable(cue: Cue): boolean {
    return this.cues.some((c) => c.added === cue && c.startDate === undefined);
  }

  /**
   * Every rendition cuts a segment at the splice of `cue` (as given to `add`), which starts at
   * `startDate` (epoch ms, the cut's PROGRAM-DATE-TIME): START-DATE is fixed to it now, and each
   * rendition places the cue at its first segment from there. False when the cue is unknown or
   * placed already.
   */
  bind(cue: Cue, startDate: number): boolean {
    const scheduled = this.cues.find((c) => c.added === cue && c.startDate === undefined);
    if (scheduled === undefined) return false;
    scheduled.startDate = startDate;
    this.onPlaced?.(cue, startDate, startDate - cue.at);
    return true;
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
