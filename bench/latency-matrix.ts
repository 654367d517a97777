/**
 * The `latency` bench (issue 16): glass-to-glass in real players, side by side in one run.
 *
 * Sources (each a live 720p30 x264 encoder, ffmpeg reading lavfi at native rate):
 * - `rtmp`: publishing over RTMP into `livepipe serve` (real CLI), `low-latency` ladder;
 * - `srt`: the same over SRT (MPEG-TS, AES passphrase);
 * - `rtmp-muxed` (only with `LIVEPIPE_BENCH_LATENCY_MUXED=1`): RTMP into the `low-latency-muxed`
 *   ladder, the same encodes with the audio muxed into each variant (one chain of requests per viewer);
 * - `ffmpeg-hls`: the baseline, the same encoder writing ffmpeg's own HLS (1 s fMP4 segments) served
 *   by nginx.
 * Players: hls.js 1.7.4 and Shaka Player 5.2 in Chromium, each with its default config and with the
 * recommended one of docs/latency.md. In every run (one source × one config) four viewers watch: an
 * hls.js and a Shaka viewer opening the channel as soon as its multivariant playlist answers (a
 * viewer at the publish start), and another pair joining `JOIN_AT_SECONDS` after the publish.
 * Each warms up `WARMUP_SECONDS` of playing time, then samples latency every 250 ms for
 * `SAMPLE_SECONDS` (latency = now − the PDT of the frame on screen, so it includes everything
 * from the encoder's clock to the screen); stalls are counted over the sampled (steady) window.
 * The PDT bias is the first segment's PDT minus the moment the publisher was spawned.
 * Writes bench/results/latency.md (a table) and returns the figures for latest.json.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { launchBrowser, median, startPlayer, type Player } from '../test/helpers/player/hls-player.js';
import { startShakaPlayer } from '../test/helpers/player/shaka-player.js';
import { startServeCli } from '../test/helpers/serve/serve-fixture.js';
import { publish, type Publisher } from '../test/helpers/ingest/media.js';
import { freePorts } from '../test/helpers/ports.js';
import { waitFor } from '../test/helpers/wait.js';
import { parseMediaPlaylist } from '../src/hls/playlist-parser.js';
import { livepipeEdgePdt } from '../test/helpers/hls/edge-pdt.js';
import { staticServer } from './latency.bench.js';

const RUNS = Number(process.env.LIVEPIPE_BENCH_LATENCY_RUNS ?? 2);
const SAMPLE_SECONDS = Number(process.env.LIVEPIPE_BENCH_LATENCY_SECONDS ?? 15);
const WARMUP_SECONDS = 4;
const JOIN_AT_SECONDS = 22;
const KEY = 'latency-key-0123456789';
const PASSPHRASE = 'latency-srt-passphrase';
const ALL_SOURCES = ['rtmp', 'rtmp-muxed', 'srt', 'ffmpeg-hls'] as const;
/**
 * `rtmp-muxed` only when asked for (`LIVEPIPE_BENCH_LATENCY_MUXED=1`): it adds a third live encode per
 * run. `LIVEPIPE_BENCH_LATENCY_SOURCES=rtmp,rtmp-muxed` runs only the sources listed (a short check).
 */
const SOURCES: ReadonlyArray<Source> = process.env.LIVEPIPE_BENCH_LATENCY_SOURCES
  ? ALL_SOURCES.filter((s) => process.env.LIVEPIPE_BENCH_LATENCY_SOURCES!.split(',').includes(s))
  : ALL_SOURCES.filter((s) => s !== 'rtmp-muxed' || process.env.LIVEPIPE_BENCH_LATENCY_MUXED === '1');
const PLAYERS = ['hls.js', 'shaka'] as const;
const CONFIGS = ['default', 'recommended'] as const;
type Source = (typeof ALL_SOURCES)[number];
type PlayerName = (typeof PLAYERS)[number];
type ConfigName = (typeof CONFIGS)[number];
type When = 'start' | 'join';

