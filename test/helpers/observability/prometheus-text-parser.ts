/**
 * A strict parser for the Prometheus text exposition format 0.0.4, for tests: it throws on any line
 * that is not a `# HELP`, a `# TYPE` or a well-formed sample, on samples of undeclared families, and on
 * histograms whose buckets are not cumulative or whose `+Inf` bucket differs from `_count`.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ParsedExposition {
  types: Map<string, string>;
  help: Map<string, string>;
  samples: Sample[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? ([^ ]+)(?: (-?\\d+))?$`);
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(text: string, line: string): number {
  // Prometheus parses values with Go's strconv.ParseFloat: Inf and NaN in any letter case
  // (prom-client writes `Nan` before the event-loop monitor has a sample).
  const lower = text.toLowerCase();
  if (lower === '+inf' || lower === 'inf') return Infinity;
  if (lower === '-inf') return -Infinity;
  if (lower === 'nan') return NaN;
  const value = Number(text);
  if (text.trim() === '' || Number.isNaN(value)) throw new Error(`bad sample value in: ${line}`);
  return value;
}

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let rest = text;
  while (rest.length > 0) {
    const match = LABEL.exec(rest);
    if (match === null) throw new Error(`bad labels in: ${line}`);
    if (match[1]! in labels) throw new Error(`duplicate label ${match[1]} in: ${line}`);
    labels[match[1]!] = match[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    rest = rest.slice(match[0].length);
  }
  return labels;
}

function familyOf(name: string, types: Map<string, string>): string | undefined {
  if (types.has(name)) return name;
  for (const suffix of ['_bucket', '_sum', '_count', '_created']) {
    if (name.endsWith(suffix)) {
      const base = name.slice(0, -suffix.length);
      if (types.get(base) === 'histogram' || types.get(base) === 'summary') return base;
    }
  }
  return undefined;
}

export function parsePrometheusText(text: string): ParsedExposition {
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
      if (meta === null) {
        if (/^# (HELP|TYPE) /.test(line)) throw new Error(`bad metadata line: ${line}`);
        continue; // a plain comment
      }
      if (meta[1] === 'TYPE') {
        if (!TYPES.has(meta[3]!)) throw new Error(`unknown type in: ${line}`);
        if (types.has(meta[2]!)) throw new Error(`family declared twice: ${meta[2]}`);
        types.set(meta[2]!, meta[3]!);
      } else {
        help.set(meta[2]!, meta[3]!);
      }
      continue;
    }
    const match = SAMPLE.exec(line);
    if (match === null) throw new Error(`bad sample line: ${line}`);
    const name = match[1]!;
    if (familyOf(name, types) === undefined) throw new Error(`sample of an undeclared family: ${line}`);
    samples.push({ name, labels: parseLabels(match[2] ?? '', line), value: parseValue(match[3]!, line) });
  }
  checkHistograms(types, samples);
  return { types, help, samples };
}

function checkHistograms(types: Map<string, string>, samples: Sample[]): void {
  for (const [family, type] of types) {
    if (type !== 'histogram') continue;
    const series = new Map<string, { buckets: Array<[number, number]>; count?: number }>();
    const keyOf = (labels: Record<string, string>): string =>
      JSON.stringify(Object.entries(labels).filter(([name]) => name !== 'le').sort());
    for (const sample of samples) {
      if (sample.name === `${family}_bucket`) {
        const entry = series.get(keyOf(sample.labels)) ?? { buckets: [] };
        entry.buckets.push([parseValue(sample.labels.le ?? '', `${family} le`), sample.value]);
        series.set(keyOf(sample.labels), entry);
      } else if (sample.name === `${family}_count`) {
        const entry = series.get(keyOf(sample.labels)) ?? { buckets: [] };
        entry.count = sample.value;
        series.set(keyOf(sample.labels), entry);
      }
    }
    for (const [key, { buckets, count }] of series) {
      for (let i = 1; i < buckets.length; i++) {
        if (buckets[i]![0] <= buckets[i - 1]![0] || buckets[i]![1] < buckets[i - 1]![1]) {
          throw new Error(`${family}${key}: buckets not cumulative`);
        }
      }
      const inf = buckets.at(-1);
      if (inf === undefined || inf[0] !== Infinity || inf[1] !== count) throw new Error(`${family}${key}: +Inf bucket differs from _count`);
    }
  }
}

/** The value of the one sample with this name and exactly these labels (undefined when absent). */
export function sampleValue(parsed: ParsedExposition, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = JSON.stringify(Object.entries(labels).sort());
  return parsed.samples.find((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === wanted)?.value;
}
