import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { PutOptions } from '../storage/object-storage.js';
import type { MediaPlacement } from '../storage/upload-queue.js';
import { SegmentBitrateMeter } from './bitrate-meter.js';
import { trackDefaultsOf } from '../mp4/fmp4-coalescer.js';
import type { TrackInfo } from '../mp4/fmp4-reader.js';
import type { FeedEvent, FragmentFeed } from './fragment-feed.js';
import type { MediaPlaylist } from '../hls/playlist-model.js';
import { initName, partName, RenditionTimeline, segmentName, type RunStart } from './rendition-timeline.js';

/** The run's times shared by its renditions: the wall-clock anchor and where the listed media ended. */
export type RunTimes = Pick<RunStart, 'wallclockAnchor'> & { listedMediaEnd?: number };
import type { RunAlignment } from './run-alignment.js';
import { BurstPacer } from './burst-pacer.js';
import type { LeadLimiter } from './lead-limiter.js';
import { OutageFill } from './outage-fill.js';
import { SegmentCutter, slotOf, type CutterEvent } from './segment-cutter.js';
import { storedView } from './stored-view.js';

/** Where a rendition packager stores objects (the channel's upload queue, keyed under its folder). */
export interface RenditionStore {
  /**
   * Stores a media object; resolves once stored, rejects when it will not be (the object becomes a
   * gap). Until then the object is held in memory, where the embedded origin can serve it.
   */
  putMedia(name: string, bytes: Uint8Array, options: PutOptions, placement?: MediaPlacement): Promise<void>;
}

export interface RenditionPackagerOptions {
  name: string;
  kind: 'video' | 'audio';
  timeline: RenditionTimeline;
  store: RenditionStore;
  logger: Logger;
  partTarget: number;
  segmentDuration: number;
  /**
   * How long a part or segment may wait for its upload before it is listed anyway, served from memory
   * (ms). Storage that answers within it (a local disk: under a millisecond) sees no difference; one
   * that is slow or down no longer holds the live edge. Default 0.5 × part target.
   */
  listWithinMs?: number;
  /**
   * Called after every change of the playlist model (a part, a segment, a new run, the end) and when
   * uploads of objects listed from memory settle (`stored`: only the stored view moved on, or an object
   * was dropped and is now a gap).
   */
  onChange: (rendition: RenditionPackager, change: RenditionChange) => void;
  /** Called once the run's init segment is parsed (codecs, size) — for the multivariant playlist. */
  onTrack: (rendition: RenditionPackager, track: TrackInfo) => void;
  clock: () => number;
  /**
   * List parts that arrive in bursts at an even pace (`BurstPacer`): the channel turns it on for
   * audio, which some publishers send in batches. Default false.
   */
  paceBursts?: boolean;
  /**
   * Shared by the channel's renditions: a paced rendition reports its listed edge to it, and every
   * other rendition lists a part only once the paced ones are within one PART-TARGET of its end.
   */
  leadLimiter?: LeadLimiter;
}

export type RenditionChange = 'part' | 'gap' | 'segment' | 'run' | 'end' | 'stored';

const PART_TYPE = 'video/iso.segment';
/** Longest the pacer holds a part (`paceBursts`), in part targets: more than any batching seen. */
const MAX_PACING_HOLD_PARTS = 5;
/**
 * How late (behind its media's end) a part waiting for a paced rendition (`leadLimiter`) may become,
 * in part targets: the pacer's longest hold and the lead of one part. A deadline on the part's own
 * lateness, not on the wait, so a stalled paced rendition cannot make the waits add up.
 */
const MAX_LEAD_LATENESS_PARTS = MAX_PACING_HOLD_PARTS + 1;

/** An object's upload: `done` resolves true once stored, false when it will not be; `outcome` is its result once known. */
interface Upload {
  readonly done: Promise<boolean>;
  outcome?: boolean;
}

function upload(done: Promise<boolean>): Upload {
  const u: { done: Promise<boolean>; outcome?: boolean } = { done: done.then((ok) => (u.outcome = ok)) };
  return u;
}

