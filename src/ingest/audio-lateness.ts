/**
 * How long after its video a publisher's audio reaches livepipe.
 *
 * An MPEG-TS muxer may pack several audio frames into one PES and send it only once it is full:
 * ffmpeg's does by default (`pes_payload_size` 2930 bytes: 0.37 s of 64 kbit/s AAC, 0.18 s at
 * 128 kbit/s). The audio of a moment then arrives that much after its video, and a player can play a
 * moment only once it has both: a viewer closer than that to the live edge runs out of audio and
 * stalls (hls.js then adds a second to its target latency for good). Default players sit 0.4–0.9 s
 * behind the edge of a `low-latency` stream (docs/latency.md), so 0.37 s eats most of that margin.
 * livepipe cannot make the audio arrive sooner; it can tell the operator why
 * (`publisher.audioDelaySeconds`, docs/latency.md).
 *
 * Each audio PES's lateness is the time it was seen minus the arrival of the video frame with the
 * same timestamp (`ArrivalClock`); the figure is the largest lateness over the last `windowMs`.
 */
export class AudioLateness {
  private samples: Array<{ atMs: number; lateMs: number }> = [];

  constructor(private readonly windowMs = 5_000) {}

  /** An audio PES whose first frame was due at `dueAtMs` (its video's arrival) was seen at `seenAtMs`. */
  observe(dueAtMs: number, seenAtMs: number): void {
    this.samples.push({ atMs: seenAtMs, lateMs: Math.max(0, seenAtMs - dueAtMs) });
    this.prune(seenAtMs);
  }

  /** The largest lateness seen within the window before `nowMs`, ms; undefined when no audio came in it. */
  maxMs(nowMs: number): number | undefined {
    this.prune(nowMs);
    if (this.samples.length === 0) return undefined;
    let max = 0;
    for (const s of this.samples) max = Math.max(max, s.lateMs);
    return max;
  }

  private prune(nowMs: number): void {
    let drop = 0;
    while (drop < this.samples.length && this.samples[drop]!.atMs <= nowMs - this.windowMs) drop++;
    if (drop > 0) this.samples = this.samples.slice(drop);
  }
}
