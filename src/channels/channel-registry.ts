import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { channelInputsSchema, channelSchema, channelSrtSchema, describeIssues, type ChannelConfig } from '../config/service-config.js';
import { ErrorCode, LivepipeError, errorMessage, isLivepipeError } from '../core/errors.js';
import { byId, foldId } from '../core/ids.js';
import type { Logger } from '../core/logger.js';
import { constantTimeEqual } from '../core/secrets.js';
import {
  EMPTY_REGISTRY_STATE,
  FileRegistryStore,
  applyRegistryWrite,
  type ChannelRegistryStore,
  type RegistryState,
  type RegistryWrite,
} from './channel-registry-store.js';

export { STATE_FILE_VERSION, defaultStateFile } from './channel-registry-store.js';

/**
 * The set of channel definitions: the config file's `channels:` (a read-only base) plus the changes
 * made through the ops API, kept in a `ChannelRegistryStore` — the JSON state file on a single node,
 * a Redis hash shared by every node in cluster mode (`channel-registry-store.ts`, docs/cluster.md).
 *
 * Precedence: an API-made change overrides the config-file entry with the same id — an API update
 * stores the whole updated spec, an API delete of a config-file channel stores a tombstone. Editing
 * the config file therefore does not undo API changes for that id; re-create the channel through the
 * API (which clears the tombstone) or edit the state file while livepipe is stopped. Channels hidden
 * by a tombstone are named in a warning at start.
 *
 * Writes are serialized in this process and each is a compare-and-set on the store's revision: the
 * rules below are checked against the state the write replaces, on every node at once. A shared store
 * tells the registry of other nodes' writes (`watch`): it re-reads the store and emits the difference
 * as created/updated/removed changes, as if they had been made here. While a shared store does not
 * answer, the last state read is served and writes fail with `Unavailable` (503 in the API).
 *
 * Bounds: at most `maxChannels` definitions (`create` refuses one more with `LimitReached`), and no two
 * ids that differ only in letter case (`create` refuses `ll` beside `LL` with `Conflict`; lookups stay
 * exact). A stored state written before these rules may break them: start warns, and nothing is dropped.
 */

/** A change to one channel's definition, with the fields an update touched. */
export type ChannelChange =
  | { type: 'created'; channel: ChannelConfig }
  | { type: 'updated'; channel: ChannelConfig; previous: ChannelConfig; changed: ChannelField[] }
  | { type: 'removed'; channel: ChannelConfig };

export type ChannelField = 'ladder' | 'key' | 'srt' | 'inputs' | 'audioTracks';

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
    audioTracks: channelSchema.shape.audioTracks.unwrap().nullable().optional().describe("New audio track list (replaced as a whole), or null to use the ladder's; a live ladder restarts"),
  })
  .strict();

export type ChannelPatchInput = z.input<typeof channelPatchSchema>;

export interface ChannelRegistryOptions {
  /** The config file's channels (already validated by the service config). */
  configChannels: readonly ChannelConfig[];
  /** Where API changes are kept. Default: a `FileRegistryStore` on `stateFile`. */
  store?: ChannelRegistryStore;
  /** Path of the JSON state file (`defaultStateFile`), when `store` is not given. */
  stateFile?: string;
  /**
   * A shared store found empty (never written) is filled from this one once — the migration of a
   * node's state file to cluster mode. Only read.
   */
  seedFrom?: ChannelRegistryStore;
  logger: Logger;
  /**
   * Whether a ladder name exists (e.g. a file in ladders/). Omitted = any well-formed name is
   * accepted and the transcoder reports unknown ladders when the channel starts.
   */
  ladderExists?: (name: string) => boolean;
  /** How many channels may be defined (the service config's `maxChannelDefinitions`; default: no limit). */
  maxChannels?: number;
}

/** What a mutation wants written, the change it makes and what it returns; or `unchanged`. */
type MutationPlan<T> = { write: RegistryWrite; change: ChannelChange; result: T } | { unchanged: T };

