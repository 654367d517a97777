import { ErrorCode, LivepipeError } from '../core/errors.js';
import type { CueSchedule } from './cue-schedule.js';
import { boundaryToleranceMs, expireDateRanges, lastPosition, type MediaPlaylist, type PartEntry, type PendingSegment, type RenditionReport, type SegmentEntry } from '../hls/playlist-model.js';

/**
 * Owns one rendition's live `MediaPlaylist` model and applies the cutter's output to it. Pure: time
 * comes in as arguments (`now`, epoch milliseconds), storage actions go out as data (object names to
 * store, and a deletion schedule), so the channel does all I/O.
 *
 * Object names are relative to the rendition's folder (`live/{channel}/{rendition}/`), exactly as the
 * playlist refers to them: `init-{run}.mp4`, `seg-{msn}.m4s`, `part-{msn}-{index}.m4s`.
 *
 * Lifecycle: `startRun()` for every transcoder run (the next segment gets EXT-X-DISCONTINUITY unless it
 * is the stream's first), then `addPart()` for each part and `endSegment()` when the cutter closes a
 * segment; `endList()` at the end of the stream. A process restart resumes from the stored playlist
 * (`resumeFrom`), continuing its media sequence.
 */

export interface RenditionTimelineOptions {
  /** EXT-X-TARGETDURATION, whole seconds (the cutter's `targetDuration`). Never changes. */
  targetDuration: number;
  /** PART-TARGET, seconds. Never changes. */
  partTarget: number;
  /**
   * Seconds of completed segments kept in the playlist (the DVR window). Default 60; at least
   * 6 × targetDuration so delta updates (CAN-SKIP-UNTIL) have something to skip and a live playlist
   * never shrinks below 3 target durations.
   */
  dvrWindow?: number;
  /** The playlist stored by a previous process, parsed back: its media sequence continues. */
  resumeFrom?: MediaPlaylist;
  /**
   * The channel's ad cues (`cue-schedule.ts`): each new segment places the cues due at its boundary as
   * EXT-X-DATERANGE; ranges leave with their segments. `rendition` is this timeline's name there.
   */
  cues?: { schedule: CueSchedule; rendition: string };
}

export interface RunStart {
  /** Transcoder run number: names the init segment `init-{run}.mp4`. */
  runId: number;
  /** Wall-clock capture time (epoch ms) of the run's time origin. */
  wallclockAnchor: number;
  /**
   * Stream time (seconds) that `wallclockAnchor` corresponds to. Give every rendition of a run the same
   * value so their EXT-X-PROGRAM-DATE-TIMEs agree; default: the first part's start time in this run.
   */
  timeOrigin?: number;
  /**
   * EXT-X-GAP segments to list before the run's first segment, back to back: the hole between where
   * the channel's listed media ended and this run (`holeBefore`) — the time a dead writer's lease took
   * to expire, a restart. Listed as given, so the caller can name the run's objects in advance.
   */
  hole?: ReadonlyArray<{ programDateTime: number; duration: number }>;
}

/**
 * The EXT-X-GAP segments that cover a hole in the media from `from` to `until` (epoch ms): as few as
 * fit in `targetDuration` each, of equal length, back to back (LLHLS.md: "missing media is marked
 * EXT-X-GAP, never silently skipped"). A hole shorter than `partTarget` gets none; one longer than
 * `maxSeconds` (the DVR window: older ones would slide out at once) only its last `maxSeconds`.
 *
 * Why it matters beyond the rule: Shaka Player lays HLS segments end to end whatever their dates, and
 * its live edge runs on the wall clock from the start of playback. A hole the playlist does not list
 * puts that edge ahead of the media for good; Shaka's availability window (live edge minus the listed
 * span) then evicts the listed segments at every update until its segment index is empty — a
 * `TypeError` (null segment iterator) at each update and, when the hole is longer than the window it
 * has left, a stall for good (seen after a cluster takeover: a 5.6 s hole, 1 run in 4).
 */
