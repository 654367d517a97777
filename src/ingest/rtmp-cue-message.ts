import { parseSpliceInfoSection } from '../scte35/splice-info-parser.js';
import { spliceCueOf } from '../scte35/splice-cue.js';

/**
 * Ad cues in RTMP data messages (AMF0, message type 18), as encoders and relays send them. No standard
 * covers them; livepipe reads the shapes in use, by the message name and its first object argument:
 * - YouTube's `onCuePoint` (`type: "com.youtube.cuepoint"`, as OvenMediaEngine and OBS plugins send
 *   it): `cue_point_start` (true = out), `break_duration_sec`, `pre_roll_time_sec`, `splice_event_id`;
 * - `onCuePoint` / `onAdCue` carrying a SCTE-35 splice_info_section in base64 (`cue`, or
 *   `parameters.cue`, as Azure Media Services' "scte35" mode and Elemental encoders do): the section's
 *   own meaning (`spliceCueOf`) and bytes;
 * - the simple mode of `onAdCue` / `onCuePoint`: `type` "SpliceOut" / "SpliceIn" (also "out", "in",
 *   "cue-out", "cue-in"), `duration` seconds, `id`, optional `preroll` / `pre_roll_time_sec` seconds.
 * Sent through `@setDataFrame` too (`@setDataFrame("onCuePoint", {...})`).
 *
 * RTMP carries no splice time in a media clock livepipe could map: the splice is when the message
 * arrives plus its announced pre-roll.
 */

export interface RtmpCue {
  kind: 'out' | 'in';
  eventId?: number;
  durationSeconds?: number;
  /** Seconds after the message's arrival that the splice happens (pre-roll); 0 when not announced. */
  preRollSeconds: number;
  /** The SCTE-35 section the message carried, if any. */
  section?: Uint8Array;
}

const CUE_MESSAGES = new Set(['onCuePoint', 'onAdCue']);
const OUT_TYPES = new Set(['spliceout', 'out', 'cue-out', 'cueout', 'start']);
const IN_TYPES = new Set(['splicein', 'in', 'cue-in', 'cuein', 'end']);

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The cue of one AMF0 data message, given its decoded values in order (name first); undefined when it
 * is not a cue message or says nothing usable. Pure; never throws.
 */
export function rtmpCueOf(values: readonly unknown[]): RtmpCue | undefined {
  let rest = values;
  if (rest[0] === '@setDataFrame') rest = rest.slice(1);
  if (typeof rest[0] !== 'string' || !CUE_MESSAGES.has(rest[0])) return undefined;
  const obj = rest.slice(1).find(isObject);
  if (obj === undefined) return undefined;
  const params = isObject(obj.parameters) ? obj.parameters : {};
  const preRollSeconds = num(obj.pre_roll_time_sec) ?? num(obj.preroll) ?? num(params.preroll) ?? 0;

  const base64 = typeof obj.cue === 'string' ? obj.cue : typeof params.cue === 'string' ? params.cue : undefined;
  if (base64 !== undefined) {
    const fromSection = sectionCue(base64, preRollSeconds);
    if (fromSection !== undefined) return fromSection;
  }

  if (obj.type === 'com.youtube.cuepoint') {
    const cue: RtmpCue = { kind: obj.cue_point_start === false ? 'in' : 'out', preRollSeconds };
    const duration = num(obj.break_duration_sec);
    if (duration !== undefined && duration > 0) cue.durationSeconds = duration;
    const eventId = num(obj.splice_event_id);
    if (eventId !== undefined) cue.eventId = eventId;
    return cue;
  }

  const type = typeof obj.type === 'string' ? obj.type.toLowerCase() : typeof params.type === 'string' ? params.type.toLowerCase() : undefined;
  const kind = type === undefined ? undefined : OUT_TYPES.has(type) ? 'out' : IN_TYPES.has(type) ? 'in' : undefined;
  if (kind === undefined) return undefined;
  const cue: RtmpCue = { kind, preRollSeconds };
  const duration = num(obj.duration) ?? num(params.duration);
  if (kind === 'out' && duration !== undefined && duration > 0) cue.durationSeconds = duration;
  const id = num(obj.id) ?? num(params.id);
  if (id !== undefined) cue.eventId = id;
  return cue;
}

function sectionCue(base64: string, preRollSeconds: number): RtmpCue | undefined {
  const bytes = Buffer.from(base64, 'base64');
  let meaning;
  try {
    meaning = spliceCueOf(parseSpliceInfoSection(bytes));
  } catch {
    return undefined; // not a section (or a corrupt one): read the message's other fields
  }
  if (meaning === undefined) return undefined;
  const cue: RtmpCue = { kind: meaning.kind, eventId: meaning.eventId, preRollSeconds, section: new Uint8Array(bytes) };
  if (meaning.durationSeconds !== undefined) cue.durationSeconds = meaning.durationSeconds;
  return cue;
}
