import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteCursor, childBoxes, fourccCode } from '../../../src/package/mp4-boxes.js';

/** Children of `payload` read with `ByteCursor.childHeader`, as [type, payload offset, size]; or the error message. */
function walk(payload: Uint8Array): Array<[string, number, number]> | string {
  const c = new ByteCursor(payload, 'test');
  const out: Array<[string, number, number]> = [];
  try {
    for (c.select(0, payload.byteLength, 'test'); c.remaining > 0; c.seek(c.childEnd)) {
      const at = c.position;
      const type = c.childHeader('test');
      out.push([Buffer.from([type >>> 24, (type >>> 16) & 255, (type >>> 8) & 255, type & 255]).toString('latin1'), c.position, c.childEnd - at]);
    }
  } catch (err) {
    return (err as Error).message;
  }
  return out;
}

function reference(payload: Uint8Array): Array<[string, number, number]> | string {
  try {
    return childBoxes(payload, 'test').map((b) => [b.type, b.payload.byteOffset - payload.byteOffset, b.size]);
  } catch (err) {
    return (err as Error).message;
  }
}

function box(type: string, size: number, body: number[] = []): number[] {
  return [size >>> 24, (size >>> 16) & 255, (size >>> 8) & 255, size & 255, ...Buffer.from(type, 'latin1'), ...body];
}

describe('ByteCursor.childHeader', () => {
  it('reads boxes, 64-bit sizes and a size-0 last box like childBoxes', () => {
    const payload = Uint8Array.from([
      ...box('mfhd', 12, [0, 0, 0, 0]),
      ...box('free', 1, [0, 0, 0, 0, 0, 0, 0, 20, 9, 9, 9, 9]),
      ...box('trun', 0, [1, 2, 3]),
    ]);
    expect(walk(payload)).toEqual([
      ['mfhd', 8, 12],
      ['free', 28, 20],
      ['trun', 40, 11],
    ]);
    expect(walk(payload)).toEqual(reference(payload));
  });

  it('property: the same boxes, or the same error, as childBoxes on any bytes', () => {
    const plausible = fc.constantFrom('mfhd', 'traf', 'tfhd', 'tfdt', 'trun', 'free', '\u0000bad');
    const boxArb = fc.tuple(plausible, fc.oneof(fc.constantFrom(0, 1, 7, 8), fc.nat(40)), fc.array(fc.nat(255), { maxLength: 24 }));
    fc.assert(
      fc.property(fc.array(boxArb, { maxLength: 5 }), fc.array(fc.nat(255), { maxLength: 6 }), (boxes, tail) => {
        const payload = Uint8Array.from([...boxes.flatMap(([type, size, body]) => box(type, size, body)), ...tail]);
        expect(walk(payload)).toEqual(reference(payload));
      }),
      { numRuns: 20_000 },
    );
  });

  it('names four-character codes as numbers', () => {
    expect(fourccCode('moof')).toBe(0x6d6f6f66);
    expect(fourccCode('trun')).toBe(0x7472756e);
  });
});
