import { errorMessage, ErrorCode, isLivepipeError } from '../core/errors.js';
import { isValidId } from '../core/ids.js';
import type { Logger } from '../core/logger.js';
import type { ObjectStorage, PutOptions } from '../storage/object-storage.js';
import type { MediaPlacement, UploadQueue } from '../storage/upload-queue.js';
import type { ResolvedLadder } from '../ladder/ladder-loader.js';
import { runPartTarget } from '../ladder/part-target.js';
import type { TranscodeRun } from '../ladder/run-contract.js';
import { multivariantOutdated } from './bitrate-meter.js';
import { buildMultivariant, firstMultivariantDue, multivariantRenditions } from './multivariant-builder.js';
import { lastPosition, listedMediaEnd, type MediaPlaylist, type MultivariantPlaylist } from '../hls/playlist-model.js';
import { parseMediaPlaylist } from '../hls/playlist-parser.js';
import { serializeMediaPlaylist, serializeMultivariantPlaylist } from '../hls/playlist-serializer.js';
import { RenditionPackager, type RenditionChange, type RunTimes } from './rendition-packager.js';
import { MuxedFeed, SharedAudioFeed, streamFeed } from './fragment-feed.js';
import { CueSchedule, type Cue } from './cue-schedule.js';
import { RenditionTimeline, renditionReportsFor, runIdOf } from './rendition-timeline.js';
import { RunAlignment } from './run-alignment.js';
import { LeadLimiter } from './lead-limiter.js';
import { targetDurationFor } from './segment-cutter.js';

/** What the packager reports to the metrics registry (a narrow view of `Metrics`). */
/** One media playlist version as written to storage (see `ChannelPackagerOptions.onPlaylistStored`). */
export interface StoredPlaylistVersion {
  text: string;
  msn: number;
  part: number;
  ended: boolean;
}

export interface PackagerMetricsPort {
  countPart(channel: string, rendition: string): void;
  countSegment(channel: string, rendition: string): void;
  observePartLatency(channel: string, rendition: string, seconds: number): void;
}

export interface ChannelPackagerOptions {
  channel: string;
  /** Reads and lists (resume) and deletes. */
  storage: Pick<ObjectStorage, 'get' | 'delete' | 'list'>;
  /** Every write goes through the channel's upload queue. */
  uploads: Pick<UploadQueue, 'put' | 'putLatest'>;
  logger: Logger;
  metrics?: PackagerMetricsPort;
  /** Seconds of segments kept in live playlists (DVR window); default the timeline's (60 s). */
  dvrWindowSeconds?: number;
  /**
   * Called with every new model of a media playlist, after the media it names is stored: the
   * embedded origin's `EmbeddedSource.publish`, which releases held requests in-process.
   */
  onPlaylist?: (channel: string, rendition: string, model: MediaPlaylist) => void;
  /**
   * Called once a media playlist version is in storage (or a newer one is: the same or an older
   * model can come again), with the model stored: cluster mode notifies standalone origins with it.
   * `stored` is that version as it was written — its text and last position, taken at the PUT: the
   * model object itself keeps growing while the PUT is under way (it is the live timeline's).
   */
  onPlaylistStored?: (channel: string, rendition: string, model: MediaPlaylist, stored: StoredPlaylistVersion) => void;
  clock?: () => number;
  /**
   * List audio parts that arrive in bursts at an even pace (`BurstPacer`, docs/latency.md "SRT
   * publishers"). Default true; parts that arrive evenly are never held either way.
   */
  paceAudioBursts?: boolean;
  /** How often due deletions run, ms (default 1000). */
  deletionIntervalMs?: number;
}

const PLAYLIST_TYPE = 'application/vnd.apple.mpegurl';
/** Cache-Control stored with playlists, for CDNs reading storage directly; the origin sets its own. */
const PLAYLIST_CACHE = 'no-cache';
const MEDIA_CACHE = 'public, max-age=31536000, immutable';
/** How long `close()` waits for the first master's media playlists to be stored before giving up. */
const MASTER_HANDOVER_WAIT_MS = 2000;

/**
 * The LL-HLS packager of one channel: turns each transcoder run's fragmented-MP4 outputs into parts,
 * segments and playlists in storage under `live/{channel}/`. Keeps the stream continuous across
 * transcoder restarts (a discontinuity, a new init segment, media sequence numbers only increasing)
 * and across process restarts (each rendition's playlist is read back from storage before its first
 * run). Objects leave storage on the timeline's schedule (parts 3 target durations after they left
 * the playlist, segments when they slide out of the DVR window).
 */