export function holeSegments(
  from: number,
  until: number,
  timing: { targetDuration: number; partTarget: number; maxSeconds: number },
): Array<{ programDateTime: number; duration: number }> {
  let seconds = (until - from) / 1000;
  if (!(seconds >= timing.partTarget)) return [];
  const start = seconds > timing.maxSeconds ? until - timing.maxSeconds * 1000 : from;
  seconds = Math.min(seconds, timing.maxSeconds);
  const count = Math.ceil(seconds / timing.targetDuration - 1e-9);
  // Whole milliseconds, so the EXTINFs and the PROGRAM-DATE-TIMEs tell the same time, rounded down so
  // that the last one never ends after the run starts (PDT must not go backwards).
  const duration = Math.floor((seconds * 1000) / count) / 1000;
  return Array.from({ length: count }, (_, i) => ({ programDateTime: Math.round(start + i * duration * 1000), duration }));
}

export interface PartInput {
  /** Stream time of the part's first frame, seconds (cutter `startTime`). */
  startTime: number;
  duration: number;
  independent: boolean;
  /** The part's bytes could not be stored: list it with GAP=YES. */
  gap?: boolean;
  /** The cutter's `endsAtBoundary`: the preload hint then names the next segment's first part. */
  endsAtBoundary?: boolean;
}

export interface ScheduledDeletion {
  /** Object name relative to the rendition folder. */
  name: string;
  /** Epoch ms after which the object may be deleted. */
  at: number;
}

export const DEFAULT_DVR_WINDOW_SECONDS = 60;

export const initName = (runId: number): string => `init-${runId}.mp4`;
export const segmentName = (msn: number): string => `seg-${msn}.m4s`;
export const partName = (msn: number, index: number): string => `part-${msn}-${index}.m4s`;

/** The run number in an init segment name (`init-7.mp4` → 7): a resumed channel starts above it. */
export function runIdOf(mapUri: string): number | undefined {
  const m = /^init-(\d+)\.mp4$/.exec(mapUri);
  return m ? Number(m[1]) : undefined;
}

/**
 * EXT-X-RENDITION-REPORTs for rendition `self` from the other renditions' playlists (Appendix B.1: one
 * per other rendition). A rendition with no media yet has no position to report and is left out.
 *
 * LAST-PART is always given: the playlists have parts, and LAST-PART "is REQUIRED if the Rendition
 * contains Partial Segments" (§4.4.5.4). A rendition whose last segment lists no parts — one closed
 * as a gap when its run died (a crash, a process restart) and its parts unlisted, until the next run's
 * first part — reports the last part index that segment's duration spans. A player switching there
 * asks for the part after it, which past the segment's end means part 0 of the next segment (§6.2.5.2):
 * exactly the next part to come. (Leaving LAST-PART out, as before, broke the rule after every encoder
 * kill and serve restart; issue 15.)
 */
export function renditionReportsFor(self: string, playlists: ReadonlyMap<string, MediaPlaylist>): RenditionReport[] {
  const reports: RenditionReport[] = [];
  for (const [name, playlist] of playlists) {
    if (name === self) continue;
    const pos = lastPosition(playlist);
    if (pos.msn < 0) continue;
    let lastPart = pos.part;
    if (lastPart < 0) {
      const last = playlist.segments[playlist.segments.length - 1];
      lastPart = last === undefined ? 0 : Math.max(0, Math.ceil(last.duration / playlist.partTarget - 1e-6) - 1);
    }
    reports.push({ uri: `../${name}/playlist.m3u8`, lastMsn: pos.msn, lastPart });
  }
  return reports;
}

/**
 * Durations in the model are rounded to microseconds: the serializer prints exactly that, so a stored
 * playlist parses back to the same numbers. Rounding cannot push a part over PART-TARGET, since the
 * targets themselves have at most 6 decimals.
 */
export function roundDuration(seconds: number): number {
  return Math.round(seconds * 1e6) / 1e6;
}

/** Server control derived from the targets (LLHLS.md): identical in every rendition of a channel. */
export function serverControlFor(targetDuration: number, partTarget: number): MediaPlaylist['serverControl'] {
  return {
    canBlockReload: true,
    partHoldBack: roundDuration(3 * partTarget),
    holdBack: 3 * targetDuration,
    canSkipUntil: 6 * targetDuration,
  };
}

interface ActiveRun {
  runId: number;
  mapUri: string;
  wallclockAnchor: number;
  timeOrigin: number | undefined;
}

