/**
 * `channelView` on its own: what the ops API shows of a channel, from plain snapshots of its state.
 * The fields that take logic — the state reason while the encoder fails or falls behind, restarts
 * over publish sessions, the renditions with their positions, the ladder adjustment, the publisher,
 * the inputs — each against a snapshot built here; the ladder is the real `low-latency` from ladders/.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { channelView, ladderAdjustmentView, type ChannelViewSnapshot } from '../../../src/channels/channel-view.js';
import type { ChannelInputView } from '../../../src/channels/channel-inputs.js';
import type { PublisherInfo } from '../../../src/ingest/ingest-feed.js';
import { loadLadder, resolveLadder, type ResolvedLadder } from '../../../src/ladder/ladder-loader.js';
import type { Ladder } from '../../../src/ladder/ladder-schema.js';
import { NO_ADJUSTMENT } from '../../../src/transcode/behind-policy.js';
import type { TranscoderStateSnapshot } from '../../../src/transcode/transcoder-supervisor.js';

const NOW = Date.parse('2026-12-05T12:00:00Z');
const URLS = { playback: 'http://localhost:8080/live/news/master.m3u8', rtmp: 'rtmp://localhost/live/news' };

let base: Ladder;
/** `low-latency` for a 1280x720 source: 720p, 480p, 360p and one audio rendition. */
let resolved: ResolvedLadder;
/** The same ladder for a 640x360 source: 720p and 480p are dropped (above the source). */
let resolvedSmall: ResolvedLadder;

beforeAll(async () => {
  base = (await loadLadder('low-latency')).ladder;
  resolved = resolveLadder(base, { width: 1280, height: 720, frameRate: 30, hasAudio: true });
  resolvedSmall = resolveLadder(base, { width: 640, height: 360, frameRate: 30, hasAudio: true });
});

function idle(over: Partial<ChannelViewSnapshot> = {}): ChannelViewSnapshot {
  return {
    spec: { id: 'news', ladder: 'low-latency', key: 'news-key-0123456789' },
    state: 'idle',
    stateReason: undefined,
    transcoder: undefined,
    restarts: 0,
    lastError: undefined,
    endedFailureSeries: undefined,
    encoderGiveUpMs: 60_000,
    ladder: undefined,
    positions: [],
    ladderAdjustment: { policy: 'warn', baseLadder: undefined, adjustment: NO_ADJUSTMENT },
    publisher: undefined,
    input: undefined,
    urls: URLS,
    now: NOW,
    ...over,
  };
}

function running(over: Partial<TranscoderStateSnapshot> = {}): TranscoderStateSnapshot {
  return {
    channel: 'news',
    state: 'running',
    runId: 3,
    pid: 4242,
    restarts: 0,
    consecutiveFailures: 0,
    crashLooping: false,
    failingSince: undefined,
    runStartedAt: NOW - 90_400,
    uptimeMs: 90_400,
    lastProgress: undefined,
    lastError: undefined,
    stderrTail: [],
    decisions: [],
    droppedRenditions: [],
    ...over,
  };
}

/** A live channel whose encoder runs (`transcoder` overrides the running supervisor's state). */
function live(over: Partial<ChannelViewSnapshot> = {}, transcoder: Partial<TranscoderStateSnapshot> = {}): ChannelViewSnapshot {
  return idle({ state: 'live', stateReason: 'publishing over rtmp', transcoder: running(transcoder), ladder: resolved, ...over });
}

