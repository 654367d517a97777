import { ErrorCode, LivepipeError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { FsStorage, type FsStorageOptions } from './fs-storage.js';
import type { ObjectStorage } from './object-storage.js';
import { normalizePrefix, S3Storage, type S3StorageOptions } from './s3-storage.js';

/** Where objects go: a directory (`{ kind: 'fs' }`) or a bucket (`{ kind: 's3' }`). */
export type StorageConfig = ({ kind: 'fs' } & FsStorageOptions) | ({ kind: 's3' } & S3StorageOptions);

/** Query parameters accepted on `s3://` URLs, and what they set. */
const S3_PARAMS = ['endpoint', 'region', 'forcePathStyle', 'listApi'] as const;

/**
 * Parses a storage location (pure: no I/O, relative directories stay relative):
 *
 * - `s3://bucket`, `s3://bucket/some/prefix` — optionally with
 *   `?endpoint=http://127.0.0.1:9000&region=eu-west-1&forcePathStyle=true&listApi=v1`
 *   (endpoint and region otherwise come from the SDK's environment: `AWS_ENDPOINT_URL`, `AWS_REGION`…);
 * - `file:///var/lib/livepipe`, or a plain directory path (`./data`, `/srv/live`).
 *
 * Credentials are never accepted in the URL (they would end up in logs and process listings):
 * use `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` or a profile. Throws
 * `LivepipeError(ErrorCode.ConfigInvalid)` with the reason.
 */
export function parseStorageUrl(url: string): StorageConfig {
  const text = url.trim();
  if (text === '') throw invalid(url, 'it is empty');
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(text)?.[1]?.toLowerCase();
  if (scheme === undefined || /^[A-Za-z]:[\\/]/.test(text)) return { kind: 'fs', root: text };
  if (scheme === 'file') return parseFileUrl(url, text);
  if (scheme === 's3') return parseS3Url(url, text);
  throw invalid(url, `unsupported scheme "${scheme}:" (use s3://bucket/prefix or a directory path)`);
}

/** The URL form of a config, for logs (never contains secrets). */
export function formatStorageUrl(config: StorageConfig): string {
  if (config.kind === 'fs') return config.root;
  const params = new URLSearchParams();
  if (config.endpoint !== undefined) params.set('endpoint', config.endpoint);
  if (config.region !== undefined) params.set('region', config.region);
  if (config.forcePathStyle !== undefined) params.set('forcePathStyle', String(config.forcePathStyle));
  if (config.listApi !== undefined) params.set('listApi', config.listApi);
  const query = params.toString();
  return `s3://${config.bucket}/${config.prefix ?? ''}${query === '' ? '' : `?${query}`}`;
}

/** Builds the driver for a config. The caller owns it: `start()` before use, `close()` at the end. */
export function createStorage(config: StorageConfig, logger: Logger): ObjectStorage {
  if (config.kind === 'fs') {
    const { kind: _kind, ...options } = config;
    return new FsStorage(options, logger);
  }
  const { kind: _kind, ...options } = config;
  return new S3Storage(options, logger);
}

function parseFileUrl(original: string, text: string): StorageConfig {
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    throw invalid(original, 'it is not a valid file: URL');
  }
  if (parsed.host !== '' && parsed.host !== 'localhost') throw invalid(original, `file: URLs cannot name a host ("${parsed.host}")`);
  if (parsed.search !== '' || parsed.hash !== '') throw invalid(original, 'file: URLs take no query or fragment');
  const root = decodeURIComponent(parsed.pathname);
  if (root === '' || root.includes('\0')) throw invalid(original, 'the path is empty or contains NUL');
  return { kind: 'fs', root };
}

