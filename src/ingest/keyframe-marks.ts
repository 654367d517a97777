/**
 * Keyframe marks: an H.264 recovery-point SEI put into a frame so that the transcoder makes that
 * frame a keyframe of every rendition — a keyframe at a time decided while the encoder runs.
 *
 * Why: ffmpeg 5.1 cannot be told at run time to force a keyframe; `-force_key_frames expr:…` is
 * fixed when the encoder starts. But `-force_key_frames source` forces an encoder keyframe on every
 * decoded frame whose `key_frame` flag is set, and ffmpeg's H.264 decoder sets that flag on a
 * frame whose access unit carries a recovery point SEI (ITU-T H.264 D.1.8 / D.2.8, payload type 6),
 * not only on IDR pictures. So whoever writes the encoder's input chooses the keyframes by marking
 * frames (the source's own IDRs become keyframes too under `source`).
 *
 * The mark is added to an FLV AVC video tag body (AVCPacketType 1: AVCC, NAL units each prefixed by
 * its length in `lengthSizeMinusOne + 1` bytes, from the AVC sequence header: `markAvcFrame`), or to
 * an MPEG-TS access unit (Annex B, NAL units behind start codes: `markAnnexBFrame`). The FLV tag keeps its
 * CompositionTime and stays an inter frame in FLV terms (FrameType 2): ffmpeg's decoder does not
 * look at the FLV frame type, and the relays' GOP caches must not start a new viewer or run at a
 * picture that is no IDR (its references are missing there).
 *
 * H.264 only: ffmpeg's HEVC decoder does not set `key_frame` from a recovery point SEI, and the
 * Enhanced RTMP tags (HEVC, AV1, VP9) are left alone.
 */

/**
 * The SEI NAL unit, without a length prefix: nal_unit_type 6; payloadType 6 (recovery point);
 * payloadSize 1; then the payload bits `1` (recovery_frame_cnt = 0, ue(v): this very frame is the
 * recovery point), `1` (exact_match_flag), `0` (broken_link_flag), `00` (changing_slice_group_idc),
 * padded with zero bits to the byte: 0xC0; then rbsp_trailing_bits 0x80.
 */
export const RECOVERY_POINT_SEI_NAL: Buffer = Buffer.from([0x06, 0x06, 0x01, 0xc0, 0x80]);

const AVC_CODEC_ID = 7;

/**
 * Whether an FLV video tag body is legacy AVC (H.264: no Enhanced RTMP ExHeader, CodecID 7). Only
 * such a run is compiled to key where its decoder flags frames (`markedKeyframesApply`): any other
 * codec's run is keyed on the GOP grid, so its own keyframes are no keyframes of the encoder's
 * output — a splice or switch on one is not keyed.
 */
export function isAvcVideoBody(body: Buffer): boolean {
  return body.length > 0 && (body[0]! & 0x80) === 0 && (body[0]! & 0x0f) === AVC_CODEC_ID;
}
const AVC_PACKET_NALU = 1;
/** FrameType(4) CodecID(4) AVCPacketType(8) CompositionTime(24): the NAL units start here. */
const AVC_HEADER_BYTES = 5;

/**
 * The NAL length size (1, 2 or 4) from an FLV AVC sequence header tag body: the
 * AVCDecoderConfigurationRecord's `lengthSizeMinusOne` (ISO/IEC 14496-15 5.3.3.1), in the low two
 * bits of the record's fifth byte. Undefined for anything else (not AVC, not a sequence header, cut short).
 */
export function avcNalLengthSize(sequenceHeaderBody: Buffer): number | undefined {
  if (sequenceHeaderBody.length < AVC_HEADER_BYTES + 5) return undefined;
  if ((sequenceHeaderBody[0]! & 0x80) !== 0 || (sequenceHeaderBody[0]! & 0x0f) !== AVC_CODEC_ID || sequenceHeaderBody[1] !== 0) return undefined;
  const size = (sequenceHeaderBody[AVC_HEADER_BYTES + 4]! & 0x03) + 1;
  return size === 3 ? undefined : size; // 3 is not allowed by 14496-15
}

/** The NAL units of an AVCC payload as [start, end) byte ranges, or undefined if the lengths do not add up. */
export function avccNalUnits(payload: Buffer, lengthSize: number): Array<[number, number]> | undefined {
  const units: Array<[number, number]> = [];
  let at = 0;
  while (at < payload.length) {
    if (at + lengthSize > payload.length) return undefined;
    const length = payload.readUIntBE(at, lengthSize);
    const start = at + lengthSize;
    if (length === 0 || start + length > payload.length) return undefined;
    units.push([start, start + length]);
    at = start + length;
  }
  return units;
}

