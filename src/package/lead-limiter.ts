/**
 * Keeps a channel's renditions advancing together while one of them is paced: a part of any other
 * rendition is listed only once every paced rendition has listed media to within a lead (one
 * PART-TARGET) of that part's end, or once it has waited `maxHoldMs`.
 *
 * Why: LL-HLS wants renditions to advance within one PART-TARGET of each other (LLHLS.md, "Timing";
 * §6.2.1). A publisher that batches its audio (`BurstPacer`) makes the audio rendition trail the
 * video by its batching — ~0.3 s with ffmpeg's default MPEG-TS muxer over SRT — and a player that
 * positions its live start by the newest segment end of *any* stream (Shaka's
 * `PresentationTimeline`) starts PART-HOLD-BACK (0.3 s) behind the video edge, where the audio is
 * not listed yet, and stalls on it. Held to the audio edge, the video edge is where the audio is:
 * a batching publisher's viewers are as far behind as its audio is, and none of them runs out of it.
 *
 * Only paced renditions hold others back (`advanced`), and only while pacing: an even feed (RTMP) is
 * never held. Timers are real (`setTimeout`): the longest wait is `maxHoldMs`.
 */
export class LeadLimiter {
  /** Paced renditions' listed edges: wall-clock time (epoch ms) at which their newest listed media ends. */
  private readonly edges = new Map<string, number>();
  private readonly waiters = new Set<Waiter>();

  /** A paced rendition `name` listed media ending at wall-clock `endsAt`. */
  advanced(name: string, endsAt: number): void {
    this.edges.set(name, endsAt);
    this.wake();
  }

  /** `name` is not paced (any more), or its run ended: nothing waits for it. */
  released(name: string): void {
    if (this.edges.delete(name)) this.wake();
  }

  /**
   * Resolves once every paced rendition has listed media up to `endsAt − leadMs`, or after
   * `maxHoldMs`; at once when no rendition is paced or every one is that far already. A paced
   * rendition that a part waited `maxHoldMs` for has stalled (its publisher stopped sending that
   * track, its output died): it holds nothing more until it lists media again (`advanced`).
   */
  waitFor(endsAt: number, leadMs: number, maxHoldMs: number): Promise<void> {
    const until = endsAt - leadMs;
    if (this.reached(until)) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const waiter: Waiter = {
        until,
        done: () => {
          clearTimeout(waiter.timer);
          this.waiters.delete(waiter);
          resolve();
        },
        // Forgetting the edges it waited for lets it (and every part waiting on them) go.
        timer: setTimeout(() => {
          for (const [name, edge] of this.edges) if (edge < until) this.edges.delete(name);
          this.wake();
        }, Math.max(0, maxHoldMs)),
      };
      this.waiters.add(waiter);
    });
  }

  /** Lets every waiting part go (the channel is closing). */
  close(): void {
    this.edges.clear();
    for (const waiter of [...this.waiters]) waiter.done();
  }

  /** How many parts wait now. */
  get waiting(): number {
    return this.waiters.size;
  }

  private reached(until: number): boolean {
    for (const edge of this.edges.values()) if (edge < until) return false;
    return true;
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) if (this.reached(waiter.until)) waiter.done();
  }
}

interface Waiter {
  until: number;
  done: () => void;
  timer: NodeJS.Timeout;
}
