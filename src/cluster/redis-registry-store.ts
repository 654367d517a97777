import type { Redis } from 'ioredis';
import type { ChannelConfig } from '../config/service-config.js';
import { ErrorCode, LivepipeError, errorMessage } from '../core/errors.js';
import { isValidId } from '../core/ids.js';
import type { Logger } from '../core/logger.js';
import { channelSchema, describeIssues } from '../config/service-config.js';
import { clusterKeys } from './cluster-keys.js';
import type { RedisConnection } from './redis-connection.js';

/**
 * The channel registry's store in cluster mode (the `ChannelRegistryStore` port of
 * `src/channels/channel-registry-store.ts`, which this matches by shape: cluster does not import
 * channels). Every node reads and writes the same three keys:
 *
 * | Key | Type | What |
 * | --- | --- | --- |
 * | `livepipe:channels` | hash | channel id → definition JSON (API-made; the config file's are every node's base) |
 * | `livepipe:channels:removed` | set | config-file channel ids deleted through the API |
 * | `livepipe:channels:revision` | counter | +1 on every write; absent: never written (seedable) |
 *
 * and every write publishes `{"id","revision"}` on `livepipe:channels:changed`.
 *
 * - **Atomic.** A write is one Lua script: compare the revision with the one the writer's checks ran
 *   against, write the hash and the set, INCR the revision, PUBLISH. Two nodes creating `news` (or
 *   `NEWS`, or the definition past the cap) at once: one script runs first, the other finds the
 *   revision moved and answers `stale`; its registry re-reads and checks again.
 * - **Secrets.** Definitions hold the stream key and SRT passphrase in clear, as the state file does
 *   (ingest compares keys and SRT needs the passphrase itself): protect Redis with a password / ACL
 *   and TLS (`rediss://`). Nothing here logs a definition, and Redis errors are logged without arguments.
 * - **Notified, and checked.** Pub/sub is at-most-once: besides the notifications, `watch` calls for a
 *   full re-read on every (re)connect of either connection, and compares the stored revision with the
 *   last one read or written every `checkIntervalMs` (default 5000), in case a notification was lost
 *   or Redis lost its data.
 */

/** ARGV: expected revision, id, definition JSON ('' = none), removed ('1'/'0'), the pub/sub channel. */
const WRITE = `
local current = tonumber(redis.call('GET', KEYS[3]) or '0')
if current ~= tonumber(ARGV[1]) then return -1 end
if ARGV[3] == '' then redis.call('HDEL', KEYS[1], ARGV[2]) else redis.call('HSET', KEYS[1], ARGV[2], ARGV[3]) end
if ARGV[4] == '1' then redis.call('SADD', KEYS[2], ARGV[2]) else redis.call('SREM', KEYS[2], ARGV[2]) end
local revision = redis.call('INCR', KEYS[3])
redis.call('PUBLISH', ARGV[5], cjson.encode({ id = ARGV[2], revision = revision }))
return revision
`;

/** ARGV: the pub/sub channel, the revision, n, then n pairs (id, definition JSON), then removed ids. Only into empty keys. */
const SEED = `
if redis.call('EXISTS', KEYS[1], KEYS[2], KEYS[3]) > 0 then return 0 end
local n = tonumber(ARGV[3])
for i = 0, n - 1 do redis.call('HSET', KEYS[1], ARGV[4 + 2 * i], ARGV[5 + 2 * i]) end
for i = 4 + 2 * n, #ARGV do redis.call('SADD', KEYS[2], ARGV[i]) end
redis.call('SET', KEYS[3], ARGV[2])
redis.call('PUBLISH', ARGV[1], cjson.encode({ revision = tonumber(ARGV[2]) }))
return 1
`;

/** The registry's state (the port's `RegistryState`). */
export interface RedisRegistryState {
  overrides: ReadonlyMap<string, ChannelConfig>;
  removed: ReadonlySet<string>;
  revision: number;
}

/** One channel's new stored state (the port's `RegistryWrite`). */
export interface RedisRegistryWrite {
  id: string;
  definition?: ChannelConfig;
  removed: boolean;
}

export interface RedisRegistryStoreOptions {
  redis: RedisConnection;
  logger: Logger;
  /** How often `watch` compares the stored revision with the last one seen, ms (default 5000). */
  checkIntervalMs?: number;
}

/** The revision in a change notification (`{"id":…,"revision":n}`), or undefined for anything else. Pure. */
export function parseRegistryNotification(message: string): number | undefined {
  try {
    const raw = JSON.parse(message) as unknown;
    if (typeof raw !== 'object' || raw === null) return undefined;
    const revision = (raw as Record<string, unknown>).revision;
    return Number.isSafeInteger(revision) && (revision as number) > 0 ? (revision as number) : undefined;
  } catch {
    return undefined;
  }
}

export class RedisRegistryStore {
  readonly location = `redis ${clusterKeys.channels}`;
  readonly shared = true;
  private readonly logger: Logger;
  private readonly checkIntervalMs: number;
  /** The revision of the last load or write through this store: what the periodic check compares. */
  private lastRevision: number | undefined;