/**
 * The listing deadline of one rendition (`listWithinMs`). A rendition's chain waits for one upload
 * at a time, so one timer serves every wait: re-armed (`refresh()`), never created per part or
 * segment. (A timer and a `Promise.race` per object cost measurable packager CPU at ~40 objects a
 * second, for a deadline a local disk never reaches.)
 */
class ListingDeadline {
  private timer: NodeJS.Timeout | undefined;
  private onExpiry: (() => void) | undefined;

  constructor(private readonly ms: number) {}

  /** Calls `onExpiry` after the deadline unless `disarm()` comes first. */
  arm(onExpiry: () => void): void {
    this.onExpiry = onExpiry;
    if (this.timer === undefined) {
      this.timer = setTimeout(() => this.expire(), this.ms);
      this.timer.unref();
    } else {
      this.timer.refresh();
    }
  }

  /**
   * The wait that armed `onExpiry` ended in time (the timer may still fire, with nothing to do). An
   * upload that settles after its wait expired must not disarm a later wait: only its own handler goes.
   */
  disarm(onExpiry: () => void): void {
    if (this.onExpiry === onExpiry) this.onExpiry = undefined;
  }

  private expire(): void {
    const onExpiry = this.onExpiry;
    this.onExpiry = undefined;
    onExpiry?.();
  }
}

/**
 * One rendition of a channel: reads a transcoder run's fragmented-MP4 output, cuts it into parts and
 * segments, stores each object and only then names it in the playlist model. Operations of one
 * rendition are applied strictly in order (one promise chain), so the playlist never names media
 * that is not stored, and a failed store becomes a GAP instead of a dangling URI.
 *
 * Uploads start the moment the cutter emits an object, not when the chain reaches it: objects of a
 * rendition upload concurrently (up to the upload queue's concurrency) and only their listing is
 * ordered. When storage is slow or down, the bytes waiting are therefore all in the upload queue,
 * whose limits bound them (a put over the limit fails at once and the object becomes a gap); the
 * chain holds only part metadata. (Uploading from inside the chain made every object wait for the
 * previous one's retries, so during an outage the backlog, bytes included, grew in the chain without
 * any bound while the queue stayed nearly empty.) Names are therefore decided at cut time by
 * `cursor`, which follows the timeline's numbering rules; the chain checks each against the timeline.
 *
 * The live edge does not wait for storage: a part whose upload has not finished within `listWithinMs`
 * is listed all the same, held in memory (the upload queue's pending objects, which the embedded
 * origin reads through), and tracked as unsettled. Playlists written to storage show `storedView()`,
 * cut before the first unsettled object, so storage never names what it does not hold; an object the
 * queue finally drops becomes a gap in both.
 */
export class RenditionPackager {
  readonly name: string;
  readonly kind: 'video' | 'audio';
  readonly timeline: RenditionTimeline;
  readonly bitrate: SegmentBitrateMeter;
  track: TrackInfo | undefined;
  /** The audio track muxed into this rendition's media (the ladder's `muxAudio`), from the run's init. */
  muxedAudio: TrackInfo | undefined;
  private chain: Promise<void> = Promise.resolve();
  readonly logger: Logger;
  /**
   * msn and part index the next part cut will be listed under, advanced at cut time in the order the
   * chain will apply the cuts: a part takes (msn, index) then index + 1; a segment ends msn (msn + 1,
   * 0); a new run or the end after a segment left open (a killed run) closes it (msn + 1, 0) — as
   * `RenditionTimeline` numbers them.
   */
  private cursor: { msn: number; index: number };
  /** The current run's init segment: its upload (true once stored), and its bytes for a retry. */
  private runInit: { name: string; bytes: Uint8Array; stored: Upload; failed: boolean } | undefined;
  /** Objects listed from memory whose upload has not settled, in listing order (see `storedView`). */
  private readonly unsettled = new Set<string>();
  private readonly listWithinMs: number;
  private readonly deadline: ListingDeadline;
  /** What fills an encoder outage in this rendition (the last run's held picture or silence), if it can be filled. */
  private fill: OutageFill | undefined;
  /** The fill parts of the bridge segment in progress, for its segment object. */
  private fillSegment: Uint8Array[] = [];
  /** The cutter of the run being consumed, for `cutAt` (undefined before its init segment and after its end). */
  private runCutter: SegmentCutter | undefined;
  /** Evens out bursts of parts (`paceBursts`), else undefined. */
  private readonly pacer: BurstPacer | undefined;