/**
 * The tag body with a recovery point SEI NAL put just before its first slice (after any access unit
 * delimiter, parameter sets and SEI NALs it has: H.264 7.4.1.2.3 orders SEI before the first VCL
 * NAL, and a buffering period SEI must stay the first SEI). Undefined when the body is not an AVC
 * frame (another codec, a sequence header), its NAL lengths do not parse, it has no slice, or it
 * carries the mark already.
 */
export function markAvcFrame(body: Buffer, lengthSize: number): Buffer | undefined {
  if (body.length <= AVC_HEADER_BYTES || (body[0]! & 0x80) !== 0 || (body[0]! & 0x0f) !== AVC_CODEC_ID || body[1] !== AVC_PACKET_NALU) return undefined;
  const payload = body.subarray(AVC_HEADER_BYTES);
  const units = avccNalUnits(payload, lengthSize);
  if (units === undefined) return undefined;
  if (units.some(([s, e]) => payload.subarray(s, e).equals(RECOVERY_POINT_SEI_NAL))) return undefined;
  const firstSlice = units.find(([s]) => isSliceNal(payload[s]! & 0x1f));
  if (firstSlice === undefined) return undefined;
  const insertAt = AVC_HEADER_BYTES + firstSlice[0] - lengthSize;
  const prefix = Buffer.alloc(lengthSize);
  prefix.writeUIntBE(RECOVERY_POINT_SEI_NAL.length, 0, lengthSize);
  return Buffer.concat([body.subarray(0, insertAt), prefix, RECOVERY_POINT_SEI_NAL, body.subarray(insertAt)]);
}

/** H.264 nal_unit_type of a slice: 1 (non-IDR) … 5 (IDR). */
function isSliceNal(type: number): boolean {
  return type >= 1 && type <= 5;
}

const IDR_NAL_TYPE = 5;
const START_CODE = Buffer.from([0, 0, 1]);
const FOUR_BYTE_START_CODE = Buffer.from([0, 0, 0, 1]);

/**
 * The NAL units of an H.264 Annex-B byte stream (an MPEG-TS access unit: each NAL unit behind a
 * `00 00 01` or `00 00 00 01` start code, H.264 B.1) as [start, end) byte ranges without their start
 * codes; trailing zero bytes (the next start code's leading zero, trailing_zero_8bits) are not part of
 * a unit. Bytes before the first start code are skipped; empty units are left out.
 */
export function annexBNalUnits(data: Buffer): Array<[number, number]> {
  const units: Array<[number, number]> = [];
  let start = -1;
  for (let at = data.indexOf(START_CODE); at >= 0; at = data.indexOf(START_CODE, at + 3)) {
    if (start >= 0) pushUnit(units, data, start, at);
    start = at + 3;
  }
  if (start >= 0) pushUnit(units, data, start, data.length);
  return units;
}

function pushUnit(units: Array<[number, number]>, data: Buffer, start: number, end: number): void {
  while (end > start && data[end - 1] === 0) end -= 1; // a NAL unit ends in rbsp_stop_one_bit, never 0x00
  if (end > start) units.push([start, end]);
}

/** Whether an Annex-B access unit holds an IDR slice (nal_unit_type 5). */
export function isAnnexBIdr(data: Buffer): boolean {
  return annexBNalUnits(data).some(([s]) => (data[s]! & 0x1f) === IDR_NAL_TYPE);
}

/**
 * The Annex-B access unit with a recovery point SEI NAL (behind a 4-byte start code) put before its
 * first slice, after any AUD, parameter sets and SEI NALs — the rules of `markAvcFrame`. Undefined
 * when it has no slice or carries the mark already.
 */
export function markAnnexBFrame(data: Buffer): Buffer | undefined {
  const units = annexBNalUnits(data);
  if (units.some(([s, e]) => data.subarray(s, e).equals(RECOVERY_POINT_SEI_NAL))) return undefined;
  const firstSlice = units.find(([s]) => isSliceNal(data[s]! & 0x1f));
  if (firstSlice === undefined) return undefined;
  // Before the slice's start code, with the zero bytes leading it (a 4-byte start code's first).
  let insertAt = firstSlice[0] - 3;
  while (insertAt > 0 && data[insertAt - 1] === 0) insertAt -= 1;
  return Buffer.concat([data.subarray(0, insertAt), FOUR_BYTE_START_CODE, RECOVERY_POINT_SEI_NAL, data.subarray(insertAt)]);
}

