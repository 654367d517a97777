/**
 * The channel state machine (`src/channels/channel.ts`) on its own: idle → live on publish, live →
 * reconnecting when the publisher leaves, back to live within the grace period or idle (stream ended)
 * after it, stopped by an operator (publishes refused) until start, failed when the ladder cannot
 * start or crash-loops, lifecycle steps serialized, close. The ports the channel declares (packager,
 * metrics, the supervisor of a publish session) are small recording implementations written here;
 * the ladders are the real ones from ladders/. No processes, sockets or disks beyond the ladder files.
 */
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { Channel } from '../../../src/channels/channel.js';
import type { ChannelDeps, ChannelMetricsPort, ChannelPackagerPort, ChannelSupervisorPort } from '../../../src/channels/channel-ports.js';
import type { ChannelConfig } from '../../../src/config/service-config.js';
import type { ChannelState } from '../../../src/core/channel-state.js';
import { ErrorCode, LivepipeError, isLivepipeError } from '../../../src/core/errors.js';
import { EventBus, type TranscoderStateName } from '../../../src/core/event-bus.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { IngestFeed, PublishEndListener, PublishEndReason, PublisherInfo } from '../../../src/ingest/ingest-feed.js';
import { loadLadder, resolveLadder } from '../../../src/ladder/ladder-loader.js';
import type { InputProbe, TranscodeRun } from '../../../src/ladder/run-contract.js';
import type { TranscoderStateSnapshot, TranscoderSupervisorOptions } from '../../../src/transcode/transcoder-supervisor.js';
import { waitFor } from '../../helpers/wait.js';

const SPEC: ChannelConfig = { id: 'news', ladder: 'low-latency', key: 'news-key-0123456789' };

/** The publisher of one publish session, as ingest hands it to the channel. */
class TestFeed implements IngestFeed {
  readonly channel = SPEC.id;
  ended = false;
  opens = 0;
  constructor(
    readonly protocol: 'rtmp' | 'srt' = 'rtmp',
    readonly format: 'flv' | 'mpegts' = protocol === 'rtmp' ? 'flv' : 'mpegts',
  ) {}
  open(): Readable {
    this.opens++;
    return Readable.from([]);
  }
  info(): PublisherInfo {
    const now = new Date().toISOString();
    return { channel: this.channel, protocol: this.protocol, format: this.format, since: now, bytesIn: 0, lastDataAt: now, bitrateBps: 1_000_000, consumers: 1 };
  }
  onEnd(_listener: PublishEndListener): () => void {
    return () => {};
  }
}

/** A supervisor stand-in: its start resolves (or fails) when the test says, its end is an event. */
class TestSupervisor implements ChannelSupervisorPort {
  private current: TranscoderStateName = 'idle';
  private lastError: string | undefined;
  private restarts = 0;
  private resolveEnd!: (state: TranscoderStateName) => void;
  private readonly end = new Promise<TranscoderStateName>((resolve) => (this.resolveEnd = resolve));

  constructor(
    readonly options: TranscoderSupervisorOptions,
    private readonly log: string[],
    private readonly starting: () => Promise<void>,
  ) {}

  async start(): Promise<void> {
    this.log.push('supervisor.start');
    this.current = 'starting';
    try {
      await this.starting();
    } catch (err) {
      this.fail((err as Error).message);
      throw err;
    }
    this.current = 'running';
    this.log.push('supervisor.running');
  }

  /** Ladders the behind-realtime policy asked for (`reconfigure`), with the reason. */
  readonly reconfigured: Array<{ ladder: TranscoderSupervisorOptions['ladder']; reason: string }> = [];

  reconfigure(ladder: TranscoderSupervisorOptions['ladder'], reason: string): boolean {
    this.log.push('supervisor.reconfigure');
    this.reconfigured.push({ ladder, reason });
    return true;
  }

  stop(): Promise<void> {
    this.log.push('supervisor.stop');
    if (this.current !== 'failed') this.current = 'stopped';
    this.resolveEnd(this.current);
    return Promise.resolve();
  }

