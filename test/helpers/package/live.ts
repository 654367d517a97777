/**
 * Test-side tools for live packaging runs (real ffmpeg, real storage): a storage decorator that
 * records every object and every playlist version the packager writes and checks, at the moment a
 * playlist is written, that every object it names is already stored; a poller that does the same from
 * outside for a `livepipe package` process writing to a directory; a line-level playlist reader
 * independent of livepipe's own parser (m3u8-parser ignores EXT-X-GAP); and ffprobe wrappers.
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseLadder } from '../../../src/ladder/ladder-loader.js';
import type { Ladder } from '../../../src/ladder/ladder-schema.js';
import { EventBus } from '../../../src/core/event-bus.js';
import { silentLogger } from '../../../src/core/logger.js';
import { ChannelPackager } from '../../../src/package/channel-packager.js';
import type { ObjectStorage, PutOptions } from '../../../src/storage/object-storage.js';
import { UploadQueue, type UploadQueueOptions } from '../../../src/storage/upload-queue.js';
import { TranscoderSupervisor, type TranscoderSupervisorOptions } from '../../../src/transcode/transcoder-supervisor.js';
import { ForwardingStorage } from '../storage/forwarding-storage.js';
import { checkMediaPlaylist, PlaylistHistoryChecker, RenditionSetChecker } from '../hls/llhls-rules.js';

/** What a run left behind, however it was observed. */
export interface Recording {
  /** Every media playlist version written, in write order. */
  versions: Array<{ key: string; text: string }>;
  /** Every media object seen (init, parts, segments), by key; kept after the packager deletes it. */
  objects: Map<string, Buffer>;
  /** Objects named by a playlist before they were stored (or unreadable when it was read). */
  problems: string[];
}

export interface ListedPart {
  uri: string;
  duration: number;
  independent: boolean;
  gap: boolean;
}

export interface ListedSegment {
  msn: number;
  uri: string;
  duration: number;
  discontinuity: boolean;
  /** Epoch ms, or undefined when the segment carries no EXT-X-PROGRAM-DATE-TIME. */
  programDateTime: number | undefined;
  mapUri: string;
  gap: boolean;
  parts: ListedPart[];
}

export interface ListedPlaylist {
  mediaSequence: number;
  discontinuitySequence: number;
  segments: ListedSegment[];
  /** Parts of the open segment (after the last EXTINF). */
  openParts: ListedPart[];
  openMapUri: string | undefined;
  endList: boolean;
}

const attr = (line: string, name: string): string | undefined => {
  const m = new RegExp(`(?:^|[:,])${name}=("([^"]*)"|[^,]*)`).exec(line);
  return m ? (m[2] ?? m[1]) : undefined;
};

/** Reads a media playlist line by line (tags this test relies on only). */
export function readMediaPlaylist(text: string): ListedPlaylist {
  const out: ListedPlaylist = { mediaSequence: 0, discontinuitySequence: 0, segments: [], openParts: [], openMapUri: undefined, endList: false };
  let map: string | undefined;
  let gap = false;
  let discontinuity = false;
  let pdt: number | undefined;
  let duration = 0;
  let parts: ListedPart[] = [];
  let msn: number | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) out.mediaSequence = Number(line.slice(22));
    else if (line.startsWith('#EXT-X-DISCONTINUITY-SEQUENCE:')) out.discontinuitySequence = Number(line.slice(30));
    else if (line.startsWith('#EXT-X-MAP:')) map = attr(line, 'URI');
    else if (line === '#EXT-X-GAP') gap = true;
    else if (line === '#EXT-X-DISCONTINUITY') discontinuity = true;
    else if (line === '#EXT-X-ENDLIST') out.endList = true;
    else if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) pdt = Date.parse(line.slice(25));
    else if (line.startsWith('#EXTINF:')) duration = Number(line.slice(8).split(',')[0]);
    else if (line.startsWith('#EXT-X-PART:')) {
      parts.push({
        uri: attr(line, 'URI') ?? '',
        duration: Number(attr(line, 'DURATION')),
        independent: attr(line, 'INDEPENDENT') === 'YES',
        gap: attr(line, 'GAP') === 'YES',
      });
    } else if (!line.startsWith('#')) {
      msn = msn === undefined ? out.mediaSequence : msn + 1;
      out.segments.push({ msn, uri: line, duration, discontinuity, programDateTime: pdt, mapUri: map ?? '', gap, parts });
      gap = false;
      discontinuity = false;
      pdt = undefined;
      parts = [];
    }
  }
  out.openParts = parts;
  out.openMapUri = map;
  return out;
}

