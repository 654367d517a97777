import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';

/**
 * s3rver's built-in account. s3rver checks the access key id but does not verify SigV4 signatures;
 * its ListObjectsV2 pagination is broken on OpenSSL 3, so use `listApi: 'v1'` past 1000 keys.
 */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface TestS3Server {
  /** `http://127.0.0.1:{port}`; use with `forcePathStyle: true`. */
  endpoint: string;
  port: number;
  bucket: string;
  /** Where s3rver keeps the objects (kept across stop/restart). */
  directory: string;
  credentials: typeof S3RVER_CREDENTIALS;
  /** Stops listening and drops every open connection (in-flight requests fail). Idempotent. */
  stop(): Promise<void>;
  /** Listens again on the same port with the same data directory (stopping first if running). */
  restart(): Promise<void>;
  /** Stops and deletes the data directory. */
  close(): Promise<void>;
}

/**
 * Starts a real S3-compatible server (s3rver) on a random free loopback port, with one bucket.
 * Other tests use `stop()` + `restart()` to take S3 away for a while and bring it back unchanged.
 */
export async function startS3Server(options: { bucket?: string } = {}): Promise<TestS3Server> {
  const bucket = options.bucket ?? 'livepipe-test';
  const directory = await mkdtemp(join(tmpdir(), 'livepipe-s3rver-'));
  let server: S3rver | undefined;

  const listen = async (port: number): Promise<number> => {
    const instance = new S3rver({
      address: '127.0.0.1',
      port,
      silent: true,
      directory,
      configureBuckets: [{ name: bucket }],
    });
    const address = await instance.run();
    server = instance;
    return address.port;
  };

  const stop = async (): Promise<void> => {
    const running = server;
    server = undefined;
    if (running === undefined) return;
    const closed = running.close();
    running.httpServer?.closeAllConnections();
    await closed;
  };

  const port = await listen(0);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    bucket,
    directory,
    credentials: S3RVER_CREDENTIALS,
    stop,
    async restart() {
      await stop();
      await listen(port);
    },
    async close() {
      await stop();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
