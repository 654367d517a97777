/**
 * docker/compose.yaml, the Prometheus config and the Grafana provisioning against the code they run,
 * without a Docker engine: livepipe's command line goes through the real CLI, its config file through
 * the real config schema, every dashboard query must name metrics (and labels) a real `Metrics`
 * registry exports, and ports, mounts, scrape targets and datasources must meet up.
 */
import { existsSync, statSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MIN_TOKEN_LENGTH } from '../../../src/api/bearer-auth.js';
import { API_ROUTES } from '../../../src/api/api-routes.js';
import { configOverridesOf, type ServeFlags } from '../../../src/cli/serve-command.js';
import { loadServiceConfig, type ServiceConfig } from '../../../src/config/service-config.js';
import { Metrics } from '../../../src/observability/metrics.js';
import { parseStorageUrl } from '../../../src/storage/storage-url.js';
import { parseLivepipeArgs, readYamlFile } from '../../helpers/deploy/deploy-files.js';

const DIR = 'docker';
const SERVICES = ['grafana', 'livepipe', 'livepipe-2', 'minio', 'minio-init', 'prometheus', 'redis'];
/** The SDK's own variables livepipe leaves to it (credentials, region, endpoint). */
const AWS_SDK_ENV = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_REGION', 'AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_S3'];

type Service = {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }> | string[];
  ports?: string[];
  volumes?: string[];
};
type Compose = { services: Record<string, Service>; volumes: Record<string, unknown> };

const yamlOf = <T>(file: string): Promise<T> => readYamlFile<T>(DIR, file);
const compose = () => yamlOf<Compose>('compose.yaml');

/** `127.0.0.1:9000-9003:9000-9003/udp` → one entry per port: host ip, host port, container port, protocol. */
function publishedPorts(service: Service): Array<{ ip: string; host: number; container: number; protocol: 'tcp' | 'udp' }> {
  return (service.ports ?? []).flatMap((spec) => {
    const [mapping, protocol = 'tcp'] = spec.split('/') as [string, 'tcp' | 'udp' | undefined];
    const [ip, host, container] = mapping.split(':') as [string, string, string];
    const range = (r: string) => {
      const [from, to = from] = r.split('-').map(Number) as [number, number?];
      return Array.from({ length: to - from + 1 }, (_, i) => from + i);
    };
    const hosts = range(host);
    return range(container).map((c, i) => ({ ip, host: hosts[i]!, container: c, protocol: protocol as 'tcp' | 'udp' }));
  });
}

/** Bind mounts (`./x:/y[:ro]`) as [source on disk, target in the container]; named volumes are left out. */
function bindMounts(service: Service): Array<[string, string]> {
  return (service.volumes ?? [])
    .filter((v) => v.startsWith('./') || v.startsWith('../'))
    .map((v) => {
      const [source, target] = v.split(':') as [string, string];
      return [join(DIR, source), target];
    });
}

/** Where a container path comes from on disk, through the service's bind mounts. */
function hostPathOf(service: Service, containerPath: string): string | undefined {
  for (const [source, target] of bindMounts(service)) {
    if (containerPath === target) return source;
    if (containerPath.startsWith(`${target}/`)) return join(source, containerPath.slice(target.length + 1));
  }
  return undefined;
}

/** `${NAME:-default}` → default (what compose uses when NAME is unset). */
const interpolateDefaults = (value: string) => value.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1');

/** livepipe's service config as the compose file runs it: its flags, mounted config file and literal env. */
async function livepipeConfig(): Promise<{ config: ServiceConfig; flags: ServeFlags; env: Record<string, string> }> {
  const service = (await compose()).services.livepipe!;
  const { command, options } = await parseLivepipeArgs(service.command!);
  expect(command).toBe('serve');
  const flags = options as unknown as ServeFlags;
  const file = hostPathOf(service, flags.config!);
  expect(file, 'the --config file is bind-mounted').toBeDefined();
  const env = Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, interpolateDefaults(String(v))]));
  return { config: await loadServiceConfig(file, env, configOverridesOf(flags)), flags, env };
}

