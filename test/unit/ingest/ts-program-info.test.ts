import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { TsProgramScanner, classifyTsStream } from '../../../src/ingest/ts-program-info.js';

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
    expect(scanner.streams).toEqual({
      video: { codec: 'h264', pid: 0x100 },
      audio: { codec: 'aac', pid: 0x101 },
      all: [
        { pid: 0x100, streamType: 0x1b, kind: 'video', codec: 'h264' },
        { pid: 0x101, streamType: 0x0f, kind: 'audio', codec: 'aac' },
      ],
    });
  });

  it('lists a private data stream as data (an ffmpeg-written TS of raw bytes)', () => {
    const r = spawnSync('ffmpeg', ['-hide_banner', '-v', 'error', '-f', 'data', '-i', 'pipe:0', '-map', '0', '-c', 'copy', '-f', 'mpegts', 'pipe:1'], {
      input: Buffer.alloc(4000, 7),
      maxBuffer: 10 * 1024 * 1024,
    });
    expect(r.status).toBe(0);
    const scanner = new TsProgramScanner();
    scanner.push(r.stdout.subarray(0, r.stdout.length - (r.stdout.length % 188)));
    expect(scanner.streams?.all).toEqual([{ pid: 0x100, streamType: 0x06, kind: 'data', codec: 'private data' }]);
    expect(scanner.streams?.video).toBeUndefined();
  });

  it.each([
    // stream_type, ES_info descriptors → kind, codec
    [0x06, [0x05, 4, ...Buffer.from('HEVC')], 'video', 'hevc'],
    [0x06, [0x05, 4, ...Buffer.from('AV01')], 'video', 'av1'],
    [0x06, [0x05, 4, ...Buffer.from('Opus')], 'audio', 'opus'],
    [0x06, [0x05, 4, ...Buffer.from('KLVA')], 'data', 'klv'],
    [0x06, [0x05, 4, ...Buffer.from('ZZZZ')], 'unknown', 'private data'],
    [0x06, [0x6a, 1, 0], 'audio', 'ac3'], // DVB AC-3 descriptor
    [0x06, [0x59, 8, 0, 0, 0, 0, 0, 0, 0, 0], 'data', 'private data'], // DVB subtitling
    [0x06, [], 'data', 'private data'],
    [0x86, [], 'data', 'scte-35'],
    [0x24, [], 'video', 'hevc'],
    [0xea, [], 'video', 'vc1'],
    [0x99, [], 'unknown', undefined],
  ])('classifies stream_type %i with descriptors %o as %s %s', (type, descriptors, kind, codec) => {
    const s = classifyTsStream(type, 0x100, Buffer.from(descriptors));
    expect(s.kind).toBe(kind);
    expect(s.codec).toBe(codec);
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
