import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../src/core/logger.js';
import { FsStorage, type FsStorageOptions } from '../../../src/storage/fs-storage.js';
import type { ObjectStorage } from '../../../src/storage/object-storage.js';
import { S3Storage, type S3StorageOptions } from '../../../src/storage/s3-storage.js';
import { startS3Server, type TestS3Server } from './s3-server.js';

/** A started driver plus what a test needs to know about it. */
export interface DriverFixture {
  storage: ObjectStorage;
  /** The driver keeps Cache-Control per object (S3); the fs driver does not (documented). */
  keepsCacheControl: boolean;
  /** Overwrites are atomic for concurrent readers (fs; S3 is, s3rver is not). */
  atomicOverwrite: boolean;
  /** Present for the S3 fixture. */
  s3?: TestS3Server;
  /** For the fs fixture: the parent of the root, to check nothing escapes it. */
  sandbox?: string;
  close(): Promise<void>;
}

export async function startFsFixture(options: Partial<FsStorageOptions> = {}): Promise<DriverFixture> {
  const sandbox = await mkdtemp(join(tmpdir(), 'livepipe-fs-storage-'));
  const storage = new FsStorage({ ...options, root: join(sandbox, 'root') }, silentLogger());
  await storage.start();
  return {
    storage,
    keepsCacheControl: false,
    atomicOverwrite: true,
    sandbox,
    async close() {
      await storage.close();
      await rm(sandbox, { recursive: true, force: true });
    },
  };
}

/** An S3Storage on a fresh s3rver, configured the way users configure S3-compatible servers. */
export async function startS3Fixture(options: Partial<S3StorageOptions> = {}): Promise<DriverFixture> {
  const s3 = await startS3Server();
  const storage = new S3Storage(s3StorageOptions(s3, options), silentLogger());
  await storage.start();
  return {
    storage,
    keepsCacheControl: true,
    atomicOverwrite: false,
    s3,
    async close() {
      await storage.close();
      await s3.close();
    },
  };
}

export function s3StorageOptions(s3: TestS3Server, options: Partial<S3StorageOptions> = {}): S3StorageOptions {
  return {
    bucket: s3.bucket,
    prefix: 'tenant/',
    endpoint: s3.endpoint,
    forcePathStyle: true,
    credentials: s3.credentials,
    region: 'us-east-1',
    ...options,
  };
}
