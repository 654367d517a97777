/**
 * The chaos harness shared by the chaos suite (test/e2e/chaos) and `npm run bench -- chaos` (issue
 * 15, "keeps playing through faults"): a real `livepipe serve` (the CLI, so it can be signalled and
 * its memory read), a real ffmpeg publisher, hls.js playing in Chromium, and observers that run
 * through a fault:
 *
 * - `EdgeWatcher` polls every rendition's media playlist at the origin, runs the LL-HLS rule checker
 *   (llhls-rules.ts) on every new playlist text, follows each rendition's history (media sequence
 *   only increases, targets never change…) and measures the longest edge freeze: the largest gap
 *   between successive new parts appearing in the served playlist;
 * - `PlayerSampler` samples hls.js: fatal errors, rebuffers, stalled time, the share of wall time the
 *   player's `currentTime` advanced;
 * - `RssSampler` samples the serve process's resident memory.
 *
 * The faults themselves are plain functions with their sizes as parameters: the suite runs them
 * scaled down, the bench with the numbers. All traffic goes to 127.0.0.1; every loop is
 * bounded by a count or a deadline.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { checkMediaPlaylist, checkNoTinySegments, checkRenditionsInStep, parseWithM3u8Parser, PlaylistHistoryChecker, segmentFacts } from '../hls/llhls-rules.js';
import { launchBrowser, startPlayer, type Player, type PlayerOptions, type PlayerStats } from '../player/hls-player.js';
import { publish, type Publisher } from '../ingest/media.js';
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { srtPublisherUrl } from '../../../src/ingest/srt-ingest.js';
import type { S3rverProcess } from '../storage/s3rver-process.js';
import { getText, renditionsOf, startServeCli, type ServeCli } from './serve-fixture.js';
import { openIdleConnections, sendGarbageConnections, sendGarbageDatagrams, sendSrtCallers } from '../ingest/flood.js';
import { waitFor } from '../wait.js';

export const CHAOS_KEY = 'chaos-publish-key-0123456789';
export const CHAOS_CHANNEL = 'chaos';
export const CHAOS_LADDER = 'low-latency';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// serve, publisher, player

export interface ChaosServeOptions {
  /** Extra config-file settings (merged over the chaos channel definition). */
  file?: Record<string, unknown>;
  /** More channels besides `chaos`. */
  channels?: Array<Record<string, unknown>>;
  env?: NodeJS.ProcessEnv;
  keepDataDir?: string;
  /** hls.js settings of the stage's viewer (`startLiveStage`); default hls.js's own. */
  player?: PlayerOptions;
  /** Run serve under a systemd-style socket unit (restarts queue the origin's connections: docs/operations.md). */
  socketActivation?: boolean;
}

/** `livepipe serve` (the CLI) with the `chaos` channel on the low-latency ladder. */
export function startChaosServe(options: ChaosServeOptions = {}): Promise<ServeCli> {
  return startServeCli(
    {
      reconnectGraceSeconds: 10,
      channels: [{ id: CHAOS_CHANNEL, ladder: CHAOS_LADDER, key: CHAOS_KEY }, ...(options.channels ?? [])],
      ...(options.file ?? {}),
    },
    {
      ...(options.keepDataDir !== undefined ? { keepDataDir: options.keepDataDir } : {}),
      ...(options.env !== undefined ? { env: options.env } : {}),
      ...(options.socketActivation === true ? { socketActivation: true } : {}),
    },
  );
}

export function servePid(serve: ServeCli): number {
  return serve.cli.child.pid!;
}

/** A 640x360 30 fps test pattern + tone, 1 s GOP, for up to `seconds`, to `channel` with its key. */
export function publishChaos(serve: ServeCli, channel = CHAOS_CHANNEL, key = CHAOS_KEY, seconds = 900): Publisher {
  return publish(serve.rtmpUrl(channel, key), 'flv', { seconds });
}

/** Waits until the channel's multivariant playlist lists renditions and each lists ≥ `segments` segments; returns their names. */
export async function waitForLive(serve: ServeCli, channel = CHAOS_CHANNEL, segments = 2, timeoutMs = 60_000): Promise<string[]> {
  return waitFor(async () => {
      const master = await getText(`${serve.live(channel)}/master.m3u8`);
      if (master.status !== 200) return undefined;
      const renditions = renditionsOf(master.text);
      if (renditions.length === 0) return undefined;
      for (const r of renditions) {
        const { status, text } = await getText(`${serve.live(channel)}/${r}/playlist.m3u8`);
        if (status !== 200 || (parseWithM3u8Parser(text).manifest.segments?.length ?? 0) < segments) return undefined;
      }
      return renditions;
    }, { message: `${channel} live with ${segments} segments in every rendition`, timeoutMs: timeoutMs });
}

