import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cruise, type ICruiseResult, type IForbiddenRuleType } from 'dependency-cruiser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The layer rules of `.dependency-cruiser.cjs` (README "Architecture"), checked on the real tree and
 * proven able to fail: each forbidden import below, seeded into a scratch tree, must be reported
 * under the rule that forbids it, and each allowed one must not be.
 */
const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const config = createRequire(import.meta.url)(join(repo, '.dependency-cruiser.cjs')) as {
  forbidden: IForbiddenRuleType[];
};

async function violationsOf(baseDir: string): Promise<string[]> {
  const { output } = await cruise(['src'], {
    baseDir,
    validate: true,
    ruleSet: { forbidden: config.forbidden },
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.d\\.ts$' },
  });
  const result = output as ICruiseResult;
  return result.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`);
}

describe('layering', () => {
  it('src/ keeps every layer rule', async () => {
    expect(await violationsOf(repo)).toEqual([]);
  }, 60_000);

  describe('a seeded import', () => {
    let scratch: string;
    beforeAll(async () => {
      scratch = await mkdtemp(join(tmpdir(), 'livepipe-layers-'));
    });
    afterAll(async () => {
      await rm(scratch, { recursive: true, force: true });
    });

    // [importing layer, imported layer, the rules that must report it (empty: allowed)]
    const cases: Array<[string, string, string]> = [
      ['storage', 'api', 'leaves-on-core-and-observability'],
      ['storage', 'channels', 'leaves-on-core-and-observability'],
      ['hls', 'package', 'leaves-on-core-and-observability'],
      ['mp4', 'hls', 'leaves-on-core-and-observability'],
      ['ladder', 'transcode', 'leaves-on-core-and-observability'],
      ['config', 'ladder', 'leaves-on-core-and-observability'],
      ['storage', 'observability', ''],
      ['hls', 'core', ''],
      ['core', 'observability', 'core-is-the-floor'],
      ['observability', 'channels', 'observability-on-core'],
      ['observability', 'core', ''],
      ['package', 'transcode', 'package-not-transcode'],
      ['package', 'ladder', ''],
      ['package', 'mp4', ''],
      ['transcode', 'package', 'transcode-not-package'],
      ['transcode', 'ladder', ''],
      ['ingest', 'transcode', 'ingest-on-core-and-observability'],
      ['ingest', 'storage', 'ingest-on-core-and-observability'],
      ['ingest', 'observability', ''],
      ['origin', 'transcode', 'origin-reads-storage-and-hls'],
      ['origin', 'ingest', 'origin-reads-storage-and-hls'],
      ['origin', 'package', 'origin-reads-storage-and-hls'],
      ['origin', 'hls', ''],
      ['channels', 'api', 'channels-below-the-faces'],
      ['channels', 'package', ''],
      ['api', 'origin', 'api-below-app'],
      ['api', 'channels', ''],
      ['channels', 'app', 'channels-below-the-faces only-cli-imports-app'],
      ['origin', 'app', 'origin-reads-storage-and-hls only-cli-imports-app'],
      ['app', 'cli', 'nothing-imports-cli'],
      ['cli', 'app', ''],
      ['app', 'origin', ''],
      ['notify', 'channels', 'notify-on-core-and-observability'],
      ['notify', 'config', 'notify-on-core-and-observability'],
      ['notify', 'core', ''],
      ['notify', 'observability', ''],
      ['app', 'notify', ''],
      ['scte35', 'core', ''],
      ['scte35', 'hls', 'leaves-on-core-and-observability'],
      ['scte35', 'ingest', 'leaves-on-core-and-observability'],
      ['ingest', 'scte35', ''],
      ['package', 'scte35', ''],
      ['transcode', 'scte35', 'transcode-not-package'],
      ['origin', 'scte35', 'origin-reads-storage-and-hls'],
      ['cluster', 'storage', ''],
      ['cluster', 'hls', ''],
      ['cluster', 'channels', 'cluster-beside-channels'],
      ['cluster', 'package', 'cluster-beside-channels'],
      ['cluster', 'notify', 'cluster-beside-channels'],
      ['cluster', 'origin', 'cluster-beside-channels'],
      ['channels', 'cluster', 'only-faces-and-app-import-cluster'],
      ['package', 'cluster', 'package-not-transcode only-faces-and-app-import-cluster'],
      ['notify', 'cluster', 'notify-on-core-and-observability only-faces-and-app-import-cluster'],
      ['origin', 'cluster', ''],
      ['app', 'cluster', ''],
      ['origin', 'cluster', ''],
      ['app', 'cluster', ''],
    ];

    it.each(cases)('%s → %s is reported by [%s]', async (from, to, rules) => {
      const base = join(scratch, `${from}-${to}`);
      await mkdir(join(base, 'src', from), { recursive: true });
      await mkdir(join(base, 'src', to), { recursive: true });
      await writeFile(join(base, 'src', to, 'target.ts'), 'export const target = 1;\n');
      await writeFile(join(base, 'src', from, 'source.ts'), `import { target } from '../${to}/target.js';\nexport const source = target;\n`);
      const found = await violationsOf(base);
      const expected = rules === '' ? [] : rules.split(' ').map((rule) => `${rule}: src/${from}/source.ts → src/${to}/target.ts`);
      expect(found.sort()).toEqual(expected.sort());
    });

    it('a cycle is reported', async () => {
      const base = join(scratch, 'cycle');
      await mkdir(join(base, 'src', 'package'), { recursive: true });
      await writeFile(join(base, 'src', 'package', 'a.ts'), "import { b } from './b.js';\nexport const a = () => b;\n");
      await writeFile(join(base, 'src', 'package', 'b.ts'), "import { a } from './a.js';\nexport const b = () => a;\n");
      const found = await violationsOf(base);
      expect(found.filter((v) => v.startsWith('no-circular:')).length).toBeGreaterThan(0);
      expect(found.every((v) => v.startsWith('no-circular:'))).toBe(true);
    });
  });
});
