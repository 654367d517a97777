import { trackDefaultsOf } from '../../../src/mp4/fmp4-coalescer.js';
import { Fmp4Reader, type FragmentEvent, type TrackInfo } from '../../../src/mp4/fmp4-reader.js';
import { serializeMediaPlaylist } from '../../../src/hls/playlist-serializer.js';
import { RenditionTimeline, renditionReportsFor } from '../../../src/package/rendition-timeline.js';
import { RunAlignment } from '../../../src/package/run-alignment.js';
import { SegmentCutter, slotOf, type CutSegment, type CutterEvent } from '../../../src/package/segment-cutter.js';

/**
 * Test-side glue of reader → cutter → timeline → serializer for several renditions of one channel, the
 * way the channel does it minus I/O: objects go to an in-memory map, and fragments of all renditions
 * are interleaved by decode time with `now` following media time, as if they arrived live.
 */
export interface PipelineInput {
  name: string;
  bytes: Uint8Array;
}

export interface PipelineOptions {
  partTarget: number;
  segmentDuration: number;
  dvrWindow?: number;
  wallclockAnchor?: number;
  /** Reader chunk size (default: whole stream at once). */
  chunkSize?: number;
  /** Called with every playlist text after each change of that rendition. */
  onPlaylist?: (rendition: string, text: string) => void;
}

export interface RenditionResult {
  track: TrackInfo;
  timeline: RenditionTimeline;
  cutter: SegmentCutter;
  segments: CutSegment[];
}

export interface PipelineResult {
  renditions: Map<string, RenditionResult>;
  objects: Map<string, Uint8Array>;
}

export function readAll(bytes: Uint8Array, chunkSize?: number): { track: TrackInfo; fragments: FragmentEvent[]; init: Uint8Array } {
  const reader = new Fmp4Reader();
  const events = [];
  const step = chunkSize ?? bytes.byteLength;
  for (let at = 0; at < bytes.byteLength; at += step) events.push(...reader.push(bytes.subarray(at, at + step)));
  reader.end();
  const init = events.find((e) => e.type === 'init');
  if (!init || init.type !== 'init') throw new Error('no init segment');
  return { track: init.track, init: init.bytes, fragments: events.filter((e): e is FragmentEvent => e.type === 'fragment') };
}

export function runPipeline(inputs: PipelineInput[], options: PipelineOptions): PipelineResult {
  const anchor = options.wallclockAnchor ?? Date.UTC(2026, 10, 28, 12, 0, 0);
  const objects = new Map<string, Uint8Array>();
  const renditions = new Map<string, RenditionResult>();
  const queue: Array<{ name: string; time: number; fragment: FragmentEvent }> = [];
  for (const input of inputs) {
    const { track, fragments, init } = readAll(input.bytes, options.chunkSize);
    const cutter = new SegmentCutter({
      kind: track.handler,
      timescale: track.timescale,
      partTarget: options.partTarget,
      segmentDuration: options.segmentDuration,
      partChunks: { defaults: trackDefaultsOf(init) },
    });
    const timeline = new RenditionTimeline({
      targetDuration: cutter.targetDuration,
      partTarget: options.partTarget,
      ...(options.dvrWindow !== undefined ? { dvrWindow: options.dvrWindow } : {}),
    });
    timeline.startRun({ runId: 1, wallclockAnchor: anchor, timeOrigin: 0 }, anchor);
    objects.set(`${input.name}/${timeline.mapUri}`, init);
    renditions.set(input.name, { track, timeline, cutter, segments: [] });
    for (const fragment of fragments) {
      queue.push({ name: input.name, time: (fragment.decodeTime + fragment.duration) / track.timescale, fragment });
    }
  }
  queue.sort((a, b) => a.time - b.time);
  const alignment = new RunAlignment([...renditions.keys()], { segmentDuration: options.segmentDuration });
  const held = new Map<string, CutterEvent[]>([...renditions.keys()].map((name) => [name, []]));
  const publish = (name: string): void => {
    const r = renditions.get(name)!;
    r.timeline.setRenditionReports(renditionReportsFor(name, new Map([...renditions].map(([n, o]) => [n, o.timeline.playlist]))));
    options.onPlaylist?.(name, serializeMediaPlaylist(r.timeline.playlist));
  };
  const apply = (name: string, events: ReturnType<SegmentCutter['push']>, now: number): void => {
    const r = renditions.get(name)!;
    for (const e of events) {
      if (e.type === 'part') {
        objects.set(`${name}/${r.timeline.nextPart().name}`, e.part.bytes);
        r.timeline.addPart(e.part, now);
      } else {
        objects.set(`${name}/${r.timeline.currentSegmentName()}`, e.segment.bytes);
        r.timeline.endSegment({ duration: e.segment.duration }, now);
        r.segments.push(e.segment);
      }
    }
    if (events.length > 0) publish(name);
  };
  let now = anchor;
  const release = (name: string): void => {
    const events = held.get(name)!.filter((e) => !alignment.never(slotOf(e)));
    let i = 0;
    while (i < events.length && alignment.listable(slotOf(events[i]!))) i++;
    held.set(name, events.slice(i));
    apply(name, events.slice(0, i), now);
  };
  alignment.onChange(() => {
    for (const name of renditions.keys()) release(name);
  });
  for (const item of queue) {
    const r = renditions.get(item.name)!;
    const f = item.fragment;
    now = anchor + Math.round(item.time * 1000);
    held.get(item.name)!.push(...r.cutter.push({ decodeTime: f.decodeTime, duration: f.duration, independent: f.independent, bytes: f.bytes }));
    const reach = r.cutter.reach();
    if (reach !== undefined) alignment.report(item.name, reach.first, reach.reach);
    release(item.name);
  }
  now = anchor + Math.round((queue[queue.length - 1]?.time ?? 0) * 1000);
  for (const name of renditions.keys()) alignment.end(name);
  for (const [name, r] of renditions) {
    release(name);
    const open = r.cutter.reach()?.open;
    if (open !== undefined && alignment.listable(open)) apply(name, r.cutter.flush(), now);
    else r.cutter.discard();
    r.timeline.endList(now);
    publish(name);
  }
  return { renditions, objects };
}