export class ChannelPackager {
  readonly channel: string;
  private readonly renditions = new Map<string, RenditionPackager>();
  /** Holds every rendition to within a part of a paced one (bursty audio): they advance together. */
  private readonly leadLimiter = new LeadLimiter();
  /** The ladder timing each rendition packager was built for (part target, segment duration), s. */
  private readonly timing = new Map<string, { part: number; segment: number }>();
  /** Media of playlists replaced after a ladder change, deleted once players are done with it. */
  private retired: Array<{ at: number; keys: string[] }> = [];
  private readonly logger: Logger;
  private readonly clock: () => number;
  /** The packager's own run numbering: init names stay unique across supervisors and processes. */
  private lastRunId = 0;
  /** Runs this packager started (the first one may list the hole since the stored media ended). */
  private runsStarted = 0;
  private runsInFlight = new Set<Promise<void>>();
  private ladder: ResolvedLadder | undefined;
  /** The current run's source carries CEA-608/708 captions (its probe): the master signals CC1, else NONE. */
  private closedCaptions = false;
  /** The current run muxes its audio into every video rendition (the ladder's `muxAudio`, and the run has audio). */
  private muxedAudio = false;
  /** Every rendition's model by name (for rendition reports); rebuilt when renditions come or go. */
  private playlistsByRendition: Map<string, MediaPlaylist> | undefined;
  /** The multivariant playlist last handed to storage. */
  private masterWritten: MultivariantPlaylist | undefined;
  /** Until the first master is written: each rendition's latest media playlist upload (stored or failed). */
  private readonly playlistsStored = new Map<string, Promise<void>>();
  /**
   * Settles once the media playlists the first master waited for are stored; every master is handed
   * to the queue right after it (so this is also what `close()` waits for).
   */
  private masterStoredAfter: Promise<void> | undefined;
  private deletionTimer: NodeJS.Timeout | undefined;
  /** Renditions whose deletions wait until then (epoch ms): their stored playlist lagged (see `runDeletions`). */
  private readonly deletionsHeldUntil = new Map<string, number>();
  /** Objects a previous process left behind (its deletion schedule died with it); see `findLeftovers`. */
  private leftovers: Array<{ key: string; at: number }> = [];
  private attachChain: Promise<void> = Promise.resolve();
  /** Playlists read back from storage by `restore()` that no run has taken over yet, by rendition. */
  private readonly restored = new Map<string, MediaPlaylist>();
  private closed = false;
  /** Ad cues waiting for their segment boundary in every rendition (`addCue`). */
  private readonly cues = new CueSchedule((cue, startDate, offsetMs) =>
    this.logger.info(
      { id: cue.id, kind: cue.kind, at: new Date(cue.at).toISOString(), startDate: new Date(startDate).toISOString(), offsetMs: Math.round(offsetMs) },
      'ad cue placed (offsetMs: START-DATE − splice; a cut at its keyed frame, or the next boundary)',
    ),
  );
  /** The gap bridge while the encoder is down (`bridgeEncoderGap`); `bridgeToken` cancels one not started yet. */
  private bridgeTimer: NodeJS.Timeout | undefined;
  private bridgeToken = 0;
  /** Rendition names of the last run attached (what a gap bridge keeps moving). */
  private runRenditions: string[] = [];
  /** The last run attached: its wall-clock anchor (what `spliceAt` dates a cut by). */
  private currentRun: { anchor: () => RunTimes } | undefined;

  constructor(private readonly options: ChannelPackagerOptions) {
    this.channel = options.channel;
    this.logger = options.logger.child({ component: 'packager', channel: options.channel });
    this.clock = options.clock ?? Date.now;
  }

  async start(): Promise<void> {
    this.deletionTimer = setInterval(() => void this.runDeletions(), this.options.deletionIntervalMs ?? 1000);
    this.deletionTimer.unref();
  }

  /** Consumes a run's outputs. Resuming state from storage happens before the first bytes are read. */
  attachRun(run: TranscodeRun): void {
    // Attach in order (a later run must not overtake an earlier one's resume), without blocking the
    // caller: the streams are paused until their rendition is ready.
    for (const output of run.outputs) output.stream.pause();
    this.attachChain = this.attachChain.then(() => this.startRun(run)).catch((err) => {
      this.logger.error({ err: errorMessage(err), runId: run.runId }, 'run could not be packaged');
      for (const output of run.outputs) output.stream.resume();
    });
  }

  /**
   * An ad cue: EXT-X-DATERANGE at the first segment boundary at or after `cue.at`, in every rendition
   * (`cue-schedule.ts`; the next natural boundary, the offset logged) — unless `spliceAt` binds it to
   * a cut at its keyed frame.
   */
  addCue(cue: Cue): void {
    this.logger.info({ id: cue.id, kind: cue.kind, at: new Date(cue.at).toISOString() }, 'ad cue scheduled');
    this.cues.add(cue);
  }

  /**
   * The splice frame of `cue` (as given to `addCue`) was keyed by the relay (`keyframes: marked`) at
   * `mediaSeconds` of the current run's timeline: every rendition of the run cuts a segment there, and
   * the cue's START-DATE is that segment's PROGRAM-DATE-TIME (the run's anchor plus its media time, as
   * the timeline dates segments). All renditions cut or none (the renditions stay on the same
   * segments): when one refuses (its output already passed that time, or no media yet), the cut is
   * withdrawn and the cue lands at the next boundary as without marks. Returns whether it was cut.
   */
  spliceAt(cue: Cue, mediaSeconds: number): boolean {
    const run = this.currentRun;
    const renditions = this.lastRunRenditions();
    const fields = { id: cue.id, kind: cue.kind, mediaSeconds };
    if (run === undefined || renditions.length === 0 || !this.cues.bindable(cue)) {
      this.logger.warn(fields, 'ad splice keyed but not cut: no run, or the cue was placed already');
      return false;
    }
    const accepted = renditions.filter((r) => r.cutAt(mediaSeconds));
    if (accepted.length < renditions.length) {
      for (const r of accepted) r.cancelCut(mediaSeconds);
      const refused = renditions.filter((r) => !accepted.includes(r)).map((r) => r.name);
      this.logger.warn({ ...fields, refused }, 'ad splice keyed but not cut (a rendition had passed it): the cue lands at the next boundary');
      return false;
    }
    return this.cues.bind(cue, Math.round(run.anchor().wallclockAnchor + mediaSeconds * 1000));
  }

