#!/usr/bin/env node
// Entry point for `npx livepipe` / the installed bin. The TypeScript sources are compiled to dist/
// by `npm run build` (run by `npm start`, `npm test` and the Docker image).
import { main } from '../dist/cli/main.js';

// `livepipe … | head` closes our stdout early: that is the reader's choice, not an error.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

main(process.argv).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`livepipe: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
