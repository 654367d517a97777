/**
 * A real `livepipe serve` composition (`startServe`: ingest, channel manager, ladders, packager,
 * filesystem storage, origin, ops API) in the test process, on random free ports, with its log kept
 * in memory. Publishers are real ffmpeg processes (see `ingest-media.ts`); players are hls.js or
 * plain HTTP reads of the playlists.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServe, type ServeHandle } from '../../src/cli/serve-command.js';
import { buildServiceConfig } from '../../src/config/service-config.js';
import { parseMediaPlaylist } from '../../src/hls/playlist-parser.js';
import type { MediaPlaylist } from '../../src/hls/playlist-model.js';
import { captureLogs } from './ingest-log-capture.js';
import { runCli, waitForHttp, type CliProcess } from './livepipe-cli.js';
import { freeTcpPort, freeUdpPort, publish, type PublishOptions, type Publisher } from './ingest-media.js';

export interface ServeFixture {
  handle: ServeHandle;
  dataDir: string;
  rtmpPort: number;
  originBase: string;
  apiBase: string;
  logs: ReturnType<typeof captureLogs>;
  /** `http://127.0.0.1:{origin}/live/{channel}` */
  live(channel: string): string;
  rtmpUrl(channel: string, key?: string): string;
  srtUrl(port: number, passphrase?: string, channel?: string): string;
  /** Starts an ffmpeg publisher (640x360 test pattern + tone by default) and remembers it for `close()`. */
  publish(url: string, format: 'flv' | 'mpegts', options?: PublishOptions): Publisher;
  state(channel: string): string | undefined;
  close(): Promise<void>;
}

/** Free UDP ports for SRT listeners (each channel gets one). */
export async function freeUdpPorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freeUdpPort());
  return [...ports];
}

/**
 * Starts `serve` with `file` as the config file object (ports and dataDir are filled in unless
 * given; a given dataDir is kept on close, a temporary one is removed). The SRT range base is a
 * random free UDP port; give channels explicit SRT ports to be safe from collisions.
 */