  state(): TranscoderStateSnapshot {
    return {
      channel: this.options.channel,
      state: this.current,
      runId: 1,
      pid: undefined,
      restarts: this.restarts,
      runStartedAt: undefined,
      uptimeMs: 0,
      lastProgress: undefined,
      lastError: this.lastError,
      stderrTail: [],
      decisions: [],
      droppedRenditions: [],
      consecutiveFailures: 0,
      crashLooping: false,
      failingSince: undefined,
    };
  }

  finished(): Promise<TranscoderStateName> {
    return this.end;
  }

  /** The crash-loop guard gave up: the supervisor ends `failed` after `restarts` restarts. */
  crashLoop(reason: string, restarts: number): void {
    this.restarts = restarts;
    this.fail(reason);
  }

  /** A run reached the packager (what the real supervisor does once ffmpeg's outputs exist). */
  async emitRun(): Promise<TranscodeRun> {
    const probe: InputProbe = { width: 640, height: 360, frameRate: 30, videoCodec: 'h264', hasAudio: true, audioCodec: 'aac' };
    const run: TranscodeRun = {
      channel: this.options.channel,
      runId: 1,
      startedAt: Date.now(),
      mediaStartedAt: () => Date.now(),
      probe,
      ladder: resolveLadder(this.options.ladder, probe),
      outputs: [],
      ended: new Promise(() => {}),
    };
    this.options.onRun?.(run);
    return run;
  }

  private fail(reason: string): void {
    this.current = 'failed';
    this.lastError = reason;
    this.resolveEnd('failed');
  }
}

class RecordingPackager implements ChannelPackagerPort {
  readonly runs: TranscodeRun[] = [];
  stored: { restored: number; live: number } | undefined;
  constructor(private readonly log: string[]) {}
  attachRun(run: TranscodeRun): void {
    this.log.push('packager.attachRun');
    this.runs.push(run);
  }
  async endStream(): Promise<void> {
    this.log.push('packager.endStream');
  }
  bridgeEncoderGap(fill: 'held' | 'gap'): void {
    this.log.push(fill === 'gap' ? 'packager.bridgeEncoderGap' : `packager.bridgeEncoderGap(${fill})`);
  }
  async restore(): Promise<{ restored: number; live: number }> {
    this.log.push('packager.restore');
    return this.stored ?? { restored: 0, live: 0 };
  }
  positions(): Array<{ rendition: string; lastMsn: number; lastPart: number }> {
    return [{ rendition: '360p', lastMsn: 7, lastPart: 2 }];
  }
  async close(): Promise<void> {
    this.log.push('packager.close');
  }
}

class RecordingMetrics implements ChannelMetricsPort {
  readonly states: ChannelState[] = [];
  readonly adjustments: Array<{ presetSteps: number; droppedRenditions: number }> = [];
  setChannelLadderAdjustment(_channel: string, adjustment: { presetSteps: number; droppedRenditions: number }): void {
    this.adjustments.push(adjustment);
  }
  restarts = 0;
  setChannelState(_channel: string, state: ChannelState): void {
    this.states.push(state);
  }
  setEncoderProgress(): void {}
  countTranscoderRestart(): void {
    this.restarts++;
  }
  setTranscoderCrashLooping(): void {}
}