export class RenditionTimeline {
  readonly playlist: MediaPlaylist;
  private readonly dvrWindow: number;
  private run: ActiveRun | undefined;
  /** msn of the next segment to open. */
  private nextMsn: number;
  /** The next segment opened starts with EXT-X-DISCONTINUITY. */
  private discontinuityPending = false;
  /**
   * The playlist listed a segment before the current run — media or gap — so a new run is a
   * discontinuity. Gap segments count: a rendition whose only segments are gaps (a gap bridge, or
   * `alignTo` before it ever had media) must mark the next run's first segment as the others do,
   * or the renditions' discontinuity sequences part (§6.2.4; issue 15).
   */
  private listedBefore: boolean;
  private deletions: ScheduledDeletion[] = [];
  /** The segment in progress was opened by `addGapPart` (the encoder is down), not by a run's media. */
  private gapBridgeOpen = false;
  private readonly cues: RenditionTimelineOptions['cues'];

  constructor(options: RenditionTimelineOptions) {
    this.cues = options.cues;
    const { targetDuration, partTarget } = options;
    if (!Number.isInteger(targetDuration) || targetDuration < 1) {
      throw new LivepipeError(ErrorCode.ConfigInvalid, `targetDuration ${targetDuration} must be a whole number of seconds ≥ 1`);
    }
    if (!(partTarget > 0 && partTarget <= targetDuration)) {
      throw new LivepipeError(ErrorCode.ConfigInvalid, `partTarget ${partTarget} must be in (0, targetDuration]`);
    }
    this.dvrWindow = options.dvrWindow ?? Math.max(DEFAULT_DVR_WINDOW_SECONDS, 6 * targetDuration);
    if (!(this.dvrWindow >= 6 * targetDuration)) {
      throw new LivepipeError(ErrorCode.ConfigInvalid, `dvrWindow ${this.dvrWindow}s must be ≥ 6 × targetDuration (${6 * targetDuration}s)`);
    }
    const resume = options.resumeFrom;
    if (resume && !resume.endList && (resume.targetDuration !== targetDuration || resume.partTarget !== partTarget)) {
      // Apple players stop for good when the targets change within a stream (LLHLS.md).
      throw new LivepipeError(
        ErrorCode.ConfigInvalid,
        `the stored playlist has TARGETDURATION ${resume.targetDuration} / PART-TARGET ${resume.partTarget}, the config ` +
          `${targetDuration} / ${partTarget}: targets cannot change within a live stream; end it first`,
      );
    }
    this.playlist = {
      version: 9,
      targetDuration,
      partTarget,
      serverControl: serverControlFor(targetDuration, partTarget),
      mediaSequence: 0,
      discontinuitySequence: 0,
      segments: [],
      renditionReports: [],
      endList: false,
    };
    this.nextMsn = 0;
    this.listedBefore = false;
    if (resume) this.resume(resume);
  }

  /** A new transcoder run: its init segment is `mapUri`; its first segment follows a discontinuity. */
  startRun(start: RunStart, now: number): void {
    this.closeOrphanPending(now);
    if (start.hole !== undefined && start.hole.length > 0) this.listHole(start.hole, initName(start.runId), now);
    this.run = {
      runId: start.runId,
      mapUri: initName(start.runId),
      wallclockAnchor: start.wallclockAnchor,
      timeOrigin: start.timeOrigin,
    };
    this.discontinuityPending = this.listedBefore;
    // After an end of list the playlist stays ended until this run's first part (see `addPart`): a run
    // that dies before producing one (an encoder in a crash loop) must not bring back a preload hint
    // that blocking requests would wait on in vain.
    this.updateHint();
  }

