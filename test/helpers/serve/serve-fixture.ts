/**
 * A real `livepipe serve` composition (`startServe`: ingest, channel manager, ladders, packager,
 * filesystem storage, origin, ops API) in the test process, on free loopback ports, with its log kept
 * in memory; and `startServeCli`, the same service run as the real CLI. Publishers are real ffmpeg
 * processes (see `ingest/media.ts`); players are hls.js or plain HTTP reads of the playlists.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiServer, type ApiServerOptions } from '../../../src/api/api-server.js';
import type { ReadinessCheck } from '../../../src/api/readiness.js';
import { startServe, type ServeHandle } from '../../../src/cli/serve-command.js';
import { buildServiceConfig, type ServiceConfig } from '../../../src/config/service-config.js';
import { parseMediaPlaylist } from '../../../src/hls/playlist-parser.js';
import type { MediaPlaylist } from '../../../src/hls/playlist-model.js';
import { Metrics } from '../../../src/observability/metrics.js';
import { captureLogs } from '../logs/log-capture.js';
import { captureLogger, type CapturedLogger } from '../logs/api-log-capture.js';
import { runCli, waitForHttp, type CliProcess } from '../cli/livepipe-cli.js';
import { publish, type PublishOptions, type Publisher } from '../ingest/media.js';
import { freePort, freePorts } from '../ports.js';
import { startSocketUnit } from './socket-unit.js';

export interface ServeFixture {
  handle: ServeHandle;
  dataDir: string;
  rtmpPort: number;
  originBase: string;
  /** serve's own ops API. */
  apiBase: string;
  logs: ReturnType<typeof captureLogs>;
  /** `http://127.0.0.1:{origin}/live/{channel}` */
  live(channel: string): string;
  rtmpUrl(channel: string, key?: string): string;
  srtUrl(port: number, passphrase?: string, channel?: string): string;
  /** Starts an ffmpeg publisher (640x360 test pattern + tone by default) and remembers it for `close()`. */
  publish(url: string, format: 'flv' | 'mpegts', options?: PublishOptions): Publisher;
  state(channel: string): string | undefined;
  /** Calls serve's ops API with the fixture's token (unless `token: null`), JSON in and out. */
  api(method: string, path: string, body?: unknown, options?: { token?: string | null; headers?: Record<string, string> }): Promise<ApiAnswer>;
  /** Stops serve and starts it again on the same config, data directory and ports (the URLs stay valid). */
  restart(): Promise<void>;
  /** Stops the publishers and serve; removes the data directory unless it was given. */
  close(): Promise<void>;
}

export interface ApiAnswer {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
  text: string;
}

export interface ServeFixtureOptions {
  /** serve's ops API token (`LIVEPIPE_API_TOKEN`, read by startServe as by the CLI); default none (open on loopback). */
  token?: string;
  /** A second ops API server in front of serve's channel manager, configured by the test (see `TestApi`). */
  testApi?: TestApiOptions;
  /** serve's ladders directory (`--ladders-dir`); default the shipped ladders/. */
  laddersDir?: string;
}

export interface TestApiOptions {
  token?: string;
  /** Readiness checks of /readyz; default none. */
  readiness?: ReadinessCheck[];
  bodyLimit?: number;
  /** Node process series in /metrics too (what a real scrape carries); off by default. */
  processMetrics?: boolean;
}

/**
 * The ops API over serve's real channel stack (registry, manager, ingest, packager) with the token,
 * limits, readiness checks, metrics and log the test chooses (the log is kept for audit assertions).
 */
export interface TestApi {
  server: ApiServer;
  base: string;
  metrics: Metrics;
  log: CapturedLogger;
}

export type ServeFixtureWithTestApi = ServeFixture & { testApi: TestApi };

/**
 * Starts `serve` with `file` as the config file object. TCP listeners bind port 0 and report the
 * port they got (a port picked free beforehand can be taken by a parallel test file before serve
 * binds it); the SRT range is one free UDP port (give channels explicit SRT ports, or a range, to
 * be safe from collisions). A given dataDir is kept on close, a temporary one is removed.
 */