/** A write that found the store changed re-reads it and checks again, this many times at most. */
const MAX_WRITE_ATTEMPTS = 5;

export class ChannelRegistry {
  private readonly configChannels: ReadonlyMap<string, ChannelConfig>;
  private readonly store: ChannelRegistryStore;
  private readonly seedFrom: ChannelRegistryStore | undefined;
  private readonly logger: Logger;
  private readonly ladderExists: ((name: string) => boolean) | undefined;
  /** How many channels may be defined at once. */
  readonly maxChannels: number;
  private readonly listeners = new Set<ChannelChangeListener>();
  private state: RegistryState = EMPTY_REGISTRY_STATE;
  private channels = new Map<string, ChannelConfig>();
  /** The state was read from the store (a shared store may not have answered yet, or lost a change). */
  private synced = false;
  private unwatch: (() => void) | undefined;
  /** Reads and writes of the store run one at a time, in call order. */
  private tail: Promise<unknown> = Promise.resolve();
  private started = false;
  private closed = false;

  constructor(options: ChannelRegistryOptions) {
    this.configChannels = new Map(options.configChannels.map((ch) => [ch.id, freezeChannel(ch)]));
    if (options.store === undefined && options.stateFile === undefined) throw new Error('ChannelRegistry needs a store or a stateFile');
    this.store = options.store ?? new FileRegistryStore(options.stateFile!);
    this.seedFrom = options.seedFrom;
    this.logger = options.logger.child({ component: 'channel-registry' });
    this.ladderExists = options.ladderExists;
    this.maxChannels = options.maxChannels ?? Number.POSITIVE_INFINITY;
  }

  /**
   * Loads and validates the stored state. Fails loudly on a bad one; a shared store that does not
   * answer is not fatal: the config-file channels run, writes are refused, and the state is read
   * when the store answers (`watch`).
   */
  async start(): Promise<void> {
    if (this.closed) throw new LivepipeError(ErrorCode.Closed, 'channel registry is closed');
    if (this.started) return;
    this.channels = this.effectiveChannels(this.state);
    // Watching before the first read: a change made meanwhile is read again rather than missed.
    this.unwatch = this.store.watch?.((revision) => this.onStoreChanged(revision));
    try {
      await this.serialize(() => this.load());
    } catch (err) {
      if (!this.store.shared || !isUnavailable(err)) {
        this.unwatch?.();
        throw err;
      }
      this.logger.warn({ store: this.store.location }, 'channel registry store unreachable: config-file channels only, writes refused until it answers');
    }
    for (const id of this.state.removed) {
      if (this.configChannels.has(id)) {
        this.logger.warn({ channel: id, store: this.store.location }, 'config-file channel stays removed: it was deleted through the API');
      }
    }
    for (const [first, second] of caseClashes(this.channels.keys())) {
      this.logger.warn({ channel: second, clashesWith: first }, 'two channels differ only in letter case (kept; delete one of them)');
    }
    if (this.channels.size > this.maxChannels) {
      this.logger.warn({ channels: this.channels.size, maxChannels: this.maxChannels }, 'more channels defined than maxChannelDefinitions: creating more is refused');
    }
    this.started = true;
    this.logger.info({ channels: this.channels.size, store: this.store.location, revision: this.state.revision }, 'channel registry loaded');
  }