  /**
   * Before a run: the next segment opened is `msn`, the next segment of `reference` — another
   * rendition of the channel that is ahead of this one (renditions share media sequence numbers,
   * timestamps and discontinuity sequence numbers, §6.2.4). A playlist without media starts there,
   * with the reference's discontinuity sequence; one with media lists the segments it lacks as
   * EXT-X-GAP ("Missing media is marked EXT-X-GAP, never silently skipped", LLHLS.md), each with the
   * reference's duration, date and discontinuity. A segment left open is closed first, as
   * `startRun` would. Does nothing when this playlist is not behind.
   */
  alignTo(msn: number, reference: MediaPlaylist, now: number): void {
    this.closeOrphanPending(now);
    if (msn <= this.nextMsn) return;
    const last = this.playlist.segments[this.playlist.segments.length - 1];
    if (last === undefined) {
      this.nextMsn = msn;
      this.playlist.mediaSequence = msn;
      // The reference's open segment (closed by its next run, as a gap) counts as listed.
      const listed = reference.pending !== undefined ? [...reference.segments, reference.pending] : reference.segments;
      this.playlist.discontinuitySequence = reference.discontinuitySequence + listed.filter((s) => s.discontinuity).length;
      // The reference's next segment follows a discontinuity when it listed any: so does this one's.
      this.listedBefore ||= listed.length > 0;
      return;
    }
    let end = last.programDateTime + 1000 * last.duration;
    for (let m = this.nextMsn; m < msn; m++) {
      const ref = reference.segments.find((s) => s.msn === m);
      const duration = roundDuration(Math.min(ref?.duration ?? this.playlist.targetDuration, this.playlist.targetDuration));
      const programDateTime = ref?.programDateTime ?? Math.round(end);
      this.playlist.segments.push({
        msn: m,
        uri: segmentName(m),
        duration,
        parts: [],
        discontinuity: ref?.discontinuity ?? false,
        programDateTime,
        mapUri: last.mapUri,
        gap: true,
      });
      end = programDateTime + 1000 * duration;
    }
    this.nextMsn = msn;
    this.slide(now);
    this.updateHint();
  }

  /** The run's init segment name (`init-{run}.mp4`), for storing the init bytes. */
  get mapUri(): string | undefined {
    return this.run?.mapUri;
  }

  /** Name and position of the next part: store its bytes under `name`, then call `addPart`. */
  nextPart(): { msn: number; index: number; name: string } {
    const msn = this.playlist.pending?.msn ?? this.nextMsn;
    const index = this.playlist.pending?.parts.length ?? 0;
    return { msn, index, name: partName(msn, index) };
  }

  /** Name of the segment in progress (its bytes are stored when the cutter closes it). */
  currentSegmentName(): string {
    return segmentName(this.playlist.pending?.msn ?? this.nextMsn);
  }

  addPart(part: PartInput, now: number): { msn: number; index: number } {
    const run = this.requireRun();
    // Media after a gap bridge never joins the bridge's segment (`startRun` closes it first anyway).
    if (this.gapBridgeOpen) this.closeOrphanPending(now);
    let pending = this.playlist.pending;
    if (!pending) {
      run.timeOrigin ??= part.startTime;
      pending = {
        msn: this.nextMsn++,
        parts: [],
        discontinuity: this.discontinuityPending,
        programDateTime: Math.round(run.wallclockAnchor + (part.startTime - run.timeOrigin) * 1000),
        mapUri: run.mapUri,
      };
      this.discontinuityPending = false;
      this.listedBefore = true;
      this.playlist.pending = pending;
      if (this.playlist.segments.length === 0) this.playlist.mediaSequence = pending.msn;
      this.cues?.schedule.place(this.cues.rendition, this.playlist, pending.programDateTime, boundaryToleranceMs(this.playlist));
    }
    const entry: PartEntry = {
      uri: partName(pending.msn, pending.parts.length),
      duration: roundDuration(part.duration),
      independent: part.independent,
    };
    if (part.gap) entry.gap = true;
    pending.parts.push(entry);
    // A new run after an end of list (a publisher back, an encoder recovered) continues the same
    // playlist from its first part on: msn never goes backwards, a discontinuity marks the new run.
    this.playlist.endList = false;
    this.ageParts(now);
    this.updateHint(part.endsAtBoundary === true);
    return { msn: pending.msn, index: pending.parts.length - 1 };
  }

