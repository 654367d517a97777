import { register as globalRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { Metrics, PART_LATENCY_BUCKETS, QUIET_SERIES_TTL_MS, timeStorageOperation } from '../../../src/observability/metrics.js';
import { parsePrometheusText, sampleValue, type ParsedExposition } from '../../helpers/observability/prometheus-text-parser.js';

async function scrape(metrics: Metrics): Promise<ParsedExposition> {
  const { body, contentType } = await metrics.render();
  expect(contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
  return parsePrometheusText(body);
}

describe('Metrics', () => {
  it('exposes valid Prometheus text with process metrics and every livepipe family typed', async () => {
    const parsed = await scrape(new Metrics());
    expect(parsed.types.get('process_cpu_seconds_total')).toBe('counter');
    expect(parsed.types.get('process_resident_memory_bytes')).toBe('gauge');
    expect(parsed.types.get('nodejs_heap_size_used_bytes')).toBe('gauge');
    expect(Object.fromEntries([...parsed.types].filter(([name]) => name.startsWith('livepipe_')))).toEqual({
      livepipe_ingest_bitrate_bits_per_second: 'gauge',
      livepipe_ingest_audio_delay_seconds: 'gauge',
      livepipe_ingest_connections_shed_total: 'counter',
      livepipe_encoder_fps: 'gauge',
      livepipe_encoder_speed_ratio: 'gauge',
      livepipe_transcoder_restarts_total: 'counter',
      livepipe_transcoder_crash_looping: 'gauge',
      livepipe_channel_edge_lag_seconds: 'gauge',
      livepipe_channel_behind: 'gauge',
      livepipe_channel_ladder_adjustment: 'gauge',
      livepipe_admission_refusals_total: 'counter',
      livepipe_node_capacity_cores: 'gauge',
      livepipe_node_capacity_used_cores: 'gauge',
      livepipe_channel_active_input: 'gauge',
      livepipe_channel_input_healthy: 'gauge',
      livepipe_channel_input_switches_total: 'counter',
      livepipe_parts_total: 'counter',
      livepipe_segments_total: 'counter',
      livepipe_part_latency_seconds: 'histogram',
      livepipe_storage_operation_duration_seconds: 'histogram',
      livepipe_storage_errors_total: 'counter',
      livepipe_origin_requests_total: 'counter',
      livepipe_origin_held_requests: 'gauge',
      livepipe_origin_cache_hits_total: 'counter',
      livepipe_origin_cache_misses_total: 'counter',
      livepipe_channel_state: 'gauge',
      livepipe_channels: 'gauge',
      livepipe_webhook_deliveries_total: 'counter',
      livepipe_webhook_queue_depth: 'gauge',
      livepipe_upload_queued_objects: 'gauge',
      livepipe_upload_queued_bytes: 'gauge',
    });
    for (const name of parsed.types.keys()) expect(parsed.help.get(name), name).toBeTruthy();
  });

  it('uses its own registry, never the global default one', () => {
    const before = globalRegistry.getMetricsAsArray().length;
    const a = new Metrics();
    const b = new Metrics();
    expect(globalRegistry.getMetricsAsArray().length).toBe(before);
    expect(a.registry).not.toBe(b.registry);
  });

  it('moves every family when the update methods are called', async () => {
    const m = new Metrics({ processMetrics: false });
    const ch = { channel: 'news' };
    const r720 = { channel: 'news', rendition: '720p' };
    m.setIngestBitrate('news', 4_500_000);
    m.setIngestAudioDelay('news', 0.37);
    m.countIngestConnectionShed('rtmp', 'evicted_address');
    m.countIngestConnectionShed('rtmp', 'evicted_address');
    m.countIngestConnectionShed('srt', 'auth_failed');
    m.countIngestConnectionShed('rtmp', 'not-a-reason'); // dropped: the label set is fixed
    m.setEncoderProgress('news', { fps: 29.97, speed: 1.02 });
    m.setEncoderProgress('news', { speed: 0.9 });
    m.countTranscoderRestart('news');
    m.countTranscoderRestart('news');
    m.setTranscoderCrashLooping('news', true);
    m.setTranscoderCrashLooping('sport', true);
    m.setTranscoderCrashLooping('sport', false);
    m.countPart('news', '720p');
    m.countPart('news', '720p');
    m.countPart('news', '720p');
    m.countSegment('news', '720p');
    m.observePartLatency('news', '720p', 0.42);
    m.observePartLatency('news', '720p', 6);
    m.observeStorageOperation('put', 0.003, true);
    m.observeStorageOperation('delete', 0.2, false);
    m.countOriginRequest('blocking_playlist', 200);
    m.countOriginRequest('blocking_playlist', 200);
    m.countOriginRequest('part', 503);
    const release = m.trackHeldRequest();
    m.trackHeldRequest();
    release();
    release(); // idempotent
    m.countCacheHit();
    m.countCacheHit();
    m.countCacheMiss();
    m.setChannelState('news', 'live');
    m.setChannelState('sport', 'failed');
    m.setChannelState('music', 'live');
    m.setChannelRealtime('news', { edgeLagSeconds: 4.5, behind: true });
    m.setChannelRealtime('music', { edgeLagSeconds: 0.4, behind: false });
    m.setChannelRealtime('music', { edgeLagSeconds: undefined, behind: false }); // run ended: series gone
    m.setChannelLadderAdjustment('news', { presetSteps: 2, droppedRenditions: 0 });
    m.countAdmissionRefusal('over-capacity');
    m.countAdmissionRefusal('not-a-reason'); // dropped: the label set is fixed
    m.trackNodeCapacity(() => ({ capacityCores: 1.8, usedCores: 1.56 }));

    const p = await scrape(m);
    expect(sampleValue(p, 'livepipe_channel_edge_lag_seconds', ch)).toBe(4.5);
    expect(sampleValue(p, 'livepipe_channel_behind', ch)).toBe(1);
    expect(sampleValue(p, 'livepipe_channel_edge_lag_seconds', { channel: 'music' })).toBeUndefined();
    expect(sampleValue(p, 'livepipe_channel_ladder_adjustment', { ...ch, adjustment: 'preset_steps' })).toBe(2);
    expect(sampleValue(p, 'livepipe_channel_ladder_adjustment', { ...ch, adjustment: 'dropped_renditions' })).toBe(0);
    expect(sampleValue(p, 'livepipe_admission_refusals_total', { reason: 'over-capacity' })).toBe(1);
    expect(sampleValue(p, 'livepipe_admission_refusals_total', { reason: 'node-behind' })).toBe(0);
    expect(sampleValue(p, 'livepipe_admission_refusals_total', { reason: 'not-a-reason' })).toBeUndefined();
    expect(sampleValue(p, 'livepipe_node_capacity_cores', {})).toBe(1.8);
    expect(sampleValue(p, 'livepipe_node_capacity_used_cores', {})).toBe(1.56);
    expect(sampleValue(p, 'livepipe_ingest_bitrate_bits_per_second', ch)).toBe(4_500_000);
    expect(sampleValue(p, 'livepipe_ingest_audio_delay_seconds', ch)).toBe(0.37);
    expect(sampleValue(p, 'livepipe_ingest_connections_shed_total', { protocol: 'rtmp', reason: 'evicted_address' })).toBe(2);
    expect(sampleValue(p, 'livepipe_ingest_connections_shed_total', { protocol: 'srt', reason: 'auth_failed' })).toBe(1);
    expect(sampleValue(p, 'livepipe_ingest_connections_shed_total', { protocol: 'rtmp', reason: 'not-a-reason' })).toBeUndefined();
    expect(sampleValue(p, 'livepipe_encoder_fps', ch)).toBe(29.97);
    expect(sampleValue(p, 'livepipe_encoder_speed_ratio', ch)).toBe(0.9);
    expect(sampleValue(p, 'livepipe_transcoder_restarts_total', ch)).toBe(2);
    expect(sampleValue(p, 'livepipe_transcoder_crash_looping', ch)).toBe(1);
    expect(sampleValue(p, 'livepipe_transcoder_crash_looping', { channel: 'sport' })).toBe(0);
    expect(sampleValue(p, 'livepipe_parts_total', r720)).toBe(3);
    expect(sampleValue(p, 'livepipe_segments_total', r720)).toBe(1);
    expect(sampleValue(p, 'livepipe_part_latency_seconds_count', r720)).toBe(2);
    expect(sampleValue(p, 'livepipe_part_latency_seconds_sum', r720)).toBeCloseTo(6.42);
    expect(sampleValue(p, 'livepipe_part_latency_seconds_bucket', { ...r720, le: '0.5' })).toBe(1);
    expect(sampleValue(p, 'livepipe_part_latency_seconds_bucket', { ...r720, le: '5' })).toBe(1);
    expect(sampleValue(p, 'livepipe_part_latency_seconds_bucket', { ...r720, le: '+Inf' })).toBe(2);
    expect(sampleValue(p, 'livepipe_storage_operation_duration_seconds_count', { operation: 'put' })).toBe(1);
    expect(sampleValue(p, 'livepipe_storage_operation_duration_seconds_count', { operation: 'delete' })).toBe(1);
    expect(sampleValue(p, 'livepipe_storage_errors_total', { operation: 'delete' })).toBe(1);
    expect(sampleValue(p, 'livepipe_storage_errors_total', { operation: 'put' })).toBe(0);
    expect(sampleValue(p, 'livepipe_origin_requests_total', { class: 'blocking_playlist', status: '200' })).toBe(2);
    expect(sampleValue(p, 'livepipe_origin_requests_total', { class: 'part', status: '503' })).toBe(1);
    expect(sampleValue(p, 'livepipe_origin_held_requests')).toBe(1);
    expect(sampleValue(p, 'livepipe_origin_cache_hits_total')).toBe(2);
    expect(sampleValue(p, 'livepipe_origin_cache_misses_total')).toBe(1);
    expect(sampleValue(p, 'livepipe_channel_state', { channel: 'news', state: 'live' })).toBe(1);
    expect(sampleValue(p, 'livepipe_channel_state', { channel: 'news', state: 'idle' })).toBe(0);
    expect(sampleValue(p, 'livepipe_channels', { state: 'live' })).toBe(2);
    expect(sampleValue(p, 'livepipe_channels', { state: 'failed' })).toBe(1);
    expect(sampleValue(p, 'livepipe_channels', { state: 'idle' })).toBe(0);
  });

  it('reads the upload backlog and counts webhook deliveries at scrape time', async () => {
    const metrics = new Metrics({ processMetrics: false });
    let backlog = { objects: 0, bytes: 0 };
    expect(sampleValue(await scrape(metrics), 'livepipe_upload_queued_objects')).toBe(0);
    metrics.trackUploadBacklog(() => backlog);
    backlog = { objects: 4, bytes: 123_456 };
    metrics.countWebhookDelivery('delivered');
    metrics.countWebhookDelivery('dropped');
    metrics.countWebhookDelivery('dropped');
    metrics.countWebhookDelivery('bogus' as never);
    metrics.setWebhookQueueDepth(7);
    const parsed = await scrape(metrics);
    expect(sampleValue(parsed, 'livepipe_upload_queued_objects')).toBe(4);
    expect(sampleValue(parsed, 'livepipe_upload_queued_bytes')).toBe(123_456);
    expect(sampleValue(parsed, 'livepipe_webhook_deliveries_total', { outcome: 'delivered' })).toBe(1);
    expect(sampleValue(parsed, 'livepipe_webhook_deliveries_total', { outcome: 'dropped' })).toBe(2);
    expect(sampleValue(parsed, 'livepipe_webhook_deliveries_total', { outcome: 'failed' })).toBe(0);
    expect(sampleValue(parsed, 'livepipe_webhook_deliveries_total', { outcome: 'bogus' })).toBeUndefined();
    expect(sampleValue(parsed, 'livepipe_webhook_queue_depth')).toBe(7);
  });

  it('uses part-latency buckets suited to 0.1–5 s', () => {
    expect(PART_LATENCY_BUCKETS[0]).toBe(0.1);
    expect(PART_LATENCY_BUCKETS).toContain(5);
    expect(PART_LATENCY_BUCKETS.filter((b) => b >= 0.1 && b <= 5).length).toBeGreaterThanOrEqual(8);
  });

  it('removes every series of a removed channel and keeps the others', async () => {
    const m = new Metrics({ processMetrics: false });
    for (const channel of ['news', 'sport']) {
      m.setIngestBitrate(channel, 1);
      m.setEncoderProgress(channel, { fps: 30, speed: 1 });
      m.countTranscoderRestart(channel);
      m.setTranscoderCrashLooping(channel, true);
      m.countPart(channel, '720p');
      m.countSegment(channel, 'audio');
      m.observePartLatency(channel, '720p', 1);
      m.setChannelState(channel, 'live');
    }
    m.removeChannel('news');
    const p = await scrape(m);
    expect(p.samples.filter((s) => s.labels.channel === 'news')).toEqual([]);
    expect(p.samples.filter((s) => s.labels.channel === 'sport').length).toBeGreaterThan(10);
    expect(p.samples.filter((s) => s.labels.channel === 'sport' && s.name === 'livepipe_encoder_fps')).toHaveLength(1);
    expect(sampleValue(p, 'livepipe_channels', { state: 'live' })).toBe(1);
  });

  it('bounds label values: invalid ids are dropped, unknown classes and statuses fold', async () => {
    const m = new Metrics({ processMetrics: false });
    m.countPart('../etc', '720p');
    m.countPart('news', 'x'.repeat(100));
    m.setIngestBitrate('bad id', 1);
    m.setChannelState('news', 'bogus' as never);
    m.countOriginRequest('bogus' as never, 999);
    m.observePartLatency('news', '720p', Number.NaN);
    const p = await scrape(m);
    expect(p.samples.filter((s) => s.labels.channel !== undefined)).toEqual([]);
    expect(sampleValue(p, 'livepipe_origin_requests_total', { class: 'other', status: 'other' })).toBe(1);
  });

  it('times storage calls, counting failures and rethrowing them', async () => {
    const m = new Metrics({ processMetrics: false });
    expect(await timeStorageOperation(m, 'get', async () => 'value')).toBe('value');
    await expect(timeStorageOperation(m, 'put', async () => Promise.reject(new Error('disk full')))).rejects.toThrow('disk full');
    const p = await scrape(m);
    expect(sampleValue(p, 'livepipe_storage_operation_duration_seconds_count', { operation: 'get' })).toBe(1);
    expect(sampleValue(p, 'livepipe_storage_operation_duration_seconds_count', { operation: 'put' })).toBe(1);
    expect(sampleValue(p, 'livepipe_storage_errors_total', { operation: 'put' })).toBe(1);
    expect(sampleValue(p, 'livepipe_storage_errors_total', { operation: 'get' })).toBe(0);
  });
});

describe('parsePrometheusText (the test parser itself)', () => {
  it.each([
    ['garbage line', 'not a metric line at all!'],
    ['undeclared family', 'foo_total 1'],
    ['bad value', '# TYPE foo gauge\nfoo abc'],
    ['bad labels', '# TYPE foo gauge\nfoo{a=b} 1'],
    ['non-cumulative histogram', '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_count 1\nh_sum 1'],
  ])('rejects %s', (_name, text) => {
    expect(() => parsePrometheusText(text)).toThrow();
  });
});

describe('Metrics: only channels live now or recently have series', () => {
  const TTL = 60_000;
  function clocked(): { m: Metrics; advance(ms: number): void } {
    let now = 1_000_000;
    const m = new Metrics({ processMetrics: false, quietSeriesTtlMs: TTL, now: () => now });
    return { m, advance: (ms) => (now += ms) };
  }
  function goLive(m: Metrics, channel: string): void {
    m.setChannelState(channel, 'live');
    m.setIngestBitrate(channel, 2_000_000);
    m.setEncoderProgress(channel, { fps: 30, speed: 1 });
    m.countTranscoderRestart(channel);
    m.countPart(channel, '720p');
    m.countSegment(channel, '720p');
    m.observePartLatency(channel, '720p', 0.5);
  }
  const channelsIn = (p: ParsedExposition): string[] => [...new Set(p.samples.flatMap((s) => (s.labels.channel !== undefined ? [s.labels.channel] : [])))].sort();

  it('keeps quiet channels 10 minutes by default', () => {
    expect(QUIET_SERIES_TTL_MS).toBe(600_000);
  });

  it('gives a defined channel that never went live no series, but counts it by state', async () => {
    const { m } = clocked();
    for (let i = 0; i < 1000; i++) m.setChannelState(`idle-${i}`, 'idle');
    m.setChannelState('stopped-one', 'stopped');
    goLive(m, 'news');
    const p = await scrape(m);
    expect(channelsIn(p)).toEqual(['news']);
    expect(sampleValue(p, 'livepipe_channels', { state: 'idle' })).toBe(1000);
    expect(sampleValue(p, 'livepipe_channels', { state: 'stopped' })).toBe(1);
    expect(sampleValue(p, 'livepipe_channels', { state: 'live' })).toBe(1);
  });

  it.each([
    ['idle', true],
    ['stopped', true],
    ['reconnecting', false],
    ['failed', false],
    ['live', false],
  ] as const)('a channel that went %s after being live loses every series after the TTL: %s', async (state, expires) => {
    const { m, advance } = clocked();
    goLive(m, 'news');
    goLive(m, 'sport');
    m.setChannelState('news', state);
    // Just before the TTL its final values are still scraped, the state gauge showing the new state.
    advance(TTL - 1);
    let p = await scrape(m);
    expect(channelsIn(p)).toEqual(['news', 'sport']);
    expect(sampleValue(p, 'livepipe_channel_state', { channel: 'news', state })).toBe(1);
    advance(1);
    p = await scrape(m);
    expect(channelsIn(p)).toEqual(expires ? ['sport'] : ['news', 'sport']);
    expect(p.samples.filter((s) => s.labels.channel === 'sport').length).toBeGreaterThan(10);
    expect(sampleValue(p, 'livepipe_channels', { state })).toBe(state === 'live' ? 2 : 1);
  });

  it('counts the TTL from when the channel turned quiet, not from its last series update', async () => {
    const { m, advance } = clocked();
    goLive(m, 'news');
    m.setChannelState('news', 'idle');
    advance(TTL / 2);
    // The packager's last part lands after the stream ended.
    m.countPart('news', '720p');
    advance(TTL / 2);
    expect(channelsIn(await scrape(m))).toEqual([]);
  });

  it('gives a channel its series back when it goes live again, counters from zero', async () => {
    const { m, advance } = clocked();
    goLive(m, 'news');
    m.setChannelState('news', 'idle');
    advance(TTL);
    expect(channelsIn(await scrape(m))).toEqual([]);
    m.setChannelState('news', 'idle');
    expect(channelsIn(await scrape(m))).toEqual([]);
    goLive(m, 'news');
    const p = await scrape(m);
    expect(channelsIn(p)).toEqual(['news']);
    expect(sampleValue(p, 'livepipe_parts_total', { channel: 'news', rendition: '720p' })).toBe(1);
  });

  it('a channel live again before the TTL keeps its series', async () => {
    const { m, advance } = clocked();
    goLive(m, 'news');
    m.setChannelState('news', 'idle');
    advance(TTL - 10);
    m.setChannelState('news', 'live');
    advance(TTL * 5);
    expect(channelsIn(await scrape(m))).toEqual(['news']);
  });
});