/** hls.js on the channel's multivariant playlist, once it has played a little. */
export async function startChaosPlayer(browser: Browser, serve: ServeCli, channel = CHAOS_CHANNEL, options: PlayerOptions = {}): Promise<Player> {
  const player = await startPlayer(browser, `${serve.live(channel)}/master.m3u8`, options);
  const started = await player.waitFor((s) => s.currentTime > 1 || s.fatalErrors.length > 0, 45_000);
  if (!(started.currentTime > 1)) {
    await player.close();
    throw new Error(`hls.js did not start playing: ${JSON.stringify(started.fatalErrors)} ${JSON.stringify(started.nonFatalErrors.slice(-5))}`);
  }
  return player;
}

// ---------------------------------------------------------------------------------------------
// processes

/** Child processes of `parentPid` whose command line contains every one of `needles`. */
export function childPids(parentPid: number, needles: string[] = []): number[] {
  let out = '';
  try {
    out = execFileSync('pgrep', ['-P', String(parentPid)], { encoding: 'utf8' });
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
  return out
    .split('\n')
    .filter(Boolean)
    .map(Number)
    .filter((pid) => {
      try {
        const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        return needles.every((n) => args.some((a) => a.includes(n)));
      } catch {
        return false;
      }
    });
}

/**
 * The transcoder's ffmpeg: the serve process's ffmpeg child that encodes with libx264 (the SRT
 * listeners are ffmpeg children too, but only remux). One channel live = one pid.
 */
export function transcoderPids(servePid: number): number[] {
  return childPids(servePid, ['libx264']).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'ffmpeg';
    } catch {
      return false;
    }
  });
}

/** Waits for a transcoder pid other than `previous`; undefined after `timeoutMs`. */
export async function nextTranscoderPid(servePid: number, previous: number | undefined, timeoutMs: number): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pid = transcoderPids(servePid).find((p) => p !== previous);
    if (pid !== undefined) return pid;
    if (Date.now() > deadline) return undefined;
    await sleep(50);
  }
}

/** Resident set size of `pid` in MiB (undefined once it is gone). */
export function rssMiB(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
    return Number.isFinite(kb) ? kb / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Samples the RSS of whatever `pid()` returns (it may change across a restart) every 250 ms. */
export class RssSampler {
  private peak = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: () => number) {
    this.sample();
    this.timer = setInterval(() => this.sample(), 250);
  }

  private sample(): void {
    const rss = rssMiB(this.pid());
    if (rss !== undefined && rss > this.peak) this.peak = rss;
  }

  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peak;
  }
}

// ---------------------------------------------------------------------------------------------
// playlists

export interface EdgeReport {
  /** Largest gap between successive new parts, per rendition, seconds (the window's ends count). */
  freezeSeconds: Record<string, number>;
  /** The largest of them. */
  longestFreezeSeconds: number;
  /** Distinct playlist texts checked. */
  playlistsChecked: number;
  /** Rule violations (deduplicated, with the rendition), in the order found. */
  violations: string[];
  /** Polls that did not answer 200, by status (`timeout`: no answer in 10 s; `error <code>`: the request failed). */
  failedPolls: Record<string, number>;
  /** Last msn seen per rendition. */
  lastMsn: Record<string, number>;
  ended: boolean;
}

/**
 * Polls every rendition's playlist every `intervalMs` and checks each new text. Start with
 * `start()`; `report()` at any time; `stop()` ends polling and returns the report.
 */
export class EdgeWatcher {
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly history = new Map<string, PlaylistHistoryChecker>();
  private readonly lastText = new Map<string, string>();
  private readonly knownParts = new Map<string, Set<string>>();
  private readonly lastNewPartAt = new Map<string, number>();
  private readonly freeze = new Map<string, number>();
  private readonly lastMsn = new Map<string, number>();
  private readonly violations = new Set<string>();
  private readonly failed = new Map<string, number>();
  private checked = 0;
  private ended = false;
  private startedAt = 0;

  constructor(
    private readonly liveBase: () => string,
    private readonly renditions: string[],
    private readonly intervalMs = 100,
  ) {}

  start(): this {
    this.running = true;
    this.startedAt = performance.now();
    for (const r of this.renditions) this.lastNewPartAt.set(r, this.startedAt);
    this.loop = (async () => {
      while (this.running) {
        const t = performance.now();
        await this.pollAll();
        await sleep(Math.max(0, this.intervalMs - (performance.now() - t)));
      }
    })();
    return this;
  }

  /** Forget freezes measured so far (e.g. the start-up), keep everything else. */
  resetFreeze(): void {
    const now = performance.now();
    this.freeze.clear();
    for (const r of this.renditions) this.lastNewPartAt.set(r, now);
  }

