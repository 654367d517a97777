import type { Command } from 'commander';
import { errorMessage } from '../core/errors.js';
import { createRootLogger } from '../core/logger.js';
import { checkStorage } from '../storage/storage-check.js';
import { createStorage, formatStorageUrl, parseStorageUrl } from '../storage/storage-url.js';

/**
 * `livepipe storage-check <location>`: validates a storage location before going live (URL syntax,
 * reachability, credentials, bucket, read-after-write, conditional GET, list, delete). Prints a JSON
 * report on stdout; exits 1 with the reason on stderr when a step fails.
 */
export function register(program: Command): void {
  program
    .command('storage-check')
    .description('check that a storage location works for livepipe (put, get, conditional get, list, delete)')
    .argument('<location>', 'a directory, file:///dir, or s3://bucket/prefix[?endpoint=…&region=…&forcePathStyle=true]')
    .action(async (location: string) => {
      const logger = createRootLogger({ fd: 2, level: process.env.LIVEPIPE_LOG_LEVEL ?? 'warn' });
      let storage;
      try {
        const config = parseStorageUrl(location);
        storage = createStorage(config, logger);
        await storage.start();
        const report = await checkStorage(storage);
        process.stdout.write(`${JSON.stringify({ location: formatStorageUrl(config), ...report }, null, 2)}\n`);
      } catch (err) {
        process.stderr.write(`livepipe storage-check: ${errorMessage(err)}\n`);
        process.exitCode = 1;
      } finally {
        await storage?.close();
      }
    });
}
