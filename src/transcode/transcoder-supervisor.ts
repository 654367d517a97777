import type { Readable } from 'node:stream';
import type { TranscodeRun, TranscodeRunOutput } from '../ladder/run-contract.js';
import {
  resolveLadder,
  type RenditionDecision,
  type ResolvedAudioRendition,
  type ResolvedLadder,
  type ResolvedVideoRendition,
} from '../ladder/ladder-loader.js';
import type { Ladder } from '../ladder/ladder-schema.js';
import { ErrorCode, LivepipeError, errorMessage, isLivepipeError } from '../core/errors.js';
import { firstFrameArrivedAt } from '../core/media-clock.js';
import { LivepipeEvent, type EventBus, type TranscoderStateName } from '../core/event-bus.js';
import type { Logger } from '../core/logger.js';
import { SupervisedProcess, type ProcessExit } from '../core/supervised-process.js';
import type { LadderSlot, TranscodeAdmission } from './admission.js';
import { probeStream, probeUrl, type InputProbe, type ProbeOptions } from './input-probe.js';
import type { InputSpec } from './input-spec.js';
import { assertWithinInputLimits } from './input-limits.js';
import { compileLadder } from './ladder-compiler.js';
import { coresPerChannel, resolvedPixelsPerSecond } from './ladder-cost.js';
import { readProcessCpuSeconds } from './process-cpu.js';
import { ProgressParser, type TranscodeProgress } from './progress-parser.js';
import { RealtimeTracker, type RealtimeStatus, type RealtimeTrackerOptions } from './realtime-tracker.js';
import { RestartPolicy, type RestartPolicyOptions } from './restart-policy.js';

/**
 * One long-lived supervisor per channel, owning a replaceable ffmpeg run (the MediaMTX pattern).
 *
 * States: `idle` → `starting` (probe + spawn; until the first frame is encoded) → `running` →
 * on a crash or a stall `restarting` → `starting` → … ; `stop()` → `stopping` → `stopped`. The input
 * ending cleanly (ffmpeg exits 0) also ends in `stopped`.
 * Restarts follow `RestartPolicy`: the first one after a crash is immediate, only repeated fast
 * failures back off (capped, 2 s by default), and a live supervisor never gives up on its own: it
 * reports a crash loop (`crashLooping`, `failingSince` in its state) and leaves the decision to end
 * the stream to its channel. An input that cannot be used at all (no video, not decodable, outside
 * `input-limits.ts`), or the policy's optional give-up guard (one-shot jobs), end in `failed`
 * carrying the reason and the last stderr lines.
 * Every transition is emitted as `LivepipeEvent.TranscoderState`.
 *
 * ## The run contract (`ladder/run-contract.ts`, consumed by the packager)
 * Every ffmpeg (re)start is a new `TranscodeRun` with a new `runId` (1, 2, …), announced through the
 * `onRun(run)` constructor callback (synchronously, before ffmpeg writes anything the consumer could
 * miss). For each output:
 * - `stream` is fragmented MP4: an init segment (ftyp + moov with one track) followed by moof+mdat
 *   fragments of one frame each (audio: one AAC frame), or for video with long enough parts one part
 *   each, never longer than PART-TARGET (`videoFragmentingOf`); decode timestamps of all outputs of a
 *   run share one timeline starting near 0 (video in a 90 kHz timescale, audio in its sample rate);
 * - video keyframes fall on the same timestamps in every rendition, every `ladder.gop` seconds;
 * - the stream ends when the run ends (input end, crash, stall, stop); a new run means a new init
 *   segment and timestamps starting again near 0: a discontinuity for the packager.
 * The consumer MUST read every output stream promptly: an unread pipe blocks ffmpeg, which the stall
 * watchdog then treats as a stall. Without `onRun`, the supervisor discards the outputs itself.
 */

