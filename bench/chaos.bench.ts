/**
 * `npm run bench -- chaos` (issue 15, "keeps playing through faults"): a real `livepipe serve` (the
 * CLI) on the `low-latency` ladder, an ffmpeg RTMP publisher (640x360 30 fps, 1 s GOP, AAC) and
 * hls.js (low-latency mode) in Chromium, through each fault at the size, each on a fresh
 * serve:
 *
 * - 10 encoder SIGKILLs 6 s apart;
 * - 20 restarts through the ops API in 10 s;
 * - s3rver (serve --storage s3://…) frozen with SIGSTOP for 30 s, then killed and restarted for 30 s;
 * - a flood of 1,000 idle and garbage connections on the RTMP port, and bogus callers plus 1,000
 *   garbage datagrams on the SRT port, while the configured publisher connects;
 * - 1,000 channel creations through the ops API;
 * - SIGTERM of serve and a restart on the same data directory: serve binding its own port (a viewer's
 *   requests are refused while it restarts), and serve under a systemd-style socket unit
 *   (docker/systemd/livepipe.socket: they wait in the socket's queue).
 *
 * `LIVEPIPE_BENCH_CHAOS_FAULTS=sigterm,storage` runs only the faults whose names contain one of
 * those words (case-insensitive), e.g. to repeat the restart cases for their spread.
 * Per fault: hls.js fatal errors, rebuffers and total stall, the share of wall time the player
 * advanced, the longest edge freeze (largest gap between successive new parts in any rendition's
 * served playlist, polled every 100 ms, so ±0.1 s), the serve process's RSS peak, and LL-HLS rule
 * violations seen; the targets stand next to the figures. The observation window of each
 * fault runs from its start to a few seconds after it ends.
 */
import type { Browser } from 'playwright-core';
import { launchBrowser } from '../test/helpers/player/hls-player.js';
import {
  apiRestarts,
  channelCreations,
  CHAOS_KEY,
  CHAOS_SRT_CHANNEL,
  CHAOS_SRT_PASSPHRASE,
  encoderKills,
  floodWhilePublishing,
  observeFault,
  sigtermRestart,
  startChaosServe,
  startLiveStage,
  storageOutage,
  checkStoredObjects,
  summarize,
  type ChaosServeOptions,
  type FaultFigures,
  type LiveChaosStage,
} from '../test/helpers/serve/chaos.js';
import { startS3rverProcess } from '../test/helpers/storage/s3rver-process.js';
import { freePort } from '../test/helpers/ports.js';
import { runIfMain } from './run-if-main.js';

const OUTAGE_MS = Number(process.env.LIVEPIPE_BENCH_CHAOS_OUTAGE_MS ?? 30_000);
const KILLS = Number(process.env.LIVEPIPE_BENCH_CHAOS_KILLS ?? 10);
const ONLY = (process.env.LIVEPIPE_BENCH_CHAOS_FAULTS ?? '').split(',').map((w) => w.trim().toLowerCase()).filter((w) => w !== '');

interface Targets {
  fatalErrors?: number;
  minAdvanceShare?: number;
  maxEdgeFreezeSeconds?: number;
  publisherGetsIn?: boolean;
}

function figuresOf(f: FaultFigures<unknown>, targets: Targets): Record<string, unknown> {
  const met: Record<string, boolean> = { fatalErrors: f.player.fatalErrors.length === (targets.fatalErrors ?? 0) };
  if (targets.minAdvanceShare !== undefined) met.advanceShare = f.player.advanceShare >= targets.minAdvanceShare;
  if (targets.maxEdgeFreezeSeconds !== undefined) met.edgeFreeze = f.edge.longestFreezeSeconds <= targets.maxEdgeFreezeSeconds;
  if (targets.publisherGetsIn !== undefined) met.publisherGetsIn = (f.details as { publisherGotIn?: boolean }).publisherGotIn === true;
  return {
    wallSeconds: f.wallSeconds,
    fatalErrors: f.player.fatalErrors,
    rebuffers: f.player.rebuffers,
    stalledSeconds: f.player.stalledSeconds,
    advanceShare: f.player.advanceShare,
    playedSeconds: f.player.playedSeconds,
    longestEdgeFreezeSeconds: f.edge.longestFreezeSeconds,
    edgeFreezeByRendition: f.edge.freezeSeconds,
    rssPeakMiB: f.rssPeakMiB,
    playlistsChecked: f.edge.playlistsChecked,
    ruleViolations: f.edge.violations.length,
    firstViolations: f.edge.violations.slice(0, 5),
    failedPolls: f.edge.failedPolls,
    lastNonFatalErrors: f.player.lastNonFatalErrors,
    details: f.details,
    targets: { fatalErrors: 0, ...targets },
    met,
  };
}

