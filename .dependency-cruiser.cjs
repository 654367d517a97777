/**
 * livepipe's layers, bottom to top (../shared/STYLE.md; the README's "Architecture" section):
 *
 *   core, observability            errors, logger, ids, clock, event bus; metrics registry and ports
 *   notify                         webhooks: a bus subscriber that calls out; on the floor only
 *   config · storage · hls · mp4 · ladder · scte35   leaves: depend only on the row above
 *   ingest · transcode · package   the data path; transcode and package meet only through ladder's run contract
 *   channels · cluster             one channel = feed → supervisor → packager; cluster: writer leases, the write gate,
 *                                  playlist notifications in Redis (beside channels; only origin, api, app and cli import it)
 *   origin · api                   HTTP faces; origin reads storage and hls, never transcode or ingest
 *   app, then cli                  builders and the component runner; cli only parses flags
 *
 * Each rule below forbids the imports that would break that picture. `npm test` runs them
 * (test/unit/architecture/layers.test.ts), and `npm run lint:layers` prints any violation.
 */
const layer = (...names) => `^src/(${names.join('|')})/`;

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A cycle makes two modules one: neither can be read, tested or changed alone.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'core-is-the-floor',
      severity: 'error',
      comment: 'core imports nothing else of livepipe.',
      from: { path: layer('core') },
      to: { path: '^src/', pathNot: layer('core') },
    },
    {
      name: 'observability-on-core',
      severity: 'error',
      comment: 'observability (the metrics registry and its ports) depends on core only.',
      from: { path: layer('observability') },
      to: { path: '^src/', pathNot: layer('core', 'observability') },
    },
    {
      name: 'notify-on-core-and-observability',
      severity: 'error',
      comment: 'notify (webhooks) subscribes to the bus and calls out over HTTP; it knows no layer that emits the events.',
      from: { path: layer('notify') },
      to: { path: '^src/', pathNot: layer('core', 'observability', 'notify') },
    },
    {
      name: 'leaves-on-core-and-observability',
      severity: 'error',
      comment: 'config, storage, hls, mp4, ladder and scte35 are leaves: they depend only on core and observability (and themselves).',
      from: { path: layer('config', 'storage', 'hls', 'mp4', 'ladder', 'scte35') },
      to: { path: '^src/', pathNot: [layer('core', 'observability'), '^src/$1/'] },
    },
    {
      name: 'ingest-on-core-and-observability',
      severity: 'error',
      comment:
        'ingest hands out feeds (and the SCTE-35 cues found in them); it knows nothing of what consumes them. ' +
        'It may use the media leaf mp4 for codec bytes it shares with the packager (silent AAC frames).',
      from: { path: layer('ingest') },
      to: { path: '^src/', pathNot: layer('core', 'observability', 'scte35', 'mp4', 'ingest') },
    },
    {
      name: 'transcode-not-package',
      severity: 'error',
      comment: 'transcode produces the run contract (ladder/run-contract.ts); it never imports the packager or other stages.',
      from: { path: layer('transcode') },
      to: { path: '^src/', pathNot: layer('core', 'observability', 'ladder', 'transcode') },
    },
    {
      name: 'package-not-transcode',
      severity: 'error',
      comment: 'package consumes the run contract (ladder/run-contract.ts); it never imports the transcoder.',
      from: { path: layer('package') },
      to: { path: '^src/', pathNot: layer('core', 'observability', 'storage', 'hls', 'mp4', 'ladder', 'scte35', 'package') },
    },
    {
      name: 'channels-below-the-faces',
      severity: 'error',
      comment: 'channels compose the data path; the HTTP faces and the app sit above them.',
      from: { path: layer('channels') },
      to: { path: layer('origin', 'api', 'app', 'cli') },
    },
    {
      name: 'cluster-beside-channels',
      comment:
        'cluster (Redis: leases, the write gate, playlist notifications) sits beside channels: it knows storage, config, hls and the bottom rows, never the data path, channels or the faces; channels declare the ports cluster implements.',
      severity: 'error',
      from: { path: layer('cluster') },
      to: { path: '^src/', pathNot: layer('core', 'observability', 'config', 'storage', 'hls', 'cluster') },
    },
    {
      name: 'only-faces-and-app-import-cluster',
      severity: 'error',
      comment: 'Nothing below the faces knows of Redis: channels declare ports (channels/channel.ts) and the app plugs the cluster in; only origin, api, app and cli import it.',
      from: { path: '^src/', pathNot: layer('cluster', 'origin', 'api', 'app', 'cli') },
      to: { path: layer('cluster') },
    },
    {
      name: 'origin-reads-storage-and-hls',
      severity: 'error',
      comment: 'The origin serves what storage holds and the playlist model says (woken by cluster notifications); never transcode, ingest, package or channels.',
      from: { path: layer('origin') },
      to: { path: '^src/', pathNot: layer('core', 'observability', 'storage', 'hls', 'cluster', 'origin') },
    },
    {
      name: 'api-below-app',
      severity: 'error',
      comment: 'The ops API is a face over channels; it does not reach the origin, the app or the CLI.',
      from: { path: layer('api') },
      to: { path: layer('origin', 'app', 'cli', 'ingest', 'transcode', 'package') },
    },
    {
      name: 'only-cli-imports-app',
      severity: 'error',
      comment: 'app builds everything; only the CLI (and nothing below) uses it.',
      from: { path: '^src/', pathNot: layer('app', 'cli') },
      to: { path: layer('app') },
    },
    {
      name: 'nothing-imports-cli',
      severity: 'error',
      comment: 'cli only parses flags; nothing in src depends on it.',
      from: { path: '^src/', pathNot: layer('cli') },
      to: { path: layer('cli') },
    },
  ],
  options: {
    // Unresolvable imports are the type checker's to catch (npm test runs tsc first).
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.d\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
