import { ApiServer, type ApiServerOptions } from '../../../src/api/api-server.js';
import { Metrics } from '../../../src/observability/metrics.js';
import type { ReadinessCheck } from '../../../src/api/readiness.js';
import type { ChannelManager } from '../../../src/channels/channel-manager.js';
import type { ChannelRegistry } from '../../../src/channels/channel-registry.js';
import type { ChannelConfig } from '../../../src/config/service-config.js';
import { captureLogger, type CapturedLogger } from '../logs/api-log-capture.js';
import { startServeFixture } from './serve-fixture.js';

/**
 * The ops API over the real channel stack: a `livepipe serve` composition (`startServeFixture`:
 * registry, channel manager, ingest, packager, filesystem storage, origin) on free loopback ports,
 * and an ApiServer in front of its channel manager whose token, limits, readiness checks, metrics
 * and log the test chooses (the log is kept in memory for the audit assertions).
 */
export interface ApiTestServer {
  server: ApiServer;
  base: string;
  registry: ChannelRegistry;
  channels: ChannelManager;
  metrics: Metrics;
  log: CapturedLogger;
  dataDir: string;
  /** Where a publisher of `channel` sends RTMP (the composition's ingest). */
  rtmpUrl(channel: string, key: string): string;
  close(): Promise<void>;
}

export interface ApiTestServerOptions {
  token?: string;
  configChannels?: ChannelConfig[];
  readiness?: ReadinessCheck[];
  bodyLimit?: number;
  /** Data directory (state file, media), kept on close; a fresh temporary one, removed on close, when absent. */
  dataDir?: string;
  /** Node process series in /metrics too (what a real scrape carries); off by default. */
  processMetrics?: boolean;
}

export async function startApiTestServer(options: ApiTestServerOptions = {}): Promise<ApiTestServer> {
  const serve = await startServeFixture({
    channels: options.configChannels ?? [],
    ...(options.dataDir !== undefined ? { dataDir: options.dataDir } : {}),
  });
  const log = captureLogger();
  const metrics = new Metrics({ processMetrics: options.processMetrics ?? false });
  const serverOptions: ApiServerOptions = {
    host: '127.0.0.1',
    port: 0,
    token: options.token,
    channels: serve.handle.manager,
    metrics,
    readiness: options.readiness ?? [],
    logger: log.logger,
  };
  if (options.bodyLimit !== undefined) serverOptions.bodyLimit = options.bodyLimit;
  const server = new ApiServer(serverOptions);
  try {
    await server.start();
  } catch (err) {
    await serve.close();
    throw err;
  }
  return {
    server,
    base: server.url,
    registry: serve.handle.registry,
    channels: serve.handle.manager,
    metrics,
    log,
    dataDir: serve.dataDir,
    rtmpUrl: (channel, key) => serve.rtmpUrl(channel, key),
    async close() {
      await server.close();
      await serve.close();
    },
  };
}
