import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { channelInputsSchema, channelSchema, channelSrtSchema, describeIssues, type ChannelConfig } from '../config/service-config.js';
import { ErrorCode, LivepipeError, errorMessage } from '../core/errors.js';
import { byId, foldId } from '../core/ids.js';
import type { Logger } from '../core/logger.js';
import { constantTimeEqual } from '../core/secrets.js';

/**
 * The set of channel definitions: the config file's `channels:` (a read-only base) plus the changes
 * made through the ops API, which are persisted in a JSON state file and survive restarts.
 *
 * Precedence: an API-made change overrides the config-file entry with the same id — an API update
 * stores the whole updated spec, an API delete of a config-file channel stores a tombstone. Editing
 * the config file therefore does not undo API changes for that id; re-create the channel through the
 * API (which clears the tombstone) or edit the state file while livepipe is stopped. Channels hidden
 * by a tombstone are named in a warning at start.
 *
 * State file (default `<dataDir>/.livepipe/channels.json`, mode 0600 because it holds stream keys;
 * it lives under `dataDir` even when media go to S3):
 * ```json
 * { "version": 1, "channels": { "news": { "id": "news", "ladder": "default", "key": "…" } }, "removed": ["old"] }
 * ```
 * Writes are atomic (temp file, fsync, rename) and serialized, so a crash leaves the old or the new
 * state, never a torn one. A state file that does not parse or validate stops `start()` with its path
 * and reason: it is never overwritten.
 *
 * Bounds: at most `maxChannels` definitions (`create` refuses one more with `LimitReached`), and no two
 * ids that differ only in letter case (`create` refuses `ll` beside `LL` with `Conflict`; lookups stay
 * exact). A state file written before these rules may break them: start warns, and nothing is dropped.
 */

export const STATE_FILE_VERSION = 1;

/** Where the state file goes by default, relative to the data directory. */
export function defaultStateFile(dataDir: string): string {
  return join(dataDir, '.livepipe', 'channels.json');
}

/** A change to one channel's definition, with the fields an update touched. */
export type ChannelChange =
  | { type: 'created'; channel: ChannelConfig }
  | { type: 'updated'; channel: ChannelConfig; previous: ChannelConfig; changed: ChannelField[] }
  | { type: 'removed'; channel: ChannelConfig };

export type ChannelField = 'ladder' | 'key' | 'srt' | 'inputs';

export type ChannelChangeListener = (change: ChannelChange) => void;

/** The body of a channel update: every field optional; `srt: null` removes the SRT listener. */
export const channelPatchSchema = z
  .object({
    ladder: channelSchema.shape.ladder.unwrap().optional().describe('New ladder name; the ladder restarts with it'),
    key: channelSchema.shape.key.optional().describe('New publish key (key rotation); the current publisher is dropped'),
    /** Replaces the SRT settings as a whole (send the passphrase again to change the latency). */
    srt: channelSrtSchema.nullable().optional().describe('New SRT settings (replaced as a whole), or null to remove the SRT listener'),
    /** Replaces the inputs block as a whole (backup, slate, pulled sources; docs/inputs.md). */
    inputs: channelInputsSchema.nullable().optional().describe('New inputs block (replaced as a whole), or null to remove it; the inputs restart'),
  })
  .strict();

export type ChannelPatchInput = z.input<typeof channelPatchSchema>;

const stateFileSchema = z
  .object({
    version: z.literal(STATE_FILE_VERSION),
    channels: z.record(z.string(), channelSchema),
    removed: z.array(z.string()),
  })
  .strict();

interface PersistedState {
  /** API-created or API-updated channels, by id. */
  overrides: Map<string, ChannelConfig>;
  /** Config-file channel ids deleted through the API. */
  removed: Set<string>;
}

export interface ChannelRegistryOptions {
  /** The config file's channels (already validated by the service config). */
  configChannels: readonly ChannelConfig[];
  /** Path of the JSON state file; see `defaultStateFile`. */
  stateFile: string;
  logger: Logger;
  /**
   * Whether a ladder name exists (e.g. a file in ladders/). Omitted = any well-formed name is
   * accepted and the transcoder reports unknown ladders when the channel starts.
   */
  ladderExists?: (name: string) => boolean;
  /** How many channels may be defined (the service config's `maxChannelDefinitions`; default: no limit). */
  maxChannels?: number;
}

