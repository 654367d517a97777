/**
 * A least-recently-used cache bounded by the bytes of its values (a Map keeps insertion order; a hit
 * re-inserts the entry at the young end). Entries larger than `maxEntryBytes` are not cached.
 */
export interface Sized {
  readonly size: number;
}

export class ByteLruCache<V extends Sized> {
  private readonly entries = new Map<string, V>();
  private bytesUsed = 0;

  /**
   * @param maxBytes total budget (origin default 256 MiB)
   * @param maxEntryBytes largest single value (origin default 16 MiB)
   */
  constructor(
    readonly maxBytes: number,
    readonly maxEntryBytes: number = maxBytes,
  ) {}

  get bytes(): number {
    return this.bytesUsed;
  }

  get count(): number {
    return this.entries.size;
  }

  get(key: string): V | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }

  /** Returns whether the value was stored. */
  set(key: string, value: V): boolean {
    this.delete(key);
    if (value.size > this.maxEntryBytes || value.size > this.maxBytes) return false;
    this.entries.set(key, value);
    this.bytesUsed += value.size;
    while (this.bytesUsed > this.maxBytes) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.delete(oldest.value);
    }
    return true;
  }

  delete(key: string): void {
    const value = this.entries.get(key);
    if (value === undefined) return;
    this.entries.delete(key);
    this.bytesUsed -= value.size;
  }

  clear(): void {
    this.entries.clear();
    this.bytesUsed = 0;
  }
}
