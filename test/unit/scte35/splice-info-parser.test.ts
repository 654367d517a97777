import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode, isLivepipeError } from '../../../src/core/errors.js';
import { crc32Mpeg2 } from '../../../src/scte35/crc32-mpeg2.js';
import { CUEI, ticksToSeconds, type SpliceCommand, type SpliceDescriptor, type SpliceInfoSection } from '../../../src/scte35/splice-info.js';
import { parseSpliceInfoSection } from '../../../src/scte35/splice-info-parser.js';
import { spliceInfoHex, writeSpliceInfoSection } from '../../../src/scte35/splice-info-writer.js';

const b64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));

/** ANSI/SCTE 35 §14 (sample sections): 14.2 time_signal with a placement opportunity start, 14.1 splice_insert out. */
const TIME_SIGNAL = '/DA0AAAAAAAA///wBQb+cr0AUAAeAhxDVUVJSAAAjn/PAAGlmbAICAAAAAAsoKGKNAIAmsnRfg==';
const SPLICE_INSERT = '/DAvAAAAAAAA///wFAVIAACPf+/+c2nALv4AUsz1AAAAAAAKAAhDVUVJAAABNWLbowo=';

function expectMalformed(f: () => unknown): void {
  try {
    f();
  } catch (err) {
    expect(isLivepipeError(err, ErrorCode.MediaMalformed), String(err)).toBe(true);
    return;
  }
  throw new Error('expected MEDIA_MALFORMED');
}

describe('crc32Mpeg2', () => {
  it('is CRC-32/MPEG-2: check value of "123456789" is 0x0376E6E7', () => {
    expect(crc32Mpeg2(new TextEncoder().encode('123456789'))).toBe(0x0376e6e7);
  });
});

describe('parseSpliceInfoSection: the standard\'s sample sections', () => {
  it('14.2 time_signal, placement opportunity start (0x34), 307 s, TI upid', () => {
    const s = parseSpliceInfoSection(b64(TIME_SIGNAL));
    expect(s).toMatchObject({ protocolVersion: 0, sapType: 3, ptsAdjustment: 0, cwIndex: 0xff, tier: 0xfff });
    expect(s.command).toEqual({ type: 'time_signal', ptsTime: 0x072bd0050 });
    expect(ticksToSeconds(0x072bd0050)).toBeCloseTo(21388.766756, 6);
    expect(s.descriptors).toHaveLength(1);
    const d = s.descriptors[0]!;
    expect(d).toMatchObject({
      tag: 2,
      identifier: CUEI,
      segmentationEventId: 0x4800008e,
      cancel: false,
      eventIdCompliance: true,
      deliveryNotRestricted: false,
      webDeliveryAllowed: false,
      noRegionalBlackout: true,
      archiveAllowed: true,
      deviceRestrictions: 3,
      components: undefined,
      segmentationDuration: 27_630_000,
      upidType: 8,
      segmentationTypeId: 0x34,
      segmentNum: 2,
      segmentsExpected: 0,
      subSegment: undefined,
    });
    expect(ticksToSeconds(27_630_000)).toBe(307);
    expect(Buffer.from((d as { upid: Uint8Array }).upid).toString('hex')).toBe('000000002ca0a18a');
  });

  it('14.1 splice_insert out of network, 60.293567 s auto-return break, avail descriptor', () => {
    const s = parseSpliceInfoSection(b64(SPLICE_INSERT));
    expect(s.command).toEqual({
      type: 'splice_insert',
      spliceEventId: 0x4800008f,
      cancel: false,
      outOfNetwork: true,
      eventIdCompliance: true,
      spliceImmediate: false,
      program: { ptsTime: 0x07369c02e },
      components: [],
      breakDuration: { autoReturn: true, duration: 0x00052ccf5 },
      uniqueProgramId: 0,
      availNum: 0,
      availsExpected: 0,
    });
    expect(ticksToSeconds(0x07369c02e)).toBeCloseTo(21514.559089, 5);
    expect(ticksToSeconds(0x00052ccf5)).toBeCloseTo(60.293567, 6);
    expect(s.descriptors).toEqual([{ tag: 0, identifier: CUEI, providerAvailId: 0x135 }]);
  });

  it.each([TIME_SIGNAL, SPLICE_INSERT])('writes %s back byte for byte', (sample) => {
    const bytes = b64(sample);
    expect(Buffer.from(writeSpliceInfoSection(parseSpliceInfoSection(bytes))).equals(Buffer.from(bytes))).toBe(true);
  });

  it('ignores bytes after section_length (0xFF stuffing of a TS section)', () => {
    const bytes = b64(SPLICE_INSERT);
    const padded = Uint8Array.from([...bytes, 0xff, 0xff, 0xff]);
    expect(parseSpliceInfoSection(padded)).toEqual(parseSpliceInfoSection(bytes));
  });

  it('hex form for SCTE35-OUT', () => {
    expect(spliceInfoHex(b64(SPLICE_INSERT)).slice(0, 10)).toBe('0xFC302F00');
  });
});

describe('parseSpliceInfoSection: refusals', () => {
  const sample = (): Uint8Array => b64(TIME_SIGNAL);
  const cases: Array<[string, (b: Uint8Array) => Uint8Array]> = [
    ['empty', () => new Uint8Array(0)],
    ['table_id 0xFD', (b) => ((b[0] = 0xfd), b)],
    ['one flipped bit (CRC)', (b) => ((b[20] = b[20]! ^ 0x01), b)],
    ['truncated', (b) => b.subarray(0, b.length - 1)],
    ['section_length past the end', (b) => ((b[2] = b[2]! + 1), b)],
    ['encrypted', (b) => {
      b[4] = b[4]! | 0x80;
      const crc = crc32Mpeg2(b, 0, b.length - 4);
      b.set([crc >>> 24, (crc >>> 16) & 0xff, (crc >>> 8) & 0xff, crc & 0xff], b.length - 4);
      return b;
    }],
  ];
  it.each(cases)('%s → MEDIA_MALFORMED', (_name, mutate) => {
    expectMalformed(() => parseSpliceInfoSection(mutate(sample())));
  });
});

