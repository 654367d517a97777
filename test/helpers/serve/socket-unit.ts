/**
 * A systemd-style socket unit for tests: the origin's listening socket is opened by
 * `systemd-socket-activate` (systemd's own tool) and kept open by a small holder process
 * (socket-unit-holder.mjs) across restarts of the service, as systemd keeps a `.socket` unit's socket
 * while its `.service` restarts. The CLI started through it gets the socket as fd 3 with
 * LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES (sd_listen_fds), so connections made while it restarts wait
 * in the kernel's queue instead of being refused.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LIVEPIPE_BIN, type CliChild, type CliProcess } from '../cli/livepipe-cli.js';
import { waitFor } from '../wait.js';

const HOLDER = fileURLToPath(new URL('./socket-unit-holder.mjs', import.meta.url));

type HolderEvent = { event: 'started'; pid: number } | { event: 'exit'; code: number | null; signal: NodeJS.Signals | null } | { event: 'error'; message: string };

export interface SocketUnit {
  /** Starts `livepipe <args>` with the unit's socket (the previous start must have exited). */
  runCli(args: string[], env?: NodeJS.ProcessEnv): Promise<CliProcess>;
  /** Closes the socket for good (the holder exits). */
  close(): Promise<void>;
}

export async function startSocketUnit(port: number, name = 'origin', host = '127.0.0.1'): Promise<SocketUnit> {
  const dir = await mkdtemp(join(tmpdir(), 'livepipe-socket-unit-'));
  const controlPath = join(dir, 'control.sock');
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(controlPath, resolve));
  const connected = new Promise<Socket>((resolve) => server.once('connection', resolve));
  const activator: ChildProcess = spawn('systemd-socket-activate', ['-l', `${host}:${port}`, `--fdname=${name}`, process.execPath, HOLDER, controlPath], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let activatorErr = '';
  activator.stderr!.on('data', (b: Buffer) => (activatorErr += b.toString()));
  // systemd-socket-activate starts its command on the first connection: make one.
  await waitListening(host, port, () => activatorErr);
  const control = await Promise.race([
    connected,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`socket unit holder did not start: ${activatorErr}`)), 10_000)),
  ]);
  const listeners = new Set<(e: HolderEvent) => void>();
  let buffered = '';
  control.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const event = JSON.parse(buffered.slice(0, newline)) as HolderEvent;
      buffered = buffered.slice(newline + 1);
      for (const l of listeners) l(event);
    }
  });
  let runs = 0;
  return {
    async runCli(args, env = {}) {
      runs += 1;
      const stdoutPath = join(dir, `run-${runs}.out`);
      const stderrPath = join(dir, `run-${runs}.err`);
      writeFileSync(stdoutPath, '');
      writeFileSync(stderrPath, '');
      let pid = 0;
      let exitCode: number | null = null;
      let signalCode: NodeJS.Signals | null = null;
      let resolveExit!: (v: number | string) => void;
      const exited = new Promise<number | string>((resolve) => (resolveExit = resolve));
      const started = new Promise<void>((resolve, reject) => {
        const onEvent = (e: HolderEvent): void => {
          if (e.event === 'started') {
            pid = e.pid;
            resolve();
          } else if (e.event === 'error') {
            reject(new Error(`socket unit could not start livepipe: ${e.message}`));
          } else {
            exitCode = e.code;
            signalCode = e.signal;
            listeners.delete(onEvent);
            resolveExit(e.code ?? e.signal ?? -1);
          }
        };
        listeners.add(onEvent);
      });
      const childEnv = { ...process.env, LIVEPIPE_LOG_LEVEL: process.env.LIVEPIPE_LOG_LEVEL ?? 'info', ...env };
      control.write(`${JSON.stringify({ cmd: 'start', argv: [process.execPath, LIVEPIPE_BIN, ...args], env: childEnv, stdout: stdoutPath, stderr: stderrPath })}\n`);
      await started;
      const child: CliChild = {
        get pid() {
          return pid;
        },
        get exitCode() {
          return exitCode;
        },
        get signalCode() {
          return signalCode;
        },
        kill(signal?: NodeJS.Signals | number) {
          if (exitCode !== null || signalCode !== null) return false;
          process.kill(pid, signal ?? 'SIGTERM');
          return true;
        },
      };
      return {
        child,
        stdout: () => readFileSync(stdoutPath, 'utf8'),
        stderr: () => readFileSync(stderrPath, 'utf8'),
        exited,
        async stop(signal = 'SIGINT', timeoutMs = 20_000) {
          child.kill(signal);
          const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
          const result = await exited;
          clearTimeout(timer);
          return result;
        },
      };
    },
    async close() {
      control.destroy();
      const gone = new Promise<void>((resolve) => (activator.exitCode !== null ? resolve() : activator.once('exit', () => resolve())));
      setTimeout(() => activator.kill('SIGKILL'), 5000).unref();
      await gone;
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Connects once (which makes systemd-socket-activate start its command) and hangs up. */
async function waitListening(host: string, port: number, diagnostics: () => string): Promise<void> {
  const connects = () =>
    new Promise<boolean>((resolve) => {
      const s = connect(port, host);
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
  try {
    await waitFor(connects, { timeoutMs: 10_000, intervalMs: 50, message: `systemd-socket-activate listening on ${host}:${port}` });
  } catch (err) {
    throw new Error(`${(err as Error).message}: ${diagnostics()}`);
  }
}
