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
  /**
   * Init segment (EXT-X-MAP URI) → when (`performance.now()`) a part under it was first seen: a new
   * run's (a takeover's) first part listed.
   */
  readonly firstPartAt = new Map<string, number>();
  /** Every object URI (map, part, segment) the playlist named, in the order first seen. */
  readonly namedUris: string[] = [];
  private readonly named = new Set<string>();
  polls = 0;
  latestText = '';
  /** The first version that broke a rule, and the version seen before it (to show what went wrong). */
  firstViolationText: string | undefined;
  textBeforeFirstViolation: string | undefined;
  private previousText = '';
  private readonly history = new PlaylistHistoryChecker();

  /** `renditions`: every rendition of the channel (for the rendition-report rules). */
  constructor(
    readonly rendition: string,
    private readonly renditions: readonly string[],
  ) {}

  /** The LL-HLS rules (test/helpers/hls/llhls-rules.ts) on every new version of the playlist. */
  observeText(text: string): void {
    if (text === this.latestText) return;
    this.previousText = this.latestText;
    this.latestText = text;
    const known = this.violations.length;
    const others = this.renditions.filter((r) => r !== this.rendition);
    for (const v of [...checkMediaPlaylist(text, { otherRenditions: others }), ...this.history.check(text)]) {
      if (!this.violations.includes(v) && this.violations.length < 20) this.violations.push(v);
    }
    this.noteObjects(text);
    this.observe(playlistFacts(text));
    if (this.violations.length > known && this.firstViolationText === undefined) {
      this.firstViolationText = text;
      this.textBeforeFirstViolation = this.previousText;
    }
  }

  /** Records the object URIs `text` names, and the first part seen under each init segment. */
  private noteObjects(text: string): void {
    const now = performance.now();
    let map = '';
    let gap = false;
    const name = (uri: string | undefined): void => {
      if (uri === undefined || uri === '' || this.named.has(uri)) return;
      this.named.add(uri);
      this.namedUris.push(uri);
    };
    for (const line of text.split('\n')) {
      if (line.startsWith('#EXT-X-MAP:')) {
        map = /URI="([^"]+)"/.exec(line)?.[1] ?? '';
        name(map);
      } else if (line.startsWith('#EXT-X-PART:')) {
        if (!this.firstPartAt.has(map)) this.firstPartAt.set(map, now);
        if (!line.includes('GAP=YES')) name(/URI="([^"]+)"/.exec(line)?.[1]);
      } else if (line === '#EXT-X-GAP') {
        gap = true;
      } else if (line !== '' && !line.startsWith('#')) {
        // A gap segment names no object storage must hold.
        if (!gap) name(line.trim());
        gap = false;
      }
    }
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
