import { createSocket } from 'node:dgram';
import { createServer, type AddressInfo } from 'node:net';

/**
 * A port that was free on 127.0.0.1 a moment ago (TCP by default, or UDP for SRT). Another process
 * can take it before the test binds it: servers in the test process should bind port 0 and report
 * the port they got instead; this is for child processes and config files that need a number.
 */
export async function freePort(protocol: 'tcp' | 'udp' = 'tcp'): Promise<number> {
  if (protocol === 'udp') {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => resolve());
    });
    const { port } = socket.address();
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    return port;
  }
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** `count` distinct free ports (e.g. one UDP port per SRT channel). */
export async function freePorts(count: number, protocol: 'tcp' | 'udp' = 'tcp'): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort(protocol));
  return [...ports];
}