  constructor(private readonly options: RenditionPackagerOptions) {
    this.name = options.name;
    this.kind = options.kind;
    this.timeline = options.timeline;
    this.logger = options.logger;
    this.bitrate = new SegmentBitrateMeter(options.segmentDuration);
    const next = this.timeline.nextPart();
    this.cursor = { msn: next.msn, index: next.index };
    this.listWithinMs = options.listWithinMs ?? Math.max(1, Math.round(options.partTarget * 500));
    this.deadline = new ListingDeadline(this.listWithinMs);
    if (options.paceBursts === true) {
      const partMs = options.partTarget * 1000;
      // A burst starts with a part 1.5 parts later than the one before: a 0.37 s PES batch jumps ~3.3
      // parts, an even feed's jitter under one.
      this.pacer = new BurstPacer({
        windowMs: Math.max(3000, 3 * options.segmentDuration * 1000),
        burstJumpMs: 1.5 * partMs,
        maxHoldMs: MAX_PACING_HOLD_PARTS * partMs,
      });
    }
  }

  get playlist(): MediaPlaylist {
    return this.timeline.playlist;
  }

  /** How much later than its least late arrivals this rendition lists parts while pacing bursts, ms (0: not pacing). */
  get pacingLagMs(): number {
    return this.pacer?.lagMs ?? 0;
  }

  /** The playlist as storage may show it: cut before the first object not stored yet (`storedView`). */
  storedPlaylist(): MediaPlaylist {
    return storedView(this.timeline.playlist, this.unsettled);
  }

  /** Objects listed from memory, not stored yet. */
  get unsettledCount(): number {
    return this.unsettled.size;
  }

  /** msn of the next segment this rendition opens (a segment left open by its last run closed). */
  get nextMsn(): number {
    return this.cursor.index > 0 ? this.cursor.msn + 1 : this.cursor.msn;
  }

  /**
   * Before a run, when another rendition of the channel (`reference`) is ahead: the next segment
   * opened is `msn` too (see `RenditionTimeline.alignTo`).
   */
  alignTo(msn: number, reference: MediaPlaylist): Promise<void> {
    // Not behind: a bridge segment in progress goes on (a run attached mid-bridge may die before its
    // first init segment, and the bridge then continues the same segment).
    if (msn <= this.nextMsn) return this.drain();
    // A bridge segment of fill parts is closed as media first: the timeline would close it as a gap.
    this.finishFillSegment();
    this.logger.warn({ from: this.nextMsn, to: msn }, 'rendition behind the others: listing the segments it lacks as gaps');
    this.cursor = { msn, index: 0 };
    const copy = structuredClone(reference);
    return this.enqueue(async () => this.timeline.alignTo(msn, copy, this.options.clock()));
  }

  /**
   * A segment boundary at stream time `seconds` of the run being consumed (an ad splice whose frame
   * was keyed: `SegmentCutter.cutAt`). False when refused, or before the run's media.
   */
  cutAt(seconds: number): boolean {
    return this.runCutter?.cutAt(seconds) ?? false;
  }

  /** Withdraws a cut `cutAt` accepted (`SegmentCutter.cancelCut`). */
  cancelCut(seconds: number): void {
    this.runCutter?.cancelCut(seconds);
  }

