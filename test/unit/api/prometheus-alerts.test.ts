import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ClusterMetrics, PlaylistNotificationMetrics } from '../../../src/cluster/cluster-metrics.js';
import { Metrics } from '../../../src/observability/metrics.js';

const RULES_FILE = new URL('../../../docker/prometheus-alerts.yml', import.meta.url);

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

function hasPromtool(): boolean {
  try {
    execFileSync('promtool', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function loadRules(): Rule[] {
  const doc = parseYaml(readFileSync(RULES_FILE, 'utf8')) as { groups: Array<{ name: string; rules: Rule[] }> };
  return doc.groups.flatMap((group) => group.rules);
}

/** Metric names a PromQL expression uses: `livepipe_…` identifiers, histogram suffixes folded to the family. */
function metricFamilies(expr: string): string[] {
  const names = expr.match(/\blivepipe_[a-z0-9_]+/g) ?? [];
  return [...new Set(names.map((name) => name.replace(/_(bucket|sum|count)$/, '')))];
}

describe('docker/prometheus-alerts.yml', () => {
  const rules = loadRules();

  it('has the alerts operators need', () => {
    const names = rules.map((rule) => rule.alert);
    for (const expected of [
      'LivepipeChannelFailed',
      'LivepipeEncoderSlowerThanRealtime',
      'LivepipeTranscoderRestartLoop',
      'LivepipeStorageErrors',
      'LivepipeOrigin5xxRate',
      'LivepipeClusterTakeover',
      'LivepipeClusterLeaseRenewalFailures',
      'LivepipeOriginNotificationsDown',
    ]) {
      expect(names).toContain(expected);
    }
    expect(new Set(names).size).toBe(names.length);
  });

  it('gives every rule an expression, a severity and a summary', () => {
    for (const rule of rules) {
      expect(rule.expr.trim(), rule.alert).not.toBe('');
      expect(['warning', 'critical'], rule.alert).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary, rule.alert).toBeTruthy();
      if (rule.for !== undefined) expect(rule.for, rule.alert).toMatch(/^\d+[smh]$/);
    }
  });

  it('uses only metric families the Metrics registry defines, with their label names', async () => {
    const metrics = new Metrics({ processMetrics: false });
    // Cluster mode's families (leases, playlist notifications) live beside the node's: src/cluster/cluster-metrics.ts.
    new ClusterMetrics(metrics.registry);
    new PlaylistNotificationMetrics(metrics.registry);
    const families = new Map(metrics.registry.getMetricsAsArray().map((metric) => [metric.name, metric as unknown as { labelNames: string[] }]));
    for (const rule of rules) {
      const used = metricFamilies(rule.expr);
      expect(used.length, rule.alert).toBeGreaterThan(0);
      for (const name of used) {
        expect(families.has(name), `${rule.alert} uses ${name}`).toBe(true);
      }
      // Label matchers and by() clauses name labels the families have (le comes with histograms).
      const known = new Set(['le', ...used.flatMap((name) => families.get(name)!.labelNames)]);
      const labelRefs = [
        ...[...rule.expr.matchAll(/([a-z_]+)\s*(?:=~|!~|!=|=)\s*"/g)].map((m) => m[1]!),
        ...[...rule.expr.matchAll(/\bby\s*\(([^)]*)\)/g)].flatMap((m) => m[1]!.split(',').map((s) => s.trim())),
      ];
      for (const label of labelRefs) expect(known.has(label), `${rule.alert} uses label ${label}`).toBe(true);
      for (const match of (rule.annotations?.summary ?? '').matchAll(/\$labels\.([a-z_]+)/g)) {
        expect(known.has(match[1]!), `${rule.alert} summary uses label ${match[1]}`).toBe(true);
      }
    }
  });

  // promtool is optional here (not in the image); when present it checks PromQL syntax for real.
  it.skipIf(!hasPromtool())('passes promtool check rules', () => {
    expect(() => execFileSync('promtool', ['check', 'rules', RULES_FILE.pathname], { stdio: 'pipe' })).not.toThrow();
  });
});
