/**
 * A cluster on loopback for the failover test and benchmark: one real redis-server, one s3rver (its
 * own process), `serve` nodes run as the real CLI — each reaching s3rver through its own recording
 * proxy, so storage's view of which node wrote what, and when, is exact — ffmpeg publishers pushing
 * the same channel to any of them, and a standalone `livepipe origin --redis` over the bucket, whose
 * playlists are followed (`PlaylistWatch`: LL-HLS rules, MSN/PDT, discontinuities, the first part of
 * each run) and whose named objects are checked to exist in storage.
 */
import { writeFile } from 'node:fs/promises';
import { runCli, waitForHttp, type CliProcess } from '../cli/livepipe-cli.js';
import { followPlaylists, PlaylistWatch } from '../hls/playlist-watch.js';
import { publish, type Publisher } from '../ingest/media.js';
import { freePorts } from '../ports.js';
import { startRedisServer, type RedisServerProcess } from '../redis/redis-server.js';
import { getText, startServeCli, type ServeCli } from '../serve/serve-fixture.js';
import { startRecordingProxy, type RecordedRequest, type RecordingProxy } from '../storage/recording-proxy.js';
import { startS3rverProcess, type S3rverProcess } from '../storage/s3rver-process.js';
import { waitFor } from '../wait.js';

export interface LeaseSettings {
  ttlMs: number;
  renewIntervalMs: number;
  safetyMarginMs: number;
}

export interface ClusterStageOptions {
  /** Number of serve nodes (default 2). */
  nodes?: number;
  channel?: string;
  /** Lease timings of every node (default: livepipe's, `DEFAULT_LEASE_TIMING`). */
  lease?: LeaseSettings;
  /** Renditions the channel's ladder gives a 640x360 feed (default the `constrained` ladder's). */
  renditions?: string[];
  ladder?: string;
  /** How long a node may take to start, ms (default 90 s: a loaded machine). */
  startTimeoutMs?: number;
}

/** A write that reached storage from a node after another node's write under a newer epoch. */
export interface FencingViolation {
  node: number;
  write: RecordedRequest;
  /** The newer epoch that had written first, and when. */
  newerEpoch: number;
  newerAt: number;
}

export interface ClusterStage {
  redis: RedisServerProcess;
  s3: S3rverProcess;
  channel: string;
  renditions: string[];
  /** One recording proxy per node, before s3rver. */
  proxies: RecordingProxy[];
  /** `nodes[i]` once `startNode(i)` ran. */
  nodes: Array<ServeCli | undefined>;
  nodeIds: string[];
  /** The publisher pushing to node i, if any. */
  publishers: Array<Publisher | undefined>;
  /** Starts node i (or runs it again after a kill, same ports and config). */
  startNode(i: number): Promise<ServeCli>;
  /** (Re)starts an ffmpeg publisher of the channel to node i. */
  publishTo(i: number): Publisher;
  /** Stops (SIGKILL: a dropped connection) the publisher of node i. */
  dropPublisher(i: number): Promise<void>;
  /** The channel's state on node i (`live`, `standby`…), undefined when the node does not answer. */
  stateOf(i: number): Promise<string | undefined>;
  /** Waits until node i's channel is in `state`. */
  waitState(i: number, state: string, timeoutMs?: number): Promise<void>;
  /** The node whose channel is `live` now (undefined if none answers so). */
  leader(): Promise<number | undefined>;
  /** Starts the standalone origin (`--redis`) and follows every rendition's playlist there. */
  startOrigin(): Promise<string>;
  /**
   * Redundant contribution on two nodes: both started, node 0 live with its publisher, node 1 a
   * standby with its own, the origin started and two segments of every rendition there (hls.js
   * refuses a playlist without a complete segment: levelEmptyError). Returns the master playlist URL.
   */
  startRedundant(): Promise<string>;
  originBase: string;
  watches: PlaylistWatch[];
  /** Waits until every rendition at the origin lists at least `segments` complete segments. */
  waitSegments(segments: number, timeoutMs?: number): Promise<void>;
  /** Objects the followed playlists named that storage (s3rver, read directly) did not have. */
  danglingObjects(): Promise<string[]>;
  /** Writes (PUT, POST, DELETE) of node i that reached storage at or after `since` (performance.now()). */
  writesOf(i: number, since?: number): RecordedRequest[];
  /** The highest fencing epoch node i recorded on an object so far (0: none). */
  epochOf(i: number): number;
  /**
   * Every write of a node that storage received after another node had written under a newer epoch
   * (a fenced-off writer's write). Writes without an epoch (deletes) count under the node's last one.
   * Epochs are comparable across a Redis restart because the stage's Redis keeps an append-only file.
   */
  fencingViolations(): FencingViolation[];
  close(): Promise<void>;
}

const KEY = 'cluster-stage-key-0123456789';