describe('channelView', () => {
  it('shows an idle channel with no supervisor as an idle transcoder, its own restarts and last error, and no publisher', () => {
    const view = channelView(idle({ stateReason: 'grace period over', restarts: 2, lastError: 'ffmpeg exited with code 1' }));
    expect(view).toEqual({
      id: 'news',
      ladder: 'low-latency',
      state: 'idle',
      stateReason: 'grace period over',
      keyLast4: '6789',
      transcoder: { state: 'idle', runId: 0, restarts: 2, crashLooping: false, uptimeSeconds: 0, lastError: 'ffmpeg exited with code 1', renditions: [], dropped: [] },
      urls: URLS,
    });
  });

  it('adds the running supervisor\'s restarts to the earlier sessions\' and prefers its last error', () => {
    const view = channelView(live({ restarts: 2, lastError: 'older error' }, { restarts: 3, lastError: 'ffmpeg exited with code 187' }));
    expect(view.transcoder).toMatchObject({ state: 'running', runId: 3, restarts: 5, uptimeSeconds: 90, lastError: 'ffmpeg exited with code 187' });
  });

  it('lists every rendition of the last run with its size and bitrate, the encoder\'s progress on video only, and each one\'s position', () => {
    const view = channelView(
      live(
        {
          positions: [
            { rendition: '720p', lastMsn: 41, lastPart: 3 },
            { rendition: 'audio', lastMsn: 42, lastPart: 0 },
          ],
        },
        { lastProgress: { fps: 30.2, speed: 1.01, end: false } },
      ),
    );
    expect(view.transcoder.renditions).toEqual([
      { name: '720p', kind: 'video', width: 1280, height: 720, bitrate: 2_500_000, fps: 30.2, speed: 1.01, lastMsn: 41, lastPart: 3 },
      { name: '480p', kind: 'video', width: 854, height: 480, bitrate: 1_200_000, fps: 30.2, speed: 1.01 },
      { name: '360p', kind: 'video', width: 640, height: 360, bitrate: 700_000, fps: 30.2, speed: 1.01 },
      { name: 'audio', kind: 'audio', bitrate: 96_000, lastMsn: 42, lastPart: 0 },
    ]);
    // The channel's media sequence is its furthest rendition's.
    expect(view.mediaSequence).toBe(42);
  });

  it('has no media sequence before anything is published', () => {
    expect(channelView(live())).not.toHaveProperty('mediaSequence');
  });

  it('lists the renditions the run dropped for its source, with the reason', () => {
    const view = channelView(live({ ladder: resolvedSmall }, { decisions: resolvedSmall.decisions }));
    expect(view.transcoder.renditions.map((r) => r.name)).toEqual(['360p', 'audio']);
    expect(view.transcoder.dropped.map((d) => d.name)).toEqual(['720p', '480p']);
    for (const d of view.transcoder.dropped) expect(d.reason).toMatch(/above source/);
  });

  describe('while the encoder fails', () => {
    const failingSince = NOW - 12_400;

    it('says it crash-loops, for how long, its last error and when the stream ends', () => {
      const view = channelView(live({}, { state: 'restarting', failingSince, crashLooping: true, consecutiveFailures: 4, lastError: 'ffmpeg exited with code 1' }));
      expect(view.stateReason).toBe('encoder crash-looping: 4 fast failures in a row for 12 s (last: ffmpeg exited with code 1); retrying, the stream ends after 60 s of failures');
      expect(view.transcoder).toMatchObject({ crashLooping: true, failingSeconds: 12 });
    });

    it('says a single failure was restarted, with the configured give-up time', () => {
      const view = channelView(live({ encoderGiveUpMs: 30_000 }, { state: 'restarting', failingSince }));
      expect(view.stateReason).toBe('encoder restarted after a failure for 12 s; retrying, the stream ends after 30 s of failures');
    });

    it('says the stream was ended once this series of failures ended it', () => {
      const view = channelView(live({ endedFailureSeries: failingSince }, { state: 'restarting', failingSince, lastError: 'boom' }));
      expect(view.stateReason).toBe('encoder failing for 12 s (last: boom): stream ended with EXT-X-ENDLIST; still retrying, a run that produces media continues it');
    });

    it('does not speak of an earlier series that ended the stream', () => {
      const view = channelView(live({ endedFailureSeries: failingSince - 120_000 }, { state: 'restarting', failingSince }));
      expect(view.stateReason).toMatch(/^encoder restarted after a failure for 12 s/);
    });

    it('keeps the channel\'s own reason when it is not live (the failure is not the channel\'s state)', () => {
      const view = channelView(live({ state: 'reconnecting', stateReason: 'publisher left (disconnect)' }, { state: 'restarting', failingSince }));
      expect(view.stateReason).toBe('publisher left (disconnect)');
      expect(view.transcoder).not.toHaveProperty('failingSeconds');
    });
  });

  describe('realtime', () => {
    it('shows how the encoder keeps up, rounded, with its measured cost, and no state reason of its own while it keeps up', () => {
      const view = channelView(live({}, { realtime: { edgeLagSeconds: 0.4567, speed: 1.0049, behind: false }, measuredCores: 1.23456 }));
      expect(view.transcoder.realtime).toEqual({ behind: false, edgeLagSeconds: 0.46, speed: 1, cores: 1.23 });
      expect(view.stateReason).toBe('publishing over rtmp');
    });

    it('leaves out what is not measured yet', () => {
      const view = channelView(live({}, { realtime: { edgeLagSeconds: undefined, speed: undefined, behind: false } }));
      expect(view.transcoder.realtime).toEqual({ behind: false });
    });

    it('has no realtime between runs', () => {
      expect(channelView(live({}, { realtime: undefined })).transcoder).not.toHaveProperty('realtime');
    });

    it('gives the behind reason as the state reason while live', () => {
      const status = { edgeLagSeconds: 4.2, speed: 0.8, behind: true, reason: 'behind realtime: 4.2 s behind arrival' };
      expect(channelView(live({}, { realtime: status })).stateReason).toBe('behind realtime: 4.2 s behind arrival');
      expect(channelView(live({ state: 'reconnecting', stateReason: 'publisher left (kicked)' }, { realtime: status })).stateReason).toBe('publisher left (kicked)');
    });

    it('puts a failing encoder before being behind', () => {
      const view = channelView(live({}, { failingSince: NOW - 2_000, realtime: { edgeLagSeconds: 4, speed: 0.5, behind: true, reason: 'behind' } }));
      expect(view.stateReason).toMatch(/^encoder restarted after a failure for 2 s/);
    });
  });

  describe('ladder adjustment', () => {
    it('is absent while the ladder runs as configured', () => {
      const view = channelView(live({ ladderAdjustment: { policy: 'cheaper-preset', baseLadder: base, adjustment: NO_ADJUSTMENT } }));
      expect(view.transcoder).not.toHaveProperty('ladderAdjustment');
    });

    it('shows each remaining rendition\'s preset after the policy\'s steps, and what it dropped', () => {
      const adjustment = { presetSteps: 2, droppedRenditions: ['720p'] };
      const view = channelView(live({ ladderAdjustment: { policy: 'drop-top-rendition', baseLadder: base, adjustment } }));
      expect(view.transcoder.ladderAdjustment).toEqual({ policy: 'drop-top-rendition', presetSteps: 2, presets: { '480p': 'ultrafast', '360p': 'ultrafast' }, droppedRenditions: ['720p'] });
    });

    it('is shown (with no presets) once adjusted even before a ladder is known, and copies the dropped list', () => {
      const dropped = ['720p'];
      const shown = ladderAdjustmentView({ policy: 'drop-top-rendition', baseLadder: undefined, adjustment: { presetSteps: 0, droppedRenditions: dropped } });
      expect(shown).toEqual({ policy: 'drop-top-rendition', presetSteps: 0, presets: {}, droppedRenditions: ['720p'] });
      expect(shown.droppedRenditions).not.toBe(dropped);
    });
  });

  describe('publisher', () => {
    const info: PublisherInfo = {
      channel: 'news',
      protocol: 'rtmp',
      format: 'flv',
      since: '2026-12-05T11:58:00.000Z',
      bytesIn: 123_456,
      lastDataAt: '2026-12-05T11:59:59.000Z',
      bitrateBps: 3_100_000,
      consumers: 1,
    };

    it('shows the protocol, since when and the measured bitrate, leaving out what ingest does not know', () => {
      expect(channelView(live({ publisher: info })).publisher).toEqual({ protocol: 'rtmp', since: '2026-12-05T11:58:00.000Z', bitrate: 3_100_000 });
    });

    it('shows the address, the media, the smoothed timestamp jumps and the audio delay when known, a picture size not yet known as 0', () => {
      const publisher = channelView(
        live({
          publisher: {
            ...info,
            remoteAddress: '10.0.0.7:50122',
            video: { codec: 'h264', frameRate: 29.97 },
            audio: { codec: 'aac', sampleRate: 48_000, channels: 2 },
            timestampJumps: 2,
            audioDelaySeconds: 0.37,
          },
        }),
      ).publisher;
      expect(publisher).toEqual({
        protocol: 'rtmp',
        since: '2026-12-05T11:58:00.000Z',
        bitrate: 3_100_000,
        remoteAddress: '10.0.0.7:50122',
        video: { codec: 'h264', width: 0, height: 0, frameRate: 29.97 },
        audio: { codec: 'aac', sampleRate: 48_000, channels: 2 },
        timestampJumps: 2,
        audioDelaySeconds: 0.37,
      });
    });
  });

  it('shows the inputs of a channel with an inputs block as they are', () => {
    const input: ChannelInputView = {
      active: 'backup',
      failback: 'auto',
      inputs: [],
      switches: 1,
      slateReady: true,
      slateSecondsLeft: 25,
    };
    expect(channelView(live({ input })).input).toBe(input);
    expect(channelView(live())).not.toHaveProperty('input');
  });
});
