/**
 * Input switches (issue 14) on the `constrained` ladder (or `LIVEPIPE_BENCH_SWITCH_LADDER`): a real `serve` in this process, ffmpeg RTMP
 * publishers (640x360 30 fps, 1 s GOP, AAC) and hls.js (low-latency mode) in Chromium playing the
 * channel throughout. Two kinds of switch, measured side by side in one run:
 *
 * - `seamless`: a channel with an `inputs:` block (inputLossMs 500, failback manual), a primary and
 *   a backup publishing at once. Each switch kills the publisher that is playing; the selector moves
 *   to the other without restarting the encoder. Then the same with no other input: the slate.
 * - `restart`: a channel without `inputs:` (what livepipe did before): the publisher is killed and a
 *   second encoder publishes with the same key at once — a new publish, so a new encoder run after a
 *   discontinuity.
 *
 * Per switch:
 * - `toListedMs`: the input's last frame (the publisher killed; ffmpeg publishes with `-re`, so its
 *   last frame left then) → the first part listed that holds the next input's media. Seamless: the
 *   ops API shows the switch made (it waits for the encoder's next forced keyframe, at most one GOP
 *   after the loss is seen; the output is filled with the lost input's last keyframe and silence
 *   meanwhile) and the 360p playlist's media end (last part's PROGRAM-DATE-TIME +
 *   duration) passes both kill time + inputLossMs + 100 ms and the moment the switch was seen — the
 *   output timeline follows the wall clock and the switch point is not ahead of it, so from there
 *   on the parts hold the new input (or the slate). Restart: the first part after the new discontinuity.
 * - `stalledMs`: what hls.js reports as stalled (`waiting` until `playing`) during the switch window.
 * Playlists are polled every 50 ms, so figures are ±50 ms. `LIVEPIPE_BENCH_SWITCHES` (default 5)
 * sets the switches of each kind; 1 gives a short run (about 2 minutes) that proves the bench works.
 */
import type { Browser } from 'playwright-core';
import { launchBrowser, startPlayer, type Player } from '../test/helpers/player/hls-player.js';
import type { Publisher } from '../test/helpers/ingest/media.js';
import { mediaPlaylist, startServeFixture, type ServeFixture } from '../test/helpers/serve/serve-fixture.js';
import { waitFor } from '../test/helpers/wait.js';
import type { MediaPlaylist } from '../src/hls/playlist-model.js';
import { runIfMain } from './run-if-main.js';

const SWITCHES = Number(process.env.LIVEPIPE_BENCH_SWITCHES ?? 5);
/**
 * `LIVEPIPE_BENCH_SWITCH_LADDER` (default `constrained`, 2 s GOP): a switch lands on the encoder's
 * keyframe grid, so the GOP bounds how long the next input waits (`low-latency`: 0.5 s).
 * `constrained-marked` (`keyframes: marked`, docs/inputs.md): the same ladder with switches made at
 * once, their keyframe from the input's own IDR — compare it with `constrained` in the same session.
 */
const LADDER = process.env.LIVEPIPE_BENCH_SWITCH_LADDER ?? 'constrained';
const KEY = 'input-switch-bench-key-0123456789';
const LOSS_MS = 500;

interface Switch {
  kind: 'backup' | 'slate' | 'restart';
  toListedMs: number;
  stalledMs: number;
}

/** Wall-clock end (epoch ms) of the media a playlist lists. */
function mediaEnd(p: MediaPlaylist): number {
  let end = 0;
  const last = p.segments.at(-1);
  if (last !== undefined) end = last.programDateTime + last.duration * 1000;
  if (p.pending !== undefined && p.pending.parts.length > 0) end = Math.max(end, p.pending.programDateTime + 1000 * p.pending.parts.reduce((s, x) => s + x.duration, 0));
  return end;
}

/** Discontinuity tags plus sequence: grows by one per new encoder run. */
function runCount(p: MediaPlaylist): number {
  return p.discontinuitySequence + p.segments.filter((s) => s.discontinuity).length + (p.pending?.discontinuity ? 1 : 0);
}

function percentile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

async function poll<T>(probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  return waitFor(probe, { timeoutMs, intervalMs: 50, message: 'switch' });
}

