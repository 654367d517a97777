import type { EventBus } from '../core/event-bus.js';
import type { Logger } from '../core/logger.js';
import { IngestServer, type IngestServerOptions } from '../ingest/ingest-server.js';
import type { ChannelRegistry as IngestChannelRegistry } from '../ingest/publish-auth.js';
import type { IngestShedMetrics } from '../ingest/shed-reporter.js';
import { component, type Component } from './component.js';

export interface IngestSettings extends IngestServerOptions {
  bus: EventBus;
  logger: Logger;
  /** Who may publish what: the channel manager's view in `serve`, a fixed list in `livepipe ingest`. */
  channels: IngestChannelRegistry;
  /** Counts connections shed before publishing (floods); optional. */
  metrics?: IngestShedMetrics;
}

export interface BuiltIngest {
  server: IngestServer;
  /** `ingest`: RTMP then SRT; closed first on shutdown so no new publisher arrives. */
  component: Component;
}

/** RTMP and SRT listeners; publishes become feeds and `PublishStarted`/`PublishEnded` on the bus. */
export function buildIngest({ bus, logger, channels, metrics, ...options }: IngestSettings): BuiltIngest {
  const server = new IngestServer({ bus, logger, channels, ...(metrics !== undefined ? { metrics } : {}) }, options);
  return { server, component: component('ingest', server) };
}
