import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assertSafeKey } from '../../../src/storage/object-storage.js';
import { checkRequestPath } from '../../../src/origin/request-path.js';

describe('checkRequestPath', () => {
  it.each([
    ['/live/news/master.m3u8', 'multivariant', 'live/news/master.m3u8'],
    ['/live/news/v0/playlist.m3u8', 'media-playlist', 'live/news/v0/playlist.m3u8'],
    ['/live/news/v0/init-3.mp4', 'init', 'live/news/v0/init-3.mp4'],
    ['/live/news/v0/part-12-3.m4s', 'part', 'live/news/v0/part-12-3.m4s'],
    ['/live/news/audio/seg-7.m4s', 'segment', 'live/news/audio/seg-7.m4s'],
    ['/live/news/v0/captions.vtt', 'media', 'live/news/v0/captions.vtt'],
  ])('%s is a %s at %s', (path, kind, key) => {
    const r = checkRequestPath(path);
    expect(r).toMatchObject({ ok: true, resource: { kind, key } });
  });

  it('parses msn and part index', () => {
    expect(checkRequestPath('/live/a/v1/part-40-2.m4s')).toMatchObject({ ok: true, resource: { msn: 40, partIndex: 2, playlistPath: 'v1/playlist.m3u8', path: 'v1/part-40-2.m4s' } });
    expect(checkRequestPath('/live/a/v1/seg-41.m4s')).toMatchObject({ ok: true, resource: { msn: 41, channel: 'a' } });
  });

  // Traversal attempts in every encoding: refused before any decoding, never a key.
  it.each([
    ['/live/news/../secret', 400],
    ['/live/news/v0/../../etc/passwd', 400],
    ['/live/../../etc/passwd', 400],
    ['/live/news/%2e%2e/%2e%2e/etc/passwd', 400],
    ['/live/news/%252e%252e/x.m4s', 400],
    ['/live/news/..%2f..%2fetc/passwd', 400],
    ['/live/news/v0%2fseg-1.m4s', 400],
    ['/live/news/v0%5cseg-1.m4s', 400],
    ['/live/news\\..\\..\\etc\\passwd', 400],
    ['/live/news/v0/seg-1.m4s\0.txt', 400],
    ['/live/news/v0/seg-1.m4s%00', 400],
    ['/live/news/./v0/seg-1.m4s', 400],
    ['/live/news/v0/.hidden.m4s', 400],
    ['/live//news/v0/seg-1.m4s', 400],
    ['//etc/passwd', 400],
    ['/live/news/v0/%c0%ae%c0%ae/x', 400],
    ['/live/news/v0/\u2025/x', 400],
    ['live/news/master.m3u8', 400],
    ['http://evil/live/news/master.m3u8', 400],
    ['/etc/passwd', 404],
    ['/', 404],
    ['/live/', 404],
    ['/live/news/', 404],
    ['/live/news/v0/', 404],
    ['/live/news/secret.json', 404],
    ['/live/news/v0/seg-1.json', 404],
    ['/live/-bad/master.m3u8', 404],
    ['/live/news/v0/deeper/seg-1.m4s', 404],
    [`/live/news/v0/${'a'.repeat(600)}.m4s`, 400],
  ])('refuses %j with %i', (path, status) => {
    const r = checkRequestPath(path);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.status).toBe(status);
  });

  it('accepted paths always map to a safe key under live/{channel}/', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), fc.string({ unit: fc.constantFrom('/', '.', '%', 'a', '2', 'e', 'f', '\\', '-', 'v', 'l', 'i'), maxLength: 40 }), (junk, dots) => {
        for (const path of [`/live/${junk}`, `/live/ch/${dots}`, `/${dots}${junk}`]) {
          const r = checkRequestPath(path);
          if (r.ok) {
            expect(() => assertSafeKey(r.resource.key)).not.toThrow();
            expect(r.resource.key.startsWith(`live/${r.resource.channel}/`)).toBe(true);
            expect(r.resource.key.split('/')).not.toContain('..');
          }
        }
      }),
    );
  });
});
