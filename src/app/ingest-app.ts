import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { errorMessage } from '../core/errors.js';
import { EventBus, LivepipeEvent } from '../core/event-bus.js';
import type { Logger } from '../core/logger.js';
import type { IngestFeed } from '../ingest/ingest-feed.js';
import { StaticChannelRegistry, type ChannelPublishSettings } from '../ingest/publish-auth.js';
import { buildIngest } from './build-ingest.js';
import { ComponentRunner } from './component-runner.js';
import { component, type Component } from './component.js';

/**
 * `livepipe ingest`, composed: the ingest layer alone, to check that an encoder reaches livepipe
 * (and with what), and with a record directory to capture what it sends.
 *
 * Start order: event bus → publish recorder → ingest; stopped in reverse (ingest first, so every
 * recording sees its publish end, then the recordings are flushed).
 */
export interface IngestCommandConfig {
  host: string;
  /** What publishers are told to connect to; default the bind host. */
  publicHost: string;
  rtmpPort: number | false;
  channels: ChannelPublishSettings[];
  recordDir: string | undefined;
}

/**
 * Logs each publisher's details (codecs and size arrive with the first tags: a moment after the
 * publish starts) and, with a record directory, writes every publish to one FLV or MPEG-TS file
 * from its first keyframe. `close()` waits for the recordings to be flushed.
 */
function publishRecorder(bus: EventBus, feeds: { feed(channel: string): IngestFeed | undefined }, recordDir: string | undefined, logger: Logger): Component {
  const recordings = new Set<Promise<void>>();
  let unsubscribe: (() => void) | undefined;
  return component('publish-recorder', {
    async start() {
      if (recordDir !== undefined) await mkdir(recordDir, { recursive: true });
      unsubscribe = bus.on(LivepipeEvent.PublishStarted, ({ channel }) => {
        const feed = feeds.feed(channel);
        if (feed === undefined) return;
        setTimeout(() => logger.info({ publisher: feed.info() }, 'publisher details'), 3000).unref();
        if (recordDir === undefined) return;
        const file = join(recordDir, `${channel}-${new Date().toISOString().replace(/[:.]/g, '-')}.${feed.format === 'flv' ? 'flv' : 'ts'}`);
        const recording = pipeline(feed.open(), createWriteStream(file))
          .then(() => logger.info({ channel, file }, 'recording closed'))
          .catch((err: unknown) => logger.error({ channel, file, err: errorMessage(err) }, 'recording failed'));
        recordings.add(recording);
        void recording.finally(() => recordings.delete(recording));
      });
    },
    async close() {
      unsubscribe?.();
      await Promise.all([...recordings]);
    },
  });
}

/** Runs ingest until `signal` aborts. Resolves once everything is closed and recordings are flushed. */
export async function runIngest(config: IngestCommandConfig, logger: Logger, signal: AbortSignal): Promise<void> {
  const bus = new EventBus();
  const ingest = buildIngest({
    bus,
    logger,
    channels: new StaticChannelRegistry(config.channels),
    host: config.host,
    rtmp: config.rtmpPort === false ? false : { port: config.rtmpPort },
    srt: {},
  });
  const runner = new ComponentRunner({ logger });
  try {
    await runner.start(
      component('event-bus', { close: () => bus.removeAllListeners() }),
      publishRecorder(bus, ingest.server, config.recordDir, logger),
      ingest.component,
    );
    for (const c of config.channels.length > 0 ? config.channels : [{ id: '{channel}' }]) {
      logger.info({ channel: c.id, ...ingest.server.publishUrls(c.id, config.publicHost) }, 'publish to');
    }
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
    });
  } finally {
    await runner.close();
  }
}
