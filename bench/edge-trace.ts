/**
 * Where a stream's edge hiccups, and what a joining player makes of it (docs/latency.md): `livepipe
 * serve` on a ladder, a live 720p30 x264 encoder publishing over RTMP or SRT, the 720p playlist's
 * edge lag (now − PDT of the newest part's end) polled every 100 ms from the publish start, and an
 * hls.js viewer (default config) joining at `joinAfter` seconds whose stalls and target latency are
 * sampled every 250 ms. Prints, per run, the edge lag's spread before and after the viewer joined,
 * every excursion above `LIVEPIPE_TRACE_EXCURSION` s (default 0.35) with its time and length, and
 * the viewer's stalls, target latency and settled latency. At each stall: what audio and video
 * each SourceBuffer held and hls.js's playlists listed ahead of the playhead, the audio requests of
 * the 2 s before, and with `LIVEPIPE_TRACE_HLS_LOG=1` hls.js's audio stream controller's last 80 log
 * lines; with `LIVEPIPE_TRACE_START_LOG=1` as well, hls.js's first 400 log lines at the first frame
 * (where a slow start went).
 *
 *   npx tsx bench/edge-trace.ts [runs=2] [sources=rtmp,srt] [joinAfterSeconds=22] [ladder=low-latency]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchBrowser, median, startPlayer } from '../test/helpers/player/hls-player.js';
import { startServeCli } from '../test/helpers/serve/serve-fixture.js';
import { publish } from '../test/helpers/ingest/media.js';
import { freePorts } from '../test/helpers/ports.js';
import { waitFor } from '../test/helpers/wait.js';
import { livepipeEdgePdt } from '../test/helpers/hls/edge-pdt.js';
import { writeBenchLadders } from './latency-ladders.js';
import { runIfMain } from './run-if-main.js';

const KEY = 'trace-key-0123456789';
const PASSPHRASE = 'edge-trace-passphrase';

/** Stretches of consecutive samples above `threshold`: start (s after publish), length (s), peak lag (s). */
export function excursions(samples: Array<{ at: number; lag: number }>, threshold: number): Array<{ at: number; seconds: number; peak: number }> {
  const out: Array<{ at: number; seconds: number; peak: number }> = [];
  let open: { at: number; last: number; peak: number } | undefined;
  for (const s of samples) {
    if (s.lag > threshold) {
      if (open === undefined) open = { at: s.at, last: s.at, peak: s.lag };
      else {
        open.last = s.at;
        open.peak = Math.max(open.peak, s.lag);
      }
    } else if (open !== undefined) {
      out.push({ at: open.at, seconds: open.last - open.at, peak: open.peak });
      open = undefined;
    }
  }
  if (open !== undefined) out.push({ at: open.at, seconds: open.last - open.at, peak: open.peak });
  return out;
}