  /**
   * The encoder failed and is being restarted (the channel calls this when its supervisor reports
   * `restarting` after a crash): until the next run's first media, every rendition lists one part per
   * part target — closing a segment every segment duration — so the live edge keeps moving while the
   * encoder is down (issue 15: "while the encoder is down, the playlist keeps moving"). With `held`
   * a part is media where the rendition can make it (`OutageFill`: the last run's keyframe held,
   * silence on AAC-LC audio), else a GAP part (a muxed variant, a run that died before its first
   * keyframe): hls.js skips GAP parts in low-latency mode without tracking them and then could not
   * jump the hole to the next run's media, standing still 10–40 s at about one restart in seven.
   * `gap` (the publisher left: the channel also bridges while it may come back) lists GAP parts
   * only: the source's media is missing, and readers of the playlists must be able to tell.
   * Without it every blocking playlist request waits out the restart, and hls.js, which gives such a
   * request max(3 × PART-TARGET, 0.8 × TARGETDURATION) (0.8 s on the low-latency ladder), times out
   * again and again and fails fatally (`audioTrackLoadTimeOut`) once three time out in a row. Starts
   * once the failed run's packaging has settled; ends at the next run's first init segment, at
   * `endStream()` or at `close()`.
   *
   * The bridge is one timeline shared by the renditions of the last run (§6.2.4: renditions share
   * segment boundaries, timestamps and media sequence numbers). Before its first part they are
   * brought in step as before a run (`alignRenditions`: a run that ended with media in some outputs
   * only left the others a segment behind); its segments then open under the same msn everywhere and
   * carry one program date-time, the end of the media listed in any rendition (the outputs of a run
   * end at different frames: dates taken from each rendition's own end differed by up to 0.3 s); and
   * every rendition gets each gap part in the same tick. A rendition that cannot list gap parts (it
   * never had a run, or its stream ended) means no bridge at all: bridging only some renditions
   * numbered their segments apart (issue 15).
   */
  bridgeEncoderGap(fill: 'held' | 'gap' = 'held'): void {
    if (this.closed || this.bridgeTimer !== undefined || this.ladder === undefined) return;
    const token = ++this.bridgeToken;
    const part = runPartTarget(this.ladder);
    const perSegment = Math.max(1, Math.round(this.ladder.ladder.segment / part));
    const wanted = (): boolean => token === this.bridgeToken && !this.closed;
    let renditions: RenditionPackager[] = [];
    // After the failed run's attachment (a run can fail before the packager reached it) and packaging.
    void this.attachChain
      .then(async () => {
        renditions = this.lastRunRenditions();
        await this.alignRenditions(renditions, wanted);
      })
      .then(() => {
        if (!wanted()) return;
        // Bridged from the end of the listed media: none listed yet, no viewer is waiting either (the
        // first multivariant playlist waits for a segment in every rendition).
        const start = this.endOfListedMedia();
        if (start === 0 || renditions.length === 0 || !renditions.every((r) => r.canBridge)) {
          this.logger.info('encoder down before every rendition had a run and media was listed: no gap bridge');
          return;
        }
        let listed = 0;
        const filled = fill === 'held' ? renditions.filter((r) => r.fillsOutage).map((r) => r.name) : [];
        const gaps = renditions.filter((r) => !filled.includes(r.name)).map((r) => r.name);
        this.logger.info({ partTarget: part, filled, gaps }, 'encoder down: bridging until the next run has media (held picture and silence where the last run left them, else gap parts)');
        this.bridgeTimer = setInterval(() => {
          const segment = Math.floor(listed / perSegment);
          listed += 1;
          const programDateTime = Math.round(start + segment * perSegment * part * 1000);
          for (const r of renditions) r.bridgeGap({ startsBridge: listed === 1, endsSegment: listed % perSegment === 0, programDateTime, held: fill === 'held' });
        }, Math.round(part * 1000));
      })
      .catch((err) => this.logger.error({ err: errorMessage(err) }, 'gap bridge not started'));
  }

  /** Ends the gap bridge (or cancels one waiting to start). */
  private stopBridge(): void {
    this.bridgeToken += 1;
    if (this.bridgeTimer === undefined) return;
    clearInterval(this.bridgeTimer);
    this.bridgeTimer = undefined;
    this.logger.info('encoder back: gap bridge ended');
  }

  /**
   * EXT-X-ENDLIST on every rendition once their queued media is stored. Ordered with `attachRun`: runs
   * attached before this call are packaged to their end first (call it once they have ended: after
   * the transcoder stopped, or when it reports a failed run), a run attached after it starts after the
   * end and continues the playlists from its first part (a discontinuity, msn increasing).
   */
  endStream(): Promise<void> {
    this.stopBridge();
    const ended = this.attachChain.then(async () => {
      await Promise.all([...this.runsInFlight]);
      await Promise.all([...this.renditions.values()].map((r) => r.end()));
      for (const name of [...this.restored.keys()]) this.endRestored(name);
    });
    this.attachChain = ended.catch((err) => this.logger.error({ err: errorMessage(err) }, 'stream could not be ended'));
    return ended;
  }

