/**
 * Failover (issue 13): over several leader kills, with redundant contribution, how long viewers wait
 * and whether anything breaks. The cluster is the failover e2e's (test/helpers/cluster/cluster-stage.ts):
 * two real `livepipe serve` nodes (dist/: build first) on one redis-server and one s3rver, each node
 * behind its own recording proxy, the same channel pushed to both by ffmpeg, a standalone
 * `livepipe origin --redis`, and hls.js in Chromium playing from it.
 *
 * Each round SIGKILLs the node writing the channel and measures:
 *  - failover time: SIGKILL → the new leader's first part listed in every rendition's playlist at the
 *    origin (the playlists are polled every 50 ms: up to 50 ms late);
 *  - the stall hls.js saw (its `waiting` time during the round) and any fatal error;
 *  - dangling playlist entries: objects a playlist at the origin named that storage did not have;
 *  - objects written by a fenced-off leader: writes that reached storage after a newer epoch had
 *    written (none is possible from a killed process; the count is kept for the SIGSTOP variant of
 *    the e2e and as a check of the harness), and writes of the killed node still completing in
 *    storage after the new leader's first write (requests in flight at the kill).
 * Then the killed node runs again with its publisher as the standby of the next round.
 *
 * Settings: LIVEPIPE_FAILOVER_KILLS (default 5), LIVEPIPE_FAILOVER_TTL_MS / _RENEW_MS / _MARGIN_MS
 * (default livepipe's lease: 1500 / 400 / 300). Run: `npm run bench -- failover` or
 * `npx tsx bench/failover.bench.ts`. Writes bench/results/failover.md.
 */
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { measureTakeover, startClusterStage, type LeaseSettings } from '../test/helpers/cluster/cluster-stage.js';
import { launchBrowser, startPlayer } from '../test/helpers/player/hls-player.js';

const KILLS = Number(process.env.LIVEPIPE_FAILOVER_KILLS ?? 5);
const LEASE: LeaseSettings = {
  ttlMs: Number(process.env.LIVEPIPE_FAILOVER_TTL_MS ?? 1500),
  renewIntervalMs: Number(process.env.LIVEPIPE_FAILOVER_RENEW_MS ?? 400),
  safetyMarginMs: Number(process.env.LIVEPIPE_FAILOVER_MARGIN_MS ?? 300),
};
/** How long hls.js plays after each takeover before the next kill, s of media. */
const PLAY_AFTER_SECONDS = 8;