/** Objects a playlist names that must exist: init segments, non-gap segments and parts. */
export function objectsNamedBy(text: string): string[] {
  const listed = readMediaPlaylist(text);
  const names = new Set<string>();
  for (const s of listed.segments) {
    names.add(s.mapUri);
    if (!s.gap) names.add(s.uri);
    for (const p of s.parts) if (!p.gap) names.add(p.uri);
  }
  if (listed.openParts.length > 0 && listed.openMapUri) names.add(listed.openMapUri);
  for (const p of listed.openParts) if (!p.gap) names.add(p.uri);
  return [...names];
}

const isMediaPlaylist = (key: string): boolean => key.endsWith('/playlist.m3u8');
const folderOf = (key: string): string => key.slice(0, key.lastIndexOf('/') + 1);

/**
 * A real storage driver with a recorder in front: the packager's writes go to `inner` unchanged.
 * A media playlist naming an object that is not (or no longer) stored at the moment the playlist is
 * written is a problem. Part upload latencies are kept for benchmarks.
 */
export class RecordingStorage extends ForwardingStorage implements Recording {
  readonly versions: Array<{ key: string; text: string }> = [];
  readonly objects = new Map<string, Buffer>();
  readonly problems: string[] = [];
  /** Latency of each successful part write, ms. */
  readonly partPutMs: number[] = [];
  /** Keys stored and not deleted since. */
  private readonly present = new Set<string>();

  override async put(key: string, body: Uint8Array, options: PutOptions): Promise<void> {
    const text = isMediaPlaylist(key) ? Buffer.from(body).toString('utf8') : undefined;
    if (text !== undefined) {
      for (const name of objectsNamedBy(text)) {
        if (!this.present.has(folderOf(key) + name)) this.problems.push(`${key} names ${name}, which is not stored`);
      }
    }
    const started = performance.now();
    await this.inner.put(key, body, options);
    if (/\/part-\d+-\d+\.m4s$/.test(key)) this.partPutMs.push(performance.now() - started);
    this.present.add(key);
    if (text !== undefined) this.versions.push({ key, text });
    else if (!key.endsWith('.m3u8')) this.objects.set(key, Buffer.from(body));
  }

  override async delete(keys: readonly string[]): Promise<void> {
    // Unlisted before the delete starts: a playlist naming them from now on is wrong.
    for (const key of keys) this.present.delete(key);
    await this.inner.delete(keys);
  }
}

/**
 * Watches `live/{channel}/{rendition}/playlist.m3u8` files under `root` (a `livepipe package
 * --data-dir`), every `intervalMs`: each new version is recorded and every object it names is read
 * at once (a missing one is a problem). Objects leave storage only 3 target durations after they
 * left the playlist, so reading them right after the playlist is race-free.
 */
export class DirectoryPlaylistPoller implements Recording {
  readonly versions: Array<{ key: string; text: string }> = [];
  readonly objects = new Map<string, Buffer>();
  readonly problems: string[] = [];
  private readonly last = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> = Promise.resolve();

  constructor(
    private readonly root: string,
    private readonly channel: string,
    private readonly renditions: string[],
    private readonly intervalMs = 50,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.polling = this.polling.then(() => this.poll());
    }, this.intervalMs);
  }

  /** Stops polling after one last look. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.polling;
    await this.poll();
  }

  private async poll(): Promise<void> {
    for (const rendition of this.renditions) {
      const key = `live/${this.channel}/${rendition}/playlist.m3u8`;
      const text = await readFile(join(this.root, key), 'utf8').catch(() => undefined);
      if (text === undefined || text === this.last.get(key)) continue;
      this.last.set(key, text);
      this.versions.push({ key, text });
      for (const name of objectsNamedBy(text)) {
        const objectKey = folderOf(key) + name;
        if (this.objects.has(objectKey)) continue;
        try {
          this.objects.set(objectKey, await readFile(join(this.root, objectKey)));
        } catch (err) {
          this.problems.push(`${key} names ${name}, which cannot be read: ${(err as Error).message}`);
        }
      }
    }
  }
}

/** The rendition name in `live/{channel}/{rendition}/playlist.m3u8`. */
export const renditionOf = (key: string): string => key.split('/').at(-2)!;