  /** Waits for pending writes; later mutations fail with `Closed`. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    this.unwatch?.();
    this.unwatch = undefined;
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

  /** The store's revision of the state this node runs (0: nothing read or written yet). */
  get revision(): number {
    return this.state.revision;
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

  /** Subscribes to created/updated/removed changes (this node's and, with a shared store, every node's); returns the unsubscribe. */
  onChange(listener: ChannelChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Adds a channel. `BadRequest` on an invalid spec, `Conflict` when the id (or SRT port) is taken or
   * an id differing only in letter case exists, `LimitReached` when `maxChannels` are defined.
   */
  async create(input: unknown): Promise<ChannelConfig> {
    const spec = freezeChannel(this.validateSpec(input));
    return this.mutate<ChannelConfig>(() => {
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
      return { write: { id: spec.id, definition: spec, removed: false }, change: { type: 'created', channel: spec }, result: spec };
    });
  }

  /**
   * Changes a channel's ladder, key or SRT settings. `NotFound` for an unknown id, `BadRequest` for an
   * invalid patch. A patch that changes nothing writes nothing and emits nothing.
   */
  async update(id: string, patchInput: unknown): Promise<ChannelConfig> {
    const parsed = channelPatchSchema.safeParse(patchInput);
    if (!parsed.success) throw new LivepipeError(ErrorCode.BadRequest, describeIssues('channel update', parsed.error));
    const patch = parsed.data;
    return this.mutate<ChannelConfig>(() => {
      const previous = this.requireChannel(id);
      const merged: Record<string, unknown> = { ...previous };
      if (patch.ladder !== undefined) merged.ladder = patch.ladder;
      if (patch.key !== undefined) merged.key = patch.key;
      if (patch.srt === null) delete merged.srt;
      else if (patch.srt !== undefined) merged.srt = patch.srt;
      if (patch.inputs === null) delete merged.inputs;
      else if (patch.inputs !== undefined) merged.inputs = patch.inputs;
      if (patch.audioTracks === null) delete merged.audioTracks;
      else if (patch.audioTracks !== undefined) merged.audioTracks = patch.audioTracks;
      const channel = freezeChannel(this.validateSpec(merged));
      const changed = changedFields(previous, channel);
      if (changed.length === 0) return { unchanged: previous };
      if (changed.includes('srt')) this.assertSrtPortFree(channel);
      return { write: { id, definition: channel, removed: this.state.removed.has(id) }, change: { type: 'updated', channel, previous, changed }, result: channel };
    });
  }

  /** Deletes a channel. `NotFound` for an unknown id. */
  remove(id: string): Promise<ChannelConfig> {
    return this.mutate<ChannelConfig>(() => {
      const channel = this.requireChannel(id);
      return { write: { id, removed: this.configChannels.has(id) }, change: { type: 'removed', channel }, result: channel };
    });
  }

  private serialize<T>(work: () => Promise<T>): Promise<T> {
    const result = this.tail.then(work, work);
    this.tail = result.catch(() => undefined);
    return result;
  }

  /**
   * Runs `plan` against the current state and writes its result if the store is still at that
   * state's revision; if another node wrote meanwhile, re-reads the store (emitting that node's
   * changes) and plans again.
   */
  private mutate<T>(plan: () => MutationPlan<T>): Promise<T> {
    return this.serialize(async () => {
      if (this.closed) throw new LivepipeError(ErrorCode.Closed, 'channel registry is closed');
      if (!this.started) throw new LivepipeError(ErrorCode.Closed, 'channel registry is not started');
      if (!this.synced) await this.load();
      for (let attempt = 1; ; attempt++) {
        const planned = plan();
        if ('unchanged' in planned) return planned.unchanged;
        const written = await this.store.write(planned.write, this.state.revision);
        if (written !== 'stale') {
          this.state = applyRegistryWrite(this.state, planned.write, written.revision);
          this.channels = this.effectiveChannels(this.state);
          this.emit(planned.change);
          return planned.result;
        }
        if (attempt >= MAX_WRITE_ATTEMPTS) {
          throw new LivepipeError(ErrorCode.Unavailable, 'the channel registry kept changing under this write: try again');
        }
        await this.load();
      }
    });
  }

  /** A shared store changed (`revision`) or may have (`undefined`): read it again, unless this state is that revision already. */
  private onStoreChanged(revision: number | undefined): void {
    if (this.closed) return;
    const known = (): boolean => revision !== undefined && this.synced && revision <= this.state.revision;
    if (known()) return;
    this.serialize(async () => {
      if (this.closed || known()) return;
      await this.load();
    }).catch((err: unknown) => {
      // Served from the last state read; the store's next reconnect or check calls again.
      this.logger.warn({ err: errorMessage(err), store: this.store.location }, 'channel registry not re-read: serving the last state read');
    });
  }

  /**
   * Reads the store (seeding an empty shared one from `seedFrom`) and makes its state this node's,
   * emitting what differs from the state before as changes. Runs serialized.
   */
  private async load(): Promise<void> {
    let next: RegistryState;
    try {
      next = await this.store.load();
      if (next.revision === 0 && this.store.shared) next = await this.seed(next);
    } catch (err) {
      this.synced = false;
      throw err;
    }
    const before = this.channels;
    this.state = next;
    this.channels = this.effectiveChannels(next);
    this.synced = true;
    if (!this.started) return;
    const changes = diffChannels(before, this.channels);
    if (changes.length > 0) {
      this.logger.info({ revision: next.revision, channels: changes.map((c) => `${c.type}:${c.channel.id}`) }, 'channel registry changed on another node');
    }
    for (const change of changes) this.emit(change);
  }

  /**
   * Fills a shared store found empty, once across all nodes (the store's seed only writes empty keys):
   * from this node's last-known state if it had read one (Redis came back without its data: the
   * survivors' memory heals it, at a revision above every one seen), else from `seedFrom` (the
   * node's state file: the migration from a single node).
   */
  private async seed(empty: RegistryState): Promise<RegistryState> {
    const lost = this.state.revision > 0;
    const source = lost ? this.state : await this.seedFrom?.load();
    if (source === undefined || (source.overrides.size === 0 && source.removed.size === 0)) return empty;
    const seeded = await this.store.seed?.({ ...source, revision: this.state.revision + 1 });
    const counts = { store: this.store.location, channels: source.overrides.size, removed: source.removed.size };
    if (seeded === true && lost) this.logger.warn(counts, "the shared channel registry was empty (its Redis lost its data): seeded again from this node's last-known copy");
    else if (seeded === true) this.logger.info({ ...counts, from: this.seedFrom!.location }, "channel registry seeded from this node's state file");
    return this.store.load();
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

  private effectiveChannels(state: RegistryState): Map<string, ChannelConfig> {
    const channels = new Map<string, ChannelConfig>();
    for (const [id, channel] of this.configChannels) {
      if (!state.removed.has(id)) channels.set(id, channel);
    }
    for (const [id, channel] of state.overrides) channels.set(id, freezeChannel(channel));
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
}

function isUnavailable(err: unknown): boolean {
  return isLivepipeError(err, ErrorCode.Unavailable);
}

/** The changes that turn `before` into `after`, by id (pure). */
export function diffChannels(before: ReadonlyMap<string, ChannelConfig>, after: ReadonlyMap<string, ChannelConfig>): ChannelChange[] {
  const changes: ChannelChange[] = [];
  for (const [id, previous] of before) {
    const channel = after.get(id);
    if (channel === undefined) changes.push({ type: 'removed', channel: previous });
    else {
      const changed = changedFields(previous, channel);
      if (changed.length > 0) changes.push({ type: 'updated', channel, previous, changed });
    }
  }
  for (const [id, channel] of after) if (!before.has(id)) changes.push({ type: 'created', channel });
  return changes;
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
  if (JSON.stringify(a.audioTracks) !== JSON.stringify(b.audioTracks)) fields.push('audioTracks');
  return fields;
}

function freezeChannel(channel: ChannelConfig): ChannelConfig {
  const copy: ChannelConfig = { ...channel, ...(channel.srt ? { srt: Object.freeze({ ...channel.srt }) } : {}) };
  return Object.freeze(copy);
}

