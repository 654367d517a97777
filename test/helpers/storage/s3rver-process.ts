/**
 * s3rver in a process of its own, so a test can treat it as an outage would: freeze it (SIGSTOP:
 * connections stay open, requests hang), thaw it (SIGCONT), or kill it outright (SIGKILL) and start
 * it again on the same port with the same data directory. `s3-server.ts` runs s3rver inside the test
 * process, where none of that is possible.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { S3RVER_CREDENTIALS } from './s3-server.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Runs s3rver on 127.0.0.1:PORT (0 = any) over DIR with one bucket; prints the bound port on stdout.
 *
 * S3 makes a PUT visible whole or not at all, and a GET returns one version with its own ETag.
 * s3rver 3.7 does neither under a rewrite of the same key (a playlist, several times a second): it
 * writes the object in place (answering the PUT before the bytes are flushed), and a GET takes the
 * length from one stat and then opens the path again, so it can return the new version cut to the old
 * one's length, with a valid-looking ETag. The cluster failover test's standalone origin served such
 * playlists (cut mid-line, or with no preload hint and no rendition reports) under load. Patched
 * here, as S3 behaves: a PUT writes the object and its metadata files each to a temporary file beside
 * it (not listed: its name does not end in `._S3rver_object`) and renames it over the old one; a GET
 * opens the object once and reads that one file whole — length and ETag (its MD5) from those bytes.
 */
const SCRIPT = `
import S3rver from 's3rver';
import FilesystemStore from 's3rver/lib/stores/filesystem.js';
import S3Object from 's3rver/lib/models/object.js';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable, Transform } from 'node:stream';
import { createHash } from 'node:crypto';
let temporaries = 0;
const temporaryBeside = (path) => path + '.tmp-' + process.pid + '-' + temporaries++;
const writeWhole = async (path, data) => {
  const temporary = temporaryBeside(path);
  await writeFile(temporary, data);
  await rename(temporary, path);
};
FilesystemStore.prototype.putMetadata = async function (bucket, key, metadata, md5) {
  const kept = Object.entries(metadata).filter(([name]) => S3Object.ALLOWED_METADATA.includes(name) || name.startsWith('x-amz-meta-'));
  if (md5) await writeWhole(this.getResourcePath(bucket, key, 'object.md5'), md5);
  await writeWhole(this.getResourcePath(bucket, key, 'metadata.json'), JSON.stringify(Object.fromEntries(kept), null, 2));
};
FilesystemStore.prototype.putObject = async function (object) {
  const objectPath = this.getResourcePath(object.bucket, object.key, 'object');
  await mkdir(dirname(objectPath), { recursive: true });
  const temporary = temporaryBeside(objectPath);
  const md5 = createHash('md5');
  let size = 0;
  const source = Buffer.isBuffer(object.content) ? Readable.from([object.content]) : object.content;
  const count = new Transform({ transform(chunk, encoding, callback) { md5.update(chunk); size += chunk.length; callback(null, chunk); } });
  await pipeline(source, count, createWriteStream(temporary));
  await rename(temporary, objectPath);
  const digest = md5.digest('hex');
  await this.putMetadata(object.bucket, object.key, object.metadata, digest);
  return { size, md5: digest };
};
FilesystemStore.prototype.getObject = async function (bucket, key, options) {
  let bytes;
  try {
    const handle = await open(this.getResourcePath(bucket, key, 'object'), 'r');
    try { bytes = await handle.readFile(); } finally { await handle.close(); }
  } catch (err) {
    if (err.code === 'ENOENT') return null;
    throw err;
  }
  let metadata;
  try {
    metadata = await this.getMetadata(bucket, key);
  } catch (err) {
    if (err.code === 'ENOENT') return null;
    throw err;
  }
  metadata = { ...metadata, etag: JSON.stringify(createHash('md5').update(bytes).digest('hex')), 'content-length': bytes.length };
  const lastByte = Math.max(0, bytes.length - 1);
  const ranged = options !== undefined && (options.start !== undefined || options.end);
  const range = { start: (options && options.start) || 0, end: Math.min((options && options.end) || Infinity, lastByte) };
  const satisfiable = !(range.start < 0 || Math.min(range.end, lastByte) < range.start);
  const object = new S3Object(bucket, key, satisfiable ? Readable.from([bytes.subarray(range.start, range.end + 1)]) : null, metadata);
  if (ranged) object.range = range;
  return object;
};
const [port, directory, bucket] = process.argv.slice(1);
const server = new S3rver({ address: '127.0.0.1', port: Number(port), silent: true, directory, configureBuckets: [{ name: bucket }] });
const address = await server.run();
process.stdout.write('PORT ' + address.port + '\\n');
`;

export interface S3rverProcess {
  endpoint: string;
  port: number;
  bucket: string;
  directory: string;
  credentials: typeof S3RVER_CREDENTIALS;
  /** The process id of the running s3rver (changes on `restart()`). */
  pid(): number;
  /** `storage:` URL for livepipe serve (path-style, ListObjects v1). */
  storageUrl(prefix?: string): string;
  /** Environment that gives livepipe (or any AWS SDK client) s3rver's credentials. */
  env(): NodeJS.ProcessEnv;
  /** SIGSTOP: the process freezes with its sockets open. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** SIGKILL, then waits for the exit. */
  kill(): Promise<void>;
  /** Starts it again (killing the current run first if it still runs) on the same port and directory. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

async function launch(port: number, directory: string, bucket: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', SCRIPT, String(port), directory, bucket], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const bound = await new Promise<number>((resolve, reject) => {
    // Generous: a Node process loading s3rver took over 20 s on this 2-core machine under load 50.
    const timer = setTimeout(() => reject(new Error(`s3rver did not start in 60 s: ${err.slice(-1000)}`)), 60_000);
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const match = /PORT (\d+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited (${code}) during start: ${err.slice(-1000)}`));
    });
  });
  return { child, port: bound };
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export async function startS3rverProcess(options: { bucket?: string } = {}): Promise<S3rverProcess> {
  const bucket = options.bucket ?? 'livepipe-chaos';
  const directory = await mkdtemp(join(tmpdir(), 'livepipe-s3rver-proc-'));
  let run = await launch(0, directory, bucket);
  const port = run.port;
  const endpoint = `http://127.0.0.1:${port}`;
  const kill = async () => {
    const child = run.child;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    }
    await exited(child);
  };
  return {
    endpoint,
    port,
    bucket,
    directory,
    credentials: S3RVER_CREDENTIALS,
    pid: () => run.child.pid!,
    storageUrl: (prefix = '') =>
      `s3://${bucket}/${prefix}?endpoint=${encodeURIComponent(endpoint)}&region=us-east-1&forcePathStyle=true&listApi=v1`,
    env: () => ({ AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey, AWS_REGION: 'us-east-1' }),
    pause: () => void run.child.kill('SIGSTOP'),
    resume: () => void run.child.kill('SIGCONT'),
    kill,
    async restart() {
      await kill();
      run = await launch(port, directory, bucket);
    },
    async close() {
      await kill();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
