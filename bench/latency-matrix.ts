/**
 * The `latency` bench (issue 16): glass-to-glass in real players, side by side in one run.
 *
 * Sources (each a live 720p30 x264 encoder, ffmpeg reading lavfi at native rate):
 * - `rtmp`: publishing over RTMP into `livepipe serve` (real CLI), `low-latency` ladder;
 * - `srt`: the same over SRT (MPEG-TS, AES passphrase);
 * - `srt-frame-pes`: the same SRT publisher with `-pes_payload_size 0`, so its MPEG-TS muxer sends every
 *   audio frame in a PES of its own instead of packing ~2.9 KB (0.37 s of 64 kbit/s AAC) into one
 *   (docs/latency.md, "SRT publishers");
 * - `rtmp-muxed` (with `LIVEPIPE_BENCH_LATENCY_MUXED=1`): RTMP into the `low-latency-muxed` ladder;
 * - `rtmp@<ladder>` / `srt@<ladder>` (only when listed in `LIVEPIPE_BENCH_LATENCY_SOURCES`): RTMP or
 *   SRT into any shipped ladder or a lever variant of bench/latency-ladders.ts (an A/B of one lever
 *   against the shipped ladder in the same run);
 * - `ffmpeg-hls`: the baseline, the same encoder writing ffmpeg's own HLS (1 s fMP4 segments) served
 *   by nginx.
 * Players: hls.js 1.7.4 and Shaka Player 5.2 in Chromium, each with its default config and with the
 * recommended one of docs/latency.md. Per player, a viewer opens the stream as soon as its
 * multivariant playlist answers (a viewer at the publish start) and one joins `JOIN_AT_SECONDS` after
 * the publish.
 *
 * Honest on 2 cores: at most `LIVEPIPE_BENCH_LATENCY_CONCURRENCY` players (default 1) play at once.
 * With 1, every player gets its own stream (a fresh publish), its joining viewer opens when its
 * viewer at the start has finished (at `JOIN_AT_SECONDS` or later; the join time is reported), and
 * nothing else of the bench runs meanwhile. The stream's edge lag (now − PDT of the end of its newest
 * part/segment) is sampled every 500 ms; a viewer whose sampled window saw the edge fall more than
 * `LIVEPIPE_BENCH_LATENCY_EDGE_SLACK` s (default 0.5) behind the source's own step (the part target,
 * or ffmpeg's 1 s segment) is flagged "not realtime" and left out of the cell's median: that figure
 * measures the CPU, not the player.
 *
 * Each viewer warms up `WARMUP_SECONDS` of playing time, then samples latency every 250 ms for
 * `SAMPLE_SECONDS` (latency = now − the PDT of the frame on screen, so it includes everything
 * from the encoder's clock to the screen); stalls are counted over the sampled (steady) window.
 * The PDT bias is the first segment's PDT minus the moment the publisher was spawned.
 * Writes bench/results/latency.md (a table) and returns the figures for latest.json.
 *
 * Env: `LIVEPIPE_BENCH_LATENCY_RUNS` (2), `_SECONDS` (15), `_CONCURRENCY` (1), `_EDGE_SLACK` (0.5),
 * `_SOURCES` (comma list, default rtmp,srt,ffmpeg-hls), `_PLAYERS` (hls.js,shaka), `_CONFIGS`
 * (default,recommended), `_JOIN_AT` (22).
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
import { LATENCY_LADDER_VARIANTS, writeBenchLadders } from './latency-ladders.js';

const env = process.env;
const listed = (name: string): string[] | undefined => env[name]?.split(',').map((x) => x.trim()).filter((x) => x !== '');
const RUNS = Number(env.LIVEPIPE_BENCH_LATENCY_RUNS ?? 2);
const SAMPLE_SECONDS = Number(env.LIVEPIPE_BENCH_LATENCY_SECONDS ?? 15);
const WARMUP_SECONDS = 4;
const JOIN_AT_SECONDS = Number(env.LIVEPIPE_BENCH_LATENCY_JOIN_AT ?? 22);
/** Players playing at once (1: one Chromium player at a time, each on its own fresh stream). */
const CONCURRENCY = Math.max(1, Number(env.LIVEPIPE_BENCH_LATENCY_CONCURRENCY ?? 1));
/** Edge lag allowed above the source's own step before a viewer's window counts as not realtime, s. */
const EDGE_SLACK_SECONDS = Number(env.LIVEPIPE_BENCH_LATENCY_EDGE_SLACK ?? 0.5);
const KEY = 'latency-key-0123456789';
const PASSPHRASE = 'latency-srt-passphrase';
/** Named sources; `rtmp@<ladder>` and `srt@<ladder>` are accepted besides these. */
const NAMED_SOURCES = ['rtmp', 'rtmp-muxed', 'srt', 'srt-frame-pes', 'ffmpeg-hls'] as const;
const SOURCES: readonly Source[] = listed('LIVEPIPE_BENCH_LATENCY_SOURCES')
  ?? NAMED_SOURCES.filter((s) => (s !== 'rtmp-muxed' || env.LIVEPIPE_BENCH_LATENCY_MUXED === '1') && s !== 'srt-frame-pes');
