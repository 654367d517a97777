import { ByteCursor, findChild, malformed, type SampleEntry } from './mp4-boxes.js';

/**
 * RFC 6381 `CODECS` values from an init segment's sample entry, as the multivariant playlist needs
 * them: `avc1.PPCCLL` (ISO/IEC 14496-15 avcC), `hvc1.…`/`hev1.…` (14496-15 Annex E), `mp4a.40.N`
 * (ISO/IEC 14496-1 esds + 14496-3 AudioSpecificConfig). Other formats fall back to a bare fourcc.
 */
export function codecString(entry: SampleEntry): string {
  switch (entry.format) {
    case 'avc1':
    case 'avc3': {
      const avcC = findChild(entry.children, 'avcC');
      if (!avcC) throw malformed(`${entry.format} sample entry has no avcC`);
      return `${entry.format}.${avcCodecSuffix(avcC.payload)}`;
    }
    case 'hvc1':
    case 'hev1': {
      const hvcC = findChild(entry.children, 'hvcC');
      if (!hvcC) throw malformed(`${entry.format} sample entry has no hvcC`);
      return `${entry.format}.${hevcCodecSuffix(hvcC.payload)}`;
    }
    case 'mp4a': {
      const esds = findChild(entry.children, 'esds');
      if (!esds) throw malformed('mp4a sample entry has no esds');
      return parseEsds(esds.payload).codecs;
    }
    case 'Opus':
      return 'opus';
    case 'fLaC':
      return 'flac';
    default:
      return entry.format;
  }
}

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

/** AVCDecoderConfigurationRecord: configurationVersion, AVCProfileIndication, profile_compatibility, AVCLevelIndication. */
export function avcCodecSuffix(avcC: Uint8Array): string {
  const c = new ByteCursor(avcC, 'avcC');
  c.u8();
  return hex2(c.u8()) + hex2(c.u8()) + hex2(c.u8());
}

/**
 * HEVCDecoderConfigurationRecord → `P.C.TL.B…` per ISO/IEC 14496-15 E.3: profile space letter + profile
 * idc, the 32 compatibility flags bit-reversed in hex, tier letter + level, then the constraint bytes
 * with trailing zero bytes dropped. E.g. `hvc1.1.6.L93.B0`.
 */
export function hevcCodecSuffix(hvcC: Uint8Array): string {
  const c = new ByteCursor(hvcC, 'hvcC');
  c.u8(); // configurationVersion
  const b = c.u8();
  const profileSpace = b >> 6;
  const tier = (b >> 5) & 1;
  const profileIdc = b & 0x1f;
  let compat = c.u32();
  let reversed = 0;
  for (let i = 0; i < 32; i++) {
    reversed = (reversed << 1) | (compat & 1);
    compat >>>= 1;
  }
  const constraints = Array.from(c.take(6));
  const level = c.u8();
  while (constraints.length > 0 && constraints[constraints.length - 1] === 0) constraints.pop();
  const parts = [
    `${['', 'A', 'B', 'C'][profileSpace]}${profileIdc}`,
    (reversed >>> 0).toString(16).toUpperCase(),
    `${tier ? 'H' : 'L'}${level}`,
    ...constraints.map((x) => x.toString(16).toUpperCase()),
  ];
  return parts.join('.');
}

/** Reads an MPEG-4 descriptor header (tag, then a 1-4 byte "expandable" size). */
function descriptor(c: ByteCursor): { tag: number; body: ByteCursor } {
  const tag = c.u8();
  let size = 0;
  for (let i = 0; i < 4; i++) {
    const b = c.u8();
    size = (size << 7) | (b & 0x7f);
    if ((b & 0x80) === 0) break;
  }
  return { tag, body: new ByteCursor(c.take(size), `descriptor 0x${hex2(tag)}`) };
}

/**
 * esds (FullBox) → ES_Descriptor (tag 3) → DecoderConfigDescriptor (tag 4): objectTypeIndication; for
 * MPEG-4 audio (0x40) the DecoderSpecificInfo (tag 5) AudioSpecificConfig gives the audio object type
 * (5 bits, 31 = escape to 32 + 6 more bits): AAC-LC is `mp4a.40.2`, HE-AAC `mp4a.40.5`.
 */
export function parseEsds(esds: Uint8Array): { codecs: string; channels?: number } {
  const c = new ByteCursor(esds, 'esds');
  c.skip(4); // version + flags
  const es = descriptor(c);
  if (es.tag !== 0x03) throw malformed('esds does not start with an ES_Descriptor');
  const body = es.body;
  body.skip(2); // ES_ID
  const esFlags = body.u8();
  if (esFlags & 0x80) body.skip(2); // dependsOn_ES_ID
  if (esFlags & 0x40) body.skip(body.u8()); // URL
  if (esFlags & 0x20) body.skip(2); // OCR_ES_Id
  const dcd = descriptor(body);
  if (dcd.tag !== 0x04) throw malformed('esds has no DecoderConfigDescriptor');
  const objectType = dcd.body.u8();
  if (objectType !== 0x40) return { codecs: `mp4a.${hex2(objectType).toUpperCase()}` };
  dcd.body.skip(12); // streamType…avgBitrate
  if (dcd.body.remaining === 0) return { codecs: 'mp4a.40.2' };
  const dsi = descriptor(dcd.body);
  if (dsi.tag !== 0x05 || dsi.body.remaining === 0) return { codecs: 'mp4a.40.2' };
  // AudioSpecificConfig: audioObjectType (5 bits, or 31 + 6 bits), samplingFrequencyIndex (4 bits, or
  // 15 + 24 bits of explicit rate), channelConfiguration (4 bits).
  const bits = new BitReader(dsi.body.rest());
  let aot = bits.read(5);
  if (aot === 31) aot = 32 + bits.read(6);
  if (bits.read(4) === 15) bits.read(24);
  const channelConfiguration = bits.read(4);
  // Configurations 1-6 are 1-6 channels, 7 is 7.1 (8 channels); 0 means "in the bitstream".
  const channels = channelConfiguration === 7 ? 8 : channelConfiguration >= 1 && channelConfiguration <= 6 ? channelConfiguration : undefined;
  return channels === undefined ? { codecs: `mp4a.40.${aot}` } : { codecs: `mp4a.40.${aot}`, channels };
}

class BitReader {
  private bit = 0;
  constructor(private readonly bytes: Uint8Array) {}
  read(n: number): number {
    let value = 0;
    for (let i = 0; i < n; i++) {
      const byte = this.bytes[this.bit >> 3];
      if (byte === undefined) throw malformed('AudioSpecificConfig is truncated');
      value = value * 2 + ((byte >> (7 - (this.bit & 7))) & 1);
      this.bit++;
    }
    return value;
  }
}
