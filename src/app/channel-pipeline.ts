import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { ChannelManagerOptions } from '../channels/channel-manager.js';
import type { ChannelPackagerPort } from '../channels/channel-ports.js';
import { errorMessage } from '../core/errors.js';
import type { EventBus } from '../core/event-bus.js';
import type { Logger } from '../core/logger.js';
import type { MediaPlaylist } from '../hls/playlist-model.js';
import type { IngestServer } from '../ingest/ingest-server.js';
import type { TranscodeRun } from '../ladder/run-contract.js';
import { ChannelPackager, type PackagerMetricsPort, type StoredPlaylistVersion } from '../package/channel-packager.js';
import type { ObjectStorage } from '../storage/object-storage.js';
import type { PendingObjects } from '../storage/pending-objects.js';
import { UploadQueue } from '../storage/upload-queue.js';

/**
 * The data path, in one place: what each stage hands to the next, as typed ports.
 *
 * ```
 *  publisher ─RTMP/SRT─▶ IngestServer ──IngestPort (feed, kick, publish URLs)──▶ ChannelManager
 *                                                                                   │ per channel
 *  Channel: feed.open() ──InputPort──▶ TranscoderSupervisor ──RunSink (onRun)──▶ ChannelPackager
 *                                                                                   │
 *            ┌──────────────── UploadQueue ◀── parts, segments, playlists ──────────┤
 *            ▼                                                                      ▼
 *       ObjectStorage ──────────── reads ────────────▶ OriginServer ◀──PlaylistSink (onPlaylist)
 * ```
 *
 * - `serve`: all of it; `PackagerFactory` gives each channel its packager (`packagerFactory`), and
 *   the channel itself joins feed → supervisor → packager (`src/channels/channel.ts`).
 * - `package`: an ffmpeg-readable input → supervisor → `buildChannelPackager` → storage, and the
 *   embedded origin when `--origin-port` is given.
 * - `transcode`: input → supervisor → `RenditionFileSink` (one fMP4 file per output).
 * - `ingest`: the ingest server alone (feeds are recorded or dropped).
 * - `origin`: storage → origin alone (playlists found by watching storage).
 */

/** ingest → transcoder: a fresh readable of the input, once per run (`openInput`). */
export interface InputPort {
  open(): Readable;
}

/** transcoder → packager (or files): each run's outputs, handed over before ffmpeg writes (`onRun`). */
export interface RunSink {
  attachRun(run: TranscodeRun): void;
}

/** packager → origin: every new model of `live/{channel}/{rendition}/playlist.m3u8` (`onPlaylist`). */
export interface PlaylistSink {
  publish(channel: string, rendition: string, model: MediaPlaylist): void;
}

/**
 * packager → cluster: every media playlist version once it is in storage (cluster mode:
 * `PlaylistNotificationPublisher`, which tells standalone origins to read it).
 */
export interface PlaylistStoredSink {
  playlistStored(channel: string, rendition: string, model: MediaPlaylist, stored?: StoredPlaylistVersion): void;
}

/** channels → ingest: the channel manager's view of the ingest server. */
export type IngestPort = ChannelManagerOptions['ingest'];

/** channels → packager: one started packager per channel, writing to storage through its queue. */
export type PackagerFactory = (channel: string) => Promise<ChannelPackagerPort>;

/** The process's standard input as the transcoder's input (`transcode --input -`). */
export function stdinInput(): InputPort {
  return { open: () => process.stdin };
}

/**
 * The channel manager's `IngestPort`, bound to the ingest server once that exists: the two need
 * each other (ingest authorizes publishes against the manager's registry view). Unbound, there are
 * no feeds, nobody to kick and no publish URLs.
 */
export class DeferredIngestPort implements IngestPort {
  private server: IngestServer | undefined;

  bind(server: IngestServer): void {
    this.server = server;
  }

  feed(channel: string, role: 'primary' | 'backup' = 'primary'): ReturnType<IngestPort['feed']> {
    return this.server?.feed(channel, role);
  }

  kick(channel: string, role?: 'primary' | 'backup', refusal?: string): boolean {
    return this.server?.kick(channel, role, refusal) ?? false;
  }

  publishUrls(channel: string, publicHost: string): { rtmp?: string; srt?: string } {
    return this.server?.publishUrls(channel, publicHost) ?? {};
  }

  channelsChanged(): Promise<void> {
    return this.server?.channelsChanged() ?? Promise.resolve();
  }
}