  /**
   * After a process restart, before any run: hands the playlists stored for this channel (the
   * renditions its stored multivariant playlist names) to the origin as they were, so that players
   * see the stream — and its end once `endStream()` ends it — rather than 404 until the publisher is
   * back. A later run takes them over from there. Returns how many were restored, and how many of
   * those are still live (no EXT-X-ENDLIST: the process stopped while the channel was live).
   */
  async restore(): Promise<{ restored: number; live: number }> {
    let master: string;
    try {
      const stored = await this.options.storage.get(`live/${this.channel}/master.m3u8`);
      if (stored === undefined || !('body' in stored)) return { restored: 0, live: 0 };
      master = stored.body.toString('utf8');
    } catch (err) {
      this.logger.warn({ err: errorMessage(err) }, 'stored multivariant playlist unreadable: nothing to serve before the publisher is back');
      return { restored: 0, live: 0 };
    }
    let live = 0;
    for (const name of renditionsOfMultivariant(master)) {
      if (this.renditions.has(name) || this.restored.has(name)) continue;
      const model = await this.resumeModel(name);
      if (model === undefined) continue;
      this.restored.set(name, model);
      if (!model.endList) live += 1;
      this.options.onPlaylist?.(this.channel, name, model);
    }
    return { restored: this.restored.size, live };
  }

  positions(): Array<{ rendition: string; lastMsn: number; lastPart: number }> {
    const running = [...this.renditions.values()].map((r) => ({ name: r.name, playlist: r.playlist }));
    const restored = [...this.restored].map(([name, playlist]) => ({ name, playlist }));
    return [...running, ...restored]
      .filter((r) => r.playlist.segments.length > 0 || r.playlist.pending !== undefined)
      .map((r) => {
        const position = lastPosition(r.playlist);
        return { rendition: r.name, lastMsn: position.msn, lastPart: position.part };
      });
  }

  /** The rendition's current model (for the embedded origin and tests). */
  playlist(rendition: string): MediaPlaylist | undefined {
    return this.renditions.get(rendition)?.playlist;
  }

