import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { TsProgramScanner } from '../../../src/ingest/ts-program-info.js';

describe('TsProgramScanner', () => {
  it('names the codecs of a stream written by ffmpeg', () => {
    // A tiny real MPEG-TS (0.2 s of H.264 + AAC) so the PSI layout is ffmpeg's, not ours.
    const r = spawnSync('ffmpeg', [
      '-hide_banner', '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=64x36:rate=10', '-f', 'lavfi', '-i', 'sine',
      '-t', '0.2', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-f', 'mpegts', 'pipe:1',
    ], { maxBuffer: 10 * 1024 * 1024 });
    expect(r.status).toBe(0);
    const scanner = new TsProgramScanner();
    scanner.push(r.stdout.subarray(0, r.stdout.length - (r.stdout.length % 188)));
    expect(scanner.streams).toEqual({ video: { codec: 'h264', pid: 0x100 }, audio: { codec: 'aac', pid: 0x101 } });
  });

  it('never throws on arbitrary packets', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 188, maxLength: 188 * 4 }), (bytes) => {
        const b = Buffer.from(bytes.subarray(0, bytes.length - (bytes.length % 188)));
        for (let i = 0; i < b.length; i += 188) b[i] = 0x47;
        new TsProgramScanner().push(b);
      }),
      { numRuns: 300 },
    );
  });
});
