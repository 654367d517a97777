/**
 * `livepipe serve --storage s3://…` as an operator starts it, against a real S3-compatible server
 * (s3rver): it comes up and reports storage ready, and a bucket it cannot use stops it at start-up
 * with the reason, before any listener answers. The S3 SDK is imported when the S3 storage starts
 * (not when the CLI loads), so these are what guard "a bad S3 config still fails at start-up".
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadedPackages, loadedPackagesEnv, runCli, waitForHttp, type CliProcess } from '../helpers/cli/livepipe-cli.js';
import { freePort, freePorts } from '../helpers/ports.js';
import { startS3Server, type TestS3Server } from '../helpers/storage/s3-server.js';

describe('livepipe serve on S3 storage: start-up', () => {
  let s3: TestS3Server;
  const dirs: string[] = [];
  const clis: CliProcess[] = [];

  beforeAll(async () => {
    s3 = await startS3Server({ bucket: 'livepipe-startup' });
  });
  afterAll(async () => {
    await Promise.all(clis.map((c) => c.stop('SIGKILL')));
    await s3.close();
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  const env = (): NodeJS.ProcessEnv => ({ AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey, AWS_REGION: 'us-east-1' });
  const storageUrl = (bucket: string): string => `s3://${bucket}/startup?endpoint=${encodeURIComponent(s3.endpoint)}&forcePathStyle=true&listApi=v1`;

  async function serve(bucket: string): Promise<{ cli: CliProcess; originBase: string; apiBase: string }> {
    const dir = await mkdtemp(join(tmpdir(), 'livepipe-serve-s3-'));
    dirs.push(dir);
    const [origin, api, rtmp] = (await freePorts(3)) as [number, number, number];
    const args = ['serve', '--data-dir', dir, '--storage', storageUrl(bucket), '--origin-port', String(origin), '--api-port', String(api), '--rtmp-port', String(rtmp), '--srt-port', String(await freePort('udp'))];
    const cli = runCli(args, { ...env(), ...loadedPackagesEnv() });
    clis.push(cli);
    return { cli, originBase: `http://127.0.0.1:${origin}`, apiBase: `http://127.0.0.1:${api}` };
  }

  it('starts on a usable bucket: storage ready (the SDK loaded), /readyz reaches the bucket, SIGTERM exits 0', async () => {
    const { cli, apiBase } = await serve(s3.bucket);
    await Promise.race([
      waitForHttp(`${apiBase}/healthz`, 30_000),
      cli.exited.then((code) => {
        throw new Error(`serve exited (${code}) during start: ${cli.stderr().slice(-2000)}`);
      }),
    ]);
    expect(cli.stdout()).toContain('livepipe is running.');
    expect(cli.stderr()).toContain('s3 storage ready');
    const ready = await fetch(`${apiBase}/readyz`);
    const body = await ready.text();
    expect(ready.status, body).toBe(200);
    expect(await cli.stop('SIGTERM')).toBe(0);
    // Imported when the S3 storage started (not when the CLI loaded), but imported.
    expect(loadedPackages(cli)).toContain('@aws-sdk/client-s3');
  });

  it('stops at start-up on a bucket that does not exist, with the reason, before any listener answers', async () => {
    const { cli, originBase } = await serve('no-such-bucket');
    const code = await Promise.race([cli.exited, new Promise((r) => setTimeout(() => r('still running'), 30_000))]);
    expect(code).toBe(1);
    expect(cli.stderr()).toContain(`storage s3://no-such-bucket at ${s3.endpoint} is not usable: the bucket does not exist`);
    expect(cli.stdout()).not.toContain('livepipe is running.');
    const origin = await fetch(`${originBase}/live/x/master.m3u8`).then(
      (res) => `HTTP ${res.status}`,
      () => 'refused',
    );
    expect(origin).toBe('refused');
  });

  it('refuses an invalid S3 key prefix before starting anything', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'livepipe-serve-s3-'));
    dirs.push(dir);
    const cli = runCli(['serve', '--data-dir', dir, '--storage', `s3://${s3.bucket}/a/../b?endpoint=${encodeURIComponent(s3.endpoint)}`], env());
    clis.push(cli);
    const code = await Promise.race([cli.exited, new Promise((r) => setTimeout(() => r('still running'), 30_000))]);
    expect(code).toBe(1);
    expect(cli.stderr()).toContain('invalid S3 key prefix "a/../b"');
  });
});