  /** Waits for runs in flight to be packaged (their streams end when the transcoder stops). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopBridge();
    if (this.deletionTimer !== undefined) clearInterval(this.deletionTimer);
    // Parts held for a paced rendition are listed now: the runs in flight are being drained.
    this.leadLimiter.close();
    await this.attachChain;
    await Promise.all([...this.runsInFlight]);
    await Promise.all([...this.renditions.values()].map((r) => r.drain()));
    // A master still waiting for its media playlists' uploads is handed over before the queue closes;
    // with storage down those uploads may retry for long, and the master could not be stored anyway.
    if (this.masterStoredAfter !== undefined) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.masterStoredAfter, new Promise<void>((resolve) => (timer = setTimeout(resolve, MASTER_HANDOVER_WAIT_MS)))]);
      clearTimeout(timer);
    }
  }

  private async startRun(run: TranscodeRun): Promise<void> {
    this.ladder = run.ladder;
    this.closedCaptions = run.probe.closedCaptions === true;
    const { segment } = run.ladder.ladder;
    const targetDuration = targetDurationFor(segment);
    const part = runPartTarget(run.ladder);
    // With `muxAudio` the audio output is read once and muxed into every video rendition: it is no
    // rendition of its own.
    const audioOutput = run.ladder.ladder.muxAudio ? run.outputs.find((o) => o.kind === 'audio') : undefined;
    this.muxedAudio = audioOutput !== undefined;
    const outputs = audioOutput === undefined ? run.outputs : run.outputs.filter((o) => o !== audioOutput);
    await this.retireChangedRenditions(outputs, run, targetDuration, part);
    // Restored playlists the new ladder no longer has are over.
    for (const name of [...this.restored.keys()]) if (!outputs.some((o) => o.name === name)) this.endRestored(name);
    for (const output of outputs) {
      if (!this.renditions.has(output.name)) {
        const continued = this.continuedTimelines.get(output.name);
        this.continuedTimelines.delete(output.name);
        const restored = this.restored.get(output.name);
        this.restored.delete(output.name);
        // A process (re)start resumes the stored playlist; a ladder change continues the timeline it made.
        const resumed = continued === undefined ? (restored ?? (await this.resumeModel(output.name))) : undefined;
        const timeline = continued ?? this.createTimeline(output.name, targetDuration, part, resumed);
        // The ladder decides the legacy cue tags, whatever the stored playlist had.
        if (run.ladder.ladder.cueTags) timeline.playlist.cueTags = true;
        else delete timeline.playlist.cueTags;
        for (const s of [...timeline.playlist.segments]) {
          const id = runIdOf(s.mapUri);
          if (id !== undefined) this.lastRunId = Math.max(this.lastRunId, id);
        }
        if (resumed !== undefined) await this.findLeftovers(output.name, timeline);
        this.playlistsByRendition = undefined;
        this.renditions.set(
          output.name,
          new RenditionPackager({
            name: output.name,
            kind: output.kind,
            timeline,
            store: { putMedia: (name, bytes, opts, placement) => this.putMedia(output.name, name, bytes, opts, placement) },
            logger: this.logger.child({ rendition: output.name }),
            partTarget: part,
            segmentDuration: segment,
            onChange: (r, change) => this.onRenditionChange(r, change),
            onTrack: () => this.writeMaster(),
            clock: this.clock,
            // Audio is what publishers batch (MPEG-TS PES of several frames); video comes a frame at a time.
            paceBursts: output.kind === 'audio' && this.options.paceAudioBursts !== false,
            leadLimiter: this.leadLimiter,
          }),
        );
        this.timing.set(output.name, { part, segment });
      }
    }
    this.runRenditions = outputs.map((o) => o.name);
    await this.alignRenditions(this.lastRunRenditions());
    const runId = ++this.lastRunId;
    // Stream time 0 of every output of a run is the same instant: when its first frame reached
    // livepipe (read once, when the first init segment arrives, so the ingest stamp is known).
    let times: RunTimes | undefined;
    // A restart of the encoder on a live feed re-reads it from its most recent keyframe, so the new
    // run's first media (up to one publisher GOP) was already packaged by the previous run: its
    // arrival time lies before the end of what is listed. PDT must not go backwards across the
    // discontinuity (hls.js places a new discontinuity by PDT, and would overlap the buffer), so the
    // anchor is never earlier than the end of the listed media; the replayed frames are shown again.
    // The hole between the two is listed as EXT-X-GAP when this packager is a new writer of stored
    // playlists (its first run: a dead writer's lease expiring, a restart of the process) — the time
    // nobody wrote. Later runs of the same packager follow an encoder restart whose outage the gap
    // bridge already listed; listing a hole there too filled a crash-looping channel's window with
    // part-less GAP segments (no part left for blocking requests).
    const firstRunHere = this.runsStarted++ === 0;
    const anchorOf = (): RunTimes => {
      if (times !== undefined) return times;
      const listedEnd = this.endOfListedMedia();
      times = { wallclockAnchor: Math.max(run.mediaStartedAt(), listedEnd) };
      if (listedEnd > 0 && firstRunHere) times.listedMediaEnd = listedEnd;
      return times;
    };
    this.currentRun = { anchor: anchorOf };
    this.logger.info({ runId, transcoderRun: run.runId, renditions: run.outputs.map((o) => o.name) }, 'packaging a new run');
    const alignment = new RunAlignment(
      outputs.map((o) => o.name),
      { segmentDuration: segment },
    );
    const sharedAudio = audioOutput === undefined ? undefined : new SharedAudioFeed(audioOutput.stream, this.logger.child({ rendition: audioOutput.name }));
    for (const output of outputs) {
      const rendition = this.renditions.get(output.name)!;
      const feed = sharedAudio === undefined ? streamFeed(output.stream, rendition.logger) : new MuxedFeed(output.stream, sharedAudio, rendition.logger);
      const consumed = rendition.consume(feed, runId, anchorOf, alignment, () => this.stopBridge());
      output.stream.resume();
      this.runsInFlight.add(consumed);
      void consumed.finally(() => this.runsInFlight.delete(consumed));
    }
    audioOutput?.stream.resume();
  }

  /**
   * Before a run's first bytes (and before a gap bridge): every rendition of the run opens its next
   * segment under the same media sequence number. Within a run `RunAlignment` keeps them in step;
   * this brings back one that fell out of it — a rendition added by a ladder change (its new playlist
   * starts at the others' next msn, not 0), one whose output failed or ended without media in the
   * last run, one whose stored playlist was behind the others' (written by an older livepipe, or
   * lost). The previous run's outputs have all ended: the transcoder is replaced only after it
   * stopped, and its packaging settles here first. `wanted` is asked before anything changes (a gap
   * bridge whose encoder came back in the meantime aligns nothing: the new run does).
   */
  private async alignRenditions(renditions: RenditionPackager[], wanted: () => boolean = () => true): Promise<void> {
    await Promise.all([...this.runsInFlight]);
    if (renditions.length === 0 || !wanted()) return;
    // The one furthest ahead leads; video on a tie (its keyframes are where segments start).
    const leader = renditions.reduce((a, b) => (b.nextMsn > a.nextMsn || (b.nextMsn === a.nextMsn && a.kind === 'audio' && b.kind === 'video') ? b : a));
    await leader.drain();
    if (!wanted()) return;
    await Promise.all(renditions.filter((r) => r !== leader).map((r) => r.alignTo(leader.nextMsn, leader.playlist)));
  }

  /** The rendition packagers of the last run attached, in its output order. */
  private lastRunRenditions(): RenditionPackager[] {
    return this.runRenditions.flatMap((name) => this.renditions.get(name) ?? []);
  }

  /** Wall-clock end (epoch ms) of the media listed in any rendition: last PDT + its duration; 0 when none. */
  private endOfListedMedia(): number {
    let end = 0;
    for (const r of this.renditions.values()) end = Math.max(end, listedMediaEnd(r.playlist) ?? 0);
    return end;
  }