// ---- fast-check ----

/** An unsigned field of `bits` bits (all ≤ 40 here, exact in a double). */
const u = (bits: number): fc.Arbitrary<number> => fc.integer({ min: 0, max: 2 ** bits - 1 });
const pts = fc.option(u(33), { nil: undefined });
const bytesArb = (max: number) => fc.uint8Array({ maxLength: max });

const command: fc.Arbitrary<SpliceCommand> = fc.oneof(
  fc.constant({ type: 'splice_null' as const }),
  fc.record({ type: fc.constant('time_signal' as const), ptsTime: pts }),
  fc.record({ type: fc.constant('splice_insert' as const), spliceEventId: u(32), cancel: fc.constant(true as const) }),
  fc.boolean().chain((immediate) =>
    fc.record({
      type: fc.constant('splice_insert' as const),
      spliceEventId: u(32),
      cancel: fc.constant(false as const),
      outOfNetwork: fc.boolean(),
      eventIdCompliance: fc.boolean(),
      spliceImmediate: fc.constant(immediate),
      program: fc.option(fc.record({ ptsTime: immediate ? fc.constant(undefined) : pts }), { nil: undefined }),
      components: fc.array(fc.record({ componentTag: u(8), ptsTime: immediate ? fc.constant(undefined) : pts }), { maxLength: 3 }),
      breakDuration: fc.option(fc.record({ autoReturn: fc.boolean(), duration: u(33) }), { nil: undefined }),
      uniqueProgramId: u(16),
      availNum: u(8),
      availsExpected: u(8),
    }).map((c) => (c.program !== undefined ? { ...c, components: [] } : c)),
  ),
);

const descriptor: fc.Arbitrary<SpliceDescriptor> = fc.oneof(
  fc.record({ tag: fc.constant(0 as const), identifier: fc.constant(CUEI), providerAvailId: u(32) }),
  fc.record({
    tag: fc.constant(2 as const),
    identifier: fc.constant(CUEI),
    segmentationEventId: u(32),
    cancel: fc.constant(true as const),
    eventIdCompliance: fc.boolean(),
  }),
  fc.record({
    tag: fc.constant(2 as const),
    identifier: fc.constant(CUEI),
    segmentationEventId: u(32),
    cancel: fc.constant(false as const),
    eventIdCompliance: fc.boolean(),
    deliveryNotRestricted: fc.boolean(),
    webDeliveryAllowed: fc.boolean(),
    noRegionalBlackout: fc.boolean(),
    archiveAllowed: fc.boolean(),
    deviceRestrictions: u(2),
    components: fc.option(fc.array(fc.record({ componentTag: u(8), ptsOffset: u(33) }), { maxLength: 3 }), { nil: undefined }),
    segmentationDuration: fc.option(u(40), { nil: undefined }),
    upidType: u(8),
    upid: bytesArb(16),
    segmentationTypeId: fc.constantFrom(0x10, 0x22, 0x30, 0x34, 0x35, 0x36),
    segmentNum: u(8),
    segmentsExpected: u(8),
    subSegment: fc.option(fc.record({ num: u(8), expected: u(8) }), { nil: undefined }),
  }).map((d) => ([0x34, 0x36].includes(d.segmentationTypeId) ? d : { ...d, subSegment: undefined })),
  fc.record({ tag: fc.integer({ min: 3, max: 255 }), identifier: u(32), bytes: bytesArb(20) }),
);

const section: fc.Arbitrary<SpliceInfoSection> = fc.record({
  protocolVersion: fc.constant(0),
  sapType: u(2),
  ptsAdjustment: u(33),
  cwIndex: u(8),
  tier: u(12),
  command,
  descriptors: fc.array(descriptor, { maxLength: 3 }),
});

describe('parseSpliceInfoSection: properties', () => {
  it('write → parse gives the section back', () => {
    fc.assert(
      fc.property(section, (s) => {
        expect(parseSpliceInfoSection(writeSpliceInfoSection(s))).toEqual(s);
      }),
      { numRuns: 500 },
    );
  });

  it('random bytes never throw anything but MEDIA_MALFORMED', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          parseSpliceInfoSection(bytes);
        } catch (err) {
          expect(isLivepipeError(err, ErrorCode.MediaMalformed), String(err)).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('a valid header with random content and a correct CRC never throws anything but MEDIA_MALFORMED', () => {
    // Random bodies rarely pass the CRC, so this sets table_id, section_length and the CRC for them.
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 17, maxLength: 120 }), (body) => {
        const total = body.length + 3 + 4;
        const b = new Uint8Array(total);
        b.set([0xfc, 0x30 | (((total - 3) >> 8) & 0x0f), (total - 3) & 0xff]);
        b.set(body, 3);
        b[4] = b[4]! & 0x7f; // unencrypted, so the body is read
        const crc = crc32Mpeg2(b, 0, total - 4);
        b.set([crc >>> 24, (crc >>> 16) & 0xff, (crc >>> 8) & 0xff, crc & 0xff], total - 4);
        try {
          parseSpliceInfoSection(b);
        } catch (err) {
          expect(isLivepipeError(err, ErrorCode.MediaMalformed), String(err)).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