export async function startServeFixture(file: Record<string, unknown> = {}): Promise<ServeFixture> {
  const givenDir = typeof file.dataDir === 'string' ? file.dataDir : undefined;
  const dataDir = givenDir ?? (await mkdtemp(join(tmpdir(), 'livepipe-serve-')));
  const srtBase = await freeUdpPort();
  // TCP listeners take any free port (0) and report the one they got: a port picked free beforehand
  // can be taken by a parallel test file before serve binds it.
  const config = buildServiceConfig(
    {
      dataDir,
      origin: { port: 0 },
      api: { port: 0 },
      rtmp: { port: 0 },
      srt: { portBase: srtBase, portCount: 1 },
      ...file,
    },
    {},
    {},
    'test',
  );
  const logs = captureLogs();
  const handle = await startServe(config, logs.logger);
  const publishers: Publisher[] = [];
  const rtmpPort = handle.ingest.rtmp!.port;
  const originBase = `http://127.0.0.1:${handle.origin.address().port}`;
  return {
    handle,
    dataDir,
    rtmpPort,
    originBase,
    apiBase: `http://127.0.0.1:${handle.api.port}`,
    logs,
    live: (channel) => `${originBase}/live/${channel}`,
    rtmpUrl: (channel, key) => `rtmp://127.0.0.1:${rtmpPort}/live/${channel}${key !== undefined ? `?key=${encodeURIComponent(key)}` : ''}`,
    srtUrl: (port, passphrase, channel = 'x') => {
      const params = new URLSearchParams({ streamid: `publish:${channel}`, pbkeylen: '16' });
      if (passphrase !== undefined) params.set('passphrase', passphrase);
      return `srt://127.0.0.1:${port}?${params.toString()}`;
    },
    publish(url, format, options = {}) {
      const p = publish(url, format, options);
      publishers.push(p);
      return p;
    },
    state: (channel) => handle.manager.get(channel)?.state,
    async close() {
      await Promise.all(publishers.map((p) => p.stop()));
      await handle.close();
      if (givenDir === undefined) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** GET → status and text (never throws on HTTP errors). */
export async function getText(url: string): Promise<{ status: number; text: string }> {
  try {
    const res = await fetch(url);
    return { status: res.status, text: await res.text() };
  } catch (err) {
    return { status: 0, text: (err as Error).message };
  }
}

/** The media playlist of `rendition`, parsed by the packager's own parser; undefined unless 200. */
export async function mediaPlaylist(liveBase: string, rendition: string): Promise<MediaPlaylist | undefined> {
  const { status, text } = await getText(`${liveBase}/${rendition}/playlist.m3u8`);
  return status === 200 ? parseMediaPlaylist(text) : undefined;
}

/** Rendition names of a multivariant playlist (video variant URIs and audio EXT-X-MEDIA URIs). */
export function renditionsOf(master: string): string[] {
  const names = new Set<string>();
  for (const line of master.split('\n')) {
    const media = /URI="([^"/]+)\/playlist\.m3u8"/.exec(line);
    if (media) names.add(media[1]!);
    const variant = /^([^#][^/]*)\/playlist\.m3u8/.exec(line.trim());
    if (variant) names.add(variant[1]!);
  }
  return [...names];
}

/** The last (msn, part) a playlist contains, counting the pending segment. */
export function lastMsn(p: MediaPlaylist): number {
  if (p.pending !== undefined && p.pending.parts.length > 0) return p.pending.msn;
  return p.segments[p.segments.length - 1]?.msn ?? p.mediaSequence - 1;
}

/** Polls `probe` every 250 ms until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function eventually<T>(probe: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** `livepipe serve` run as the real CLI (bin/livepipe.js → dist/: build first) with a config file. */
export interface ServeCli {
  cli: CliProcess;
  dataDir: string;
  configFile: string;
  rtmpPort: number;
  originBase: string;
  apiBase: string;
  live(channel: string): string;
  rtmpUrl(channel: string, key?: string): string;
  /** GET on the ops API, parsed as JSON (undefined unless 200). */
  api<T = Record<string, unknown>>(path: string): Promise<T | undefined>;
  /** Starts the same config again (same ports and data directory) after the previous run exited. */
  restart(): Promise<void>;
  /** Stops the CLI (SIGTERM) if it runs and removes the data directory. */
  close(): Promise<void>;
}

export async function startServeCli(
  file: Record<string, unknown> = {},
  options: { keepDataDir?: string; /** Extra environment of the CLI (e.g. AWS credentials for s3:// storage). */ env?: NodeJS.ProcessEnv } = {},
): Promise<ServeCli> {
  const dataDir = options.keepDataDir ?? (await mkdtemp(join(tmpdir(), 'livepipe-serve-cli-')));
  const [originPort, apiPort, rtmpPort] = [await freeTcpPort(), await freeTcpPort(), await freeTcpPort()];
  const configFile = join(dataDir, 'livepipe.yaml');
  // JSON is YAML.
  await writeFile(
    configFile,
    JSON.stringify({
      dataDir,
      origin: { port: originPort },
      api: { port: apiPort },
      rtmp: { port: rtmpPort },
      srt: { portBase: await freeUdpPort(), portCount: 1 },
      ...file,
    }),
  );
  const originBase = `http://127.0.0.1:${originPort}`;
  const apiBase = `http://127.0.0.1:${apiPort}`;
  const launch = async (): Promise<CliProcess> => {
    const cli = runCli(['serve', '--config', configFile], options.env);
    try {
      await Promise.race([
        waitForHttp(`${apiBase}/healthz`, 30_000),
        cli.exited.then((code) => {
          throw new Error(`serve exited (${code}) during start: ${cli.stderr().slice(-2000)}`);
        }),
      ]);
    } catch (err) {
      await cli.stop('SIGKILL');
      throw err;
    }
    return cli;
  };
  const handle: ServeCli = {
    cli: await launch(),
    dataDir,
    configFile,
    rtmpPort,
    originBase,
    apiBase,
    live: (channel) => `${originBase}/live/${channel}`,
    rtmpUrl: (channel, key) => `rtmp://127.0.0.1:${rtmpPort}/live/${channel}${key !== undefined ? `?key=${encodeURIComponent(key)}` : ''}`,
    async api(path) {
      const res = await fetch(`${apiBase}${path}`).catch(() => undefined);
      if (res === undefined) return undefined;
      if (res.status !== 200) {
        await res.arrayBuffer();
        return undefined;
      }
      return (await res.json()) as never;
    },
    async restart() {
      handle.cli = await launch();
    },
    async close() {
      await handle.cli.stop('SIGTERM');
      if (options.keepDataDir === undefined) await rm(dataDir, { recursive: true, force: true });
    },
  };
  return handle;
}

export { freeTcpPort, freeUdpPort };
