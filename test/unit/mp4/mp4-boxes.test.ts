import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteCursor, childBoxes, fourccCode, malformed } from '../../../src/mp4/mp4-boxes.js';

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

/** `childBoxes`' result in the same shape, or the error message. */
function viaChildBoxes(payload: Uint8Array): Array<[string, number, number]> | string {
  try {
    return childBoxes(payload, 'test').map((b) => [b.type, b.payload.byteOffset - payload.byteOffset, b.size]);
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * An independent box walk, field by field (ISO/IEC 14496-12 §4.2: 32-bit size, type, 64-bit size
 * when size is 1, size 0 = to the end), with the messages the driver promises: the oracle both
 * production walks are held to.
 */
function reference(payload: Uint8Array): Array<[string, number, number]> | string {
  const out: Array<[string, number, number]> = [];
  try {
    const cursor = new ByteCursor(payload, 'test');
    while (cursor.remaining > 0) {
      const offset = cursor.offset;
      if (cursor.remaining < 8) throw malformed(`test ends with ${cursor.remaining} stray bytes`);
      let size = cursor.u32();
      const type = cursor.fourcc();
      if (![...type].every((ch) => ch.charCodeAt(0) >= 0x20 && ch.charCodeAt(0) <= 0x7e)) throw malformed('test contains a box with an invalid type');
      let header = 8;
      if (size === 1) {
        size = cursor.u64();
        header = 16;
      } else if (size === 0) {
        size = payload.byteLength - offset;
      }
      if (size < header || size - header > cursor.remaining) throw malformed(`box '${type}' in test has size ${size}, beyond its parent`);
      out.push([type, cursor.offset, size]);
      cursor.take(size - header);
    }
  } catch (err) {
    return (err as Error).message;
  }
  return out;
}

function box(type: string, size: number, body: number[] = []): number[] {
  return [size >>> 24, (size >>> 16) & 255, (size >>> 8) & 255, size & 255, ...Buffer.from(type, 'latin1'), ...body];
}

describe('ByteCursor.childHeader', () => {
  it('reads boxes, 64-bit sizes and a size-0 last box like the reference walk, as childBoxes does', () => {
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
    expect(viaChildBoxes(payload)).toEqual(reference(payload));
  });

  it('property: childHeader and childBoxes give the same boxes, or the same error, as the reference walk on any bytes', () => {
    const plausible = fc.constantFrom('mfhd', 'traf', 'tfhd', 'tfdt', 'trun', 'free', '\u0000bad');
    const boxArb = fc.tuple(plausible, fc.oneof(fc.constantFrom(0, 1, 7, 8), fc.nat(40)), fc.array(fc.nat(255), { maxLength: 24 }));
    fc.assert(
      fc.property(fc.array(boxArb, { maxLength: 5 }), fc.array(fc.nat(255), { maxLength: 6 }), (boxes, tail) => {
        const payload = Uint8Array.from([...boxes.flatMap(([type, size, body]) => box(type, size, body)), ...tail]);
        const expected = reference(payload);
        expect(walk(payload)).toEqual(expected);
        expect(viaChildBoxes(payload)).toEqual(expected);
      }),
      { numRuns: 20_000 },
    );
  });

  it('names four-character codes as numbers', () => {
    expect(fourccCode('moof')).toBe(0x6d6f6f66);
    expect(fourccCode('trun')).toBe(0x7472756e);
  });
});