  private async pollAll(): Promise<void> {
    const texts: Record<string, string> = {};
    await Promise.all(
      this.renditions.map(async (r) => {
        // A poll fails as a player's would: an answer other than 200, an error, or no first byte within
        // the 10 s hls.js waits for a playlist by default (playlistLoadPolicy maxTimeToFirstByteMs) —
        // not merely a slow answer on a starved machine.
        let status = '0';
        let text = '';
        try {
          const res = await fetch(`${this.liveBase()}/${r}/playlist.m3u8`, { signal: AbortSignal.timeout(10_000) });
          status = String(res.status);
          text = await res.text();
        } catch (err) {
          const e = err as Error & { cause?: { code?: string } };
          status = e.name === 'TimeoutError' ? 'timeout' : `error ${e.cause?.code ?? e.name}`;
        }
        if (status !== '200') {
          this.failed.set(status, (this.failed.get(status) ?? 0) + 1);
          return;
        }
        texts[r] = text;
        this.observe(r, text);
      }),
    );
    if (Object.keys(texts).length === this.renditions.length) {
      for (const v of checkRenditionsInStep(texts)) this.violations.add(`in step: ${v}`);
    }
  }

  private observe(rendition: string, text: string): void {
    if (this.lastText.get(rendition) === text) return;
    this.lastText.set(rendition, text);
    this.checked++;
    const others = this.renditions.filter((r) => r !== rendition);
    let history = this.history.get(rendition);
    if (history === undefined) this.history.set(rendition, (history = new PlaylistHistoryChecker()));
    for (const v of [...checkMediaPlaylist(text, { otherRenditions: others }), ...history.check(text), ...checkNoTinySegments(text)]) {
      this.violations.add(`${rendition}: ${v}`);
    }
    const facts = segmentFacts(text);
    if (facts.endList) this.ended = true;
    const previousMsn = this.lastMsn.get(rendition);
    if (previousMsn !== undefined && facts.lastMsn < previousMsn) this.violations.add(`${rendition}: last msn went backwards ${previousMsn} → ${facts.lastMsn}`);
    this.lastMsn.set(rendition, Math.max(previousMsn ?? -1, facts.lastMsn));
    let known = this.knownParts.get(rendition);
    const first = known === undefined;
    if (known === undefined) this.knownParts.set(rendition, (known = new Set()));
    let fresh = false;
    for (const uri of facts.partUris) {
      if (!known.has(uri)) {
        known.add(uri);
        fresh = true;
      }
    }
    // Remember only what is still listed (plus what just left) to stay bounded.
    if (known.size > 4 * facts.partUris.length + 64) {
      const listed = new Set(facts.partUris);
      for (const uri of known) if (!listed.has(uri)) known.delete(uri);
    }
    if (fresh && !first) this.noteNewPart(rendition);
    else if (fresh) this.lastNewPartAt.set(rendition, performance.now());
  }

  private noteNewPart(rendition: string): void {
    const now = performance.now();
    const gap = (now - this.lastNewPartAt.get(rendition)!) / 1000;
    this.freeze.set(rendition, Math.max(this.freeze.get(rendition) ?? 0, gap));
    this.lastNewPartAt.set(rendition, now);
  }

  report(): EdgeReport {
    const now = performance.now();
    const freezeSeconds: Record<string, number> = {};
    for (const r of this.renditions) {
      const open = this.ended ? 0 : (now - (this.lastNewPartAt.get(r) ?? this.startedAt)) / 1000;
      freezeSeconds[r] = round(Math.max(this.freeze.get(r) ?? 0, open), 3);
    }
    return {
      freezeSeconds,
      longestFreezeSeconds: Math.max(0, ...Object.values(freezeSeconds)),
      playlistsChecked: this.checked,
      violations: [...this.violations],
      failedPolls: Object.fromEntries(this.failed),
      lastMsn: Object.fromEntries(this.lastMsn),
      ended: this.ended,
    };
  }

  async stop(): Promise<EdgeReport> {
    const report = this.report();
    this.running = false;
    await this.loop;
    return report;
  }
}

// ---------------------------------------------------------------------------------------------
// the player

export interface PlayerReport {
  fatalErrors: string[];
  /** `waiting` events after playback had started, during the window. */
  rebuffers: number;
  stalledSeconds: number;
  /** Share of the window's wall time during which video.currentTime advanced (0…1). */
  advanceShare: number;
  /** Media seconds played during the window. */
  playedSeconds: number;
  nonFatalErrors: number;
  /** The last few non-fatal errors of the window (what the player tripped on). */
  lastNonFatalErrors: string[];
  /**
   * Each time playback stood still for 2 s or more (up to 5): when (s into the window), where the
   * playhead was, what was buffered, the player's last media loads — to tell a stall in front of a
   * hole from one waiting for media that never came.
   */
  longStalls: Array<{ atS: number; forS: number; currentTime: number; buffered: Array<[number, number]>; recentLoads: string[] }>;
}

/** Samples hls.js every 250 ms through a window. */
export class PlayerSampler {
  private running = true;
  private readonly loop: Promise<void>;
  private first: PlayerStats | undefined;
  private last: PlayerStats | undefined;
  private advancedMs = 0;
  private readonly t0 = performance.now();
  private readonly longStalls: PlayerReport['longStalls'] = [];
  /** Since when the playhead has stood still (performance.now()), while playing had started. */
  private stillSince: number | undefined;