  /**
   * A run whose ladder timing differs from what a rendition was packaged with (the channel's ladder
   * was changed while it was live, or between a stop and a start) cannot continue that playlist:
   * targets never change within a stream (LLHLS.md), and the cutter is built for one part target.
   * Such a rendition's stream is ended (EXT-X-ENDLIST), and a new playlist with the new targets
   * continues its media sequence at the same URL, as after a process restart with another ladder
   * (players must reload). Renditions the new run no longer has are ended too. Runs are attached
   * only after the previous transcoder has stopped, so the old run's media is complete here.
   */
  private async retireChangedRenditions(outputs: TranscodeRun['outputs'], run: TranscodeRun, targetDuration: number, part: number): Promise<void> {
    const { segment } = run.ladder.ladder;
    const names = new Set(outputs.map((o) => o.name));
    const changed = [...this.renditions.values()].filter((r) => {
      const timing = this.timing.get(r.name);
      return names.has(r.name) && timing !== undefined && (timing.part !== part || timing.segment !== segment);
    });
    const dropped = [...this.renditions.values()].filter((r) => !names.has(r.name) && !r.playlist.endList);
    if (changed.length === 0 && dropped.length === 0) return;
    await Promise.all([...this.runsInFlight]);
    await Promise.all(dropped.map((r) => r.end()));
    for (const r of changed) {
      await r.drain();
      this.renditions.delete(r.name);
      this.playlistsByRendition = undefined;
      this.timing.delete(r.name);
      const old = r.playlist;
      if (old.targetDuration === targetDuration && old.partTarget === part) {
        // Same targets (only the segment length changed): the playlist goes on after a discontinuity.
        this.continuedTimelines.set(r.name, r.timeline);
        continue;
      }
      await r.end();
      this.logger.info(
        { rendition: r.name, from: { targetDuration: old.targetDuration, part: old.partTarget }, to: { targetDuration, part } },
        'ladder timing changed: ending the stream and continuing with the new targets',
      );
      const keys = new Set<string>(r.timeline.takeDueDeletions(Number.POSITIVE_INFINITY));
      for (const seg of old.segments) {
        keys.add(seg.uri).add(seg.mapUri);
        for (const p of seg.parts) if (!p.gap) keys.add(p.uri);
      }
      // The new list starts empty: the ended stream's media goes once its players are done (3 × its TD).
      this.retired.push({ at: this.clock() + 3 * old.targetDuration * 1000, keys: [...keys].map((k) => `live/${this.channel}/${r.name}/${k}`) });
      this.continuedTimelines.set(r.name, this.createTimeline(r.name, targetDuration, part, { ...old, endList: true }));
    }
  }

  /** Ends a restored playlist no run took over: EXT-X-ENDLIST, stored and served. */
  private endRestored(name: string): void {
    const model = this.restored.get(name);
    if (model === undefined) return;
    this.restored.delete(name);
    if (model.endList) return;
    let ended: MediaPlaylist;
    try {
      const timeline = this.createTimeline(name, model.targetDuration, model.partTarget, model);
      timeline.endList(this.clock());
      ended = timeline.playlist;
    } catch (err) {
      this.logger.warn({ rendition: name, err: errorMessage(err) }, 'restored playlist could not be ended');
      return;
    }
    const version = storedVersion(ended);
    this.options.uploads
      .putLatest(`live/${this.channel}/${name}/playlist.m3u8`, Buffer.from(version.text), { contentType: PLAYLIST_TYPE, cacheControl: PLAYLIST_CACHE })
      .then(() => this.options.onPlaylistStored?.(this.channel, name, ended, version))
      .catch((err) => this.logger.warn({ rendition: name, err: errorMessage(err) }, 'ended playlist not stored'));
    this.options.onPlaylist?.(this.channel, name, ended);
    this.logger.info({ rendition: name, lastMsn: lastPosition(ended).msn }, 'restored playlist ended (its publisher did not come back)');
  }

  /** Timelines that rendition packagers rebuilt for a new ladder timing continue (see above). */
  private readonly continuedTimelines = new Map<string, RenditionTimeline>();

  private createTimeline(name: string, targetDuration: number, partTarget: number, resumed: MediaPlaylist | undefined): RenditionTimeline {
    const base = {
      targetDuration,
      partTarget,
      cues: { schedule: this.cues, rendition: name },
      ...(this.options.dvrWindowSeconds !== undefined ? { dvrWindow: this.options.dvrWindowSeconds } : {}),
    };
    if (resumed === undefined) return new RenditionTimeline(base);
    try {
      return new RenditionTimeline({ ...base, resumeFrom: resumed });
    } catch (err) {
      if (!isLivepipeError(err, ErrorCode.ConfigInvalid)) throw err;
      // The ladder's targets changed (a different ladder): the old stream ends, a new one continues
      // its media sequence with new targets (players must reload; Apple players require it).
      this.logger.warn({ rendition: name, err: errorMessage(err) }, 'targets changed: ending the stored stream and continuing with the new targets');
      return new RenditionTimeline({ ...base, resumeFrom: { ...resumed, endList: true } });
    }
  }

  private async resumeModel(rendition: string): Promise<MediaPlaylist | undefined> {
    const key = `live/${this.channel}/${rendition}/playlist.m3u8`;
    try {
      const stored = await this.options.storage.get(key);
      if (stored === undefined || !('body' in stored)) return undefined;
      const model = parseMediaPlaylist(stored.body.toString('utf8'));
      this.logger.info({ rendition, lastMsn: lastPosition(model).msn }, 'resuming the stored playlist');
      return model;
    } catch (err) {
      this.logger.warn({ rendition, err: errorMessage(err) }, 'stored playlist unreadable: starting a new one');
      return undefined;
    }
  }

