import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { Command } from 'commander';
import { ApiServer, apiTokenFromEnv } from '../api/api-server.js';
import { Metrics } from '../api/metrics.js';
import { binaryReadinessCheck, listenersReadinessCheck, storageReadinessCheck } from '../api/readiness.js';
import { ChannelManager } from '../channels/channel-manager.js';
import { ChannelRegistry, defaultStateFile } from '../channels/channel-registry.js';
import { DEFAULT_LADDERS_DIR, listLadders, loadLadder } from '../config/ladder-loader.js';
import { isLoopbackHost, loadServiceConfig, type ConfigOverrides, type ServiceConfig } from '../config/service-config.js';
import { ErrorCode, LivepipeError, errorMessage } from '../core/errors.js';
import { EventBus } from '../core/event-bus.js';
import { createRootLogger, type Logger } from '../core/logger.js';
import { IngestServer } from '../ingest/ingest-server.js';
import { EmbeddedSource } from '../origin/embedded-source.js';
import { OriginServer } from '../origin/origin-server.js';
import { ChannelPackager } from '../package/channel-packager.js';
import { parseMediaPlaylist } from '../package/playlist-parser.js';
import { serializeMediaPlaylist } from '../package/playlist-serializer.js';
import { MeteredStorage } from '../storage/metered-storage.js';
import type { ObjectStorage } from '../storage/object-storage.js';
import { createStorage, parseStorageUrl } from '../storage/storage-url.js';
import { UploadQueue } from '../storage/upload-queue.js';
import { Admission } from '../transcode/admission.js';
import { parsePort } from './option-parsers.js';

/**
 * `livepipe serve`: the main job. One process runs ingest (RTMP, SRT), a supervised ladder and an
 * LL-HLS packager per live channel, the origin and the ops API, on embedded defaults (filesystem
 * storage in ./data, origin :8080, API :8081, RTMP :1935, SRT from :9000, all on 127.0.0.1).
 *
 * Start order: storage → channel registry → origin → channels → ingest → API. SIGTERM/SIGINT stops
 * in reverse: ingest first (no new publishers; live ones end), then the ladders (each packager
 * finishes its segment in flight and its uploads), then API, origin, registry, storage.
 */

export interface ServeFlags {
  config?: string;
  dataDir?: string;
  storage?: string;
  host?: string;
  originPort?: number;
  apiPort?: number;
  rtmpPort?: number;
  srtPort?: number;
  laddersDir: string;
  demo: boolean;
}

/** A running `serve`: for tests and for the CLI action. */
export interface ServeHandle {
  config: ServiceConfig;
  origin: OriginServer;
  api: ApiServer;
  ingest: IngestServer;
  manager: ChannelManager;
  /** The channel definitions (config file + ops API state file). */
  registry: ChannelRegistry;
  /** Stops everything in reverse order; idempotent. */
  close(): Promise<void>;
}