export interface TranscoderStateSnapshot {
  channel: string;
  state: TranscoderStateName;
  runId: number;
  pid: number | undefined;
  /** Restarts after failures since `start()`. */
  restarts: number;
  /** Fast failures in a row (`RestartPolicy`): 0 once a run was healthy. */
  consecutiveFailures: number;
  /** `crashLoopAfter` or more fast failures in a row: restarting does not help (yet). */
  crashLooping: boolean;
  /** Epoch ms of the first failure since the last healthy run; undefined while healthy. */
  failingSince: number | undefined;
  /** Epoch ms the current run was spawned; undefined between runs. */
  runStartedAt: number | undefined;
  uptimeMs: number;
  lastProgress: TranscodeProgress | undefined;
  lastError: string | undefined;
  /** Last stderr lines of the last failed run (also in `failed`). */
  stderrTail: string[];
  decisions: RenditionDecision[];
  droppedRenditions: string[];
  /** How the current run keeps up with its input (`RealtimeTracker`); undefined between runs. */
  realtime?: RealtimeStatus;
  /** The last measured cost, cores per channel at realtime (CPU s per media s), once known. */
  measuredCores?: number;
}

/** The event bus as the supervisor uses it. */
export type TranscoderEvents = Pick<EventBus, 'emit'>;

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
}

export interface TranscoderSupervisorOptions {
  channel: string;
  ladder: Ladder;
  input: InputSpec;
  /** Opens the media byte stream for a run; required for `stdin` inputs, called once per run. */
  openInput?: () => Readable;
  /**
   * A probe of this same input taken by an earlier supervisor (an operator restart, or a ladder
   * change, of a channel whose publisher stayed connected). The first run uses it instead of
   * running ffprobe on the live input, which costs most of a restart (~0.6 s of media analysis).
   * Runs after a failure probe again: the input may be what changed. Default: always probe.
   */
  knownProbe?: InputProbe;
  bus: TranscoderEvents;
  logger: Logger;
  /** Receives every run's outputs; see the run contract above. */
  onRun?: (run: TranscodeRun) => void;
  admission?: TranscodeAdmission;
  /** The ladder's name: admission prices the channel by it (`LadderCostModel`). */
  ladderName?: string;
  /** Thresholds of the below-realtime detection (`RealtimeTracker`). */
  realtime?: RealtimeTrackerOptions;
  /** Every realtime status of a run (each progress report), for state reasons and metrics. */
  onRealtime?: (status: RealtimeStatus) => void;
  /**
   * How often the run's CPU time is sampled from `/proc/<pid>/stat` to measure the ladder's cost
   * (reported to admission); default 10 s. The first sample is taken 3 s into the run.
   */
  costSampleMs?: number;
  ffmpegPath?: string;
  ffprobePath?: string;
  /** Kill and restart a run whose encoded frame count has not advanced for this long; default 10 s. */
  stallTimeoutMs?: number;
  /** SIGTERM → SIGKILL grace on stop; default 5 s. */
  stopTimeoutMs?: number;
  /**
   * Restart pacing (see `RestartPolicy`): immediate first restart, backoff 250 ms doubling to a 2 s cap
   * for fast failures in a row, healthy after 5 s, crash loop from 3 fast failures; no give-up guard.
   */
  restart?: RestartPolicyOptions;
  /** Jitter source for the backoff; default Math.random. */
  random?: () => number;
  clock?: Clock;
  /** Stderr lines kept for failure reports; default 50. */
  stderrLines?: number;
}

/** Failures that a restart cannot fix. */
function isFatal(err: unknown): boolean {
  return (
    isLivepipeError(err, ErrorCode.InputUnusable) ||
    isLivepipeError(err, ErrorCode.BinaryMissing) ||
    isLivepipeError(err, ErrorCode.ConfigInvalid)
  );
}

