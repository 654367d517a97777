import type { Command } from 'commander';
import { runIngest, type IngestCommandConfig } from '../app/ingest-app.js';
import { ErrorCode, LivepipeError } from '../core/errors.js';
import { isValidId } from '../core/ids.js';
import { createRootLogger } from '../core/logger.js';
import type { ChannelPublishSettings } from '../ingest/publish-auth.js';

// The composition is in src/app/ingest-app.ts; tests import it from here too.
export { runIngest, type IngestCommandConfig } from '../app/ingest-app.js';

/**
 * `livepipe ingest [--channel news:KEY]... [--srt news:9000:PASSPHRASE]... [--record DIR]`
 *
 * Runs only the ingest layer: useful to check that an encoder reaches livepipe (and with what), and
 * with `--record` to capture what it sends (one FLV or MPEG-TS file per publish, from its first
 * keyframe). Publishes are logged with codecs, resolution and bitrate.
 */
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
