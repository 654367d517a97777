/**
 * Chaos (issue 15, point 5): 1,000 channel creations through the ops API while hls.js plays a live
 * channel. Beyond `maxChannelDefinitions` (default 256, the config-file channel counting) every
 * creation is refused with 409 in the documented `{"error":{code,message}}` shape, ids that differ
 * only in letter case are refused, `/metrics` gains no series for channels that never went live,
 * and the live channel plays on.
 */
import { describe, expect, it } from 'vitest';
import { channelCreations, observeFault, summarize, useChaosStage } from '../../helpers/serve/chaos.js';

const DEFAULT_MAX_DEFINITIONS = 256;

describe('chaos: 1,000 channel creations while hls.js plays', () => {
  const chaos = useChaosStage();

  it('refuses beyond the cap in the error shape, keeps /metrics bounded, and playback goes on', async () => {
    const stage = await chaos.start();
    const figures = await observeFault('channel creations', stage, () => channelCreations(stage.serve, 1000), 2000);
    const d = figures.details;
    console.log(summarize(figures), JSON.stringify(d));

    expect(d.created).toBe(DEFAULT_MAX_DEFINITIONS - 1);
    expect(d.refused).toEqual({ '409 LIMIT_REACHED': 1000 - (DEFAULT_MAX_DEFINITIONS - 1) });
    expect(d.badErrorShapes).toEqual([]);
    expect(d.caseClash).toEqual({ status: 409, code: 'CONFLICT' });
    // Channels that never went live add no series; the text stays about the same size.
    expect(d.channelSeriesAfter).toBe(d.channelSeriesBefore);
    expect(d.metricsBytesAfter).toBeLessThan(d.metricsBytesBefore + 8 * 1024);

    expect(figures.player.fatalErrors).toEqual([]);
    expect(figures.edge.violations).toEqual([]);
    expect(figures.edge.failedPolls).toEqual({});
    expect(figures.player.playedSeconds).toBeGreaterThan(figures.wallSeconds * 0.5);
  });
});
