/**
 * Reading the deployment files under docker/ (compose, Prometheus, Grafana provisioning, the
 * Kubernetes manifests) the way the deploy tests check them against the code: YAML as plain data,
 * and a container's command line through livepipe's real CLI without running anything.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { buildProgram } from '../../../src/cli/main.js';

/** One YAML file (`dir`/`file`) as plain data. */
export async function readYamlFile<T>(dir: string, file: string): Promise<T> {
  return parseYaml(await readFile(join(dir, file), 'utf8')) as T;
}

/** Every document of a multi-document YAML file (`---`-separated manifests), as plain data. */
export async function readYamlDocuments<T>(dir: string, file: string): Promise<T[]> {
  return parseAllDocuments(await readFile(join(dir, file), 'utf8')).map((d) => d.toJS() as T);
}

/**
 * Parses `args` (a container's `command`/`args`, without the `livepipe` binary) with livepipe's real
 * command line, running nothing: which command it selects and its parsed options. Throws when no
 * command would run; an unknown flag or a missing value fails as it would for the binary.
 */
export async function parseLivepipeArgs(args: string[]): Promise<{ command: string; options: Record<string, unknown> }> {
  const program = await buildProgram();
  let parsed: { command: string; options: Record<string, unknown> } | undefined;
  for (const command of program.commands) {
    command.action((options: Record<string, unknown>) => {
      parsed = { command: command.name(), options };
    });
  }
  program.configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  await program.parseAsync(args, { from: 'user' });
  if (parsed === undefined) throw new Error(`no command ran for ${args.join(' ')}`);
  return parsed;
}
