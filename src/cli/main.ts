import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';

/**
 * The `livepipe` command line. Each command lives in its own `*-command.ts` file that exports a
 * `register(program)` function; this file only assembles them.
 */
type Register = (program: Command) => void;

const commandModules: Array<() => Promise<{ register: Register }>> = [
  // Populated as commands land; keep one line per command file.
  () => import('./storage-check-command.js'),
  () => import('./ladders-command.js'),
  () => import('./transcode-command.js'),
  () => import('./openapi-command.js'),
  () => import('./package-command.js'),
  () => import('./origin-command.js'),
  () => import('./ingest-command.js'),
  () => import('./serve-command.js'),
];

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Every command, registered and not yet parsed (`main` runs it; tests check argument lists with it). */
export async function buildProgram(): Promise<Command> {
  const program = new Command('livepipe')
    .description('Live transcoding and Low-Latency HLS packaging pipeline')
    .version(packageVersion())
    .showHelpAfterError()
    .exitOverride();
  for (const load of commandModules) (await load()).register(program);
  return program;
}

export async function main(argv: string[]): Promise<number | void> {
  const program = await buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    throw err;
  }
}