async function withStage<T>(browser: Browser, options: ChaosServeOptions, body: (stage: LiveChaosStage) => Promise<T>): Promise<T> {
  const stage = await startLiveStage(browser, options);
  try {
    return await body(stage);
  } finally {
    await stage.close();
  }
}

/** Runs one fault; an error becomes the fault's entry instead of ending the bench. */
async function attempt(name: string, results: Record<string, unknown>, body: () => Promise<Record<string, unknown>>): Promise<void> {
  if (ONLY.length > 0 && !ONLY.some((w) => name.toLowerCase().includes(w))) return;
  process.stderr.write(`bench chaos: ${name}…\n`);
  try {
    results[name] = await body();
  } catch (err) {
    results[name] = { error: (err as Error).stack ?? String(err) };
  }
}

export async function run(): Promise<Record<string, unknown>> {
  const browser = await launchBrowser();
  const results: Record<string, unknown> = {};
  const log = (f: FaultFigures<unknown>) => process.stderr.write(`  ${summarize(f)}\n`);
  try {
    await attempt(`encoderKills${KILLS}x6s`, results, () =>
      withStage(browser, {}, async (stage) => {
        const f = await observeFault('encoder kills', stage, () => encoderKills(stage.serve, KILLS, 6000), 4000);
        log(f);
        return figuresOf(f, { minAdvanceShare: 0.9, maxEdgeFreezeSeconds: 1 });
      }),
    );
    await attempt('apiRestarts20in10s', results, () =>
      withStage(browser, {}, async (stage) => {
        const f = await observeFault('API restarts', stage, () => apiRestarts(stage.serve, 20, 10_000), 5000);
        log(f);
        return figuresOf(f, {});
      }),
    );
    for (const mode of ['SIGSTOP', 'SIGKILL'] as const) {
      await attempt(`s3rver${mode}${OUTAGE_MS / 1000}s`, results, async () => {
        const s3 = await startS3rverProcess();
        try {
          return await withStage(browser, { file: { storage: s3.storageUrl() }, env: s3.env() }, async (stage) => {
            const f = await observeFault(`storage ${mode}`, stage, () => storageOutage(s3, mode, OUTAGE_MS), 5000);
            log(f);
            const storedRightAfter = await checkStoredObjects(s3, 'chaos', stage.renditions);
            await new Promise((r) => setTimeout(r, 10_000));
            const storedDrained = await checkStoredObjects(s3, 'chaos', stage.renditions);
            const summary = (c: typeof storedDrained) => ({ objectsChecked: c.objectsChecked, missing: c.missing.length, firstMissing: c.missing.slice(0, 3), storedLastMsn: c.storedLastMsn });
            return { ...figuresOf(f, { maxEdgeFreezeSeconds: 1 }), storedRightAfter: summary(storedRightAfter), storedDrained: summary(storedDrained) };
          });
        } finally {
          s3.resume();
          await s3.close();
        }
      });
    }
    await attempt('flood1000', results, async () => {
      const srtPort = await freePort('udp');
      const serve = await startChaosServe({
        channels: [{ id: CHAOS_SRT_CHANNEL, ladder: 'low-latency', key: `${CHAOS_KEY}-srt`, srt: { port: srtPort, passphrase: CHAOS_SRT_PASSPHRASE } }],
      });
      try {
        const out: Record<string, unknown> = {};
        for (const protocol of ['rtmp', 'srt'] as const) {
          const f = await floodWhilePublishing(browser, serve, protocol, 1000, 10_000, srtPort);
          log(f);
          out[protocol] = figuresOf(f, { publisherGetsIn: true });
        }
        return out;
      } finally {
        await serve.close();
      }
    });
    await attempt('channelCreations1000', results, () =>
      withStage(browser, {}, async (stage) => {
        const f = await observeFault('channel creations', stage, () => channelCreations(stage.serve, 1000), 2000);
        log(f);
        return figuresOf(f, {});
      }),
    );
    await attempt('sigtermRestart', results, () =>
      withStage(browser, {}, async (stage) => {
        const f = await observeFault('SIGTERM + restart', stage, () => sigtermRestart(stage), 4000);
        log(f);
        return figuresOf(f, {});
      }),
    );
    await attempt('sigtermRestartSocketUnit', results, () =>
      withStage(browser, { socketActivation: true }, async (stage) => {
        const f = await observeFault('SIGTERM + restart (socket unit)', stage, () => sigtermRestart(stage), 4000);
        log(f);
        return figuresOf(f, {});
      }),
    );
  } finally {
    await browser.close();
  }
  return results;
}

runIfMain(import.meta.url, run);
