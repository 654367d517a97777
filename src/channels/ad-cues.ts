import { ErrorCode, LivepipeError } from '../core/errors.js';
import type { IngestCue } from '../ingest/ingest-feed.js';
import type { Cue } from '../package/cue-schedule.js';
import { SCTE35_TICKS_PER_SECOND } from '../scte35/splice-info.js';
import { spliceInfoHex, writeSpliceInfoSection } from '../scte35/splice-info-writer.js';

/**
 * Ad cues of one channel that arrive without a splice_info_section (the ops API; later RTMP cue
 * points): each gets one, so SCTE35-OUT / SCTE35-IN always carry a real section. An out cue opens a
 * break with a new splice_event_id; an in cue closes the break still open, with the same event id and
 * the same EXT-X-DATERANGE ID ("splice-{event id}").
 *
 * The section is a `splice_insert` with splice_immediate_flag = 1 (it has no PTS: livepipe places the
 * splice by wall-clock time — at a segment cut at its keyed frame on a `keyframes: marked` ladder,
 * else at the first segment boundary at or after `at`), program_splice_flag = 1,
 * and for an out with a duration a break_duration with auto_return = 1.
 */

export interface AdCueRequest {
  type: 'out' | 'in';
  /** Out: the planned length of the break, seconds. */
  durationSeconds?: number;
  /** Splice instant, epoch ms; default now. */
  at?: number;
}

export interface AdCueAccepted {
  id: string;
  type: 'out' | 'in';
  /** The requested splice instant (ISO 8601); the DATERANGE's START-DATE is the boundary at or after it. */
  at: string;
  /** The splice_info_section, hex ("0xFC30…"). */
  scte35: string;
}

/**
 * Builds the cue for each request, keeping which break is open. Cues from the publisher's stream
 * (`fromIngest`) share that state: an RTMP cue message is built like an API request; a SCTE-35 cue
 * keeps the publisher's own section and event id (DATERANGE ID "splice-{event id}").
 */
export class AdCueBuilder {
  private lastEventId = 0;
  private open: { eventId: number; id: string } | undefined;

  constructor(private readonly channel: string) {}

  /** A cue from the publisher's stream; throws as `build` does (an in with no break open). */
  fromIngest(cue: IngestCue, now: number): { cue: Cue; accepted: AdCueAccepted } {
    if (cue.section === undefined || cue.eventId === undefined) {
      const request: AdCueRequest = { type: cue.kind, at: cue.at };
      if (cue.kind === 'out' && cue.durationSeconds !== undefined && cue.durationSeconds > 0) request.durationSeconds = cue.durationSeconds;
      return this.build(request, now);
    }
    const id = `splice-${cue.eventId}`;
    if (cue.kind === 'out') this.open = { eventId: cue.eventId, id };
    else if (this.open?.id === id) this.open = undefined;
    const scte35 = spliceInfoHex(cue.section);
    const built: Cue = { id, kind: cue.kind, at: cue.at, scte35 };
    if (cue.kind === 'out' && cue.durationSeconds !== undefined && cue.durationSeconds > 0) built.plannedDuration = cue.durationSeconds;
    return { cue: built, accepted: { id, type: cue.kind, at: new Date(cue.at).toISOString(), scte35 } };
  }

  build(request: AdCueRequest, now: number): { cue: Cue; accepted: AdCueAccepted } {
    const at = request.at ?? now;
    let eventId: number;
    let id: string;
    if (request.type === 'out') {
      if (request.durationSeconds !== undefined && !(request.durationSeconds > 0)) {
        throw new LivepipeError(ErrorCode.BadRequest, 'durationSeconds must be > 0');
      }
      // Seconds since the epoch: event ids (and DATERANGE IDs) stay unique across process restarts.
      eventId = Math.max(this.lastEventId + 1, Math.floor(now / 1000)) % 2 ** 32;
      this.lastEventId = eventId;
      id = `splice-${eventId}`;
      this.open = { eventId, id };
    } else {
      if (request.durationSeconds !== undefined) throw new LivepipeError(ErrorCode.BadRequest, 'durationSeconds is for out cues only');
      if (this.open === undefined) throw new LivepipeError(ErrorCode.Conflict, `channel ${this.channel} has no ad break open to end`);
      ({ eventId, id } = this.open);
      this.open = undefined;
    }
    const section = writeSpliceInfoSection({
      protocolVersion: 0,
      sapType: 3,
      ptsAdjustment: 0,
      cwIndex: 0xff,
      tier: 0xfff,
      command: {
        type: 'splice_insert',
        spliceEventId: eventId,
        cancel: false,
        outOfNetwork: request.type === 'out',
        eventIdCompliance: true,
        spliceImmediate: true,
        program: { ptsTime: undefined },
        components: [],
        breakDuration:
          request.durationSeconds === undefined
            ? undefined
            : { autoReturn: true, duration: Math.round(request.durationSeconds * SCTE35_TICKS_PER_SECOND) },
        uniqueProgramId: 0,
        availNum: 0,
        availsExpected: 0,
      },
      descriptors: [],
    });
    const scte35 = spliceInfoHex(section);
    const cue: Cue = { id, kind: request.type, at, scte35 };
    if (request.durationSeconds !== undefined) cue.plannedDuration = request.durationSeconds;
    return { cue, accepted: { id, type: request.type, at: new Date(at).toISOString(), scte35 } };
  }
}