/**
 * LL-HLS rules on every version, and the history rules (media sequence, discontinuity sequence,
 * targets) between successive versions of each rendition. A rendition report is required for every
 * other rendition that had already published a part when the version was written — from the third
 * version of this rendition on: writes of different keys are not ordered, so the version in flight
 * and the one waiting behind it may have been rendered before the other rendition's first part.
 */
export function ruleViolations(recording: Recording, options: { endListExpected?: boolean } = {}): string[] {
  const violations: string[] = [];
  const histories = new Map<string, PlaylistHistoryChecker>();
  // Across renditions: every msn ever listed stands for the same media in each (§6.2.4).
  const set = new RenditionSetChecker();
  /** rendition with parts → versions written since, per other rendition. */
  const since = new Map<string, Map<string, number>>();
  for (const { key, text } of recording.versions) {
    const rendition = renditionOf(key);
    const others: string[] = [];
    for (const [other, counts] of since) {
      if (other === rendition) continue;
      const n = (counts.get(rendition) ?? 0) + 1;
      counts.set(rendition, n);
      if (n >= 3) others.push(other);
    }
    for (const v of checkMediaPlaylist(text, { otherRenditions: others })) violations.push(`${rendition}: ${v}`);
    let history = histories.get(rendition);
    if (history === undefined) histories.set(rendition, (history = new PlaylistHistoryChecker()));
    for (const v of history.check(text)) violations.push(`${rendition}: ${v}`);
    set.add(rendition, text);
    if (text.includes('#EXT-X-PART:') && !since.has(rendition)) since.set(rendition, new Map());
  }
  violations.push(...set.violations());
  if (options.endListExpected) {
    for (const rendition of histories.keys()) {
      if (!lastVersion(recording, rendition)?.includes('#EXT-X-ENDLIST')) violations.push(`${rendition}: no EXT-X-ENDLIST at the end`);
    }
  }
  // A segment that breaks a rule does so in every version listing it: once is enough.
  return [...new Set(violations)];
}

export function lastVersion(recording: Recording, rendition: string): string | undefined {
  return recording.versions.filter((v) => renditionOf(v.key) === rendition).at(-1)?.text;
}

export function versionsOf(recording: Recording, rendition: string): string[] {
  return recording.versions.filter((v) => renditionOf(v.key) === rendition).map((v) => v.text);
}

/** Every segment ever listed for a rendition, by msn (the last listing of each wins). */
export function allSegments(recording: Recording, rendition: string): Map<number, ListedSegment> {
  const segments = new Map<number, ListedSegment>();
  for (const text of versionsOf(recording, rendition)) {
    for (const s of readMediaPlaylist(text).segments) {
      const before = segments.get(s.msn);
      // Parts age out of later listings: keep the richest one.
      segments.set(s.msn, before && before.parts.length > s.parts.length ? { ...s, parts: before.parts } : s);
    }
  }
  return segments;
}

export interface ProbeResult {
  code: number | null;
  stderr: string;
  /** One line per decoded frame (or demuxed packet): `pts_time`. */
  times: number[];
}

/**
 * ffprobe over bytes on stdin. `mode: 'frames'` decodes every frame (decodability); `'packets'` only
 * demuxes (a part that does not start with a keyframe cannot be decoded on its own).
 */
