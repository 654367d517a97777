import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ShedReporter } from '../../../src/ingest/shed-reporter.js';
import { captureLogs } from '../../helpers/logs/log-capture.js';

describe('ShedReporter', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('counts every shed, warns at once for the first, then once per interval while it goes on, and stops when quiet', () => {
    const logs = captureLogs();
    const counted: string[] = [];
    const reporter = new ShedReporter(logs.logger, 'rtmp', { countIngestConnectionShed: (p, r) => counted.push(`${p}:${r}`) }, 'shed', 10_000);
    const lines = () => logs.entries().filter((e) => e.msg === 'shed').map((e) => e.shed);

    reporter.shed('evicted_address');
    expect(lines()).toEqual([{ evicted_address: 1 }]);
    for (let i = 0; i < 1000; i++) reporter.shed('evicted_address');
    reporter.shed('deadline');
    expect(lines()).toHaveLength(1);
    vi.advanceTimersByTime(10_000);
    expect(lines()).toEqual([{ evicted_address: 1 }, { evicted_address: 1000, deadline: 1 }]);
    // A quiet interval ends the cycle: the next shed is reported at once again.
    vi.advanceTimersByTime(10_000);
    expect(lines()).toHaveLength(2);
    reporter.shed('malformed');
    expect(lines()).toEqual([{ evicted_address: 1 }, { evicted_address: 1000, deadline: 1 }, { malformed: 1 }]);
    reporter.shed('malformed');
    reporter.close();
    expect(lines()).toEqual([{ evicted_address: 1 }, { evicted_address: 1000, deadline: 1 }, { malformed: 1 }, { malformed: 1 }]);
    expect(counted).toHaveLength(1004);
    expect(counted[0]).toBe('rtmp:evicted_address');
    expect(logs.entries().every((e) => e.level === 40)).toBe(true);
  });
});
