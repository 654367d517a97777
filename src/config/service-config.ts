import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ErrorCode, LivepipeError } from '../core/errors.js';
import { AudioTrackListSchema } from '../core/audio-track-schema.js';
import { ID_PATTERN, foldId } from '../core/ids.js';

/**
 * The configuration of `livepipe serve`: defaults → YAML file → environment → command-line flags →
 * zod validation → frozen snapshot. Every setting is documented here with its default.
 */

/** SRT settings of one channel. Exported for the channel registry and the ops API (one schema, one truth). */
export const channelSrtSchema = z
  .object({
    /** UDP port of this channel's SRT listener; omitted = allocated from `srt.portBase`…`portCount`. */
    port: z.number().int().min(1).max(65535).optional().describe('UDP port of the SRT listener; omitted = allocated from the configured range'),
    /** AES passphrase, 10–79 characters (libsrt's limits). */
    passphrase: z.string().min(10).max(79).describe('AES passphrase, 10-79 characters'),
    /** SRT receiver latency in milliseconds (default 120). */
    latencyMs: z.number().int().min(20).max(8000).default(120).describe('SRT receiver latency in milliseconds (default 120)'),
    /**
     * UDP port of a second listener whose caller is the channel's BACKUP input (docs/inputs.md; the
     * channel needs an `inputs:` block). Same passphrase and latency. Omitted: no SRT backup.
     */
    backupPort: z.number().int().min(1).max(65535).optional().describe("UDP port of a second SRT listener: its caller is the channel's backup input (needs an inputs block)"),
  })
  .strict();

/**
 * A channel's inputs beyond its one pushed publisher (docs/inputs.md): a backup, the slate, pulled
 * sources. Present = the channel plays out through the input selector (switches without restarting
 * the encoder); absent = one publisher, and a publisher that leaves ends the stream after
 * `reconnectGraceSeconds`. Exported for the registry and the ops API.
 */
export const channelInputsSchema = z
  .object({
    /** The active input delivered no video for this long: switch to the next healthy one (default 700 ms). */
    inputLossMs: z.number().int().min(100).max(10_000).default(700).describe('No video from the active input for this many ms: switch (default 700)'),
    /** `auto`: back to the primary once healthy for `failbackSeconds`; `manual`: only on an operator's command. */
    failback: z.enum(['auto', 'manual']).default('auto').describe('auto: return to the primary once it is healthy for failbackSeconds; manual: only on POST .../input'),
    /** Seconds the primary must be healthy before an automatic failback (default 5). */
    failbackSeconds: z.number().min(0).max(3600).default(5).describe('Seconds the primary must be healthy before an automatic failback (default 5)'),
    /** Seconds of slate, no input healthy, before the stream ends with EXT-X-ENDLIST (default 600). */
    slateSeconds: z.number().min(0).max(86_400).default(600).describe('Seconds of slate with no healthy input before EXT-X-ENDLIST (default 600)'),
    /** A picture shown as the slate; default a generated card with the channel's name. */
    slateImage: z.string().min(1).max(4096).optional().describe('Picture file shown as the slate; default a card with the channel name'),
    /** A URL livepipe pulls as the primary input (RTMP, SRT caller, HLS, RTSP, anything ffmpeg reads). */
    source: z.string().min(1).max(4096).optional().describe('URL pulled as the primary input (rtmp://, srt://…?mode=caller, https://….m3u8, rtsp://, any ffmpeg URL)'),
    /** A URL livepipe pulls as the backup input. */
    backupSource: z.string().min(1).max(4096).optional().describe('URL pulled as the backup input'),
  })
  .strict();

export type ChannelInputsConfig = z.infer<typeof channelInputsSchema>;

/**
 * One channel definition, as in the YAML `channels:` list. Exported: the channel registry validates
 * API-made channels and its state file with it, and the ops API documents it in OpenAPI.
 */