describe('docker/compose.yaml', () => {
  it('runs livepipe, an S3-compatible server, Prometheus and Grafana, each depending only on services that exist', async () => {
    const { services, volumes } = await compose();
    expect(Object.keys(services).sort()).toEqual(SERVICES);
    for (const [name, service] of Object.entries(services)) {
      expect(service.image ?? service.build, name).toBeDefined();
      const deps = Array.isArray(service.depends_on) ? service.depends_on : Object.keys(service.depends_on ?? {});
      for (const dep of deps) expect(SERVICES, `${name} depends on ${dep}`).toContain(dep);
      for (const v of service.volumes ?? []) {
        const source = v.split(':')[0]!;
        if (!source.startsWith('.')) expect(Object.keys(volumes), `${name}: volume ${source}`).toContain(source);
      }
    }
    const livepipeDeps = services.livepipe!.depends_on as Record<string, { condition: string }>;
    expect(livepipeDeps.minio?.condition).toBe('service_healthy');
    expect(livepipeDeps['minio-init']?.condition).toBe('service_completed_successfully');
    expect(services.prometheus!.depends_on).toContain('livepipe');
    expect(services.grafana!.depends_on).toContain('prometheus');
  });

  it('builds livepipe from the repository with docker/Dockerfile', async () => {
    const build = (await compose()).services.livepipe!.build!;
    expect(resolve(DIR, build.context)).toBe(resolve('.'));
    expect(existsSync(join(resolve(DIR, build.context), build.dockerfile))).toBe(true);
  });

  it('gives livepipe a data directory on a named volume that the image lets its user write', async () => {
    const { flags } = await livepipeConfig();
    const service = (await compose()).services.livepipe!;
    const volume = (service.volumes ?? []).find((v) => v.split(':')[1] === flags.dataDir);
    expect(volume, `a volume at ${flags.dataDir}`).toBeDefined();
    expect(volume!.startsWith('.')).toBe(false); // named, not a bind mount owned by the host user
    const dockerfile = await readFile(join(DIR, 'Dockerfile'), 'utf8');
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('FROM '));
    expect(runtime).toMatch(new RegExp(`chown node:node ${flags.dataDir}\\b`));
    expect(runtime.indexOf(`chown node:node ${flags.dataDir}`)).toBeLessThan(runtime.indexOf('USER node'));
  });

  it('mounts files and folders that exist', async () => {
    const { services } = await compose();
    let count = 0;
    for (const [name, service] of Object.entries(services)) {
      for (const [source, target] of bindMounts(service)) {
        expect(existsSync(source), `${name}: ${source} → ${target}`).toBe(true);
        count += 1;
      }
    }
    expect(count).toBeGreaterThanOrEqual(5);
  });

  it('publishes only on 127.0.0.1, each host port once', async () => {
    const { services } = await compose();
    const all = Object.values(services).flatMap(publishedPorts);
    for (const p of all) expect(p.ip).toBe('127.0.0.1');
    const keys = all.map((p) => `${p.host}/${p.protocol}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('runs livepipe with a command line and config file the real parsers accept, on the ports it publishes', async () => {
    const { config } = await livepipeConfig();
    const ports = publishedPorts((await compose()).services.livepipe!);
    const tcp = ports.filter((p) => p.protocol === 'tcp').map((p) => p.container).sort();
    expect(tcp).toEqual([config.rtmp.port, config.origin.port, config.api.port].sort());
    const srtRange = Array.from({ length: config.srt.portCount }, (_, i) => config.srt.portBase + i);
    expect(ports.filter((p) => p.protocol === 'udp').map((p) => p.container)).toEqual(srtRange);
    for (const channel of config.channels) if (channel.srt?.port !== undefined) expect(srtRange).toContain(channel.srt.port);
    expect(config.host).toBe('0.0.0.0');
    expect(config.channels.length).toBeGreaterThan(0); // a public bind refuses open publishing
  });

  it('stores media in the S3-compatible service, in the bucket minio-init creates, with its credentials', async () => {
    const { config, env } = await livepipeConfig();
    const { services } = await compose();
    const storage = parseStorageUrl(config.storage!);
    expect(storage.kind).toBe('s3');
    if (storage.kind !== 's3') return;
    const endpoint = new URL(storage.endpoint!);
    expect(SERVICES).toContain(endpoint.hostname);
    expect(services[endpoint.hostname]!.command).toContain('server'); // MinIO's API listens on 9000 by default
    expect(endpoint.port).toBe('9000');
    expect(storage.forcePathStyle).toBe(true);
    const init = services['minio-init']!.command!.join(' ');
    expect(init).toContain(`mc mb --ignore-existing local/${storage.bucket}`);
    expect(init).toContain(`http://${endpoint.hostname}:${endpoint.port}`);
    const minioEnv = services.minio!.environment!;
    expect(env.AWS_ACCESS_KEY_ID).toBe(minioEnv.MINIO_ROOT_USER);
    expect(env.AWS_SECRET_ACCESS_KEY).toBe(minioEnv.MINIO_ROOT_PASSWORD);
    expect(init).toContain(`${minioEnv.MINIO_ROOT_USER} ${minioEnv.MINIO_ROOT_PASSWORD}`);
  });

  it('runs a second serve node like the first, on the same Redis and storage, with its own node id, ports and volume', async () => {
    const { services } = await compose();
    const [one, two] = [services.livepipe!, services['livepipe-2']!];
    expect(two.image).toBe(one.image);
    expect(two.command).toEqual(one.command);
    expect(two.volumes?.[0]).toBe(one.volumes?.[0]); // the same config file: the same channels
    expect(two.volumes?.[1]).not.toBe(one.volumes?.[1]);
    const { config } = await livepipeConfig();
    expect(config.cluster?.redis).toBe('redis://redis:6379');
    expect(two.environment?.LIVEPIPE_REDIS_URL).toBe(config.cluster!.redis);
    expect(new URL(config.cluster!.redis).hostname).toBe('redis');
    expect(services.redis!.command).toEqual(expect.arrayContaining(['--appendonly', 'yes']));
    expect(two.environment?.LIVEPIPE_NODE_ID).not.toBe(one.environment?.LIVEPIPE_NODE_ID);
    expect(publishedPorts(two).map((p) => p.container)).toEqual(publishedPorts(one).map((p) => p.container));
    for (const service of [one, two]) expect((service.depends_on as Record<string, { condition: string }>).redis?.condition).toBe('service_healthy');
  });

  it('gives livepipe only environment variables it reads, an API token long enough for a public bind', async () => {
    const { env } = await livepipeConfig();
    const source = await sourceText('src');
    for (const name of Object.keys(env)) {
      if (name.startsWith('AWS_')) expect(AWS_SDK_ENV, name).toContain(name);
      else expect(source.includes(name), `${name} is read somewhere in src/`).toBe(true);
    }
    expect(env.LIVEPIPE_API_TOKEN?.length).toBeGreaterThanOrEqual(MIN_TOKEN_LENGTH);
  });
});

