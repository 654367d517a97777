import { describe, expect, it } from 'vitest';
import { edgeLagOfWindow, playerGroups, sourceSpec } from '../../../bench/latency-matrix.js';

describe('latency bench scheduling and realtime flag', () => {
  it('gives every player its own stream at concurrency 1, and shares one stream from 2 up', () => {
    expect(playerGroups(['hls.js', 'shaka'], 1)).toEqual([['hls.js'], ['shaka']]);
    expect(playerGroups(['hls.js', 'shaka'], 2)).toEqual([['hls.js', 'shaka']]);
    expect(playerGroups(['hls.js', 'shaka'], 4)).toEqual([['hls.js', 'shaka']]);
  });

  it('maps source names to ingest and ladder', () => {
    expect(sourceSpec('rtmp')).toEqual({ kind: 'livepipe', ingest: 'rtmp', ladder: 'low-latency' });
    expect(sourceSpec('rtmp-muxed')).toEqual({ kind: 'livepipe', ingest: 'rtmp', ladder: 'low-latency-muxed' });
    expect(sourceSpec('srt@ll-muxed-gop02')).toEqual({ kind: 'livepipe', ingest: 'srt', ladder: 'll-muxed-gop02' });
    expect(sourceSpec('srt-frame-pes')).toEqual({ kind: 'livepipe', ingest: 'srt', ladder: 'low-latency', publisherOptions: ['-pes_payload_size', '0'] });
    expect(sourceSpec('srt-frame-pes@ll-gop02')).toEqual({ kind: 'livepipe', ingest: 'srt', ladder: 'll-gop02', publisherOptions: ['-pes_payload_size', '0'] });
    expect(sourceSpec('rtmp')).toEqual({ kind: 'livepipe', ingest: 'rtmp', ladder: 'low-latency' });
    expect(sourceSpec('ffmpeg-hls')).toEqual({ kind: 'ffmpeg-hls' });
    expect(() => sourceSpec('hls@x y')).toThrow(/unknown latency source/);
  });

  it('flags a window whose edge lag climbs past the step plus slack, and only samples inside it count', () => {
    const window = { from: 1000, to: 5000 };
    const keepingUp = [0, 0.05, 0.1, 0.02, 0.08].map((lag, i) => ({ at: 1000 + i * 1000, lag }));
    expect(edgeLagOfWindow(keepingUp, window, 0.1, 0.5)).toEqual({ median: 0.05, max: 0.1, realtime: true });
    const fallingBehind = [0.1, 0.4, 0.7, 1.0].map((lag, i) => ({ at: 1500 + i * 1000, lag }));
    expect(edgeLagOfWindow(fallingBehind, window, 0.1, 0.5)).toMatchObject({ max: 1, realtime: false });
    // A late spike outside the window does not flag it; no sample inside means not shown to keep up.
    expect(edgeLagOfWindow([...keepingUp, { at: 9000, lag: 5 }], window, 0.1, 0.5).realtime).toBe(true);
    expect(edgeLagOfWindow(keepingUp, { from: 20_000, to: 30_000 }, 0.1, 0.5)).toMatchObject({ realtime: false });
    // ffmpeg's 1 s segments saw-tooth up to a second behind while keeping up.
    expect(edgeLagOfWindow([0.2, 0.9, 1.3].map((lag, i) => ({ at: 2000 + i * 500, lag })), window, 1, 0.5).realtime).toBe(true);
  });
});