/** What became of a mark scheduled with `KeyframeMarker.markAt`: the frame's time, and whether it is a keyframe now. */
export interface ScheduledMarkResult {
  /** Presentation time (ms) of the first frame at or after the requested time. */
  pts: number;
  /** The frame was marked, or was an IDR of the source; false: it could not be marked (not AVC, unparsable). */
  keyed: boolean;
}

/**
 * How many of the latest decode-time steps `KeyframeMarker` keeps to know the input's frame interval
 * on a source with B-frames (`presentationWindowMs`): a few frames, so a frame rate change is
 * followed within a quarter second.
 */
const DECODE_STEPS_KEPT = 8;

/**
 * Decides which frames of a timeline get a mark: the first frame at or after each point of a grid
 * (`origin` + multiples of the interval — where `-force_key_frames expr:gte(t,n_forced*GOP)` would
 * put keyframes, so the packager's segment boundaries, multiples of the segment duration, still find
 * one), unless a keyframe (an IDR of the source, a frame marked on request) was written since that
 * grid point; the next frame after `markNext` (a switch), wherever it falls; and the first frame at
 * or after a time given to `markAt` (an ad splice), when that frame passes.
 *
 * The decision knows no payload format: `decideFrame` says whether a frame is due a mark, the caller
 * puts the mark into its bytes (AVCC: `onFrame`; Annex B in MPEG-TS: `TsKeyframeMarking`) and tells
 * the outcome with `settleFrame` — at once, or once the frame's bytes are all there.
 *
 * Sources with B-frames. Frames come in decode order, and the grid points and splice instants are
 * presentation times: the encoder keys the picture its decoder flags, after reordering, and its
 * constant-frame-rate output counts in presentation time. The first frame *in decode order* with a
 * presentation time at or after a point is often a P picture presented after the B pictures that
 * follow it in the stream — marking it put the key 2–3 frames late (x264 `-bf 3`). So a frame is
 * "the first at or after" point `t` (`firstAtOrAfter`) when its PTS is at or after `t` and either
 * its DTS is too (no later frame can be presented before it: decode order and presentation order
 * agree from there — always so without B-frames, where DTS = PTS, the rule of before) or its PTS is
 * less than one input frame interval past `t` (the frame presented just before it is then before
 * `t`, whether it was decoded yet or not). ffmpeg's H.264 decoder keys a marked B picture too, a
 * non-reference one included: the recovery point SEI sets the picture's `sei_recovery_frame_cnt`
 * and `output_frame` (h264dec.c) flags every output picture whose count is 0 as `key_frame`, in
 * presentation order, whatever its nal_ref_idc (the reference picture only matters for the
 * decoder's own `recovered` state, which an IDR has set long before). Cost, when the interval rule
 * cannot tell (a frame missing or late at the point, a variable frame rate, FLV's whole-ms
 * timestamps putting a frame exactly one interval past the point): the mark waits for the first
 * frame whose DTS is at or after the point — at most the source's reorder delay (its largest
 * composition offset: 2–3 frames with x264 `-bf 3`) later than the frame wanted.
 */
export class KeyframeMarker {
  private lastKeyframePts: number | undefined;
  private lengthSize: number | undefined;
  /** A mark asked for (`markNext`): the next frame gets one whatever its time. */
  private requested = false;
  /** Marks asked for at a time (`markAt`), each answered once its frame passes. */
  private scheduled: Array<{ pts: number; done: (result: ScheduledMarkResult) => void }> = [];
  /** Frames before this presentation time are marked (`markBefore`). */
  private markBeforePts: number | undefined;
  /** The last frame's decode time and the step before it (ms): the input's frame interval. */
  private lastFrameDts: number | undefined;
  private inputFrameMs = 0;
  /** The latest decode-time steps (ms), for `presentationWindowMs`. */
  private decodeSteps: number[] = [];
  /** Frames presented from this time on are marked (with `markBeforePts`: a splice's output slot). */
  private markFromPts: number | undefined;
  /** The frame `decideFrame` decided on and `settleFrame` has not settled yet. */
  private unsettled: { pts: number; keyframe: boolean; due: Array<(result: ScheduledMarkResult) => void> } | undefined;
  /**
   * The transcoder's output frame interval when the ladder caps the frame rate (1000 / cap, ms). A
   * splice mark then keys every frame that may share the splice frame's output slot: the `fps`
   * filter keeps the *last* frame of a slot, so on a source faster than the cap the marked frame
   * alone would be dropped (the same cause as a switch's first slot, `markOutputSlot`).
   */
  outputFrameMs: number | undefined;

