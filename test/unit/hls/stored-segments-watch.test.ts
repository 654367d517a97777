/**
 * The e2e tests' segment follower (`watchStoredSegments`) against a plain HTTP server: it keeps what
 * it fetched, and a listed object the server does not serve is a violation, not a silent gap in the
 * checks that read `segments` afterwards.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { watchStoredSegments } from '../../helpers/hls/stored-segments.js';

const PLAYLIST = ['#EXTM3U', '#EXT-X-VERSION:9', '#EXT-X-TARGETDURATION:2', '#EXT-X-MEDIA-SEQUENCE:0', '#EXT-X-MAP:URI="init-1.mp4"', '#EXTINF:2.0,', 'seg-0.m4s', '#EXTINF:2.0,', 'seg-1.m4s', ''].join('\n');
const SERVED = new Map([
  ['/live/playlist.m3u8', PLAYLIST],
  ['/live/init-1.mp4', 'init'],
  ['/live/seg-0.m4s', 'media 0'],
]);

let server: Server | undefined;

afterEach(async () => {
  await new Promise((r) => server?.close(r));
  server = undefined;
});

describe('watchStoredSegments', () => {
  it('keeps every listed object it fetched, and reports one listed but not served (once)', async () => {
    server = createServer((req, res) => {
      const body = SERVED.get(req.url ?? '');
      res.writeHead(body === undefined ? 404 : 200).end(body);
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    let reads = 0;
    const watch = watchStoredSegments(`http://127.0.0.1:${(server.address() as AddressInfo).port}/live/playlist.m3u8`, {
      intervalMs: 10,
      onRead: async () => void (reads += 1),
    });
    while (reads < 3) await new Promise((r) => setTimeout(r, 10));
    await watch.stop();
    expect([...watch.segments.keys()]).toEqual(['init-1.mp4', 'seg-0.m4s']);
    expect(watch.mediaCount()).toBe(1);
    expect(watch.violations.filter((v) => v.includes('seg-'))).toEqual(['seg-1.m4s: listed, but answered 404']);
  });
});
