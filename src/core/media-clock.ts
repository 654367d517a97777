import type { Readable } from 'node:stream';

/**
 * The wall-clock time at which the first frame a live media stream delivers reached livepipe.
 *
 * Ingest fan-outs stamp each consumer stream they open (the cached keyframe's arrival time, or the
 * next keyframe's when the consumer has to wait for one); the transcoder carries the stamp of the
 * stream it reads into its run; the packager anchors EXT-X-PROGRAM-DATE-TIME on it. Without it the
 * anchor would be the moment ffmpeg starts, which comes after probing buffered input: PDT would be
 * late and players would report a latency lower than the real one.
 */
const FIRST_FRAME_ARRIVED_AT = Symbol('livepipe.firstFrameArrivedAt');

/**
 * A time, or a function giving the best estimate when asked: a fan-out that learns arrival times
 * from media timestamps (see `ArrivalClock`) can sharpen the estimate until the packager reads it.
 */
export type ArrivalStamp = number | (() => number);

type Stamped = Readable & { [FIRST_FRAME_ARRIVED_AT]?: ArrivalStamp };

/** Epoch ms the stream's first frame arrived, once known. */
export function firstFrameArrivedAt(stream: Readable): number | undefined {
  const stamp = (stream as Stamped)[FIRST_FRAME_ARRIVED_AT];
  return typeof stamp === 'function' ? stamp() : stamp;
}

/** Records the arrival time of the stream's first frame; later calls do not overwrite it. */
export function stampFirstFrameArrival(stream: Readable, epochMs: ArrivalStamp): void {
  const stamped = stream as Stamped;
  stamped[FIRST_FRAME_ARRIVED_AT] ??= epochMs;
}
