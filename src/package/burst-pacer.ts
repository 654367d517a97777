/**
 * When a rendition's parts reach the packager in bursts, lists them at an even pace instead: each
 * part as late, behind its own media, as a burst's first part typically is.
 *
 * Why: some publishers send audio in batches — ffmpeg's MPEG-TS muxer, over SRT, packs ~0.37 s of
 * 64 kbit/s AAC into one PES — so the transcoder's audio parts arrive four or five at once, and a
 * burst often carries a segment's last parts together with the segment's end. hls.js (1.7) then
 * loads those parts from a playlist in which their segment is already complete, and its fragment
 * tracker, which counts a segment as fully buffered when the buffer reaches within 0.2 s of its end,
 * marks the segment done one or two parts early. It never asks for the last part (0.06–0.15 s of
 * audio), and the viewer stalls on that hole about two seconds later, when the part leaves the
 * playlist (docs/latency.md, "SRT publishers"). Listed evenly, a segment's last part and its end come
 * one part after the part before, as they do from an even feed, and every part has been loaded from a
 * playlist in which its segment was still open.
 *
 * Pacing to a burst's typical lateness never lists anything later than the bursts' first parts are
 * listed anyway, so a player's smallest audio lead is what it was; only the bursts' newer parts wait.
 * The channel's other renditions are held to the paced one (`LeadLimiter`): the video edge would
 * otherwise lead the audio edge by that lateness all the time.
 * Only a window that holds a burst is paced — a part later than the one before by `burstJumpMs` — so
 * an even feed (RTMP, a per-frame SRT publisher) and a run catching up with its start-up backlog list
 * every part as it comes, and so do parts that arrive before their media's wall-clock end (a feed
 * faster than real time).
 *
 * Pure: the caller passes wall-clock times in and awaits the time it gets back.
 */
export interface BurstPacerOptions {
  /** How far back arrivals count, ms. */
  windowMs: number;
  /**
   * How much later than the part before a part must be to start a burst, ms. A batch shows as a
   * sawtooth — each part of a batch a part less late than the one before, the next batch's first part
   * a batch later again — while an even feed's jitter and a run working off its start-up backlog
   * (each part less late than the one before) never jump up that far.
   */
  burstJumpMs: number;
  /** Longest a part is held, ms. */
  maxHoldMs: number;
}

interface Arrival {
  at: number;
  lateness: number;
  /** Later than the arrival before by `burstJumpMs` or more: the first part of a burst. */
  head: boolean;
}

export class BurstPacer {
  /** The window's late arrivals, oldest first. */
  private readonly arrivals: Arrival[] = [];
  private lastLateness: number | undefined;
  /** Whether the window held a burst at the last arrival (`engaged`). */
  private pacing = false;

  constructor(private readonly options: BurstPacerOptions) {}

  /**
   * A part whose media ends at wall-clock `endsAt` (epoch ms) is ready at `now`: the wall-clock time
   * to list it at, ≥ `now`.
   */
  listAt(endsAt: number, now: number): number {
    const lateness = now - endsAt;
    const arrivals = this.arrivals;
    while (arrivals.length > 0 && arrivals[0]!.at < now - this.options.windowMs) arrivals.shift();
    const previous = this.lastLateness;
    this.lastLateness = lateness;
    if (lateness <= 0) {
      this.pacing = this.burstExtremes() !== undefined;
      return now;
    }
    arrivals.push({ at: now, lateness, head: previous !== undefined && lateness - previous >= this.options.burstJumpMs });
    const bursts = this.burstExtremes();
    this.pacing = bursts !== undefined;
    if (bursts === undefined) return now;
    return now + Math.min(this.options.maxHoldMs, Math.max(0, bursts.typical - lateness));
  }

  /**
   * Forgets every arrival: a new encoder run is timed against its own anchor, and its start (a
   * restart that re-reads the feed's last GOP, a backlog being worked off) is no burst of the old one.
   */
  reset(): void {
    this.arrivals.length = 0;
    this.lastLateness = undefined;
    this.pacing = false;
  }

  /** Whether the window held bursts at the last arrival (parts are being held). */
  get engaged(): boolean {
    return this.pacing;
  }

  /**
   * How much later than the window's least late part pacing lists parts, ms (0 when not pacing): the
   * lag it adds to a rendition's edge at most.
   */
  get lagMs(): number {
    const bursts = this.burstExtremes();
    return bursts === undefined ? 0 : Math.min(this.options.maxHoldMs, bursts.typical - bursts.earliest);
  }

  /**
   * How late a burst's first part typically is — the median over the window's bursts — and the least
   * lateness from the first burst on (ms); undefined when the window has no burst. Arrivals before it
   * (a start-up backlog being worked off) do not count. The median, not the latest: one burst that
   * came late must not hold every part of the next seconds as late (a player that positioned itself
   * by the video would run out of audio); that burst is listed as it comes.
   */
  private burstExtremes(): { typical: number; earliest: number } | undefined {
    const first = this.arrivals.findIndex((a) => a.head);
    if (first < 0) return undefined;
    const heads: number[] = [];
    let earliest = Infinity;
    for (let i = first; i < this.arrivals.length; i++) {
      const arrival = this.arrivals[i]!;
      if (arrival.head) heads.push(arrival.lateness);
      if (arrival.lateness < earliest) earliest = arrival.lateness;
    }
    heads.sort((a, b) => a - b);
    return { typical: heads[Math.floor((heads.length - 1) / 2)]!, earliest };
  }
}
