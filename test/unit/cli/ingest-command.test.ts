import { describe, expect, it } from 'vitest';
import { parseIngestOptions } from '../../../src/cli/ingest-command.js';

describe('parseIngestOptions', () => {
  it('defaults to RTMP on loopback:1935 in open mode', () => {
    expect(parseIngestOptions({})).toEqual({ host: '127.0.0.1', publicHost: '127.0.0.1', rtmpPort: 1935, channels: [], recordDir: undefined });
  });

  it('collects channels, keys and SRT listeners', () => {
    const config = parseIngestOptions({
      host: '0.0.0.0',
      publicHost: 'ingest.example.com',
      rtmpPort: '1936',
      channel: ['news:K1', 'open'],
      srt: ['news:9000:passphrase-1', 'field:9001:pass:with:colons'],
      srtLatency: '200',
      record: '/tmp/rec',
    });
    expect(config).toEqual({
      host: '0.0.0.0',
      publicHost: 'ingest.example.com',
      rtmpPort: 1936,
      recordDir: '/tmp/rec',
      channels: [
        { id: 'news', key: 'K1', srt: { port: 9000, passphrase: 'passphrase-1', latencyMs: 200 } },
        { id: 'open' },
        { id: 'field', srt: { port: 9001, passphrase: 'pass:with:colons', latencyMs: 200 } },
      ],
    });
  });

  it('can disable RTMP', () => {
    expect(parseIngestOptions({ rtmp: false }).rtmpPort).toBe(false);
  });

  it.each([
    [{ channel: ['bad/id:K'] }, 'not a valid channel id'],
    [{ channel: ['news:'] }, 'empty key'],
    [{ channel: ['news:a', 'news:b'] }, 'given twice'],
    [{ srt: ['news:9000'] }, 'CHANNEL:PORT:PASSPHRASE'],
    [{ srt: ['news:9000:p1234567890', 'news:9001:p1234567890'] }, 'given twice'],
    [{ rtmpPort: '70000' }, '--rtmp-port'],
    [{ rtmpPort: 'x' }, '--rtmp-port'],
    [{ srtLatency: '-5' }, '--srt-latency'],
  ])('refuses %j', (raw, message) => {
    expect(() => parseIngestOptions(raw)).toThrow(message);
  });

  it('does not echo an SRT passphrase in its error', () => {
    expect(() => parseIngestOptions({ srt: ['bad id:9000:supersecret'] })).toThrow();
    try {
      parseIngestOptions({ srt: ['news:port:supersecret'] });
    } catch (err) {
      expect(String(err)).not.toContain('supersecret');
    }
  });
});
