import { ticksToSeconds, type SpliceInfoSection } from './splice-info.js';

/**
 * What a splice_info_section means for ad markers: an ad break starts (out) or ends (in), or neither.
 * - `splice_insert`: out_of_network_indicator 1 = out, 0 = in; a cancelled event is neither.
 * - `time_signal`: its first segmentation descriptor (not cancelled) of an ad-break type
 *   (SCTE 35 Table 22): break, provider/distributor advertisement, placement opportunity and ad block
 *   starts are out, their ends are in. Overlays, programs, chapters and the rest are neither.
 * - anything else (splice_null heartbeats, private commands) is neither.
 */

export interface SpliceCue {
  kind: 'out' | 'in';
  /** splice_event_id or segmentation_event_id: an in closes the out with the same id. */
  eventId: number;
  /** break_duration or segmentation_duration, seconds. */
  durationSeconds?: number;
  /** The splice PTS with pts_adjustment applied (90 kHz, mod 2^33); undefined = immediate. */
  ptsTime?: number;
}

const OUT_TYPES = new Set([0x22, 0x30, 0x32, 0x34, 0x36, 0x44, 0x46]);
const IN_TYPES = new Set([0x23, 0x31, 0x33, 0x35, 0x37, 0x45, 0x47]);
const PTS_MODULO = 2 ** 33;

export function spliceCueOf(section: SpliceInfoSection): SpliceCue | undefined {
  const adjust = (pts: number | undefined): number | undefined => (pts === undefined ? undefined : (pts + section.ptsAdjustment) % PTS_MODULO);
  const cmd = section.command;
  if (cmd.type === 'splice_insert') {
    if (cmd.cancel) return undefined;
    const cue: SpliceCue = { kind: cmd.outOfNetwork ? 'out' : 'in', eventId: cmd.spliceEventId };
    const pts = cmd.spliceImmediate ? undefined : adjust(cmd.program?.ptsTime ?? cmd.components[0]?.ptsTime);
    if (pts !== undefined) cue.ptsTime = pts;
    if (cmd.breakDuration !== undefined) cue.durationSeconds = ticksToSeconds(cmd.breakDuration.duration);
    return cue;
  }
  if (cmd.type === 'time_signal') {
    for (const d of section.descriptors) {
      if (!('segmentationEventId' in d) || d.cancel) continue;
      const kind = OUT_TYPES.has(d.segmentationTypeId) ? 'out' : IN_TYPES.has(d.segmentationTypeId) ? 'in' : undefined;
      if (kind === undefined) continue;
      const cue: SpliceCue = { kind, eventId: d.segmentationEventId };
      const pts = adjust(cmd.ptsTime);
      if (pts !== undefined) cue.ptsTime = pts;
      if (d.segmentationDuration !== undefined) cue.durationSeconds = ticksToSeconds(d.segmentationDuration);
      return cue;
    }
  }
  return undefined;
}
