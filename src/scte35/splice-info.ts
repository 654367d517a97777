/**
 * SCTE-35 splice_info_section as plain data (ANSI/SCTE 35, §9.6 "splice_info_section()").
 *
 * livepipe reads the commands that mark ad breaks — `splice_null`, `splice_insert` and `time_signal` —
 * and the `avail_descriptor` and `segmentation_descriptor` (§10.3.1, §10.3.3); any other command or
 * descriptor is kept as its raw bytes. Times are 90 kHz ticks (33-bit PTS values), as on the wire;
 * `ticksToSeconds` converts.
 */

/** 90 kHz: the PTS clock of every time field in a splice_info_section. */
export const SCTE35_TICKS_PER_SECOND = 90_000;

export const ticksToSeconds = (ticks: number): number => ticks / SCTE35_TICKS_PER_SECOND;

/** splice_command_type values (Table 7). */
export const SpliceCommandType = {
  SpliceNull: 0x00,
  SpliceInsert: 0x05,
  TimeSignal: 0x06,
} as const;

/** splice_descriptor_tag values (Table 16) of the descriptors livepipe decodes. */
export const SpliceDescriptorTag = {
  Avail: 0x00,
  Segmentation: 0x02,
} as const;

/** "CUEI": the identifier of every SCTE-35 splice descriptor. */
export const CUEI = 0x43554549;

/** break_duration() (§9.8.2). */
export interface BreakDuration {
  autoReturn: boolean;
  /** 90 kHz ticks. */
  duration: number;
}

/** splice_insert() (§9.7.3). A cancelled event carries only its id. */
export type SpliceInsert =
  | { type: 'splice_insert'; spliceEventId: number; cancel: true }
  | {
      type: 'splice_insert';
      spliceEventId: number;
      cancel: false;
      /** Going out to an ad (true) or coming back (false). */
      outOfNetwork: boolean;
      eventIdCompliance: boolean;
      spliceImmediate: boolean;
      /**
       * program_splice_flag = 1: the splice time of the whole program (undefined when immediate, or when
       * time_specified_flag = 0).
       */
      program: { ptsTime: number | undefined } | undefined;
      /** program_splice_flag = 0: one entry per elementary stream. */
      components: Array<{ componentTag: number; ptsTime: number | undefined }>;
      breakDuration: BreakDuration | undefined;
      uniqueProgramId: number;
      availNum: number;
      availsExpected: number;
    };

/** time_signal() (§9.7.4): a splice_time(); its meaning is in the segmentation descriptors. */
export interface TimeSignal {
  type: 'time_signal';
  /** 90 kHz ticks; undefined when time_specified_flag = 0. */
  ptsTime: number | undefined;
}

export type SpliceCommand =
  | { type: 'splice_null' }
  | SpliceInsert
  | TimeSignal
  | { type: 'other'; commandType: number; bytes: Uint8Array };

/** avail_descriptor() (§10.3.1). */
export interface AvailDescriptor {
  tag: typeof SpliceDescriptorTag.Avail;
  identifier: number;
  providerAvailId: number;
}

/** segmentation_descriptor() (§10.3.3). A cancelled event carries only its id. */
export type SegmentationDescriptor =
  | { tag: typeof SpliceDescriptorTag.Segmentation; identifier: number; segmentationEventId: number; cancel: true; eventIdCompliance: boolean }
  | {
      tag: typeof SpliceDescriptorTag.Segmentation;
      identifier: number;
      segmentationEventId: number;
      cancel: false;
      eventIdCompliance: boolean;
      deliveryNotRestricted: boolean;
      /** The four restriction flags when delivery_not_restricted_flag = 0 (else the 5 reserved bits). */
      webDeliveryAllowed: boolean;
      noRegionalBlackout: boolean;
      archiveAllowed: boolean;
      deviceRestrictions: number;
      /** program_segmentation_flag = 0: per-component PTS offsets (90 kHz ticks). */
      components: Array<{ componentTag: number; ptsOffset: number }> | undefined;
      /** 90 kHz ticks (40 bits on the wire). */
      segmentationDuration: number | undefined;
      upidType: number;
      upid: Uint8Array;
      /** segmentation_type_id (Table 23): 0x34 provider placement opportunity start, 0x35 its end, … */
      segmentationTypeId: number;
      segmentNum: number;
      segmentsExpected: number;
      /** Present for the placement-opportunity starts (0x34, 0x36, 0x38, 0x3A) when the descriptor has them. */
      subSegment: { num: number; expected: number } | undefined;
    };

export type SpliceDescriptor =
  | AvailDescriptor
  | SegmentationDescriptor
  | { tag: number; identifier: number; bytes: Uint8Array };

/** splice_info_section() (Table 5), unencrypted. */
export interface SpliceInfoSection {
  /** 0 in every published version of the standard. */
  protocolVersion: number;
  /** sap_type (2 bits; 3 = "not specified"). */
  sapType: number;
  /** 90 kHz ticks added to every PTS time in the section. */
  ptsAdjustment: number;
  cwIndex: number;
  /** 12 bits; 0xFFF = no tier. */
  tier: number;
  command: SpliceCommand;
  descriptors: SpliceDescriptor[];
}
