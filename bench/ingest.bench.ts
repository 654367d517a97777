/**
 * Ingest to viewer through `livepipe serve` (the real CLI: RTMP/SRT ingest, `low-latency` ladder,
 * packager, filesystem storage, embedded origin), fed by the same 720p30 H.264/AAC contribution
 * (a generated file sent at native rate with `-c copy`, as an encoder would push it):
 *
 * 1. publish-to-first-playable: from the publisher's spawn to the moment every rendition named in
 *    the multivariant playlist has its first part listed (polled every 50 ms), for RTMP and SRT,
 *    `TRIALS` fresh channels each;
 * 2. glass-to-glass latency as hls.js measures it (`Date.now() - hls.playingDate`, sampled every
 *    250 ms for `SAMPLE_SECONDS` after a warm-up) for an RTMP and an SRT publisher, and in the same
 *    run the ffmpeg HLS muxer baseline of `latency.bench.ts` (1 s fMP4 segments on nginx).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchBrowser, median } from '../test/helpers/player/hls-player.js';
import { getText, renditionsOf, startServeCli, type ServeCli } from '../test/helpers/serve/serve-fixture.js';
import { parseMediaPlaylist } from '../src/hls/playlist-parser.js';
import { ffmpegHlsLatency, makeContribution, measure, type LatencyFigures } from './latency.bench.js';
import { freePorts } from '../test/helpers/ports.js';
import { runIfMain } from './run-if-main.js';

const TRIALS = Number(process.env.LIVEPIPE_BENCH_INGEST_TRIALS ?? 3);
const SAMPLE_SECONDS = Number(process.env.LIVEPIPE_BENCH_INGEST_SECONDS ?? 20);
const KEY = 'bench-key-0123456789';
const PASSPHRASE = 'bench-srt-passphrase';

type Protocol = 'rtmp' | 'srt';

/** ffmpeg sending the contribution file unchanged at native rate, over RTMP (FLV) or SRT (MPEG-TS). */
function pushContribution(file: string, url: string, protocol: Protocol): ChildProcess {
  const child = spawn('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re', '-i', file, '-c', 'copy', '-f', protocol === 'rtmp' ? 'flv' : 'mpegts', url], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr!.resume();
  return child;
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

interface FirstPlayable {
  /** Publisher spawn → multivariant playlist served. */
  masterSeconds: number;
  /** Publisher spawn → every rendition of the multivariant playlist lists a part. */
  playableSeconds: number;
  renditions: string[];
}

/** Polls the origin every 50 ms from `t0` until every rendition lists a part. */
async function waitFirstPlayable(serve: ServeCli, channel: string, t0: number, timeoutMs = 60_000): Promise<FirstPlayable> {
  const deadline = t0 + timeoutMs;
  let masterAt: number | undefined;
  let renditions: string[] = [];
  const ready = new Set<string>();
  while (Date.now() < deadline) {
    if (masterAt === undefined) {
      const master = await getText(`${serve.live(channel)}/master.m3u8`);
      if (master.status === 200) {
        masterAt = Date.now();
        renditions = renditionsOf(master.text);
      }
    }
    for (const rendition of renditions) {
      if (ready.has(rendition)) continue;
      const { status, text } = await getText(`${serve.live(channel)}/${rendition}/playlist.m3u8`);
      if (status !== 200) continue;
      const p = parseMediaPlaylist(text);
      if (p.segments.some((s) => s.parts.length > 0) || (p.pending?.parts.length ?? 0) > 0) ready.add(rendition);
    }
    if (masterAt !== undefined && renditions.length > 0 && ready.size === renditions.length) {
      return { masterSeconds: (masterAt - t0) / 1000, playableSeconds: (Date.now() - t0) / 1000, renditions };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${channel}: not playable within ${timeoutMs} ms (renditions ready: ${[...ready].join(', ') || 'none'})`);
}

const round = (x: number): number => Math.round(x * 1000) / 1000;

function summarize(trials: FirstPlayable[]): Record<string, unknown> {
  const playable = trials.map((t) => t.playableSeconds);
  return {
    medianSeconds: round(median(playable)),
    minSeconds: round(Math.min(...playable)),
    maxSeconds: round(Math.max(...playable)),
    masterMedianSeconds: round(median(trials.map((t) => t.masterSeconds))),
    trials: playable.map(round),
    renditions: trials[0]?.renditions,
  };
}

export async function run(): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(join(tmpdir(), 'livepipe-bench-ingest-'));
  const contribution = join(dir, 'contribution-720p30.mp4');
  makeContribution(contribution, 90);
  const ids = (p: Protocol) => Array.from({ length: TRIALS }, (_, i) => `${p}${i + 1}`);
  const srtIds = [...ids('srt'), 'latsrt'];
  const srtPorts = await freePorts(srtIds.length, 'udp');
  const serve = await startServeCli({
    maxChannels: 16,
    reconnectGraceSeconds: 2,
    channels: [
      ...[...ids('rtmp'), 'latrtmp'].map((id) => ({ id, ladder: 'low-latency', key: KEY })),
      ...srtIds.map((id, i) => ({ id, ladder: 'low-latency', key: KEY, srt: { port: srtPorts[i]!, passphrase: PASSPHRASE } })),
    ],
  });
  const srtUrl = (id: string) => `srt://127.0.0.1:${srtPorts[srtIds.indexOf(id)]}?streamid=publish:${id}&passphrase=${PASSPHRASE}&pbkeylen=16`;
  const urlOf = (protocol: Protocol, id: string) => (protocol === 'rtmp' ? serve.rtmpUrl(id, KEY) : srtUrl(id));
  try {
    const firstPlayable: Record<Protocol, FirstPlayable[]> = { rtmp: [], srt: [] };
    for (let i = 0; i < TRIALS; i++) {
      for (const protocol of ['rtmp', 'srt'] as const) {
        const id = `${protocol}${i + 1}`;
        const t0 = Date.now();
        const publisher = pushContribution(contribution, urlOf(protocol, id), protocol);
        try {
          firstPlayable[protocol].push(await waitFirstPlayable(serve, id, t0));
        } finally {
          await stopProcess(publisher);
        }
        // Let the ladder wind down so trials do not overlap.
        await new Promise((r) => setTimeout(r, 1500));
      }
    }

    const latency: Partial<Record<Protocol, LatencyFigures>> = {};
    // A viewer who joins once the channel has run a while (most viewers): the encoder has caught up
    // with what it buffered while the feed was probed at publish start.
    const latencySteady: Partial<Record<Protocol, LatencyFigures>> = {};
    for (const protocol of ['rtmp', 'srt'] as const) {
      const id = `lat${protocol}`;
      // Up before the publish, as a viewer waiting on a page (see `measure`).
      const browser = await launchBrowser();
      const publisher = pushContribution(contribution, urlOf(protocol, id), protocol);
      try {
        await waitFirstPlayable(serve, id, Date.now());
        latency[protocol] = await measure(`${serve.live(id)}/master.m3u8`, SAMPLE_SECONDS, browser);
        latencySteady[protocol] = await measure(`${serve.live(id)}/master.m3u8`, SAMPLE_SECONDS, browser);
      } finally {
        await stopProcess(publisher);
        await browser.close();
      }
      await new Promise((r) => setTimeout(r, 1500));
    }
    await serve.close();
    process.stderr.write(`ingest bench: ${JSON.stringify({ firstPlayable, latency })}\n`);
    const baseline = await ffmpegHlsLatency(contribution, join(dir, 'ffmpeg'), SAMPLE_SECONDS).catch((err: unknown) => ({ error: String(err) }));
    return {
      input: '720p30 H.264/AAC file (4 Mbit/s, 2 s GOP) pushed with -re -c copy',
      ladder: 'low-latency (720p/480p/360p + audio, 1 s segments, 0.1 s parts)',
      publishToFirstPlayable: { rtmp: summarize(firstPlayable.rtmp), srt: summarize(firstPlayable.srt) },
      sampleSeconds: SAMPLE_SECONDS,
      // Player started as soon as the first part was playable (an early joiner)…
      latencyRtmp: latency.rtmp,
      latencySrt: latency.srt,
      // …and a second player started ~30 s into the same publish (steady state).
      latencyRtmpJoinedLater: latencySteady.rtmp,
      latencySrtJoinedLater: latencySteady.srt,
      latencyFfmpegHlsBaseline: baseline,
      note: 'SRT adds its receiver latency (120 ms default) and the listener probe; glass-to-glass = Date.now() - hls.playingDate (EXT-X-PROGRAM-DATE-TIME)',
    };
  } finally {
    await serve.close();
    await rm(dir, { recursive: true, force: true });
  }
}

runIfMain(import.meta.url, run);
