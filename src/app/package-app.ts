import { EventBus, type TranscoderStateName } from '../core/event-bus.js';
import type { Logger } from '../core/logger.js';
import type { Ladder } from '../ladder/ladder-schema.js';
import type { InputSpec } from '../transcode/input-spec.js';
import { buildEmbeddedOrigin, type BuiltEmbeddedOrigin } from './build-origin.js';
import { buildStorage } from './build-storage.js';
import { buildTranscoder } from './build-transcoder.js';
import { buildChannelPackager } from './channel-pipeline.js';
import { ComponentRunner } from './component-runner.js';
import { component } from './component.js';

/**
 * `livepipe package`, composed: transcoder → packager → storage, and the embedded origin when a
 * port is given. Start order: event bus → storage → origin (source, server) → packager →
 * transcoder; `close()` stops in reverse, so the origin serves until the packager has finished its
 * segment in flight and its uploads.
 */
export interface PackageSettings {
  channel: string;
  ladder: Ladder;
  input: InputSpec;
  /** A directory or `s3://bucket/prefix` (see `parseStorageUrl`). */
  storage: string;
  /** Seconds of media kept in the playlists; default the packager's. */
  dvrWindowSeconds?: number;
  /** Also serve the channel (embedded origin). */
  origin?: { host: string; port: number };
}

/** Why the run stops: a signal keeps the stream open (a restarted `package` continues it). */
export type PackageStopReason = 'signal' | 'duration';

export interface PackageRun {
  /** The channel's multivariant playlist on the embedded origin, when there is one. */
  playbackUrl: string | undefined;
  /** Starts the transcoder and resolves with its final state: the input ended, `stop()`, or a failure. */
  transcode(): Promise<{ state: TranscoderStateName; lastError: string | undefined }>;
  /** Stops the transcoder (the first reason wins). */
  stop(reason: PackageStopReason): void;
  /**
   * Closes in reverse; the stream ends (EXT-X-ENDLIST) unless it was stopped by a signal.
   * Idempotent.
   */
  close(): Promise<void>;
}

/** Starts storage, the origin and the packager; `transcode()` then starts the ladder. */
export async function startPackage(settings: PackageSettings, logger: Logger): Promise<PackageRun> {
  const bus = new EventBus();
  const { storage, component: storageComponent } = buildStorage({ location: settings.storage, logger });
  const origin: BuiltEmbeddedOrigin | undefined =
    settings.origin !== undefined ? buildEmbeddedOrigin(storage, logger, { host: settings.origin.host, port: settings.origin.port }) : undefined;
  const { packager: channelPackager, port: packager } = buildChannelPackager(settings.channel, {
    storage,
    bus,
    logger,
    ...(settings.dvrWindowSeconds !== undefined ? { dvrWindowSeconds: settings.dvrWindowSeconds } : {}),
    ...(origin !== undefined ? { playlists: origin.playlists, pending: origin.pending } : {}),
  });
  const transcoder = buildTranscoder({ channel: settings.channel, ladder: settings.ladder, input: settings.input, bus, logger, runs: packager });
  let stopping: PackageStopReason | undefined;

  const runner = new ComponentRunner({ logger });
  await runner.start(
    component('event-bus', { close: () => bus.removeAllListeners() }),
    storageComponent,
    ...(origin?.components ?? []),
    component('packager', {
      start: () => channelPackager.start(),
      close: async () => {
        // The input ending or the duration passing ends the stream; a signal does not, so that a
        // restarted `livepipe package` continues the same playlists.
        if (stopping !== 'signal') await packager.endStream();
        await packager.close();
      },
    }),
  );
  let closing: Promise<void> | undefined;
  const address = origin?.server.address();
  return {
    playbackUrl: address !== undefined ? `http://${address.address}:${address.port}/live/${settings.channel}/master.m3u8` : undefined,
    async transcode() {
      await runner.start(transcoder.component);
      const state = await transcoder.supervisor.finished();
      return { state, lastError: transcoder.supervisor.state().lastError };
    },
    stop(reason) {
      if (stopping !== undefined) return;
      stopping = reason;
      logger.info('stopping: finishing the segment in flight and the uploads');
      void transcoder.supervisor.stop();
    },
    close: () =>
      (closing ??= (async () => {
        await runner.close();
        logger.info({ positions: packager.positions() }, 'stopped');
      })()),
  };
}