  constructor(public intervalMs: number) {}

  /** Learns the NAL length size from an AVC sequence header body (other codecs: no marks). */
  onSequenceHeader(body: Buffer): void {
    this.lengthSize = avcNalLengthSize(body);
  }

  /** The next frame is marked (a switch's first frame, an ad splice point). */
  markNext(): void {
    this.requested = true;
  }

  /**
   * The first frame whose presentation time is at or after `pts` (ms, this timeline's) is marked when
   * it passes — `-Infinity`: the next frame — and `done` is told which frame that was. A splice in the
   * future is thus keyed at its frame, not when it was asked for.
   */
  markAt(pts: number, done: (result: ScheduledMarkResult) => void): void {
    this.scheduled.push({ pts, done });
  }

  /** Marks asked for with `markAt` whose frame has not passed yet. */
  get scheduledMarks(): number {
    return this.scheduled.length;
  }

  /**
   * Every frame with a presentation time before `pts` is marked (a switch's first output slot: the
   * transcoder's constant-frame-rate conversion keeps one of the frames that fall into a slot — the
   * `fps` filter the *last* — so each frame that may share the switch frame's slot must be keyed).
   */
  markBefore(pts: number, from?: number): void {
    this.markBeforePts = Math.max(this.markBeforePts ?? pts, pts);
    // A switch's window starts at the switch (frames before it are written before it, an IDR first);
    // a splice's at its frame: with B-frames, frames presented before it still follow it in the stream.
    this.markFromPts = from;
  }

  /**
   * Every frame that may share the encoder's output slot with the frame at `start` (ms) is marked.
   * The transcoder's constant-frame-rate conversion keeps one frame per output slot, and its `fps`
   * filter keeps the *last* one of a slot. A slot is one output frame interval long — the input's
   * (`inputFrameMs`), or `outputFrameMs` when the ladder caps the rate below it — so every frame
   * before `start` + that interval is marked, less `spareMs`: a splice spares half an input frame,
   * so that a source at the output rate gets no extra keyframe; a switch spares nothing (its packed
   * frames follow each other within a few ms, and a frame of the next slot marked too costs one
   * extra keyframe, once per switch).
   */
  markOutputSlot(start: number, inputFrameMs: number, spareMs = 0, from?: number): void {
    this.markBefore(start + Math.max(inputFrameMs, this.outputFrameMs ?? 0) - spareMs, from);
  }

  /**
   * A video frame in AVCC (an FLV tag body) about to be written at presentation time `pts` (ms);
   * `keyframe`: an IDR of the source; `origin`: where the grid starts (the run's first timestamp;
   * undefined: no grid yet); `dts`: its decode time (the FLV tag timestamp; `pts` less the
   * CompositionTime). Returns the body to write, marked when due.
   */
  onFrame(body: Buffer, pts: number, keyframe: boolean, origin: number | undefined, dts = pts): Buffer {
    const due = this.decideFrame(pts, keyframe, origin, dts);
    const lengthSize = this.lengthSize;
    const marked = due && lengthSize !== undefined ? markAvcFrame(body, lengthSize) : undefined;
    this.settleFrame(keyframe || marked !== undefined);
    return marked ?? body;
  }