  constructor(private readonly player: Player) {
    this.loop = (async () => {
      let prevAt = performance.now();
      while (this.running) {
        const stats = await this.player.stats().catch(() => undefined);
        const now = performance.now();
        if (stats !== undefined) {
          if (this.first === undefined) this.first = stats;
          else if (this.last !== undefined && stats.currentTime > this.last.currentTime + 0.01) {
            this.advancedMs += now - prevAt;
            this.noteStill(stats, now, false);
          } else this.noteStill(stats, now, true);
          this.last = stats;
        }
        prevAt = now;
        await sleep(250);
      }
    })();
  }

  /** Tracks stretches without progress; one of 2 s or more is recorded when it ends (or at stop). */
  private noteStill(stats: PlayerStats, now: number, still: boolean): void {
    if (still) {
      this.stillSince ??= now;
      return;
    }
    if (this.stillSince !== undefined && now - this.stillSince >= 2000 && this.longStalls.length < 5) {
      this.longStalls.push({
        atS: round((this.stillSince - this.t0) / 1000, 1), forS: round((now - this.stillSince) / 1000, 1),
        currentTime: round(this.last?.currentTime ?? stats.currentTime, 2),
        buffered: (this.last?.buffered ?? []).map(([a, b]) => [round(a, 2), round(b, 2)] as [number, number]),
        recentLoads: this.last?.recentLoads ?? [],
      });
    }
    this.stillSince = undefined;
  }

  async stop(): Promise<PlayerReport> {
    this.running = false;
    await this.loop;
    if (this.last !== undefined) this.noteStill(this.last, performance.now(), false);
    const wallMs = performance.now() - this.t0;
    const last = (await this.player.stats().catch(() => undefined)) ?? this.last;
    const first = this.first ?? last;
    if (first === undefined || last === undefined) {
      return { fatalErrors: ['player unreadable'], rebuffers: 0, stalledSeconds: 0, advanceShare: 0, playedSeconds: 0, nonFatalErrors: 0, lastNonFatalErrors: [], longStalls: [] };
    }
    return {
      fatalErrors: last.fatalErrors,
      rebuffers: last.stalls - first.stalls,
      stalledSeconds: round((last.stalledMs - first.stalledMs) / 1000, 2),
      advanceShare: round(Math.min(1, this.advancedMs / wallMs), 3),
      playedSeconds: round(last.currentTime - first.currentTime, 2),
      nonFatalErrors: last.nonFatalErrors.length - first.nonFatalErrors.length,
      lastNonFatalErrors: last.nonFatalErrors.slice(first.nonFatalErrors.length).slice(-5),
      longStalls: this.longStalls,
    };
  }
}

// ---------------------------------------------------------------------------------------------
// one fault, observed

export interface FaultFigures<D> {
  fault: string;
  wallSeconds: number;
  player: PlayerReport;
  edge: EdgeReport;
  rssPeakMiB: number;
  details: D;
}

export interface ChaosStage {
  serve: ServeCli;
  player: Player;
  renditions: string[];
  channel?: string;
}

/**
 * Runs `fault` while the player, the edge and the serve process's memory are watched, then keeps
 * watching `settleMs` more (recovery is part of the fault).
 */
export async function observeFault<D>(name: string, stage: ChaosStage, fault: () => Promise<D>, settleMs = 3000): Promise<FaultFigures<D>> {
  const channel = stage.channel ?? CHAOS_CHANNEL;
  const edge = new EdgeWatcher(() => stage.serve.live(channel), stage.renditions).start();
  const rss = new RssSampler(() => servePid(stage.serve));
  const player = new PlayerSampler(stage.player);
  const t0 = performance.now();
  const finish = async () => ({ edge: await edge.stop(), player: await player.stop(), rssPeakMiB: round(rss.stop(), 1) });
  let details: D;
  try {
    details = await fault();
    await sleep(settleMs);
  } catch (err) {
    await finish();
    throw err;
  }
  const observed = await finish();
  return { fault: name, wallSeconds: round((performance.now() - t0) / 1000, 1), ...observed, details };
}

// ---------------------------------------------------------------------------------------------
// the faults

export interface EncoderKillDetails {
  kills: number;
  /** Kill → the next transcoder pid, ms (undefined: none came within the spacing). */
  respawnMs: Array<number | undefined>;
  finalState: string | undefined;
}

/** SIGKILLs the transcoder's ffmpeg `count` times, `spacingMs` apart. */
export async function encoderKills(serve: ServeCli, count: number, spacingMs: number, channel = CHAOS_CHANNEL): Promise<EncoderKillDetails> {
  const pid = servePid(serve);
  const respawnMs: Array<number | undefined> = [];
  let kills = 0;
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    const target = await nextTranscoderPid(pid, undefined, spacingMs);
    if (target !== undefined) {
      process.kill(target, 'SIGKILL');
      kills++;
      const t = performance.now();
      const next = await nextTranscoderPid(pid, target, Math.max(500, spacingMs - (t - started)));
      respawnMs.push(next === undefined ? undefined : Math.round(performance.now() - t));
    } else {
      respawnMs.push(undefined);
    }
    await sleep(Math.max(0, spacingMs - (performance.now() - started)));
  }
  const view = await serve.api<{ state: string }>(`/api/v1/channels/${channel}`);
  return { kills, respawnMs, finalState: view?.state };
}

