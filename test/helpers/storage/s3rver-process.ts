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

/** Runs s3rver on 127.0.0.1:PORT (0 = any) over DIR with one bucket; prints the bound port on stdout. */
const SCRIPT = `
import S3rver from 's3rver';
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
