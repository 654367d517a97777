import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode, isLivepipeError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { FsStorage } from '../../../src/storage/fs-storage.js';
import { S3Storage } from '../../../src/storage/s3-storage.js';
import {
  bucketNameProblem,
  createStorage,
  formatStorageUrl,
  parseStorageUrl,
  type StorageConfig,
} from '../../../src/storage/storage-url.js';

describe('parseStorageUrl', () => {
  const valid: Array<[string, StorageConfig]> = [
    ['s3://live-media', { kind: 's3', bucket: 'live-media', prefix: '' }],
    ['s3://live-media/', { kind: 's3', bucket: 'live-media', prefix: '' }],
    ['s3://live-media/tenant-a', { kind: 's3', bucket: 'live-media', prefix: 'tenant-a/' }],
    ['s3://live-media/tenant-a/eu/', { kind: 's3', bucket: 'live-media', prefix: 'tenant-a/eu/' }],
    ['S3://my.bucket.v2/p', { kind: 's3', bucket: 'my.bucket.v2', prefix: 'p/' }],
    [
      's3://b12/x?endpoint=http://127.0.0.1:9000&region=eu-west-1&forcePathStyle=true',
      { kind: 's3', bucket: 'b12', prefix: 'x/', endpoint: 'http://127.0.0.1:9000', region: 'eu-west-1', forcePathStyle: true },
    ],
    [
      's3://b12?endpoint=https%3A%2F%2Fs3.example.com%3A8443&forcePathStyle=false&listApi=v1',
      { kind: 's3', bucket: 'b12', prefix: '', endpoint: 'https://s3.example.com:8443', forcePathStyle: false, listApi: 'v1' },
    ],
    ['./data', { kind: 'fs', root: './data' }],
    ['data', { kind: 'fs', root: 'data' }],
    ['/var/lib/livepipe', { kind: 'fs', root: '/var/lib/livepipe' }],
    ['  /srv/live  ', { kind: 'fs', root: '/srv/live' }],
    ['file:///var/lib/live%20pipe', { kind: 'fs', root: '/var/lib/live pipe' }],
    ['file://localhost/srv', { kind: 'fs', root: '/srv' }],
    ['C:\\live', { kind: 'fs', root: 'C:\\live' }],
  ];

  it.each(valid)('parses %j', (url, expected) => {
    expect(parseStorageUrl(url)).toEqual(expected);
  });

  const invalid: Array<[string, RegExp]> = [
    ['', /empty/],
    ['   ', /empty/],
    ['s3://', /bucket name is missing/],
    ['s3:///prefix', /bucket name is missing/],
    ['s3:bucket', /expected s3:\/\/bucket/],
    ['s3://ab', /3 to 63/],
    ['s3://Upper-Case', /lowercase/],
    ['s3://under_score', /lowercase/],
    ['s3://-leading', /start and end/],
    ['s3://a..b', /"\.\."/],
    ['s3://192.168.1.10', /IP address/],
    ['s3://AKIA:secret@bucket/x', /credentials do not belong/],
    ['s3://bucket/a//b', /empty segment/],
    ['s3://bucket/../x', /invalid S3 key prefix/],
    ['s3://bucket/a/./b', /invalid S3 key prefix/],
    ['s3://bucket/sp ace', /invalid S3 key prefix/],
    ['s3://bucket#frag', /fragment/],
    ['s3://bucket?endpoint=not a url', /not a URL/],
    ['s3://bucket?endpoint=ftp://host', /must be http/],
    ['s3://bucket?endpoint=http://user:pw@host', /credentials do not belong/],
    ['s3://bucket?region=EU West', /not a region/],
    ['s3://bucket?forcePathStyle=yes', /true or false/],
    ['s3://bucket?listApi=v3', /v1 or v2/],
    ['s3://bucket?pathStyle=true', /unknown parameter "pathStyle"/],
    ['s3://bucket?region=a&region=b', /given twice/],
    ['gs://bucket/x', /unsupported scheme "gs:"/],
    ['https://s3.amazonaws.com/bucket', /unsupported scheme "https:"/],
    ['file://otherhost/x', /cannot name a host/],
    ['file:///x?y=1', /no query/],
  ];

  it.each(invalid)('rejects %j with a reason', (url, reason) => {
    let error: unknown;
    try {
      parseStorageUrl(url);
    } catch (err) {
      error = err;
    }
    expect(isLivepipeError(error, ErrorCode.ConfigInvalid)).toBe(true);
    expect((error as Error).message).toMatch(reason);
  });

  it('never throws anything but ConfigInvalid, whatever the input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string().map((s) => `s3://${s}`), fc.webUrl().map((u) => u.replace(/^https?/, 's3'))), (url) => {
        try {
          const config = parseStorageUrl(url);
          expect(['fs', 's3']).toContain(config.kind);
        } catch (err) {
          expect(isLivepipeError(err, ErrorCode.ConfigInvalid)).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });

  const bucket = fc
    .tuple(
      fc.stringMatching(/^[a-z0-9]$/),
      fc.stringMatching(/^[a-z0-9-]{1,20}$/),
      fc.stringMatching(/^[a-z0-9]$/),
    )
    .map(([a, b, c]) => a + b + c);
  const segment = fc.stringMatching(/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,10}$/).filter((s) => s !== '.' && s !== '..');
  const s3Config = fc.record(
    {
      bucket,
      prefix: fc.array(segment, { maxLength: 4 }).map((parts) => (parts.length === 0 ? '' : `${parts.join('/')}/`)),
      endpoint: fc.constantFrom('http://127.0.0.1:9000', 'https://s3.example.com', 'http://[::1]:4568/'),
      region: fc.stringMatching(/^[a-z]{2}-[a-z]{2,9}-[1-9]$/),
      forcePathStyle: fc.boolean(),
      listApi: fc.constantFrom('v1' as const, 'v2' as const),
    },
    { requiredKeys: ['bucket', 'prefix'] },
  );

  it('round-trips every valid S3 config through formatStorageUrl', () => {
    fc.assert(
      fc.property(s3Config, (fields) => {
        const config: StorageConfig = { kind: 's3', ...fields };
        expect(parseStorageUrl(formatStorageUrl(config))).toEqual(config);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('bucketNameProblem', () => {
  it.each([
    ['abc', undefined],
    ['a'.repeat(63), undefined],
    ['my-bucket.eu', undefined],
    ['a'.repeat(64), 'must be 3 to 63 characters long'],
    ['bucket-', 'must use lowercase letters, digits, dots and hyphens, and start and end with a letter or digit'],
  ])('%s → %s', (name, problem) => {
    expect(bucketNameProblem(name)).toBe(problem);
  });
});

describe('createStorage', () => {
  it('builds the driver named by the config', async () => {
    const fs = createStorage({ kind: 'fs', root: '/tmp/livepipe-never-started' }, silentLogger());
    expect(fs).toBeInstanceOf(FsStorage);
    const s3 = createStorage({ kind: 's3', bucket: 'abc', endpoint: 'http://127.0.0.1:1', forcePathStyle: true }, silentLogger());
    expect(s3).toBeInstanceOf(S3Storage);
    await Promise.all([fs.close(), s3.close()]);
  });
});