export async function startServeFixture(file: Record<string, unknown>, options: ServeFixtureOptions & { testApi: TestApiOptions }): Promise<ServeFixtureWithTestApi>;
export async function startServeFixture(file?: Record<string, unknown>, options?: ServeFixtureOptions): Promise<ServeFixture>;
export async function startServeFixture(file: Record<string, unknown> = {}, options: ServeFixtureOptions = {}): Promise<ServeFixture> {
  const givenDir = typeof file.dataDir === 'string' ? file.dataDir : undefined;
  const dataDir = givenDir ?? (await mkdtemp(join(tmpdir(), 'livepipe-serve-')));
  const config = buildServiceConfig(
    {
      dataDir,
      origin: { port: 0 },
      api: { port: 0 },
      rtmp: { port: 0 },
      srt: { portBase: await freePort('udp'), portCount: 1 },
      ...file,
    },
    {},
    {},
    'test',
  );
  const logs = captureLogs();
  let handle: ServeHandle;
  try {
    handle = await startServeWithToken(config, logs.logger, options.token, options.laddersDir);
  } catch (err) {
    if (givenDir === undefined) await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  let testApi: TestApi | undefined;
  if (options.testApi !== undefined) {
    try {
      testApi = await startTestApi(handle, options.testApi);
    } catch (err) {
      await handle.close();
      if (givenDir === undefined) await rm(dataDir, { recursive: true, force: true });
      throw err;
    }
  }
  const publishers: Publisher[] = [];
  // The ports serve bound: a restart binds the same ones again.
  const rtmpPort = handle.ingest.rtmp!.port;
  const originPort = handle.origin.address().port;
  const apiPort = handle.api.port;
  const originBase = `http://127.0.0.1:${originPort}`;
  const apiBase = `http://127.0.0.1:${apiPort}`;
  const fixture: ServeFixture = {
    handle,
    dataDir,
    rtmpPort,
    originBase,
    apiBase,
    logs,
    live: (channel) => `${originBase}/live/${channel}`,
    rtmpUrl: (channel, key) => `rtmp://127.0.0.1:${rtmpPort}/live/${channel}${key !== undefined ? `?key=${encodeURIComponent(key)}` : ''}`,
    srtUrl: (port, passphrase, channel = 'x') => {
      const params = new URLSearchParams({ streamid: `publish:${channel}`, pbkeylen: '16' });
      if (passphrase !== undefined) params.set('passphrase', passphrase);
      return `srt://127.0.0.1:${port}?${params.toString()}`;
    },
    publish(url, format, publishOptions = {}) {
      const p = publish(url, format, publishOptions);
      publishers.push(p);
      return p;
    },
    state: (channel) => fixture.handle.manager.get(channel)?.state,
    async api(method, path, body, callOptions = {}) {
      const headers: Record<string, string> = { ...(callOptions.headers ?? {}) };
      const token = callOptions.token === undefined ? options.token : callOptions.token;
      if (token !== undefined && token !== null) headers.authorization = `Bearer ${token}`;
      if (body !== undefined && headers['content-type'] === undefined) headers['content-type'] = 'application/json';
      const res = await fetch(`${apiBase}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      let json: unknown;
      try {
        json = text === '' ? undefined : JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: res.status, headers: res.headers, json, text };
    },
    async restart() {
      await fixture.handle.close();
      const again: ServiceConfig = {
        ...config,
        origin: { ...config.origin, port: originPort },
        api: { ...config.api, port: apiPort },
        rtmp: { ...config.rtmp, port: rtmpPort },
      };
      fixture.handle = await startServeWithToken(again, logs.logger, options.token, options.laddersDir);
    },
    async close() {
      await Promise.all(publishers.map((p) => p.stop()));
      if (testApi !== undefined) await testApi.server.close();
      await fixture.handle.close();
      if (givenDir === undefined) await rm(dataDir, { recursive: true, force: true });
    },
  };
  return testApi !== undefined ? Object.assign(fixture, { testApi }) : fixture;
}

/** startServe reads the API token from the environment, as the CLI does: set it (or clear it) for the call. */
async function startServeWithToken(config: ServiceConfig, logger: ReturnType<typeof captureLogs>['logger'], token: string | undefined, laddersDir?: string): Promise<ServeHandle> {
  const previous = process.env.LIVEPIPE_API_TOKEN;
  if (token !== undefined) process.env.LIVEPIPE_API_TOKEN = token;
  else delete process.env.LIVEPIPE_API_TOKEN;
  try {
    return await startServe(config, logger, laddersDir);
  } finally {
    if (previous === undefined) delete process.env.LIVEPIPE_API_TOKEN;
    else process.env.LIVEPIPE_API_TOKEN = previous;
  }
}

async function startTestApi(handle: ServeHandle, options: TestApiOptions): Promise<TestApi> {
  const log = captureLogger();
  const metrics = new Metrics({ processMetrics: options.processMetrics ?? false });
  const serverOptions: ApiServerOptions = {
    host: '127.0.0.1',
    port: 0,
    token: options.token,
    channels: handle.manager,
    bus: handle.bus,
    metrics,
    readiness: options.readiness ?? [],
    logger: log.logger,
  };
  if (options.bodyLimit !== undefined) serverOptions.bodyLimit = options.bodyLimit;
  const server = new ApiServer(serverOptions);
  await server.start();
  return { server, base: server.url, metrics, log };
}

/** A publisher of the small ingest test pattern (640x360 30 fps, 1 s GOP, AAC) to a channel, not remembered by the fixture. */
export function publishTestPattern(serve: Pick<ServeFixture, 'rtmpUrl'>, channel: string, key: string, seconds = 300): Publisher {
  return publish(serve.rtmpUrl(channel, key), 'flv', { seconds });
}

/** GET a text resource from the origin; `undefined` on a non-200. */
export async function originText(serve: Pick<ServeFixture, 'originBase'>, path: string): Promise<string | undefined> {
  const res = await fetch(`${serve.originBase}${path}`);
  const text = await res.text();
  return res.status === 200 ? text : undefined;
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
  options: {
    keepDataDir?: string;
    /** Extra environment of the CLI (e.g. AWS credentials for s3:// storage). */
    env?: NodeJS.ProcessEnv;
    /** How long a start may take until /healthz answers, ms (default 30 s). */
    startTimeoutMs?: number;
    /**
     * Run under a systemd-style socket unit (`socket-unit.ts`): the origin's socket outlives each run,
     * so a restart queues viewers' connections instead of refusing them.
     */
    socketActivation?: boolean;
    /** `--ladders-dir` of the CLI (default the shipped ladders/). */
    laddersDir?: string;
  } = {},
): Promise<ServeCli> {
  const dataDir = options.keepDataDir ?? (await mkdtemp(join(tmpdir(), 'livepipe-serve-cli-')));
  const [originPort, apiPort, rtmpPort] = (await freePorts(3)) as [number, number, number];
  const configFile = join(dataDir, 'livepipe.yaml');
  // JSON is YAML.
  await writeFile(
    configFile,
    JSON.stringify({
      dataDir,
      origin: { port: originPort },
      api: { port: apiPort },
      rtmp: { port: rtmpPort },
      srt: { portBase: await freePort('udp'), portCount: 1 },
      ...file,
    }),
  );
  const originBase = `http://127.0.0.1:${originPort}`;
  const apiBase = `http://127.0.0.1:${apiPort}`;
  const unit = options.socketActivation === true ? await startSocketUnit(originPort) : undefined;
  const launch = async (): Promise<CliProcess> => {
    const args = ['serve', '--config', configFile, ...(options.laddersDir === undefined ? [] : ['--ladders-dir', options.laddersDir])];
    const cli = unit !== undefined ? await unit.runCli(args, options.env) : runCli(args, options.env);
    try {
      await Promise.race([
        waitForHttp(`${apiBase}/healthz`, options.startTimeoutMs ?? 30_000),
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
      await unit?.close();
      if (options.keepDataDir === undefined) await rm(dataDir, { recursive: true, force: true });
    },
  };
  return handle;
}
