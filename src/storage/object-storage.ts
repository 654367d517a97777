/**
 * The storage contract shaped by what the packager and origin need. Keys are slash-separated,
 * relative (`live/{channel}/…`), never starting with `/` and never containing `..` segments;
 * drivers reject anything else (`assertSafeKey`).
 */
export interface PutOptions {
  /** MIME type stored with the object, e.g. `application/vnd.apple.mpegurl`, `video/mp4`. */
  contentType: string;
  /** Cache-Control stored with the object (served as-is by S3/CDN when objects are read directly). */
  cacheControl?: string;
  /**
   * Aborts the write (the upload queue's per-attempt timeout). An aborted put either did not
   * happen or happened completely; it never leaves a partial object.
   */
  signal?: AbortSignal;
  /**
   * User metadata stored with the object (S3: `x-amz-meta-<name>`; the filesystem driver keeps none).
   * Cluster mode records the writer's fencing epoch and node id here (`cluster/fenced-storage.ts`).
   * Names: lower-case letters, digits and `-`.
   */
  metadata?: Readonly<Record<string, string>>;
  /**
   * Called synchronously right before the write leaves the process — on every attempt, as the last
   * step before the request is handed to the socket (S3) or before the rename that publishes the file
   * (filesystem). Throwing refuses the write. The cluster's write gate: a node frozen between an
   * earlier check and the send re-checks its lease deadline here when it wakes.
   */
  beforeSend?: () => void;
}

export interface StoredObject {
  body: Buffer;
  contentType: string;
  /** Cache-Control stored with the object, when the driver keeps one. */
  cacheControl?: string;
  /** Strong validator for conditional requests (quoted, as in HTTP). */
  etag: string;
  lastModified: Date;
}

export interface GetOptions {
  /** Return `{ notModified: true }` instead of the body when the object's ETag equals this. */
  ifNoneMatch?: string;
}

export type GetResult = StoredObject | { notModified: true; etag: string };

export interface ObjectStorage {
  /** Validates configuration and reachability (creates the root directory / checks the bucket). */
  start(): Promise<void>;
  /** Atomic replace: readers see the old object or the new one, never a partial one. */
  put(key: string, body: Uint8Array, options: PutOptions): Promise<void>;
  /** `undefined` when the key does not exist. */
  get(key: string, options?: GetOptions): Promise<GetResult | undefined>;
  /** Deletes the keys that exist; missing keys are not an error. Drivers batch where they can. */
  delete(keys: readonly string[]): Promise<void>;
  /** Every key under `prefix` (recursive), in no particular order. */
  list(prefix: string): Promise<string[]>;
  /** Cheap reachability check for readiness probes. */
  ping(): Promise<void>;
  /** Idempotent; waits for in-flight operations. */
  close(): Promise<void>;
}

const SAFE_SEGMENT = /^[A-Za-z0-9._-]+$/;

/** Throws unless `key` is a relative key made only of safe segments (no `.`/`..`, no empty parts). */
export function assertSafeKey(key: string): void {
  const segments = key.split('/');
  const ok =
    key.length > 0 &&
    key.length <= 1024 &&
    segments.every((s) => SAFE_SEGMENT.test(s) && s !== '.' && s !== '..');
  if (!ok) throw new TypeError(`unsafe storage key: ${JSON.stringify(key)}`);
}

/**
 * Throws unless `prefix` is a valid `list` prefix: empty, or a safe key optionally ending in `/`,
 * or a safe folder followed by the start of a name (`live/ch1/seg-`).
 */
export function assertSafePrefix(prefix: string): void {
  if (prefix === '') return;
  const folderEnd = prefix.lastIndexOf('/');
  const ok =
    prefix.length <= 1024 &&
    (folderEnd === -1 || isSafeKey(prefix.slice(0, folderEnd))) &&
    /^[A-Za-z0-9._-]*$/.test(prefix.slice(folderEnd + 1));
  if (!ok) throw new TypeError(`unsafe storage prefix: ${JSON.stringify(prefix)}`);
}

function isSafeKey(key: string): boolean {
  try {
    assertSafeKey(key);
    return true;
  } catch {
    return false;
  }
}