  /**
   * Consumes one run's output until it ends: `feed` is one fMP4 stream as it is, or a video stream
   * with the run's audio muxed in (`MuxedFeed`). `runId` names the init segment; `anchor()` gives
   * the wall-clock time of stream time 0 of this run and where the channel's listed media ended before
   * it (the same for every rendition of the run).
   * `alignment` is shared by the renditions of the run: what the cutter cuts is listed only once
   * every rendition reached that segment, and what not all of them reached is dropped at the end
   * (see `RunAlignment`). The promise resolves once every rendition of the run has ended.
   */
  consume(feed: FragmentFeed, runId: number, anchor: () => RunTimes, alignment: RunAlignment, onInit?: () => void): Promise<void> {
    let cutter: SegmentCutter | undefined;
    let failed = false;
    /** Wall-clock time of the run's stream time 0 (its timeline's anchor; `timeOrigin` is 0), once known. */
    let wallclockAnchor: number | undefined;
    /** Cut but not listable yet, in cut order (slots only increase). */
    let held: CutterEvent[] = [];
    const release = (): void => {
      let i = 0;
      while (i < held.length && alignment.never(slotOf(held[i]!))) i++;
      const from = i;
      while (i < held.length && alignment.listable(slotOf(held[i]!))) i++;
      const listable = held.slice(from, i);
      held = held.slice(i);
      this.apply(listable, wallclockAnchor);
    };
    const report = (): void => {
      const reach = cutter?.reach();
      if (reach !== undefined) alignment.report(this.name, reach.first, reach.reach);
    };
    const unsubscribe = alignment.onChange(() => {
      if (!failed) release();
    });
    return new Promise<void>((resolve) => {
      const onInitSegment = (event: Extract<FeedEvent, { type: 'init' }>): void => {
        this.track = event.track;
        this.muxedAudio = event.muxedAudio;
        cutter = new SegmentCutter({
          kind: this.kind,
          timescale: event.track.timescale,
          partTarget: this.options.partTarget,
          segmentDuration: this.options.segmentDuration,
          targetDuration: this.timeline.playlist.targetDuration,
          // Each part one CMAF chunk: its fragments' headers are bytes every viewer downloads.
          partChunks: { defaults: trackDefaultsOf(event.bytes) },
        });
        this.runCutter = cutter;
        const initBytes = event.bytes;
        const track = event.track;
        const mapUri = initName(runId);
        // The run has media: a gap bridge (`bridgeGap`) ends here, in every rendition at once.
        onInit?.();
        this.closeOpenSegment();
        // A muxed output's fragments carry two tracks: its outage stays listed as GAP parts.
        this.fill = event.muxedAudio === undefined ? new OutageFill(event.track) : undefined;
        // The hole before the run is listed first: its segments take their msns before any part is named.
        const times = anchor();
        wallclockAnchor = times.wallclockAnchor;
        // Lateness is measured against this run's anchor: what the last run's parts did says nothing of it.
        if (this.pacer !== undefined) {
          this.pacer.reset();
          this.options.leadLimiter?.released(this.name);
        }
        const hole = this.timeline.holeBefore(times);
        this.cursor = { msn: this.cursor.msn + hole.length, index: 0 };
        // Never evicted: without its init segment nothing of the run is playable.
        const initStored = this.store(mapUri, initBytes, this.initContentType, { evictable: false });
        this.enqueue(async () => {
          this.timeline.startRun({ runId, wallclockAnchor: times.wallclockAnchor, timeOrigin: 0, hole }, this.options.clock());
          const init = { name: mapUri, bytes: initBytes, stored: initStored, failed: false };
          this.runInit = init;
          void initStored.done.then((ok) => (init.failed = !ok));
          // Waits for the init no longer than for a part: the run's parts are gated on it (`gateOf`).
          await this.settleWithin(initStored);
          this.options.onTrack(this, track);
          this.options.onChange(this, 'run');
        });
      };
      const fail = (err: unknown) => {
        if (failed) return;
        failed = true;
        held = [];
        alignment.leave(this.name);
        this.logger.error({ err: errorMessage(err), runId }, 'unusable media from the encoder: this run of the rendition ends');
      };
      const finish = () => {
        // The other renditions of the run wait for this one's end, whatever happened to it.
        alignment.end(this.name);
        if (this.pacer !== undefined) this.options.leadLimiter?.released(this.name);
        if (this.runCutter === cutter) this.runCutter = undefined;
        void alignment.settled.then(() => {
          unsubscribe();
          if (cutter !== undefined && !failed) {
            release();
            // The open segment is closed where the run ended if every rendition reached it, else dropped.
            const open = cutter.reach()?.open;
            if (open !== undefined && alignment.listable(open) && alignment.isMember(this.name)) this.apply(cutter.flush(), wallclockAnchor);
            else cutter.discard();
            if (held.length > 0) this.logger.debug({ runId, dropped: held.length }, 'the run ended before every rendition reached these parts: dropped');
            held = [];
          }
          return this.drain();
        }).then(resolve, resolve);
      };
      feed.start({
        onEvent: (event) => {
          if (failed) return;
          if (event.type === 'init') onInitSegment(event);
          else if (cutter !== undefined) {
            if (event.samples !== undefined && event.dataStart !== undefined) {
              this.fill?.observe({ bytes: event.bytes, samples: event.samples, dataStart: event.dataStart, sequenceNumber: event.sequenceNumber ?? 0 });
            }
            // A fragment is a CutterFrame (decode time, duration, independence, bytes): passed as is;
            // the cutter coalesces a part's fragments into one chunk when the part closes.
            const uncoalesced = cutter.uncoalescedParts;
            held.push(...cutter.push(event));
            if (uncoalesced === 0 && cutter.uncoalescedParts > 0) {
              this.logger.warn({ rendition: this.name, runId }, 'a part could not be made one CMAF chunk: stored as its fragments came (this run says so once)');
            }
            report();
            release();
          }
        },
        onFail: fail,
        onEnd: finish,
      });
    });
  }

