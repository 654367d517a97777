/**
 * Issue 13, points 3, 4 and 6, with real processes: two `livepipe serve` nodes (the real CLI) on one
 * redis-server and one s3rver, each node reaching s3rver through its own recording proxy (storage's
 * view of who wrote what, when, is exact), a standalone `livepipe origin --redis` over the bucket and
 * hls.js playing from it (test/helpers/cluster/cluster-stage.ts).
 *
 * 1. Redundant contribution: the same channel pushed to both nodes by two ffmpeg publishers; the
 *    standby keeps its ingest open. SIGKILL the leader: the standby takes over and continues the
 *    stored playlists (MSN increasing, PDT monotonic, exactly one DISCONTINUITY, every LL-HLS rule,
 *    no playlist naming an object storage lacks) and hls.js plays on without a fatal error.
 * 2. The killed node runs again as a standby; SIGSTOP the leader, let the standby take over, SIGCONT:
 *    from the new leader's first write on, storage receives not one write from the frozen node.
 * 3. Single contribution: the only publisher's node dies, the publisher reconnects to the other node,
 *    which resumes the same playlists.
 * 4. Redis stopped for 10 s, then started: nobody writes while no lease can be renewed, a node takes
 *    the lease again within seconds of Redis answering and the playlists continue; never two writers.
 *
 * Shaka Player 5.2 (default config, low latency) plays beside hls.js through the SIGKILL takeover (case 1;
 * closed after it, the later cases keep hls.js only, to stay light). Two defects it found, fixed:
 * - A takeover that outlasts 3 target durations (TTL 5 s + a part vs 3 × 2 s: only under load here)
 *   ends the held blocking reload and the held preload-hinted part of the dead writer with 503
 *   (§6.2.5.2). That 503 carried `max-age=8` (4 × TD), so Chromium's cache answered Shaka's retries of
 *   the same URL (every 100 ms) with it: a run of 1001 BAD_HTTP_STATUS and, after a 9 s takeover, a
 *   72 s stall. It is now `max-age=0, s-maxage=8`: CDNs keep Appendix B.1's 4 × TD, browsers do not.
 * - The new writer's playlist did not list the hole between the dead writer's last part and its own
 *   first (≈ the lease TTL): the PDT jumped, the segment times did not. Shaka lays segments end to end
 *   and runs its live edge on the wall clock, so the edge got ahead of the media by the hole; its
 *   availability window (edge − listed span) then evicted every segment, update after update, until
 *   the index was empty: `TypeError: Cannot read properties of null (reading 'next')` in
 *   `setProgramDateTimeRegionsFromIndex_` at every update, and in 1 run of 4 a stall for good. The hole
 *   is now listed as EXT-X-GAP segments (`holeSegments` in src/package/rendition-timeline.ts).
 *   With both fixes, 4 of 4 runs on a loaded machine (takeovers 5.4–7.1 s): no Shaka error at all, its
 *   stall 2–975 ms; hls.js stalled 30 and 1113 ms over the two whole-file runs, which took 107 and 105 s.
 * The dead writer's hinted part, held, gets 404 once the new run's playlist no longer hints it
 * (§6.2.5.3), and parts storage could not take in time under load are GAP=YES (404 too): Shaka raises
 * these as CRITICAL, then its live failureCallback lowers them and retries, so the harness judges
 * severity after that. LIVEPIPE_SHAKA_DEBUG=1 runs Shaka's debug build with its internals logged.
 *
 * Lease timings are longer than the defaults (5 s TTL): other work on this machine can stall a node's
 * event loop for seconds, and the defaults' takeover times are the benchmark's (bench/failover.bench.ts).
 * Failover times are logged, not asserted beyond generous sanity bounds.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { measureTakeover, startClusterStage, type ClusterStage } from '../helpers/cluster/cluster-stage.js';
import { checkRenditionSet } from '../helpers/hls/llhls-rules.js';
import { launchBrowser, startPlayer, type Player } from '../helpers/player/hls-player.js';
import { startShakaPlayer } from '../helpers/player/shaka-player.js';
import { waitFor } from '../helpers/wait.js';

const LEASE = { ttlMs: 5000, renewIntervalMs: 1200, safetyMarginMs: 2000 };
/** The `constrained` ladder's part duration, s. */
const PART_SECONDS = 0.5;

