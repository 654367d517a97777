import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MediaBuffer } from '../../../src/package/media-buffer.js';

describe('MediaBuffer', () => {
  it('hands out views of what was appended, unchanged by later appends, growth and resets', () => {
    const media = new MediaBuffer(4);
    media.append(Uint8Array.from([1, 2, 3]));
    const first = media.view(0);
    media.append(Uint8Array.from([4, 5, 6, 7, 8])); // grows past the 4-byte buffer
    const second = media.view(3);
    const whole = media.view(0);
    media.reset(2);
    media.append(Uint8Array.from([9, 9, 9, 9, 9, 9]));
    expect(Array.from(first)).toEqual([1, 2, 3]);
    expect(Array.from(second)).toEqual([4, 5, 6, 7, 8]);
    expect(Array.from(whole)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(Array.from(media.view(0))).toEqual([9, 9, 9, 9, 9, 9]);
    expect(media.length).toBe(6);
  });

  it('refuses a view outside the bytes held', () => {
    const media = new MediaBuffer();
    media.append(new Uint8Array(10));
    expect(() => media.view(5, 11)).toThrow(RangeError);
    expect(() => media.view(6, 5)).toThrow(RangeError);
    expect(() => media.view(-1)).toThrow(RangeError);
    expect(media.view(10).byteLength).toBe(0);
  });

  it('property: every view equals the bytes appended in its range, whatever the sizes', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ maxLength: 300 }) }),
      fc.record({ kind: fc.constant('view' as const), back: fc.nat(400) }),
      fc.record({ kind: fc.constant('reset' as const), expected: fc.nat(1000) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.array(op, { maxLength: 60 }), (min, ops) => {
        const media = new MediaBuffer(min);
        let model: number[] = [];
        const taken: Array<{ view: Uint8Array; expected: number[] }> = [];
        for (const o of ops) {
          if (o.kind === 'append') {
            media.append(o.bytes);
            model = model.concat(Array.from(o.bytes));
          } else if (o.kind === 'view') {
            const from = Math.max(0, model.length - o.back);
            taken.push({ view: media.view(from), expected: model.slice(from) });
          } else {
            media.reset(o.expected);
            model = [];
          }
          expect(media.length).toBe(model.length);
        }
        for (const t of taken) expect(Array.from(t.view)).toEqual(t.expected);
      }),
    );
  });
});