export class ChannelRegistry {
  private readonly configChannels: ReadonlyMap<string, ChannelConfig>;
  private readonly stateFile: string;
  private readonly logger: Logger;
  private readonly ladderExists: ((name: string) => boolean) | undefined;
  /** How many channels may be defined at once. */
  readonly maxChannels: number;
  private readonly listeners = new Set<ChannelChangeListener>();
  private state: PersistedState = { overrides: new Map(), removed: new Set() };
  private channels = new Map<string, ChannelConfig>();
  /** Mutations run one at a time, in call order. */
  private tail: Promise<unknown> = Promise.resolve();
  private started = false;
  private closed = false;

  constructor(options: ChannelRegistryOptions) {
    this.configChannels = new Map(options.configChannels.map((ch) => [ch.id, freezeChannel(ch)]));
    this.stateFile = options.stateFile;
    this.logger = options.logger.child({ component: 'channel-registry' });
    this.ladderExists = options.ladderExists;
    this.maxChannels = options.maxChannels ?? Number.POSITIVE_INFINITY;
  }

  /** Loads and validates the state file (a missing file is an empty state). Fails loudly on a bad one. */
  async start(): Promise<void> {
    if (this.closed) throw new LivepipeError(ErrorCode.Closed, 'channel registry is closed');
    if (this.started) return;
    this.state = await this.readState();
    this.channels = this.effectiveChannels(this.state);
    for (const id of this.state.removed) {
      if (this.configChannels.has(id)) {
        this.logger.warn({ channel: id, stateFile: this.stateFile }, 'config-file channel stays removed: it was deleted through the API');
      }
    }
    for (const [first, second] of caseClashes(this.channels.keys())) {
      this.logger.warn({ channel: second, clashesWith: first }, 'two channels differ only in letter case (kept; delete one of them)');
    }
    if (this.channels.size > this.maxChannels) {
      this.logger.warn({ channels: this.channels.size, maxChannels: this.maxChannels }, 'more channels defined than maxChannelDefinitions: creating more is refused');
    }
    this.started = true;
    this.logger.info({ channels: this.channels.size, stateFile: this.stateFile }, 'channel registry loaded');
  }

  /** Waits for pending writes; later mutations fail with `Closed`. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    await this.tail.catch(() => undefined);
    this.listeners.clear();
  }

  /** Every channel, sorted by id. */
  list(): ChannelConfig[] {
    return [...this.channels.values()].sort(byId);
  }

  get(id: string): ChannelConfig | undefined {
    return this.channels.get(id);
  }

  has(id: string): boolean {
    return this.channels.has(id);
  }

  /** The defined id that differs from `id` only in letter case, if any (not `id` itself). */
  caseClashOf(id: string): string | undefined {
    const folded = foldId(id);
    for (const other of this.channels.keys()) if (other !== id && foldId(other) === folded) return other;
    return undefined;
  }

  /** Where a channel's current definition comes from. */
  sourceOf(id: string): 'config' | 'api' | undefined {
    if (!this.channels.has(id)) return undefined;
    return this.state.overrides.has(id) ? 'api' : 'config';
  }

  /**
   * Whether `presented` is the publish key of channel `id`, in constant time (SHA-256 digests compared
   * with `timingSafeEqual`). Unknown channels compare against a dummy so they take the same time.
   */
  verifyKey(id: string, presented: string): boolean {
    const channel = this.channels.get(id);
    const matches = constantTimeEqual(presented, channel?.key ?? UNKNOWN_CHANNEL_KEY);
    return channel !== undefined && matches;
  }