  /**
   * While the encoder is down between two runs (a crash, a kill): one GAP part of `duration`, so the
   * playlist keeps moving and blocking reloads are answered at the usual pace instead of waiting out
   * the restart (hls.js gives a blocking playlist request max(3 × PART-TARGET, 0.8 × TARGETDURATION)
   * before it times out, and fails for good after a few timeouts in a row; issue 15). The parts go into
   * a segment of their own, continuing the program date-time of the listed media: `startsBridge`
   * (the first gap part after media) closes any segment still open first — one a killed run left, or
   * an earlier bridge's that a run without media never closed — so every rendition starts the bridge
   * on the same fresh msn; `endsSegment` closes the bridge's segment as an EXT-X-GAP segment. A
   * segment the bridge opens starts at `programDateTime` (the channel gives every rendition the same
   * date: the end of the media listed in any of them), else where the listed media ends. The next run's `startRun` closes a bridge segment left open
   * (as a gap, like any orphan) and its first segment follows a discontinuity as usual. Gap parts
   * name no object and are never stored; "missing media is marked GAP, never silently skipped"
   * (LLHLS.md). Needs a run to have started (its init segment is the segment's EXT-X-MAP).
   *
   * `filled`: the part is media the packager made and stored under its name (`OutageFill`: a held
   * picture, silence) — listed as an ordinary part; the packager then closes the segment with
   * `endSegment` once its object is stored, rather than with `endsSegment`.
   */
  addGapPart(duration: number, position: { startsBridge: boolean; endsSegment: boolean; programDateTime?: number; filled?: boolean }, now: number): void {
    const run = this.requireRun();
    const { startsBridge, endsSegment } = position;
    if (this.playlist.pending !== undefined && (startsBridge || !this.gapBridgeOpen)) this.closeOrphanPending(now);
    let pending = this.playlist.pending;
    if (pending === undefined) {
      const last = this.playlist.segments[this.playlist.segments.length - 1];
      pending = {
        msn: this.nextMsn++,
        parts: [],
        discontinuity: false,
        programDateTime: position.programDateTime ?? (last !== undefined ? Math.round(last.programDateTime + 1000 * last.duration) : now),
        mapUri: last?.mapUri ?? run.mapUri,
      };
      this.playlist.pending = pending;
      this.gapBridgeOpen = true;
      this.listedBefore = true;
      if (this.playlist.segments.length === 0) this.playlist.mediaSequence = pending.msn;
    }
    const part: PartEntry = { uri: partName(pending.msn, pending.parts.length), duration: roundDuration(duration), independent: true };
    if (position.filled !== true) part.gap = true;
    pending.parts.push(part);
    if (endsSegment) {
      this.completeSegment(pending, undefined, true);
      this.gapBridgeOpen = false;
      this.slide(now);
    }
    this.ageParts(now);
    this.updateHint();
  }

  /**
   * The cutter closed the segment in progress. `duration` is the cutter's exact value (default: the sum
   * of its parts); `gap` lists it with EXT-X-GAP when its bytes could not be stored.
   */
  endSegment(segment: { duration?: number; gap?: boolean }, now: number): { msn: number; name: string } {
    this.requireRun();
    const pending = this.playlist.pending;
    if (!pending || pending.parts.length === 0) {
      throw new LivepipeError(ErrorCode.Conflict, 'endSegment() without any part in the segment');
    }
    const entry = this.completeSegment(pending, segment.duration, segment.gap === true);
    this.gapBridgeOpen = false;
    this.slide(now);
    this.ageParts(now);
    this.updateHint();
    return { msn: entry.msn, name: entry.uri };
  }

  /** EXT-X-ENDLIST: the stream is over (a still-open segment is closed from its parts). */
  endList(now: number): void {
    this.closeOrphanPending(now);
    this.run = undefined;
    this.playlist.endList = true;
    delete this.playlist.preloadHint;
  }

  /**
   * Marks an object already listed as missing (GAP=YES / EXT-X-GAP): it was listed while held in
   * memory for upload (storage slow or down) and had to be dropped before storage took it. Returns
   * whether the playlist still listed it.
   */
  markGap(uri: string): boolean {
    for (const segment of this.playlist.segments) {
      if (segment.uri === uri) return (segment.gap = true);
      const part = segment.parts.find((p) => p.uri === uri);
      if (part !== undefined) return (part.gap = true);
    }
    const part = this.playlist.pending?.parts.find((p) => p.uri === uri);
    if (part !== undefined) return (part.gap = true);
    return false;
  }

