import { describe, expect, it } from 'vitest';
import {
  classifySrtListenerExit,
  classifySrtStderr,
  inputStartSeconds,
  redactSrtLine,
  srtListenerArgs,
  srtPublisherUrl,
  srtPublisherUrlTemplate,
  validateSrtSettings,
} from '../../../src/ingest/srt-ingest.js';
import { RateMeter } from '../../../src/ingest/ingest-feed.js';

describe('SRT listener settings', () => {
  it('builds listener arguments with latency in microseconds and the passphrase as an option', () => {
    const args = srtListenerArgs('127.0.0.1', { port: 9001, passphrase: 'p&ss w?rd=1', latencyMs: 200 }, 16);
    expect(args).toContain('srt://127.0.0.1:9001');
    expect(args[args.indexOf('-latency') + 1]).toBe('200000');
    expect(args[args.indexOf('-passphrase') + 1]).toBe('p&ss w?rd=1');
    expect(args[args.indexOf('-mode') + 1]).toBe('listener');
    expect(args.slice(-1)).toEqual(['pipe:1']);
    expect(args[args.indexOf('-listen_timeout') + 1]).toBe('60000000');
    // HSv5 only: a legacy HSv4 caller got past the passphrase (issue 15: it held the listener).
    expect(args[args.indexOf('-minversion') + 1]).toBe(String(0x010300));
    expect(args.indexOf('-minversion')).toBeLessThan(args.indexOf('-i'));
    expect(args.join(' ')).toContain('-c copy -f mpegts');
    // No -copyts: the listener must correct MPEG-TS timestamp discontinuities (an encoder resetting its
    // clocks) — that outranks SCTE-35 splice timing (docs/on-air.md). An unnamed stream does not fail the publish.
    expect(args).not.toContain('-copyts');
    expect(args.join(' ')).toContain('-muxdelay 0');
    expect(args.indexOf('-ignore_unknown')).toBeLessThan(args.indexOf('-map'));
    // nobuffer would drop the publisher's first keyframe (read while probing): a GOP of waiting.
    expect(args.join(' ')).not.toContain('nobuffer');
    // Packets pass through as they arrive: no audio packing, no waiting to interleave (edge lag).
    expect(args[args.indexOf('-pes_payload_size') + 1]).toBe('0');
    expect(args[args.indexOf('-max_interleave_delta') + 1]).toBe('1');
    expect(args.indexOf('-pes_payload_size')).toBeGreaterThan(args.indexOf('-i'));
    expect(srtListenerArgs('::1', { port: 9001, passphrase: 'x'.repeat(10) }, 32)).toContain('srt://[::1]:9001');
  });

  it('computes the publisher URL with an escaped passphrase', () => {
    expect(srtPublisherUrl('ingest.example.com', 'news', { port: 9000, passphrase: 'abc def&12' })).toBe(
      'srt://ingest.example.com:9000?streamid=publish%3Anews&passphrase=abc+def%2612&pbkeylen=16',
    );
  });

  it('shows the URL with a placeholder for the passphrase, never the secret', () => {
    expect(srtPublisherUrlTemplate('ingest.example.com', 'news', 9000)).toBe('srt://ingest.example.com:9000?streamid=publish%3Anews&passphrase={passphrase}&pbkeylen=16');
    expect(srtPublisherUrlTemplate('::1', 'news', 9000, 32)).toBe('srt://[::1]:9000?streamid=publish%3Anews&passphrase={passphrase}&pbkeylen=32');
  });

  it.each([
    [{ port: 9000, passphrase: 'long-enough-1' }, 0],
    [{ port: 0, passphrase: 'long-enough-1' }, 1],
    [{ port: 9000, passphrase: 'short' }, 1],
    [{ port: 9000, passphrase: 'x'.repeat(80) }, 1],
    [{ port: 9000, passphrase: 'long-enough-1', latencyMs: -1 }, 1],
    [{ port: 70000, passphrase: 'short', latencyMs: 1.5 }, 3],
    [{ port: 9000, passphrase: 'long-enough-1', backupPort: 9001 }, 0],
    [{ port: 9000, passphrase: 'long-enough-1', backupPort: 9000 }, 1],
    [{ port: 9000, passphrase: 'long-enough-1', backupPort: 0 }, 1],
  ])('validates %j (%i problems)', (srt, problems) => {
    expect(validateSrtSettings('news', srt)).toHaveLength(problems);
  });

  it('redacts passphrases in ffmpeg output', () => {
    expect(redactSrtLine('srt://h:1?mode=listener&passphrase=topsecret12&x=1: error', 'topsecret12')).toBe('srt://h:1?mode=listener&passphrase=[redacted]&x=1: error');
    expect(redactSrtLine('key topsecret12 leaked', 'topsecret12')).toBe('key [redacted] leaked');
  });

  it.each([
    ['20:25:53.118815/SRT:RcvQ:w1!W:SRT.cn: processConnectRequest: rsp(REJECT): 1010 - Incorrect passphrase', 'wrong-passphrase'],
    ['KMREQ/rcv: (snd) Rx process failure - BADSECRET', 'wrong-passphrase'],
    ['processConnectRequest: rsp(REJECT): 1011 - Password required or unexpected', 'missing-passphrase'],
    ['processConnectRequest: rsp(REJECT): 1008 - Peer version too old', 'old-version'],
    ['interpretSrtHandshake: minimum peer version 1.3.0 (HSv5 only), rejecting HSv4 client', 'old-version'],
    ['srt://127.0.0.1:9000: Input/output error', 'other'],
    ['srt://127.0.0.1:9000: Connection timed out', 'listen-timeout'],
  ])('classifies %s', (line, kind) => {
    expect(classifySrtStderr(line)).toBe(kind);
  });

  it.each([
    ['  Duration: N/A, start: 1.400000, bitrate: N/A', 1.4],
    ['  Duration: N/A, start: 95443.717678, bitrate: N/A', 95443.717678],
    ['  Duration: 00:00:10.00, start: 0.000000, bitrate: 1205 kb/s', 0],
    ['Input #0, mpegts, from \'srt://127.0.0.1:9000\':', undefined],
    ['  Stream #0:0[0x100]: Video: h264 (High) ([27][0][0][0] / 0x001B), yuv420p, 640x360, 30 fps', undefined],
  ])('reads the input start time from %s', (line, seconds) => {
    expect(inputStartSeconds(line)).toBe(seconds);
  });

  it('lists at info level without progress lines, so the input dump (start time) is printed', () => {
    const args = srtListenerArgs('127.0.0.1', { port: 9001, passphrase: 'long-enough-1' }, 16);
    expect(args.slice(args.indexOf('-loglevel'), args.indexOf('-loglevel') + 2)).toEqual(['-loglevel', 'info']);
    expect(args).toContain('-nostats');
  });
});