  /** Subscribes to created/updated/removed changes; returns the unsubscribe function. */
  onChange(listener: ChannelChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Adds a channel. `BadRequest` on an invalid spec, `Conflict` when the id (or SRT port) is taken or
   * an id differing only in letter case exists, `LimitReached` when `maxChannels` are defined.
   */
  create(input: unknown): Promise<ChannelConfig> {
    return this.mutate(async () => {
      const spec = freezeChannel(this.validateSpec(input));
      if (this.channels.has(spec.id)) throw new LivepipeError(ErrorCode.Conflict, `channel "${spec.id}" exists already`);
      const clash = this.caseClashOf(spec.id);
      if (clash !== undefined) {
        throw new LivepipeError(ErrorCode.Conflict, `channel "${clash}" exists already: ids that differ only in letter case name the same channel`, {
          details: { channel: clash },
        });
      }
      if (this.channels.size >= this.maxChannels) {
        throw new LivepipeError(ErrorCode.LimitReached, `${this.maxChannels} channels are defined, the most maxChannelDefinitions allows: delete one first`, {
          details: { limit: this.maxChannels },
        });
      }
      this.assertSrtPortFree(spec);
      const next = cloneState(this.state);
      next.overrides.set(spec.id, spec);
      next.removed.delete(spec.id);
      await this.commit(next);
      this.emit({ type: 'created', channel: spec });
      return spec;
    });
  }

  /**
   * Changes a channel's ladder, key or SRT settings. `NotFound` for an unknown id, `BadRequest` for an
   * invalid patch. A patch that changes nothing writes nothing and emits nothing.
   */
  update(id: string, patchInput: unknown): Promise<ChannelConfig> {
    return this.mutate(async () => {
      const previous = this.requireChannel(id);
      const parsed = channelPatchSchema.safeParse(patchInput);
      if (!parsed.success) throw new LivepipeError(ErrorCode.BadRequest, describeIssues('channel update', parsed.error));
      const patch = parsed.data;
      const merged: Record<string, unknown> = { ...previous };
      if (patch.ladder !== undefined) merged.ladder = patch.ladder;
      if (patch.key !== undefined) merged.key = patch.key;
      if (patch.srt === null) delete merged.srt;
      else if (patch.srt !== undefined) merged.srt = patch.srt;
      if (patch.inputs === null) delete merged.inputs;
      else if (patch.inputs !== undefined) merged.inputs = patch.inputs;
      const channel = freezeChannel(this.validateSpec(merged));
      const changed = changedFields(previous, channel);
      if (changed.length === 0) return previous;
      if (changed.includes('srt')) this.assertSrtPortFree(channel);
      const next = cloneState(this.state);
      next.overrides.set(id, channel);
      await this.commit(next);
      this.emit({ type: 'updated', channel, previous, changed });
      return channel;
    });
  }

  /** Deletes a channel. `NotFound` for an unknown id. */
  remove(id: string): Promise<ChannelConfig> {
    return this.mutate(async () => {
      const channel = this.requireChannel(id);
      const next = cloneState(this.state);
      next.overrides.delete(id);
      if (this.configChannels.has(id)) next.removed.add(id);
      await this.commit(next);
      this.emit({ type: 'removed', channel });
      return channel;
    });
  }

  private mutate<T>(work: () => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      if (this.closed) throw new LivepipeError(ErrorCode.Closed, 'channel registry is closed');
      if (!this.started) throw new LivepipeError(ErrorCode.Closed, 'channel registry is not started');
      return work();
    };
    const result = this.tail.then(run, run);
    this.tail = result.catch(() => undefined);
    return result;
  }

  private requireChannel(id: string): ChannelConfig {
    const channel = this.channels.get(id);
    if (channel === undefined) throw new LivepipeError(ErrorCode.NotFound, `no channel "${id}"`);
    return channel;
  }

  private validateSpec(input: unknown): ChannelConfig {
    const parsed = channelSchema.safeParse(input);
    if (!parsed.success) throw new LivepipeError(ErrorCode.BadRequest, describeIssues('channel', parsed.error));
    const spec = parsed.data;
    if (this.ladderExists !== undefined && !this.ladderExists(spec.ladder)) {
      throw new LivepipeError(ErrorCode.LadderNotFound, `no ladder named "${spec.ladder}"`, { details: { ladder: spec.ladder } });
    }
    return spec;
  }

  /** Two channels cannot claim the same explicit SRT port (allocated ports are the manager's business). */
  private assertSrtPortFree(spec: ChannelConfig): void {
    for (const port of [spec.srt?.port, spec.srt?.backupPort]) {
      if (port === undefined) continue;
      for (const other of this.channels.values()) {
        if (other.id !== spec.id && (other.srt?.port === port || other.srt?.backupPort === port)) {
          throw new LivepipeError(ErrorCode.Conflict, `SRT port ${port} is already used by channel "${other.id}"`);
        }
      }
    }
  }

  /** Writes the state file, then swaps the in-memory view: on a failed write nothing changes. */
  private async commit(next: PersistedState): Promise<void> {
    await this.writeState(next);
    this.state = next;
    this.channels = this.effectiveChannels(next);
  }

