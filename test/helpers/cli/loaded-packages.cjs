// Preload for a CLI under test (`NODE_OPTIONS=--require <this file>`): when the process exits, writes
// one stderr line `livepipe-test loaded-packages: ["fastify", …]` naming every npm package it loaded
// through CommonJS — which is where CommonJS packages land even when imported from ES modules (the
// AWS SDK, ioredis, fastify…). ES-module-only packages do not appear.
process.on('exit', () => {
  const names = new Set();
  for (const file of Object.keys(require.cache)) {
    const match = /node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)/.exec(file);
    if (match) names.add(match[1].replace(/\\/g, '/'));
  }
  process.stderr.write(`livepipe-test loaded-packages: ${JSON.stringify([...names].sort())}\n`);
});
