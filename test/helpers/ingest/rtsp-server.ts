import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { freePort } from '../ports.js';

/**
 * A real RTSP server for pulled-source tests: Debian's `rtsp-server-perl` (installed by
 * `scripts/setup.sh --test`). ffmpeg publishes into it with `-f rtsp` (ANNOUNCE/RECORD on the source
 * port) and any RTSP client — livepipe's pull — plays the same path from the client port.
 */
export interface RtspServer {
  /** Where a publisher sends: `rtsp://127.0.0.1:{sourcePort}/{path}`. */
  publishUrl(path: string): string;
  /** Where a client plays: `rtsp://127.0.0.1:{clientPort}/{path}`. */
  playUrl(path: string): string;
  /** What the server printed (its log, for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

export async function startRtspServer(): Promise<RtspServer> {
  const clientPort = await freePort('tcp');
  const sourcePort = await freePort('tcp');
  // RTP/RTCP pairs are handed out upwards from here; a random base keeps parallel servers apart.
  const rtpStart = 30_000 + 2 * Math.floor(Math.random() * 10_000);
  const child: ChildProcess = spawn(
    'rtsp-server-perl',
    ['--clientport', String(clientPort), '--serverport', String(sourcePort), '--client_listen_address', '127.0.0.1', '--source_listen_address', '127.0.0.1', '--rtp_start_port', String(rtpStart), '--loglevel', '2'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', (err) => (output += `\nspawn failed: ${err.message} (install rtsp-server-perl: scripts/setup.sh --test)`));
  // Listening once its source port answers.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect(sourcePort, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (up) break;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`rtsp-server-perl did not start: ${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    publishUrl: (path) => `rtsp://127.0.0.1:${sourcePort}/${path}`,
    playUrl: (path) => `rtsp://127.0.0.1:${clientPort}/${path}`,
    log: () => output,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