  private effectiveChannels(state: PersistedState): Map<string, ChannelConfig> {
    const channels = new Map<string, ChannelConfig>();
    for (const [id, channel] of this.configChannels) {
      if (!state.removed.has(id)) channels.set(id, channel);
    }
    for (const [id, channel] of state.overrides) channels.set(id, channel);
    return channels;
  }

  private emit(change: ChannelChange): void {
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch (err) {
        // A faulty subscriber must not turn a persisted change into a failed API call.
        this.logger.error({ err: errorMessage(err), channel: change.channel.id, change: change.type }, 'channel change listener threw');
      }
    }
  }

  private async readState(): Promise<PersistedState> {
    let text: string;
    try {
      text = await readFile(this.stateFile, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { overrides: new Map(), removed: new Set() };
      throw new LivepipeError(ErrorCode.ConfigInvalid, `${this.stateFile}: cannot read: ${errorMessage(err)}`, { cause: err });
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new LivepipeError(ErrorCode.ConfigInvalid, `${this.stateFile}: not valid JSON: ${errorMessage(err)}`);
    }
    const parsed = stateFileSchema.safeParse(raw);
    if (!parsed.success) throw new LivepipeError(ErrorCode.ConfigInvalid, describeIssues(this.stateFile, parsed.error));
    const overrides = new Map<string, ChannelConfig>();
    for (const [id, channel] of Object.entries(parsed.data.channels)) {
      if (channel.id !== id) {
        throw new LivepipeError(ErrorCode.ConfigInvalid, `${this.stateFile}: channels.${id}.id: is "${channel.id}", expected "${id}"`);
      }
      overrides.set(id, freezeChannel(channel));
    }
    return { overrides, removed: new Set(parsed.data.removed) };
  }

  private async writeState(state: PersistedState): Promise<void> {
    const body: z.infer<typeof stateFileSchema> = {
      version: STATE_FILE_VERSION,
      channels: Object.fromEntries([...state.overrides].sort(([a], [b]) => (a < b ? -1 : 1))),
      removed: [...state.removed].sort(),
    };
    const dir = dirname(this.stateFile);
    const temp = `${this.stateFile}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const handle = await open(temp, 'wx', 0o600);
      try {
        await handle.writeFile(`${JSON.stringify(body, null, 2)}\n`, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, this.stateFile);
      await syncDirectory(dir);
    } catch (err) {
      await rm(temp, { force: true }).catch(() => undefined);
      throw new LivepipeError(ErrorCode.StorageUnavailable, `cannot write channel state ${this.stateFile}: ${errorMessage(err)}`, { cause: err });
    }
  }
}

/** Pairs of ids (first seen, later one) that differ only in letter case. Pure. */
export function caseClashes(ids: Iterable<string>): Array<[string, string]> {
  const seen = new Map<string, string>();
  const clashes: Array<[string, string]> = [];
  for (const id of ids) {
    const first = seen.get(foldId(id));
    if (first === undefined) seen.set(foldId(id), id);
    else clashes.push([first, id]);
  }
  return clashes;
}

/** Compared against when a channel is unknown, so `verifyKey` costs the same either way. */
const UNKNOWN_CHANNEL_KEY = randomBytes(32).toString('hex');

function changedFields(a: ChannelConfig, b: ChannelConfig): ChannelField[] {
  const fields: ChannelField[] = [];
  if (a.ladder !== b.ladder) fields.push('ladder');
  if (a.key !== b.key) fields.push('key');
  const [x, y] = [a.srt, b.srt];
  const sameSrt = x === undefined || y === undefined ? x === y : x.port === y.port && x.passphrase === y.passphrase && x.latencyMs === y.latencyMs && x.backupPort === y.backupPort;
  if (!sameSrt) fields.push('srt');
  if (JSON.stringify(a.inputs) !== JSON.stringify(b.inputs)) fields.push('inputs');
  return fields;
}

function cloneState(state: PersistedState): PersistedState {
  return { overrides: new Map(state.overrides), removed: new Set(state.removed) };
}

function freezeChannel(channel: ChannelConfig): ChannelConfig {
  const copy: ChannelConfig = { ...channel, ...(channel.srt ? { srt: Object.freeze({ ...channel.srt }) } : {}) };
  return Object.freeze(copy);
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
