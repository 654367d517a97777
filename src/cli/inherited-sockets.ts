import { inheritedSocketsFromEnv, SOCKET_ACTIVATION_ENV, type InheritedSockets } from '../core/socket-activation.js';
import type { Logger } from '../core/logger.js';

/**
 * Takes the listening sockets a service manager passed to this process (systemd socket activation)
 * and removes the protocol's variables from the environment, so the ffmpeg processes livepipe
 * starts never take them for their own. Names the unit passes that livepipe does not use are
 * logged: the socket unit and the command disagree.
 */
export function takeInheritedSockets(logger: Logger, env: NodeJS.ProcessEnv = process.env): InheritedSockets {
  const sockets = inheritedSocketsFromEnv(env, process.pid);
  for (const name of SOCKET_ACTIVATION_ENV) delete env[name];
  if (sockets.unknown.length > 0) {
    logger.warn({ names: sockets.unknown }, 'socket activation: livepipe uses the sockets named "origin" (FileDescriptorName=); these are left unused');
  }
  return sockets;
}