export interface ApiRestartDetails {
  /** Answers by status. */
  statuses: Record<string, number>;
  /** Non-2xx answers not in the documented `{"error":{code,message}}` shape. */
  badErrorShapes: string[];
  finalState: string | undefined;
}

/** True when `body` is the ops API's documented error shape. */
export function isApiErrorShape(body: unknown): boolean {
  if (typeof body !== 'object' || body === null) return false;
  const error = (body as { error?: unknown }).error;
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  return typeof code === 'string' && /^[A-Z_]+$/.test(code) && typeof message === 'string' && !/\n\s+at /.test(message);
}

async function apiCall(serve: ServeCli, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown; text: string }> {
  try {
    const res = await fetch(`${serve.apiBase}${path}`, {
      method,
      ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, json, text };
  } catch (err) {
    return { status: 0, json: undefined, text: (err as Error).message };
  }
}

/** `count` calls of `POST /api/v1/channels/{id}/restart` spread evenly over `withinMs` (not awaiting each other). */
export async function apiRestarts(serve: ServeCli, count: number, withinMs: number, channel = CHAOS_CHANNEL): Promise<ApiRestartDetails> {
  const statuses: Record<string, number> = {};
  const badErrorShapes: string[] = [];
  const calls: Array<Promise<void>> = [];
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    await sleep(Math.max(0, (i * withinMs) / count - (performance.now() - t0)));
    calls.push(
      apiCall(serve, 'POST', `/api/v1/channels/${channel}/restart`).then((a) => {
        statuses[a.status] = (statuses[a.status] ?? 0) + 1;
        if ((a.status < 200 || a.status > 299) && !isApiErrorShape(a.json)) badErrorShapes.push(`${a.status} ${a.text.slice(0, 200)}`);
      }),
    );
  }
  await Promise.all(calls);
  const view = await serve.api<{ state: string }>(`/api/v1/channels/${channel}`);
  return { statuses, badErrorShapes, finalState: view?.state };
}

export interface ChannelCreationDetails {
  attempted: number;
  created: number;
  /** Refusals by `status code`. */
  refused: Record<string, number>;
  badErrorShapes: string[];
  metricsBytesBefore: number;
  metricsBytesAfter: number;
  /** Metric series with a `channel` label, before and after. */
  channelSeriesBefore: number;
  channelSeriesAfter: number;
  /** `LL` then `ll`: the second answer. */
  caseClash: { status: number; code: string | undefined };
}

async function metricsText(serve: ServeCli): Promise<string> {
  return (await getText(`${serve.apiBase}/metrics`)).text;
}

const channelSeries = (text: string) => text.split('\n').filter((l) => !l.startsWith('#') && l.includes('channel="')).length;

/** `count` channel creations through the ops API, `concurrency` at a time. */
export async function channelCreations(serve: ServeCli, count: number, concurrency = 16): Promise<ChannelCreationDetails> {
  const before = await metricsText(serve);
  let created = 0;
  const refused: Record<string, number> = {};
  const badErrorShapes: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const a = await apiCall(serve, 'POST', '/api/v1/channels', { id: `flood-${i}`, ladder: CHAOS_LADDER });
      if (a.status === 201) created++;
      else {
        const code = (a.json as { error?: { code?: string } } | undefined)?.error?.code;
        refused[`${a.status} ${code ?? '?'}`] = (refused[`${a.status} ${code ?? '?'}`] ?? 0) + 1;
        if (!isApiErrorShape(a.json) && badErrorShapes.length < 10) badErrorShapes.push(`${a.status} ${a.text.slice(0, 200)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  // Room for the case check: one deleted, then LL, then ll.
  await apiCall(serve, 'DELETE', '/api/v1/channels/flood-0');
  await apiCall(serve, 'DELETE', '/api/v1/channels/flood-1');
  await apiCall(serve, 'POST', '/api/v1/channels', { id: 'LL', ladder: CHAOS_LADDER });
  const clash = await apiCall(serve, 'POST', '/api/v1/channels', { id: 'll', ladder: CHAOS_LADDER });
  const after = await metricsText(serve);
  return {
    attempted: count,
    created,
    refused,
    badErrorShapes,
    metricsBytesBefore: before.length,
    metricsBytesAfter: after.length,
    channelSeriesBefore: channelSeries(before),
    channelSeriesAfter: channelSeries(after),
    caseClash: { status: clash.status, code: (clash.json as { error?: { code?: string } } | undefined)?.error?.code },
  };
}

export interface StorageOutageDetails {
  mode: 'SIGSTOP' | 'SIGKILL';
  outageSeconds: number;
}

/** Stored playlists whose listed objects (init, segments, parts; not hints, not gaps) storage lacks. */
export interface StoredCheck {
  playlists: number;
  objectsChecked: number;
  missing: string[];
  /** Per rendition: the stored playlist's last msn (to compare with the live edge). */
  storedLastMsn: Record<string, number>;
}

/** A stored playlist text as a whole: it starts with #EXTM3U, ends with a line break, and m3u8-parser reads it. */
function isWholePlaylist(text: string): boolean {
  if (!text.startsWith('#EXTM3U') || !text.endsWith('\n')) return false;
  try {
    parseWithM3u8Parser(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Reads a playlist object from s3rver, again while what it got is not a whole playlist. s3rver (the
 * S3 stand-in, not S3) overwrites an object in place — it truncates the file and streams the new
 * body into it, and answers the PUT before the write is done — so a GET racing the packager's next
 * playlist PUT can get an empty or cut-off text, and a SIGKILL in the middle of such a write leaves
 * the cut-off text on disk until the next PUT. Real S3 replaces objects atomically. (The cut-off
 * text — e.g. a last line `#EXT-X-RENDITION-REPORT` without its attributes — made m3u8-parser throw
 * "parseAttributes of null" in the storage-outage chaos case.) Throws after `attempts` reads.
 */
async function readWholePlaylist(client: S3Client, bucket: string, key: string, attempts = 20): Promise<string> {
  let text = '';
  let lastError: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      text = await got.Body!.transformToString();
      lastError = undefined;
    } catch (err) {
      // s3rver rewrites an object in place: a read racing the next PUT of the playlist can be cut off
      // mid-body ("aborted"), which real S3 (atomic replacement) never does. Read again.
      lastError = err;
      console.warn(`chaos: ${key} read failed (${(err as Error).name}: ${(err as Error).message}); reading again`);
      await sleep(100);
      continue;
    }
    if (isWholePlaylist(text)) return text;
    console.warn(`chaos: ${key} read cut off (${text.length} bytes, ends ${JSON.stringify(text.slice(-60))}); reading again`);
    await sleep(100);
  }
  if (lastError !== undefined) throw lastError;
  throw new Error(`${key} never read whole in ${attempts} reads; last ${text.length} bytes ending ${JSON.stringify(text.slice(-120))}`);
}

