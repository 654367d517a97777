/**
 * PART-TARGET of a video rendition, from the ladder's part duration and the rendition's frame rate.
 *
 * Parts are cut on frame boundaries and must be ≤ PART-TARGET and ≥ 85 % of it (LLHLS.md), so a
 * part duration that is not a whole number of frames can make every part too short: 0.1 s at 25 fps
 * is 2.5 frames, cut as 2-frame parts of 0.08 s (80 %); 0.2 s at 24 fps is 4-frame parts (83 %).
 * Then PART-TARGET becomes the nearest whole number of frames (3 frames = 0.12 s; 5 frames ≈ 0.208 s)
 * and every part fills it. When whole frames already fill ≥ 85 % (0.2 s at 25 or 30 fps, 0.5 s at
 * 25 fps), the ladder's value stands, so ladders read as written wherever they can.
 *
 * The channel's audio uses the same PART-TARGET (server control is identical across renditions):
 * AAC frames are short (21.3 ms at 48 kHz), whole frames fill ≥ 85 % of any target from 0.1 s up.
 */
const MIN_PART_FILL = 0.85;

export function videoPartTarget(part: number, frameRate: number): number {
  if (!(frameRate > 0) || !Number.isFinite(frameRate)) return part;
  const frame = 1 / frameRate;
  const frames = part / frame;
  const whole = Math.floor(frames + 1e-6);
  if (whole >= 1 && whole * frame >= MIN_PART_FILL * part - 1e-9) return part;
  const k = Math.max(1, Math.round(frames));
  // Round to microseconds (the playlist's precision) upwards, so no k-frame part exceeds it.
  return Math.ceil(k * frame * 1e6 - 1e-6) / 1e6;
}

/**
 * PART-TARGET of a run: the ladder's part snapped to the output's whole video frames, one value for
 * every rendition so server control stays identical across them (LLHLS.md, §6.2.4); audio frames
 * are short enough to fill it. Both the ffmpeg argument compiler (fragment sizes) and the packager
 * (cutting, EXT-X-PART-INF) use it.
 */
export function runPartTarget(resolved: { ladder: { part: number }; frameRate: number; video: readonly unknown[] }): number {
  return resolved.video.length > 0 ? videoPartTarget(resolved.ladder.part, resolved.frameRate) : resolved.ladder.part;
}
