import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { resolve } from 'node:path';
import { DEFAULT_LADDERS_DIR, loadLadder } from '../config/ladder-loader.js';
import { errorMessage } from '../core/errors.js';
import { EventBus } from '../core/event-bus.js';
import { isValidId } from '../core/ids.js';
import { createRootLogger } from '../core/logger.js';
import { ChannelPackager } from '../package/channel-packager.js';
import { parseMediaPlaylist } from '../package/playlist-parser.js';
import { serializeMediaPlaylist } from '../package/playlist-serializer.js';
import { EmbeddedSource } from '../origin/embedded-source.js';
import { OriginServer } from '../origin/origin-server.js';
import { createStorage, parseStorageUrl } from '../storage/storage-url.js';
import { UploadQueue } from '../storage/upload-queue.js';
import type { InputSpec } from '../transcode/input-spec.js';
import { TranscoderSupervisor } from '../transcode/transcoder-supervisor.js';
import { parsePort, positive } from './option-parsers.js';

/**
 * `livepipe package --input <file-or-url> --channel <id> [--ladder <name>] [--data-dir <dir> |
 *  --storage s3://bucket/prefix] [--duration <s>] [--origin-port <n>]`
 *
 * Transcoder + LL-HLS packager on any ffmpeg-readable input (files at native rate, as live), writing
 * `live/{channel}/…` to storage; with `--origin-port`, also serves the channel (embedded origin:
 * blocking reloads are released in-process the moment a part is stored). Runs until the input ends,
 * the duration passes, or SIGINT/SIGTERM; then finishes the segment in flight and the uploads.
 */

interface PackageOptions {
  input: string;
  inputFormat?: string;
  channel: string;
  ladder: string;
  laddersDir: string;
  dataDir?: string;
  storage?: string;
  duration?: number;
  originPort?: number;
  host: string;
  dvrWindow?: number;
  realtime: boolean;
}

export function register(program: Command): void {
  program
    .command('package')
    .description('transcode an input with a ladder and package it as LL-HLS into storage (optionally serving it)')
    .requiredOption('--input <file-or-url>', 'input file or URL (read at native rate, as live)')
    .option('--input-format <format>', 'force the input demuxer (flv, mpegts, lavfi, …)')
    .requiredOption('--channel <id>', 'channel id: objects go to live/{channel}/')
    .option('--ladder <name>', 'ladder name (see `livepipe ladders list`)', 'default')
    .option('--ladders-dir <dir>', 'ladder directory', DEFAULT_LADDERS_DIR)
    .option('--data-dir <dir>', 'filesystem storage directory (default ./data)')
    .option('--storage <url>', 'object storage, e.g. s3://bucket/prefix (endpoint/credentials from the AWS SDK environment)')
    .option('--duration <seconds>', 'stop after this many seconds', positive())
    .option('--origin-port <port>', 'also serve the channel over HTTP on this port (embedded origin)', parsePort)
    .option('--host <address>', 'origin bind address', '127.0.0.1')
    .option('--dvr-window <seconds>', 'seconds of media kept in the playlists (default 60)', positive())
    .option('--no-realtime', 'read files as fast as possible instead of at native rate')
    .action(async (opts: PackageOptions) => {
      if (!isValidId(opts.channel)) throw new InvalidArgumentError(`--channel: "${opts.channel}" is not a valid id`);
      if (opts.dataDir !== undefined && opts.storage !== undefined) {
        throw new InvalidArgumentError('--data-dir and --storage are exclusive');
      }
      const logger = createRootLogger({ fd: 2 });
      const { ladder } = await loadLadder(opts.ladder, opts.laddersDir);
      const storage = createStorage(parseStorageUrl(opts.storage ?? resolve(opts.dataDir ?? './data')), logger);
      const bus = new EventBus();
      const uploads = new UploadQueue(storage, bus, logger, { channel: opts.channel });
      // Playlists stored by a previous run are served until this run's packager takes them over.
      const source = opts.originPort !== undefined ? new EmbeddedSource({ stored: { storage, parse: parseMediaPlaylist, logger } }) : undefined;
      const packager = new ChannelPackager({
        channel: opts.channel,
        storage,
        uploads,
        bus,
        logger,
        ...(opts.dvrWindow !== undefined ? { dvrWindowSeconds: opts.dvrWindow } : {}),
        ...(source !== undefined ? { onPlaylist: (channel, rendition, model) => source.publish(channel, rendition, model) } : {}),
      });
      const input: InputSpec = { kind: 'url', url: opts.input, realtime: opts.realtime, live: false };
      if (opts.inputFormat !== undefined) input.format = opts.inputFormat;
      const supervisor = new TranscoderSupervisor({ channel: opts.channel, ladder, input, bus, logger, onRun: (run) => packager.attachRun(run) });
      const origin =
        source !== undefined
          ? new OriginServer({
              source,
              storage,
              render: (model, options) => serializeMediaPlaylist(model, options),
              logger,
              host: opts.host,
              port: opts.originPort,
            })
          : undefined;

      // Built in order, torn down in reverse: storage → packager → origin → transcoder.
      await storage.start();
      await packager.start();
      await source?.start();
      await origin?.start();
      // The input ending or --duration passing ends the stream (EXT-X-ENDLIST); a signal does not, so
      // that a restarted `livepipe package` continues the same playlists.
      let stopping: 'signal' | 'duration' | undefined;
      const stopOn = (why: 'signal' | 'duration') => (): void => {
        if (stopping !== undefined) return;
        stopping = why;
        logger.info('stopping: finishing the segment in flight and the uploads');
        void supervisor.stop();
      };
      const stop = stopOn('signal');
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      const timer = opts.duration !== undefined ? setTimeout(stopOn('duration'), opts.duration * 1000) : undefined;
      try {
        if (origin !== undefined) {
          const { address, port: bound } = origin.address();
          process.stdout.write(`playback: http://${address}:${bound}/live/${opts.channel}/master.m3u8\n`);
        }
        await supervisor.start();
        const state = await supervisor.finished();
        if (state === 'failed') {
          throw new CommanderError(1, 'livepipe.packageFailed', supervisor.state().lastError ?? 'transcoder failed');
        }
      } finally {
        if (timer !== undefined) clearTimeout(timer);
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        await supervisor.stop();
        if (stopping !== 'signal') await packager.endStream();
        await packager.close();
        await uploads.close({ drainTimeoutMs: 10_000 });
        await origin?.close();
        await source?.close();
        await storage.close();
        bus.removeAllListeners();
        logger.info({ positions: packager.positions() }, 'stopped');
      }
    });
}

