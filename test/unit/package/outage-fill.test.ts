import { describe, expect, it } from 'vitest';
import type { FragmentEvent, TrackInfo } from '../../../src/mp4/fmp4-reader.js';
import { OutageFill, withoutSei } from '../../../src/package/outage-fill.js';

const VIDEO: TrackInfo = { trackId: 1, timescale: 15360, handler: 'video', format: 'avc1', codecs: 'avc1.64001f' };
const AUDIO: TrackInfo = { trackId: 1, timescale: 48000, handler: 'audio', format: 'mp4a', codecs: 'mp4a.40.2', channelCount: 2, sampleRate: 48000 };

/** Length-prefixed NAL units (4-byte lengths), each given as header byte + payload. */
function nals(...units: number[][]): Uint8Array {
  const out: number[] = [];
  for (const u of units) out.push(0, 0, 0, u.length, ...u);
  return Uint8Array.from(out);
}

/**
 * Reads a chunk written by `nextPart` (moof + mdat, the fixed layout `encodeMediaChunk` writes) for its
 * decode time, durations and samples. (The integration test reads real fill through `Fmp4Reader`.)
 */
function fragmentsOf(bytes: Uint8Array): FragmentEvent[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // moof > mfhd(16) traf > tfhd(16) tfdt(20) trun
  const trafAt = 8 + 16;
  const tfdtAt = trafAt + 8 + 16;
  const decodeTime = Number(view.getBigUint64(tfdtAt + 12));
  const trunAt = tfdtAt + 20;
  const count = view.getUint32(trunAt + 12);
  let duration = 0;
  const samples = [];
  for (let i = 0; i < count; i++) {
    const at = trunAt + 20 + 16 * i;
    duration += view.getUint32(at);
    samples.push({ duration: view.getUint32(at), size: view.getUint32(at + 4), flags: view.getUint32(at + 8), compositionOffset: view.getInt32(at + 12), isSync: true });
  }
  return [{ type: 'fragment', bytes, sequenceNumber: view.getUint32(20), decodeTime, duration, samples, independent: true, dataStart: 0 }];
}

describe('withoutSei', () => {
  it('drops H.264 SEI NAL units (type 6) and keeps the rest in order', () => {
    const sample = nals([0x06, 1, 2], [0x67, 3], [0x65, 4, 5, 6], [0x06, 7]);
    expect([...withoutSei(sample, 'avc1')]).toEqual([...nals([0x67, 3], [0x65, 4, 5, 6])]);
  });

  it('drops HEVC prefix and suffix SEI (39, 40)', () => {
    const sample = nals([39 << 1, 1, 1], [19 << 1, 1, 2], [40 << 1, 1, 3]);
    expect([...withoutSei(sample, 'hvc1')]).toEqual([...nals([19 << 1, 1, 2])]);
  });

  it('keeps a sample that does not parse as length-prefixed NAL units, or holds nothing but SEI, whole', () => {
    const broken = Uint8Array.from([0, 0, 0, 9, 0x06, 1]);
    expect([...withoutSei(broken, 'avc1')]).toEqual([...broken]);
    const onlySei = nals([0x06, 1]);
    expect([...withoutSei(onlySei, 'avc1')]).toEqual([...onlySei]);
  });
});