describe('classifySrtListenerExit', () => {
  const run = { gotData: false, listenTimedOut: false, bindFailed: false, ranMs: 100, deliberate: false };
  it.each<[string, Partial<typeof run>, string]>([
    ['idle listener renewed by listen_timeout', { listenTimedOut: true, ranMs: 60_000 }, 'renewed'],
    ['carried a publisher', { gotData: true, ranMs: 30_000 }, 'ended'],
    ['stopped, kicked or refused a busy channel', { deliberate: true }, 'ended'],
    ['exits at once without a publisher (ffmpeg without libsrt…)', {}, 'failed'],
    ['cannot bind its port, however long it took', { bindFailed: true, ranMs: 5000 }, 'failed'],
    // Issue 15: a caller that got in and left before media (an HSv4 caller without passphrase held
    // it 5 s) is not a failure: backing off would lengthen its hold on the port.
    ['ran, then a caller left before media', { ranMs: 5200 }, 'caller-left'],
  ])('%s', (_name, overrides, expected) => {
    expect(classifySrtListenerExit({ ...run, ...overrides })).toBe(expected);
  });
});

describe('RateMeter', () => {
  it('averages complete seconds of the window', () => {
    let now = 10_000;
    const m = new RateMeter(5, () => now);
    m.add(1000);
    now += 1000;
    m.add(3000);
    now += 1000;
    expect(m.bitsPerSecond()).toBe(((1000 + 3000) * 8) / 2);
    expect(m.total).toBe(4000);
    now += 60_000;
    expect(m.bitsPerSecond()).toBe(0);
  });
});
