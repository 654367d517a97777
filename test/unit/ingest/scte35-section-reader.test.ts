import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Scte35SectionReader, type Scte35Section } from '../../../src/ingest/scte35-section-reader.js';

const PID = 0x1f6;
/** ANSI/SCTE 35 §14.1 and §14.2 sample sections. */
const INSERT = Buffer.from('/DAvAAAAAAAA///wFAVIAACPf+/+c2nALv4AUsz1AAAAAAAKAAhDVUVJAAABNWLbowo=', 'base64');
const SIGNAL = Buffer.from('/DA0AAAAAAAA///wBQb+cr0AUAAeAhxDVUVJSAAAjn/PAAGlmbAICAAAAAAsoKGKNAIAmsnRfg==', 'base64');

/** One TS packet on `pid`: header, payload, 0xFF stuffing. */
function packet(payload: Buffer, options: { pid?: number; start: boolean; cc: number }): Buffer {
  const p = Buffer.alloc(188, 0xff);
  const pid = options.pid ?? PID;
  p[0] = 0x47;
  p[1] = (options.start ? 0x40 : 0) | ((pid >> 8) & 0x1f);
  p[2] = pid & 0xff;
  p[3] = 0x10 | (options.cc & 0x0f);
  payload.copy(p, 4, 0, Math.min(payload.length, 184));
  return p;
}

function reader() {
  const sections: Scte35Section[] = [];
  const errors: string[] = [];
  const r = new Scte35SectionReader({ onSection: (s) => sections.push(s), onError: (_pid, reason) => errors.push(reason) });
  r.setPids([PID]);
  return { r, sections, errors };
}

describe('Scte35SectionReader', () => {
  it('reads a section in one packet (pointer_field 0) and ignores other PIDs', () => {
    const { r, sections, errors } = reader();
    r.push(Buffer.concat([packet(Buffer.concat([Buffer.from([0]), INSERT]), { start: true, cc: 0 }), packet(Buffer.concat([Buffer.from([0]), SIGNAL]), { pid: 0x100, start: true, cc: 0 })]));
    expect(errors).toEqual([]);
    expect(sections).toHaveLength(1);
    expect(Buffer.from(sections[0]!.bytes).equals(INSERT)).toBe(true);
    expect(sections[0]!.section.command).toMatchObject({ type: 'splice_insert', spliceEventId: 0x4800008f, outOfNetwork: true });
  });

  it('reads two sections in one packet, and a section split over two packets', () => {
    const { r, sections, errors } = reader();
    r.push(packet(Buffer.concat([Buffer.from([0]), INSERT, SIGNAL]), { start: true, cc: 3 }));
    // A long section: the sample time_signal starting 170 bytes into a packet, finished by the next.
    const first = Buffer.concat([Buffer.from([170]), Buffer.alloc(170, 0xab), SIGNAL.subarray(0, 13)]);
    const second = SIGNAL.subarray(13);
    r.push(Buffer.concat([packet(first, { start: true, cc: 4 }), packet(second, { start: false, cc: 5 })]));
    expect(errors).toEqual([]);
    expect(sections.map((s) => s.section.command.type)).toEqual(['splice_insert', 'time_signal', 'time_signal']);
  });

  it('the pointer_field finishes the section in progress before a new one starts', () => {
    const { r, sections, errors } = reader();
    const head = SIGNAL.subarray(0, 20);
    const tail = SIGNAL.subarray(20);
    // Packet 1: the pointer skips 163 bytes (the end of a section we never saw), then `head` fills it.
    r.push(packet(Buffer.concat([Buffer.from([163]), Buffer.alloc(163, 0x55), head]), { start: true, cc: 0 }));
    // Packet 2: the pointer covers `tail`, then a whole new section.
    r.push(packet(Buffer.concat([Buffer.from([tail.length]), tail, INSERT]), { start: true, cc: 1 }));
    expect(errors).toEqual([]);
    expect(sections.map((s) => s.section.command.type)).toEqual(['time_signal', 'splice_insert']);
  });

  it('a lost packet drops the section in progress; a bad CRC is reported, not thrown', () => {
    const { r, sections, errors } = reader();
    r.push(packet(Buffer.concat([Buffer.from([184 - 1 - 13]), Buffer.alloc(184 - 1 - 13, 0xff), SIGNAL.subarray(0, 13)]), { start: true, cc: 0 }));
    r.push(packet(SIGNAL.subarray(13), { start: false, cc: 2 })); // cc 1 was lost
    expect(sections).toEqual([]);
    expect(errors.some((e) => e.includes('continuity'))).toBe(true);
    const bad = Buffer.from(INSERT);
    bad[10] = bad[10]! ^ 1;
    r.push(packet(Buffer.concat([Buffer.from([0]), bad]), { start: true, cc: 3 }));
    expect(sections).toEqual([]);
    expect(errors.some((e) => e.includes('CRC'))).toBe(true);
  });

  it('random packets on the SCTE-35 PID never throw', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 184, maxLength: 184 }), { maxLength: 8 }), fc.boolean(), (payloads, start) => {
        const { r } = reader();
        r.push(Buffer.concat(payloads.map((p, i) => packet(Buffer.from(p), { start: start || i === 0, cc: i }))));
      }),
      { numRuns: 500 },
    );
  });
});
