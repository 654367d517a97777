// Types only: the SDK itself is imported on first use (`S3Storage.connection`).
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { ErrorCode, LivepipeError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { contentTypeForKey } from './content-types.js';
import {
  assertSafeKey,
  assertSafePrefix,
  type GetOptions,
  type GetResult,
  type ObjectStorage,
  type PutOptions,
} from './object-storage.js';
import { OperationTracker } from './operation-tracker.js';

/** S3's limit on keys per DeleteObjects request. */
export const S3_MAX_DELETE_BATCH = 1000;

type S3Sdk = typeof import('@aws-sdk/client-s3');

/** The SDK's module and the client built from this storage's options. */
interface S3Connection {
  sdk: S3Sdk;
  client: S3Client;
}

export interface S3StorageOptions {
  bucket: string;
  /** Key prefix inside the bucket (`''` or ending in `/`), e.g. `tenant-a/`. Default `''`. */
  prefix?: string;
  /**
   * Endpoint URL of an S3-compatible server (`http://127.0.0.1:9000`). Default: the SDK's own
   * resolution — `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, the shared config file, else AWS.
   */
  endpoint?: string;
  /**
   * Default: the SDK's resolution (`AWS_REGION`, shared config file). When an endpoint is set and
   * `AWS_REGION` is not, `us-east-1` (S3-compatible servers ignore the region but SigV4 needs one).
   */
  region?: string;
  /** Path-style URLs (`endpoint/bucket/key`), which most S3-compatible servers need. Default `false`. */
  forcePathStyle?: boolean;
  /** Default: the SDK's credential chain (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, profiles, IMDS…). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** TCP connect timeout. Default 2000 ms. */
  connectionTimeoutMs?: number;
  /**
   * Whole request/response timeout, thrown as an error. Default 10000 ms: a backstop for any call;
   * uploads through the UploadQueue get tighter, size-aware per-attempt timeouts.
   */
  requestTimeoutMs?: number;
  /**
   * SDK attempts per call (the SDK's retry strategy, for throttling and transient errors). Default 2:
   * live media is worthless a few seconds late, and the upload queue has its own retries.
   */
  maxAttempts?: number;
  /**
   * Flexible checksums (`requestChecksumCalculation`/`responseChecksumValidation`). The SDK default
   * (`when-supported`) adds CRC32 headers to every PUT and validates them on GET; servers other than
   * AWS may not understand them (and for streamed bodies it switches to `aws-chunked` uploads with
   * trailers, which many do not support). Default: `when-required` when an endpoint is configured
   * (option or `AWS_ENDPOINT_URL*`) and `AWS_REQUEST_CHECKSUM_CALCULATION` is unset, else the SDK's.
   */
  checksums?: 'when-supported' | 'when-required';
  /** Keys per DeleteObjects request, 1…1000. Default 1000. */
  deleteBatchSize?: number;
  /** Keep-alive sockets to the endpoint. Default 64. */
  maxSockets?: number;
  /**
   * Listing API. Default `v2` (ListObjectsV2, what AWS recommends). `v1` (ListObjects with
   * markers) is for servers whose V2 pagination is broken — s3rver 3 answers 500 to any truncated
   * V2 listing on OpenSSL 3 (its continuation tokens use DES, which OpenSSL 3 removed).
   */
  listApi?: 'v1' | 'v2';
}

/**
 * S3 (or an S3-compatible server) through `@aws-sdk/client-s3`. Every object gets `Content-Type`
 * and (when given) `Cache-Control`, so a CDN can read the bucket directly. S3 PUTs are atomic and,
 * since December 2020, strongly read-after-write consistent.
 */
export class S3Storage implements ObjectStorage {
  readonly bucket: string;
  readonly prefix: string;
  private readonly clientConfig: S3ClientConfig;
  private connecting: Promise<S3Connection> | undefined;
  private readonly endpoint: string | undefined;
  private readonly deleteBatchSize: number;
  private readonly listApi: 'v1' | 'v2';
  private closing: Promise<void> | undefined;
  private readonly ops = new OperationTracker('s3 storage');
  private readonly logger: Logger;

  constructor(options: S3StorageOptions, logger: Logger, env: NodeJS.ProcessEnv = process.env) {
    this.bucket = options.bucket;
    this.prefix = normalizePrefix(options.prefix ?? '');
    this.deleteBatchSize = options.deleteBatchSize ?? S3_MAX_DELETE_BATCH;
    if (!Number.isInteger(this.deleteBatchSize) || this.deleteBatchSize < 1 || this.deleteBatchSize > S3_MAX_DELETE_BATCH) {
      throw new LivepipeError(ErrorCode.ConfigInvalid, `deleteBatchSize must be 1…${S3_MAX_DELETE_BATCH}, got ${this.deleteBatchSize}`);
    }
    this.listApi = options.listApi ?? 'v2';
    this.endpoint = options.endpoint ?? env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
    this.logger = logger.child({ component: 's3-storage', bucket: this.bucket, prefix: this.prefix });

    const config: S3ClientConfig = {
      forcePathStyle: options.forcePathStyle ?? false,
      // A bucket in another region than configured answers 301: follow it instead of failing.
      followRegionRedirects: true,
      maxAttempts: options.maxAttempts ?? 2,
      requestHandler: {
        connectionTimeout: options.connectionTimeoutMs ?? 2000,
        requestTimeout: options.requestTimeoutMs ?? 10_000,
        throwOnRequestTimeout: true,
        httpAgent: { keepAlive: true, maxSockets: options.maxSockets ?? 64 },
        httpsAgent: { keepAlive: true, maxSockets: options.maxSockets ?? 64 },
      },
    };
    if (options.endpoint !== undefined) config.endpoint = options.endpoint;
    if (options.region !== undefined) config.region = options.region;
    else if (this.endpoint !== undefined && env.AWS_REGION === undefined) config.region = 'us-east-1';
    if (options.credentials !== undefined) config.credentials = options.credentials;
    const checksums =
      options.checksums ??
      (this.endpoint !== undefined && env.AWS_REQUEST_CHECKSUM_CALCULATION === undefined ? 'when-required' : undefined);
    if (checksums !== undefined) {
      const mode = checksums === 'when-required' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED';
      config.requestChecksumCalculation = mode;
      config.responseChecksumValidation = mode;
    }
    this.clientConfig = config;
  }

  /**
   * The SDK, imported on first use (`start()` in a service), and the client. Importing
   * `@aws-sdk/client-s3` was the largest single import of a `livepipe serve` start that never needs
   * it (disk storage): ~0.12 s of the start on a 2-core machine, bench/results/serve-startup.md. Options are
   * validated in the constructor, so a bad configuration still fails before anything starts.
   */
  private connection(): Promise<S3Connection> {
    this.connecting ??= import('@aws-sdk/client-s3').then((sdk) => ({ sdk, client: new sdk.S3Client(this.clientConfig) }));
    return this.connecting;
  }

  async start(): Promise<void> {
    const { sdk, client } = await this.connection();
    try {
      await client.send(new sdk.HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      const status = httpStatusOf(err);
      const where = `s3://${this.bucket}${this.endpoint === undefined ? '' : ` at ${this.endpoint}`}`;
      const reason =
        status === 404
          ? 'the bucket does not exist'
          : status === 403 || status === 401
            ? 'access denied (check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the credentials option)'
            : describe(err);
      throw new LivepipeError(ErrorCode.StorageUnavailable, `storage ${where} is not usable: ${reason}`, {
        cause: err,
        details: { bucket: this.bucket, endpoint: this.endpoint, status },
      });
    }
    this.logger.info({ endpoint: this.endpoint ?? 'aws' }, 's3 storage ready');
  }

  async put(key: string, body: Uint8Array, options: PutOptions): Promise<void> {
    assertSafeKey(key);
    return this.ops.run(async () => {
      const { sdk, client } = await this.connection();
      try {
        const command = new sdk.PutObjectCommand({
          Bucket: this.bucket,
          Key: this.prefix + key,
          Body: body,
          ContentLength: body.byteLength,
          ContentType: options.contentType,
          CacheControl: options.cacheControl,
          ...(options.metadata !== undefined ? { Metadata: { ...options.metadata } } : {}),
        });
        const { beforeSend } = options;
        if (beforeSend !== undefined) {
          // The innermost middleware of the stack: runs on every attempt, after signing and retries,
          // immediately before the request handler writes the request to its socket.
          command.middlewareStack.add(
            (next) => (args) => {
              beforeSend();
              return next(args);
            },
            { step: 'deserialize', priority: 'low', name: 'livepipeBeforeSend' },
          );
        }
        await client.send(command, options.signal ? { abortSignal: options.signal } : {});
      } catch (err) {
        throw this.error('put', key, err);
      }
    });
  }

  async get(key: string, options: GetOptions = {}): Promise<GetResult | undefined> {
    assertSafeKey(key);
    return this.ops.run(async () => {
      const { sdk, client } = await this.connection();
      try {
        const out = await client.send(
          new sdk.GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key, IfNoneMatch: options.ifNoneMatch }),
        );
        if (out.Body === undefined) throw new Error('response has no body');
        const body = Buffer.from(await out.Body.transformToByteArray());
        const result: GetResult = {
          body,
          contentType: out.ContentType ?? contentTypeForKey(key),
          etag: out.ETag ?? '',
          lastModified: out.LastModified ?? new Date(),
        };
        if (out.CacheControl !== undefined) result.cacheControl = out.CacheControl;
        return result;
      } catch (err) {
        const status = httpStatusOf(err);
        // The SDK surfaces `304 Not Modified` as an error without a code.
        if (status === 304) return { notModified: true as const, etag: etagOf(err) ?? options.ifNoneMatch ?? '' };
        if (status === 404 && nameOf(err) !== 'NoSuchBucket') return undefined;
        throw this.error('get', key, err);
      }
    });
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) assertSafeKey(key);
    return this.ops.run(async () => {
      const { sdk, client } = await this.connection();
      for (let i = 0; i < keys.length; i += this.deleteBatchSize) {
        const batch = keys.slice(i, i + this.deleteBatchSize);
        let errors;
        try {
          const out = await client.send(
            new sdk.DeleteObjectsCommand({
              Bucket: this.bucket,
              Delete: { Objects: batch.map((key) => ({ Key: this.prefix + key })), Quiet: true },
            }),
          );
          errors = out.Errors ?? [];
        } catch (err) {
          throw this.error('delete', `${batch.length} keys from ${batch[0]}`, err);
        }
        if (errors.length > 0) {
          const first = errors[0];
          throw new LivepipeError(
            ErrorCode.StorageUnavailable,
            `s3 delete: ${errors.length} of ${batch.length} keys failed, first ${first?.Key}: ${first?.Code} ${first?.Message}`,
            { details: { bucket: this.bucket, failed: errors.length } },
          );
        }
      }
    });
  }

  async list(prefix: string): Promise<string[]> {
    assertSafePrefix(prefix);
    return this.ops.run(async () => {
      const { sdk, client } = await this.connection();
      const keys: string[] = [];
      const take = (contents: Array<{ Key?: string }> | undefined): void => {
        for (const object of contents ?? []) {
          if (object.Key?.startsWith(this.prefix)) keys.push(object.Key.slice(this.prefix.length));
        }
      };
      try {
        if (this.listApi === 'v2') {
          for await (const page of sdk.paginateListObjectsV2(
            { client },
            { Bucket: this.bucket, Prefix: this.prefix + prefix },
          )) {
            take(page.Contents);
          }
        } else {
          // V1 without a delimiter returns no NextMarker: the next page starts after the last key.
          for (let marker: string | undefined; ; ) {
            const page = await client.send(
              new sdk.ListObjectsCommand({ Bucket: this.bucket, Prefix: this.prefix + prefix, Marker: marker }),
            );
            take(page.Contents);
            marker = page.NextMarker ?? page.Contents?.at(-1)?.Key;
            if (page.IsTruncated !== true || marker === undefined) break;
          }
        }
      } catch (err) {
        throw this.error('list', prefix, err);
      }
      return keys;
    });
  }

  ping(): Promise<void> {
    return this.ops.run(async () => {
      const { sdk, client } = await this.connection();
      try {
        await client.send(new sdk.HeadBucketCommand({ Bucket: this.bucket }));
      } catch (err) {
        throw this.error('ping', '', err);
      }
    });
  }

  close(): Promise<void> {
    // A client that was never built (storage closed unused) has nothing to release.
    this.closing ??= this.ops.close().then(async () => (await this.connecting?.catch(() => undefined))?.client.destroy());
    return this.closing;
  }

  private error(op: string, key: string, err: unknown): LivepipeError {
    return new LivepipeError(ErrorCode.StorageUnavailable, `s3 ${op} s3://${this.bucket}/${this.prefix}${key}: ${describe(err)}`, {
      cause: err,
      details: { op, bucket: this.bucket, key, status: httpStatusOf(err) },
    });
  }
}

/** `''`, or the prefix with one trailing `/` and no leading one; rejects unsafe segments. */
export function normalizePrefix(prefix: string): string {
  const trimmed = prefix.replace(/^\/+/, '').replace(/\/+$/, '');
  if (trimmed === '') return '';
  try {
    assertSafeKey(trimmed);
  } catch {
    throw new LivepipeError(ErrorCode.ConfigInvalid, `invalid S3 key prefix ${JSON.stringify(prefix)}: use letters, digits, . _ - and single slashes`);
  }
  return `${trimmed}/`;
}

function httpStatusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

function nameOf(err: unknown): string | undefined {
  return err instanceof Error ? err.name : undefined;
}

function etagOf(err: unknown): string | undefined {
  const headers = (err as { $response?: { headers?: Record<string, string> } } | undefined)?.$response?.headers;
  return headers?.etag ?? headers?.ETag;
}

function describe(err: unknown): string {
  const status = httpStatusOf(err);
  const name = nameOf(err);
  const message = errorMessage(err);
  const label = name !== undefined && name !== 'Error' && name !== 'Unknown' && !message.startsWith(name) ? `${name}: ` : '';
  return `${label}${message}${status !== undefined ? ` (HTTP ${status})` : ''}`;
}
