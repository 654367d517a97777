import type { Command } from 'commander';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { EventBus, LivepipeEvent } from '../core/event-bus.js';
import { ErrorCode, LivepipeError, errorMessage } from '../core/errors.js';
import { isValidId } from '../core/ids.js';
import { createRootLogger, type Logger } from '../core/logger.js';
import { IngestServer } from '../ingest/ingest-server.js';
import { StaticChannelRegistry, type ChannelPublishSettings } from '../ingest/publish-auth.js';

/**
 * `livepipe ingest [--channel news:KEY]... [--srt news:9000:PASSPHRASE]... [--record DIR]`
 *
 * Runs only the ingest layer: useful to check that an encoder reaches livepipe (and with what), and
 * with `--record` to capture what it sends (one FLV or MPEG-TS file per publish, from its first
 * keyframe). Publishes are logged with codecs, resolution and bitrate.
 */
export interface IngestCommandConfig {
  host: string;
  /** What publishers are told to connect to; default the bind host. */
  publicHost: string;
  rtmpPort: number | false;
  channels: ChannelPublishSettings[];
  recordDir: string | undefined;
}

export interface RawIngestOptions {
  host?: string;
  publicHost?: string;
  rtmpPort?: string;
  rtmp?: boolean;
  channel?: string[];
  srt?: string[];
  srtLatency?: string;
  record?: string;
}

/** Validates command-line options (pure). */
export function parseIngestOptions(raw: RawIngestOptions): IngestCommandConfig {
  const fail = (message: string): never => {
    throw new LivepipeError(ErrorCode.ConfigInvalid, message);
  };
  const channels = new Map<string, ChannelPublishSettings>();
  for (const spec of raw.channel ?? []) {
    const colon = spec.indexOf(':');
    const id = colon < 0 ? spec : spec.slice(0, colon);
    const key = colon < 0 ? undefined : spec.slice(colon + 1);
    if (!isValidId(id)) fail(`--channel: "${id}" is not a valid channel id`);
    if (key === '') fail(`--channel ${id}: empty key (omit the colon for a keyless channel)`);
    if (channels.has(id)) fail(`--channel ${id} given twice`);
    channels.set(id, key === undefined ? { id } : { id, key });
  }
  const latency = raw.srtLatency === undefined ? undefined : Number(raw.srtLatency);
  if (latency !== undefined && (!Number.isInteger(latency) || latency < 0 || latency > 60_000)) fail(`--srt-latency must be an integer number of ms in [0, 60000]`);
  for (const spec of raw.srt ?? []) {
    const m = /^([^:]+):(\d{1,5}):(.+)$/.exec(spec);
    if (m === null) fail(`--srt must look like CHANNEL:PORT:PASSPHRASE, got ${JSON.stringify(spec.replace(/:[^:]*$/, ':…'))}`);
    const [, id, port, passphrase] = m!;
    if (!isValidId(id!)) fail(`--srt: "${id}" is not a valid channel id`);
    const channel = channels.get(id!) ?? { id: id! };
    if (channel.srt !== undefined) fail(`--srt ${id} given twice`);
    channel.srt = { port: Number(port), passphrase: passphrase!, ...(latency === undefined ? {} : { latencyMs: latency }) };
    channels.set(id!, channel);
  }
  let rtmpPort: number | false = false;
  if (raw.rtmp !== false) {
    const port = raw.rtmpPort === undefined ? 1935 : Number(raw.rtmpPort);
    if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--rtmp-port must be an integer in [0, 65535], got ${JSON.stringify(raw.rtmpPort)}`);
    rtmpPort = port;
  }
  const host = raw.host ?? '127.0.0.1';
  return { host, publicHost: raw.publicHost ?? host, rtmpPort, channels: [...channels.values()], recordDir: raw.record };
}

/** Runs ingest until `signal` aborts. Resolves once everything is closed and recordings are flushed. */
export async function runIngest(config: IngestCommandConfig, logger: Logger, signal: AbortSignal): Promise<void> {
  const bus = new EventBus();
  const server = new IngestServer(
    { bus, logger, channels: new StaticChannelRegistry(config.channels) },
    { host: config.host, rtmp: config.rtmpPort === false ? false : { port: config.rtmpPort }, srt: {} },
  );
  const recordings = new Set<Promise<void>>();
  if (config.recordDir !== undefined) await mkdir(config.recordDir, { recursive: true });
  bus.on(LivepipeEvent.PublishStarted, ({ channel }) => {
    const feed = server.feed(channel);
    if (feed === undefined) return;
    // Codecs and size arrive with the first tags: report them a moment later.
    setTimeout(() => logger.info({ publisher: feed.info() }, 'publisher details'), 3000).unref();
    if (config.recordDir === undefined) return;
    const file = join(config.recordDir, `${channel}-${new Date().toISOString().replace(/[:.]/g, '-')}.${feed.format === 'flv' ? 'flv' : 'ts'}`);
    const recording = pipeline(feed.open(), createWriteStream(file))
      .then(() => logger.info({ channel, file }, 'recording closed'))
      .catch((err: unknown) => logger.error({ channel, file, err: errorMessage(err) }, 'recording failed'));
    recordings.add(recording);
    void recording.finally(() => recordings.delete(recording));
  });
  await server.start();
  for (const c of config.channels.length > 0 ? config.channels : [{ id: '{channel}' }]) {
    logger.info({ channel: c.id, ...server.publishUrls(c.id, config.publicHost) }, 'publish to');
  }
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
  await server.close();
  await Promise.all([...recordings]);
}

export function register(program: Command): void {
  program
    .command('ingest')
    .description('run only the RTMP/SRT ingest: check what encoders send, optionally record it')
    .option('--host <address>', 'bind address (open mode and keyless channels need loopback)', '127.0.0.1')
    .option('--public-host <name>', 'host name shown in publish URLs (default: the bind address)')
    .option('--rtmp-port <port>', 'RTMP port', '1935')
    .option('--no-rtmp', 'disable RTMP')
    .option('--channel <id[:key]>', 'a channel and its RTMP stream key (repeatable); none = open mode on loopback', collect, [])
    .option('--srt <id:port:passphrase>', 'an SRT listener for a channel (repeatable)', collect, [])
    .option('--srt-latency <ms>', 'SRT latency in ms (default 120)')
    .option('--record <dir>', 'write every publish to a file in this directory')
    .action(async (raw: RawIngestOptions) => {
      const config = parseIngestOptions(raw);
      // Logs go to stderr; nothing else is printed.
      const logger = createRootLogger({ fd: 2 });
      const controller = new AbortController();
      const stop = () => controller.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        await runIngest(config, logger, controller.signal);
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    });
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
