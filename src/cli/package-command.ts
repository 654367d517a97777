import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { resolve } from 'node:path';
import { startPackage } from '../app/package-app.js';
import { DEFAULT_LADDERS_DIR, loadLadder } from '../ladder/ladder-loader.js';
import { isValidId } from '../core/ids.js';
import { createRootLogger } from '../core/logger.js';
import type { InputSpec } from '../transcode/input-spec.js';
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
      const input: InputSpec = { kind: 'url', url: opts.input, realtime: opts.realtime, live: false };
      if (opts.inputFormat !== undefined) input.format = opts.inputFormat;
      const run = await startPackage(
        {
          channel: opts.channel,
          ladder,
          input,
          storage: opts.storage ?? resolve(opts.dataDir ?? './data'),
          ...(opts.dvrWindow !== undefined ? { dvrWindowSeconds: opts.dvrWindow } : {}),
          ...(opts.originPort !== undefined ? { origin: { host: opts.host, port: opts.originPort } } : {}),
        },
        logger,
      );
      // The input ending or --duration passing ends the stream (EXT-X-ENDLIST); a signal does not.
      const stop = (): void => run.stop('signal');
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      const timer = opts.duration !== undefined ? setTimeout(() => run.stop('duration'), opts.duration * 1000) : undefined;
      try {
        if (run.playbackUrl !== undefined) process.stdout.write(`playback: ${run.playbackUrl}\n`);
        const { state, lastError } = await run.transcode();
        if (state === 'failed') throw new CommanderError(1, 'livepipe.packageFailed', lastError ?? 'transcoder failed');
      } finally {
        if (timer !== undefined) clearTimeout(timer);
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        await run.close();
      }
    });
}
