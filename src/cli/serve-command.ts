import { spawn, type ChildProcess } from 'node:child_process';
import { Command } from 'commander';
import { startServe, type ServeHandle } from '../app/serve-app.js';
import { DEFAULT_LADDERS_DIR } from '../ladder/ladder-loader.js';
import { isLoopbackHost, loadServiceConfig, type ConfigOverrides } from '../config/service-config.js';
import { errorMessage } from '../core/errors.js';
import { createRootLogger, type Logger } from '../core/logger.js';
import { takeInheritedSockets } from './inherited-sockets.js';
import { parsePort } from './option-parsers.js';

// The composition moved to src/app/serve-app.ts; test fixtures and scripts import it from here too.
export { startServe, type ServeHandle } from '../app/serve-app.js';

/**
 * `livepipe serve`: the main job. One process runs ingest (RTMP, SRT), a supervised ladder and an
 * LL-HLS packager per live channel, the origin and the ops API, on embedded defaults (filesystem
 * storage in ./data, origin :8080, API :8081, RTMP :1935, SRT from :9000, all on 127.0.0.1).
 * This file parses the flags, prints the banner and handles the signals; `startServe`
 * (src/app/serve-app.ts) builds the stack and tears it down in reverse.
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
  lines.push(
    '',
    `console: http://${host}:${handle.api.port}/`,
    `ops API: http://${host}:${handle.api.port}/api/v1/channels   metrics: /metrics   health: /healthz /readyz`,
    '',
  );
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
      const sockets = takeInheritedSockets(logger);
      const handle = await startServe(config, logger, flags.laddersDir, { originFd: sockets.fds.origin });
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
