import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { register } from '../../../src/cli/openapi-command.js';
import { API_ROUTES } from '../../../src/api/api-routes.js';

describe('livepipe openapi', () => {
  it('prints the OpenAPI document with every route', async () => {
    const program = new Command('livepipe').exitOverride();
    register(program);
    const chunks: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array) => {
      chunks.push(String(chunk));
      return true;
    }) as typeof process.stdout.write;
    try {
      await program.parseAsync(['node', 'livepipe', 'openapi']);
    } finally {
      process.stdout.write = write;
    }
    const doc = JSON.parse(chunks.join(''));
    expect(doc.openapi).toBe('3.1.0');
    const operations = Object.values(doc.paths as Record<string, Record<string, unknown>>).reduce((n, ops) => n + Object.keys(ops).length, 0);
    expect(operations).toBe(API_ROUTES.length);
  });
});
