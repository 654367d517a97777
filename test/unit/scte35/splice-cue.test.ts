import { describe, expect, it } from 'vitest';
import { spliceCueOf } from '../../../src/scte35/splice-cue.js';
import type { SegmentationDescriptor, SpliceInfoSection } from '../../../src/scte35/splice-info.js';
import { CUEI } from '../../../src/scte35/splice-info.js';
import { parseSpliceInfoSection } from '../../../src/scte35/splice-info-parser.js';

const b64 = (s: string) => parseSpliceInfoSection(Buffer.from(s, 'base64'));
const header = { protocolVersion: 0, sapType: 3, ptsAdjustment: 0, cwIndex: 0xff, tier: 0xfff };
const seg = (segmentationTypeId: number, extra: Partial<SegmentationDescriptor> = {}): SegmentationDescriptor =>
  ({
    tag: 2,
    identifier: CUEI,
    segmentationEventId: 7,
    cancel: false,
    eventIdCompliance: true,
    deliveryNotRestricted: true,
    webDeliveryAllowed: true,
    noRegionalBlackout: true,
    archiveAllowed: true,
    deviceRestrictions: 3,
    components: undefined,
    segmentationDuration: undefined,
    upidType: 0,
    upid: new Uint8Array(0),
    segmentationTypeId,
    segmentNum: 0,
    segmentsExpected: 0,
    subSegment: undefined,
    ...extra,
  }) as SegmentationDescriptor;
const signal = (descriptors: SegmentationDescriptor[], ptsAdjustment = 0): SpliceInfoSection => ({
  ...header,
  ptsAdjustment,
  command: { type: 'time_signal', ptsTime: 1000 },
  descriptors,
});

describe('spliceCueOf', () => {
  it('the standard\'s samples: §14.1 splice_insert out with its break, §14.2 placement opportunity start', () => {
    expect(spliceCueOf(b64('/DAvAAAAAAAA///wFAVIAACPf+/+c2nALv4AUsz1AAAAAAAKAAhDVUVJAAABNWLbowo='))).toEqual({
      kind: 'out',
      eventId: 0x4800008f,
      ptsTime: 0x07369c02e,
      durationSeconds: 0x00052ccf5 / 90_000,
    });
    expect(spliceCueOf(b64('/DA0AAAAAAAA///wBQb+cr0AUAAeAhxDVUVJSAAAjn/PAAGlmbAICAAAAAAsoKGKNAIAmsnRfg=='))).toEqual({
      kind: 'out',
      eventId: 0x4800008e,
      ptsTime: 0x072bd0050,
      durationSeconds: 307,
    });
  });

  it.each([
    [0x22, 'out'],
    [0x23, 'in'],
    [0x34, 'out'],
    [0x35, 'in'],
    [0x36, 'out'],
    [0x37, 'in'],
    [0x44, 'out'],
    [0x47, 'in'],
    [0x10, undefined], // program start
    [0x38, undefined], // overlay placement opportunity
  ] as const)('time_signal segmentation type 0x%s → %s', (type, kind) => {
    expect(spliceCueOf(signal([seg(type)]))?.kind).toBe(kind);
  });

  it('skips cancelled and non-break descriptors for the first break one; applies pts_adjustment mod 2^33', () => {
    const cue = spliceCueOf(signal([seg(0x10), { tag: 2, identifier: CUEI, segmentationEventId: 1, cancel: true, eventIdCompliance: true }, seg(0x35, { segmentationEventId: 9 })], 2 ** 33 - 10));
    expect(cue).toEqual({ kind: 'in', eventId: 9, ptsTime: 990 });
  });

  it('a cancelled splice_insert, an immediate one, and splice_null', () => {
    expect(spliceCueOf({ ...header, command: { type: 'splice_insert', spliceEventId: 1, cancel: true }, descriptors: [] })).toBeUndefined();
    expect(spliceCueOf({ ...header, command: { type: 'splice_null' }, descriptors: [] })).toBeUndefined();
    const immediate = spliceCueOf({
      ...header,
      command: {
        type: 'splice_insert',
        spliceEventId: 4,
        cancel: false,
        outOfNetwork: false,
        eventIdCompliance: true,
        spliceImmediate: true,
        program: { ptsTime: undefined },
        components: [],
        breakDuration: undefined,
        uniqueProgramId: 0,
        availNum: 0,
        availsExpected: 0,
      },
      descriptors: [],
    });
    expect(immediate).toEqual({ kind: 'in', eventId: 4 });
  });
});