/**
 * Reads every rendition's stored playlist from the bucket and checks that each object it names
 * (init segments, segments, parts; not preload hints, not GAP entries) exists in the bucket.
 */
export async function checkStoredObjects(s3: S3rverProcess, channel: string, renditions: string[]): Promise<StoredCheck> {
  const client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: s3.credentials });
  const missing: string[] = [];
  const storedLastMsn: Record<string, number> = {};
  let objectsChecked = 0;
  let playlists = 0;
  try {
    for (const r of renditions) {
      const dir = `live/${channel}/${r}/`;
      let text: string;
      try {
        text = await readWholePlaylist(client, s3.bucket, `${dir}playlist.m3u8`);
      } catch (err) {
        missing.push(`${dir}playlist.m3u8 (${(err as Error).name}: ${(err as Error).message.slice(0, 200)})`);
        continue;
      }
      playlists++;
      storedLastMsn[r] = segmentFacts(text).lastMsn;
      const m = parseWithM3u8Parser(text).manifest;
      const names = new Set<string>();
      for (const s of m.segments as Array<Record<string, any>>) {
        if (s.map?.uri) names.add(s.map.uri);
        if (!s.gap) names.add(s.uri);
        for (const p of (s.parts ?? []) as Array<{ uri: string; gap?: boolean }>) if (!p.gap) names.add(p.uri);
      }
      for (const p of (m.preloadSegment?.parts ?? []) as Array<{ uri: string; gap?: boolean }>) if (!p.gap) names.add(p.uri);
      if (m.preloadSegment?.map?.uri) names.add(m.preloadSegment.map.uri);
      for (const name of names) {
        objectsChecked++;
        try {
          await client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: `${dir}${name}` }));
        } catch (err) {
          missing.push(`${dir}${name} (${(err as Error).name})`);
        }
      }
    }
  } finally {
    client.destroy();
  }
  return { playlists, objectsChecked, missing, storedLastMsn };
}

/** Freezes (SIGSTOP) or kills s3rver for `outageMs`, then thaws or restarts it. */
export async function storageOutage(s3: S3rverProcess, mode: 'SIGSTOP' | 'SIGKILL', outageMs: number): Promise<StorageOutageDetails> {
  if (mode === 'SIGSTOP') s3.pause();
  else await s3.kill();
  await sleep(outageMs);
  if (mode === 'SIGSTOP') s3.resume();
  else await s3.restart();
  return { mode, outageSeconds: outageMs / 1000 };
}

export interface FloodDetails {
  protocol: 'rtmp' | 'srt';
  /** Flood connections (RTMP) or handshakes/datagrams (SRT) sent. */
  floodSent: number;
  /** The configured publisher's channel went live during the flood. */
  publisherGotIn: boolean;
  /** Publisher start → channel `live`, ms. */
  publisherLiveMs: number | undefined;
}