  /**
   * Whether `bridgeGap` would list gap parts now: a run started once (its init segment is the EXT-X-MAP
   * of the gap segments) and the stream has not ended. The channel bridges every rendition or none.
   */
  get canBridge(): boolean {
    return this.timeline.mapUri !== undefined && !this.timeline.playlist.endList;
  }

  /** Whether a bridge fills this rendition with media (`OutageFill`), rather than GAP parts. */
  get fillsOutage(): boolean {
    return this.fill?.canFill === true;
  }

  /**
   * One part of `partTarget` while the encoder is down between runs. A rendition whose last run left
   * something to hold (`OutageFill`: its last keyframe, or silence) lists a real part — stored first,
   * like any other — and its bridge segments are stored and listed as media; otherwise a GAP part
   * (`RenditionTimeline.addGapPart`). `endsSegment` closes the bridge's segment, and a segment the
   * bridge opens starts at `programDateTime`. The channel calls it on every rendition in the same
   * tick, with the same position, so the renditions stay on the same media sequence numbers and
   * dates. Does nothing unless `canBridge` (checked when called; `end()` is queued after any bridge part).
   */
  bridgeGap(position: { startsBridge: boolean; endsSegment: boolean; programDateTime: number; held?: boolean }): void {
    if (!this.canBridge) return;
    const { startsBridge, endsSegment } = position;
    // A bridge's first part closes whatever segment is open — one the last run left, or the segment
    // of an earlier bridge that a run killed before its first media never closed in this rendition —
    // so that every rendition starts the bridge on the same fresh segment (as the timeline does).
    if (startsBridge) {
      this.closeOpenSegment();
      this.fill?.endOutage();
    }
    const bytes = position.held !== false && this.fill?.canFill === true ? this.fill.nextPart(this.options.partTarget) : undefined;
    if (bytes === undefined) {
      // No fill segment to drop: a bridge is held or gap from its first part, which flushed any left
      // (`closeOpenSegment`), and a fill once able stays able until the next run's init ends the bridge.
      this.cursor.index += 1;
      if (endsSegment) this.cursor = { msn: this.cursor.msn + 1, index: 0 };
      this.enqueue(async () => {
        this.timeline.addGapPart(this.options.partTarget, position, this.options.clock());
        this.options.onChange(this, 'gap');
      });
      return;
    }
    this.fillSegment.push(bytes);
    this.listPart(bytes, 'gap', (ok) => this.timeline.addGapPart(this.options.partTarget, { ...position, endsSegment: false, filled: ok }, this.options.clock()));
    if (endsSegment) this.finishFillSegment();
  }

  /** A bridge segment of fill parts (it ends, or is left open by the next run or the end): stored and listed as media. */
  private finishFillSegment(): void {
    if (this.fillSegment.length === 0) return;
    const bytes = Buffer.concat(this.fillSegment);
    this.fillSegment = [];
    this.listSegment(bytes, (ok) => this.timeline.endSegment({ gap: !ok }, this.options.clock()));
  }

