/**
 * `npm run bench`: runs every benchmark module side by side on this machine, one after the other,
 * and writes the figures to bench/results/latest.json (machine-readable) and latest.md (for people).
 * Each module exports `run(): Promise<Record<string, unknown>>`. Pass names to run a subset:
 * `npm run bench -- origin packager`.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';

const BENCHES = ['transcode', 'quality', 'packager', 'packager-live', 'storage', 'origin', 'latency', 'ingest', 'api', 'restart', 'chaos', 'origin-wakeup', 'onair', 'admission', 'input-switch', 'console', 'failover', 'part-chunks', 'serve-startup'] as const;

interface BenchModule {
  run(): Promise<Record<string, unknown>>;
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const selected = BENCHES.filter((b) => wanted.length === 0 || wanted.includes(b));
  const results: Record<string, unknown> = {};
  const started = new Date();
  for (const name of selected) {
    const url = new URL(`./${name}.bench.ts`, import.meta.url);
    let mod: BenchModule;
    try {
      mod = (await import(url.href)) as BenchModule;
    } catch (err) {
      results[name] = { skipped: `module not available: ${(err as Error).message}` };
      continue;
    }
    process.stderr.write(`bench: ${name}…\n`);
    const t0 = Date.now();
    try {
      results[name] = { ...(await mod.run()), wallSeconds: (Date.now() - t0) / 1000, ranAt: new Date(t0).toISOString() };
    } catch (err) {
      results[name] = { error: (err as Error).stack ?? String(err) };
    }
    process.stderr.write(`bench: ${name} done in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  }
  // A subset run (`npm run bench -- ingest`) updates those entries of the last full report.
  if (wanted.length > 0) {
    try {
      const previous = JSON.parse(await readFile(new URL('./results/latest.json', import.meta.url), 'utf8')) as {
        startedAt: string;
        results: Record<string, Record<string, unknown>>;
      };
      for (const [name, value] of Object.entries(previous.results)) {
        if (!(name in results)) results[name] = { ranAt: previous.startedAt, ...value };
      }
    } catch {
      // no previous report: this subset is the report
    }
  }
  const report = {
    startedAt: started.toISOString(),
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version },
    results,
  };
  const dir = new URL('./results/', import.meta.url);
  await mkdir(dir, { recursive: true });
  await writeFile(new URL('latest.json', dir), JSON.stringify(report, null, 2) + '\n');
  await writeFile(new URL('latest.md', dir), toMarkdown(report));
  process.stdout.write(toMarkdown(report));
}

function toMarkdown(report: { startedAt: string; machine: Record<string, unknown>; results: Record<string, unknown> }): string {
  const lines = [`# livepipe benchmark results`, ``, `Run ${report.startedAt} on ${JSON.stringify(report.machine)}`, ``];
  for (const [name, value] of Object.entries(report.results)) {
    lines.push(`## ${name}`, '', '```json', JSON.stringify(value, null, 2), '```', '');
  }
  return lines.join('\n');
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${(err as Error).stack}\n`);
  process.exitCode = 1;
});
