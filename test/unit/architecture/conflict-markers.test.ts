import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// A merge once landed README.md with its conflict markers still in it; CI stayed green because
// nothing read the README. git grep over tracked files catches that in any file, not just code.
describe('tracked files', () => {
  it('carry no unresolved merge conflict markers', () => {
    let hits = '';
    try {
      hits = execFileSync('git', ['grep', '-n', '-E', '^(<<<<<<<|>>>>>>>)( |$)', '--', '.'], {
        encoding: 'utf8',
      });
    } catch (error) {
      // git grep exits 1 when nothing matches; anything else is a real failure.
      if ((error as { status?: number }).status !== 1) throw error;
    }
    expect(hits).toBe('');
  });
});