  /** Ends the stream: EXT-X-ENDLIST after every queued operation. */
  end(): Promise<void> {
    this.fill?.endOutage();
    this.closeOpenSegment();
    return this.enqueue(async () => {
      this.timeline.endList(this.options.clock());
      this.options.onChange(this, 'end');
    });
  }

  /** Resolves when every queued store and playlist change has been applied. */
  drain(): Promise<void> {
    return this.enqueue(async () => undefined);
  }

  /** Lists a run's cut parts and segments; `wallclockAnchor` (the run's stream time 0) lets the pacer see how late each part is. */
  private apply(events: CutterEvent[], wallclockAnchor: number | undefined): void {
    for (const event of events) {
      if (event.type === 'part') {
        const { bytes, ...part } = event.part;
        this.fill?.listedUntil(part.startTime + part.duration);
        const endsAt = wallclockAnchor === undefined ? undefined : wallclockAnchor + (part.startTime + part.duration) * 1000;
        const listAt = this.pacer !== undefined && endsAt !== undefined ? this.pacedListing(endsAt) : undefined;
        this.listPart(
          bytes,
          'part',
          (ok) =>
            this.timeline.addPart(
              { startTime: part.startTime, duration: part.duration, independent: part.independent, endsAtBoundary: part.endsAtBoundary, gap: !ok },
              this.options.clock(),
            ),
          { listAt, endsAt },
        );
      } else {
        const { bytes, duration } = event.segment;
        const size = bytes.byteLength;
        this.listSegment(bytes, (ok) => {
          if (ok) this.bitrate.add(size, duration);
          this.timeline.endSegment({ duration, gap: !ok }, this.options.clock());
        });
      }
    }
  }

  /**
   * A part: stored from now on under the name `cursor` gives it, then — in chain order, once it and
   * its run's init segment are stored (`gateOf`) or `listWithinMs` passed — added to the timeline by
   * `add` (`ok` false: it is not stored and will not be, or not under that name; list it as a gap).
   * Listed from memory while its upload is pending (`trackUnsettled`).
   */
  private listPart(bytes: Uint8Array, change: 'part' | 'gap', add: (ok: boolean) => void, timing: { listAt?: number; endsAt?: number } = {}): void {
    const name = partName(this.cursor.msn, this.cursor.index);
    this.cursor.index += 1;
    const stored = this.store(name, bytes, PART_TYPE);
    const { listAt, endsAt } = timing;
    const limiter = this.options.leadLimiter;
    this.enqueue(async () => {
      // A paced part (and so everything after it in this rendition) waits for its turn; its upload goes on meanwhile.
      const wait = listAt === undefined ? 0 : listAt - this.options.clock();
      if (wait > 0) await sleep(wait);
      // Any other rendition's part waits, as long as a paced one trails it by more than a part.
      const partMs = this.options.partTarget * 1000;
      if (limiter !== undefined && this.pacer === undefined && endsAt !== undefined) {
        await limiter.waitFor(endsAt, partMs, endsAt + MAX_LEAD_LATENESS_PARTS * partMs - this.options.clock());
      }
      const gate = this.gateOf(stored);
      const outcome = await this.settleWithin(gate);
      const ok = outcome !== 'failed' && this.isNext(name, this.timeline.nextPart().name);
      add(ok);
      if (limiter !== undefined && this.pacer !== undefined && endsAt !== undefined) {
        if (this.pacer.engaged) limiter.advanced(this.name, endsAt);
        else limiter.released(this.name);
      }
      if (ok && outcome === 'pending') this.trackUnsettled(name, gate);
      this.options.onChange(this, change);
    });
  }

  /** When to list a part whose media ends at wall-clock `endsAt`; says once per stretch when bursts start being paced. */
  private pacedListing(endsAt: number): number {
    const pacer = this.pacer!;
    const wasEngaged = pacer.engaged;
    const listAt = pacer.listAt(endsAt, this.options.clock());
    if (pacer.engaged && !wasEngaged) {
      this.logger.info('parts arrive in bursts (the publisher batches this track): listing them at an even pace');
    }
    return listAt;
  }

