import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiServer, type ApiServerOptions } from '../../src/api/api-server.js';
import { Metrics } from '../../src/api/metrics.js';
import type { ReadinessCheck } from '../../src/api/readiness.js';
import { ChannelRegistry, defaultStateFile } from '../../src/channels/channel-registry.js';
import type { ChannelConfig } from '../../src/config/service-config.js';
import { captureLogger, type CapturedLogger } from './api-log-capture.js';
import { FakeChannelService } from './fake-channel-service.js';

/** A real ApiServer on 127.0.0.1:0 over a real ChannelRegistry (temp dir) and the test-only channel service. */
export interface ApiTestServer {
  server: ApiServer;
  base: string;
  registry: ChannelRegistry;
  service: FakeChannelService;
  metrics: Metrics;
  log: CapturedLogger;
  dataDir: string;
  close(): Promise<void>;
}

export interface ApiTestServerOptions {
  token?: string;
  configChannels?: ChannelConfig[];
  readiness?: ReadinessCheck[];
  bodyLimit?: number;
  dataDir?: string;
  ladders?: string[];
}

export async function startApiTestServer(options: ApiTestServerOptions = {}): Promise<ApiTestServer> {
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'livepipe-api-')));
  const log = captureLogger();
  const ladders = options.ladders;
  const registry = new ChannelRegistry({
    configChannels: options.configChannels ?? [],
    stateFile: defaultStateFile(dataDir),
    logger: log.logger,
    ...(ladders ? { ladderExists: (name: string) => ladders.includes(name) } : {}),
  });
  await registry.start();
  const service = new FakeChannelService(registry);
  const metrics = new Metrics({ processMetrics: false });
  const serverOptions: ApiServerOptions = {
    host: '127.0.0.1',
    port: 0,
    token: options.token,
    channels: service,
    metrics,
    readiness: options.readiness ?? [],
    logger: log.logger,
  };
  if (options.bodyLimit !== undefined) serverOptions.bodyLimit = options.bodyLimit;
  const server = new ApiServer(serverOptions);
  await server.start();
  return {
    server,
    base: server.url,
    registry,
    service,
    metrics,
    log,
    dataDir,
    async close() {
      await server.close();
      await registry.close();
      if (ownDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