/** Where every rendition stood before a fault: its discontinuities and last MSN. */
interface Positions {
  discontinuities: Array<Set<number>>;
  lastMsn: number[];
}

describe('cluster: two serve nodes, one writer, failover', () => {
  let stage: ClusterStage;
  let browser: Browser | undefined;
  let player: Player | undefined;
  let shaka: Player | undefined;

  beforeAll(async () => {
    stage = await startClusterStage({ lease: LEASE });
  }, 180_000);

  afterAll(async () => {
    await player?.close();
    await shaka?.close();
    await browser?.close();
    await stage?.close();
  });

  /** The checks every takeover must pass: rules, one more discontinuity per rendition, no dangling object, hls.js (and Shaka while it runs) on. */
  const expectContinued = async (before: Positions, label: string): Promise<void> => {
    const added = (k: number): number[] => [...stage.watches[k]!.discontinuityAt].filter((m) => !before.discontinuities[k]!.has(m)).sort((x, y) => x - y);
    await waitFor(() => stage.watches.every((w, k) => added(k).length > 0 && w.lastMsn > before.lastMsn[k]!), {
      timeoutMs: 60_000,
      message: `${label}: every rendition continues after a discontinuity`,
    });
    for (const [k, w] of stage.watches.entries()) {
      if (w.violations.length > 0) {
        console.log(`${label} ${w.rendition}: ${w.violations.join('; ')}\nthe version before:\n${w.textBeforeFirstViolation}\nthe first version breaking a rule:\n${w.firstViolationText}`);
      }
      expect(w.violations, `${label} ${w.rendition}`).toEqual([]);
      // Exactly one discontinuity for the takeover, after the last segment seen before, opening a segment with a new init segment.
      const mine = added(k);
      expect(mine, `${label} ${w.rendition}`).toHaveLength(1);
      expect(mine[0]!, `${label} ${w.rendition}: MSN increases`).toBeGreaterThanOrEqual(before.lastMsn[k]!);
      expect(w.mapOf.get(mine[0]!)).not.toBe(w.mapOf.get(mine[0]! - 1));
    }
    expect(checkRenditionSet(stage.watches.map((w) => w.latestText))).toEqual([]);
    expect(await stage.danglingObjects(), `${label}: objects the playlists named that storage lacks`).toEqual([]);
    const playing = await player!.stats();
    const after = await player!.waitFor((s) => s.currentTime >= playing.currentTime + 4, 60_000);
    expect(after.fatalErrors, label).toEqual([]);
    expect(after.currentTime, `${label}: hls.js plays on`).toBeGreaterThanOrEqual(playing.currentTime + 4);
    console.log(`${label}: hls.js stalls so far ${after.stalls} (${Math.round(after.stalledMs)} ms), non-fatal errors ${after.nonFatalErrors.length}`);
    if (shaka !== undefined) {
      const shakaPlaying = await shaka.stats();
      const shakaAfter = await shaka.waitFor((s) => s.currentTime >= shakaPlaying.currentTime + 4 || s.fatalErrors.length > 0, 60_000).catch(() => shaka!.stats());
      const failed = shaka.requests().filter((r) => r.status !== 200 && r.status !== 0);
      if (failed.length > 0) console.log(`${label}: Shaka's requests answered other than 200:\n${failed.map((r) => `${r.status} ${r.url} at ${r.startedAtMs}-${r.finishedAtMs}`).join('\n')}`);
      console.log(`${label}: Shaka stalls ${shakaAfter.stalls} (${Math.round(shakaAfter.stalledMs)} ms), non-fatal errors ${shakaAfter.nonFatalErrors.join(', ')}`);
      expect(shakaAfter.fatalErrors, `${label}: Shaka`).toEqual([]);
      expect(shakaAfter.currentTime, `${label}: Shaka plays on`).toBeGreaterThanOrEqual(shakaPlaying.currentTime + 4);
    }
  };
  /** Writes of a node that arrived before `since` but completed in storage after it (diagnosis: storage latency vs the lease's safety margin). */
  const logLateWrites = (node: number, since: number): void => {
    const late = stage.proxies[node]!.writes().filter((w) => w.at < since && (w.completedAt ?? Infinity) > since);
    if (late.length > 0) console.log(`writes of ${stage.nodeIds[node]} sent before the new leader's first write and completed after it: ${late.map((w) => `${w.method} ${w.path} +${Math.round((w.completedAt ?? NaN) - since)} ms`).join(', ')}`);
  };
  const positions = (): Positions => ({ discontinuities: stage.watches.map((w) => new Set(w.discontinuityAt)), lastMsn: stage.watches.map((w) => w.lastMsn) });

  // Each case checks every playlist version the standalone origin served with the LL-HLS rules. They
  // found a packager defect (fixed): at a takeover the new writer stored one version at its run's
  // start, before the run's first part, with no EXT-X-PRELOAD-HINT and no rendition report for
  // renditions not started yet; a run's start is no longer stored on its own.
  it('redundant contribution: SIGKILL of the leader, the standby continues the playlists and hls.js and Shaka play on', async () => {
    const master = await stage.startRedundant();
    browser = await launchBrowser();
    [player, shaka] = await Promise.all([startPlayer(browser, master), startShakaPlayer(browser, master)]);
    const warm = await player.waitFor((s) => s.currentTime >= 3, 90_000);
    expect(warm.fatalErrors).toEqual([]);
    expect((await shaka.waitFor((s) => s.currentTime >= 3, 90_000)).fatalErrors).toEqual([]);
    expect(await stage.danglingObjects()).toEqual([]);

    // 1. Machine loss of the leader.
    const before = positions();
    const killed = await measureTakeover(stage, 0, () => void stage.nodes[0]!.cli.child.kill('SIGKILL'));
    expect(killed.newLeader).toBe(1);
    logLateWrites(0, killed.firstWriteAt);
    console.log(
      `cluster failover e2e (SIGKILL, redundant contribution): first part of the standby in every rendition at the origin ` +
        `${Math.round(killed.failoverMs)} ms after the kill (lease TTL ${LEASE.ttlMs} ms + one part ${PART_SECONDS * 1000} ms = ${LEASE.ttlMs + PART_SECONDS * 1000} ms)`,
    );
    // Sanity only (timing targets are the benchmark's): well within TTL + the ladder's start on a loaded machine.
    expect(killed.failoverMs).toBeLessThan(LEASE.ttlMs + 30_000);
    expect(await stage.stateOf(1)).toBe('live');
    await expectContinued(before, 'after SIGKILL');
    expect(stage.fencingViolations()).toEqual([]);
    // Shaka is for this case (issue 13 point 4); the later cases keep hls.js only, to stay light.
    await shaka?.close();
    shaka = undefined;
  }, 300_000);

  it('SIGSTOP of the leader, takeover, SIGCONT: the frozen node writes nothing after the new leader first wrote', async () => {
    let before = positions();
    // 2. The killed node runs again, a standby with its publisher; freeze the leader (node-b), thaw it after the takeover.
    await stage.startNode(0);
    stage.publishTo(0);
    await stage.waitState(0, 'standby');
    before = positions();
    const frozen = await measureTakeover(stage, 1, () => void stage.nodes[1]!.cli.child.kill('SIGSTOP'));
    expect(frozen.newLeader).toBe(0);
    logLateWrites(1, frozen.firstWriteAt);
    console.log(`cluster failover e2e (SIGSTOP): new run listed ${Math.round(frozen.failoverMs)} ms after the freeze`);
    await stage.waitState(0, 'live', 30_000);
    // Let node-a write for a while, then thaw node-b: it must find its deadline past and stay silent.
    await waitFor(() => stage.writesOf(0, frozen.firstWriteAt).length, { until: (n) => n >= 10, timeoutMs: 30_000, message: 'node-a writing' });
    stage.nodes[1]!.cli.child.kill('SIGCONT');
    await stage.waitState(1, 'standby', 30_000);
    const thawedAt = performance.now();
    await waitFor(() => stage.writesOf(0, thawedAt).length, { until: (n) => n >= 10, timeoutMs: 30_000, message: 'node-a writing after the thaw' });
    expect(stage.writesOf(1, frozen.firstWriteAt), 'writes of the fenced-off node-b after node-a first wrote').toEqual([]);
    expect(stage.fencingViolations()).toEqual([]);
    await expectContinued(before, 'after SIGSTOP/SIGCONT');
  }, 300_000);

  it('single contribution: the publisher of a dead node reconnects to the other node, which resumes the same playlists', async () => {
    // node-a leads; node-b loses its publisher, so the channel has one contribution, to node-a.
    await stage.dropPublisher(1);
    await waitFor(() => stage.stateOf(1), { until: (s) => s !== 'standby', timeoutMs: 30_000, message: 'node-b without a feed' });
    const before = positions();
    const reconnected = await measureTakeover(stage, 0, async () => {
      stage.nodes[0]!.cli.child.kill('SIGKILL');
      await stage.dropPublisher(0);
      // The load balancer sends the reconnecting publisher to the node that is left.
      stage.publishTo(1);
    });
    expect(reconnected.newLeader).toBe(1);
    console.log(`cluster failover e2e (single contribution): publisher reconnected, node-b's first part listed ${Math.round(reconnected.failoverMs)} ms after the kill`);
    await expectContinued(before, 'after the publisher reconnected');
    expect(stage.fencingViolations()).toEqual([]);
  }, 240_000);

  // Found a defect (fixed): in 1 of 2 runs, after Redis came back, the new run's first stored 360p
  // playlist began at MEDIA-SEQUENCE 0 again after versions at 1. The node that won the lease again
  // was the one that had lost it: its previous packager, closing in the background, retried the
  // playlist upload the write gate had refused during the outage, and the gate — open to any epoch
  // this node held — let it land after the new packager had restored the older stored version. The
  // gate is now pinned to the epoch its packager was created under (`FencedStorage`,
  // test/unit/cluster/fenced-storage.test.ts).
  it('Redis stopped for 10 s then started: no writer while it is down, the channel recovers within seconds, never two writers', async () => {
    // Redundant again: node-a back as a standby with its publisher, so two nodes compete when Redis returns.
    await stage.startNode(0);
    stage.publishTo(0);
    await stage.waitState(0, 'standby');
    const before = positions();
    let stoppedAt = 0;
    let restartedAt = 0;
    const recovered = await measureTakeover(
      stage,
      -1,
      async () => {
        stoppedAt = performance.now();
        await stage.redis.stop();
        await new Promise((resolve) => setTimeout(resolve, 10_000));
        restartedAt = performance.now();
        await stage.redis.start();
      },
      90_000,
    );
    const sinceRedis = recovered.firstWriteAt - restartedAt;
    console.log(
      `cluster Redis outage e2e: node-${'ab'[recovered.newLeader]} wrote again ${Math.round(sinceRedis)} ms after Redis was started again ` +
        `(new run listed ${Math.round(recovered.failoverMs - (restartedAt - stoppedAt))} ms after it)`,
    );
    // Nobody wrote once every lease had run out, until Redis answered again.
    const silent = stage.proxies.flatMap((_, i) => stage.writesOf(i, stoppedAt + LEASE.ttlMs).filter((w) => w.at < restartedAt));
    expect(silent, 'writes while no lease could be renewed').toEqual([]);
    expect(sinceRedis).toBeLessThan(30_000);
    await expectContinued(before, 'after the Redis outage');
    expect(stage.fencingViolations()).toEqual([]);
    // One writer: the other node holds its feed as a standby.
    const states = await Promise.all([stage.stateOf(0), stage.stateOf(1)]);
    expect(states.filter((s) => s === 'live')).toHaveLength(1);
    expect(states).toContain('standby');
  }, 240_000);
});