export const channelSchema = z
  .object({
    /**
     * Channel id: the path segment in `rtmp://…/live/{id}` and `/live/{id}/master.m3u8`. Case is kept
     * and matched exactly, but two ids that differ only in letter case cannot both exist (`foldId`).
     */
    id: z
      .string()
      .regex(ID_PATTERN, 'letters, digits, _ and - only, starting with a letter or digit, ≤ 64 chars')
      .describe('Channel id: letters, digits, _ and -, starting with a letter or digit, at most 64 characters'),
    /** Ladder name from ladders/ (default `default`). */
    ladder: z.string().regex(ID_PATTERN).default('default').describe('Ladder name from ladders/ (default "default")'),
    /** Publish key (RTMP `?key=` or OBS stream key). At least 16 characters: it is the only credential. */
    key: z
      .string()
      .min(16, 'stream keys must be at least 16 characters')
      .max(256)
      .describe('Publish key (RTMP ?key= or OBS stream key), 16-256 characters'),
    /** SRT listener for this channel; omitted = a port is allocated from `srt.portRange`. */
    srt: channelSrtSchema.optional(),
    /** Backup input, slate and pulled sources (docs/inputs.md); omitted = one pushed publisher. */
    inputs: channelInputsSchema.optional(),
    /**
     * The source audio tracks this channel publishes, with language, name and default (docs/on-air.md
     * "Audio languages"); replaces the ladder's `audioTracks` when set. Omitted: the ladder's list, else
     * every decodable source audio track.
     */
    audioTracks: AudioTrackListSchema.optional().describe("Source audio tracks to publish ({ track, language, name, default }); replaces the ladder's audioTracks"),
  })
  .strict();

export type ChannelConfig = z.infer<typeof channelSchema>;

/**
 * One webhook receiver (`webhooks:` list; README "Webhooks"). Each gets the channel, publish and
 * transcoder events as signed JSON POSTs, retried with backoff on a bounded queue; the dispatcher
 * (`notify/webhook-dispatcher.ts`) checks the event names when serve starts.
 */
export const webhookSchema = z
  .object({
    /** http(s) URL the events are POSTed to. */
    url: z.string().url().regex(/^https?:\/\//i, 'http:// or https:// only'),
    /** HMAC-SHA256 key of `X-Livepipe-Signature`, at least 16 characters. Never logged. */
    secret: z.string().min(16, 'webhook secrets must be at least 16 characters').max(256),
    /**
     * The event types this receiver wants (`channel.live`, `channel.idle`, `channel.failed`,
     * `channel.reconnecting`, `channel.stopped`, `publish.started`, `publish.ended`,
     * `publish.refused`, `transcoder.restarting`); omitted = all of them.
     */
    events: z.array(z.string().regex(/^[a-z]+\.[a-z]+$/)).min(1).optional(),
  })
  .strict();

export type WebhookConfig = z.infer<typeof webhookSchema>;

const clusterSchema = z
  .object({
    /** `redis://[user:password@]host:port[/db]` or `rediss://…` (TLS). */
    redis: z.string().regex(/^rediss?:\/\/[^\s]+$/, 'a redis:// or rediss:// URL'),
    /** This node's id in the cluster; unset = derived from the host name and the ops API port. */
    nodeId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'letters, digits, ".", "_" and "-", at most 63').optional(),
    /**
     * The per-channel writer lease (docs/cluster-leases.md). Failover after a node's loss takes at most
     * `ttlMs` (a standby tries the moment the lease expires) + the new writer's start (ffmpeg, first
     * part). Shorter leases fail over sooner but take a channel away from a node whose event loop or
     * Redis stalls for about `ttlMs`.
     */
    lease: z
      .object({
        /** Expiry of a lease without renewal, ms (default 1200). */
        ttlMs: z.number().int().min(300).max(60_000).default(1200),
        /** How often the holder renews it, ms (default 300; at most (ttlMs − safetyMarginMs) / 2). */
        renewIntervalMs: z.number().int().min(50).max(30_000).default(300),
        /**
         * The holder stops writing this long before the TTL runs out, counted from when its last
         * confirmed renewal was sent, ms (default 300).
         */
        safetyMarginMs: z.number().int().min(0).max(30_000).default(300),
      })
      .strict()
      .refine((l) => 2 * l.renewIntervalMs <= l.ttlMs - l.safetyMarginMs, 'renewIntervalMs must be at most (ttlMs − safetyMarginMs) / 2')
      .default({ ttlMs: 1200, renewIntervalMs: 300, safetyMarginMs: 300 }),
  })
  .strict();