export async function startServe(config: ServiceConfig, logger: Logger, laddersDir = DEFAULT_LADDERS_DIR): Promise<ServeHandle> {
  const loopback = isLoopbackHost(config.host);
  // Checked again once the registry has loaded the channels made through the ops API (state file).
  const assertNotOpenOnPublicBind = (channelCount: number): void => {
    if (channelCount === 0 && !loopback && !config.allowOpenPublish) {
      throw new LivepipeError(
        ErrorCode.ConfigInvalid,
        `no channels are configured and the bind address ${config.host} is not loopback: open publishing would let anyone ` +
          'publish. Configure channels with keys (--config), bind 127.0.0.1, or set allowOpenPublish: true deliberately.',
      );
    }
  };
  const token = apiTokenFromEnv();
  if (token === undefined && !loopback) {
    throw new LivepipeError(ErrorCode.ConfigInvalid, `LIVEPIPE_API_TOKEN is required when binding ${config.host} (the ops API would be open)`);
  }
  const bus = new EventBus();
  const metrics = new Metrics();
  const knownLadders = new Set(await listLadders(laddersDir));
  const storage: ObjectStorage = new MeteredStorage(createStorage(parseStorageUrl(config.storage ?? resolve(config.dataDir)), logger), metrics);
  const registry = new ChannelRegistry({
    configChannels: config.channels,
    stateFile: defaultStateFile(resolve(config.dataDir)),
    logger,
    ladderExists: (name) => knownLadders.has(name),
  });
  // Until a channel has read its stored playlists back (after the origin starts listening), the origin
  // answers them from storage: every rendition from the first request after a restart.
  const source = new EmbeddedSource({ stored: { storage, parse: parseMediaPlaylist, logger } });
  const origin = new OriginServer({
    source,
    storage,
    render: (model, options) => serializeMediaPlaylist(model, options),
    logger,
    metrics,
    host: config.host,
    port: config.origin.port,
  });
  const admission = new Admission({ maxLadders: config.maxChannels });
  let ingest: IngestServer | undefined;
  const manager: ChannelManager = new ChannelManager({
    registry,
    ingest: {
      feed: (id) => ingest?.feed(id),
      kick: (id) => ingest?.kick(id) ?? false,
      publishUrls: (id, host) => ingest?.publishUrls(id, host) ?? {},
      channelsChanged: () => ingest?.channelsChanged() ?? Promise.resolve(),
    },
    bus,
    logger,
    loadLadder: (name) => loadLadder(name, laddersDir),
    createPackager: async (channel) => {
      const uploads = new UploadQueue(storage, bus, logger, { channel });
      const packager = new ChannelPackager({
        channel,
        storage,
        uploads,
        bus,
        logger,
        metrics,
        dvrWindowSeconds: config.dvrWindowSeconds,
        onPlaylist: (ch, rendition, model) => source.publish(ch, rendition, model),
      });
      await packager.start();
      return {
        attachRun: (run) => packager.attachRun(run),
        endStream: () => packager.endStream(),
        restore: () => packager.restore(),
        positions: () => packager.positions(),
        close: async () => {
          await packager.close();
          await uploads.close({ drainTimeoutMs: 10_000 });
        },
      };
    },
    admission,
    metrics,
    // A wildcard bind has no name of its own: views show localhost.
    publicHost: config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host,
    // The bound port: with `origin.port: 0` (any free port) the configured one says nothing.
    get originPort() {
      return origin.isListening() ? origin.address().port : config.origin.port;
    },
    reconnectGraceSeconds: config.reconnectGraceSeconds,
    srtPorts: { base: config.srt.portBase, count: config.srt.portCount },
  });
  ingest = new IngestServer(
    { bus, logger, channels: manager.ingestRegistry },
    { host: config.host, rtmp: { port: config.rtmp.port }, srt: {}, openOnAnyBind: config.allowOpenPublish },
  );
  const api = new ApiServer({
    host: config.host,
    port: config.api.port,
    token,
    channels: manager,
    metrics: { render: async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }) },
    readiness: [
      storageReadinessCheck(storage),
      binaryReadinessCheck('ffmpeg'),
      listenersReadinessCheck([
        { name: 'origin', isListening: () => origin.isListening() },
        { name: 'rtmp', isListening: () => ingest?.rtmp !== undefined && ingest.rtmp.port > 0 },
      ]),
    ],
    logger,
  });

  const started: Array<{ name: string; close(): Promise<unknown> }> = [];
  const closeAll = async (): Promise<void> => {
    for (const component of started.reverse()) {
      await component.close().catch((err: unknown) => logger.error({ component: component.name, err: errorMessage(err) }, 'close failed'));
    }
    started.length = 0;
    bus.removeAllListeners();
  };
  try {
    await storage.start();
    started.push({ name: 'storage', close: () => storage.close() });
    await registry.start();
    started.push({ name: 'registry', close: () => registry.close() });
    // Channels may come from the config file or from the state file of the ops API.
    assertNotOpenOnPublicBind(registry.list().length);
    await source.start();
    started.push({ name: 'origin-source', close: () => source.close() });
    await origin.start();
    started.push({ name: 'origin', close: () => origin.close() });
    started.push({ name: 'admission', close: () => admission.close() });
    await manager.open();
    started.push({ name: 'channels', close: () => manager.close() });
    await ingest.start();
    started.push({ name: 'ingest', close: () => ingest!.close() });
    await api.start();
    started.push({ name: 'api', close: () => api.close() });
  } catch (err) {
    await closeAll();
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    config,
    origin,
    api,
    ingest,
    manager,
    registry,
    close: () => (closing ??= closeAll()),
  };
}