  /** EXT-X-RENDITION-REPORTs, from the other renditions' `lastPosition()` (the channel fills them). */
  setRenditionReports(reports: RenditionReport[]): void {
    this.playlist.renditionReports = reports.map((r) => ({ ...r }));
  }

  /** Deletions scheduled so far, oldest first. */
  get scheduledDeletions(): readonly ScheduledDeletion[] {
    return this.deletions;
  }

  /** Removes and returns the names whose deletion time has come. */
  takeDueDeletions(now: number): string[] {
    const due = this.deletions.filter((d) => d.at <= now).map((d) => d.name);
    if (due.length > 0) this.deletions = this.deletions.filter((d) => d.at > now);
    return due;
  }

  /** Total duration of the listed media (segments + the parts of the segment in progress), seconds. */
  duration(): number {
    let total = 0;
    for (const s of this.playlist.segments) total += s.duration;
    for (const p of this.playlist.pending?.parts ?? []) total += p.duration;
    return total;
  }

  private requireRun(): ActiveRun {
    if (!this.run) throw new LivepipeError(ErrorCode.Closed, 'no transcoder run is active: call startRun() first');
    return this.run;
  }

  private completeSegment(pending: PendingSegment, duration: number | undefined, gap: boolean): SegmentEntry {
    const entry: SegmentEntry = {
      msn: pending.msn,
      uri: segmentName(pending.msn),
      duration: roundDuration(duration ?? pending.parts.reduce((n, p) => n + p.duration, 0)),
      parts: pending.parts,
      discontinuity: pending.discontinuity,
      programDateTime: pending.programDateTime,
      mapUri: pending.mapUri,
    };
    if (gap) entry.gap = true;
    this.playlist.segments.push(entry);
    delete this.playlist.pending;
    return entry;
  }

  /**
   * A segment left open by a run that ended without `flush()` (a crash) is closed as EXT-X-GAP: its
   * parts exist but its segment object was never written. Its msn is kept — reusing it for other media
   * would break players that saw its parts.
   */
  private closeOrphanPending(now: number): void {
    this.gapBridgeOpen = false;
    const pending = this.playlist.pending;
    if (!pending) return;
    if (pending.parts.length === 0) {
      delete this.playlist.pending;
      this.nextMsn = pending.msn;
      return;
    }
    const entry = this.completeSegment(pending, undefined, true);
    this.dropParts(entry, now);
    this.slide(now);
  }

  private resume(stored: MediaPlaylist): void {
    const copy: MediaPlaylist = structuredClone(stored);
    const last = copy.pending?.msn ?? copy.segments[copy.segments.length - 1]?.msn ?? copy.mediaSequence - 1;
    this.listedBefore = copy.segments.length > 0 || copy.pending !== undefined;
    if (copy.endList && (copy.targetDuration !== this.playlist.targetDuration || copy.partTarget !== this.playlist.partTarget)) {
      // An ended stream may restart with new targets: fresh list, same msn line.
      this.playlist.mediaSequence = last + 1;
      this.nextMsn = last + 1;
      this.playlist.discontinuitySequence = copy.discontinuitySequence + copy.segments.filter((s) => s.discontinuity).length + 1;
      this.listedBefore = false;
      return;
    }
    this.playlist.mediaSequence = copy.mediaSequence;
    this.playlist.discontinuitySequence = copy.discontinuitySequence;
    this.playlist.segments = copy.segments;
    this.playlist.renditionReports = copy.renditionReports;
    this.playlist.endList = copy.endList;
    if (copy.pending) this.playlist.pending = copy.pending;
    // Ad markers survive restarts while their segments are listed.
    if (copy.dateRanges !== undefined) this.playlist.dateRanges = copy.dateRanges;
    if (copy.cueTags !== undefined) this.playlist.cueTags = copy.cueTags;
    // With a pending segment, `last` is its msn: it was opened already (startRun closes it as a gap).
    this.nextMsn = last + 1;
  }