export type ClusterConfig = z.infer<typeof clusterSchema>;

const hostSchema = z.string().min(1);
const portSchema = z.number().int().min(0).max(65535);

export const serviceConfigSchema = z
  .object({
    /** Bind address of every listener (default 127.0.0.1: nothing is exposed unless asked). */
    host: hostSchema.default('127.0.0.1'),
    /** Local storage directory (the embedded default, `./data`). Ignored when `storage` is set. */
    dataDir: z.string().min(1).default('./data'),
    /** Object storage URL, e.g. `s3://bucket/prefix`; unset = filesystem under `dataDir`. */
    storage: z.string().optional(),
    origin: z.object({ port: portSchema.default(8080) }).strict().default({ port: 8080 }),
    api: z.object({ port: portSchema.default(8081) }).strict().default({ port: 8081 }),
    rtmp: z
      .object({
        port: portSchema.default(1935),
        /**
         * Flood resistance (docs/ingest.md, "Floods"). Milliseconds a connection has to be publishing
         * with its key checked (handshake, connect, publish) before it is closed (default 5000).
         */
        publishTimeoutMs: z.number().int().min(500).max(120_000).default(5000),
        /** Connections in all, publishers included (default 1024). */
        maxConnections: z.number().int().min(1).max(1_000_000).default(1024),
        /** Connections not yet publishing; beyond it a new one evicts a stalled one (default 256). */
        maxPendingConnections: z.number().int().min(1).max(1_000_000).default(256),
        /** Connections not yet publishing from one address or IPv6 /64 (default 32). */
        maxPendingPerAddress: z.number().int().min(1).max(1_000_000).default(32),
      })
      .strict()
      .default({ port: 1935, publishTimeoutMs: 5000, maxConnections: 1024, maxPendingConnections: 256, maxPendingPerAddress: 32 }),
    srt: z
      .object({
        /** First port of the per-channel SRT listener range (default 9000). */
        portBase: portSchema.default(9000),
        /** How many ports the range holds (default 100). */
        portCount: z.number().int().min(1).max(10_000).default(100),
      })
      .strict()
      .default({ portBase: 9000, portCount: 100 }),
    /** Seconds a channel waits for its publisher to come back before ending the stream (default 10). */
    reconnectGraceSeconds: z.number().min(0).max(3600).default(10),
    /**
     * Seconds a channel's encoder may keep failing, its publisher connected and no run healthy
     * (encoding for 5 s) in between, before the channel ends the stream with EXT-X-ENDLIST so that
     * players and blocking playlist requests get an answer instead of waiting for parts that do not
     * come (default 60). The encoder keeps being restarted (every ≤ 2 s) all the same: a run that produces
     * media again continues the same playlists after a discontinuity. The first restart after a
     * crash is immediate whatever this is.
     */
    encoderGiveUpSeconds: z.number().min(1).max(24 * 3600).default(60),
    /** Seconds of media kept in the live playlists (DVR window, default 30). */
    dvrWindowSeconds: z.number().min(6).max(6 * 3600).default(30),
    /**
     * Open mode: with no channels configured, publishing to any channel name creates it with the
     * `default` ladder. Allowed on loopback binds only, unless `allowOpenPublish` is true.
     */
    allowOpenPublish: z.boolean().default(false),
    /** Node-wide caps enforced by admission control. */
    maxChannels: z.number().int().min(1).max(1000).default(8),
    /**
     * Cost-based admission and the below-realtime policy (docs/capacity.md). A channel is admitted
     * when its ladder's cost (cores at realtime: measured on this node, seeded from ladders/costs.json)
     * fits in `cores × headroom` minus what the running channels cost.
     */
    capacity: z
      .object({
        /** Cost-based admission on (default) or off (only `maxChannels` limits). */
        enabled: z.boolean().default(true),
        /** CPU cores ladders may use (default: all the node has, `os.availableParallelism()`). */
        cores: z.number().positive().max(4096).optional(),
        /** Fraction of `cores` admission fills (default 0.9: the packager, origin and Node need the rest). */
        headroom: z.number().gt(0).max(1).default(0.9),
        /**
         * What happens while a live channel runs behind realtime: `warn` (default) flags it (state
         * reason `behind: …`, `livepipe_channel_behind`, the alert) and keeps admitting channels that
         * fit; `refuse-new` also refuses every new channel until none is behind; `cheaper-preset`
         * restarts the channel's encoder with x264 presets one step faster each time it is flagged
         * (down to ultrafast); `drop-top-rendition` restarts it without its highest rendition each time
         * (down to one). Applies with cost-based admission off too.
         */
        behindPolicy: z.enum(['warn', 'refuse-new', 'cheaper-preset', 'drop-top-rendition']).default('warn'),
        /** Edge lag behind arrival (s) that flags a channel behind by itself (default 3). */
        behindLagSeconds: z.number().min(0.5).max(600).default(3),
      })
      .strict()
      .default({ enabled: true, headroom: 0.9, behindPolicy: 'warn', behindLagSeconds: 3 }),
    /**
     * How many channels may be defined at once (default 256): config-file channels, channels made
     * through the ops API, and open-mode channels alike. Creating one more is refused (`409
     * LIMIT_REACHED`); a publish that would create an open-mode channel is refused. Every definition
     * costs a little memory, a state-file entry and, while live, metric series; `maxChannels` caps
     * how many run ladders at once.
     */
    maxChannelDefinitions: z.number().int().min(1).max(100_000).default(256),
    channels: z.array(channelSchema).default([]),
    /** Webhook receivers (default none). At most 16: each has its own queue and delivery loop. */
    webhooks: z.array(webhookSchema).max(16).default([]),
    /**
     * Cluster mode (unset = one node on its own, no Redis). Several `serve` nodes and standalone
     * origins that name the same Redis share the channel registry, hold one writer lease per
     * channel and notify origins of playlist updates. `LIVEPIPE_REDIS_URL` / `LIVEPIPE_NODE_ID` set it too.
     */
    cluster: clusterSchema.optional(),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const seen = new Map<string, string>();
    cfg.channels.forEach((ch, i) => {
      const first = seen.get(foldId(ch.id));
      if (first === ch.id) ctx.addIssue({ code: 'custom', path: ['channels', i, 'id'], message: `duplicate channel id "${ch.id}"` });
      else if (first !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['channels', i, 'id'], message: `channel id "${ch.id}" differs from "${first}" only in letter case` });
      } else seen.set(foldId(ch.id), ch.id);
    });
    if (cfg.channels.length > cfg.maxChannelDefinitions) {
      ctx.addIssue({
        code: 'custom',
        path: ['channels'],
        message: `${cfg.channels.length} channels configured, more than maxChannelDefinitions (${cfg.maxChannelDefinitions})`,
      });
    }
  });

