import { createHash } from 'node:crypto';
import type { MediaPlaylist } from '../hls/playlist-model.js';
import { cacheControlFor } from './cache-control-policy.js';
import { compress } from './content-coding.js';
import type { ContentCoding } from './http-negotiation.js';
import type { EncodedBody } from './media-cache.js';
import type { PlaylistSnapshot, RenderPlaylist, SkipMode } from './origin-source.js';
import { playlistHead } from './response-headers.js';

/** A rendered playlist in one skip mode and content coding. */
export interface RenderedPlaylist extends EncodedBody {
  /** When the identity body was rendered, as an HTTP date. */
  readonly lastModified: string;
  readonly coding: ContentCoding;
}

/**
 * Everything sent for one playlist snapshot, made on first use and shared by every later response:
 * a wake-up of 1,000 held requests renders (and compresses) each variant once and then only writes
 * the same Buffer with the same header list 1,000 times.
 */
export interface PlaylistRenders {
  /** Bodies by variant: `skipIndex * 3 + codingIndex` (see `variantOf`). */
  readonly bodies: (RenderedPlaylist | undefined)[];
  /** Complete 200 header lists (CORS `*`) by `variant * 2 + (blocking ? 1 : 0)`. */
  readonly heads: (string[] | undefined)[];
}

const CODING_INDEX: Readonly<Record<ContentCoding, number>> = { identity: 0, gzip: 1, br: 2 };

/** Index of a (skip mode, coding) variant in `PlaylistRenders.bodies`: 0–8. */
export function variantOf(skip: SkipMode | undefined, coding: ContentCoding): number {
  return (skip === undefined ? 0 : skip === 'YES' ? 3 : 6) + CODING_INDEX[coding];
}

/**
 * Renderings of media playlists per snapshot. Sources hand out one snapshot object per version, so a
 * superseded version's renderings go with its snapshot (garbage-collected) and nothing is keyed
 * by strings or reordered on the release path. Not bounded by the media cache's budget: a
 * rendering lives as long as its playlist version is current.
 */
export class PlaylistRenderCache {
  private readonly renders = new WeakMap<PlaylistSnapshot, PlaylistRenders>();

  constructor(private readonly renderPlaylist: RenderPlaylist) {}

  /** The renderings of `snapshot` (empty at first). */
  of(snapshot: PlaylistSnapshot): PlaylistRenders {
    let renders = this.renders.get(snapshot);
    if (renders === undefined) {
      renders = { bodies: [], heads: [] };
      this.renders.set(snapshot, renders);
    }
    return renders;
  }

  /**
   * The body of `variant` (`variantOf(skip, coding)`, which the caller has at hand), rendered (the
   * identity body once per skip mode) and compressed on first use. Throws what the serializer throws.
   */
  body(renders: PlaylistRenders, variant: number, model: MediaPlaylist, skip: SkipMode | undefined, coding: ContentCoding): RenderedPlaylist {
    return renders.bodies[variant] ?? this.render(renders, model, skip, coding);
  }

  /** The complete 200 header list (CORS `*`) of a rendered variant, built on first use. */
  head(renders: PlaylistRenders, variant: number, rendered: RenderedPlaylist, blocking: boolean, targetDuration: number): string[] {
    const slot = variant * 2 + (blocking ? 1 : 0);
    let head = renders.heads[slot];
    if (head === undefined) {
      head = playlistHead(rendered, cacheControlFor(blocking ? 'blocking-playlist' : 'playlist', true, targetDuration), rendered.coding);
      renders.heads[slot] = head;
    }
    return head;
  }

  private render(renders: PlaylistRenders, model: MediaPlaylist, skip: SkipMode | undefined, coding: ContentCoding): RenderedPlaylist {
    const plainVariant = variantOf(skip, 'identity');
    let plain = renders.bodies[plainVariant];
    if (plain === undefined) {
      const body = Buffer.from(this.renderPlaylist(model, skip === undefined ? {} : { skip }), 'utf8');
      const etag = `"${createHash('sha1').update(body).digest('base64url').slice(0, 22)}"`;
      plain = { size: body.length, body, etag, lastModified: new Date().toUTCString(), coding: 'identity' };
      renders.bodies[plainVariant] = plain;
    }
    if (coding === 'identity') return plain;
    const body = compress(plain.body, coding);
    const result: RenderedPlaylist = { size: body.length, body, etag: `${plain.etag.slice(0, -1)}-${coding}"`, lastModified: plain.lastModified, coding };
    renders.bodies[variantOf(skip, coding)] = result;
    return result;
  }
}
