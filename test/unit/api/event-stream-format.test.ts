import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatServerSentEvent } from '../../../src/api/event-stream.js';
import { SseParser } from '../../../console/src/sse-parser.js';

describe('formatServerSentEvent', () => {
  it.each([
    [{ event: 'stats', data: '{"a":1}', id: '7' }, 'id: 7\nevent: stats\ndata: {"a":1}\n\n'],
    [{ data: 'one\ntwo\r\nthree' }, 'data: one\ndata: two\ndata: three\n\n'],
    [{ comment: 'hello\nthere', retry: 2000 }, ': hello there\nretry: 2000\n\n'],
    [{ event: 'a\nb', id: 'x\ry', data: '' }, 'id: xy\nevent: ab\ndata: \n\n'],
  ])('%j → %j', (message, text) => {
    expect(formatServerSentEvent(message)).toBe(text);
  });

  it('round-trips through the console parser, however the bytes are split', () => {
    const field = fc.string({ unit: fc.constantFrom('a', 'b', ':', ' ', '\n', '\r', 'é', '{', '"') });
    fc.assert(
      fc.property(
        fc.array(fc.record({ event: fc.stringMatching(/^[a-z:-]{1,12}$/), data: field, id: fc.stringMatching(/^[0-9]{1,4}$/) }), { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (messages, cuts) => {
          const text = messages.map((m) => formatServerSentEvent(m)).join('');
          const parser = new SseParser();
          const parsed = [];
          let at = 0;
          for (const cut of [...cuts.map((c) => c % (text.length + 1))].sort((a, b) => a - b)) {
            parsed.push(...parser.push(text.slice(at, cut)));
            at = cut;
          }
          parsed.push(...parser.push(text.slice(at)));
          // Line breaks of any kind come back as \n (the format joins data lines with \n).
          expect(parsed).toEqual(messages.map((m) => ({ event: m.event, id: m.id, data: m.data.replace(/\r\n|\r/g, '\n') })));
        },
      ),
    );
  });
});
