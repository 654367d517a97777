import { describe, expect, it } from 'vitest';
import { ByteLruCache } from '../../../src/origin/byte-lru-cache.js';

const v = (size: number) => ({ size });

describe('ByteLruCache', () => {
  it('evicts the least recently used entries beyond the byte budget', () => {
    const c = new ByteLruCache(100, 60);
    c.set('a', v(40));
    c.set('b', v(40));
    c.get('a'); // a is now younger than b
    c.set('c', v(40));
    expect(c.get('b')).toBeUndefined();
    expect(c.get('a')).toBeDefined();
    expect(c.get('c')).toBeDefined();
    expect(c.bytes).toBe(80);
  });

  it('refuses entries above maxEntryBytes and replaces keys', () => {
    const c = new ByteLruCache(100, 60);
    expect(c.set('big', v(61))).toBe(false);
    c.set('k', v(10));
    c.set('k', v(20));
    expect(c.bytes).toBe(20);
    expect(c.count).toBe(1);
    c.delete('k');
    expect(c.bytes).toBe(0);
  });
});
