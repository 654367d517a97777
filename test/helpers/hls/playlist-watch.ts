/**
 * One rendition's playlist followed over time (polled by the test): the LL-HLS rules on every new
 * version (`llhls-rules.ts`), media sequence numbers and PDT never going back, and where each
 * discontinuity and init segment appeared — what a restart or a failover must keep true.
 */
import { checkMediaPlaylist, PlaylistHistoryChecker } from './llhls-rules.js';
import { playlistFacts, type PlaylistFacts } from './playlist-facts.js';

/** Everything seen in one rendition's playlist over time. */
export class PlaylistWatch {
  lastMediaSequence = -1;
  lastMsn = -1;
  readonly violations: string[] = [];
  /** msn → discontinuity number (EXT-X-DISCONTINUITY-SEQUENCE + tags up to it), as first seen. */
  readonly discontinuityNumber = new Map<number, number>();
  /** msn of every segment seen preceded by EXT-X-DISCONTINUITY. */
  readonly discontinuityAt = new Set<number>();
  /** msn → init segment named by its EXT-X-MAP. */
  readonly mapOf = new Map<number, string>();
  polls = 0;
  latestText = '';
  private readonly history = new PlaylistHistoryChecker();

  /** `renditions`: every rendition of the channel (for the rendition-report rules). */
  constructor(
    readonly rendition: string,
    private readonly renditions: readonly string[],
  ) {}

  /** The LL-HLS rules (test/helpers/hls/llhls-rules.ts) on every new version of the playlist. */
  observeText(text: string): void {
    if (text === this.latestText) return;
    this.latestText = text;
    const others = this.renditions.filter((r) => r !== this.rendition);
    for (const v of [...checkMediaPlaylist(text, { otherRenditions: others }), ...this.history.check(text)]) {
      if (!this.violations.includes(v) && this.violations.length < 20) this.violations.push(v);
    }
    this.observe(playlistFacts(text));
  }

  observe(facts: PlaylistFacts): void {
    this.polls++;
    if (facts.mediaSequence < this.lastMediaSequence) this.violations.push(`media sequence went back ${this.lastMediaSequence} → ${facts.mediaSequence}`);
    if (facts.lastMsn < this.lastMsn) this.violations.push(`last msn went back ${this.lastMsn} → ${facts.lastMsn}`);
    this.lastMediaSequence = facts.mediaSequence;
    this.lastMsn = facts.lastMsn;
    let number = facts.discontinuitySequence;
    let previous = facts.mediaSequence - 1;
    let previousEnd = -Infinity;
    for (const s of facts.segments) {
      if (s.msn !== previous + 1) this.violations.push(`msn ${s.msn} follows ${previous}`);
      previous = s.msn;
      // Wall-clock time never goes backwards, across discontinuities too (1 ms: PDT is printed in ms).
      if (s.programDateTime < previousEnd - 1) this.violations.push(`PDT of ${s.msn} is ${previousEnd - s.programDateTime} ms before the end of ${s.msn - 1}`);
      previousEnd = s.programDateTime + 1000 * s.duration;
      if (s.discontinuity) {
        number++;
        this.discontinuityAt.add(s.msn);
      }
      const known = this.discontinuityNumber.get(s.msn);
      if (known === undefined) this.discontinuityNumber.set(s.msn, number);
      else if (known !== number) this.violations.push(`segment ${s.msn} moved from discontinuity ${known} to ${number}`);
      const map = this.mapOf.get(s.msn);
      if (map === undefined) this.mapOf.set(s.msn, s.mapUri);
      else if (map !== s.mapUri) this.violations.push(`segment ${s.msn} changed init ${map} → ${s.mapUri}`);
    }
  }
}

/**
 * Polls every watch's playlist (`fetchText(rendition)`: its text, or undefined when not served) every
 * `intervalMs` until the returned stop is called; stop resolves once the loop has ended.
 */
export function followPlaylists(
  watches: readonly PlaylistWatch[],
  fetchText: (rendition: string) => Promise<string | undefined>,
  intervalMs = 100,
): () => Promise<void> {
  let polling = true;
  const loop = (async () => {
    while (polling) {
      await Promise.all(
        watches.map(async (w) => {
          const text = await fetchText(w.rendition);
          if (text !== undefined) w.observeText(text);
        }),
      );
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return async () => {
    polling = false;
    await loop;
  };
}