const ALL_PLAYERS = ['hls.js', 'shaka'] as const;
const ALL_CONFIGS = ['default', 'recommended'] as const;
type Source = string;
type PlayerName = (typeof ALL_PLAYERS)[number];
type ConfigName = (typeof ALL_CONFIGS)[number];
type When = 'start' | 'join';
const PLAYERS: readonly PlayerName[] = ALL_PLAYERS.filter((p) => listed('LIVEPIPE_BENCH_LATENCY_PLAYERS')?.includes(p) ?? true);
const CONFIGS: readonly ConfigName[] = ALL_CONFIGS.filter((c) => listed('LIVEPIPE_BENCH_LATENCY_CONFIGS')?.includes(c) ?? true);

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

/**
 * How a source is made: `livepipe serve` fed over RTMP or SRT on a ladder (the publisher's extra
 * output options, if any), or ffmpeg's HLS muxer.
 */
export type SourceSpec = { kind: 'livepipe'; ingest: 'rtmp' | 'srt'; ladder: string; publisherOptions?: string[] } | { kind: 'ffmpeg-hls' };

/** `rtmp`, `srt`, `srt-frame-pes` → `low-latency`; `rtmp-muxed` → `low-latency-muxed`; `<ingest>@<ladder>`. */
export function sourceSpec(source: Source): SourceSpec {
  if (source === 'ffmpeg-hls') return { kind: 'ffmpeg-hls' };
  if (source === 'rtmp-muxed') return { kind: 'livepipe', ingest: 'rtmp', ladder: 'low-latency-muxed' };
  const m = /^(rtmp|srt|srt-frame-pes)(?:@([a-z0-9][a-z0-9-]*))?$/.exec(source);
  if (m !== null) {
    const ladder = m[2] ?? 'low-latency';
    if (m[1] === 'srt-frame-pes') return { kind: 'livepipe', ingest: 'srt', ladder, publisherOptions: ['-pes_payload_size', '0'] };
    return { kind: 'livepipe', ingest: m[1] as 'rtmp' | 'srt', ladder };
  }
  throw new Error(`unknown latency source "${source}" (have ${NAMED_SOURCES.join(', ')}, rtmp@<ladder>, srt@<ladder>, srt-frame-pes@<ladder>)`);
}

/**
 * The players of one stream: with concurrency 1 each player gets its own stream, with 2 or more the
 * players share one (chunks of `concurrency`).
 */
export function playerGroups<T>(players: readonly T[], concurrency: number): T[][] {
  const groups: T[][] = [];
  for (let i = 0; i < players.length; i += concurrency) groups.push(players.slice(i, i + concurrency));
  return groups;
}

export interface ViewerFigures {
  source: Source;
  player: PlayerName;
  config: ConfigName;
  when: When;
  run: number;
  /** When the viewer opened the stream, s after the publisher was spawned. */
  openedAtSeconds: number;
  /** Median of the latency samples of the steady window, s; NaN when the viewer never played. */
  median: number;
  min: number;
  max: number;
  /** Latency at the first frame, s. */
  startLatency: number;
  /** Multivariant playlist load → first frame, ms. */
  firstFrameMs: number;
  /**
   * Stalls after the first frame and before the steady window: hls.js adds 1 s to its target
   * latency for each (up to TARGETDURATION) and keeps it, so one here can set the steady figure.
   */
  warmupStalls: number;
  /** Stalls (and their total ms) in the steady window. */
  stalls: number;
  stalledMs: number;
  requestsBeforeFirstFrame: number;
  fatalErrors: string[];
  /** Median and max of now − the PDT of the stream's newest media over the sampled window, s: the stream's own lag (encode, transcode, packaging). */
  edgeLag?: number;
  edgeLagMax?: number;
  /** False when the edge fell behind real time during the sampled window (left out of the medians). */
  realtime?: boolean;
}