  /** A segment's object, as `listPart` does a part's: `end` closes the segment in the timeline; the cursor moves to the next. */
  private listSegment(bytes: Uint8Array, end: (ok: boolean) => void): void {
    const name = segmentName(this.cursor.msn);
    this.cursor = { msn: this.cursor.msn + 1, index: 0 };
    const stored = this.store(name, bytes, PART_TYPE);
    this.enqueue(async () => {
      const outcome = await this.settleWithin(stored);
      const ok = outcome !== 'failed' && this.isNext(name, this.timeline.currentSegmentName());
      end(ok);
      if (ok && outcome === 'pending') this.trackUnsettled(name, stored);
      this.options.onChange(this, 'segment');
    });
  }

  /**
   * Starts storing an object now; resolves true once stored, false when it could not be (a part or
   * segment is then listed as a gap; an init segment is retried with the next part).
   */
  private store(name: string, bytes: Uint8Array, contentType: string, placement?: MediaPlacement): Upload {
    return upload(
      this.options.store.putMedia(name, bytes, { contentType }, placement).then(
        () => true,
        (err) => {
          this.logger.warn({ err: errorMessage(err), object: name }, 'object not stored');
          return false;
        },
      ),
    );
  }

  /** A new run or the end closes a segment left open (see `cursor`); a bridge's fill segment as media. */
  private closeOpenSegment(): void {
    this.finishFillSegment();
    if (this.cursor.index > 0) this.cursor = { msn: this.cursor.msn + 1, index: 0 };
  }

  /** The name an object was stored under must be the one the timeline lists next; never list another. */
  private isNext(storedAs: string, listedAs: string): boolean {
    if (storedAs === listedAs) return true;
    this.logger.error({ storedAs, listedAs }, 'object stored under an unexpected name: listed as a gap');
    return false;
  }

  /**
   * What must be stored before a part may be named in storage: the part and its run's init segment.
   * An init segment that could not be stored is uploaded again with the next part.
   */
  private gateOf(stored: Upload): Upload {
    const init = this.runInit;
    if (init === undefined) return stored;
    if (init.failed) {
      init.failed = false;
      init.stored = this.store(init.name, init.bytes, this.initContentType, { evictable: false });
      void init.stored.done.then((ok) => (init.failed = !ok));
    }
    if (init.stored.outcome === true) return stored;
    return upload(Promise.all([stored.done, init.stored.done]).then(([part, initOk]) => part && initOk));
  }

  /** `stored` or `failed` if the upload settles within `listWithinMs`, else `pending`. */
  private settleWithin(stored: Upload): Promise<'stored' | 'failed' | 'pending'> | 'stored' | 'failed' {
    const outcomeOf = (ok: boolean) => (ok ? ('stored' as const) : ('failed' as const));
    if (stored.outcome !== undefined) return outcomeOf(stored.outcome);
    return new Promise((resolve) => {
      const expired = () => resolve('pending');
      this.deadline.arm(expired);
      void stored.done.then((ok) => {
        this.deadline.disarm(expired);
        resolve(outcomeOf(ok));
      });
    });
  }

  /** An object listed from memory: once its upload settles, storage may name it (or a gap, if it failed). */
  private trackUnsettled(name: string, stored: Upload): void {
    this.unsettled.add(name);
    void stored.done.then((ok) =>
      this.enqueue(async () => {
        this.unsettled.delete(name);
        if (!ok) {
          this.timeline.markGap(name);
          this.logger.warn({ object: name }, 'object listed from memory was dropped before storage took it: now a gap');
        }
        this.options.onChange(this, 'stored');
      }),
    );
  }

  private get initContentType(): string {
    return this.kind === 'audio' ? 'audio/mp4' : 'video/mp4';
  }

  private enqueue(task: () => Promise<void>): Promise<void> {
    const next = this.chain.then(task).catch((err) => {
      this.logger.error({ err: errorMessage(err) }, 'packaging step failed');
    });
    this.chain = next;
    return next;
  }
}