export async function run(): Promise<Record<string, unknown>> {
  const serve: ServeFixture = await startServeFixture({
    channels: [
      { id: 'sw', key: KEY, ladder: LADDER, inputs: { inputLossMs: LOSS_MS, failback: 'manual', slateSeconds: 600 } },
      { id: 'rs', key: KEY, ladder: LADDER },
    ],
  });
  const browser: Browser = await launchBrowser();
  const switches: Switch[] = [];
  const fatal: string[] = [];
  const publishers: Publisher[] = [];
  const pub = (channel: string, role?: 'backup') => {
    const p = serve.publish(`${serve.rtmpUrl(channel, KEY)}${role !== undefined ? `&role=${role}` : ''}`, 'flv', { seconds: 900 });
    publishers.push(p);
    return p;
  };
  const view = async (id: string) => (await serve.api('GET', `/api/v1/channels/${id}`)).json;
  const healthy = (id: string, role: string) =>
    waitFor(async () => ((await view(id))?.input?.inputs?.find((i: { role: string; healthy: boolean }) => i.role === role)?.healthy ? true : undefined), { timeoutMs: 60_000, message: `${role} healthy` });
  const playlist = (id: string) => mediaPlaylist(serve.live(id), '360p');

  const measure = async (player: Player, kind: Switch['kind'], id: string, kill: () => Promise<unknown>, listed: (p: MediaPlaylist, t0: number) => boolean | Promise<boolean>) => {
    const before = await player.stats();
    const t0 = Date.now();
    await kill();
    const at = await poll(async () => {
      const p = await playlist(id);
      return p !== undefined && (await listed(p, t0)) ? Date.now() : undefined;
    });
    await new Promise((r) => setTimeout(r, 4000)); // the player rides through the switch
    const after = await player.stats();
    fatal.push(...after.fatalErrors.filter((e) => !before.fatalErrors.includes(e)));
    switches.push({ kind, toListedMs: at - t0, stalledMs: Math.round(after.stalledMs - before.stalledMs) });
  };

  try {
    // Seamless: primary and backup; kill whichever plays, bring it back, repeat.
    let primary = pub('sw');
    let backup = pub('sw', 'backup');
    await healthy('sw', 'primary');
    await healthy('sw', 'backup');
    await waitFor(async () => ((await view('sw'))?.mediaSequence >= 3 ? true : undefined), { timeoutMs: 60_000, message: 'sw live' });
    const player = await startPlayer(browser, `${serve.live('sw')}/master.m3u8`);
    await player.waitFor((s) => s.currentTime > 3, 90_000);
    /** Seamless: past the loss, and past the moment the ops API shows the switch made (see the header). */
    const switchedFrom = (role: string) => {
      let seenAt: number | undefined;
      return async (p: MediaPlaylist, t0: number) => {
        seenAt ??= (await view('sw'))?.input?.active !== role ? Date.now() : undefined;
        return seenAt !== undefined && mediaEnd(p) > Math.max(t0 + LOSS_MS + 100, seenAt);
      };
    };
    for (let i = 0; i < SWITCHES; i++) {
      const active = (await view('sw')).input.active as 'primary' | 'backup';
      const victim = active === 'primary' ? primary : backup;
      await measure(player, 'backup', 'sw', () => victim.stop(), switchedFrom(active));
      if (active === 'primary') primary = pub('sw');
      else backup = pub('sw', 'backup');
      await healthy('sw', active);
    }
    // Slate: only one input left, killed; then it returns.
    await backup.stop();
    for (let i = 0; i < SWITCHES; i++) {
      await waitFor(async () => ((await view('sw'))?.input?.active === 'primary' ? true : undefined), { timeoutMs: 60_000, message: 'primary plays' });
      await measure(player, 'slate', 'sw', () => primary.stop(), switchedFrom('primary'));
      primary = pub('sw');
    }
    const seamlessRuns = (await view('sw')).transcoder.runId as number;
    await primary.stop();
    await player.close();

    // Restart: a new publisher replaces the old one at once: a new encoder run.
    let publisher = pub('rs');
    await waitFor(async () => ((await view('rs'))?.mediaSequence >= 3 ? true : undefined), { timeoutMs: 60_000, message: 'rs live' });
    const rsPlayer = await startPlayer(browser, `${serve.live('rs')}/master.m3u8`);
    await rsPlayer.waitFor((s) => s.currentTime > 3, 90_000);
    for (let i = 0; i < SWITCHES; i++) {
      const runs = runCount((await playlist('rs'))!);
      await measure(
        rsPlayer,
        'restart',
        'rs',
        async () => {
          await publisher.stop();
          publisher = pub('rs');
        },
        (p) => runCount(p) > runs && (p.pending?.parts.length ?? 0) + (p.segments.at(-1)?.discontinuity ? 1 : 0) > 0,
      );
    }
    await rsPlayer.close();
    const summary = (kind: Switch['kind']) => {
      const of = switches.filter((s) => s.kind === kind);
      return {
        switches: of.length,
        toListedMsP50: percentile(of.map((s) => s.toListedMs), 0.5),
        toListedMsP99: percentile(of.map((s) => s.toListedMs), 0.99),
        stalledMsP50: percentile(of.map((s) => s.stalledMs), 0.5),
        stalledMsP99: percentile(of.map((s) => s.stalledMs), 0.99),
        toListedMs: of.map((s) => s.toListedMs),
        stalledMs: of.map((s) => s.stalledMs),
      };
    };
    return {
      seamlessBackup: summary('backup'),
      seamlessSlate: summary('slate'),
      encoderRestart: summary('restart'),
      seamlessEncoderRuns: seamlessRuns,
      fatalPlayerErrors: fatal,
      ladder: LADDER,
      note: 'playlists polled every 50 ms; see input-switch.md for the machine during the run',
    };
  } finally {
    for (const p of publishers) await p.stop();
    await browser.close();
    await serve.close();
  }
}

runIfMain(import.meta.url, run);
