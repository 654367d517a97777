/**
 * Issue 3 end to end, minus the player: real ffmpeg ladders packaged live into real storage — a
 * directory through the `livepipe package` CLI, and S3 (s3rver over HTTP) in-process — with every
 * playlist version checked against the LL-HLS rules, every object it names checked to be stored at
 * that moment and decodable, and the renditions checked to stay aligned.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import { S3Storage } from '../../../src/storage/s3-storage.js';
import { runCli } from '../../helpers/cli/livepipe-cli.js';
import { DirectoryPlaylistPoller, lastVersion, objectsNamedBy, readMediaPlaylist, RecordingStorage, ruleViolations, smallLadder, startLiveChannel, writeSmallLadder } from '../../helpers/package/live.js';
import { alignmentProblems, masterProblems, mediaProblems, type RunShape } from '../../helpers/package/run-checks.js';
import { startS3Server, type TestS3Server } from '../../helpers/storage/s3-server.js';
import { lavfiSource } from '../../helpers/transcode/media.js';
import { waitFor } from '../../helpers/wait.js';

const SIZES = { v180: { width: 320, height: 180 }, v90: { width: 160, height: 90 } };
const SOURCE = lavfiSource(320, 180, 30);

describe('livepipe package into a directory (CLI, 1 s segments, 0.2 s parts)', () => {
  let dir: string;
  const shape: RunShape = { folder: 'live/fsrun/', video: ['v180', 'v90'], audio: 'audio', fps: 30 };
  let poller: DirectoryPlaylistPoller;
  let exitCode: number | string;
  let stderr: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'livepipe-pkgtest-fs-'));
    const ladders = join(dir, 'ladders');
    const data = join(dir, 'data');
    await writeSmallLadder(ladders, { gop: 1, segment: 1, part: 0.2 });
    poller = new DirectoryPlaylistPoller(data, 'fsrun', ['v180', 'v90', 'audio']);
    poller.start();
    const cli = runCli(['package', '--input', SOURCE, '--input-format', 'lavfi', '--channel', 'fsrun', '--ladder', 'small', '--ladders-dir', ladders, '--data-dir', data, '--duration', '8']);
    exitCode = await cli.exited;
    stderr = cli.stderr();
    await poller.stop();
  }, 60_000);

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('exits cleanly having written every rendition', () => {
    expect(exitCode, stderr.slice(-2000)).toBe(0);
    for (const name of ['v180', 'v90', 'audio']) expect(lastVersion(poller, name), name).toBeDefined();
    // 8 s of 1 s segments: most of them listed, and many versions observed along the way.
    expect(readMediaPlaylist(lastVersion(poller, 'v180')!).segments.length).toBeGreaterThanOrEqual(6);
    expect(poller.versions.length).toBeGreaterThan(60);
  });

  it('every playlist seen keeps the LL-HLS rules and names only objects that exist', () => {
    expect(poller.problems).toEqual([]);
    expect(ruleViolations(poller)).toEqual([]);
  });

  it('every part and segment decodes; each rendition decodes as one continuous stream', async () => {
    const { problems, checkedParts, checkedSegments } = await mediaProblems(poller, shape);
    expect(problems).toEqual([]);
    expect(checkedSegments).toBeGreaterThanOrEqual(18); // ≥ 6 per rendition
    expect(checkedParts).toBeGreaterThanOrEqual(60);
  });

  it('renditions share segment boundaries, dates and maps', () => {
    expect(alignmentProblems(poller, shape)).toEqual([]);
  });

  it('writes a complete multivariant playlist', async () => {
    const master = await readFile(join(dir, 'data', 'live/fsrun/master.m3u8'), 'utf8');
    expect(masterProblems(master, shape, SIZES)).toEqual([]);
  });
});

describe('ChannelPackager + TranscoderSupervisor into S3 (s3rver over HTTP, 2 s segments, 0.5 s parts)', () => {
  let s3: TestS3Server;
  let storage: RecordingStorage;
  const shape: RunShape = { folder: 'live/s3run/', video: ['v180', 'v90'], audio: 'audio', fps: 30, part: 0.5 };

  beforeAll(async () => {
    s3 = await startS3Server();
    storage = new RecordingStorage(
      new S3Storage({ bucket: s3.bucket, endpoint: s3.endpoint, forcePathStyle: true, credentials: s3.credentials, listApi: 'v1' }, silentLogger()),
    );
    await storage.start();
    const channel = await startLiveChannel({ channel: 's3run', ladder: smallLadder({ gop: 2, segment: 2, part: 0.5 }), source: SOURCE, storage });
    try {
      await waitFor(() => (channel.packager.positions().find((p) => p.rendition === 'v180')?.lastMsn ?? -1) >= 4, { timeoutMs: 40_000, message: 'five segments' });
    } finally {
      await channel.stop({ endList: true });
    }
  }, 60_000);

  afterAll(async () => {
    await storage?.close();
    await s3?.close();
  });

  it('every playlist written keeps the LL-HLS rules, names only stored objects, and ends with EXT-X-ENDLIST', () => {
    expect(storage.problems).toEqual([]);
    expect(ruleViolations(storage, { endListExpected: true })).toEqual([]);
    expect(storage.versions.length).toBeGreaterThan(30);
  });

  it('what the final playlists name is in the bucket, byte for byte', async () => {
    for (const rendition of ['v180', 'v90', 'audio']) {
      const text = lastVersion(storage, rendition)!;
      const stored = await storage.get(`live/s3run/${rendition}/playlist.m3u8`);
      expect(stored && 'body' in stored ? stored.body.toString('utf8') : undefined).toBe(text);
      const names = objectsNamedBy(text);
      expect(names.length).toBeGreaterThanOrEqual(5);
      for (const name of names) {
        const object = await storage.get(`live/s3run/${rendition}/${name}`);
        expect(object && 'body' in object ? Buffer.compare(object.body, storage.objects.get(`live/s3run/${rendition}/${name}`)!) : 'missing', name).toBe(0);
      }
    }
  });

  it('every part and segment decodes; each rendition decodes as one continuous stream', async () => {
    const { problems, checkedParts, checkedSegments } = await mediaProblems(storage, shape);
    expect(problems).toEqual([]);
    expect(checkedSegments).toBeGreaterThanOrEqual(15);
    expect(checkedParts).toBeGreaterThanOrEqual(30);
  });

  it('renditions share segment boundaries, dates and maps', () => {
    expect(alignmentProblems(storage, shape)).toEqual([]);
  });

  it('writes a complete multivariant playlist with measured bandwidths', async () => {
    const master = await storage.get('live/s3run/master.m3u8');
    expect(master && 'body' in master ? master.contentType : undefined).toBe('application/vnd.apple.mpegurl');
    expect(masterProblems(master && 'body' in master ? master.body.toString('utf8') : '', shape, SIZES)).toEqual([]);
  });
});

