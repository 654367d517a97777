import { X264_PRESETS, type Ladder } from '../ladder/ladder-schema.js';

/**
 * What a node does about a channel whose encoder falls behind realtime (`capacity.behindPolicy`,
 * docs/capacity.md). Pure: the channel asks `decideBehindAction` each time its encoder is flagged
 * behind, and runs the ladder `adjustLadder` gives (a restart of the encoder on the same feed, which
 * the packager continues after a discontinuity).
 */
export const BEHIND_POLICIES = ['warn', 'refuse-new', 'cheaper-preset', 'drop-top-rendition'] as const;

export type BehindPolicy =
  /** Flag it (state reason, metric, alert, log) and keep admitting channels that fit. */
  | 'warn'
  /** Flag it and refuse every new channel until no channel is behind. */
  | 'refuse-new'
  /** Restart its encoder with every x264 preset one step faster, each time it is flagged; down to `ultrafast`. */
  | 'cheaper-preset'
  /** Restart its encoder without its highest rendition, each time it is flagged; down to one video rendition. */
  | 'drop-top-rendition';

/** How far a channel's ladder has been lightened while live (accumulated over its publish session). */
export interface BehindAdjustment {
  /** Steps faster than each rendition's own x264 preset (bounded at `ultrafast`). */
  presetSteps: number;
  /** Video renditions taken off, highest first. */
  droppedRenditions: readonly string[];
}

export const NO_ADJUSTMENT: BehindAdjustment = { presetSteps: 0, droppedRenditions: [] };

export type BehindAction =
  | { kind: 'none'; why: string }
  | { kind: 'restart'; adjustment: BehindAdjustment; summary: string };

type X264Preset = (typeof X264_PRESETS)[number];

/** The preset `steps` faster than `preset` (X264_PRESETS is ordered fastest first), bounded at ultrafast. */
export function fasterPreset(preset: X264Preset, steps: number): X264Preset {
  const index = X264_PRESETS.indexOf(preset);
  return X264_PRESETS[Math.max(0, index - Math.max(0, steps))]!;
}

/** The ladder to run under `adjustment`: renditions dropped, presets faster. */
export function adjustLadder(ladder: Ladder, adjustment: BehindAdjustment): Ladder {
  if (adjustment.presetSteps === 0 && adjustment.droppedRenditions.length === 0) return ladder;
  const dropped = new Set(adjustment.droppedRenditions);
  return {
    ...ladder,
    video: ladder.video.filter((v) => !dropped.has(v.name)).map((v) => ({ ...v, preset: fasterPreset(v.preset, adjustment.presetSteps) })),
  };
}

export interface BehindDecisionInput {
  policy: BehindPolicy;
  /** The channel's ladder as configured (before any adjustment). */
  ladder: Ladder;
  /** The video renditions the current run encodes (kept for its source), any order, with their sizes. */
  encoded: ReadonlyArray<{ name: string; width: number; height: number }>;
  /** What was done so far in this publish session. */
  adjustment: BehindAdjustment;
}

/** What to do now that the channel was flagged behind realtime (again). */
export function decideBehindAction(input: BehindDecisionInput): BehindAction {
  const { policy, ladder, encoded, adjustment } = input;
  switch (policy) {
    case 'warn':
    case 'refuse-new':
      return { kind: 'none', why: `policy ${policy} does not change a running channel` };
    case 'cheaper-preset': {
      if (ladder.encoder.kind !== 'x264') return { kind: 'none', why: 'cheaper-preset applies to x264 ladders only' };
      const current = adjustLadder(ladder, adjustment);
      const next = adjustLadder(ladder, { ...adjustment, presetSteps: adjustment.presetSteps + 1 });
      const changes = next.video
        .map((v, i) => ({ name: v.name, from: current.video[i]!.preset, to: v.preset }))
        .filter((c) => c.from !== c.to && encoded.some((e) => e.name === c.name));
      if (changes.length === 0) return { kind: 'none', why: 'every encoded rendition is at ultrafast already' };
      return {
        kind: 'restart',
        adjustment: { ...adjustment, presetSteps: adjustment.presetSteps + 1 },
        summary: `x264 preset one step faster (${changes.map((c) => `${c.name} ${c.from} → ${c.to}`).join(', ')})`,
      };
    }
    case 'drop-top-rendition': {
      if (encoded.length <= 1) return { kind: 'none', why: 'only one video rendition is left' };
      const top = [...encoded].sort((a, b) => b.width * b.height - a.width * a.height)[0]!;
      return {
        kind: 'restart',
        adjustment: { ...adjustment, droppedRenditions: [...adjustment.droppedRenditions, top.name] },
        summary: `top rendition ${top.name} dropped (${encoded.length - 1} video renditions left)`,
      };
    }
  }
}
