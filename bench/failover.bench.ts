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
 * Where the failover time goes, per round (all from the kill): the dead leader's lease still left in
 * Redis (its PTTL read right after the kill), the new leader's acquisition (the lease key read every
 * 5 ms until it names the other node), its first
 * part stored (the first `part-` PUT under the new epoch completed at the recording proxy), and the
 * listing at the origin. So: lease wait = left TTL + how late the standby took it; start = acquisition
 * → first part stored (packager restore, ffmpeg start, the first part's media, its upload); listing =
 * first part stored → listed in every rendition at the origin (playlist PUT, notification, poll).
 *
 * Settings: LIVEPIPE_FAILOVER_KILLS (default 5), LIVEPIPE_FAILOVER_TTL_MS / _RENEW_MS / _MARGIN_MS
 * (default livepipe's lease, `DEFAULT_LEASE_TIMING`: 1200 / 300 / 300). Run: `npm run bench -- failover` or
 * `npx tsx bench/failover.bench.ts`. Writes bench/results/failover.md.
 */
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { DEFAULT_LEASE_TIMING } from '../src/cluster/lease-timing.js';
import { measureTakeover, startClusterStage, type LeaseSettings } from '../test/helpers/cluster/cluster-stage.js';
import { launchBrowser, startPlayer } from '../test/helpers/player/hls-player.js';

const KILLS = Number(process.env.LIVEPIPE_FAILOVER_KILLS ?? 5);
const LEASE: LeaseSettings = {
  ttlMs: Number(process.env.LIVEPIPE_FAILOVER_TTL_MS ?? DEFAULT_LEASE_TIMING.ttlMs),
  renewIntervalMs: Number(process.env.LIVEPIPE_FAILOVER_RENEW_MS ?? DEFAULT_LEASE_TIMING.renewIntervalMs),
  safetyMarginMs: Number(process.env.LIVEPIPE_FAILOVER_MARGIN_MS ?? DEFAULT_LEASE_TIMING.safetyMarginMs),
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
  /** Where the time went, ms from the kill (see the file comment); undefined when not found. */
  phases: Phases;
}

interface Phases {
  /** The dead leader's lease left in Redis at the kill (PTTL). */
  leaseLeft: number | undefined;
  /** The new leader's acquisition. */
  acquired: number | undefined;
  /** Its first part stored. */
  firstPartStored: number | undefined;
}

/**
 * When (performance.now()) the lease key first names a node other than `killed`, read every 5 ms
 * from the kill on (`undefined` after `timeoutMs`): the new leader's acquisition, within 5 ms.
 */
async function acquisitionSeen(redis: Redis, key: string, killed: string, timeoutMs = 30_000): Promise<number | undefined> {
  const until = performance.now() + timeoutMs;
  while (performance.now() < until) {
    const value = await redis.get(key).catch(() => null);
    if (value !== null && !value.startsWith(`${killed}:`)) return performance.now();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return undefined;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export async function run(): Promise<Record<string, unknown>> {
  const stage = await startClusterStage({ lease: LEASE });
  const browser = await launchBrowser();
  const redis = new Redis(stage.redis.url, { lazyConnect: true });
  await redis.connect();
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
      let killedAt = 0;
      let leaseLeft: Promise<number> | undefined;
      let acquiredAt: Promise<number | undefined> | undefined;
      const takeover = await measureTakeover(stage, leader, () => {
        stage.nodes[leader]!.cli.child.kill('SIGKILL');
        killedAt = performance.now();
        const key = `livepipe:lease:${stage.channel}`;
        leaseLeft = redis.pttl(key);
        acquiredAt = acquisitionSeen(redis, key, stage.nodeIds[leader]!);
      });
      const firstPart = stage.proxies[takeover.newLeader]!.writes().find((w) => w.epoch === takeover.epoch && /\/part-\d+-\d+\.m4s/.test(w.path) && w.completedAt !== undefined);
      const [left, acquired] = [await leaseLeft, await acquiredAt];
      const phases: Phases = {
        leaseLeft: left !== undefined && left >= 0 ? left : undefined,
        acquired: acquired !== undefined ? Math.round(acquired - killedAt) : undefined,
        firstPartStored: firstPart !== undefined ? Math.round(firstPart.completedAt! - killedAt) : undefined,
      };
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
        phases,
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
    /** p50 of one phase's duration over the rounds where both its ends were found. */
    const phaseP50 = (span: (r: Round) => number | undefined): number => percentile(rounds.flatMap((r) => (span(r) !== undefined && !Number.isNaN(span(r)) ? [span(r)!] : [])).sort((a, b) => a - b), 50);
    const breakdown = {
      leaseLeftAtKill: phaseP50((r) => r.phases.leaseLeft),
      acquiredAfterExpiry: phaseP50((r) => (r.phases.acquired !== undefined && r.phases.leaseLeft !== undefined ? r.phases.acquired - r.phases.leaseLeft : undefined)),
      acquiredToFirstPartStored: phaseP50((r) => (r.phases.firstPartStored !== undefined && r.phases.acquired !== undefined ? r.phases.firstPartStored - r.phases.acquired : undefined)),
      firstPartStoredToListed: phaseP50((r) => (r.phases.firstPartStored !== undefined ? r.failoverMs - r.phases.firstPartStored : undefined)),
    };
    const result = {
      setup: { kills: KILLS, lease: LEASE, ladder: 'constrained (360p + audio, 0.5 s parts, 2 s segments)', storage: 's3rver behind one recording proxy per node', origin: 'standalone, --redis' },
      failoverMs: { p50: percentile(failover, 50), p99: percentile(failover, 99), min: failover[0], max: failover.at(-1) },
      playerStallMs: { p50: percentile(stalls, 50), p99: percentile(stalls, 99), max: stalls.at(-1) },
      breakdownP50Ms: breakdown,
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
    redis.disconnect();
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
    'Where the time goes (p50 over the rounds, ms; see bench/failover.bench.ts):',
    '',
    '| lease left at the kill | acquired after its expiry | acquired → first part stored | first part stored → listed at the origin |',
    '|---|---|---|---|',
    `| ${r.breakdownP50Ms.leaseLeftAtKill} | ${r.breakdownP50Ms.acquiredAfterExpiry} | ${r.breakdownP50Ms.acquiredToFirstPartStored} | ${r.breakdownP50Ms.firstPartStoredToListed} |`,
    '',
    '| round | killed | new leader | failover ms | lease left | acquired | first part stored | stall ms | fatal |',
    '|---|---|---|---|---|---|---|---|---|',
    ...r.rounds.map(
      (x: Round, i: number) =>
        `| ${i + 1} | ${x.killed} | ${x.newLeader} | ${x.failoverMs} | ${x.phases.leaseLeft ?? '–'} | ${x.phases.acquired ?? '–'} | ${x.phases.firstPartStored ?? '–'} | ${x.stallMs} | ${x.fatalErrors.length} |`,
    ),
    '',
  ].join('\n');
  await writeFile(new URL('./results/failover.md', import.meta.url), text);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  run().then((r) => process.stdout.write(JSON.stringify(r, null, 2) + '\n'));
}