export class TranscoderSupervisor {
  private readonly channel: string;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly policy: RestartPolicy;
  private readonly stallTimeoutMs: number;
  private readonly stopTimeoutMs: number;
  private currentState: TranscoderStateName = 'idle';
  /** The ladder runs encode: the options' one, until `reconfigure()` replaces it. */
  private ladder: Ladder;
  /** The ladder was replaced: measured costs are the channel's, not the named ladder's figure. */
  private ladderReplaced = false;
  /** Why the current run is being replaced by `reconfigure()`, while it exits. */
  private reconfiguring: string | undefined;
  private slot: LadderSlot | undefined;
  private proc: SupervisedProcess | undefined;
  private runId = 0;
  /** The known probe, until the first launch consumes it. */
  private reusableProbe: InputProbe | undefined;
  private runStartedAt: number | undefined;
  private restarts = 0;
  private lastProgress: TranscodeProgress | undefined;
  private lastError: string | undefined;
  private stderrTail: string[] = [];
  /** The probe of the last run that encoded frames: a restart after its crash reuses it (see `launch`). */
  private workingProbe: InputProbe | undefined;
  private decisions: RenditionDecision[] = [];
  private lastAdvanceAt = 0;
  /** The current run's probe: becomes `workingProbe` once the run encodes a frame. */
  private runProbe: InputProbe | undefined;
  private lastFrame = -1;
  private stalled = false;
  private tracker: RealtimeTracker | undefined;
  private runMediaStartedAt: (() => number) | undefined;
  /** The last CPU sample of the current run, and whether one is being read. */
  private cpuSample: { atMs: number; cpuSeconds: number; mediaSeconds: number } | undefined;
  private cpuReading = false;
  private measuredCores: number | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private launching: Promise<void> | undefined;
  /** Why the supervisor failed when a restart could not help (thrown by `start()`). */
  private fatalError: unknown;
  private stopping: Promise<void> | undefined;
  private readonly terminal: Promise<TranscoderStateName>;
  private resolveTerminal!: (state: TranscoderStateName) => void;

  constructor(private readonly options: TranscoderSupervisorOptions) {
    this.channel = options.channel;
    this.logger = options.logger.child({ component: 'transcoder', channel: options.channel });
    this.clock = options.clock ?? { now: () => Date.now() };
    this.policy = new RestartPolicy(options.restart, options.random);
    this.stallTimeoutMs = options.stallTimeoutMs ?? 10_000;
    this.stopTimeoutMs = options.stopTimeoutMs ?? 5_000;
    this.terminal = new Promise((resolve) => (this.resolveTerminal = resolve));
    this.reusableProbe = options.knownProbe;
    this.ladder = options.ladder;
    if (options.input.kind === 'stdin' && !options.openInput) {
      throw new LivepipeError(ErrorCode.ConfigInvalid, 'a stdin input needs an openInput() factory');
    }
  }

  /**
   * Starts the first run, which takes an admission slot once the input is probed and the ladder
   * resolved against it (its cost depends on both). Resolves once ffmpeg is spawned; rejects with
   * `CapacityExceeded` when the node has no room for it, or when the input is unusable (the state is
   * then `failed`).
   */
  async start(): Promise<void> {
    if (this.currentState !== 'idle' || this.stopping !== undefined) throw new LivepipeError(ErrorCode.Conflict, `transcoder ${this.channel} was already started`);
    this.fatalError = undefined;
    this.setState('starting');
    await this.launchGuarded();
    if (this.fatalError !== undefined) throw this.fatalError;
  }

  /**
   * Replaces the ladder of a running encoder (the behind-realtime policy: faster presets, a rendition
   * fewer; docs/capacity.md): the current run is stopped and the next starts at once with `ladder`,
   * on the same probe and the same admission slot (no new channel, not a failure). It is a new run
   * like a crash restart: the packager continues every playlist after a discontinuity, and ends the
   * playlist of a rendition the new ladder no longer has. False (nothing done) unless running.
   */
  reconfigure(ladder: Ladder, reason: string): boolean {
    const proc = this.proc;
    if (this.stopping !== undefined || this.currentState !== 'running' || proc === undefined || proc.hasExited || this.reconfiguring !== undefined) return false;
    this.ladder = ladder;
    this.ladderReplaced = true;
    this.reconfiguring = reason;
    this.logger.info({ runId: this.runId, reason }, 'replacing the run with a new ladder');
    proc.signal('SIGTERM');
    return true;
  }

  /** Resolves with the terminal state (`stopped` or `failed`) once the supervisor has ended. */
  finished(): Promise<TranscoderStateName> {
    return this.terminal;
  }

