import { pathToFileURL } from 'node:url';

/**
 * Runs a benchmark module's `run` when the module is the program (`npx tsx bench/<name>.bench.ts`)
 * rather than imported by bench/run.ts: prints its result as JSON on stdout; a failure prints its
 * stack on stderr and sets the exit code. Call it last in the module: `runIfMain(import.meta.url, run)`.
 */
export function runIfMain(moduleUrl: string, run: () => Promise<unknown>): void {
  const entry = process.argv[1];
  if (entry === undefined || moduleUrl !== pathToFileURL(entry).href) return;
  run().then(
    (result) => {
      if (result !== undefined) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
