import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { channelSchema, describeIssues, type ChannelConfig } from '../config/service-config.js';
import { ErrorCode, LivepipeError, errorMessage } from '../core/errors.js';

/**
 * Where the ops API's channel changes are kept: the `ChannelRegistryStore` port of `ChannelRegistry`
 * and its single-node adapter, the JSON state file. The cluster adapter (a Redis hash shared by every
 * node) is `src/cluster/redis-registry-store.ts`; `src/app/serve-app.ts` picks one.
 *
 * Both keep the same state — API-made definitions by id, tombstones of config-file channels deleted
 * through the API, and a revision — and both write one channel at a time as a compare-and-set on the
 * revision: the registry checks its rules (id free, no case clash, the definition cap, SRT ports)
 * against the state of revision R, and the write lands only if the stored revision is still R. On a
 * shared store a `stale` answer makes the registry re-read and check again, so the rules hold across
 * nodes without a lock.
 */

/** What a store holds (the config file's channels are not in it: they are every node's read-only base). */
export interface RegistryState {
  /** API-created or API-updated channels, by id. */
  overrides: ReadonlyMap<string, ChannelConfig>;
  /** Config-file channel ids deleted through the API. */
  removed: ReadonlySet<string>;
  /** Counts the writes; 0: nothing written yet (a shared store that was never seeded). */
  revision: number;
}

/** One channel's new stored state. */
export interface RegistryWrite {
  id: string;
  /** The channel's definition made through the API; absent: no API definition (deleted, or the config-file one applies). */
  definition?: ChannelConfig;
  /** Whether the id is tombstoned (a config-file channel deleted through the API). */
  removed: boolean;
}

export type RegistryWriteResult = { revision: number } | 'stale';

export interface ChannelRegistryStore {
  /** Where the state lives, for log lines (never a secret). */
  readonly location: string;
  /**
   * Whether other processes write this store too (Redis): the registry then starts even when the
   * store does not answer (config-file channels only, writes refused) and re-reads on `watch`.
   */
  readonly shared: boolean;
  /** The whole state. Throws `ConfigInvalid` for stored data that does not validate, `Unavailable` when unreachable. */
  load(): Promise<RegistryState>;
  /** Applies `write` if the stored revision is still `expectedRevision` (atomically); `stale` otherwise. */
  write(write: RegistryWrite, expectedRevision: number): Promise<RegistryWriteResult>;
  /**
   * Shared stores: fills an empty store (revision 0) with `state` — the migration from a node's state
   * file. False when the store was not empty (another node seeded it first, or it was written).
   */
  seed?(state: RegistryState): Promise<boolean>;
  /**
   * Shared stores: calls `onChange(revision)` when another writer changed the state (revision known),
   * and `onChange(undefined)` when changes may have been missed (a reconnect). Returns the unsubscribe.
   */
  watch?(onChange: (revision: number | undefined) => void): () => void;
}

/** The state with `write` applied (pure). */
export function applyRegistryWrite(state: RegistryState, write: RegistryWrite, revision: number): RegistryState {
  const overrides = new Map(state.overrides);
  const removed = new Set(state.removed);
  if (write.definition !== undefined) overrides.set(write.id, write.definition);
  else overrides.delete(write.id);
  if (write.removed) removed.add(write.id);
  else removed.delete(write.id);
  return { overrides, removed, revision };
}

export const EMPTY_REGISTRY_STATE: RegistryState = Object.freeze({ overrides: new Map<string, ChannelConfig>(), removed: new Set<string>(), revision: 0 });

export const STATE_FILE_VERSION = 1;

/** Where the state file goes by default, relative to the data directory. */
export function defaultStateFile(dataDir: string): string {
  return join(dataDir, '.livepipe', 'channels.json');
}

const stateFileSchema = z
  .object({
    version: z.literal(STATE_FILE_VERSION),
    channels: z.record(z.string(), channelSchema),
    removed: z.array(z.string()),
  })
  .strict();

/**
 * The single-node store: a JSON state file (default `<dataDir>/.livepipe/channels.json`, mode 0600
 * because it holds stream keys and SRT passphrases in clear, as ingest needs them; it lives under
 * `dataDir` even when media go to S3):
 * ```json
 * { "version": 1, "channels": { "news": { "id": "news", "ladder": "default", "key": "…" } }, "removed": ["old"] }
 * ```
 * Writes are atomic (temp file, fsync, rename), so a crash leaves the old or the new state, never a
 * torn one. A state file that does not parse or validate fails `load()` with its path and reason: it
 * is never overwritten. The revision counts this process's writes (one process owns the file).
 */
export class FileRegistryStore implements ChannelRegistryStore {
  readonly shared = false;
  private state: RegistryState = EMPTY_REGISTRY_STATE;

  constructor(readonly location: string) {}

  async load(): Promise<RegistryState> {
    let text: string;
    try {
      text = await readFile(this.location, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return (this.state = EMPTY_REGISTRY_STATE);
      throw new LivepipeError(ErrorCode.ConfigInvalid, `${this.location}: cannot read: ${errorMessage(err)}`, { cause: err });
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new LivepipeError(ErrorCode.ConfigInvalid, `${this.location}: not valid JSON: ${errorMessage(err)}`);
    }
    const parsed = stateFileSchema.safeParse(raw);
    if (!parsed.success) throw new LivepipeError(ErrorCode.ConfigInvalid, describeIssues(this.location, parsed.error));
    const overrides = new Map<string, ChannelConfig>();
    for (const [id, channel] of Object.entries(parsed.data.channels)) {
      if (channel.id !== id) {
        throw new LivepipeError(ErrorCode.ConfigInvalid, `${this.location}: channels.${id}.id: is "${channel.id}", expected "${id}"`);
      }
      overrides.set(id, channel);
    }
    this.state = { overrides, removed: new Set(parsed.data.removed), revision: this.state.revision };
    return this.state;
  }

  async write(write: RegistryWrite, expectedRevision: number): Promise<RegistryWriteResult> {
    if (expectedRevision !== this.state.revision) return 'stale';
    const next = applyRegistryWrite(this.state, write, this.state.revision + 1);
    await this.writeFile(next);
    this.state = next;
    return { revision: next.revision };
  }

  private async writeFile(state: RegistryState): Promise<void> {
    const body: z.infer<typeof stateFileSchema> = {
      version: STATE_FILE_VERSION,
      channels: Object.fromEntries([...state.overrides].sort(([a], [b]) => (a < b ? -1 : 1))),
      removed: [...state.removed].sort(),
    };
    const dir = dirname(this.location);
    const temp = `${this.location}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const handle = await open(temp, 'wx', 0o600);
      try {
        await handle.writeFile(`${JSON.stringify(body, null, 2)}\n`, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, this.location);
      await syncDirectory(dir);
    } catch (err) {
      await rm(temp, { force: true }).catch(() => undefined);
      throw new LivepipeError(ErrorCode.StorageUnavailable, `cannot write channel state ${this.location}: ${errorMessage(err)}`, { cause: err });
    }
  }
}

/** fsync the directory so the rename itself is durable (best effort: not every platform allows it). */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Directories cannot be opened for fsync on some platforms (Windows); the rename is still atomic.
  }
}
