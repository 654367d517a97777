/**
 * `livepipe serve` on its embedded defaults (disk storage, single node) does not load the packages only
 * S3 storage or cluster mode need: the AWS SDK and ioredis were the largest imports of the CLI and
 * added ~0.2 s together to every start (bench/results/serve-startup.md) — the outage a restart of
 * `serve` is for its viewers. A static import of either, anywhere the CLI loads, fails this test.
 * On S3 storage the SDK is loaded (serve-s3-storage.test.ts runs that start), which shows the probe sees it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { loadedPackages, loadedPackagesEnv } from '../helpers/cli/livepipe-cli.js';
import { startServeCli, type ServeCli } from '../helpers/serve/serve-fixture.js';

describe('livepipe serve: optional heavy packages stay unloaded', () => {
  let serve: ServeCli | undefined;
  afterAll(async () => {
    await serve?.close();
  });

  it('on disk storage without a cluster, neither the AWS SDK nor ioredis is loaded (fastify is)', async () => {
    serve = await startServeCli({}, { env: loadedPackagesEnv() });
    expect(await serve.cli.stop('SIGTERM')).toBe(0);
    const loaded = loadedPackages(serve.cli);
    expect(loaded).toContain('fastify');
    expect(loaded.filter((p) => p.startsWith('@aws-sdk/') || p.startsWith('@smithy/'))).toEqual([]);
    expect(loaded).not.toContain('ioredis');
  });
});
