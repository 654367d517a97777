/**
 * Keeps the renditions of one transcoder run on the same segments, so that a segment has the same
 * media sequence number in every rendition, audio included. Pure: renditions report where their
 * cutters stand, and ask which segments they may list.
 *
 * Why it is needed (issue 15): every rendition's cutter cuts at the same boundary instants, but each
 * output stream is read on its own and ffmpeg writes them at different paces (audio runs ~0.2 s
 * ahead of video). When a run ends — a crash, a kill, a stop — each output stops at another frame:
 * audio had opened a segment that video never reached, listed it (one AAC frame, 0.021 s) and from
 * then on numbered every segment one above video's. §6.2.4 of draft-pantos-hls-rfc8216bis: renditions
 * share segment boundaries, timestamps and discontinuity sequence numbers (LLHLS.md).
 *
 * The rule: segments are matched by slot (the boundary instant they were cut to end at, see
 * `SegmentCutter`), and a rendition lists anything of the segment of slot `s` only once every
 * rendition of the run has reached `s` — holds at least MIN_SEGMENT_SECONDS of media in it, or has
 * closed it — and every rendition has a segment there (slots before a rendition's first segment
 * are listed by none). What a rendition cut beyond that is held. When every output of the run has
 * ended, a segment that not every rendition reached is dropped by all of them: the trailing sliver
 * of a run is lost (under a segment; a live restart re-reads the feed from its last keyframe anyway)
 * instead of numbering the renditions apart. Holding costs a rendition that runs ahead only the lead
 * it has: audio's first part of a segment waits until video is 0.1 s into it.
 *
 * A rendition that is far behind (more than `maxLagSlots` slots, default about 10 s of segments),
 * whose output failed (`leave`), or that ended without any media, is no longer waited for: the others
 * go on, and the channel brings it back in step at the next run (`RenditionTimeline.alignTo`).
 */

interface Member {
  first: number | undefined;
  reach: number;
  ended: boolean;
  left: boolean;
}

/** Seconds of segments a rendition may fall behind the others before they stop waiting for it. */
const MAX_LAG_SECONDS = 10;

export class RunAlignment {
  private readonly members = new Map<string, Member>();
  private readonly listeners = new Set<() => void>();
  private readonly maxLagSlots: number;
  /** Highest slot every remaining rendition reached (−∞ until each has a segment). */
  private confirmed = Number.NEGATIVE_INFINITY;
  /** The first slot every remaining rendition has. */
  private start = Number.NEGATIVE_INFINITY;
  private settleResolve!: () => void;
  /** Resolves once every rendition's output has ended or left: what is listable is final then. */
  readonly settled: Promise<void>;

  constructor(renditions: readonly string[], options: { segmentDuration: number }) {
    for (const name of renditions) this.members.set(name, { first: undefined, reach: Number.NEGATIVE_INFINITY, ended: false, left: false });
    this.maxLagSlots = Math.max(2, Math.ceil(MAX_LAG_SECONDS / options.segmentDuration));
    this.settled = new Promise((resolve) => (this.settleResolve = resolve));
    if (this.members.size === 0) this.settleResolve();
  }

  /** May the segment of `slot` (and its parts) be listed now? */
  listable(slot: number): boolean {
    return slot >= this.start && slot <= this.confirmed;
  }

  /** Will the segment of `slot` never be listed (it lies before a rendition's first segment)? */
  never(slot: number): boolean {
    return slot < this.start;
  }

  /** Is `rendition` still waited for (not left)? */
  isMember(rendition: string): boolean {
    const m = this.members.get(rendition);
    return m !== undefined && !m.left;
  }

  /** Where `rendition`'s cutter stands (`SegmentCutter.reach`). */
  report(rendition: string, first: number, reach: number): void {
    const m = this.members.get(rendition);
    if (m === undefined || m.left) return;
    if (m.first === first && m.reach === reach) return;
    m.first = first;
    m.reach = reach;
    this.update();
  }

  /** `rendition`'s output ended: its reach is final. */
  end(rendition: string): void {
    const m = this.members.get(rendition);
    if (m === undefined || m.ended) return;
    m.ended = true;
    // An output that ended without any media has nothing to wait for.
    if (m.first === undefined) m.left = true;
    this.update();
  }

  /** `rendition` is no longer waited for (its output failed). */
  leave(rendition: string): void {
    const m = this.members.get(rendition);
    if (m === undefined || m.left) return;
    m.left = true;
    m.ended = true;
    this.update();
  }

  /** Called after every change of what is listable (and once settled). Returns the unsubscribe. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private update(): void {
    const remaining = () => [...this.members.values()].filter((m) => !m.left);
    // A rendition without media yet stands just before the earliest first segment of the others.
    const earliest = Math.min(...remaining().map((m) => m.first ?? Number.POSITIVE_INFINITY));
    const reachOf = (m: Member): number => (m.first === undefined ? earliest - 1 : m.reach);
    const lead = Math.max(...remaining().map(reachOf));
    for (const m of remaining()) if (reachOf(m) < lead - this.maxLagSlots) m.left = true;
    const members = remaining();
    const before = { confirmed: this.confirmed, start: this.start };
    if (!members.some((m) => m.first === undefined)) {
      // Both only grow: a slot once listable stays listable.
      this.start = Math.max(this.start, ...members.map((m) => m.first!));
      this.confirmed = Math.max(this.confirmed, Math.min(...members.map((m) => m.reach)));
    }
    const settled = members.every((m) => m.ended);
    if (before.confirmed !== this.confirmed || before.start !== this.start || settled) {
      for (const listener of [...this.listeners]) listener();
    }
    if (settled) this.settleResolve();
  }
}