  /**
   * A video frame at presentation time `pts` (ms) is about to be written; `keyframe`: a keyframe of
   * the source; `origin`: where the grid starts (undefined: no grid yet). True when the frame is due a
   * mark. The caller marks it (or cannot) and calls `settleFrame` before the next frame. `dts`: its
   * decode time (ms, same timeline; frames come in decode order) — `pts` when the source has no
   * B-frames or does not say.
   */
  decideFrame(pts: number, keyframe: boolean, origin: number | undefined, dts = pts): boolean {
    if (this.unsettled !== undefined) this.settleFrame(this.unsettled.keyframe);
    if (this.lastFrameDts !== undefined && dts > this.lastFrameDts) {
      this.inputFrameMs = dts - this.lastFrameDts;
      this.decodeSteps.push(this.inputFrameMs);
      if (this.decodeSteps.length > DECODE_STEPS_KEPT) this.decodeSteps.shift();
    }
    this.lastFrameDts = dts;
    const due = this.scheduled.length === 0 ? [] : this.scheduled.filter((s) => this.firstAtOrAfter(s.pts, pts, dts));
    if (due.length > 0) this.scheduled = this.scheduled.filter((s) => !due.includes(s));
    // The rest of the splice frame's output slot, when the output's frame interval is the longer.
    const slotLonger = this.outputFrameMs !== undefined && this.outputFrameMs > this.inputFrameMs;
    if (due.length > 0 && slotLonger) this.markOutputSlot(pts, this.inputFrameMs, this.inputFrameMs / 2, pts);
    // With B-frames, a frame of that slot can pass before the splice frame (a P picture ahead of its
    // B pictures; 60 fps into a 30 fps cap: the `fps` filter kept it, unmarked, and the splice had no
    // key at all). Such a frame is at least one input frame after the splice frame, itself less than
    // one past the splice time, so it may share the slot — [splice frame, + slot − half an input frame),
    // as `markOutputSlot` — only when the slot is longer than 1.5 input frames, and then lies before
    // the splice time + slot + half an input frame: marked as it passes. When it lands in the next
    // slot, that costs one extra keyframe, one output frame after the splice. (Without B-frames no
    // frame at or after a pending splice time passes before the splice frame.)
    const slotMs = this.outputFrameMs ?? 0;
    const slotAheadDue = slotMs > 1.5 * this.inputFrameMs && this.scheduled.some((s) => pts >= s.pts && pts < s.pts + slotMs + this.inputFrameMs / 2);
    this.unsettled = { pts, keyframe, due: due.map((s) => s.done) };
    if (keyframe) {
      this.lastKeyframePts = pts;
      this.requested = false;
      return false;
    }
    const interval = this.intervalMs;
    const last = this.lastKeyframePts;
    const cell = origin !== undefined && interval > 0 ? Math.floor((pts - origin) / interval) : undefined;
    const gridDue = cell !== undefined && last !== undefined && cell > Math.floor((last - origin!) / interval) && this.firstAtOrAfter(origin! + cell * interval, pts, dts);
    const windowDue = this.markBeforePts !== undefined && pts < this.markBeforePts && (this.markFromPts === undefined || pts >= this.markFromPts);
    // The window is over once no later frame can be presented in it (without B-frames: the first frame past it).
    if (this.markBeforePts !== undefined && !windowDue && dts >= this.markBeforePts) this.markBeforePts = this.markFromPts = undefined;
    return this.requested || gridDue || due.length > 0 || windowDue || slotAheadDue;
  }

  /**
   * Whether the frame presented at `pts`, decoded at `dts`, is the first presented at or after
   * `point` (see the class comment: sources with B-frames). Without B-frames (`dts` = `pts`): the
   * first frame at or after it.
   */
  private firstAtOrAfter(point: number, pts: number, dts: number): boolean {
    return pts >= point && (dts >= point || pts - point < this.presentationWindowMs());
  }

  /**
   * The input's frame interval for `firstAtOrAfter` (ms): the smallest of the latest decode-time
   * steps — FLV's whole-ms timestamps step 33 and 34 ms at 30 fps, and a frame 33 ms past a point is
   * the second after it when the first sits on the point. 0 (no frame is judged by it) until known.
   */
  private presentationWindowMs(): number {
    return this.decodeSteps.length === 0 ? 0 : Math.min(...this.decodeSteps);
  }

  /**
   * The frame `decideFrame` last decided on is a keyframe now (`keyed`: marked, or an IDR of the
   * source) or not (not due, or it could not be marked); the marks scheduled for it are told.
   * `keyed` alone is what they are told: every caller passes true for a source IDR (`onFrame`,
   * `TsKeyframeMarking`, and `decideFrame` settling a frame left unsettled with its own keyframe flag).
   */
  settleFrame(keyed: boolean): void {
    const frame = this.unsettled;
    if (frame === undefined) return;
    this.unsettled = undefined;
    if (keyed) {
      this.lastKeyframePts = frame.pts;
      this.requested = false;
    }
    for (const done of frame.due) done({ pts: frame.pts, keyed });
  }
}