function parseS3Url(original: string, text: string): StorageConfig {
  // Split by hand rather than with `new URL`: WHATWG URL lowercases and IDNA-maps the host and
  // would silently accept bucket names S3 rejects.
  if (!/^s3:\/\//i.test(text)) throw invalid(original, 'expected s3://bucket[/prefix]');
  const rest = text.slice('s3://'.length);
  const queryAt = rest.search(/[?#]/);
  const location = queryAt === -1 ? rest : rest.slice(0, queryAt);
  if (queryAt !== -1 && rest[queryAt] === '#') throw invalid(original, 's3 URLs take no fragment');
  const query = queryAt === -1 ? '' : rest.slice(queryAt + 1);
  if (query.includes('#')) throw invalid(original, 's3 URLs take no fragment');

  const slash = location.indexOf('/');
  const bucket = slash === -1 ? location : location.slice(0, slash);
  const prefixText = slash === -1 ? '' : location.slice(slash + 1);
  if (bucket.includes('@')) {
    throw invalid(original, 'credentials do not belong in the URL: set AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY');
  }
  if (bucket === '') throw invalid(original, 'the bucket name is missing');
  const bucketProblem = bucketNameProblem(bucket);
  if (bucketProblem !== undefined) throw invalid(original, `bucket "${bucket}" ${bucketProblem}`);
  if (prefixText.includes('//')) throw invalid(original, 'the prefix has an empty segment ("//")');
  let prefix: string;
  try {
    prefix = normalizePrefix(prefixText);
  } catch (err) {
    throw invalid(original, err instanceof Error ? err.message : String(err));
  }

  const config: StorageConfig = { kind: 's3', bucket, prefix };
  const params = new URLSearchParams(query);
  for (const name of new Set(params.keys())) {
    if (!(S3_PARAMS as readonly string[]).includes(name)) {
      throw invalid(original, `unknown parameter "${name}" (known: ${S3_PARAMS.join(', ')})`);
    }
    if (params.getAll(name).length > 1) throw invalid(original, `parameter "${name}" is given twice`);
  }
  const endpoint = params.get('endpoint');
  if (endpoint !== null) {
    let parsed: URL;
    try {
      parsed = new URL(endpoint);
    } catch {
      throw invalid(original, `endpoint "${endpoint}" is not a URL`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw invalid(original, `endpoint "${endpoint}" must be http(s)`);
    if (parsed.username !== '' || parsed.password !== '') {
      throw invalid(original, 'credentials do not belong in the endpoint: set AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY');
    }
    config.endpoint = endpoint;
  }
  const region = params.get('region');
  if (region !== null) {
    if (!/^[a-z0-9-]{1,64}$/.test(region)) throw invalid(original, `region "${region}" is not a region name`);
    config.region = region;
  }
  const pathStyle = params.get('forcePathStyle');
  if (pathStyle !== null) {
    if (pathStyle !== 'true' && pathStyle !== 'false') throw invalid(original, 'forcePathStyle must be true or false');
    config.forcePathStyle = pathStyle === 'true';
  }
  const listApi = params.get('listApi');
  if (listApi !== null) {
    if (listApi !== 'v1' && listApi !== 'v2') throw invalid(original, 'listApi must be v1 or v2');
    config.listApi = listApi;
  }
  return config;
}

/**
 * S3 bucket naming rules (general purpose buckets): 3–63 characters, lowercase letters, digits,
 * dots and hyphens, starting and ending with a letter or digit, no `..`, not an IP address.
 */
export function bucketNameProblem(bucket: string): string | undefined {
  if (bucket.length < 3 || bucket.length > 63) return 'must be 3 to 63 characters long';
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(bucket)) {
    return 'must use lowercase letters, digits, dots and hyphens, and start and end with a letter or digit';
  }
  if (bucket.includes('..')) return 'must not contain ".."';
  if (/^\d+\.\d+\.\d+\.\d+$/.test(bucket)) return 'must not look like an IP address';
  return undefined;
}

function invalid(url: string, reason: string): LivepipeError {
  return new LivepipeError(ErrorCode.ConfigInvalid, `invalid storage location ${JSON.stringify(url)}: ${reason}`, {
    details: { reason },
  });
}