function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 2);
  const sources = (process.argv[3] ?? 'rtmp,srt').split(',') as Array<'rtmp' | 'srt'>;
  const joinAfter = Number(process.argv[4] ?? 22);
  const ladder = process.argv[5] ?? 'low-latency';
  const threshold = Number(process.env.LIVEPIPE_TRACE_EXCURSION ?? 0.35);
  const viewSeconds = 20;
  // Extra muxer options of the SRT publisher (e.g. `-pes_payload_size 0`: one PES per audio frame).
  const srtPublisherOptions = (process.env.LIVEPIPE_TRACE_SRT_PUBLISHER_OPTIONS ?? '').split(' ').filter((a) => a !== '');
  const dir = await mkdtemp(join(tmpdir(), 'livepipe-edge-trace-'));
  const plan = Array.from({ length: runs }, (_, run) => sources.map((source) => ({ source, run }))).flat();
  const ports = await freePorts(plan.length, 'udp');
  const channels = plan.map((p, i) => ({ id: `${p.source}-${p.run}`, ladder, key: KEY, ...(p.source === 'srt' ? { srt: { port: ports[i]!, passphrase: PASSPHRASE } } : {}) }));
  const serve = await startServeCli({ maxChannels: channels.length, channels }, { laddersDir: await writeBenchLadders(join(dir, 'ladders')) });
  const browser = await launchBrowser();
  try {
    for (const [i, { source, run }] of plan.entries()) {
      const channel = channels[i]!;
      const url = source === 'rtmp' ? serve.rtmpUrl(channel.id, KEY) : `srt://127.0.0.1:${channel.srt!.port}?streamid=publish:${channel.id}&passphrase=${PASSPHRASE}&pbkeylen=16`;
      const load = loadavg()[0]!;
      const publishedAt = Date.now();
      const publisher = publish(url, source === 'rtmp' ? 'flv' : 'mpegts', {
        seconds: joinAfter + viewSeconds + 10,
        video: { size: '1280x720', rate: 30 },
        outputOptions: source === 'srt' ? srtPublisherOptions : [],
      });
      const playlist = `${serve.live(channel.id)}/720p/playlist.m3u8`;
      const lags: Array<{ at: number; lag: number }> = [];
      let polling = true;
      const poller = (async () => {
        while (polling) {
          const res = await fetch(playlist).catch(() => undefined);
          const edge = res?.status === 200 ? livepipeEdgePdt(await res.text()) : undefined;
          if (edge !== undefined) lags.push({ at: (Date.now() - publishedAt) / 1000, lag: (Date.now() - edge) / 1000 });
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      try {
        await waitFor(async () => lags.length > 0, { timeoutMs: 30_000, intervalMs: 100, message: 'first playlist' });
        await new Promise((r) => setTimeout(r, Math.max(0, publishedAt + joinAfter * 1000 - Date.now())));
        // `startAtEdge` ladders hold the multivariant playlist a little after the first media playlist.
        await waitFor(async () => (await fetch(`${serve.live(channel.id)}/master.m3u8`).catch(() => undefined))?.status === 200, { timeoutMs: 30_000, intervalMs: 50, message: 'multivariant playlist' });
        const joinedAt = (Date.now() - publishedAt) / 1000;
        // LIVEPIPE_TRACE_HLS_LOG=1: hls.js's own log (its audio stream controller's lines are printed at each stall).
        const hlsLog = process.env.LIVEPIPE_TRACE_HLS_LOG === '1';
        const player = await startPlayer(browser, `${serve.live(channel.id)}/master.m3u8`, hlsLog ? { hlsConfig: { captureLog: true } } : {});
        const events: string[] = [];
        let stalls = 0;
        let target = NaN;
        let stats = await player.stats();
        try {
          const until = Date.now() + viewSeconds * 1000;
          while (Date.now() < until) {
            stats = await player.stats();
            const at = ((Date.now() - publishedAt) / 1000).toFixed(2);
            if (stats.stalls > stalls) {
              const ran = stats.stallBuffers?.at(-1);
              // The audio requests of the 2 s before the stall: when each part was asked for and came.
              const audio = player.requests().filter((r) => r.url.includes('/audio/') && r.startedAtMs > Date.now() - 2000);
              if (hlsLog) for (const line of (await player.logTail()).filter((l) => /audio-stream-controller/i.test(l)).slice(-80)) events.push(`    hls.js ${line.slice(0, 220)}`);
              for (const r of audio) {
                const u = new URL(r.url);
                events.push(`    ${((r.startedAtMs - publishedAt) / 1000).toFixed(3)} s +${Number.isNaN(r.finishedAtMs) ? 'open' : Math.round(r.finishedAtMs - r.startedAtMs)} ms ${u.pathname.split('/').at(-1)}${u.search}`);
              }
              events.push(
                `${at} s stall #${stats.stalls}: buffered ahead of the playhead audio ${ran?.audioAhead ?? '–'} s, video ${ran?.videoAhead ?? '–'} s; listed ahead audio ${ran?.audioListedAhead ?? '–'} s, video ${ran?.videoListedAhead ?? '–'} s (last loads ${stats.recentLoads?.slice(-4).join(' ')})`,
              );
            }
            if (!Number.isNaN(stats.targetLatency) && stats.targetLatency !== target) events.push(`${at} s target latency ${stats.targetLatency.toFixed(2)} s`);
            const firstFrameNow = !Number.isNaN(stats.firstFrameAtMs) && !events.some((e) => e.includes('first frame'));
            if (firstFrameNow && hlsLog && process.env.LIVEPIPE_TRACE_START_LOG === '1') {
              for (const line of (await player.logTail()).slice(0, 400)) events.push(`    hls.js ${line.slice(0, 260)}`);
            }
            if (firstFrameNow) events.push(`${((stats.firstFrameAtMs - publishedAt) / 1000).toFixed(2)} s first frame at ${stats.startLatency.toFixed(2)} s`);
            stalls = stats.stalls;
            if (!Number.isNaN(stats.targetLatency)) target = stats.targetLatency;
            await new Promise((r) => setTimeout(r, 250));
          }
        } finally {
          await player.close();
        }
        polling = false;
        await poller;
        const before = lags.filter((s) => s.at >= 5 && s.at < joinedAt).map((s) => s.lag);
        const during = lags.filter((s) => s.at >= joinedAt).map((s) => s.lag);
        console.log(`\n# ${source} run ${run + 1} (${ladder}, load ${load.toFixed(1)})`);
        console.log(`edge lag 5 s..join: p50 ${quantile(before, 0.5).toFixed(3)} p95 ${quantile(before, 0.95).toFixed(3)} max ${Math.max(...before).toFixed(3)}; with the viewer: p50 ${quantile(during, 0.5).toFixed(3)} p95 ${quantile(during, 0.95).toFixed(3)} max ${Math.max(...during).toFixed(3)}`);
        const ex = excursions(lags, threshold);
        console.log(`excursions > ${threshold} s: ${ex.length === 0 ? 'none' : ex.map((e) => `${e.at.toFixed(1)} s for ${e.seconds.toFixed(1)} s (peak ${e.peak.toFixed(2)})`).join('; ')}`);
        console.log(`viewer joined at ${joinedAt.toFixed(1)} s: settled ${median(stats.latencySamples.slice(-16)).toFixed(2)} s, stalls ${stats.stalls}, target ${stats.targetLatency.toFixed(2)} s`);
        for (const e of events) console.log(`  ${e}`);
      } finally {
        polling = false;
        await poller;
        await publisher.stop();
      }
    }
  } finally {
    await browser.close();
    await serve.close();
    await rm(dir, { recursive: true, force: true });
  }
}

runIfMain(import.meta.url, main);
