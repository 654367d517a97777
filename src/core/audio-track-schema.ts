import { z } from 'zod';

/**
 * Which source audio tracks to publish, each as its own rendition in the audio group, and how they
 * are described (issue 17, docs/on-air.md "Audio languages"). One schema for both places a list may
 * be given: a ladder's `audioTracks` and a channel's (the channel's wins, `ladder/audio-tracks.ts`).
 * It lives here, below both config and ladder, because leaves may not import each other.
 */

/**
 * A language tag (BCP 47 / RFC 5646, what LANGUAGE= carries, §4.4.6.1): `en`, `es-419`, `pt-BR`; ISO
 * 639-2 codes (`eng`) are accepted and written in their shortest form (`en`). It also names storage
 * keys (`audio-en/…`), hence the strict alphabet.
 */
export const LANGUAGE_TAG_PATTERN = /^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8}){0,3}$/;

/** A text for NAME= (a quoted-string: no double quote, no line break), 1–64 characters. */
const RenditionLabel = z
  .string()
  .min(1)
  .max(64)
  .refine((v) => !/["\r\n]/.test(v), { message: 'must not contain a double quote or a line break' });

/**
 * One source audio track to publish as its own rendition (issue 17). What is set here overrides what
 * the source's metadata says (`language` and `title` tags, the default disposition).
 */
export const AudioTrackSchema = z.strictObject({
  /** Which audio stream of the source, counted from 0 among its audio streams (`0:a:N`); default its position in this list. */
  track: z.number().int().min(0).max(31).optional(),
  /** LANGUAGE; default the source's `language` tag. */
  language: z.string().regex(LANGUAGE_TAG_PATTERN, { message: 'must be a language tag such as "en", "es-419" or "eng"' }).optional(),
  /** NAME shown to viewers; default the source's `title` tag, else the language's English name. */
  name: RenditionLabel.optional(),
  /** DEFAULT=YES; at most one track may say so. Default: the source's default track, else the first. */
  default: z.boolean().optional(),
});

/** A list of 1–16 tracks: at most one default, no source track twice. */
export const AudioTrackListSchema = z
  .array(AudioTrackSchema)
  .min(1)
  .max(16)
  .superRefine((tracks, ctx) => {
    if (tracks.filter((t) => t.default === true).length > 1) {
      ctx.addIssue({ code: 'custom', path: [], message: 'at most one audio track may be the default' });
    }
    const trackIndexes = tracks.map((t, i) => t.track ?? i);
    trackIndexes.forEach((track, i) => {
      if (trackIndexes.indexOf(track) !== i) ctx.addIssue({ code: 'custom', path: [i, 'track'], message: `source audio track ${track} listed twice` });
    });
  });

export type AudioTrackConfig = z.output<typeof AudioTrackSchema>;