describe('docker/prometheus', () => {
  it('scrapes livepipe’s /metrics on the ops API port, and Prometheus itself, at compose services', async () => {
    const prometheus = await yamlOf<{ scrape_configs: Array<{ job_name: string; metrics_path?: string; static_configs: Array<{ targets: string[] }> }>; rule_files: string[] }>(
      'prometheus/prometheus.yml',
    );
    const { services } = await compose();
    const { config } = await livepipeConfig();
    const listening: Record<string, number[]> = {
      livepipe: [config.api.port, config.origin.port],
      'livepipe-2': [config.api.port, config.origin.port],
      prometheus: [9090],
      grafana: [3000],
      minio: [9000, 9001],
    };
    const jobs = new Map(prometheus.scrape_configs.map((j) => [j.job_name, j]));
    expect(jobs.get('livepipe')?.metrics_path ?? '/metrics').toBe('/metrics');
    expect(API_ROUTES.some((r) => r.path === '/metrics' && r.method === 'GET' && !r.auth)).toBe(true);
    for (const job of prometheus.scrape_configs) {
      for (const target of job.static_configs.flatMap((c) => c.targets)) {
        const [host, port] = target.split(':') as [string, string];
        // `localhost` in Prometheus's own container is the prometheus service.
        const service = host === 'localhost' ? 'prometheus' : host;
        expect(Object.keys(services), `${job.job_name}: ${target}`).toContain(service);
        expect(listening[service], `${job.job_name}: ${target}`).toContain(Number(port));
      }
    }
    expect(jobs.get('livepipe')!.static_configs.flatMap((c) => c.targets)).toEqual([`livepipe:${config.api.port}`, `livepipe-2:${config.api.port}`]);
  });

  it('loads the repository’s alert rules through a mounted file its rule_files pattern matches', async () => {
    const prometheus = await yamlOf<{ rule_files: string[] }>('prometheus/prometheus.yml');
    const service = (await compose()).services.prometheus!;
    const ruleMount = bindMounts(service).find(([source]) => basename(source) === 'prometheus-alerts.yml');
    expect(ruleMount).toBeDefined();
    const target = ruleMount![1];
    const matches = prometheus.rule_files.some((pattern) => new RegExp(`^${pattern.replace(/[.]/g, '\\.').replace(/\*/g, '[^/]*')}$`).test(target));
    expect(matches, `${target} matches ${prometheus.rule_files.join(', ')}`).toBe(true);
    const configFlag = service.command!.find((a) => a.startsWith('--config.file='))!.split('=')[1]!;
    expect(hostPathOf(service, configFlag)).toBe(join(DIR, 'prometheus/prometheus.yml'));
  });
});