  state(): TranscoderStateSnapshot {
    const now = this.clock.now();
    return {
      channel: this.channel,
      state: this.currentState,
      runId: this.runId,
      pid: this.proc && !this.proc.hasExited ? this.proc.pid : undefined,
      restarts: this.restarts,
      consecutiveFailures: this.policy.consecutiveFailures(),
      crashLooping: this.policy.crashLooping(),
      failingSince: this.policy.failingSince(),
      runStartedAt: this.runStartedAt,
      uptimeMs: this.runStartedAt !== undefined ? now - this.runStartedAt : 0,
      lastProgress: this.lastProgress,
      lastError: this.lastError,
      stderrTail: [...this.stderrTail],
      decisions: this.decisions.map((d) => ({ ...d })),
      droppedRenditions: this.decisions.filter((d) => !d.kept).map((d) => d.name),
      ...(this.runStartedAt !== undefined && this.tracker !== undefined ? { realtime: this.tracker.current() } : {}),
      ...(this.measuredCores !== undefined ? { measuredCores: this.measuredCores } : {}),
    };
  }

  /**
   * Stops the current run (SIGTERM, SIGKILL after `stopTimeoutMs`) and any pending restart.
   * Idempotent; resolves only when ffmpeg's process group is gone.
   */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    if (this.currentState === 'idle') {
      this.setState('stopped', 'stopped before start');
      this.finish('stopped');
      return;
    }
    const terminalAlready = this.currentState === 'stopped' || this.currentState === 'failed';
    if (!terminalAlready) this.setState('stopping', 'stop requested');
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    await this.launching?.catch(() => undefined);
    this.clearWatchdog();
    if (this.proc && !this.proc.hasExited) await this.proc.stop(this.stopTimeoutMs);
    else if (this.proc) await this.proc.stop(0);
    if (!terminalAlready) {
      this.setState('stopped', 'stop requested');
      this.finish('stopped');
    }
  }

  private setState(state: TranscoderStateName, reason?: string): void {
    const previous = this.currentState;
    if (previous === state) return;
    this.currentState = state;
    const log = state === 'failed' ? this.logger.error.bind(this.logger) : this.logger.info.bind(this.logger);
    log({ state, previous, reason, runId: this.runId }, `transcoder ${state}`);
    this.options.bus.emit(LivepipeEvent.TranscoderState, {
      channel: this.channel,
      state,
      previous,
      ...(reason !== undefined ? { reason } : {}),
    });
  }

  private finish(state: TranscoderStateName): void {
    this.clearWatchdog();
    this.slot?.release();
    this.resolveTerminal(state);
  }

  private launchGuarded(): Promise<void> {
    const run = async (): Promise<void> => {
      try {
        const start = (): Promise<void> => this.launch();
        await (this.options.admission ? this.options.admission.runStart(start) : start());
      } catch (err) {
        this.onLaunchError(err);
      }
    };
    this.launching = run();
    return this.launching;
  }

  private onLaunchError(err: unknown): void {
    if (this.stopping) return;
    const reason = errorMessage(err);
    this.lastError = reason;
    if (isLivepipeError(err, ErrorCode.CapacityExceeded) && this.slot === undefined) {
      // Admission refused the first run (docs/capacity.md): nothing was spawned, the supervisor is
      // back to idle and `start()` rejects with the refusal; it may be started again later.
      this.fatalError = err;
      this.logger.warn({ err: reason }, 'refused by admission');
      this.setState('idle', reason);
      return;
    }
    if (isFatal(err)) {
      this.fatalError = err;
      this.logger.error({ err: reason }, 'input unusable');
      this.setState('failed', reason);
      this.finish('failed');
      return;
    }
    this.scheduleRestart(reason, 0);
  }

  /** Probe, compile, spawn one run. */
  private async launch(): Promise<void> {
    if (this.stopping) return;
    const { input } = this.options;
    const ladder = this.ladder;
    const probeOptions: ProbeOptions = this.options.ffprobePath ? { ffprobePath: this.options.ffprobePath } : {};
    let probe: InputProbe;
    let media: Readable | undefined;
    let source: Readable | undefined;
    // A restart after a run that encoded frames reuses that run's probe: the input is the same live
    // feed, and ffprobe's analysis of it is most of a restart (~0.6 s) that viewers at the live edge
    // wait for. A run that failed without encoding anything probes again: the input may be what
    // changed or what is wrong.
    const known = this.reusableProbe ?? this.workingProbe;
    this.reusableProbe = undefined;
    this.workingProbe = undefined;
    if (known !== undefined) {
      probe = known;
      if (input.kind === 'stdin') media = source = this.options.openInput!();
      this.logger.debug({ probe }, 'reusing the probe of the same input');
    } else if (input.kind === 'stdin') {
      source = this.options.openInput!();
      const probed = await probeStream(source, input.format, probeOptions);
      probe = probed.probe;
      media = probed.stream;
    } else {
      probe = await probeUrl(input, probeOptions);
    }
    if (this.stopping) {
      media?.destroy();
      return;
    }
    try {
      assertWithinInputLimits(probe, 'input refused');
    } catch (err) {
      media?.destroy();
      source?.destroy();
      throw err;
    }
    const resolved = resolveLadder(ladder, probe);
    if (this.slot === undefined && this.options.admission !== undefined) {
      // The first run: priced by what it will encode. Later runs keep the slot (a restart is no new channel).
      const demand = this.options.ladderName !== undefined ? { name: this.options.ladderName, pixelsPerSecond: resolvedPixelsPerSecond(resolved) } : undefined;
      try {
        this.slot = this.options.admission.acquire(this.channel, demand);
      } catch (err) {
        media?.destroy();
        source?.destroy();
        throw err;
      }
    }
    this.decisions = resolved.decisions;
    for (const d of resolved.decisions.filter((x) => !x.kept)) this.logger.info({ rendition: d.name, reason: d.reason }, 'rendition dropped');
    const compiled = compileLadder(resolved, probe, input, { inputKnown: known !== undefined });

    const runId = ++this.runId;
    const startedAt = this.clock.now();
    this.stalled = false;
    this.lastFrame = -1;
    this.tracker = new RealtimeTracker(startedAt, this.options.realtime);
    this.cpuSample = undefined;
    this.lastAdvanceAt = startedAt;
    const proc = new SupervisedProcess({
      command: this.options.ffmpegPath ?? 'ffmpeg',
      args: compiled.args,
      // stdout (fd 1) carries `-progress` reports; the outputs are fds 3, 4, …
      outputFds: [1, ...compiled.outputs.map((o) => o.fd)],
      ...(media ? { stdin: media } : {}),
      stderrLines: this.options.stderrLines ?? 50,
      mapStderrLine: dropFilterPropertyWarning,
    });
    const progress = new ProgressParser();
    proc.outputs.get(1)?.setEncoding('utf8').on('data', (text: string) => {
      for (const p of progress.push(text)) this.onProgress(runId, p);
    });
    if (proc.pid === undefined) {
      // Spawn failed (binary missing, out of processes): nothing ran, report it as a launch error.
      const exit = await proc.exited;
      throw exit.error ?? new Error('ffmpeg could not be spawned');
    }
    this.proc = proc;
    this.runStartedAt = startedAt;
    this.logger.debug({ runId, args: compiled.args }, 'ffmpeg spawned');

    const outputs: TranscodeRunOutput[] = compiled.outputs.map((o) => ({
      name: o.name,
      kind: o.kind,
      rendition: o.rendition,
      stream: proc.outputs.get(o.fd)!,
    }));
    const mediaStartedAt = (): number => (source !== undefined ? firstFrameArrivedAt(source) : undefined) ?? startedAt;
    this.runMediaStartedAt = mediaStartedAt;
    const run: TranscodeRun = { channel: this.channel, runId, startedAt, mediaStartedAt, probe, ladder: resolved, outputs, ended: proc.exited };
    this.runProbe = probe;
    void proc.exited.then((exit) => this.onExit(proc, runId, exit));
    if (this.options.onRun) {
      try {
        this.options.onRun(run);
      } catch (err) {
        this.logger.error({ err: errorMessage(err), runId }, 'onRun consumer threw; its outputs are discarded');
        for (const o of outputs) o.stream.resume();
      }
    } else {
      for (const o of outputs) o.stream.resume();
    }
    this.armWatchdog(proc);
  }

  private onProgress(runId: number, progress: TranscodeProgress): void {
    if (runId !== this.runId) return;
    this.lastProgress = progress;
    // Advance = more frames encoded. out_time is not used: generated silence keeps it moving even
    // when the video input has stalled.
    const frame = progress.frame ?? -1;
    if (frame > this.lastFrame) {
      this.lastFrame = frame;
      const now = this.clock.now();
      this.lastAdvanceAt = now;
      if (frame > 0 && this.currentState === 'starting') this.setState('running');
      if (frame > 0 && this.runStartedAt !== undefined && now - this.runStartedAt >= this.policy.healthyAfterMs && this.policy.onHealthy()) {
        this.logger.info({ runId, restarts: this.restarts }, 'transcoder healthy again: the failures are over');
      }
    }
    if (frame > 0 && progress.outTimeSec !== undefined) this.trackRealtime(progress.outTimeSec);
  }

  /** Edge lag and speed of the run (`RealtimeTracker`), and its cost from the process' CPU time. */
  private trackRealtime(outTimeSec: number): void {
    const tracker = this.tracker;
    const mediaStartedAt = this.runMediaStartedAt;
    if (tracker === undefined || mediaStartedAt === undefined || this.runStartedAt === undefined) return;
    const now = this.clock.now();
    const before = tracker.current().behind;
    const status = tracker.update(now, outTimeSec, mediaStartedAt());
    if (status.behind !== before) {
      if (status.behind) this.logger.warn({ runId: this.runId, edgeLagSeconds: status.edgeLagSeconds, speed: status.speed }, `encoder below realtime: ${status.reason}`);
      else this.logger.info({ runId: this.runId, edgeLagSeconds: status.edgeLagSeconds, speed: status.speed }, 'encoder caught up with realtime');
    }
    this.slot?.reportRealtime?.(status);
    this.options.onRealtime?.(status);
    this.sampleCpu(now, outTimeSec);
  }

  private sampleCpu(now: number, outTimeSec: number): void {
    const pid = this.proc?.pid;
    const runStartedAt = this.runStartedAt;
    if (pid === undefined || runStartedAt === undefined || this.cpuReading) return;
    const due = this.cpuSample === undefined ? now - runStartedAt >= 3_000 : now - this.cpuSample.atMs >= (this.options.costSampleMs ?? 10_000);
    if (!due) return;
    const runId = this.runId;
    this.cpuReading = true;
    void readProcessCpuSeconds(pid).then((cpuSeconds) => {
      this.cpuReading = false;
      if (cpuSeconds === undefined || runId !== this.runId) return;
      const sample = { atMs: now, cpuSeconds, mediaSeconds: outTimeSec };
      const cores = this.cpuSample !== undefined ? coresPerChannel(this.cpuSample, sample) : undefined;
      // The baseline stays until enough media passed to measure (a run far below realtime needs longer).
      if (this.cpuSample === undefined || cores !== undefined) this.cpuSample = sample;
      else this.cpuSample = { ...this.cpuSample, atMs: now };
      if (cores === undefined) return;
      this.measuredCores = cores;
      this.slot?.reportCost?.(cores, !this.ladderReplaced);
      this.logger.debug({ runId, cores }, 'ladder cost measured');
    });
  }

  private armWatchdog(proc: SupervisedProcess): void {
    this.clearWatchdog();
    const period = Math.max(50, Math.min(1_000, Math.floor(this.stallTimeoutMs / 4)));
    this.watchdog = setInterval(() => {
      if (proc !== this.proc || proc.hasExited || this.stopping) return;
      const idle = this.clock.now() - this.lastAdvanceAt;
      if (idle > this.stallTimeoutMs) {
        this.stalled = true;
        this.logger.warn({ runId: this.runId, idleMs: idle }, 'ffmpeg stalled: killing the run');
        // The run is discarded anyway: SIGKILL, no grace (a stalled ffmpeg may ignore SIGTERM).
        proc.signal('SIGKILL');
        this.clearWatchdog();
      }
    }, period);
    this.watchdog.unref();
  }

  private clearWatchdog(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = undefined;
  }

  private onExit(proc: SupervisedProcess, runId: number, exit: ProcessExit): void {
    if (proc !== this.proc) return;
    this.clearWatchdog();
    // How long the run worked (spawn → its last encoded frame), not how long it existed: a run that
    // hung without encoding until the stall watchdog killed it was not healthy, however long it took.
    const ranMs = this.runStartedAt !== undefined && this.lastFrame > 0 ? this.lastAdvanceAt - this.runStartedAt : 0;
    this.runStartedAt = undefined;
    this.slot?.reportRealtime?.({ behind: false });
    if (this.stopping) return; // stop() owns the transition to `stopped`.
    const tail = proc.stderrTail();
    if (this.lastFrame > 0) this.workingProbe = this.runProbe;
    this.runProbe = undefined;
    const reconfigured = this.reconfiguring;
    this.reconfiguring = undefined;
    if (reconfigured !== undefined) {
      // Deliberate: no failure counted, no backoff.
      this.setState('restarting', `${reconfigured}; restart now`);
      this.relaunchAfter(0);
      return;
    }
    if (exit.error) {
      this.lastError = errorMessage(exit.error);
      this.stderrTail = tail;
      if (isFatal(exit.error)) {
        this.setState('failed', this.lastError);
        this.finish('failed');
      } else {
        this.scheduleRestart(this.lastError, ranMs);
      }
      return;
    }
    if (exit.code === 0 && !this.stalled) {
      this.logger.info({ runId }, 'input ended');
      this.setState('stopped', 'input ended');
      this.finish('stopped');
      return;
    }
    const how = this.stalled
      ? `stalled: no frame encoded for ${Math.round(this.stallTimeoutMs / 100) / 10} s`
      : exit.signal
        ? `ffmpeg killed by ${exit.signal}`
        : `ffmpeg exited with code ${exit.code}`;
    const last = tail.at(-1);
    const reason = last && !this.stalled && !exit.signal ? `${how}: ${last}` : how;
    this.lastError = reason;
    this.stderrTail = tail;
    this.logger.warn({ runId, code: exit.code, signal: exit.signal, stderr: tail.slice(-5) }, 'ffmpeg run ended');
    this.scheduleRestart(reason, ranMs);
  }

  /** `ranMs`: how long the failed run worked (0 for a launch that failed). */
  private scheduleRestart(reason: string, ranMs: number): void {
    const decision = this.policy.onFailure(this.clock.now(), ranMs);
    if (!decision.restart) {
      const last = this.stderrTail.at(-1);
      const full = `${decision.reason}; last error: ${reason}${last && !reason.includes(last) ? ` (${last})` : ''}`;
      this.lastError = full;
      this.setState('failed', full);
      this.finish('failed');
      return;
    }
    this.restarts += 1;
    const loop = this.policy.crashLooping() ? ` (crash loop: ${this.policy.consecutiveFailures()} fast failures in a row)` : '';
    this.setState('restarting', `${reason}; restart in ${decision.delayMs} ms${loop}`);
    this.relaunchAfter(decision.delayMs);
  }

  private relaunchAfter(delayMs: number): void {
    const relaunch = (): void => {
      this.restartTimer = undefined;
      if (this.stopping) return;
      this.setState('starting');
      void this.launchGuarded();
    };
    // Immediate restarts still leave the current tick: listeners of the `restarting` event (the
    // channel ending a stream) act before the next run can attach.
    this.restartTimer = setTimeout(relaunch, delayMs);
  }
}

/**
 * ffmpeg's warning for every frame whose size or format differs from the filter graph's input — each
 * frame of a backup input of another size, since the x264 graph is kept across it (`-reinit_filter:v
 * 0`, see the ladder compiler) — is dropped: 30 lines a second would push the lines that say why a
 * run failed out of the kept stderr tail.
 */
function dropFilterPropertyWarning(line: string): string | undefined {
  return line.includes('Changing video frame properties on the fly is not supported by all filters') ? undefined : line;
}
