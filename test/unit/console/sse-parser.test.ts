import { describe, expect, it } from 'vitest';
import { SseParser } from '../../../console/src/sse-parser.js';

describe('SseParser (the console reads GET /api/v1/events with it)', () => {
  it('joins data lines, names the event, strips one leading space and keeps the last id', () => {
    const parser = new SseParser();
    expect(parser.push('id: 1\nevent: stats\ndata:  two spaces\ndata:x\n\ndata: plain\n\n')).toEqual([
      { event: 'stats', data: ' two spaces\nx', id: '1' },
      { event: 'message', data: 'plain', id: '1' },
    ]);
  });

  it('takes CRLF, LF and CR line ends, even a CRLF split between chunks', () => {
    const parser = new SseParser();
    expect(parser.push('data: a\r')).toEqual([]);
    expect(parser.push('\n\r\ndata: b\r\rdata: c\n\n')).toEqual([
      { event: 'message', data: 'a' },
      { event: 'message', data: 'b' },
      { event: 'message', data: 'c' },
    ]);
  });

  it('skips comments, unknown fields and messages without data; reads retry', () => {
    const parser = new SseParser();
    expect(parser.push(': heartbeat\nretry: 2500\nevent: nothing\n\nfoo: bar\ndata\n\n')).toEqual([{ event: 'message', data: '' }]);
    expect(parser.retryMs).toBe(2500);
    parser.push('retry: soon\n\n');
    expect(parser.retryMs).toBe(2500);
  });

  it('holds an unfinished message until its blank line arrives', () => {
    const parser = new SseParser();
    expect(parser.push('event: channel:state\nda')).toEqual([]);
    expect(parser.push('ta: {"x":1}\n')).toEqual([]);
    expect(parser.push('\n')).toEqual([{ event: 'channel:state', data: '{"x":1}' }]);
  });
});
