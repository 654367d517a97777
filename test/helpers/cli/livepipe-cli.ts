/**
 * Runs the real `livepipe` CLI (bin/livepipe.js → dist/) as a child process for integration and
 * e2e tests, collecting its output, and stops it the way an operator would (SIGINT/SIGTERM).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../wait.js';

export const LIVEPIPE_BIN = fileURLToPath(new URL('../../../bin/livepipe.js', import.meta.url));

/** What tests do with the CLI's process: signal it, read its pid and whether it exited. */
export type CliChild = Pick<ChildProcess, 'pid' | 'kill' | 'exitCode' | 'signalCode'>;

export interface CliProcess {
  child: CliChild;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
  /** Sends `signal` (default SIGINT) and waits for the exit, SIGKILL after `timeoutMs`. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | string>;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): CliProcess {
  const child = spawn(process.execPath, [LIVEPIPE_BIN, ...args], {
    env: { ...process.env, LIVEPIPE_LOG_LEVEL: process.env.LIVEPIPE_LOG_LEVEL ?? 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    async stop(signal = 'SIGINT', timeoutMs = 20_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

/** Waits until `url` answers 200 and returns the body; throws after `timeoutMs` with the last answer. */
export async function waitForHttp(url: string, timeoutMs: number): Promise<string> {
  let lastError = '';
  const probe = async (): Promise<string | undefined> => {
    try {
      const res = await fetch(url);
      if (res.status === 200) return await res.text();
      lastError = `HTTP ${res.status}`;
      await res.arrayBuffer();
    } catch (err) {
      lastError = (err as Error).message;
    }
    return undefined;
  };
  try {
    return await waitFor(probe, { timeoutMs, intervalMs: 200, message: url });
  } catch {
    throw new Error(`${url} not ready after ${timeoutMs} ms: ${lastError}`);
  }
}

const LOADED_PACKAGES_PRELOAD = fileURLToPath(new URL('./loaded-packages.cjs', import.meta.url));
const LOADED_PACKAGES_LINE = 'livepipe-test loaded-packages: ';

/** Environment that makes the CLI report the npm packages it loaded when it exits (`loadedPackages`). */
export function loadedPackagesEnv(): NodeJS.ProcessEnv {
  return { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${JSON.stringify(LOADED_PACKAGES_PRELOAD)}`.trim() };
}

/** The packages an exited CLI run under `loadedPackagesEnv()` loaded (CommonJS ones: see loaded-packages.cjs). */
export function loadedPackages(cli: Pick<CliProcess, 'stderr'>): string[] {
  const line = cli.stderr().split('\n').find((l) => l.startsWith(LOADED_PACKAGES_LINE));
  if (line === undefined) throw new Error(`the CLI reported no loaded packages (did it exit? was loadedPackagesEnv() given?): ${cli.stderr().slice(-1000)}`);
  return JSON.parse(line.slice(LOADED_PACKAGES_LINE.length)) as string[];
}
