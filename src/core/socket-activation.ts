import { ErrorCode, LivepipeError } from './errors.js';

/**
 * systemd socket activation (`sd_listen_fds(3)`): listening sockets a service manager opened and
 * handed to this process as file descriptors 3, 4, …, named by `FileDescriptorName=` in the socket
 * unit. The manager keeps its copy open while the service restarts, so the kernel queues new
 * connections until the next process accepts them: a viewer's request waits out a restart instead of
 * being refused (hls.js gives up on a refused playlist request at once; docs/operations.md).
 *
 * Pure: reads an environment, returns the descriptors by name. The CLI removes the variables from
 * its environment afterwards, so ffmpeg children never take them for their own.
 */

/** The first descriptor a service manager passes (`SD_LISTEN_FDS_START`). */
export const LISTEN_FDS_START = 3;

/** The socket names livepipe takes (`FileDescriptorName=` in the socket unit). */
export const INHERITED_SOCKET_NAMES = ['origin', 'api'] as const;
export type InheritedSocketName = (typeof INHERITED_SOCKET_NAMES)[number];

export interface InheritedSockets {
  /** Descriptors by the names livepipe knows. */
  fds: Partial<Record<InheritedSocketName, number>>;
  /** Names passed that livepipe does not use (worth a warning: the unit and the service disagree). */
  unknown: string[];
}

/** The environment variables of the protocol (removed once read). */
export const SOCKET_ACTIVATION_ENV = ['LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES'] as const;

/**
 * The sockets passed to process `pid`. None when `LISTEN_PID` is absent or names another process
 * (the variables were inherited from a parent: they are not ours), as `sd_listen_fds` does.
 * Malformed values are a configuration error, not something to guess around.
 */
export function inheritedSocketsFromEnv(env: Readonly<Record<string, string | undefined>>, pid: number): InheritedSockets {
  const none: InheritedSockets = { fds: {}, unknown: [] };
  const listenPid = env.LISTEN_PID;
  if (listenPid === undefined || listenPid === '') return none;
  if (!/^\d+$/.test(listenPid)) throw invalid(`LISTEN_PID must be a process id, got ${JSON.stringify(listenPid)}`);
  if (Number(listenPid) !== pid) return none;
  const count = env.LISTEN_FDS ?? '';
  if (!/^\d+$/.test(count) || Number(count) > 64) throw invalid(`LISTEN_FDS must be a count of descriptors (0–64), got ${JSON.stringify(count)}`);
  const n = Number(count);
  const names = env.LISTEN_FDNAMES === undefined || env.LISTEN_FDNAMES === '' ? [] : env.LISTEN_FDNAMES.split(':');
  if (names.length > 0 && names.length !== n) {
    throw invalid(`LISTEN_FDNAMES names ${names.length} descriptors but LISTEN_FDS is ${n}`);
  }
  const result: InheritedSockets = { fds: {}, unknown: [] };
  for (let i = 0; i < n; i += 1) {
    // An unnamed descriptor is systemd's "unknown": livepipe cannot tell which listener it is for.
    const name = names[i] ?? 'unknown';
    if (!(INHERITED_SOCKET_NAMES as readonly string[]).includes(name)) {
      result.unknown.push(name);
      continue;
    }
    const key = name as InheritedSocketName;
    if (result.fds[key] !== undefined) throw invalid(`LISTEN_FDNAMES names "${name}" twice`);
    result.fds[key] = LISTEN_FDS_START + i;
  }
  return result;
}

function invalid(message: string): LivepipeError {
  return new LivepipeError(ErrorCode.ConfigInvalid, `socket activation: ${message}`);
}