export interface PackagerSettings {
  storage: ObjectStorage;
  bus: EventBus;
  logger: Logger;
  metrics?: PackagerMetricsPort;
  /** Seconds of media kept in the playlists; default the packager's (60). */
  dvrWindowSeconds?: number;
  /** The embedded origin, when one serves the channel. */
  playlists?: PlaylistSink;
  /** Told of every media playlist stored (cluster mode: origins are notified). */
  stored?: PlaylistStoredSink;
  /** Where upload queues register media not stored yet, for the embedded origin to serve (`BuiltEmbeddedOrigin.pending`). */
  pending?: PendingObjects;
}

/** How long a closing packager's upload queue may keep retrying what is left, ms. */
const UPLOAD_DRAIN_TIMEOUT_MS = 10_000;

export interface BuiltChannelPackager {
  packager: ChannelPackager;
  /**
   * What the channel (or `package`) drives: runs in, the stream's end, positions; `close()` finishes
   * the packager (the segment in flight), then drains its uploads.
   */
  port: ChannelPackagerPort & RunSink;
}

/** One channel's packager and its upload queue to storage; playlist models go to `playlists`. */
export function buildChannelPackager(channel: string, settings: PackagerSettings): BuiltChannelPackager {
  const { storage, bus, logger, metrics, dvrWindowSeconds, playlists, stored, pending } = settings;
  const uploads = new UploadQueue(storage, bus, logger, { channel, ...(pending !== undefined ? { pending } : {}) });
  const packager = new ChannelPackager({
    channel,
    storage,
    uploads,
    logger,
    ...(metrics !== undefined ? { metrics } : {}),
    ...(dvrWindowSeconds !== undefined ? { dvrWindowSeconds } : {}),
    ...(playlists !== undefined ? { onPlaylist: (ch: string, rendition: string, model: MediaPlaylist) => playlists.publish(ch, rendition, model) } : {}),
    ...(stored !== undefined
      ? { onPlaylistStored: (ch: string, rendition: string, model: MediaPlaylist, version: StoredPlaylistVersion) => stored.playlistStored(ch, rendition, model, version) }
      : {}),
  });
  return {
    packager,
    port: {
      attachRun: (run) => packager.attachRun(run),
      endStream: () => packager.endStream(),
      restore: () => packager.restore(),
      positions: () => packager.positions(),
      addCue: (cue) => packager.addCue(cue),
      spliceAt: (cue, mediaSeconds) => packager.spliceAt(cue, mediaSeconds),
      bridgeEncoderGap: (fill) => packager.bridgeEncoderGap(fill),
      close: async () => {
        await packager.close();
        await uploads.close({ drainTimeoutMs: UPLOAD_DRAIN_TIMEOUT_MS });
      },
    },
  };
}

/** `serve`'s `PackagerFactory`: a started packager per channel, all on the same storage and origin. */
export function packagerFactory(settings: PackagerSettings): PackagerFactory {
  return async (channel) => {
    const { packager, port } = buildChannelPackager(channel, settings);
    await packager.start();
    return port;
  };
}

/** One written output file of `transcode`. */
export interface RenditionFile {
  rendition: string;
  runId: number;
  file: string;
  bytes: number;
}

/**
 * `transcode`'s `RunSink`: each output of each run to `<dir>/<rendition>.mp4` (a restarted run
 * writes `<rendition>-run<N>.mp4`, since a new run starts a new timeline).
 */
export class RenditionFileSink implements RunSink {
  readonly files: RenditionFile[] = [];
  private readonly writes: Array<Promise<unknown>> = [];

  constructor(
    private readonly dir: string,
    private readonly logger: Logger,
  ) {}

  attachRun(run: TranscodeRun): void {
    for (const output of run.outputs) {
      const file = join(this.dir, run.runId === 1 ? `${output.name}.mp4` : `${output.name}-run${run.runId}.mp4`);
      const entry: RenditionFile = { rendition: output.name, runId: run.runId, file, bytes: 0 };
      this.files.push(entry);
      output.stream.on('data', (chunk: Buffer) => (entry.bytes += chunk.length));
      const sink = createWriteStream(file);
      output.stream.pipe(sink);
      this.writes.push(finished(sink).catch((err: unknown) => this.logger.error({ file, err: errorMessage(err) }, 'write failed')));
    }
  }

  /** Resolves once every file written so far is flushed (write failures are logged). */
  async written(): Promise<void> {
    await Promise.all(this.writes);
  }
}
