import { describe, expect, it } from 'vitest';
import { decodeAmf0Values } from '../../../src/ingest/nms-rtmp-protocol.js';
import { rtmpCueOf } from '../../../src/ingest/rtmp-cue-message.js';
import { encodeAmf0Data } from '../../helpers/ingest/rtmp-raw-client.js';

/** ANSI/SCTE 35 §14.1 sample: splice_insert, out of network, event 0x4800008F, break 60.293 s (auto return). */
const INSERT_B64 = '/DAvAAAAAAAA///wFAVIAACPf+/+c2nALv4AUsz1AAAAAAAKAAhDVUVJAAABNWLbowo=';

describe('rtmpCueOf', () => {
  const cases: Array<[string, unknown[], ReturnType<typeof rtmpCueOf>]> = [
    ['YouTube cue point start', ['onCuePoint', { type: 'com.youtube.cuepoint', version: '0.1', pre_roll_time_sec: 2.56, cue_point_start: true, break_duration_sec: 30, splice_event_id: 7 }], { kind: 'out', preRollSeconds: 2.56, durationSeconds: 30, eventId: 7 }],
    ['YouTube cue point end', ['onCuePoint', { type: 'com.youtube.cuepoint', cue_point_start: false }], { kind: 'in', preRollSeconds: 0 }],
    ['onAdCue simple mode out', ['onAdCue', { type: 'SpliceOut', duration: 15, id: 3 }], { kind: 'out', preRollSeconds: 0, durationSeconds: 15, eventId: 3 }],
    ['onAdCue simple mode in (a duration on an in is ignored)', ['onAdCue', { type: 'SpliceIn', duration: 15 }], { kind: 'in', preRollSeconds: 0 }],
    ['through @setDataFrame, type in parameters', ['@setDataFrame', 'onCuePoint', { name: 'ad', parameters: { type: 'cue-out', duration: 20, preroll: 4 } }], { kind: 'out', preRollSeconds: 4, durationSeconds: 20 }],
    ['a cue point that is no ad marker', ['onCuePoint', { name: 'chapter', type: 'navigation' }], undefined],
    ['metadata', ['onMetaData', { width: 640 }], undefined],
    ['no object', ['onCuePoint', 'out'], undefined],
  ];
  for (const [what, values, expected] of cases) {
    it(what, () => expect(rtmpCueOf(values)).toEqual(expected));
  }

  it('a base64 SCTE-35 section (cue) gives the section\'s own meaning and bytes', () => {
    const cue = rtmpCueOf(['onAdCue', { type: 'scte35', cue: INSERT_B64, preroll: 1 }]);
    expect(cue).toMatchObject({ kind: 'out', eventId: 0x4800008f, preRollSeconds: 1, durationSeconds: 0x052ccf5 / 90_000 });
    expect(Buffer.from(cue!.section!).toString('base64')).toBe(INSERT_B64);
  });

  it('a corrupt section falls back to the message fields', () => {
    const bad = Buffer.from(INSERT_B64, 'base64');
    bad[12] = bad[12]! ^ 0xff;
    expect(rtmpCueOf(['onCuePoint', { cue: bad.toString('base64'), type: 'SpliceOut' }])).toEqual({ kind: 'out', preRollSeconds: 0 });
  });

  it('reads what a data message body carries (AMF0 as encoders write it)', () => {
    const body = encodeAmf0Data('onCuePoint', { type: 'com.youtube.cuepoint', cue_point_start: true, break_duration_sec: 30 });
    expect(rtmpCueOf(decodeAmf0Values(body))).toEqual({ kind: 'out', preRollSeconds: 0, durationSeconds: 30 });
  });
});