/** The player configs of docs/latency.md: `default` is each player's own defaults. */
export const PLAYER_CONFIGS: Record<PlayerName, Record<ConfigName, Record<string, unknown>>> = {
  'hls.js': {
    default: {},
    // Catch up to PART-HOLD-BACK by playing faster (hls.js never changes the rate by default).
    recommended: { maxLiveSyncPlaybackRate: 1.5 },
  },
  shaka: {
    default: {},
    // Live sync: play up to 1.25× while more than 0.5 s (0.3 + 0.2) behind the seek range end
    // (which already sits PART-HOLD-BACK behind the edge), down to 0.95× when closer than 0.1 s.
    recommended: { streaming: { liveSync: { enabled: true, targetLatency: 0.3, targetLatencyTolerance: 0.2, maxPlaybackRate: 1.25, minPlaybackRate: 0.95 } } },
  },
};

export interface ViewerFigures {
  source: Source;
  player: PlayerName;
  config: ConfigName;
  when: When;
  run: number;
  /** Median of the latency samples of the steady window, s; NaN when the viewer never played. */
  median: number;
  min: number;
  max: number;
  /** Latency at the first frame, s. */
  startLatency: number;
  /** Multivariant playlist load → first frame, ms. */
  firstFrameMs: number;
  /** Stalls (and their total ms) in the steady window. */
  stalls: number;
  stalledMs: number;
  requestsBeforeFirstFrame: number;
  fatalErrors: string[];
  /** Median of now − the PDT of the stream's newest media over the run, s: the stream's own lag (encode, transcode, packaging). */
  edgeLag?: number;
}

const round = (x: number, digits = 3): number => Math.round(x * 10 ** digits) / 10 ** digits;

async function watch(
  open: () => Promise<Player>,
  label: Omit<ViewerFigures, 'median' | 'min' | 'max' | 'startLatency' | 'firstFrameMs' | 'stalls' | 'stalledMs' | 'requestsBeforeFirstFrame' | 'fatalErrors'>,
): Promise<ViewerFigures & { window: { from: number; to: number } }> {
  const player = await open();
  try {
    const warm = await player.waitFor((s) => s.latencySamples.length >= WARMUP_SECONDS * 4 || s.fatalErrors.length > 0, 45_000);
    const from = warm.latencySamples.length;
    const window = { from: Date.now(), to: NaN };
    const done = await player.waitFor((s) => s.latencySamples.length >= from + SAMPLE_SECONDS * 4 || s.fatalErrors.length > 0, (SAMPLE_SECONDS + 25) * 1000);
    window.to = Date.now();
    const samples = done.latencySamples.slice(from);
    const firstFrameAt = done.firstFrameAtMs;
    return {
      ...label,
      median: round(median(samples)),
      min: round(Math.min(...samples)),
      max: round(Math.max(...samples)),
      startLatency: round(done.startLatency),
      firstFrameMs: Math.round(firstFrameAt - done.loadStartedAtMs),
      stalls: done.stalls - warm.stalls,
      stalledMs: Math.round(done.stalledMs - warm.stalledMs),
      requestsBeforeFirstFrame: player.requests().filter((r) => r.startedAtMs <= firstFrameAt).length,
      fatalErrors: done.fatalErrors,
      window,
    };
  } finally {
    await player.close();
  }
}

/** A live 720p30 x264 encoder (the publisher), as `publish` runs it, for `seconds`. */
function liveEncoder(url: string, format: 'flv' | 'mpegts', seconds: number): Publisher {
  return publish(url, format, { seconds, video: { size: '1280x720', rate: 30 } });
}

interface Stream {
  url: string;
  /** The first PDT the stream's first video playlist carried, epoch ms. */
  firstPdt(): Promise<number>;
  /** The wall-clock time the newest media of the video playlist ends at, by its PDT, epoch ms. */
  edgePdt(): Promise<number | undefined>;
  stop(): Promise<void>;
}

