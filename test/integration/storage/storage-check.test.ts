import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { checkStorage } from '../../../src/storage/storage-check.js';
import { startFsFixture, startS3Fixture, type DriverFixture } from '../../helpers/storage/drivers.js';
import { startS3Server, type TestS3Server } from '../../helpers/storage/s3-server.js';

describe.each<[string, () => Promise<DriverFixture>]>([
  ['fs', startFsFixture],
  ['s3', () => startS3Fixture()],
])('checkStorage on %s', (_name, start) => {
  let fixture: DriverFixture;
  beforeAll(async () => {
    fixture = await start();
  });
  afterAll(async () => {
    await fixture?.close();
  });

  it('runs every step and cleans up after itself', async () => {
    const report = await checkStorage(fixture.storage);
    expect(report).toMatchObject({ ok: true, probeKey: expect.stringMatching(/^livepipe-check\/probe-[0-9a-f]{12}\.m3u8$/) });
    for (const step of ['pingMs', 'putMs', 'getMs', 'conditionalGetMs', 'listMs', 'deleteMs'] as const) {
      expect(report[step]).toBeGreaterThanOrEqual(0);
    }
    expect(await fixture.storage.list('livepipe-check/')).toEqual([]);
  });
});

describe('livepipe storage-check', () => {
  let s3: TestS3Server;
  beforeAll(async () => {
    s3 = await startS3Server();
  });
  afterAll(async () => {
    await s3?.close();
  });

  async function run(args: string[], env: Record<string, string> = {}): Promise<{ stdout: string; stderr: string; exitCode: number }> {
    const out: string[] = [];
    const err: string[] = [];
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => out.push(String(chunk)) > 0);
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => err.push(String(chunk)) > 0);
    const overrides: Record<string, string> = { ...env, LIVEPIPE_LOG_LEVEL: 'silent' };
    const saved = Object.fromEntries(Object.keys(overrides).map((name) => [name, process.env[name]]));
    Object.assign(process.env, overrides);
    const savedExitCode = process.exitCode;
    try {
      await main(['node', 'livepipe', 'storage-check', ...args]);
      return { stdout: out.join(''), stderr: err.join(''), exitCode: Number(process.exitCode ?? 0) };
    } finally {
      process.exitCode = savedExitCode;
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      stdout.mockRestore();
      stderr.mockRestore();
    }
  }

  it('reports success as JSON for a working S3 location (credentials from the environment)', async () => {
    const url = `s3://${s3.bucket}/cli?endpoint=${encodeURIComponent(s3.endpoint)}&forcePathStyle=true`;
    const result = await run([url], { AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey });
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: true, location: expect.stringContaining(`s3://${s3.bucket}/cli/`) });
  });

  it('exits 1 with the reason for a malformed location', async () => {
    const result = await run(['s3://Not_A_Bucket']);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/bucket "Not_A_Bucket" must use lowercase/);
  });

  it('exits 1 with the reason for a bucket that does not exist', async () => {
    const url = `s3://missing-bucket?endpoint=${encodeURIComponent(s3.endpoint)}&forcePathStyle=true`;
    const result = await run([url], { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/missing-bucket.*does not exist/);
  });
});