  /**
   * Deletions are scheduled in memory, so a process that exits leaves behind what it had not deleted
   * yet: parts that left the playlist less than 3 target durations before, segments that slid out of
   * the window, unused init segments — forever, one batch per restart. On resume, objects of the
   * rendition's folder that the stored playlist no longer names and that lie before its next media
   * sequence number are scheduled for deletion as if just unlisted (parts after 3 target durations,
   * §6.2.2; segments and init segments after the playlist's duration plus a target duration).
   * Higher-numbered leftovers (stored but never listed) are overwritten by the new run; init segment
   * numbers found are skipped by the new run, so a scheduled deletion never hits a new object.
   */
  private async findLeftovers(rendition: string, timeline: RenditionTimeline): Promise<void> {
    const folder = `live/${this.channel}/${rendition}/`;
    let keys: string[];
    try {
      keys = await this.options.storage.list(folder);
    } catch (err) {
      this.logger.warn({ rendition, err: errorMessage(err) }, 'rendition folder not listed: objects a previous run left stay in storage');
      return;
    }
    const model = timeline.playlist;
    const named = new Set<string>();
    for (const s of model.segments) {
      named.add(s.uri).add(s.mapUri);
      for (const p of s.parts) named.add(p.uri);
    }
    if (model.pending !== undefined) {
      named.add(model.pending.mapUri);
      for (const p of model.pending.parts) named.add(p.uri);
    }
    const nextMsn = timeline.nextPart().msn;
    const now = this.clock();
    const td = model.targetDuration * 1000;
    const partsAt = now + 3 * td;
    const segmentsAt = now + Math.ceil(timeline.duration() * 1000) + td;
    for (const key of keys) {
      const name = key.slice(folder.length);
      const runId = runIdOf(name);
      if (runId !== undefined) this.lastRunId = Math.max(this.lastRunId, runId);
      if (named.has(name)) continue;
      const media = /^(seg|part)-(\d+)(?:-\d+)?\.m4s$/.exec(name);
      if (media !== null && Number(media[2]) < nextMsn) this.leftovers.push({ key, at: media[1] === 'part' ? partsAt : segmentsAt });
      else if (runId !== undefined) this.leftovers.push({ key, at: segmentsAt });
    }
    if (this.leftovers.length > 0) this.logger.info({ rendition, count: this.leftovers.length }, 'objects left by a previous run will be deleted');
  }

  private putMedia(rendition: string, name: string, bytes: Uint8Array, options: PutOptions, placement?: MediaPlacement): Promise<void> {
    return this.options.uploads.put(`live/${this.channel}/${rendition}/${name}`, bytes, { ...options, cacheControl: MEDIA_CACHE }, placement);
  }

  private onRenditionChange(rendition: RenditionPackager, change: RenditionChange): void {
    // A rendition's model object lives as long as its packager: the map changes only with the set of renditions.
    this.playlistsByRendition ??= new Map([...this.renditions].map(([name, r]) => [name, r.playlist]));
    rendition.timeline.setRenditionReports(renditionReportsFor(rendition.name, this.playlistsByRendition));
    const model = rendition.playlist;
    // Storage gets the playlist cut before media still held in memory (the model itself, unless
    // storage is slow or down): readers of storage never see a name it does not hold. A cut so far
    // behind the edge that its segments' parts have aged out (catching up after an outage) is not
    // written: the stored playlist keeps its last version until the cut is back among listed parts.
    // Nor is a cut before anything at all — an outage longer than the window leaves its first
    // segment unstored: that version would name no segment and no part (a standalone origin's
    // players would get an empty live playlist), so the last version stays until storage catches up.
    const storedModel = rendition.storedPlaylist();
    const lastStoredSegment = storedModel.segments.at(-1);
    const cutNamesMedia = lastStoredSegment !== undefined ? lastStoredSegment.parts.length > 0 : (storedModel.pending?.parts.length ?? 0) > 0;
    // Nor is the version of a run's start: its new segment has no part yet, so it has no PRELOAD-HINT
    // (and, at a takeover, no rendition report for renditions that have not started): a standalone
    // origin or CDN would hand players a playlist breaking the LL-HLS rules. The run's first part,
    // a few hundred ms later, stores it (found by the cluster failover test, issue 13).
    const runStartOnly = change === 'run';
    if (!runStartOnly && (storedModel === model || cutNamesMedia)) {
      const version = storedVersion(storedModel);
      const key = `live/${this.channel}/${rendition.name}/playlist.m3u8`;
      const stored = this.options.uploads
        .putLatest(key, Buffer.from(version.text), { contentType: PLAYLIST_TYPE, cacheControl: PLAYLIST_CACHE })
        .then(() => this.options.onPlaylistStored?.(this.channel, rendition.name, storedModel, version))
        .catch((err) => this.logger.warn({ rendition: rendition.name, err: errorMessage(err) }, 'playlist not stored yet'));
      if (this.masterWritten === undefined) this.playlistsStored.set(rendition.name, stored);
    }
    this.options.onPlaylist?.(this.channel, rendition.name, model);
    if (change === 'part') {
      const position = lastPosition(model);
      this.options.metrics?.countPart(this.channel, rendition.name);
      const pdt = model.pending?.programDateTime;
      const parts = model.pending?.parts;
      if (pdt !== undefined && parts !== undefined) {
        // Ingest → available: the part's last frame was captured at pdt + its end offset.
        const endOffset = parts.reduce((sum, p) => sum + p.duration, 0);
        this.options.metrics?.observePartLatency(this.channel, rendition.name, Math.max(0, (this.clock() - pdt) / 1000 - endOffset));
      }
      // A first master held for the edge (`startAtEdge`) goes out on the part that brings it there.
      if (this.masterWritten === undefined && this.ladder?.ladder.startAtEdge === true) this.writeMaster();
    } else if (change === 'segment') {
      this.options.metrics?.countSegment(this.channel, rendition.name);
      this.writeMaster();
    }
  }