describe('OutageFill', () => {
  it('cannot fill before it has a keyframe (video) and a listed end', () => {
    const fill = new OutageFill(VIDEO);
    expect(fill.canFill).toBe(false);
    fill.listedUntil(2);
    expect(fill.canFill).toBe(false);
    expect(fill.nextPart(0.1)).toBeUndefined();
  });

  it('cannot fill audio other than AAC-LC mono or stereo', () => {
    for (const track of [{ ...AUDIO, codecs: 'mp4a.40.5' }, { ...AUDIO, codecs: 'opus', format: 'Opus' }, { ...AUDIO, channelCount: 6 }]) {
      const fill = new OutageFill(track);
      fill.listedUntil(1);
      expect(fill.canFill, track.codecs).toBe(false);
    }
  });

  it('holds the last keyframe, without SEI, one sync sample per part from the listed end; k parts last k × part target', () => {
    const fill = new OutageFill(VIDEO);
    const keyframe = nals([0x06, 9, 9], [0x65, 1, 2, 3]);
    const bytes = new Uint8Array(100);
    bytes.set(keyframe, 40);
    fill.observe({ bytes, dataStart: 40, sequenceNumber: 77, samples: [{ duration: 512, size: keyframe.length, flags: 0x02000000, compositionOffset: 1024, isSync: true }] });
    // A P-frame after it does not replace it.
    fill.observe({ bytes: new Uint8Array(50), dataStart: 10, sequenceNumber: 78, samples: [{ duration: 512, size: 5, flags: 0x01010000, compositionOffset: 0, isSync: false }] });
    fill.listedUntil(1.6);
    expect(fill.canFill).toBe(true);
    const start = Math.round(1.6 * 15360);
    let end = start;
    for (let k = 1; k <= 7; k++) {
      const [chunk] = fragmentsOf(fill.nextPart(1 / 30 * 3)!);
      expect(chunk!.decodeTime).toBe(end);
      expect(chunk!.sequenceNumber).toBe(78 + k);
      expect(chunk!.samples).toHaveLength(1);
      expect(chunk!.samples[0]!.compositionOffset).toBe(1024);
      expect(chunk!.samples[0]!.size).toBe(nals([0x65, 1, 2, 3]).length);
      end += chunk!.duration;
      expect(end).toBe(start + Math.round(k * 0.1 * 15360));
    }
    // Listed ends reported during the outage do not move it; after it, they do.
    fill.listedUntil(0.5);
    const [next] = fragmentsOf(fill.nextPart(0.1)!);
    expect(next!.decodeTime).toBe(end);
    fill.endOutage();
    fill.listedUntil(9);
    expect(fragmentsOf(fill.nextPart(0.1)!)[0]!.decodeTime).toBe(9 * 15360);
  });

  it('holds the newest keyframe at each outage: one observed after an outage replaces the last one held', () => {
    const fill = new OutageFill(VIDEO);
    const keyframeOf = (payload: number[], compositionOffset: number) => {
      const data = nals([0x06, 7], [0x65, ...payload]);
      return { bytes: data, dataStart: 0, sequenceNumber: 1, samples: [{ duration: 512, size: data.length, flags: 0x02000000, compositionOffset, isSync: true }] };
    };
    fill.observe(keyframeOf([1, 2], 512));
    fill.observe(keyframeOf([3, 4, 5], 1024));
    fill.listedUntil(1);
    const first = fragmentsOf(fill.nextPart(0.1)!)[0]!.samples[0]!;
    expect([first.size, first.compositionOffset]).toEqual([nals([0x65, 3, 4, 5]).length, 1024]);
    fill.endOutage();
    fill.observe(keyframeOf([6, 7, 8, 9, 10], 0));
    fill.listedUntil(2);
    const second = fragmentsOf(fill.nextPart(0.1)!)[0]!.samples[0]!;
    expect([second.size, second.compositionOffset]).toEqual([nals([0x65, 6, 7, 8, 9, 10]).length, 0]);
    // No keyframe since: the next outage holds the same picture.
    fill.endOutage();
    fill.listedUntil(3);
    expect(fragmentsOf(fill.nextPart(0.1)!)[0]!.samples[0]!.size).toBe(second.size);
  });

  it('fills audio with whole silent AAC frames, never more than one frame ahead of k × part target', () => {
    const fill = new OutageFill(AUDIO);
    fill.listedUntil(2);
    let end = 2 * 48000;
    for (let k = 1; k <= 20; k++) {
      const [chunk] = fragmentsOf(fill.nextPart(0.1)!);
      expect(chunk!.decodeTime).toBe(end);
      expect(chunk!.samples.every((s) => s.duration === 1024)).toBe(true);
      end += chunk!.duration;
      const target = 2 * 48000 + k * 4800;
      expect(end).toBeGreaterThanOrEqual(target);
      expect(end - target).toBeLessThan(1024);
    }
  });
});