export function ffprobe(bytes: Uint8Array, mode: 'frames' | 'packets'): Promise<ProbeResult> {
  const entries = mode === 'frames' ? 'frame=pts_time' : 'packet=pts_time';
  return new Promise((resolve, reject) => {
    const child = spawn('ffprobe', ['-v', 'error', '-show_entries', entries, '-of', 'csv=p=0', '-i', 'pipe:0'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.stdin.on('error', () => undefined); // ffprobe may stop reading early on bad input
    child.on('error', reject);
    child.on('close', (code) => {
      const times = out
        .split('\n')
        .map((l) => l.trim().replace(/,$/, ''))
        .filter((l) => l !== '')
        .map(Number);
      resolve({ code, stderr: err.trim(), times });
    });
    child.stdin.end(Buffer.from(bytes));
  });
}

/**
 * The streams ffprobe finds in bytes on stdin (`codec_type` and `codec_name` of each, in order), and
 * how many frames of each kind it decoded: a muxed fMP4 segment must show a video and an audio stream,
 * both decodable.
 */
export function ffprobeStreams(bytes: Uint8Array): Promise<{ code: number | null; stderr: string; streams: Array<{ type: string; codec: string }>; frames: Record<string, number> }> {
  return new Promise((resolve, reject) => {
    const args = ['-v', 'error', '-show_entries', 'stream=codec_type,codec_name:frame=media_type', '-show_frames', '-of', 'json', '-i', 'pipe:0'];
    const child = spawn('ffprobe', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.stdin.on('error', () => undefined);
    child.on('error', reject);
    child.on('close', (code) => {
      let parsed: { streams?: Array<{ codec_type: string; codec_name: string }>; frames?: Array<{ media_type: string }> } = {};
      try {
        parsed = JSON.parse(out || '{}');
      } catch {
        // left empty: the caller sees no streams and the stderr
      }
      const frames: Record<string, number> = {};
      for (const f of parsed.frames ?? []) frames[f.media_type] = (frames[f.media_type] ?? 0) + 1;
      resolve({ code, stderr: err.trim(), streams: (parsed.streams ?? []).map((s) => ({ type: s.codec_type, codec: s.codec_name })), frames });
    });
    child.stdin.end(Buffer.from(bytes));
  });
}

/** Runs `tasks` with at most `limit` at once (ffprobe on a shared 2-core machine). */
export async function limited<T>(tasks: Array<() => Promise<T>>, limit = 2): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}

export interface DecodeReport {
  problems: string[];
  /** Parts and segments checked. */
  checkedParts: number;
  checkedSegments: number;
}

/**
 * Where a part's top-level MP4 boxes do not tile it exactly as `[styp] (moof mdat)+` with media in
 * every mdat, or undefined.
 * Read here, not with livepipe's own reader, so the check does not lean on the code it checks.
 */
export function partBoxProblem(bytes: Uint8Array): string | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const types: string[] = [];
  for (let at = 0; at < bytes.length; ) {
    if (at + 8 > bytes.length) return `${bytes.length - at} trailing bytes after ${types.join(' ')}`;
    let size = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    if (size === 1 && at + 16 <= bytes.length) size = Number(view.getBigUint64(at + 8));
    if (size < 8 || at + size > bytes.length) return `box ${JSON.stringify(type)} of ${size} bytes at ${at} does not fit the part (${bytes.length} bytes)`;
    if (type === 'mdat' && size <= 8) return `an empty mdat at ${at}`;
    types.push(type);
    at += size;
  }
  const fragments = (types[0] === 'styp' ? types.slice(1) : types).join(' ');
  return /^moof mdat( moof mdat)*$/.test(fragments) ? undefined : `boxes ${types.join(' ')}`;
}

/**
 * Every non-gap part and segment ever listed for `rendition`: the parts of each segment, concatenated
 * after the init, decode into exactly the segment's frames, and each of them is whole fragments
 * (`partBoxProblem`) — so each demuxes with the init on its own; parts of a segment whose part list
 * is not complete are each demuxed by ffprobe instead. Each segment decodes (init + segment) into its
 * EXTINF duration × fps frames (video, ±1). One ffprobe per segment rather than per part: the same
 * checks in a fraction of the processes (a few hundred fewer per test on a 2-core machine).
 */
export async function decodeProblems(
  recording: Recording,
  folder: string,
  rendition: string,
  media: { kind: 'video' | 'audio'; fps: number },
): Promise<DecodeReport> {
  const problems: string[] = [];
  const get = (name: string): Buffer | undefined => recording.objects.get(`${folder}${rendition}/${name}`);
  let checkedParts = 0;
  let checkedSegments = 0;
  const tasks: Array<() => Promise<void>> = [];
  for (const segment of allSegments(recording, rendition).values()) {
    const init = get(segment.mapUri);
    if (init === undefined) {
      problems.push(`${rendition} ${segment.mapUri} was never seen`);
      continue;
    }
    const parts = segment.parts.filter((p) => !p.gap);
    // Complete part lists are decoded together with the segment (below).
    const wholeList = !segment.gap && parts.length > 0 && parts[0]!.independent && parts.length === segment.parts.length && parts.every((p) => get(p.uri) !== undefined);
    for (const part of wholeList ? [] : parts) {
      tasks.push(async () => {
        const bytes = get(part.uri);
        if (bytes === undefined) return void problems.push(`${rendition} ${part.uri} was never seen`);
        checkedParts++;
        const r = await ffprobe(Buffer.concat([init, bytes]), 'packets');
        if (r.code !== 0 || r.stderr !== '' || r.times.length === 0) {
          problems.push(`${rendition} ${part.uri}: ffprobe exit ${r.code}, ${r.times.length} packets, ${r.stderr.slice(0, 200)}`);
        }
      });
    }
    if (segment.gap) continue;
    tasks.push(async () => {
      const bytes = get(segment.uri);
      if (bytes === undefined) return void problems.push(`${rendition} ${segment.uri} was never seen`);
      checkedSegments++;
      const r = await ffprobe(Buffer.concat([init, bytes]), 'frames');
      if (r.code !== 0 || r.stderr !== '') problems.push(`${rendition} ${segment.uri}: ffprobe exit ${r.code}: ${r.stderr.slice(0, 200)}`);
      if (media.kind === 'video' && Math.abs(r.times.length - segment.duration * media.fps) > 1) {
        problems.push(`${rendition} ${segment.uri}: ${r.times.length} frames for EXTINF ${segment.duration} at ${media.fps} fps`);
      }
      if (r.times.length === 0) problems.push(`${rendition} ${segment.uri}: no frame decoded`);
      // Only complete part lists can be compared (parts of the first segments may predate the first look).
      if (!wholeList) return;
      const partBytes = parts.map((p) => get(p.uri)!);
      parts.forEach((part, i) => {
        checkedParts++;
        const problem = partBoxProblem(partBytes[i]!);
        if (problem !== undefined) problems.push(`${rendition} ${part.uri}: ${problem}`);
      });
      // The same bytes decode to the same frames: only parts that differ from their segment are decoded.
      if (Buffer.concat(partBytes).equals(bytes)) return;
      const fromParts = await ffprobe(Buffer.concat([init, ...partBytes]), 'frames');
      if (fromParts.code !== 0 || fromParts.stderr !== '') problems.push(`${rendition} parts of ${segment.uri} do not decode: ${fromParts.stderr.slice(0, 200)}`);
      if (JSON.stringify(fromParts.times) !== JSON.stringify(r.times)) {
        problems.push(`${rendition} parts of ${segment.uri} decode to ${fromParts.times.length} frames, the segment to ${r.times.length}`);
      }
    });
  }
  await limited(tasks);
  return { problems, checkedParts, checkedSegments };
}

export interface ContinuityReport {
  /** Frames decoded from init + every segment of each run, concatenated in msn order. */
  frames: number;
  /** Sum of the EXTINF durations of those segments, seconds. */
  listedSeconds: number;
  /** Largest step between consecutive frame timestamps, seconds. */
  largestStep: number;
  problems: string[];
}

/**
 * Concatenates init + all segments listed in the rendition's last playlist (one stream per run of
 * consecutive segments sharing an init, i.e. between discontinuities) and decodes it in one go.
 */
export async function continuity(recording: Recording, folder: string, rendition: string): Promise<ContinuityReport[]> {
  const text = lastVersion(recording, rendition);
  if (text === undefined) return [];
  const listed = readMediaPlaylist(text);
  const runs: ListedSegment[][] = [];
  for (const s of listed.segments) {
    if (s.gap) {
      runs.push([]);
      continue;
    }
    const current = runs.at(-1);
    if (current === undefined || s.discontinuity || current.length === 0 || current[0]!.mapUri !== s.mapUri) runs.push([s]);
    else current.push(s);
  }
  const reports: ContinuityReport[] = [];
  for (const run of runs.filter((r) => r.length > 0)) {
    const problems: string[] = [];
    const init = recording.objects.get(`${folder}${rendition}/${run[0]!.mapUri}`);
    const bodies = run.map((s) => recording.objects.get(`${folder}${rendition}/${s.uri}`));
    if (init === undefined || bodies.some((b) => b === undefined)) {
      reports.push({ frames: 0, listedSeconds: 0, largestStep: 0, problems: [`${rendition}: objects of msn ${run[0]!.msn}… were never seen`] });
      continue;
    }
    const r = await ffprobe(Buffer.concat([init, ...(bodies as Buffer[])]), 'frames');
    if (r.code !== 0 || r.stderr !== '') problems.push(`${rendition}: ffprobe exit ${r.code}: ${r.stderr.slice(0, 300)}`);
    let largestStep = 0;
    for (let i = 1; i < r.times.length; i++) largestStep = Math.max(largestStep, r.times[i]! - r.times[i - 1]!);
    reports.push({ frames: r.times.length, listedSeconds: run.reduce((n, s) => n + s.duration, 0), largestStep, problems });
  }
  return reports;
}

/** A channel packaged in-process: supervisor → packager → upload queue → storage, as the CLI wires it. */
export interface LiveChannel {
  supervisor: TranscoderSupervisor;
  packager: ChannelPackager;
  uploads: UploadQueue;
  bus: EventBus;
  /** Stops the transcoder, then drains the packager and the uploads (the CLI's order). */
  stop(options?: { endList?: boolean }): Promise<void>;
}

export interface LiveChannelOptions {
  channel: string;
  ladder: Ladder;
  /** lavfi graph (read in real time). */
  source: string;
  storage: ObjectStorage;
  uploadOptions?: Partial<UploadQueueOptions>;
  dvrWindowSeconds?: number;
  restart?: TranscoderSupervisorOptions['restart'];
}

export async function startLiveChannel(options: LiveChannelOptions): Promise<LiveChannel> {
  const logger = silentLogger();
  const bus = new EventBus();
  const uploads = new UploadQueue(options.storage, bus, logger, { channel: options.channel, ...options.uploadOptions });
  const packager = new ChannelPackager({
    channel: options.channel,
    storage: options.storage,
    uploads,
    logger,
    ...(options.dvrWindowSeconds !== undefined ? { dvrWindowSeconds: options.dvrWindowSeconds } : {}),
  });
  const supervisor = new TranscoderSupervisor({
    channel: options.channel,
    ladder: options.ladder,
    input: { kind: 'url', url: options.source, format: 'lavfi', realtime: true, maxDurationSec: 120 },
    bus,
    logger,
    onRun: (run) => packager.attachRun(run),
    restart: options.restart ?? { backoffDelayMs: 200, maxDelayMs: 400 },
    random: () => 0.5,
  });
  await packager.start();
  await supervisor.start();
  let stopping: Promise<void> | undefined;
  return {
    supervisor,
    packager,
    uploads,
    bus,
    stop(stopOptions = {}) {
      stopping ??= (async () => {
        await supervisor.stop();
        if (stopOptions.endList) await packager.endStream();
        await packager.close();
        await uploads.close({ drainTimeoutMs: 10_000 });
        bus.removeAllListeners();
      })();
      return stopping;
    },
  };
}

/** A small ladder for tests: two aligned video renditions and AAC, cheap enough for a shared 2-core box. */
export function smallLadderDocument(timing: { gop: number; segment: number; part: number }): Record<string, unknown> {
  return {
    description: 'tests: 180p/90p ultrafast + AAC',
    ...timing,
    frameRate: { cap: 30 },
    tune: 'zerolatency',
    video: [
      { name: 'v180', width: 320, height: 180, bitrate: '300k', maxrate: '330k', bufsize: '300k', preset: 'ultrafast', profile: 'baseline' },
      { name: 'v90', width: 160, height: 90, bitrate: '120k', maxrate: '130k', bufsize: '120k', preset: 'ultrafast', profile: 'baseline' },
    ],
    audio: [{ name: 'audio', bitrate: '64k' }],
  };
}

export function smallLadder(timing: { gop: number; segment: number; part: number }): Ladder {
  return parseLadder(smallLadderDocument(timing), 'test-small.yaml');
}

/** Writes the small ladder as `{dir}/small.yaml` (JSON is YAML) for `livepipe package --ladders-dir`. */
export async function writeSmallLadder(dir: string, timing: { gop: number; segment: number; part: number }): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'small.yaml'), JSON.stringify(smallLadderDocument(timing)));
}