  /**
   * The multivariant playlist: every video rendition as a variant (BANDWIDTH = measured peak, or the
   * ladder's maxrate until a segment is measured), audio as one EXT-X-MEDIA group they share: one
   * entry per published language (LANGUAGE, NAME, one DEFAULT=YES), or the one audio rendition — or,
   * with the ladder's `muxAudio`, inside every variant (CODECS names both, no group).
   * Rewritten only when it changes by more than bitrate drift (`multivariantOutdated`).
   */
  private writeMaster(): void {
    const ladder = this.ladder;
    if (ladder === undefined) return;
    const master = buildMultivariant(
      ladder,
      (name) => {
        const packager = this.renditions.get(name);
        if (packager?.track === undefined) return undefined;
        const measured = packager.bitrate.measured;
        return {
          codecs: packager.track.codecs,
          ...(packager.track.channelCount !== undefined ? { channelCount: packager.track.channelCount } : {}),
          ...(measured ? { measured } : {}),
          ...(packager.muxedAudio !== undefined ? { muxedAudioCodecs: packager.muxedAudio.codecs } : {}),
        };
      },
      this.closedCaptions,
    );
    if (master === undefined) return;
    // A channel's first multivariant playlist also waits until every rendition lists a complete
    // segment: hls.js fails a media playlist with parts only ("levelEmptyError: No Segments found in
    // Playlist"), retries, and then plays a second further behind the live edge for the whole session
    // (measured: 1.8 s instead of 0.9 s glass-to-glass for a viewer waiting for the stream to start).
    // Costs first-playable time once per channel (one segment, 1 s on `low-latency`). Playlists
    // continued from storage after a restart have segments already, so their master is not held back.
    // With the ladder's `startAtEdge` it also waits until every rendition's edge has caught up with
    // the wall clock (`firstMultivariantDue`; checked on every part until then).
    if (this.masterWritten === undefined) {
      const renditions = multivariantRenditions(ladder).flatMap((name) => this.renditions.get(name) ?? []);
      const playlists = renditions.map((r) => r.playlist);
      // A paced rendition (bursty audio) lists parts later by design, not because the run is behind,
      // and every other rendition is held to it (`LeadLimiter`): the allowance is the channel's.
      const pacingLag = Math.max(0, ...renditions.map((r) => r.pacingLagMs));
      if (!firstMultivariantDue(playlists, this.clock(), ladder.ladder.startAtEdge === true, pacingLag)) return;
    }
    if (!multivariantOutdated(this.masterWritten, master)) return;
    // The first master is stored only after the media playlists it was held for (uploads of different
    // keys finish in any order): a standalone origin or a CDN reading storage must not hand players a
    // master whose media playlists are still parts-only. Later versions queue behind it, in order.
    this.masterStoredAfter ??= Promise.all(this.playlistsStored.values()).then(() => this.playlistsStored.clear());
    this.masterWritten = master;
    const body = Buffer.from(serializeMultivariantPlaylist(master));
    const stored = this.masterStoredAfter.then(() =>
      this.options.uploads.putLatest(`live/${this.channel}/master.m3u8`, body, { contentType: PLAYLIST_TYPE, cacheControl: PLAYLIST_CACHE }),
    );
    stored.catch((err) => this.logger.warn({ err: errorMessage(err) }, 'multivariant playlist not stored yet'));
  }

  private async runDeletions(): Promise<void> {
    const now = this.clock();
    const keys: string[] = [];
    if (this.retired.some((r) => r.at <= now)) {
      for (const r of this.retired) if (r.at <= now) keys.push(...r.keys);
      this.retired = this.retired.filter((r) => r.at > now);
    }
    for (const r of this.renditions.values()) {
      // While media is held for upload the stored playlist lags behind the model and still names
      // what left the model: nothing of the rendition is deleted then, nor for the 3 target
      // durations readers of the caught-up stored playlist may still ask for it (§6.2.2).
      if (r.unsettledCount > 0) this.deletionsHeldUntil.set(r.name, now + 3 * r.playlist.targetDuration * 1000);
      if ((this.deletionsHeldUntil.get(r.name) ?? 0) > now) continue;
      for (const name of r.timeline.takeDueDeletions(now)) keys.push(`live/${this.channel}/${r.name}/${name}`);
    }
    if (this.leftovers.some((l) => l.at <= now)) {
      for (const l of this.leftovers) if (l.at <= now) keys.push(l.key);
      this.leftovers = this.leftovers.filter((l) => l.at > now);
    }
    if (keys.length === 0) return;
    try {
      await this.options.storage.delete(keys);
    } catch (err) {
      this.logger.warn({ err: errorMessage(err), count: keys.length }, 'expired objects not deleted (will stay in storage)');
    }
  }
}


/** Rendition names a multivariant playlist refers to (`{name}/playlist.m3u8` URIs, in order, once each). */
export function renditionsOfMultivariant(text: string): string[] {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const uri = line.startsWith('#') ? /URI="([^"/]+)\/playlist\.m3u8"/.exec(line)?.[1] : /^([^#\s/][^/\s]*)\/playlist\.m3u8\s*$/.exec(line)?.[1];
    if (uri !== undefined && isValidId(uri)) names.add(uri);
  }
  return [...names];
}

/** The text and position of a playlist version now, before its model grows further. */
function storedVersion(model: MediaPlaylist): StoredPlaylistVersion {
  const { msn, part } = lastPosition(model);
  return { text: serializeMediaPlaylist(model), msn, part, ended: model.endList };
}
