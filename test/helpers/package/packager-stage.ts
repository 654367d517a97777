import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PassThrough } from 'node:stream';
import { EventBus } from '../../../src/core/event-bus.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { MediaPlaylist } from '../../../src/hls/playlist-model.js';
import { resolveLadder } from '../../../src/ladder/ladder-loader.js';
import type { TranscodeRun } from '../../../src/ladder/run-contract.js';
import { ChannelPackager } from '../../../src/package/channel-packager.js';
import { FsStorage } from '../../../src/storage/fs-storage.js';
import { UploadQueue } from '../../../src/storage/upload-queue.js';
import { encodeLadderFixture, type LadderFixture } from './fixtures.js';
import { smallLadder } from './live.js';

/**
 * A real `ChannelPackager` on disk storage, fed transcoder runs the test writes itself (`PassThrough`
 * streams of real ffmpeg output, cut where the test wants): the stage of the packager's encoder-outage
 * tests (outage fill, renditions in step). The ladder is the small low-latency one (0.5 s GOP, 1 s
 * segments, 0.1 s parts) on a 320×180 30 fps source with audio: two video renditions and one audio.
 */

/** The stage's renditions, in the order of a run's outputs (`PackagerStage.run`) and of `encodeStageMedia`. */
export const STAGE_RENDITIONS = [
  { name: 'v180', kind: 'video' },
  { name: 'v90', kind: 'video' },
  { name: 'audio', kind: 'audio' },
] as const satisfies ReadonlyArray<{ name: string; kind: 'video' | 'audio' }>;

const LADDER = resolveLadder(smallLadder({ gop: 0.5, segment: 1, part: 0.1 }), { width: 320, height: 180, frameRate: 30, hasAudio: true });

/** `seconds` of the stage's renditions, encoded as the transcoder writes them: `video[i]` is `STAGE_RENDITIONS[i]`. */
export function encodeStageMedia(seconds: number): Promise<LadderFixture> {
  return encodeLadderFixture({ seconds, sizes: ['320x180', '160x90'], gop: 15 });
}

/** A new temporary directory, in memory (/dev/shm) where there is one: storage writes there stay fast on a loaded machine. */
export function memoryTempDir(prefix: string): Promise<string> {
  return mkdtemp(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), prefix));
}

export interface PackagerStageOptions {
  channel: string;
  /** The storage root (objects under `live/<channel>/<rendition>/`). */
  root: string;
  dvrWindowSeconds: number;
  onPlaylist: (channel: string, rendition: string, model: MediaPlaylist) => void;
}

export interface PackagerStage {
  packager: ChannelPackager;
  /** A transcoder run whose outputs are `streams`, one per `STAGE_RENDITIONS` entry, in that order; its process never ends on its own. */
  run(runId: number, streams: readonly PassThrough[]): TranscodeRun;
  /** Ends the stream, closes the packager and drains the uploads into storage. */
  close(): Promise<void>;
}

/**
 * Starts the stage. Storage writes inline (even on a loaded machine, each part's listing waits for
 * its upload up to half a part target): these tests are about what is listed, not storage latency.
 */
export async function startPackagerStage(options: PackagerStageOptions): Promise<PackagerStage> {
  const logger = silentLogger();
  const storage = new FsStorage({ root: options.root, io: 'inline', inlineSlowMs: 60_000 }, logger);
  await storage.start();
  const uploads = new UploadQueue(storage, new EventBus(), logger, { channel: options.channel });
  const packager = new ChannelPackager({ channel: options.channel, storage, uploads, logger, dvrWindowSeconds: options.dvrWindowSeconds, onPlaylist: options.onPlaylist });
  await packager.start();
  return {
    packager,
    run: (runId, streams) => ({
      channel: options.channel,
      runId,
      startedAt: Date.now(),
      mediaStartedAt: () => Date.now(),
      probe: { width: 320, height: 180, frameRate: 30, videoCodec: 'h264', hasAudio: true, audioCodec: 'aac', audioChannels: 1, audioSampleRate: 48000 },
      ladder: LADDER,
      outputs: STAGE_RENDITIONS.map((r, i) => ({
        name: r.name,
        kind: r.kind,
        rendition: (r.kind === 'audio' ? LADDER.audio[0] : LADDER.video.find((v) => v.name === r.name))!,
        stream: streams[i]!,
      })),
      ended: new Promise(() => undefined),
    }),
    close: async () => {
      await packager.endStream();
      await packager.close();
      await uploads.close({ drainTimeoutMs: 10_000 });
      await storage.close();
    },
  };
}