const round = (x: number, digits = 3): number => Math.round(x * 10 ** digits) / 10 ** digits;

type Watched = ViewerFigures & { window: { from: number; to: number } };

async function watch(
  open: () => Promise<Player>,
  label: Pick<ViewerFigures, 'source' | 'player' | 'config' | 'when' | 'run' | 'openedAtSeconds'>,
): Promise<Watched> {
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
      warmupStalls: warm.stalls,
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
function liveEncoder(url: string, format: 'flv' | 'mpegts', seconds: number, outputOptions: string[] = []): Publisher {
  return publish(url, format, { seconds, video: { size: '1280x720', rate: 30 }, outputOptions });
}

interface Stream {
  url: string;
  /** How far the edge trails the clock when the stream keeps up: its part target (livepipe) or segment (ffmpeg), s. */
  stepSeconds: number;
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

/**
 * The edge lag of one viewer's sampled window, and whether the stream kept up in it: every sample
 * within the stream's own step plus `slack` (a part or segment appears once complete, so the lag
 * saw-tooths between ~0 and one step when the encoder is realtime, and climbs when it is not).
 */
export function edgeLagOfWindow(lags: ReadonlyArray<{ at: number; lag: number }>, window: { from: number; to: number }, stepSeconds: number, slack: number): { median: number; max: number; realtime: boolean } {
  const inWindow = lags.filter((l) => l.at >= window.from && l.at <= window.to).map((l) => l.lag);
  if (inWindow.length === 0) return { median: NaN, max: NaN, realtime: false };
  const max = Math.max(...inWindow);
  return { median: round(median(inWindow)), max: round(max), realtime: max <= stepSeconds + slack };
}

async function fetchText(url: string): Promise<string | undefined> {
  const res = await fetch(url).catch(() => undefined);
  return res?.status === 200 ? res.text() : undefined;
}

/**
 * One stream: it comes up, the group's players open it at once (viewers at the start), and the same
 * players open it again at `JOIN_AT_SECONDS` — alongside the first ones only when that keeps at most
 * `CONCURRENCY` players open, else once the first ones are done.
 */
async function oneStream(browser: Browser, source: Source, config: ConfigName, run: number, players: readonly PlayerName[], begin: () => Promise<Stream>): Promise<{ viewers: ViewerFigures[]; pdtBiasMs: number }> {
  const publishedAt = Date.now();
  const stream = await begin();
  try {
    await waitFor(async () => ((await fetch(stream.url).catch(() => undefined))?.status === 200 ? true : undefined), { timeoutMs: 45_000, intervalMs: 50, message: `${source} playlist` });
    const pdt = stream.firstPdt();
    const edgeLag = sampleEdgeLag(stream);
    const open = (player: PlayerName) => () =>
      player === 'hls.js' ? startPlayer(browser, stream.url, { hlsConfig: PLAYER_CONFIGS['hls.js'][config] }) : startShakaPlayer(browser, stream.url, PLAYER_CONFIGS.shaka[config]);
    const viewersOf = (when: When) => players.map((player) => watch(open(player), { source, player, config, when, run, openedAtSeconds: round((Date.now() - publishedAt) / 1000, 1) }));
    const atStart = viewersOf('start');
    const firstDone = players.length * 2 <= CONCURRENCY ? Promise.resolve() : Promise.allSettled(atStart);
    await firstDone;
    await new Promise((r) => setTimeout(r, Math.max(0, publishedAt + JOIN_AT_SECONDS * 1000 - Date.now())));
    const joining = viewersOf('join');
    const watched = await Promise.all([...atStart, ...joining]);
    const lags = await edgeLag.stop();
    const viewers = watched.map(({ window, ...v }) => {
      const lag = edgeLagOfWindow(lags, window, stream.stepSeconds, EDGE_SLACK_SECONDS);
      return { ...v, edgeLag: lag.median, edgeLagMax: lag.max, realtime: lag.realtime };
    });
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

/** The viewers of one cell that count: they played, and their stream kept up with real time. */
const counted = (group: readonly ViewerFigures[]): ViewerFigures[] => group.filter((v) => !Number.isNaN(v.median) && v.realtime !== false);

function summarize(viewers: ViewerFigures[], pdtBias: Record<Source, number[]>): { rows: Array<Record<string, unknown>>; markdown: string } {
  const rows: Array<Record<string, unknown>> = [];
  const lines = [
    '| source | player | config | viewer | median s (runs) | spread min–max s | stream edge lag s (max) | player behind edge s | start s | first frame ms | stalls warm-up / steady | fatal / not playing / not realtime | ratio to ffmpeg-hls |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  const cell = (s: Source, p: PlayerName, c: ConfigName, w: When) => viewers.filter((v) => v.source === s && v.player === p && v.config === c && v.when === w);
  const cellMedian = (s: Source, p: PlayerName, c: ConfigName, w: When) => median(counted(cell(s, p, c, w)).map((v) => v.median));
  for (const config of CONFIGS) {
    for (const player of PLAYERS) {
      for (const when of ['start', 'join'] as const) {
        for (const source of SOURCES) {
          const group = cell(source, player, config, when);
          if (group.length === 0) continue;
          const good = counted(group);
          const med = cellMedian(source, player, config, when);
          const baseline = cellMedian('ffmpeg-hls', player, config, when);
          const joinedAt = group.map((v) => v.openedAtSeconds);
          const played = group.filter((v) => !Number.isNaN(v.median));
          // Where the player sits behind the stream's edge means something even when the stream fell
          // behind real time; shown in parentheses from the not-realtime viewers when no viewer counts.
          const behind = (vs: readonly ViewerFigures[]) => round(median(vs.filter((v) => v.edgeLag !== undefined && !Number.isNaN(v.edgeLag)).map((v) => v.median - v.edgeLag!)));
          const row = {
            source, player, config, when,
            openedAtSeconds: joinedAt,
            median: round(med),
            runMedians: group.map((v) => (Number.isNaN(v.median) ? '–' : v.realtime === false ? `(${v.median})` : v.median)),
            min: good.length > 0 ? round(Math.min(...good.map((v) => v.min))) : NaN,
            max: good.length > 0 ? round(Math.max(...good.map((v) => v.max))) : NaN,
            startLatency: round(median(good.map((v) => v.startLatency))),
            firstFrameMs: Math.round(median(good.map((v) => v.firstFrameMs))),
            edgeLag: round(median(group.map((v) => v.edgeLag ?? NaN).filter((x) => !Number.isNaN(x)))),
            edgeLagMax: round(Math.max(...group.map((v) => v.edgeLagMax ?? NaN).filter((x) => !Number.isNaN(x)))),
            behindEdge: good.length > 0 ? behind(good) : NaN,
            behindEdgeNotRealtime: good.length > 0 ? NaN : behind(played),
            warmupStalls: played.reduce((n, v) => n + v.warmupStalls, 0),
            stalls: good.reduce((n, v) => n + v.stalls, 0),
            fatal: group.flatMap((v) => v.fatalErrors).length,
            notPlaying: group.length - played.length,
            notRealtime: played.filter((v) => v.realtime === false).length,
            ratioToFfmpegHls: source === 'ffmpeg-hls' ? 1 : round(med / baseline, 2),
          };
          rows.push(row);
          const viewer = when === 'start' ? 'at start' : `joins at ${[...new Set(joinedAt.map((t) => Math.round(t)))].join('/')} s`;
          const shown = (x: number) => (Number.isNaN(x) ? '–' : String(x));
          const behindText = good.length > 0 ? shown(row.behindEdge) : `(${shown(row.behindEdgeNotRealtime)})`;
          lines.push(`| ${source} | ${player} | ${config} | ${viewer} | **${shown(row.median)}** (${row.runMedians.join(', ')}) | ${good.length > 0 ? `${row.min}–${row.max}` : '–'} | ${shown(row.edgeLag)} (${shown(row.edgeLagMax)}) | ${behindText} | ${shown(row.startLatency)} | ${shown(row.firstFrameMs)} | ${row.warmupStalls} / ${row.stalls} | ${row.fatal} / ${row.notPlaying} / ${row.notRealtime} | ${shown(row.ratioToFfmpegHls)} |`);
        }
      }
    }
  }
  lines.push('', `PDT bias (first PDT − publisher spawn), ms: ${SOURCES.map((s) => `${s} ${(pdtBias[s] ?? []).map((x) => Math.round(x)).join(', ')}`).join('; ')}`);
  const variants = LATENCY_LADDER_VARIANTS.filter((v) => SOURCES.some((s) => s.endsWith(`@${v.name}`)));
  if (variants.length > 0) lines.push('', 'Ladder variants (bench/latency-ladders.ts):', ...variants.map((v) => `- \`${v.name}\`: \`${v.base}\` with ${JSON.stringify(v.overrides)} — ${v.lever}`));
  return { rows, markdown: lines.join('\n') };
}

export async function run(): Promise<Record<string, unknown>> {
  const specs = new Map(SOURCES.map((s) => [s, sourceSpec(s)] as const));
  const dir = await mkdtemp(join(tmpdir(), 'livepipe-bench-latency-'));
  const groups = playerGroups(PLAYERS, CONCURRENCY);
  // One channel per livepipe source, run, config and player group: every stream is a fresh publish.
  const streamsPerSource = RUNS * CONFIGS.length * groups.length;
  const srtPorts = await freePorts(streamsPerSource * [...specs.values()].filter((s) => s.kind === 'livepipe' && s.ingest === 'srt').length, 'udp');
  const channels: Array<Record<string, unknown>> = [];
  const channelOf = new Map<string, { id: string; srtPort?: number }>();
  for (const [source, spec] of specs) {
    if (spec.kind !== 'livepipe') continue;
    for (let i = 0; i < streamsPerSource; i++) {
      const id = `${source.replace(/[^a-z0-9]+/g, '-')}-${i}`;
      const srtPort = spec.ingest === 'srt' ? srtPorts.shift()! : undefined;
      channels.push({ id, ladder: spec.ladder, key: KEY, ...(srtPort === undefined ? {} : { srt: { port: srtPort, passphrase: PASSPHRASE } }) });
      channelOf.set(`${source}#${i}`, { id, srtPort });
    }
  }
  const laddersDir = await writeBenchLadders(join(dir, 'ladders'));
  const live = await startServeCli({ maxChannels: channels.length, channels }, { laddersDir });
  const browser = await launchBrowser();
  const viewers: ViewerFigures[] = [];
  const pdtBias: Record<Source, number[]> = Object.fromEntries(SOURCES.map((s) => [s, []]));
  const loads: number[] = [];
  const streamSeconds = JOIN_AT_SECONDS + 2 * (WARMUP_SECONDS + SAMPLE_SECONDS) + 45;
  const livepipeStream = (channel: string, publisher: () => Publisher): Stream => {
    const p = publisher();
    const videoPlaylist = async (): Promise<string> => {
      const master = await fetchText(`${live.live(channel)}/master.m3u8`);
      const first = master?.split('\n').find((l) => l !== '' && !l.startsWith('#'));
      return `${live.live(channel)}/${first ?? '720p/playlist.m3u8'}`;
    };
    let partTarget = 0.1;
    return {
      url: `${live.live(channel)}/master.m3u8`,
      get stepSeconds() {
        return partTarget;
      },
      firstPdt: async () => firstPdtOf(await videoPlaylist(), (t) => {
        const p = parseMediaPlaylist(t);
        if (p.partTarget > 0) partTarget = p.partTarget;
        return p.segments[0]?.programDateTime ?? p.pending?.programDateTime;
      }),
      edgePdt: async () => {
        const text = await fetchText(`${live.live(channel)}/720p/playlist.m3u8`);
        return text === undefined ? undefined : livepipeEdgePdt(text);
      },
      stop: async () => void (await p.stop()),
    };
  };
  const ffmpegHls = async (key: string): Promise<Stream> => {
    const base = join(dir, `ffmpeg-${key}`);
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
      stepSeconds: 1,
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
  const secondsPerStream = JOIN_AT_SECONDS + WARMUP_SECONDS + SAMPLE_SECONDS + 10;
  process.stderr.write(`latency: ${SOURCES.length * streamsPerSource} streams (${SOURCES.join(', ')}; ${PLAYERS.join(', ')}; ${CONFIGS.join(', ')}; ${RUNS} runs; ${CONCURRENCY} player(s) at once), about ${Math.ceil((SOURCES.length * streamsPerSource * secondsPerStream) / 60)} min\n`);
  try {
    let i = 0;
    for (let run = 1; run <= RUNS; run++) {
      for (const config of CONFIGS) {
        for (const players of groups) {
          // Sources innermost: the variants of one cell run back to back (A/B in the same minutes).
          for (const source of SOURCES) {
            const spec = specs.get(source)!;
            process.stderr.write(`latency: run ${run} ${config} ${players.join('+')} ${source} (load ${loadavg()[0]!.toFixed(1)})\n`);
            loads.push(loadavg()[0]!);
            const begin = async (): Promise<Stream> => {
              if (spec.kind === 'ffmpeg-hls') return ffmpegHls(`${run}-${config}-${players.join('-')}`);
              const { id, srtPort } = channelOf.get(`${source}#${i}`)!;
              if (spec.ingest === 'rtmp') return livepipeStream(id, () => liveEncoder(live.rtmpUrl(id, KEY), 'flv', streamSeconds));
              const srtUrl = `srt://127.0.0.1:${srtPort}?streamid=publish:${id}&passphrase=${PASSPHRASE}&pbkeylen=16`;
              return livepipeStream(id, () => liveEncoder(srtUrl, 'mpegts', streamSeconds, spec.publisherOptions));
            };
            try {
              const result = await oneStream(browser, source, config, run, players, begin);
              viewers.push(...result.viewers);
              pdtBias[source]!.push(result.pdtBiasMs);
            } catch (err) {
              process.stderr.write(`latency: run ${run} ${config} ${source} failed: ${(err as Error).message}\n`);
            }
          }
          i++;
        }
      }
    }
  } finally {
    await browser.close();
    await live.close();
    await rm(dir, { recursive: true, force: true });
  }
  const { rows, markdown } = summarize(viewers, pdtBias);
  const header = [
    '# Glass-to-glass latency: hls.js and Shaka, default and recommended configs',
    '',
    `Run ${new Date().toISOString()} by \`npm run bench -- latency\` (bench/latency-matrix.ts). ${RUNS} runs per source, config and player, interleaved;`,
    `${CONCURRENCY} player(s) playing at once; every player has its own fresh stream when that is 1, and its joining viewer opens once its viewer at the start is done.`,
    `Per viewer: ${WARMUP_SECONDS} s of playing warm-up, then ${SAMPLE_SECONDS} s sampled every 250 ms (latency = now − PDT of the frame on screen).`,
    `Each cell: the median of the viewers' medians, the runs' medians in brackets (in parentheses: not realtime, left out), the spread over the counted samples, the median start latency and`,
    'multivariant-load-to-first-frame, stalls between the first frame and the sampled window (warm-up, every viewer that played) and in the sampled (steady) window, summed over runs. Ratio = this median / ffmpeg-hls median for the same player, config and viewer.',
    'Stream edge lag = now − PDT of the end of the newest part/segment in the 720p playlist, sampled every 500 ms over each viewer\'s sampling window (median, and max in brackets): what the stream itself trails the wall clock by',
    `(contribution encode, transcode, packaging). A viewer whose window saw the edge lag exceed the source's step (part target, or ffmpeg's 1 s segment) + ${EDGE_SLACK_SECONDS} s is "not realtime": the encoder did not keep up, so its figure measures the CPU and is left out.`,
    `Player behind edge = glass-to-glass − edge lag: where the player positioned itself (in parentheses when only not-realtime viewers give it: still a fair A/B of positioning). "not playing" = viewers that never had ${WARMUP_SECONDS} s of playing within 45 s (no figure).`,
    '',
    `1-min load average at the start of each stream: ${loads.map((l) => l.toFixed(1)).join(', ')} (2 cores). If other work ran on the machine, say so here; compare ratios within the run.`,
    '',
  ].join('\n');
  await writeFile(new URL('./results/latency.md', import.meta.url), `${header}\n${markdown}\n`);
  return { runs: RUNS, sampleSeconds: SAMPLE_SECONDS, joinAtSeconds: JOIN_AT_SECONDS, concurrency: CONCURRENCY, edgeSlackSeconds: EDGE_SLACK_SECONDS, loadAverages: loads.map((l) => round(l, 1)), pdtBiasMs: pdtBias, rows, viewers };
}