  constructor(private readonly options: RedisRegistryStoreOptions) {
    this.logger = options.logger.child({ component: 'registry-store' });
    this.checkIntervalMs = options.checkIntervalMs ?? 5000;
  }

  private get client(): Redis {
    return this.options.redis.client;
  }

  async load(): Promise<RedisRegistryState> {
    const replies = await this.command(() => this.client.multi().hgetall(clusterKeys.channels).smembers(clusterKeys.channelsRemoved).get(clusterKeys.channelsRevision).exec());
    if (replies === null) throw unavailable(new Error('transaction aborted'));
    for (const [err] of replies) if (err !== null) throw unavailable(err);
    const [hash, removed, revision] = replies.map(([, value]) => value) as [Record<string, string>, string[], string | null];
    const overrides = new Map<string, ChannelConfig>();
    for (const [id, text] of Object.entries(hash)) overrides.set(id, parseDefinition(id, text));
    for (const id of removed) {
      if (!isValidId(id)) throw new LivepipeError(ErrorCode.ConfigInvalid, `${clusterKeys.channelsRemoved}: "${id}" is not a channel id`);
    }
    this.lastRevision = revision === null ? 0 : Number(revision);
    return { overrides, removed: new Set(removed), revision: this.lastRevision };
  }

  async write(write: RedisRegistryWrite, expectedRevision: number): Promise<{ revision: number } | 'stale'> {
    const definition = write.definition === undefined ? '' : JSON.stringify(write.definition);
    const revision = await this.command(() =>
      this.client.eval(
        WRITE,
        3,
        clusterKeys.channels,
        clusterKeys.channelsRemoved,
        clusterKeys.channelsRevision,
        expectedRevision,
        write.id,
        definition,
        write.removed ? '1' : '0',
        clusterKeys.channelsChanged,
      ),
    );
    if (revision === -1) return 'stale';
    this.lastRevision = Number(revision);
    return { revision: this.lastRevision };
  }

  /** Fills empty keys with `state` at revision `state.revision` (at least 1); false if any key exists. */
  async seed(state: RedisRegistryState): Promise<boolean> {
    const pairs = [...state.overrides].flatMap(([id, channel]) => [id, JSON.stringify(channel)]);
    const seeded = await this.command(() =>
      this.client.eval(
        SEED,
        3,
        clusterKeys.channels,
        clusterKeys.channelsRemoved,
        clusterKeys.channelsRevision,
        clusterKeys.channelsChanged,
        Math.max(1, state.revision),
        state.overrides.size,
        ...pairs,
        ...state.removed,
      ),
    );
    return seeded === 1;
  }

  /**
   * Notifications on their own connection (a subscribed one can do nothing else), a full re-read on
   * every (re)connect, and a periodic revision check.
   */
  watch(onChange: (revision: number | undefined) => void): () => void {
    const subscriber = this.options.redis.subscriber();
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== clusterKeys.channelsChanged) return;
      const revision = parseRegistryNotification(message);
      // A message this node cannot read still says that something changed.
      onChange(revision);
    });
    // Every (re)connect of the subscriber may have missed notifications; of the command connection, writes.
    subscriber.on('ready', () => onChange(undefined));
    const offState = this.options.redis.onState((state) => {
      if (state === 'ready') onChange(undefined);
    });
    subscriber.subscribe(clusterKeys.channelsChanged).catch((err: unknown) => this.logger.warn({ err: errorMessage(err) }, 'registry notifications: subscribe failed, relying on re-reads'));
    let checking = false;
    const check = setInterval(() => {
      if (checking || this.options.redis.state !== 'ready') return;
      checking = true;
      this.client
        .get(clusterKeys.channelsRevision)
        // A revision other than the last one this node read or wrote — higher (a notification lost) or
        // lower (Redis lost its data) — calls for a full re-read.
        .then((revision) => {
          if (this.lastRevision !== undefined && (revision === null ? 0 : Number(revision)) !== this.lastRevision) onChange(undefined);
        })
        .catch(() => undefined)
        .finally(() => (checking = false));
    }, this.checkIntervalMs);
    check.unref();
    return () => {
      clearInterval(check);
      offState();
      subscriber.disconnect();
    };
  }

  /** Runs a Redis command; any failure of Redis itself becomes `Unavailable` (503 in the API). */
  private async command<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw unavailable(err);
    }
  }
}

function unavailable(cause: unknown): LivepipeError {
  return new LivepipeError(ErrorCode.Unavailable, 'the channel registry (Redis) does not answer: channel changes are refused until it is back', { cause });
}

function parseDefinition(id: string, text: string): ChannelConfig {
  const where = clusterKeys.channels;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new LivepipeError(ErrorCode.ConfigInvalid, `${where}: channel ${id}: not valid JSON`);
  }
  const parsed = channelSchema.safeParse(raw);
  if (!parsed.success) throw new LivepipeError(ErrorCode.ConfigInvalid, describeIssues(`${where}: channel ${id}`, parsed.error));
  if (parsed.data.id !== id) throw new LivepipeError(ErrorCode.ConfigInvalid, `${where}: ${id}: its definition names channel "${parsed.data.id}"`);
  return parsed.data;
}