interface Round {
  killed: string;
  newLeader: string;
  failoverMs: number;
  stallMs: number;
  stalls: number;
  fatalErrors: string[];
  /** Writes of the killed node that completed in storage after the new leader's first write. */
  lateCompletions: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export async function run(): Promise<Record<string, unknown>> {
  const stage = await startClusterStage({ lease: LEASE });
  const browser = await launchBrowser();
  const rounds: Round[] = [];
  try {
    const player = await startPlayer(browser, await stage.startRedundant());
    await player.waitFor((s) => s.currentTime >= 3, 90_000);

    for (let k = 0; k < KILLS; k++) {
      const leader = await stage.leader();
      if (leader === undefined) throw new Error('no node writes the channel');
      const standby = 1 - leader;
      await stage.waitState(standby, 'standby');
      const before = await player.stats();
      const takeover = await measureTakeover(stage, leader, () => void stage.nodes[leader]!.cli.child.kill('SIGKILL'));
      const after = await player.waitFor((s) => s.currentTime >= before.currentTime + PLAY_AFTER_SECONDS, 90_000);
      const late = stage.proxies[leader]!.writes().filter((w) => w.at < takeover.firstWriteAt && (w.completedAt ?? Infinity) > takeover.firstWriteAt);
      rounds.push({
        killed: stage.nodeIds[leader]!,
        newLeader: stage.nodeIds[takeover.newLeader]!,
        failoverMs: Math.round(takeover.failoverMs),
        stallMs: Math.round(after.stalledMs - before.stalledMs),
        stalls: after.stalls - before.stalls,
        fatalErrors: after.fatalErrors.slice(before.fatalErrors.length),
        lateCompletions: late.length,
      });
      process.stderr.write(`failover round ${k + 1}/${KILLS}: ${JSON.stringify(rounds.at(-1))}\n`);
      // The killed node comes back as the next round's standby.
      await stage.startNode(leader);
      stage.publishTo(leader);
    }
    const final = await player.stats();
    await player.close();
    const failover = rounds.map((r) => r.failoverMs).sort((a, b) => a - b);
    const stalls = rounds.map((r) => r.stallMs).sort((a, b) => a - b);
    const result = {
      setup: { kills: KILLS, lease: LEASE, ladder: 'constrained (360p + audio, 0.5 s parts, 2 s segments)', storage: 's3rver behind one recording proxy per node', origin: 'standalone, --redis' },
      failoverMs: { p50: percentile(failover, 50), p99: percentile(failover, 99), min: failover[0], max: failover.at(-1) },
      playerStallMs: { p50: percentile(stalls, 50), p99: percentile(stalls, 99), max: stalls.at(-1) },
      fatalPlayerErrors: final.fatalErrors.length,
      danglingPlaylistEntries: (await stage.danglingObjects()).length,
      fencedOffWrites: stage.fencingViolations().length,
      lateCompletionsOfKilledLeaders: rounds.reduce((n, r) => n + r.lateCompletions, 0),
      playlistRuleViolations: stage.watches.flatMap((w) => w.violations.map((v) => `${w.rendition}: ${v}`)),
      rounds,
    };
    await writeResults(result);
    return result;
  } finally {
    await browser.close();
    await stage.close();
  }
}

async function writeResults(result: Record<string, unknown>): Promise<void> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const r = result as Record<string, any>;
  const text = [
    '# Failover: SIGKILL of the writing node, redundant contribution',
    '',
    `Run ${new Date().toISOString()} by \`npm run bench -- failover\` (bench/failover.bench.ts) on ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}.`,
    'Say here whether other work ran on the machine: on a shared machine the ladder\'s start and s3rver dominate the figures.',
    '',
    `${r.setup.kills} leader kills; lease TTL ${r.setup.lease.ttlMs} ms, renewal every ${r.setup.lease.renewIntervalMs} ms, safety margin ${r.setup.lease.safetyMarginMs} ms;`,
    `ladder ${r.setup.ladder}; ${r.setup.storage}; origin ${r.setup.origin}; hls.js in Chromium at the origin.`,
    '',
    '| figure | value | target |',
    '|---|---|---|',
    `| failover, SIGKILL → new leader's first part in every rendition at the origin, p50 / p99 (min–max) | ${r.failoverMs.p50} / ${r.failoverMs.p99} ms (${r.failoverMs.min}–${r.failoverMs.max}) | ≤ 2000 ms |`,
    `| hls.js stall per failover, p50 / p99 (max) | ${r.playerStallMs.p50} / ${r.playerStallMs.p99} ms (${r.playerStallMs.max}) | |`,
    `| fatal hls.js errors | ${r.fatalPlayerErrors} | 0 |`,
    `| dangling playlist entries | ${r.danglingPlaylistEntries} | 0 |`,
    `| writes of a fenced-off leader after a newer epoch wrote | ${r.fencedOffWrites} | 0 |`,
    `| writes of a killed leader still completing in storage after the new leader's first write | ${r.lateCompletionsOfKilledLeaders} | |`,
    `| LL-HLS rule violations seen at the origin | ${r.playlistRuleViolations.length} | 0 |`,
    '',
    '| round | killed | new leader | failover ms | stall ms | fatal |',
    '|---|---|---|---|---|---|',
    ...r.rounds.map((x: Round, i: number) => `| ${i + 1} | ${x.killed} | ${x.newLeader} | ${x.failoverMs} | ${x.stallMs} | ${x.fatalErrors.length} |`),
    '',
  ].join('\n');
  await writeFile(new URL('./results/failover.md', import.meta.url), text);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  run().then((r) => process.stdout.write(JSON.stringify(r, null, 2) + '\n'));
}