export type ServiceConfig = Readonly<z.infer<typeof serviceConfigSchema>>;

/** Flags that override file and environment (only those the user passed). */
export interface ConfigOverrides {
  host?: string;
  dataDir?: string;
  storage?: string;
  originPort?: number;
  apiPort?: number;
  rtmpPort?: number;
  srtPort?: number;
}

export function isLoopbackHost(host: string): boolean {
  return host === '127.0.0.1' || host === '::1' || host === 'localhost' || /^127\./.test(host);
}

/** Formats zod issues as `path: reason` lines, prefixed with where the config came from. */
export function describeIssues(source: string, error: z.ZodError): string {
  return error.issues
    .map((issue) => `${source}: ${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`)
    .join('\n');
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    node = (typeof next === 'object' && next !== null ? next : (node[key] = {})) as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

const ENV_MAP: Array<[string, string[], 'string' | 'number']> = [
  ['LIVEPIPE_HOST', ['host'], 'string'],
  ['LIVEPIPE_DATA_DIR', ['dataDir'], 'string'],
  ['LIVEPIPE_STORAGE', ['storage'], 'string'],
  ['LIVEPIPE_ORIGIN_PORT', ['origin', 'port'], 'number'],
  ['LIVEPIPE_API_PORT', ['api', 'port'], 'number'],
  ['LIVEPIPE_RTMP_PORT', ['rtmp', 'port'], 'number'],
  ['LIVEPIPE_SRT_PORT', ['srt', 'portBase'], 'number'],
  ['LIVEPIPE_REDIS_URL', ['cluster', 'redis'], 'string'],
  ['LIVEPIPE_NODE_ID', ['cluster', 'nodeId'], 'string'],
];

/** The environment variables the service config reads (deployment files are checked against them). */
export const SERVICE_CONFIG_ENV_VARS: readonly string[] = ENV_MAP.map(([name]) => name);

/** Pure: merges a parsed file object, environment and overrides, validates, and freezes. */
export function buildServiceConfig(
  fileObject: unknown,
  env: Record<string, string | undefined>,
  overrides: ConfigOverrides,
  source = 'config',
): ServiceConfig {
  if (fileObject !== undefined && (typeof fileObject !== 'object' || fileObject === null || Array.isArray(fileObject))) {
    throw new LivepipeError(ErrorCode.ConfigInvalid, `${source}: (root): expected a mapping of settings`);
  }
  const merged: Record<string, unknown> = structuredClone((fileObject ?? {}) as Record<string, unknown>);
  for (const [name, path, type] of ENV_MAP) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    setPath(merged, path, type === 'number' ? Number(raw) : raw);
  }
  const flagPaths: Array<[keyof ConfigOverrides, string[]]> = [
    ['host', ['host']],
    ['dataDir', ['dataDir']],
    ['storage', ['storage']],
    ['originPort', ['origin', 'port']],
    ['apiPort', ['api', 'port']],
    ['rtmpPort', ['rtmp', 'port']],
    ['srtPort', ['srt', 'portBase']],
  ];
  for (const [flag, path] of flagPaths) {
    if (overrides[flag] !== undefined) setPath(merged, path, overrides[flag]);
  }
  const result = serviceConfigSchema.safeParse(merged);
  if (!result.success) throw new LivepipeError(ErrorCode.ConfigInvalid, describeIssues(source, result.error));
  return deepFreeze(result.data);
}

/** Reads the YAML file (if any), then `buildServiceConfig`. */
export async function loadServiceConfig(
  file: string | undefined,
  env: Record<string, string | undefined> = process.env,
  overrides: ConfigOverrides = {},
): Promise<ServiceConfig> {
  let fileObject: unknown;
  if (file !== undefined) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new LivepipeError(ErrorCode.ConfigInvalid, `${file}: cannot read: ${(err as Error).message}`);
    }
    try {
      fileObject = parseYaml(text);
    } catch (err) {
      throw new LivepipeError(ErrorCode.ConfigInvalid, `${file}: not valid YAML: ${(err as Error).message}`);
    }
  }
  return buildServiceConfig(fileObject, env, overrides, file ?? 'config');
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