/** PDT of the end of the newest segment of a plain HLS playlist (ffmpeg writes EXTINF, then PDT, then the URI). */
export function plainEdgePdt(text: string): number | undefined {
  const pdts = [...text.matchAll(/#EXT-X-PROGRAM-DATE-TIME:(\S+)/g)];
  const durations = [...text.matchAll(/#EXTINF:([\d.]+)/g)];
  const pdt = pdts[pdts.length - 1];
  const duration = durations[durations.length - 1];
  return pdt && duration ? Date.parse(pdt[1]!) + Number(duration[1]) * 1000 : undefined;
}

/**
 * Samples `now − edge PDT` every 500 ms until `stop()`: how far the stream itself trails the wall
 * clock. `stop()` returns the samples with their wall-clock times, so each viewer's figure is split
 * against the edge lag of its own sampling window (a stream slower than real time lags more and more).
 */
function sampleEdgeLag(stream: Stream): { stop(): Promise<Array<{ at: number; lag: number }>> } {
  const lags: Array<{ at: number; lag: number }> = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const edge = await stream.edgePdt().catch(() => undefined);
      if (edge !== undefined) lags.push({ at: Date.now(), lag: (Date.now() - edge) / 1000 });
      await new Promise((r) => setTimeout(r, 500));
    }
  })();
  return { stop: async () => ((running = false), await loop, lags) };
}

async function fetchText(url: string): Promise<string | undefined> {
  const res = await fetch(url).catch(() => undefined);
  return res?.status === 200 ? res.text() : undefined;
}

/** One run: the stream comes up, two viewers open it at once, two join at `JOIN_AT_SECONDS`. */
async function oneRun(browser: Browser, source: Source, config: ConfigName, run: number, begin: () => Promise<Stream>): Promise<{ viewers: ViewerFigures[]; pdtBiasMs: number }> {
  const publishedAt = Date.now();
  const stream = await begin();
  try {
    await waitFor(async () => ((await fetch(stream.url).catch(() => undefined))?.status === 200 ? true : undefined), { timeoutMs: 45_000, intervalMs: 50, message: `${source} playlist` });
    const pdt = stream.firstPdt();
    const edgeLag = sampleEdgeLag(stream);
    const open = (player: PlayerName) => () =>
      player === 'hls.js' ? startPlayer(browser, stream.url, { hlsConfig: PLAYER_CONFIGS['hls.js'][config] }) : startShakaPlayer(browser, stream.url, PLAYER_CONFIGS.shaka[config]);
    const atStart = PLAYERS.map((player) => watch(open(player), { source, player, config, when: 'start', run }));
    await new Promise((r) => setTimeout(r, Math.max(0, publishedAt + JOIN_AT_SECONDS * 1000 - Date.now())));
    const joining = PLAYERS.map((player) => watch(open(player), { source, player, config, when: 'join', run }));
    const watched = await Promise.all([...atStart, ...joining]);
    const lags = await edgeLag.stop();
    const viewers = watched.map(({ window, ...v }) => ({ ...v, edgeLag: round(median(lags.filter((l) => l.at >= window.from && l.at <= window.to).map((l) => l.lag))) }));
    return { viewers, pdtBiasMs: (await pdt) - publishedAt };
  } finally {
    await stream.stop();
  }
}

async function firstPdtOf(playlistUrl: string, read: (text: string) => number | undefined): Promise<number> {
  return waitFor(async () => {
    const res = await fetch(playlistUrl).catch(() => undefined);
    return res?.status === 200 ? read(await res.text()) : undefined;
  }, { timeoutMs: 30_000, intervalMs: 50, message: `first PDT of ${playlistUrl}` });
}

function summarize(viewers: ViewerFigures[], pdtBias: Record<Source, number[]>): { rows: Array<Record<string, unknown>>; markdown: string } {
  const rows: Array<Record<string, unknown>> = [];
  const lines = [
    '| source | player | config | viewer | median s (runs) | spread min–max s | stream edge lag s | player behind edge s | start s | first frame ms | stalls steady | fatal / not playing | ratio to ffmpeg-hls |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  const groupMedian = (s: Source, p: PlayerName, c: ConfigName, w: When) => median(viewers.filter((v) => v.source === s && v.player === p && v.config === c && v.when === w && !Number.isNaN(v.median)).map((v) => v.median));
  for (const config of CONFIGS) {
    for (const player of PLAYERS) {
      for (const when of ['start', 'join'] as const) {
        for (const source of SOURCES) {
          const group = viewers.filter((v) => v.source === source && v.player === player && v.config === config && v.when === when);
          if (group.length === 0) continue;
          const med = groupMedian(source, player, config, when);
          const baseline = groupMedian('ffmpeg-hls', player, config, when);
          const row = {
            source, player, config, when,
            median: round(med),
            runMedians: group.map((v) => (Number.isNaN(v.median) ? '–' : v.median)),
            min: round(Math.min(...group.map((v) => v.min))),
            max: round(Math.max(...group.map((v) => v.max))),
            startLatency: round(median(group.map((v) => v.startLatency))),
            firstFrameMs: Math.round(median(group.map((v) => v.firstFrameMs))),
            edgeLag: round(median(group.map((v) => v.edgeLag ?? NaN).filter((x) => !Number.isNaN(x)))),
            behindEdge: round(median(group.filter((v) => !Number.isNaN(v.median) && v.edgeLag !== undefined).map((v) => v.median - v.edgeLag!))),
            stalls: group.reduce((n, v) => n + v.stalls, 0),
            fatal: group.flatMap((v) => v.fatalErrors).length,
            notPlaying: group.filter((v) => Number.isNaN(v.median)).length,
            ratioToFfmpegHls: source === 'ffmpeg-hls' ? 1 : round(med / baseline, 2),
          };
          rows.push(row);
          lines.push(`| ${source} | ${player} | ${config} | ${when === 'start' ? 'at start' : `joins at ${JOIN_AT_SECONDS} s`} | **${Number.isNaN(row.median) ? '–' : row.median}** (${row.runMedians.join(', ')}) | ${row.min}–${row.max} | ${row.edgeLag} | ${row.behindEdge} | ${row.startLatency} | ${row.firstFrameMs} | ${row.stalls} | ${row.fatal} / ${row.notPlaying} | ${row.ratioToFfmpegHls} |`);
        }
      }
    }
  }
  lines.push('', `PDT bias (first PDT − publisher spawn), ms: ${SOURCES.map((s) => `${s} ${pdtBias[s].map((x) => Math.round(x)).join(', ')}`).join('; ')}`);
  return { rows, markdown: lines.join('\n') };
}

export async function run(): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(join(tmpdir(), 'livepipe-bench-latency-'));
  const ids = Array.from({ length: RUNS * CONFIGS.length }, (_, i) => `c${i}`);
  const srtPorts = await freePorts(ids.length, 'udp');
  const serve = await startServeCli({
    maxChannels: ids.length * 3,
    channels: ids.flatMap((id, i) => [
      { id: `rtmp-${id}`, ladder: 'low-latency', key: KEY },
      { id: `srt-${id}`, ladder: 'low-latency', key: KEY, srt: { port: srtPorts[i]!, passphrase: PASSPHRASE } },
      ...(SOURCES.includes('rtmp-muxed') ? [{ id: `rtmp-muxed-${id}`, ladder: 'low-latency-muxed', key: KEY }] : []),
    ]),
  });
  const browser = await launchBrowser();
  const viewers: ViewerFigures[] = [];
  const pdtBias: Record<Source, number[]> = { rtmp: [], 'rtmp-muxed': [], srt: [], 'ffmpeg-hls': [] };
  const loads: number[] = [];
  const streamSeconds = JOIN_AT_SECONDS + WARMUP_SECONDS + SAMPLE_SECONDS + 30;
  const livepipeStream = (channel: string, publisher: () => Publisher): Stream => {
    const p = publisher();
    return {
      url: `${serve.live(channel)}/master.m3u8`,
      firstPdt: () => firstPdtOf(`${serve.live(channel)}/720p/playlist.m3u8`, (t) => parseMediaPlaylist(t).segments[0]?.programDateTime ?? parseMediaPlaylist(t).pending?.programDateTime),
      edgePdt: async () => {
        const text = await fetchText(`${serve.live(channel)}/720p/playlist.m3u8`);
        return text === undefined ? undefined : livepipeEdgePdt(text);
      },
      stop: async () => void (await p.stop()),
    };
  };
  const ffmpegHls = async (run: number, config: ConfigName): Promise<Stream> => {
    const base = join(dir, `ffmpeg-${run}-${config}`);
    const www = join(base, 'www');
    await mkdir(www, { recursive: true });
    // The same live encoder as the publishers, writing HLS itself: 1 s fMP4 segments, PDT on.
    const child = spawn('ffmpeg', [
      '-hide_banner', '-nostdin', '-loglevel', 'error', '-re',
      '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', String(streamSeconds),
      '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '30', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '64k',
      '-f', 'hls', '-hls_time', '1', '-hls_list_size', '6', '-hls_segment_type', 'fmp4',
      '-hls_flags', 'delete_segments+program_date_time+independent_segments',
      '-hls_segment_filename', join(www, 's%d.m4s'), join(www, 'index.m3u8'),
    ], { stdio: 'ignore' });
    const server = await staticServer(base);
    const url = `${server.url}/index.m3u8`;
    return {
      url,
      firstPdt: () => firstPdtOf(url, (t) => {
        const m = /#EXT-X-PROGRAM-DATE-TIME:(\S+)/.exec(t);
        return m ? Date.parse(m[1]!) : undefined;
      }),
      edgePdt: async () => {
        const text = await fetchText(url);
        return text === undefined ? undefined : plainEdgePdt(text);
      },
      stop: async () => {
        child.kill('SIGINT');
        await server.stop();
      },
    };
  };
  try {
    let c = 0;
    for (let run = 1; run <= RUNS; run++) {
      for (const config of CONFIGS) {
        const id = ids[c]!;
        const srtPort = srtPorts[c]!;
        c++;
        for (const source of SOURCES) {
          process.stderr.write(`latency: run ${run} ${config} ${source} (load ${loadavg()[0]!.toFixed(1)})\n`);
          loads.push(loadavg()[0]!);
          const begin = async (): Promise<Stream> => {
            if (source === 'ffmpeg-hls') return ffmpegHls(run, config);
            if (source === 'rtmp' || source === 'rtmp-muxed') {
              const channel = `${source}-${id}`;
              return livepipeStream(channel, () => liveEncoder(serve.rtmpUrl(channel, KEY), 'flv', streamSeconds));
            }
            const srtUrl = `srt://127.0.0.1:${srtPort}?streamid=publish:srt-${id}&passphrase=${PASSPHRASE}&pbkeylen=16`;
            return livepipeStream(`srt-${id}`, () => liveEncoder(srtUrl, 'mpegts', streamSeconds));
          };
          try {
            const result = await oneRun(browser, source, config, run, begin);
            viewers.push(...result.viewers);
            pdtBias[source].push(result.pdtBiasMs);
          } catch (err) {
            process.stderr.write(`latency: run ${run} ${config} ${source} failed: ${(err as Error).message}\n`);
          }
        }
      }
    }
  } finally {
    await browser.close();
    await serve.close();
    await rm(dir, { recursive: true, force: true });
  }
  const { rows, markdown } = summarize(viewers, pdtBias);
  const header = [
    '# Glass-to-glass latency: hls.js and Shaka, default and recommended configs',
    '',
    `Run ${new Date().toISOString()} by \`npm run bench -- latency\` (bench/latency-matrix.ts). ${RUNS} runs per source and config, interleaved;`,
    `per viewer: ${WARMUP_SECONDS} s of playing warm-up, then ${SAMPLE_SECONDS} s sampled every 250 ms (latency = now − PDT of the frame on screen).`,
    `Each cell: the median of the viewers' medians, the runs' medians in brackets, the spread over all samples, the median start latency and`,
    'multivariant-load-to-first-frame, stalls in the sampled (steady) window summed over runs. Ratio = this median / ffmpeg-hls median for the same player, config and viewer.',
    'Stream edge lag = now − PDT of the end of the newest part/segment in the 720p playlist, sampled every 500 ms over each viewer\'s sampling window: what the stream itself trails the wall clock by',
    '(contribution encode, transcode, packaging); player behind edge = glass-to-glass − edge lag: where the player positioned itself. "not playing" = viewers that never had',
    `${WARMUP_SECONDS} s of playing within 45 s (no figure).`,
    '',
    `**The machine was shared**: other helpers were running ffmpeg encodes and test suites at the same time (1-min load average ${loads.map((l) => l.toFixed(1)).join(', ')} at the start of each run, on ${2} cores).`,
    'Absolute latencies are far worse than on a quiet machine; compare ratios to the ffmpeg-hls baseline of the same run.',
    '',
  ].join('\n');
  await writeFile(new URL('./results/latency.md', import.meta.url), `${header}\n${markdown}\n`);
  return { runs: RUNS, sampleSeconds: SAMPLE_SECONDS, joinAtSeconds: JOIN_AT_SECONDS, loadAverages: loads.map((l) => round(l, 1)), pdtBiasMs: pdtBias, rows, viewers };
}