/** What a person needs to publish and play, printed once at start. */
export function banner(handle: ServeHandle): string {
  const { config, manager } = handle;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '<this-host>' : config.host;
  const rtmpPort = handle.ingest.rtmp?.port ?? config.rtmp.port;
  const originPort = handle.origin.address().port;
  const channels = manager.list();
  const lines = ['', 'livepipe is running.', ''];
  if (channels.length === 0) {
    lines.push(
      'Open mode (no channels configured): publish any channel name from this machine, e.g. "demo":',
      `  ffmpeg -re -f lavfi -i testsrc2=size=1280x720:rate=30 -f lavfi -i sine -c:v libx264 -preset veryfast -tune zerolatency -g 60 -c:a aac -f flv rtmp://${host}:${rtmpPort}/live/demo`,
      `  OBS: Server rtmp://${host}:${rtmpPort}/live/demo   Stream Key: anything`,
      `  play: http://${host}:${originPort}/live/demo/master.m3u8`,
    );
  }
  for (const channel of channels) {
    lines.push(
      `channel ${channel.id} (ladder ${channel.ladder}):`,
      `  ffmpeg … -f flv "rtmp://${host}:${rtmpPort}/live/${channel.id}?key=<stream key>"`,
      `  OBS: Server rtmp://${host}:${rtmpPort}/live/${channel.id}   Stream Key: <stream key>`,
      ...(channel.urls.srt !== undefined ? [`  SRT: ${channel.urls.srt}`] : []),
      `  play: http://${host}:${originPort}/live/${channel.id}/master.m3u8`,
    );
  }
  lines.push('', `ops API: http://${host}:${handle.api.port}/api/v1/channels   metrics: /metrics   health: /healthz /readyz`, '');
  return lines.join('\n');
}

/** `--demo`: a generated test pattern published over RTMP, so `npm start` shows a live channel. */
function startDemoPublisher(handle: ServeHandle, logger: Logger): ChildProcess | undefined {
  const channels = handle.manager.list();
  if (channels.length > 0) {
    logger.warn('--demo publishes in open mode only (no channels configured); skipped');
    return undefined;
  }
  const host = isLoopbackHost(handle.config.host) ? handle.config.host : '127.0.0.1';
  const url = `rtmp://${host}:${handle.ingest.rtmp?.port ?? handle.config.rtmp.port}/live/demo`;
  const child = spawn(
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-g', '60', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '128k', '-f', 'flv', url],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  child.on('error', (err) => logger.error({ err: errorMessage(err) }, 'demo publisher failed'));
  process.stdout.write(`demo: publishing a 720p30 test pattern to ${url}\n  play it: ${handle.manager.urls('demo').playback}\n  or open it in any HLS player (Safari, hls.js demo page, ffplay, VLC)\n\n`);
  return child;
}

/** The flags that override the config file and the environment (only those given). */
export function configOverridesOf(flags: ServeFlags): ConfigOverrides {
  const overrides: ConfigOverrides = {};
  if (flags.dataDir !== undefined) overrides.dataDir = flags.dataDir;
  if (flags.storage !== undefined) overrides.storage = flags.storage;
  if (flags.host !== undefined) overrides.host = flags.host;
  if (flags.originPort !== undefined) overrides.originPort = flags.originPort;
  if (flags.apiPort !== undefined) overrides.apiPort = flags.apiPort;
  if (flags.rtmpPort !== undefined) overrides.rtmpPort = flags.rtmpPort;
  if (flags.srtPort !== undefined) overrides.srtPort = flags.srtPort;
  return overrides;
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('run livepipe: RTMP/SRT ingest, ABR ladders, LL-HLS packaging, origin and ops API')
    .option('--config <file>', 'YAML config (channels, ports, storage…)')
    .option('--data-dir <dir>', 'filesystem storage directory (default ./data)')
    .option('--storage <url>', 'object storage, e.g. s3://bucket/prefix (endpoint/credentials from the AWS SDK environment)')
    .option('--host <address>', 'bind address of every listener (default 127.0.0.1)')
    .option('--origin-port <port>', 'origin HTTP port (default 8080)', parsePort)
    .option('--api-port <port>', 'ops API port (default 8081)', parsePort)
    .option('--rtmp-port <port>', 'RTMP port (default 1935)', parsePort)
    .option('--srt-port <port>', 'first SRT listener port (default 9000)', parsePort)
    .option('--ladders-dir <dir>', 'ladder directory', DEFAULT_LADDERS_DIR)
    .option('--demo', 'also publish a generated test pattern to channel "demo" (open mode)', false)
    .action(async (flags: ServeFlags) => {
      const config = await loadServiceConfig(flags.config, process.env, configOverridesOf(flags));
      const logger = createRootLogger({ fd: 2 });
      const handle = await startServe(config, logger, flags.laddersDir);
      process.stdout.write(banner(handle));
      const demo = flags.demo ? startDemoPublisher(handle, logger) : undefined;
      await new Promise<void>((done) => {
        process.once('SIGINT', done);
        process.once('SIGTERM', done);
      });
      logger.info('shutting down: ingest, ladders (finishing segments and uploads), API, origin, storage');
      demo?.kill('SIGINT');
      // A bounded shutdown: a stuck component cannot keep the process alive forever.
      const deadline = setTimeout(() => {
        logger.error('shutdown took longer than 30 s: exiting');
        process.exit(1);
      }, 30_000);
      deadline.unref();
      await handle.close();
      clearTimeout(deadline);
    });
}
