import type { Command } from 'commander';
import { defaultDependencies, runOrigin, type OriginCommandConfig, type StorageSpec } from '../app/origin-app.js';
import { ErrorCode, LivepipeError } from '../core/errors.js';
import { createRootLogger } from '../core/logger.js';
import { takeInheritedSockets } from './inherited-sockets.js';

// The composition is in src/app/origin-app.ts; tests import it from here too.
export { defaultDependencies, runOrigin, type OriginCommandConfig, type OriginDependencies, type StorageSpec } from '../app/origin-app.js';

/**
 * `livepipe origin (--data-dir <dir> | --storage s3://bucket/prefix) [--port 8080] [--host 127.0.0.1] [--ops-port 8081]`
 *
 * A standalone origin in front of what a packager (possibly on another machine) writes to storage.
 * It watches playlists with conditional GETs (see `StorageWatchSource` for the latency this costs
 * compared with the embedded origin of `livepipe serve` / `livepipe package --origin-port`).
 * `/healthz`, `/readyz` (storage reachable, origin listening) and `/metrics` are on the ops port,
 * apart from the port CDNs reach.
 *
 * Cluster mode (`--redis redis://…` or `LIVEPIPE_REDIS_URL`, the Redis of the `serve` nodes): held
 * requests are released on the writers' playlist notifications, and storage is polled only while
 * Redis is unreachable (`/readyz` says `degraded` then). See docs/cluster.md.
 */
export interface RawOriginOptions {
  dataDir?: string;
  storage?: string;
  port?: string;
  opsPort?: string;
  host?: string;
  corsOrigin?: string[];
  maxHeld?: string;
  cacheMb?: string;
  redis?: string;
  notifiedRereadMs?: string;
}

/** Validates command-line options (pure); `env` supplies `LIVEPIPE_REDIS_URL` when `--redis` is not given. */
export function parseOriginOptions(raw: RawOriginOptions, env: Record<string, string | undefined> = {}): OriginCommandConfig {
  const fail = (message: string): never => {
    throw new LivepipeError(ErrorCode.ConfigInvalid, message);
  };
  if ((raw.dataDir === undefined) === (raw.storage === undefined)) fail('give exactly one of --data-dir <dir> or --storage s3://bucket/prefix');
  let storage: StorageSpec;
  if (raw.dataDir !== undefined) {
    if (raw.dataDir.trim() === '') fail('--data-dir must not be empty');
    storage = { kind: 'fs', dir: raw.dataDir };
  } else {
    const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(raw.storage!);
    if (!m) fail(`--storage must look like s3://bucket/prefix, got ${JSON.stringify(raw.storage)}`);
    storage = { kind: 's3', bucket: m![1]!, prefix: (m![2] ?? '').replace(/\/+$/, '') };
  }
  const integer = (value: string | undefined, fallback: number, name: string, min: number, max: number): number => {
    if (value === undefined) return fallback;
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) fail(`${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(value)}`);
    return Number(value);
  };
  const cors = raw.corsOrigin;
  for (const origin of cors ?? []) {
    if (origin !== '*' && !/^https?:\/\/[^\s/]+$/.test(origin)) fail(`--cors-origin must be * or scheme://host[:port], got ${JSON.stringify(origin)}`);
  }
  const redis = raw.redis ?? (env.LIVEPIPE_REDIS_URL !== '' ? env.LIVEPIPE_REDIS_URL : undefined);
  // The same rule as the `cluster.redis` setting of serve.
  if (redis !== undefined && !/^rediss?:\/\/[^\s]+$/.test(redis)) fail('--redis (or LIVEPIPE_REDIS_URL) must be a redis:// or rediss:// URL');
  if (raw.notifiedRereadMs !== undefined && redis === undefined) fail('--notified-reread-ms needs --redis (or LIVEPIPE_REDIS_URL)');
  return {
    storage,
    host: raw.host ?? '127.0.0.1',
    port: integer(raw.port, 8080, '--port', 0, 65535),
    opsPort: integer(raw.opsPort, 8081, '--ops-port', 0, 65535),
    corsOrigins: cors === undefined || cors.length === 0 || cors.includes('*') ? '*' : cors,
    maxHeldRequests: integer(raw.maxHeld, 20_000, '--max-held', 1, 1_000_000),
    cacheMaxBytes: integer(raw.cacheMb, 256, '--cache-mb', 1, 65_536) * 1024 * 1024,
    ...(redis !== undefined ? { redis } : {}),
    ...(raw.notifiedRereadMs !== undefined ? { notifiedRereadMs: integer(raw.notifiedRereadMs, 5000, '--notified-reread-ms', 100, 3_600_000) } : {}),
  };
}

export function register(program: Command): void {
  program
    .command('origin')
    .description('Serve LL-HLS from storage to CDNs (blocking playlist reload, delta updates, preload hints)')
    .option('--data-dir <dir>', 'read from a local storage directory')
    .option('--storage <url>', 'read from S3: s3://bucket/prefix')
    .option('--port <n>', 'TCP port (default 8080)')
    .option('--ops-port <n>', 'TCP port of /healthz, /readyz and /metrics (default 8081)')
    .option('--host <h>', 'bind address of both ports (default 127.0.0.1)')
    .option('--cors-origin <origin...>', 'allowed CORS origins (default *)')
    .option('--max-held <n>', 'cap on concurrently held requests (default 20000)')
    .option('--cache-mb <n>', 'memory cache for parts, segments and playlists, MiB (default 256)')
    .option('--redis <url>', "cluster mode: the serve nodes' Redis (redis://[user:password@]host:port); playlists are read on notification, storage polled only while it is unreachable (default LIVEPIPE_REDIS_URL)")
    .option('--notified-reread-ms <n>', 'with --redis: re-read a watched playlist this often without a notification, a safety net (default 5000)')
    .action(async (raw: RawOriginOptions) => {
      const logger = createRootLogger();
      const config = { ...parseOriginOptions(raw, process.env), listenFd: takeInheritedSockets(logger).fds.origin };
      const deps = defaultDependencies();
      const stop = new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      await runOrigin(config, deps, logger, stop);
    });
}
