import { LANGUAGE_TAG_PATTERN, type AudioTrackConfig, type Ladder } from './ladder-schema.js';

/**
 * Which source audio tracks a channel publishes, each as its own rendition in the audio group
 * (issue 17), and how the multivariant playlist describes them: LANGUAGE, NAME, DEFAULT. Pure.
 *
 * - The ladder's `audioTracks` list, when set, says which tracks and overrides their metadata field
 *   by field; otherwise every decodable audio track of the source is published, described by its
 *   `language` and `title` tags and its default disposition.
 * - A source with one audio track and no list is published exactly as before: one rendition per
 *   ladder audio entry, named as in the ladder, without LANGUAGE (`planAudioTracks` says `undefined`).
 * - "A Playlist MUST contain no more than one EXT-X-MEDIA tag in each Group with DEFAULT=YES" and
 *   "All EXT-X-MEDIA tags in the same Group MUST have different NAME attributes" (§4.4.6.1.1): one
 *   track is the default (the list's, else the source's, else the first) and names are made unique.
 */

/** One audio stream of the input as ffprobe describes it (tags and disposition as the publisher set them). */
export interface ProbedAudioTrack {
  /** Position among the input's audio streams (`0:a:N`). */
  index: number;
  /** The `language` tag as given (ISO 639-2 `eng`, BCP 47 `en-GB`, `und`…): not validated here. */
  language?: string;
  /** The `title` tag (MP4, Matroska; MPEG-TS has no place for one). */
  title?: string;
  /** disposition.default = 1. */
  default: boolean;
  channels?: number;
}

export interface AudioTrackPlan {
  /** The source audio stream (`0:a:N`). */
  track: number;
  /** LANGUAGE: a canonical BCP 47 tag (`en`, `es-419`); absent when unknown or `und`. */
  language?: string;
  /** NAME: unique among the plan's tracks. */
  label: string;
  isDefault: boolean;
  /** Rendition name suffix (`{rendition}-{suffix}`): lower-case letters, digits and `-`, unique in the plan. */
  suffix: string;
}

export interface AudioTrackChoice {
  /** One entry per published track; `undefined` when the channel has one track published as before. */
  plan: AudioTrackPlan[] | undefined;
  /** Source tracks the ladder lists that the source does not have (or cannot decode). */
  missing: number[];
}

/** English names of languages (`es` → Spanish), for NAME when the source has no title. */
const LANGUAGE_NAMES = new Intl.DisplayNames(['en'], { type: 'language', fallback: 'none' });

/**
 * The canonical form of a language tag, or undefined when it is not one or says "undetermined":
 * `eng` → `en`, `fre` → `fr`, `en-us` → `en-US` (Intl's CLDR aliases, RFC 5646 §4.1 "use the
 * shortest"). The result still matches `LANGUAGE_TAG_PATTERN`, so it is safe in keys and attributes.
 */
export function canonicalLanguage(tag: string | undefined): string | undefined {
  if (tag === undefined || !LANGUAGE_TAG_PATTERN.test(tag)) return undefined;
  let canonical: string | undefined;
  try {
    canonical = Intl.getCanonicalLocales(tag)[0];
  } catch {
    return undefined;
  }
  if (canonical === undefined || !LANGUAGE_TAG_PATTERN.test(canonical)) return undefined;
  const primary = canonical.split('-')[0]!.toLowerCase();
  // und: undetermined; mis, mul, zxx: uncoded, multiple, no linguistic content (ISO 639-2).
  return ['und', 'mis', 'mul', 'zxx'].includes(primary) ? undefined : canonical;
}

/** A source title as a NAME: quotes and line breaks cannot be in a quoted-string (§4.2). */
function labelFromTitle(title: string | undefined): string | undefined {
  const clean = title?.replace(/["\r\n]+/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 64);
  return clean ? clean : undefined;
}

interface Described {
  track: number;
  language?: string;
  label?: string;
  default?: boolean;
}

export function planAudioTracks(config: readonly AudioTrackConfig[] | undefined, probed: readonly ProbedAudioTrack[] | undefined): AudioTrackChoice {
  const source = probed ?? [];
  const missing: number[] = [];
  let described: Described[];
  if (config === undefined) {
    if (source.length <= 1) return { plan: undefined, missing };
    described = source.map((t) => ({ track: t.index, language: canonicalLanguage(t.language), label: labelFromTitle(t.title), default: t.default }));
  } else {
    described = [];
    config.forEach((c, i) => {
      const track = c.track ?? i;
      const found = source.find((t) => t.index === track);
      if (found === undefined) {
        missing.push(track);
        return;
      }
      described.push({
        track,
        language: canonicalLanguage(c.language ?? found.language),
        label: c.name ?? labelFromTitle(found.title),
        // The list decides the default when it names one; otherwise the source's flag counts.
        default: config.some((x) => x.default === true) ? c.default === true : found.default,
      });
    });
    if (described.length === 0) return { plan: undefined, missing };
  }
  const defaultAt = Math.max(0, described.findIndex((d) => d.default === true));
  const labels = new Set<string>();
  const suffixes = new Set<string>();
  const plan = described.map((d, i): AudioTrackPlan => {
    const base = d.label ?? (d.language !== undefined ? (LANGUAGE_NAMES.of(d.language) ?? d.language) : `Audio ${i + 1}`);
    let label = base;
    for (let n = 2; labels.has(label); n++) label = `${base} (${n})`;
    labels.add(label);
    let suffix = d.language !== undefined ? d.language.toLowerCase() : `track${d.track}`;
    if (suffixes.has(suffix)) suffix = `${suffix}-track${d.track}`;
    suffixes.add(suffix);
    return { track: d.track, ...(d.language !== undefined ? { language: d.language } : {}), label, isDefault: i === defaultAt, suffix };
  });
  return { plan, missing };
}

/**
 * The ladder a channel runs: the channel's own `audioTracks` list, when it has one, replaces the
 * ladder's as a whole (not merged track by track: the channel knows its source's tracks); without
 * one the ladder's list (or none) applies. The same `Ladder` object when nothing changes.
 */
export function withChannelAudioTracks(ladder: Ladder, channelTracks: readonly AudioTrackConfig[] | undefined): Ladder {
  return channelTracks === undefined ? ladder : { ...ladder, audioTracks: [...channelTracks] };
}
