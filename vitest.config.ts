import { defineConfig } from 'vitest/config';

// Integration and e2e tests run real ffmpeg, real servers and Chromium on small (2-core) machines:
// they get generous timeouts and run files one at a time so encoders do not starve each other.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    fileParallelism: false,
    pool: 'forks',
    reporters: ['default'],
  },
});