export async function startClusterStage(options: ClusterStageOptions = {}): Promise<ClusterStage> {
  const count = options.nodes ?? 2;
  const channel = options.channel ?? 'ha';
  const renditions = options.renditions ?? ['360p', 'audio'];
  // Append-only: epochs survive a Redis restart (the outage test), so they still order the writers.
  const [redis, s3] = await Promise.all([startRedisServer({ appendOnly: true }), startS3rverProcess({ bucket: 'livepipe-cluster' })]);
  const proxies = await Promise.all(Array.from({ length: count }, () => startRecordingProxy(s3.endpoint)));
  const nodes: Array<ServeCli | undefined> = Array.from({ length: count }, () => undefined);
  const nodeIds = Array.from({ length: count }, (_, i) => `node-${String.fromCharCode(97 + i)}`);
  const publishers: Array<Publisher | undefined> = Array.from({ length: count }, () => undefined);
  const earlierLogs = Array.from({ length: count }, () => '');
  let origin: CliProcess | undefined;
  let stopFollowing: (() => Promise<void>) | undefined;
  /** URIs already found in storage (checked once), and those storage did not have when first checked. */
  const verified = new Set<string>();
  const missing = new Set<string>();
  let checking: Promise<void> | undefined;
  /**
   * HEADs every object the followed playlists named since the last pass, straight at s3rver (what a
   * CDN behind any origin would get). Run every 250 ms: an object is checked soon after it is first
   * named, long before it ages out of the playlist and is deleted.
   */
  const checkNamedObjects = (): Promise<void> =>
    (checking ??= (async () => {
      for (const w of stage.watches) {
        const fresh = w.namedUris.filter((uri) => !verified.has(`${w.rendition}/${uri}`) && !missing.has(`${w.rendition}/${uri}`));
        await Promise.all(
          fresh.map(async (uri) => {
            const res = await fetch(`${s3.endpoint}/${s3.bucket}/live/${channel}/${w.rendition}/${uri}`, { method: 'HEAD' }).catch(() => undefined);
            if (res?.status === 200) verified.add(`${w.rendition}/${uri}`);
            else missing.add(`${w.rendition}/${uri} (${res?.status ?? 'no answer'})`);
          }),
        );
      }
    })().finally(() => (checking = undefined)));
  let checker: NodeJS.Timeout | undefined;

  const node = (i: number): ServeCli => {
    const n = nodes[i];
    if (n === undefined) throw new Error(`node ${i} not started`);
    return n;
  };

  const stage: ClusterStage = {
    redis,
    s3,
    channel,
    renditions,
    proxies,
    nodes,
    nodeIds,
    publishers,
    originBase: '',
    watches: renditions.map((r) => new PlaylistWatch(r, renditions)),

    async startNode(i) {
      const existing = nodes[i];
      if (existing !== undefined) {
        // Keep the log of the run that ended (a kill) for LIVEPIPE_TEST_LOG_DIR.
        earlierLogs[i] += existing.cli.stdout() + existing.cli.stderr();
        await existing.restart();
        return existing;
      }
      const started = await startServeCli(
        {
          storage: `s3://${s3.bucket}/?endpoint=${encodeURIComponent(proxies[i]!.endpoint)}&region=us-east-1&forcePathStyle=true&listApi=v1`,
          cluster: { redis: redis.url, nodeId: nodeIds[i], ...(options.lease !== undefined ? { lease: options.lease } : {}) },
          reconnectGraceSeconds: 30,
          channels: [{ id: channel, ladder: options.ladder ?? 'constrained', key: KEY }],
        },
        { env: s3.env(), startTimeoutMs: options.startTimeoutMs ?? 90_000 },
      );
      nodes[i] = started;
      return started;
    },

    publishTo(i) {
      publishers[i]?.child.kill('SIGKILL');
      const p = publish(node(i).rtmpUrl(channel, KEY), 'flv', { seconds: 3600 });
      publishers[i] = p;
      return p;
    },

    async dropPublisher(i) {
      const p = publishers[i];
      publishers[i] = undefined;
      if (p === undefined) return;
      p.child.kill('SIGKILL');
      await p.exited;
    },

    async stateOf(i) {
      const n = nodes[i];
      if (n === undefined || n.cli.child.exitCode !== null || n.cli.child.signalCode !== null) return undefined;
      return (await n.api<{ state: string }>(`/api/v1/channels/${channel}`))?.state;
    },

    async waitState(i, state, timeoutMs = 60_000) {
      await waitFor(() => stage.stateOf(i), { until: (s) => s === state, timeoutMs, message: `${nodeIds[i]}: channel ${state}` });
    },

    async leader() {
      const states = await Promise.all(nodes.map((_, i) => stage.stateOf(i)));
      const i = states.indexOf('live');
      return i === -1 ? undefined : i;
    },

    async startOrigin() {
      const [port, opsPort] = (await freePorts(2)) as [number, number];
      origin = runCli(['origin', '--storage', s3.storageUrl(), '--port', String(port), '--ops-port', String(opsPort), '--redis', redis.url], s3.env());
      await waitForHttp(`http://127.0.0.1:${opsPort}/healthz`, options.startTimeoutMs ?? 90_000);
      stage.originBase = `http://127.0.0.1:${port}`;
      stopFollowing = followPlaylists(
        stage.watches,
        async (rendition) => {
          const { status, text } = await getText(`${stage.originBase}/live/${channel}/${rendition}/playlist.m3u8`);
          return status === 200 ? text : undefined;
        },
        50,
      );
      checker = setInterval(() => void checkNamedObjects(), 250);
      return stage.originBase;
    },

    async startRedundant() {
      await Promise.all([stage.startNode(0), stage.startNode(1)]);
      stage.publishTo(0);
      await stage.waitState(0, 'live', 90_000);
      stage.publishTo(1);
      await stage.waitState(1, 'standby');
      await stage.startOrigin();
      await stage.waitSegments(2);
      return `${stage.originBase}/live/${channel}/master.m3u8`;
    },

    async waitSegments(segments, timeoutMs = 90_000) {
      await waitFor(() => stage.watches.every((w) => w.lastMsn - w.lastMediaSequence + 1 >= segments && w.latestText.includes('#EXTINF')), {
        timeoutMs,
        message: `${segments} segments of every rendition at the origin`,
      });
    },

    async danglingObjects() {
      await checkNamedObjects();
      return [...missing];
    },

    writesOf(i, since = -Infinity) {
      return proxies[i]!.writes().filter((r) => r.at >= since);
    },

    epochOf(i) {
      return Math.max(0, ...proxies[i]!.writes().flatMap((r) => (r.epoch !== undefined ? [r.epoch] : [])));
    },

    fencingViolations() {
      const all = proxies
        .flatMap((p, node) => p.writes().map((write) => ({ node, write })))
        .sort((a, b) => a.write.at - b.write.at);
      const lastEpoch = new Map<number, number>();
      /** The newest epoch written so far, by whom and since when. */
      let newest = { epoch: 0, node: -1, at: 0 };
      const violations: FencingViolation[] = [];
      for (const { node, write } of all) {
        const epoch = write.epoch ?? lastEpoch.get(node) ?? 0;
        lastEpoch.set(node, epoch);
        if (epoch > newest.epoch) newest = { epoch, node, at: write.at };
        else if (epoch < newest.epoch && node !== newest.node) violations.push({ node, write, newerEpoch: newest.epoch, newerAt: newest.at });
      }
      return violations;
    },

    async close() {
      clearInterval(checker);
      await stopFollowing?.();
      await Promise.all(publishers.map((p) => p?.stop()));
      for (const [i, n] of nodes.entries()) {
        if (n === undefined) continue;
        if (process.env.LIVEPIPE_TEST_LOG_DIR !== undefined) {
          await writeFile(`${process.env.LIVEPIPE_TEST_LOG_DIR}/${nodeIds[i]}.log`, earlierLogs[i] + n.cli.stdout() + n.cli.stderr()).catch(() => undefined);
        }
        n.cli.child.kill('SIGCONT');
        await n.close();
      }
      if (origin !== undefined && process.env.LIVEPIPE_TEST_LOG_DIR !== undefined) {
        await writeFile(`${process.env.LIVEPIPE_TEST_LOG_DIR}/origin.log`, origin.stdout() + origin.stderr()).catch(() => undefined);
      }
      await origin?.stop('SIGTERM');
      await Promise.all(proxies.map((p) => p.close()));
      await s3.close();
      await redis.close();
    },
  };
  return stage;
}