describe('docker/grafana', () => {
  const dashboardFile = join(DIR, 'grafana/dashboards/livepipe.json');

  type Panel = { type: string; title: string; datasource?: { uid: string }; targets?: Array<{ expr: string; datasource?: { uid: string } }>; panels?: Panel[] };
  async function dashboard(): Promise<{ uid: string; panels: Panel[]; templating: { list: Array<{ query: { query: string } | string; datasource?: { uid: string } }> } }> {
    return JSON.parse(await readFile(dashboardFile, 'utf8'));
  }
  async function queries(): Promise<string[]> {
    const d = await dashboard();
    const panels = d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
    const exprs = panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    const variables = d.templating.list.map((v) => (typeof v.query === 'string' ? v.query : v.query.query));
    return [...exprs, ...variables];
  }

  /** What a live process exports: every family, with the label names its series carry once exercised. */
  async function exported(): Promise<Map<string, Set<string>>> {
    const metrics = new Metrics();
    metrics.setChannelState('demo', 'live');
    metrics.setIngestBitrate('demo', 4_000_000);
    metrics.countIngestConnectionShed('rtmp', 'deadline');
    metrics.setEncoderProgress('demo', { fps: 30, speed: 1 });
    metrics.countTranscoderRestart('demo');
    metrics.countPart('demo', 'v720');
    metrics.countSegment('demo', 'v720');
    metrics.observePartLatency('demo', 'v720', 0.4);
    metrics.observeStorageOperation('put', 0.01, false);
    metrics.countOriginRequest('part', 200);
    metrics.trackHeldRequest();
    metrics.countCacheHit();
    metrics.countCacheMiss();
    metrics.countWebhookDelivery('delivered');
    metrics.setWebhookQueueDepth(2);
    metrics.trackUploadBacklog(() => ({ objects: 3, bytes: 300_000 }));
    metrics.setChannelRealtime('demo', { edgeLagSeconds: 0.6, behind: false });
    metrics.countAdmissionRefusal('over-capacity');
    metrics.trackNodeCapacity(() => ({ capacityCores: 1.8, usedCores: 1.56 }));
    const families = new Map<string, Set<string>>();
    for (const family of await metrics.registry.getMetricsAsJSON()) {
      const labels = new Set<string>();
      for (const value of family.values) for (const label of Object.keys(value.labels)) labels.add(label);
      if (String(family.type) === 'histogram') labels.add('le');
      families.set(family.name, labels);
      if (String(family.type) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) families.set(`${family.name}${suffix}`, labels);
    }
    return families;
  }

  it('queries only metrics and labels the process exports', async () => {
    const families = await exported();
    const all = await queries();
    expect(all.length).toBeGreaterThanOrEqual(20);
    const used = new Set<string>();
    for (const expr of all) {
      // Metric names: identifiers followed by a selector, a range, an operator or the end — never a function call.
      const names = [...expr.matchAll(/\b([a-z_][a-z0-9_]*)\b(?!\s*\()/g)]
        .map((m) => m[1]!)
        .filter((name) => /^(livepipe|process|nodejs)_/.test(name));
      expect(names.length, expr).toBeGreaterThan(0);
      for (const name of names) {
        expect(families.has(name), `${name} in ${expr}`).toBe(true);
        used.add(name.replace(/_(bucket|sum|count)$/, ''));
      }
      const labelsOfExpr = new Set(names.flatMap((n) => [...families.get(n)!]));
      const selectorLabels = [...expr.matchAll(/\{([^}]*)\}/g)].flatMap((m) => [...m[1]!.matchAll(/([a-z_]+)\s*(=~|!=|!~|=)/g)].map((l) => l[1]!));
      const groupLabels = [...expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)].flatMap((m) => m[1]!.split(',').map((s) => s.trim()).filter(Boolean));
      const labelValues = [...expr.matchAll(/label_values\([a-z_]+,\s*([a-z_]+)\)/g)].map((m) => m[1]!);
      for (const label of [...selectorLabels, ...groupLabels, ...labelValues]) expect(labelsOfExpr.has(label), `label ${label} in ${expr}`).toBe(true);
    }
    // The list: channels by state, ingest bitrate, transcoder speed and restarts, part latency,
    // upload backlog, storage errors, origin requests, held requests and cache, webhook deliveries.
    for (const family of [
      'livepipe_channels',
      'livepipe_channel_state',
      'livepipe_ingest_bitrate_bits_per_second',
      'livepipe_encoder_speed_ratio',
      'livepipe_transcoder_restarts_total',
      'livepipe_part_latency_seconds',
      'livepipe_storage_errors_total',
      'livepipe_storage_operation_duration_seconds',
      'livepipe_origin_requests_total',
      'livepipe_origin_held_requests',
      'livepipe_origin_cache_hits_total',
      'livepipe_origin_cache_misses_total',
      'livepipe_webhook_deliveries_total',
      'livepipe_webhook_queue_depth',
      'livepipe_upload_queued_objects',
      'livepipe_upload_queued_bytes',
    ]) {
      expect(used, family).toContain(family);
    }
  });

  it('uses the datasource the provisioning declares, which points at the compose Prometheus', async () => {
    const provisioned = await yamlOf<{ datasources: Array<{ uid: string; type: string; url: string }> }>('grafana/provisioning/datasources/prometheus.yaml');
    const [datasource] = provisioned.datasources;
    expect(datasource?.type).toBe('prometheus');
    const url = new URL(datasource!.url);
    expect(url.hostname).toBe('prometheus');
    expect(url.port).toBe('9090');
    const d = await dashboard();
    const uids = new Set<string | undefined>();
    for (const p of d.panels.filter((panel) => panel.type !== 'row')) {
      uids.add(p.datasource?.uid);
      for (const t of p.targets ?? []) uids.add(t.datasource?.uid);
    }
    for (const v of d.templating.list) uids.add(v.datasource?.uid);
    expect([...uids]).toEqual([datasource!.uid]);
  });

  it('provisions the dashboards folder that compose mounts, and the home dashboard exists there', async () => {
    const grafana = (await compose()).services.grafana!;
    const provider = (await yamlOf<{ providers: Array<{ options: { path: string } }> }>('grafana/provisioning/dashboards/livepipe.yaml')).providers[0]!;
    const folder = hostPathOf(grafana, provider.options.path);
    expect(folder).toBe(join(DIR, 'grafana/dashboards'));
    expect(statSync(folder!).isDirectory()).toBe(true);
    expect(await readdir(folder!)).toContain('livepipe.json');
    expect(hostPathOf(grafana, '/etc/grafana/provisioning/datasources/prometheus.yaml')).toBe(join(DIR, 'grafana/provisioning/datasources/prometheus.yaml'));
    const home = grafana.environment!.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH!;
    expect(hostPathOf(grafana, home)).toBe(dashboardFile);
  });
});

/** Every .ts file under `dir`, concatenated. */
async function sourceText(dir: string): Promise<string> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  const files = entries.filter((e) => e.isFile() && e.name.endsWith('.ts')).map((e) => join(e.parentPath, e.name));
  return (await Promise.all(files.map((f) => readFile(f, 'utf8')))).join('\n');
}
