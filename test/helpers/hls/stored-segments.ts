import { checkMediaPlaylist } from './llhls-rules.js';

export interface StoredSegmentsWatch {
  /** The init segment and every media segment listed so far, by URI, in the order they were listed. */
  segments: Map<string, Buffer>;
  /** LL-HLS rule violations found on any read, and listed objects the origin did not serve. */
  violations: string[];
  /** Media segments fetched so far (the init segment not counted). */
  mediaCount(): number;
  /** Stops following and waits for the read in flight. */
  stop(): Promise<void>;
}

/**
 * Follows one media playlist over HTTP and fetches its init segment and every segment it lists as
 * they appear (they leave storage soon after they leave the playlist), checking each read against the
 * LL-HLS rules; a listed object the origin does not serve is a violation. `onRead` runs after each
 * read (a test's own probe on the same beat).
 */
export function watchStoredSegments(playlistUrl: string, options: { intervalMs?: number; onRead?: () => Promise<void> } = {}): StoredSegmentsWatch {
  const segments = new Map<string, Buffer>();
  const violations: string[] = [];
  /** Listed objects the origin did not serve (reported once). */
  const unserved = new Set<string>();
  let running = true;
  const loop = (async () => {
    while (running) {
      const res = await fetch(playlistUrl).catch(() => undefined);
      if (res?.status === 200) {
        const text = await res.text();
        violations.push(...checkMediaPlaylist(text));
        const map = /#EXT-X-MAP:URI="([^"]+)"/.exec(text)?.[1];
        for (const uri of [...(map !== undefined ? [map] : []), ...text.split('\n').filter((l) => l.length > 0 && !l.startsWith('#'))]) {
          if (segments.has(uri) || unserved.has(uri)) continue;
          const answer = await fetch(new URL(uri, playlistUrl));
          // Fetched when first listed, so it must be there (§6.2.2: media stays downloadable after
          // it leaves the playlist): one missing would otherwise just drop out of every later check.
          if (answer.ok) segments.set(uri, Buffer.from(await answer.arrayBuffer()));
          else {
            unserved.add(uri);
            violations.push(`${uri}: listed, but answered ${answer.status}`);
          }
        }
      }
      await options.onRead?.();
      await new Promise((r) => setTimeout(r, options.intervalMs ?? 100));
    }
  })();
  return {
    segments,
    violations,
    mediaCount: () => Math.max(0, segments.size - 1),
    stop: async () => {
      running = false;
      await loop;
    },
  };
}