  /**
   * The EXT-X-GAP segments for the hole from `listedMediaEnd` (where the channel's listed media ended,
   * the same for every rendition) to a run's `wallclockAnchor` (`holeSegments`, at most the DVR window).
   * None after EXT-X-ENDLIST: the stream had ended, nothing was missing (players stopped there).
   */
  holeBefore(times: { wallclockAnchor: number; listedMediaEnd?: number }): Array<{ programDateTime: number; duration: number }> {
    if (times.listedMediaEnd === undefined || this.playlist.endList) return [];
    const { targetDuration, partTarget } = this.playlist;
    return holeSegments(times.listedMediaEnd, times.wallclockAnchor, { targetDuration, partTarget, maxSeconds: this.dvrWindow });
  }

  /** Lists `hole` (see `RunStart.hole`) after what is listed: EXT-X-GAP segments on the last init segment. */
  private listHole(hole: ReadonlyArray<{ programDateTime: number; duration: number }>, runMapUri: string, now: number): void {
    const mapUri = this.playlist.segments[this.playlist.segments.length - 1]?.mapUri ?? runMapUri;
    for (const { programDateTime, duration } of hole) {
      const msn = this.nextMsn++;
      if (this.playlist.segments.length === 0) this.playlist.mediaSequence = msn;
      this.playlist.segments.push({ msn, uri: segmentName(msn), duration, parts: [], discontinuity: false, programDateTime, mapUri, gap: true });
    }
    this.listedBefore = true;
    this.slide(now);
  }

  /** Schedules a segment's listed parts for deletion after 3 target durations and unlists them (§6.2.2). */
  private dropParts(segment: SegmentEntry, now: number): void {
    const at = now + 3 * this.playlist.targetDuration * 1000;
    for (const p of segment.parts) if (!p.gap) this.deletions.push({ name: p.uri, at });
    segment.parts = [];
  }

  /** Parts of segments starting more than 3 target durations before the end leave the playlist. */
  private ageParts(now: number): void {
    const limit = 3 * this.playlist.targetDuration;
    let fromEnd = 0;
    for (const p of this.playlist.pending?.parts ?? []) fromEnd += p.duration;
    const segments = this.playlist.segments;
    for (let i = segments.length - 1; i >= 0; i--) {
      const s = segments[i]!;
      fromEnd += s.duration;
      if (fromEnd > limit + 1e-6 && s.parts.length > 0) this.dropParts(s, now);
    }
  }

  /** Slides the DVR window; expired segments (and unused init segments) go to the deletion schedule. */
  private slide(now: number): void {
    const segments = this.playlist.segments;
    let total = segments.reduce((n, s) => n + s.duration, 0);
    while (segments.length > 1 && total - segments[0]!.duration >= this.dvrWindow - 1e-6) {
      const gone = segments.shift()!;
      total -= gone.duration;
      if (gone.discontinuity) this.playlist.discontinuitySequence++;
      this.dropParts(gone, now);
      // §6.2.2: keep a removed segment available for its duration plus the playlist's duration.
      const at = now + Math.ceil((gone.duration + total) * 1000);
      if (!gone.gap) this.deletions.push({ name: gone.uri, at });
      const mapStillUsed =
        segments.some((s) => s.mapUri === gone.mapUri) || this.playlist.pending?.mapUri === gone.mapUri || this.run?.mapUri === gone.mapUri;
      if (!mapStillUsed && !this.deletions.some((d) => d.name === gone.mapUri)) this.deletions.push({ name: gone.mapUri, at });
    }
    this.playlist.mediaSequence = segments[0]?.msn ?? this.playlist.pending?.msn ?? this.nextMsn;
    expireDateRanges(this.playlist);
  }

  /**
   * EXT-X-PRELOAD-HINT for the part most likely to come next. After a part that ends at a boundary
   * instant that is the next segment's first part; if the next frame turns out not to be a keyframe the
   * hint was wrong, and a client holding it simply waits one more part (the origin holds any hinted
   * or future part). `nextPart()` always names the part actually produced next.
   */
  private updateHint(segmentLikelyEnds = false): void {
    if (this.playlist.endList) {
      delete this.playlist.preloadHint;
      return;
    }
    const pending = this.playlist.pending;
    this.playlist.preloadHint = { uri: segmentLikelyEnds && pending ? partName(pending.msn + 1, 0) : this.nextPart().name };
  }
}
