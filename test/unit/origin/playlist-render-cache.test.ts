import { describe, expect, it } from 'vitest';
import type { MediaPlaylist } from '../../../src/hls/playlist-model.js';
import { serializeMediaPlaylist } from '../../../src/hls/playlist-serializer.js';
import type { PlaylistSnapshot, SkipMode } from '../../../src/origin/origin-source.js';
import { PlaylistRenderCache, variantOf } from '../../../src/origin/playlist-render-cache.js';
import { liveModel } from '../../helpers/origin/playlists.js';

describe('variantOf', () => {
  it.each([
    [undefined, 'identity', 0],
    [undefined, 'gzip', 1],
    [undefined, 'br', 2],
    ['YES', 'identity', 3],
    ['YES', 'gzip', 4],
    ['YES', 'br', 5],
    ['v2', 'identity', 6],
    ['v2', 'gzip', 7],
    ['v2', 'br', 8],
  ] as const)('skip %j, %s → %i', (skip, coding, variant) => expect(variantOf(skip, coding)).toBe(variant));
});

describe('PlaylistRenderCache', () => {
  function setup() {
    const calls: (SkipMode | undefined)[] = [];
    const cache = new PlaylistRenderCache((model: MediaPlaylist, options: { skip?: SkipMode }) => {
      calls.push(options.skip);
      return serializeMediaPlaylist(model, options);
    });
    const snapshot: PlaylistSnapshot = { model: liveModel({ segments: 8 }), version: 1 };
    return { cache, calls, snapshot };
  }

  it('renders the identity body once per skip mode and derives the coded variants from it', () => {
    const { cache, calls, snapshot } = setup();
    const renders = cache.of(snapshot);
    expect(cache.of(snapshot)).toBe(renders);
    const br = cache.body(renders, variantOf(undefined, 'br'), snapshot.model, undefined, 'br');
    const plain = cache.body(renders, variantOf(undefined, 'identity'), snapshot.model, undefined, 'identity');
    const gzip = cache.body(renders, variantOf(undefined, 'gzip'), snapshot.model, undefined, 'gzip');
    expect(calls).toEqual([undefined]);
    expect(cache.body(renders, variantOf(undefined, 'br'), snapshot.model, undefined, 'br')).toBe(br);
    expect(br.etag).toBe(`${plain.etag.slice(0, -1)}-br"`);
    expect(gzip.etag).toBe(`${plain.etag.slice(0, -1)}-gzip"`);
    expect([br.lastModified, gzip.lastModified]).toEqual([plain.lastModified, plain.lastModified]);
    expect(plain.body.toString('utf8')).toBe(serializeMediaPlaylist(snapshot.model, {}));
    const delta = cache.body(renders, variantOf('YES', 'identity'), snapshot.model, 'YES', 'identity');
    expect(calls).toEqual([undefined, 'YES']);
    expect(delta.etag).not.toBe(plain.etag);
  });

  it('keeps one header list per variant and blocking flag', () => {
    const { cache, snapshot } = setup();
    const renders = cache.of(snapshot);
    const variant = variantOf(undefined, 'gzip');
    const rendered = cache.body(renders, variant, snapshot.model, undefined, 'gzip');
    const blocking = cache.head(renders, variant, rendered, true, 2);
    const plain = cache.head(renders, variant, rendered, false, 2);
    expect(cache.head(renders, variant, rendered, true, 2)).toBe(blocking);
    expect(blocking).not.toBe(plain);
    expect(blocking).toContain('public, max-age=12'); // 6 × TD
    expect(plain).toContain('public, max-age=1'); // 0.5 × TD
    expect(blocking.slice(-2)).toEqual(['Content-Encoding', 'gzip']);
  });

  it('a new snapshot (a new version) starts empty', () => {
    const { cache, calls, snapshot } = setup();
    cache.body(cache.of(snapshot), 0, snapshot.model, undefined, 'identity');
    const next: PlaylistSnapshot = { model: snapshot.model, version: 2 };
    expect(cache.of(next).bodies).toEqual([]);
    cache.body(cache.of(next), 0, next.model, undefined, 'identity');
    expect(calls).toHaveLength(2);
  });
});
