/**
 * A real `livepipe serve` in the test process (`startServe`: ingest, channel manager, ladders,
 * packager, filesystem storage, origin, ops API) on free loopback ports, plus small clients for its
 * API, origin and metrics. For the ops e2e tests and the restart benchmark.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadServiceConfig } from '../../../src/config/service-config.js';
import { silentLogger, type Logger } from '../../../src/core/logger.js';
import { startServe, type ServeHandle } from '../../../src/cli/serve-command.js';
import { publish, type Publisher } from '../ingest/media.js';

export interface ServePorts {
  origin: number;
  api: number;
  rtmp: number;
  srt: number;
}

export interface TestServe {
  handle: ServeHandle;
  dataDir: string;
  ports: ServePorts;
  apiBase: string;
  originBase: string;
  /** `rtmp://127.0.0.1:{port}/live/{channel}?key={key}` */
  rtmpUrl(channel: string, key: string): string;
  /** Calls the ops API with the token (unless `token: null`), JSON in and out. */
  api(method: string, path: string, body?: unknown, options?: { token?: string | null; headers?: Record<string, string> }): Promise<ApiAnswer>;
  /** Stops serve (same as SIGINT). */
  close(): Promise<void>;
}

export interface ApiAnswer {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
  text: string;
}

export interface TestServeOptions {
  /** Reuse a data directory (a restart of serve); default a new temp directory. */
  dataDir?: string;
  /** Reuse ports (a restart of serve keeps the URLs); default any free ones, read back once bound. */
  ports?: ServePorts;
  /** The API token (`LIVEPIPE_API_TOKEN`); default none (open on loopback). */
  token?: string;
  logger?: Logger;
  reconnectGraceSeconds?: number;
}

export async function startTestServe(options: TestServeOptions = {}): Promise<TestServe> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'livepipe-ops-')));
  // TCP listeners take any free port (0) and report the one they got, unless a restart reuses them:
  // a port picked free beforehand can be taken by a parallel test file before serve binds it.
  const wanted = options.ports ?? { origin: 0, api: 0, rtmp: 0, srt: 20_000 + Math.floor(Math.random() * 20_000) };
  const env: Record<string, string | undefined> = {};
  const config = await loadServiceConfig(undefined, env, {
    dataDir,
    host: '127.0.0.1',
    originPort: wanted.origin,
    apiPort: wanted.api,
    rtmpPort: wanted.rtmp,
    srtPort: wanted.srt,
  });
  const tuned = options.reconnectGraceSeconds !== undefined ? { ...config, reconnectGraceSeconds: options.reconnectGraceSeconds } : config;
  // startServe reads the token from the environment, as the CLI does.
  const previous = process.env.LIVEPIPE_API_TOKEN;
  if (options.token !== undefined) process.env.LIVEPIPE_API_TOKEN = options.token;
  else delete process.env.LIVEPIPE_API_TOKEN;
  let handle: ServeHandle;
  try {
    handle = await startServe(tuned, options.logger ?? silentLogger());
  } finally {
    if (previous === undefined) delete process.env.LIVEPIPE_API_TOKEN;
    else process.env.LIVEPIPE_API_TOKEN = previous;
  }
  const ports: ServePorts = { origin: handle.origin.address().port, api: handle.api.port, rtmp: handle.ingest.rtmp!.port, srt: wanted.srt };
  const apiBase = `http://127.0.0.1:${ports.api}`;
  return {
    handle,
    dataDir,
    ports,
    apiBase,
    originBase: `http://127.0.0.1:${ports.origin}`,
    rtmpUrl: (channel, key) => `rtmp://127.0.0.1:${ports.rtmp}/live/${channel}?key=${encodeURIComponent(key)}`,
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
    close: () => handle.close(),
  };
}

export async function removeDataDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** A publisher of the small ingest test pattern (640x360 30 fps, 1 s GOP, AAC) to a channel. */
export function publishTestPattern(serve: TestServe, channel: string, key: string, seconds = 300): Publisher {
  return publish(serve.rtmpUrl(channel, key), 'flv', { seconds });
}

/** GET a text resource from the origin; `undefined` on a non-200. */
export async function originText(serve: TestServe, path: string): Promise<string | undefined> {
  const res = await fetch(`${serve.originBase}${path}`);
  const text = await res.text();
  return res.status === 200 ? text : undefined;
}

export interface PlaylistFacts {
  mediaSequence: number;
  discontinuitySequence: number;
  /** Discontinuity tags present in the text. */
  discontinuities: number;
  /** msn of the last segment or of the pending segment holding the last part. */
  lastMsn: number;
  /** Parts listed (every EXT-X-PART). */
  parts: number;
  /** Every segment msn listed, in order, with whether a discontinuity precedes it. */
  segments: Array<{ msn: number; discontinuity: boolean; mapUri: string; programDateTime: number; duration: number }>;
  /** URIs of all parts, in order. */
  partUris: string[];
  endList: boolean;
}

/** Reads the facts the ops tests check from a media playlist text (our own output format). */
export function playlistFacts(text: string): PlaylistFacts {
  const lines = text.split('\n');
  const number = (tag: string): number => {
    const line = lines.find((l) => l.startsWith(`${tag}:`));
    return line === undefined ? 0 : Number(line.slice(tag.length + 1));
  };
  const mediaSequence = number('#EXT-X-MEDIA-SEQUENCE');
  const segments: PlaylistFacts['segments'] = [];
  const partUris: string[] = [];
  let msn = mediaSequence;
  let pendingDiscontinuity = false;
  let map = '';
  let partsSinceSegment = 0;
  let pdt = NaN;
  let duration = NaN;
  for (const line of lines) {
    if (line === '#EXT-X-DISCONTINUITY') pendingDiscontinuity = true;
    else if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) pdt = Date.parse(line.slice('#EXT-X-PROGRAM-DATE-TIME:'.length));
    else if (line.startsWith('#EXTINF:')) duration = Number.parseFloat(line.slice('#EXTINF:'.length));
    else if (line.startsWith('#EXT-X-MAP:')) map = /URI="([^"]+)"/.exec(line)?.[1] ?? '';
    else if (line.startsWith('#EXT-X-PART:')) {
      partUris.push(/URI="([^"]+)"/.exec(line)?.[1] ?? '');
      partsSinceSegment++;
    } else if (line !== '' && !line.startsWith('#')) {
      segments.push({ msn, discontinuity: pendingDiscontinuity, mapUri: map, programDateTime: pdt, duration });
      pendingDiscontinuity = false;
      partsSinceSegment = 0;
      msn++;
    }
  }
  return {
    mediaSequence,
    discontinuitySequence: number('#EXT-X-DISCONTINUITY-SEQUENCE'),
    discontinuities: lines.filter((l) => l === '#EXT-X-DISCONTINUITY').length,
    lastMsn: partsSinceSegment > 0 ? msn : msn - 1,
    parts: partUris.length,
    segments,
    partUris,
    endList: lines.includes('#EXT-X-ENDLIST'),
  };
}