/** Starts the RTMP flood: `count` idle connections that reconnect when closed, plus garbage workers. Returns a stopper. */
export async function startRtmpFlood(port: number, count: number): Promise<{ sent(): number; stop(): Promise<void> }> {
  const idle = await openIdleConnections(port, count, { concurrency: 100, reconnect: true });
  const garbage = sendGarbageConnections(port, { workers: 8, holdMs: 300 });
  return {
    sent: () => idle.connected() + garbage.sent(),
    async stop() {
      idle.stop();
      await garbage.stop();
    },
  };
}

/** Starts the SRT flood: idle and legacy (HSv4) callers in loops, plus `datagrams` garbage datagrams at once. */
export async function startSrtFlood(port: number, datagrams: number): Promise<{ sent(): number; stop(): Promise<void> }> {
  const idle = sendSrtCallers(port, { workers: 8, pauseMs: 5 });
  const legacy = sendSrtCallers(port, { workers: 2, conclude: true, pauseMs: 100 });
  await sendGarbageDatagrams(port, datagrams);
  return {
    sent: () => idle.started() + legacy.started() + datagrams,
    async stop() {
      await Promise.all([idle.stop(), legacy.stop()]);
    },
  };
}

/** Waits until the channel's view says `live`; ms from `since`, or undefined after `timeoutMs`. */
export async function msUntilLive(serve: ServeCli, channel: string, since: number, timeoutMs: number): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const view = await serve.api<{ state: string }>(`/api/v1/channels/${channel}`);
    if (view?.state === 'live') return Math.round(performance.now() - since);
    await sleep(100);
  }
  return undefined;
}

export function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Files under a directory, recursively (for stored-object checks on the filesystem). */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) out.push(...listFiles(path));
    else out.push(path);
  }
  return out;
}

/** serve + publisher + hls.js playing, ready for a fault; `close()` tears all down. */
export interface LiveChaosStage extends ChaosStage {
  publisher: Publisher;
  close(): Promise<void>;
}

export async function startLiveStage(browser: Browser, options: ChaosServeOptions = {}): Promise<LiveChaosStage> {
  const serve = await startChaosServe(options);
  const publisher = publishChaos(serve);
  try {
    const renditions = await waitForLive(serve);
    const player = await startChaosPlayer(browser, serve, CHAOS_CHANNEL, options.player);
    const stage: LiveChaosStage = {
      serve,
      publisher,
      renditions,
      player,
      async close() {
        await stage.player.close();
        await stage.publisher.stop();
        await serve.close();
      },
    };
    return stage;
  } catch (err) {
    await publisher.stop();
    await serve.close();
    throw err;
  }
}

/** What a chaos test file gets from `useChaosStage()`. */
export interface ChaosTestStage {
  /** Chromium, launched before the file's cases and closed after them. */
  readonly browser: Browser;
  /** serve + publisher + hls.js playing (`startLiveStage`); closed after the file's cases. */
  start(options?: ChaosServeOptions): Promise<LiveChaosStage>;
  /** A serve without publisher or player (`startChaosServe`); closed after the file's cases. */
  serve(options?: ChaosServeOptions): Promise<ServeCli>;
  /** Something else to tear down after the stages (an s3rver), last registered first. */
  onClose(teardown: () => Promise<void> | void): void;
}

/**
 * The set-up every chaos test file (test/e2e/chaos) shares: registers the file's `beforeAll` (launch
 * Chromium) and `afterAll` (close every stage and serve started through it, then the registered
 * teardowns, then the browser). Call it once at the top of a `describe`.
 */
export function useChaosStage(): ChaosTestStage {
  let browser: Browser | undefined;
  const closers: Array<() => Promise<void> | void> = [];
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    for (const close of closers.reverse()) await close();
    await browser?.close();
  });
  const launched = (): Browser => {
    if (browser === undefined) throw new Error('useChaosStage: the browser starts in beforeAll');
    return browser;
  };
  return {
    get browser() {
      return launched();
    },
    async start(options) {
      const stage = await startLiveStage(launched(), options);
      closers.push(() => stage.close());
      return stage;
    },
    async serve(options) {
      const serve = await startChaosServe(options);
      closers.push(() => serve.close());
      return serve;
    },
    onClose(teardown) {
      closers.push(teardown);
    },
  };
}

/** One line per fault for logs: the figures the targets are about. */
export function summarize(f: FaultFigures<unknown>): string {
  return (
    `${f.fault}: fatal ${f.player.fatalErrors.length}, rebuffers ${f.player.rebuffers} (${f.player.stalledSeconds} s), ` +
    `advance ${(f.player.advanceShare * 100).toFixed(0)} %, edge freeze ${f.edge.longestFreezeSeconds} s, RSS peak ${f.rssPeakMiB} MiB, ` +
    `${f.edge.playlistsChecked} playlists checked, ${f.edge.violations.length} violations`
  );
}

export const CHAOS_SRT_CHANNEL = 'chaossrt';
export const CHAOS_SRT_PASSPHRASE = 'chaos-srt-passphrase';

