import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { buildOpenApiDocument } from '../api/openapi-document.js';

/**
 * `livepipe openapi`: prints the ops API's OpenAPI 3.1 document (the one `GET /api/v1/openapi.json`
 * serves) without starting anything, for client generators and API gateways.
 */
export function register(program: Command): void {
  program
    .command('openapi')
    .description('print the ops API OpenAPI 3.1 document (JSON) on stdout')
    .action(() => {
      const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
      process.stdout.write(`${JSON.stringify(buildOpenApiDocument(pkg.version), null, 2)}\n`);
    });
}
