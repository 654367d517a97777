/**
 * Storage upload latency: LL-HLS parts of 30–60 KB written one after another (what one rendition's
 * packager does) to the filesystem driver and to S3 (s3rver over loopback HTTP), then the same
 * through the upload queue with several renditions' worth of concurrency.
 *
 * Run alone: `npx tsx bench/storage.bench.ts` (prints JSON).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventBus } from '../src/core/event-bus.js';
import { silentLogger } from '../src/core/logger.js';
import { FsStorage } from '../src/storage/fs-storage.js';
import type { ObjectStorage } from '../src/storage/object-storage.js';
import { S3Storage } from '../src/storage/s3-storage.js';
import { UploadQueue } from '../src/storage/upload-queue.js';
import { startS3Server } from '../test/helpers/storage/s3-server.js';
import { runIfMain } from './run-if-main.js';

const PUTS = 300;
const QUEUED_PUTS = 600;
const QUEUE_CONCURRENCY = 4;

interface Summary {
  count: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

function summarize(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN);
  return { count: sorted.length, p50Ms: at(0.5), p90Ms: at(0.9), p99Ms: at(0.99), maxMs: round(sorted.at(-1) ?? NaN) };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** 30–60 KB bodies, as a 1–2 Mbit/s rendition's 250 ms parts. */
function parts(count: number): Buffer[] {
  return Array.from({ length: count }, (_, i) => randomBytes(30_000 + ((i * 7919) % 30_000)));
}

async function sequentialPuts(storage: ObjectStorage, label: string): Promise<Summary> {
  const bodies = parts(PUTS);
  // warm-up: directories, keep-alive connections, JIT
  for (let i = 0; i < 20; i += 1) await storage.put(`bench/${label}/warm-${i}.m4s`, bodies[i]!, { contentType: 'video/iso.segment' });
  const samples: number[] = [];
  for (let i = 0; i < PUTS; i += 1) {
    const started = performance.now();
    await storage.put(`bench/${label}/v/part-${i >> 2}-${i & 3}.m4s`, bodies[i]!, {
      contentType: 'video/iso.segment',
      cacheControl: 'max-age=31536000, immutable',
    });
    samples.push(performance.now() - started);
  }
  return summarize(samples);
}

async function queuedPuts(storage: ObjectStorage, label: string): Promise<Record<string, unknown>> {
  const queue = new UploadQueue(storage, new EventBus(), silentLogger(), {
    channel: 'bench',
    concurrency: QUEUE_CONCURRENCY,
    maxQueuedItems: QUEUED_PUTS, // everything is enqueued at once: measure throughput, not the bound
  });
  const bodies = parts(QUEUED_PUTS);
  const started = performance.now();
  await Promise.all(
    bodies.map((body, i) => queue.put(`bench/${label}/q/part-${i >> 2}-${i & 3}.m4s`, body, { contentType: 'video/iso.segment' })),
  );
  const seconds = (performance.now() - started) / 1000;
  const stats = queue.stats();
  await queue.close();
  const megabytes = bodies.reduce((sum, b) => sum + b.length, 0) / 1e6;
  return {
    concurrency: QUEUE_CONCURRENCY,
    puts: stats.puts,
    putsPerSecond: Math.round(QUEUED_PUTS / seconds),
    megabytesPerSecond: Math.round((megabytes / seconds) * 10) / 10,
    attemptLatency: summarize(stats.latencySamplesMs),
    note: `all ${QUEUED_PUTS} enqueued at once; attemptLatency is per storage call with ${QUEUE_CONCURRENCY} in flight`,
    allWrittenMs: round(seconds * 1000),
  };
}

export async function run(): Promise<Record<string, unknown>> {
  const sandbox = await mkdtemp(join(tmpdir(), 'livepipe-bench-storage-'));
  const s3 = await startS3Server();
  const fs = new FsStorage({ root: join(sandbox, 'root') }, silentLogger());
  const fsSynced = new FsStorage({ root: join(sandbox, 'root-fsync'), fsync: true }, silentLogger());
  const bucket = new S3Storage(
    { bucket: s3.bucket, endpoint: s3.endpoint, forcePathStyle: true, credentials: s3.credentials, region: 'us-east-1' },
    silentLogger(),
  );
  try {
    await Promise.all([fs.start(), fsSynced.start(), bucket.start()]);
    return {
      objectBytes: '30000-60000',
      sequentialPuts: {
        fs: await sequentialPuts(fs, 'fs'),
        fsWithFsync: await sequentialPuts(fsSynced, 'fsync'),
        s3rverLoopback: await sequentialPuts(bucket, 's3'),
      },
      uploadQueue: {
        fs: await queuedPuts(fs, 'fs'),
        s3rverLoopback: await queuedPuts(bucket, 's3'),
      },
    };
  } finally {
    await Promise.all([fs.close(), fsSynced.close(), bucket.close()]);
    await s3.close();
    await rm(sandbox, { recursive: true, force: true });
  }
}

runIfMain(import.meta.url, run);
