/**
 * A real `redis-server` (Debian's package; `scripts/setup.sh --test` installs it) in a process of its
 * own on a free loopback port, so a test can treat it as an outage would: freeze it (SIGSTOP), thaw it
 * (SIGCONT), stop it and start it again on the same port. Nothing is persisted: every start is empty
 * unless `restart({ keepData: true })`, which uses an append-only file in its temporary directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Socket } from 'node:net';
import { freePort } from '../ports.js';
import { waitFor } from '../wait.js';

export interface RedisServerProcess {
  /** `redis://127.0.0.1:PORT` — what `cluster.redis` / `LIVEPIPE_REDIS_URL` takes. */
  url: string;
  port: number;
  pid(): number;
  /** SIGSTOP: connections stay open, commands hang. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** SIGTERM (redis writes its append-only file, if any) and waits for the exit. */
  stop(): Promise<void>;
  /** SIGKILL and waits for the exit. */
  kill(): Promise<void>;
  /** Starts it again on the same port (stopping the current run first if it still runs). */
  start(): Promise<void>;
  close(): Promise<void>;
}

/** PING over a raw socket: true once redis answers +PONG. */
async function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    let answer = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.on('data', (b) => {
      answer += b.toString();
      if (answer.includes('\r\n')) done(answer.startsWith('+PONG'));
    });
    socket.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
  });
}

/**
 * Starts redis-server. `appendOnly: true` keeps the data across `stop()`/`start()` (as a Redis with
 * persistence would after a restart); the default keeps nothing, as a cache-only Redis would.
 */
export async function startRedisServer(options: { appendOnly?: boolean } = {}): Promise<RedisServerProcess> {
  const port = await freePort();
  const directory = await mkdtemp(join(tmpdir(), 'livepipe-redis-'));
  let child: ChildProcess | undefined;
  let stderr = '';

  const launch = async (): Promise<void> => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', directory, '--save', '', '--daemonize', 'no'];
    args.push('--appendonly', options.appendOnly === true ? 'yes' : 'no');
    const proc = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr!.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
    child = proc;
    const exited = new Promise<never>((_, reject) =>
      proc.once('exit', (code) => reject(new Error(`redis-server exited (${code}) before it answered: ${stderr}`))),
    );
    exited.catch(() => undefined);
    await Promise.race([waitFor(() => ping(port), { timeoutMs: 15_000, intervalMs: 50, message: 'redis-server to answer PING' }), exited]);
  };

  const waitExit = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    if (proc.signalCode === null) proc.kill('SIGCONT');
    proc.kill(signal);
    await exited;
  };

  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: () => child?.pid ?? -1,
    pause: () => void child?.kill('SIGSTOP'),
    resume: () => void child?.kill('SIGCONT'),
    stop: () => waitExit('SIGTERM'),
    kill: () => waitExit('SIGKILL'),
    start: async () => {
      await waitExit('SIGTERM');
      await launch();
    },
    close: async () => {
      await waitExit('SIGKILL');
      await rm(directory, { recursive: true, force: true });
    },
  };
}
