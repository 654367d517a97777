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

/**
 * The whole frames the cutter packs into a part of `partTarget` seconds: floor, with a hair of
 * tolerance so that 0.5 × 30 counts 15.
 */
export function wholeFramesPerPart(partTarget: number, frameRate: number): number {
  return Math.floor(partTarget * frameRate + 1e-6);
}

/**
 * Seconds between a run's forced keyframes: the ladder's `gop`, unless a keyframe inside a segment
 * would not start a part, and then the segment (a keyframe at each segment start only).
 *
 * The packager starts a part at every keyframe (a part is INDEPENDENT only from its first frame), so
 * a mid-segment keyframe that falls inside a part cuts that part short: `low-latency` (0.5 s GOPs,
 * 0.1 s parts) on a 25 fps source keyed frame 13 of every 25-frame segment inside the 3-frame part
 * 12–14 and made a one-frame part (0.04 s, a third of PART-TARGET) in every segment, against the
 * rule that parts other than a segment's last are ≥ 85 % of PART-TARGET (LLHLS.md). A GOP keeps its
 * mid-segment keyframes only when it is a whole number of frames at the output rate and a whole
 * number of parts (30 fps: 0.5 s = 5 parts of 3 frames, 0.2 s = 2); otherwise (25 fps, 29.97 fps,
 * where the frame times drift against the grid) the segment start is the only keyframe, which costs
 * a joining player a longer run of parts to its start position and nothing else.
 */
export function keyframeGop(ladder: { gop: number; segment: number; part: number }, frameRate: number): number {
  if (ladder.gop >= ladder.segment - 1e-9 || !(frameRate > 0) || !Number.isFinite(frameRate)) return ladder.gop;
  const partFrames = Math.max(1, wholeFramesPerPart(videoPartTarget(ladder.part, frameRate), frameRate));
  const gopFrames = ladder.gop * frameRate;
  const whole = Math.round(gopFrames);
  return Math.abs(gopFrames - whole) < 1e-6 && whole % partFrames === 0 ? ladder.gop : ladder.segment;
}