/**
 * A flood on one ingest port while the configured publisher of `channel` connects: the flood starts,
 * then the publisher (RTMP with its key, or SRT with its passphrase); once the channel is live,
 * hls.js plays it for `holdMs` with the flood still going. Returns the figures of that window; the
 * publisher is stopped at the end. `size`: idle connections (RTMP) or garbage datagrams (SRT).
 */
export async function floodWhilePublishing(
  browser: Browser,
  serve: ServeCli,
  protocol: 'rtmp' | 'srt',
  size: number,
  holdMs: number,
  srtPort?: number,
): Promise<FaultFigures<FloodDetails>> {
  const channel = protocol === 'rtmp' ? CHAOS_CHANNEL : CHAOS_SRT_CHANNEL;
  const flood = protocol === 'rtmp' ? await startRtmpFlood(serve.rtmpPort, size) : await startSrtFlood(srtPort!, size);
  let publisher: Publisher | undefined;
  let player: Player | undefined;
  try {
    const t0 = performance.now();
    publisher =
      protocol === 'rtmp'
        ? publishChaos(serve)
        : publish(srtPublisherUrl('127.0.0.1', channel, { port: srtPort!, passphrase: CHAOS_SRT_PASSPHRASE, latencyMs: 120 }), 'mpegts', { seconds: 300 });
    const liveMs = await msUntilLive(serve, channel, t0, 30_000);
    const details: FloodDetails = { protocol, floodSent: 0, publisherGotIn: liveMs !== undefined, publisherLiveMs: liveMs };
    if (liveMs === undefined) {
      details.floodSent = flood.sent();
      const empty: PlayerReport = { fatalErrors: ['never played: the publisher did not get in'], rebuffers: 0, stalledSeconds: 0, advanceShare: 0, playedSeconds: 0, nonFatalErrors: 0, lastNonFatalErrors: [], longStalls: [] };
      const edge = await new EdgeWatcher(() => serve.live(channel), []).start().stop();
      return { fault: `flood ${protocol}`, wallSeconds: 0, player: empty, edge, rssPeakMiB: rssMiB(servePid(serve)) ?? 0, details };
    }
    const renditions = await waitForLive(serve, channel);
    player = await startChaosPlayer(browser, serve, channel);
    return await observeFault(`flood ${protocol}`, { serve, player, renditions, channel }, async () => {
      await sleep(holdMs);
      details.floodSent = flood.sent();
      return details;
    }, 0);
  } finally {
    await flood.stop();
    await player?.close();
    await publisher?.stop();
  }
}

export interface SigtermRestartDetails {
  exitCode: number | string;
  /** Seconds from SIGTERM to the restarted serve's health check answering. */
  downSeconds: number;
  /** Of which: SIGTERM to the old process's exit (its drain and graceful stop). */
  stopSeconds: number;
  /** Of which: the new process's spawn to its health check answering. */
  startSeconds: number;
  /** Status of the first request to each rendition's playlist (and `master`) after the restart. */
  firstRequests: Record<string, number>;
  lastMsnBefore: Record<string, number>;
  publisherBackLive: boolean;
}

/** SIGTERM to serve, a restart on the same config and data directory, the publisher again. */
export async function sigtermRestart(stage: LiveChaosStage, channel = CHAOS_CHANNEL): Promise<SigtermRestartDetails> {
  const { serve } = stage;
  const lastMsnBefore: Record<string, number> = {};
  for (const r of stage.renditions) {
    const { status, text } = await getText(`${serve.live(channel)}/${r}/playlist.m3u8`);
    if (status === 200) lastMsnBefore[r] = segmentFacts(text).lastMsn;
  }
  const t0 = performance.now();
  const exitCode = await serve.cli.stop('SIGTERM', 40_000);
  const stopSeconds = round((performance.now() - t0) / 1000, 2);
  await stage.publisher.exited;
  const t1 = performance.now();
  await serve.restart();
  const startSeconds = round((performance.now() - t1) / 1000, 2);
  const downSeconds = round((performance.now() - t0) / 1000, 2);
  const firstRequests: Record<string, number> = {};
  await Promise.all(
    [...stage.renditions, 'master'].map(async (r) => {
      const url = r === 'master' ? `${serve.live(channel)}/master.m3u8` : `${serve.live(channel)}/${r}/playlist.m3u8`;
      firstRequests[r] = (await getText(url)).status;
    }),
  );
  const since = performance.now();
  stage.publisher = publishChaos(serve, channel);
  const live = await msUntilLive(serve, channel, since, 30_000);
  // Media of the new run in every rendition.
  let back = live !== undefined;
  if (back) {
    try {
      await waitFor(async () => {
        for (const r of stage.renditions) {
          const { status, text } = await getText(`${serve.live(channel)}/${r}/playlist.m3u8`);
          if (status !== 200 || segmentFacts(text).lastMsn < (lastMsnBefore[r] ?? 0) + 2) return undefined;
        }
        return true;
      }, { message: 'new media after the restart', timeoutMs: 30_000 });
    } catch {
      back = false;
    }
  }
  return { exitCode, downSeconds, stopSeconds, startSeconds, firstRequests, lastMsnBefore, publisherBackLive: back };
}