function deferred(): { promise: Promise<void>; resolve(): void; reject(err: Error): void } {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const channels: Channel[] = [];

/** A channel over the recording ports; `supervisorStarts` decides how each new supervisor's start ends (default: at once). */
function harness(deps: Partial<ChannelDeps> = {}, spec: ChannelConfig = SPEC) {
  const log: string[] = [];
  const packager = new RecordingPackager(log);
  const metrics = new RecordingMetrics();
  const supervisors: TestSupervisor[] = [];
  const supervisorStarts: Array<() => Promise<void>> = [];
  const kicked: string[] = [];
  /** What each kick told the publisher (undefined: nothing). */
  const refusals: Array<string | undefined> = [];
  const packagersCreated: string[] = [];
  let publisherConnected = true;
  const channel = new Channel(spec, {
    bus: new EventBus(),
    logger: silentLogger(),
    loadLadder: (name) => loadLadder(name),
    createPackager: async (id) => {
      packagersCreated.push(id);
      return packager;
    },
    kickPublisher: (id, _role, refusal) => {
      kicked.push(id);
      refusals.push(refusal);
      log.push('kick');
      return publisherConnected;
    },
    metrics,
    urls: (id) => ({ playback: `http://origin.test/live/${id}/master.m3u8`, rtmp: `rtmp://ingest.test/live/${id}?key={key}` }),
    reconnectGraceMs: 60_000,
    createSupervisor: (options) => {
      const supervisor = new TestSupervisor(options, log, supervisorStarts.shift() ?? (() => Promise.resolve()));
      supervisors.push(supervisor);
      return supervisor;
    },
    ...deps,
  });
  channels.push(channel);
  return {
    channel,
    log,
    packager,
    metrics,
    supervisors,
    supervisorStarts,
    kicked,
    refusals,
    packagersCreated,
    set publisherConnected(value: boolean) {
      publisherConnected = value;
    },
    /** The latest supervisor. */
    get supervisor(): TestSupervisor {
      return supervisors[supervisors.length - 1]!;
    },
  };
}

afterEach(async () => {
  await Promise.all(channels.splice(0).map((c) => c.close()));
});

describe('Channel state machine', () => {
  it('starts idle, and a publish makes it live: packager opened once, ladder loaded, a supervisor reading the feed', async () => {
    const h = harness();
    expect(h.channel.currentState).toBe('idle');
    expect(h.metrics.states).toEqual(['idle']);

    const feed = new TestFeed('srt');
    await h.channel.onPublishStarted(feed);
    expect(h.channel.currentState).toBe('live');
    expect(h.metrics.states).toEqual(['idle', 'live']);
    expect(h.packagersCreated).toEqual(['news']);
    expect(h.supervisors).toHaveLength(1);
    const options = h.supervisor.options;
    expect(options.channel).toBe('news');
    expect(options.input).toEqual({ kind: 'stdin', format: 'mpegts' });
    expect(options.ladder.video.map((v) => v.name)).toContain('360p');
    expect(options.knownProbe).toBeUndefined();
    options.openInput!();
    expect(feed.opens).toBe(1);
    // A run reaches the packager through the supervisor's onRun.
    const run = await h.supervisor.emitRun();
    expect(h.packager.runs).toEqual([run]);
    expect(h.channel.view()).toMatchObject({ id: 'news', state: 'live', keyLast4: '6789', mediaSequence: 7, publisher: { protocol: 'srt' } });
  });

  it('says reconnecting while the ladder stops after the publisher left, not live with no publisher', async () => {
    const h = harness({ reconnectGraceMs: 100 });
    await h.channel.onPublishStarted(new TestFeed());
    const supervisor = h.supervisors[0]!;
    const stop = supervisor.stop.bind(supervisor);
    const seenWhileStopping: Array<{ state: string; publisher: unknown }> = [];
    supervisor.stop = () => {
      seenWhileStopping.push({ state: h.channel.currentState, publisher: h.channel.view().publisher });
      return stop();
    };
    await h.channel.onPublishEnded('disconnect');
    expect(seenWhileStopping).toEqual([{ state: 'reconnecting', publisher: undefined }]);
    expect(h.metrics.states).toEqual(['idle', 'live', 'reconnecting']);
  });

  it('goes reconnecting when the publisher leaves, and back to live in the same playlists when it returns within the grace period', async () => {
    const h = harness({ reconnectGraceMs: 100 });
    await h.channel.onPublishStarted(new TestFeed());
    await h.channel.onPublishEnded('disconnect');
    expect(h.channel.currentState).toBe('reconnecting');
    expect(h.log).toContain('supervisor.stop');
    // The playlists keep moving (gap parts, not a held picture: readers must see the source is gone)
    // while the channel waits for the publisher.
    expect(h.log.indexOf('packager.bridgeEncoderGap')).toBeGreaterThan(h.log.indexOf('supervisor.stop'));
    expect(h.channel.view().publisher).toBeUndefined();

    await h.channel.onPublishStarted(new TestFeed());
    expect(h.channel.currentState).toBe('live');
    expect(h.supervisors).toHaveLength(2);
    // The same packager continues (one per channel); the grace timer was cleared: no end of stream.
    expect(h.packagersCreated).toEqual(['news']);
    await new Promise((r) => setTimeout(r, 300));
    expect(h.channel.currentState).toBe('live');
    expect(h.log).not.toContain('packager.endStream');
    expect(h.metrics.states).toEqual(['idle', 'live', 'reconnecting', 'live']);
  });

  it('ends the stream (EXT-X-ENDLIST) and goes idle when the grace period passes without the publisher', async () => {
    const h = harness({ reconnectGraceMs: 50 });
    await h.channel.onPublishStarted(new TestFeed());
    await h.channel.onPublishEnded('error');
    expect(h.channel.currentState).toBe('reconnecting');
    expect(h.log).not.toContain('packager.endStream');
    await waitFor(() => h.channel.currentState === 'idle', { timeoutMs: 5_000, intervalMs: 10, message: 'idle after the grace period' });
    expect(h.log.filter((e) => e === 'packager.endStream')).toHaveLength(1);
    expect(h.metrics.states).toEqual(['idle', 'live', 'reconnecting', 'idle']);
  });

  it('stays idle (nothing to wait for) when the publish ends because the process shuts down', async () => {
    const h = harness();
    await h.channel.onPublishStarted(new TestFeed());
    await h.channel.onPublishEnded('shutdown');
    expect(h.log).toContain('supervisor.stop');
    expect(h.log).not.toContain('packager.bridgeEncoderGap');
    expect(h.channel.currentState).toBe('live');
    expect(h.metrics.states).toEqual(['idle', 'live']);
  });

  it('stop: kicks the publisher, stops the ladder, ends the stream, and refuses publishes until start', async () => {
    const h = harness();
    await h.channel.onPublishStarted(new TestFeed());
    await h.channel.stop();
    expect(h.channel.currentState).toBe('stopped');
    expect(h.log.slice(-3)).toEqual(['kick', 'supervisor.stop', 'packager.endStream']);

    // The kicked publisher's end does not make a stopped channel reconnect.
    await h.channel.onPublishEnded('kicked');
    expect(h.channel.currentState).toBe('stopped');

    // A publisher coming back is refused: kicked at once, no ladder started.
    await h.channel.onPublishStarted(new TestFeed());
    expect(h.channel.currentState).toBe('stopped');
    expect(h.kicked).toEqual(['news', 'news']);
    expect(h.supervisors).toHaveLength(1);

    await h.channel.start();
    expect(h.channel.currentState).toBe('idle');
    await h.channel.onPublishStarted(new TestFeed());
    expect(h.channel.currentState).toBe('live');
    expect(h.metrics.states).toEqual(['idle', 'live', 'stopped', 'idle', 'live']);
  });

  it('stop during the grace period ends the stream once and never goes idle by itself', async () => {
    const h = harness({ reconnectGraceMs: 50 });
    await h.channel.onPublishStarted(new TestFeed());
    await h.channel.onPublishEnded('disconnect');
    await h.channel.stop();
    await new Promise((r) => setTimeout(r, 200));
    expect(h.channel.currentState).toBe('stopped');
    expect(h.log.filter((e) => e === 'packager.endStream')).toHaveLength(1);
    // No publisher to kick when stopped while reconnecting.
    expect(h.kicked).toEqual([]);
  });

  it('start is a no-op unless stopped or failed', async () => {
    const h = harness();
    await h.channel.start();
    expect(h.channel.currentState).toBe('idle');
    await h.channel.onPublishStarted(new TestFeed());
    await h.channel.start();
    expect(h.channel.currentState).toBe('live');
    expect(h.metrics.states).toEqual(['idle', 'live']);
  });

  it('fails when the crash-loop guard gives up, keeps the reason while the publisher goes, and retries on the next publish', async () => {
    const h = harness();
    await h.channel.onPublishStarted(new TestFeed());
    h.supervisor.crashLoop('ffmpeg exited with code 1 (5 times in 60 s)', 4);
    await waitFor(() => h.channel.currentState === 'failed', { timeoutMs: 5_000, intervalMs: 10, message: 'failed' });
    expect(h.channel.view().transcoder).toMatchObject({ state: 'failed', lastError: 'ffmpeg exited with code 1 (5 times in 60 s)', restarts: 4 });

    // The publisher then leaves: the channel stays failed (no reconnecting), the reason stays visible.
    await h.channel.onPublishEnded('disconnect');
    expect(h.channel.currentState).toBe('failed');
    expect(h.channel.view().transcoder.lastError).toBe('ffmpeg exited with code 1 (5 times in 60 s)');

    await h.channel.onPublishStarted(new TestFeed());
    expect(h.channel.currentState).toBe('live');
    expect(h.metrics.states).toEqual(['idle', 'live', 'failed', 'live']);
  });

  it('fails and drops the publisher when the ladder cannot start (supervisor start rejects)', async () => {
    const h = harness();
    h.supervisorStarts.push(() => Promise.reject(new LivepipeError(ErrorCode.InputUnusable, 'input has no video stream')));
    await h.channel.onPublishStarted(new TestFeed());
    expect(h.channel.currentState).toBe('failed');
    expect(h.kicked).toEqual(['news']);
    // The publisher is told why (RTMP: an error onStatus before the close).
    expect(h.refusals).toEqual(['channel news cannot run: input has no video stream']);
    expect(h.channel.view().transcoder).toMatchObject({ state: 'idle', lastError: 'input has no video stream' });
  });

  it('fails and drops the publisher when the ladder file cannot be loaded', async () => {
    const h = harness({}, { ...SPEC, ladder: 'no-such-ladder' });
    await h.channel.onPublishStarted(new TestFeed());
    expect(h.channel.currentState).toBe('failed');
    expect(h.kicked).toEqual(['news']);
    expect(h.supervisors).toHaveLength(0);
    expect(h.channel.view().transcoder.lastError).toMatch(/^ladder "no-such-ladder": /);
  });

  it('fails with ingest\'s reason when the publisher\'s media is unusable', async () => {
    const h = harness();
    await h.channel.onPublishStarted(new TestFeed());
    await h.channel.onPublishEnded('unusable', 'the publisher sends no video');
    expect(h.channel.currentState).toBe('failed');
    expect(h.channel.view().transcoder.lastError).toBe('the publisher sends no video');
  });

  it('serializes lifecycle steps: a publish end waits for the publish start in flight', async () => {
    const h = harness();
    const gate = deferred();
    h.supervisorStarts.push(() => gate.promise);
    const started = h.channel.onPublishStarted(new TestFeed());
    const ended = h.channel.onPublishEnded('disconnect');
    await waitFor(() => h.log.includes('supervisor.start'), { timeoutMs: 5_000, intervalMs: 5, message: 'the supervisor starting' });
    await new Promise((r) => setTimeout(r, 20));
    expect(h.log).toEqual(['supervisor.start']);
    expect(h.channel.currentState).toBe('idle');

    gate.resolve();
    await Promise.all([started, ended]);
    expect(h.log).toEqual(['supervisor.start', 'supervisor.running', 'supervisor.stop', 'packager.bridgeEncoderGap']);
    expect(h.metrics.states).toEqual(['idle', 'live', 'reconnecting']);
  });

  it('a step that throws does not block the next one', async () => {
    const h = harness();
    h.publisherConnected = false;
    const restart = h.channel.restart();
    const kick = h.channel.kick();
    const publish = h.channel.onPublishStarted(new TestFeed());
    await expect(restart).rejects.toSatisfy((err: unknown) => isLivepipeError(err, ErrorCode.Conflict));
    await expect(kick).rejects.toThrow(/no publisher to kick/);
    await publish;
    expect(h.channel.currentState).toBe('live');
  });

  it('an operator restart replaces the supervisor, reusing the probe of the same publish session', async () => {
    const h = harness();
    const feed = new TestFeed();
    await h.channel.onPublishStarted(feed);
    const run = await h.supervisor.emitRun();
    await h.channel.restart();
    expect(h.log).toEqual(['supervisor.start', 'supervisor.running', 'packager.attachRun', 'supervisor.stop', 'supervisor.start', 'supervisor.running']);
    expect(h.supervisor.options.knownProbe).toEqual(run.probe);
    expect(h.metrics.restarts).toBe(1);
    expect(h.channel.view().transcoder.restarts).toBe(1);
    expect(h.channel.currentState).toBe('live');

    // A new publish session probes again.
    await h.channel.onPublishEnded('disconnect');
    await h.channel.onPublishStarted(new TestFeed());
    expect(h.supervisor.options.knownProbe).toBeUndefined();
  });

  it('a spec change: a rotated key drops the publisher, a new ladder restarts the running one', async () => {
    const h = harness();
    await h.channel.onPublishStarted(new TestFeed());
    await h.channel.updateSpec({ ...SPEC, key: 'rotated-key-0123456789' }, ['key']);
    expect(h.kicked).toEqual(['news']);
    expect(h.supervisors).toHaveLength(1);

    await h.channel.updateSpec({ ...SPEC, ladder: 'default' }, ['ladder']);
    expect(h.supervisors).toHaveLength(2);
    expect(h.supervisor.options.ladder.video.map((v) => v.name)).toContain('1080p');
    expect(h.channel.view().ladder).toBe('default');
    expect(h.channel.currentState).toBe('live');
  });

  it("a channel's audioTracks reach the supervisor's ladder (over the ladder's), and a change of them restarts the running ladder", async () => {
    const tracks = [{ track: 1, language: 'es', name: 'Español', default: true }, { track: 0, language: 'en' }];
    const h = harness({}, { ...SPEC, audioTracks: tracks });
    await h.channel.onPublishStarted(new TestFeed());
    expect(h.supervisor.options.ladder.audioTracks).toEqual(tracks);
    expect(h.supervisor.options.ladder.video.map((v) => v.name)).toContain('360p');

    await h.channel.updateSpec({ ...SPEC, audioTracks: [{ track: 0, name: 'Main' }] }, ['audioTracks']);
    expect(h.supervisors).toHaveLength(2);
    expect(h.supervisor.options.ladder.audioTracks).toEqual([{ track: 0, name: 'Main' }]);
    await h.channel.updateSpec(SPEC, ['audioTracks']);
    expect(h.supervisors).toHaveLength(3);
    expect(h.supervisor.options.ladder.audioTracks).toBeUndefined(); // low-latency lists none
    expect(h.channel.currentState).toBe('live');
  });

  it('restore: stored playlists that were live wait out the grace period, then end', async () => {
    const h = harness({ reconnectGraceMs: 50 });
    h.packager.stored = { restored: 2, live: 2 };
    await h.channel.restore();
    expect(h.channel.currentState).toBe('reconnecting');
    await waitFor(() => h.channel.currentState === 'idle', { timeoutMs: 5_000, intervalMs: 10, message: 'idle after the grace period' });
    expect(h.log).toEqual(['packager.restore', 'packager.endStream']);
  });

  it('restore: stored playlists already ended leave the channel idle', async () => {
    const h = harness();
    h.packager.stored = { restored: 2, live: 0 };
    await h.channel.restore();
    expect(h.channel.currentState).toBe('idle');
  });

  it('close stops the ladder and closes the packager; the grace timer and publish ends after it change nothing', async () => {
    const h = harness({ reconnectGraceMs: 50 });
    await h.channel.onPublishStarted(new TestFeed());
    await h.channel.onPublishEnded('disconnect');
    await h.channel.close();
    expect(h.log.slice(-1)).toEqual(['packager.close']);
    await new Promise((r) => setTimeout(r, 200));
    expect(h.log).not.toContain('packager.endStream');
    expect(h.channel.currentState).not.toBe('idle');

    const live = harness();
    await live.channel.onPublishStarted(new TestFeed());
    await live.channel.close();
    await live.channel.onPublishEnded('disconnect');
    expect(live.log).toEqual(['supervisor.start', 'supervisor.running', 'supervisor.stop', 'packager.close']);
    expect(live.channel.currentState).not.toBe('reconnecting');
  });
});

describe('Channel behind realtime (capacity.behindPolicy)', () => {
  const behind = { behind: true, edgeLagSeconds: 4.2, speed: 0.6, reason: 'behind: encoding at 0.60× realtime, edge 4.2 s behind arrival' };

  it('cheaper-preset: each flag restarts the encoder one x264 preset faster, shown in the view and a metric; a new publish starts from the ladder again', async () => {
    const h = harness({ behindPolicy: 'cheaper-preset' });
    await h.channel.onPublishStarted(new TestFeed());
    await h.supervisor.emitRun();
    expect(h.supervisor.options.ladder.video.map((v) => v.preset)).toEqual(['veryfast', 'veryfast', 'veryfast']);

    h.supervisor.options.onRealtime!(behind);
    await waitFor(() => h.supervisor.reconfigured.length === 1 || undefined, { timeoutMs: 2000, intervalMs: 5 });
    const first = h.supervisor.reconfigured[0]!;
    expect(first.ladder.video.map((v) => v.preset)).toEqual(['superfast', 'superfast', 'superfast']);
    expect(first.reason).toBe(`behind realtime (${behind.reason}): x264 preset one step faster (360p veryfast → superfast)`);
    expect(h.channel.view().transcoder.ladderAdjustment).toEqual({ policy: 'cheaper-preset', presetSteps: 1, presets: { '720p': 'superfast', '480p': 'superfast', '360p': 'superfast' }, droppedRenditions: [] });
    expect(h.metrics.adjustments.at(-1)).toEqual({ presetSteps: 1, droppedRenditions: 0 });

    // The new run catches up during its warm-up, then is flagged again: one more step, then no further.
    h.supervisor.options.onRealtime!({ behind: false, edgeLagSeconds: 0.5, speed: undefined });
    h.supervisor.options.onRealtime!(behind);
    await waitFor(() => h.supervisor.reconfigured.length === 2 || undefined, { timeoutMs: 2000, intervalMs: 5 });
    expect(h.supervisor.reconfigured[1]!.ladder.video.map((v) => v.preset)).toEqual(['ultrafast', 'ultrafast', 'ultrafast']);
    h.supervisor.options.onRealtime!({ behind: false, edgeLagSeconds: 0.5, speed: undefined });
    h.supervisor.options.onRealtime!(behind);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(h.supervisor.reconfigured).toHaveLength(2);

    // A new publish session runs the ladder as configured.
    await h.channel.onPublishEnded('disconnect');
    await h.channel.onPublishStarted(new TestFeed());
    expect(h.supervisor.options.ladder.video.map((v) => v.preset)).toEqual(['veryfast', 'veryfast', 'veryfast']);
    expect(h.channel.view().transcoder.ladderAdjustment).toBeUndefined();
    expect(h.metrics.adjustments.at(-1)).toEqual({ presetSteps: 0, droppedRenditions: 0 });
  });

  it('drop-top-rendition: never takes off the last video rendition (the e2e drops 1080p of a 1080p60 source)', async () => {
    const h = harness({ behindPolicy: 'drop-top-rendition' });
    await h.channel.onPublishStarted(new TestFeed());
    await h.supervisor.emitRun(); // a 640x360 source: low-latency keeps only 360p, the last video rendition
    h.supervisor.options.onRealtime!(behind);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(h.supervisor.reconfigured).toEqual([]);
  });

  it.each(['warn', 'refuse-new', undefined] as const)('%s: a channel behind realtime keeps its encoder', async (policy) => {
    const h = harness(policy !== undefined ? { behindPolicy: policy } : {});
    await h.channel.onPublishStarted(new TestFeed());
    await h.supervisor.emitRun();
    h.supervisor.options.onRealtime!(behind);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(h.supervisor.reconfigured).toEqual([]);
    expect(h.channel.view().transcoder.ladderAdjustment).toBeUndefined();
  });
});