/** What one takeover looked like (see `measureTakeover`). */
export interface Takeover {
  /** The node that took over. */
  newLeader: number;
  /** ms from the fault to the new run's first part listed in every rendition's playlist at the origin. */
  failoverMs: number;
  /** performance.now() of the new leader's first write under its new epoch (as storage saw it). */
  firstWriteAt: number;
  epoch: number;
}

/**
 * Waits for a takeover after `fault` (which must make node `from` stop leading; `from` -1: any node
 * may take over, the same one too): the first write under a newer epoch, and the first part of a new
 * run (a new init segment) in every rendition's playlist at the origin.
 */
export async function measureTakeover(stage: ClusterStage, from: number, fault: () => void | Promise<void>, timeoutMs = 60_000): Promise<Takeover> {
  const epochBefore = Math.max(...stage.proxies.map((_, i) => stage.epochOf(i)));
  const mapsBefore = stage.watches.map((w) => new Set(w.firstPartAt.keys()));
  const faultAt = performance.now();
  await fault();
  const first = await waitFor(
    () => {
      for (const [i] of stage.proxies.entries()) {
        if (i === from && from !== -1) continue;
        const write = stage.writesOf(i, faultAt).find((r) => r.epoch !== undefined && r.epoch > epochBefore);
        if (write !== undefined) return { i, write };
      }
      return undefined;
    },
    { timeoutMs, intervalMs: 20, message: 'another node writes under a newer epoch' },
  );
  const listedAt = await waitFor(
    () => {
      const times = stage.watches.map((w, k) => [...w.firstPartAt].find(([map, at]) => !mapsBefore[k]!.has(map) && at >= faultAt)?.[1]);
      return times.every((t) => t !== undefined) ? Math.max(...(times as number[])) : undefined;
    },
    { timeoutMs, intervalMs: 20, message: 'the new run listed in every rendition' },
  );
  return { newLeader: first.i, failoverMs: listedAt - faultAt, firstWriteAt: first.write.at, epoch: first.write.epoch! };
}
