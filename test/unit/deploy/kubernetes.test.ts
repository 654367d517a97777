/**
 * The Kubernetes manifests in docker/kubernetes/ against the code they deploy: every livepipe
 * container's arguments go through the real command line and option parsers, the example config
 * through the real config schema, and ports, probes, Services and Secret references must meet up.
 * (kubectl is not needed: a manifest that names a flag livepipe does not have, a probe path the ops
 * API does not serve or a port nobody listens on fails here.)
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { API_ROUTES } from '../../../src/api/api-routes.js';
import { parseOriginOptions, type RawOriginOptions } from '../../../src/cli/origin-command.js';
import { configOverridesOf, type ServeFlags } from '../../../src/cli/serve-command.js';
import { loadServiceConfig } from '../../../src/config/service-config.js';
import { parseLivepipeArgs as parseArgs, readYamlDocuments, readYamlFile } from '../../helpers/deploy/deploy-files.js';

const DIR = 'docker/kubernetes';

type Doc = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; [key: string]: any };
interface ContainerPort {
  name: string;
  containerPort: number;
  protocol: string;
}

const docsOf = (file: string): Promise<Doc[]> => readYamlDocuments<Doc>(DIR, file);

async function deployed(): Promise<Doc[]> {
  const kustomization = await readYamlFile<{ resources: string[] }>(DIR, 'kustomization.yaml');
  return (await Promise.all(kustomization.resources.map(docsOf))).flat();
}

/** The Redis URL serve is given (LIVEPIPE_REDIS_URL), which the origins must name too. */
async function clusterRedisUrl(): Promise<string> {
  const serve = containerOf(workload(await deployed(), 'serve'));
  const url = serve.env.find((e) => e.name === 'LIVEPIPE_REDIS_URL')?.value as string | undefined;
  if (url === undefined) throw new Error('serve has no LIVEPIPE_REDIS_URL');
  return url;
}

function workload(docs: Doc[], component: string): Doc {
  const found = docs.find((d) => (d.kind === 'Deployment' || d.kind === 'StatefulSet') && d.spec.template.metadata.labels['app.kubernetes.io/component'] === component);
  if (found === undefined) throw new Error(`no workload for ${component}`);
  return found;
}

const containerOf = (w: Doc) => w.spec.template.spec.containers[0] as { args: string[]; ports: ContainerPort[]; env: any[]; livenessProbe: any; readinessProbe: any; volumeMounts: any[] };
const portNamed = (c: { ports: ContainerPort[] }, name: string) => c.ports.find((p) => p.name === name);
const OPS_PATHS = API_ROUTES.filter((r) => r.tag === 'operations' && r.method === 'GET').map((r) => r.path);

describe('docker/kubernetes', () => {
  it('lists resources that all exist and name themselves', async () => {
    const docs = await deployed();
    expect(docs.length).toBeGreaterThanOrEqual(7);
    for (const doc of docs) {
      expect(doc.apiVersion, JSON.stringify(doc.metadata)).toMatch(/^(v1|apps\/v1|autoscaling\/v2|policy\/v1)$/);
      expect(doc.metadata.name).toMatch(/^[a-z0-9-]+$/);
    }
    expect(docs.filter((d) => d.kind === 'Secret')).toEqual([]); // credentials are never in the kustomization
  });

  it('runs the origin with arguments the real command line accepts, on the ports it declares', async () => {
    const origin = containerOf(workload(await deployed(), 'origin'));
    const { command, options } = await parseArgs(origin.args);
    expect(command).toBe('origin');
    const config = parseOriginOptions(options as RawOriginOptions);
    expect(config.storage.kind).toBe('s3');
    expect(config.host).toBe('0.0.0.0');
    expect(config.redis, 'origins are notified over the cluster Redis').toBe(await clusterRedisUrl());
    expect(portNamed(origin, 'http')?.containerPort).toBe(config.port);
    expect(portNamed(origin, 'ops')?.containerPort).toBe(config.opsPort);
  });

  it('runs serve with arguments and a config (the example Secret) the real parsers accept, on the ports it declares', async () => {
    const serve = containerOf(workload(await deployed(), 'serve'));
    const { command, options } = await parseArgs(serve.args);
    expect(command).toBe('serve');
    const flags = options as unknown as ServeFlags;
    const mount = serve.volumeMounts.find((m) => flags.config!.startsWith(`${m.mountPath}/`));
    expect(mount, 'the --config file is on a mounted volume').toBeDefined();
    const secrets = await docsOf('secrets.example.yaml');
    const volume = workload(await deployed(), 'serve').spec.template.spec.volumes.find((v: any) => v.name === mount.name);
    const configSecret = secrets.find((s) => s.metadata.name === volume.secret.secretName)!;
    const fileName = flags.config!.slice(mount.mountPath.length + 1);
    expect(configSecret.stringData[fileName]).toBeDefined();

    const dir = await mkdtemp(join(tmpdir(), 'livepipe-k8s-'));
    try {
      const file = join(dir, fileName);
      await writeFile(file, configSecret.stringData[fileName]);
      const literalEnv = Object.fromEntries(serve.env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));
      const config = await loadServiceConfig(file, literalEnv, configOverridesOf(flags));
      expect(config.host).toBe('0.0.0.0');
      expect(config.storage).toMatch(/^s3:\/\//);
      expect(config.channels.length).toBeGreaterThan(0); // a public bind refuses open publishing
      expect(config.cluster?.redis).toBe(await clusterRedisUrl());
      expect(portNamed(serve, 'rtmp')?.containerPort).toBe(config.rtmp.port);
      expect(portNamed(serve, 'origin')?.containerPort).toBe(config.origin.port);
      expect(portNamed(serve, 'ops')?.containerPort).toBe(config.api.port);
      const srtRange = Array.from({ length: config.srt.portCount }, (_, i) => config.srt.portBase + i);
      const udp = serve.ports.filter((p) => p.protocol === 'UDP').map((p) => p.containerPort);
      expect(udp).toEqual(srtRange);
      for (const channel of config.channels) if (channel.srt?.port !== undefined) expect(srtRange).toContain(channel.srt.port);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('probes paths the ops API serves, on declared ports', async () => {
    const docs = await deployed();
    for (const component of ['serve', 'origin']) {
      const container = containerOf(workload(docs, component));
      for (const probe of [container.livenessProbe, container.readinessProbe]) {
        expect(OPS_PATHS, component).toContain(probe.httpGet.path);
        expect(portNamed(container, probe.httpGet.port), `${component} probe port`).toBeDefined();
      }
      expect(container.livenessProbe.httpGet.path).toBe('/healthz');
      expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    }
  });

  it('points every Service at ports its pods declare, with the same protocol', async () => {
    const docs = await deployed();
    const services = docs.filter((d) => d.kind === 'Service');
    expect(services.map((s) => s.metadata.name).sort()).toEqual(['livepipe-ingest', 'livepipe-origin', 'livepipe-redis', 'livepipe-serve']);
    for (const service of services) {
      const pods = workload(docs, service.spec.selector['app.kubernetes.io/component']);
      const container = containerOf(pods);
      for (const port of service.spec.ports) {
        const target = portNamed(container, port.targetPort);
        expect(target, `${service.metadata.name} → ${port.targetPort}`).toBeDefined();
        expect(target!.protocol).toBe(port.protocol);
      }
    }
  });

  it('reads only Secrets and keys that secrets.example.yaml defines', async () => {
    const docs = await deployed();
    const secrets = new Map((await docsOf('secrets.example.yaml')).map((s) => [s.metadata.name, Object.keys(s.stringData)]));
    for (const component of ['serve', 'origin']) {
      for (const env of containerOf(workload(docs, component)).env) {
        const ref = env.valueFrom?.secretKeyRef;
        if (ref === undefined) continue;
        expect(secrets.get(ref.name), `${component}: secret ${ref.name}`).toContain(ref.key);
      }
    }
    const serveEnv = containerOf(workload(docs, 'serve')).env.map((e) => e.name);
    expect(serveEnv).toContain('LIVEPIPE_API_TOKEN'); // a public bind refuses an open ops API
  });

  it('gives serve longer to stop than its own shutdown deadline (30 s)', async () => {
    const serve = workload(await deployed(), 'serve');
    expect(serve.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(30);
  });

  it('runs serve as a fleet: a Deployment of several replicas, a node id per pod, disruptions one at a time', async () => {
    const docs = await deployed();
    const serve = workload(docs, 'serve');
    expect(serve.kind).toBe('Deployment');
    expect(serve.spec.replicas).toBeGreaterThanOrEqual(2);
    expect(serve.spec.template.spec.volumes.find((v: any) => v.name === 'data').emptyDir).toBeDefined(); // no per-pod state
    const nodeId = containerOf(serve).env.find((e) => e.name === 'LIVEPIPE_NODE_ID');
    expect(nodeId?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.name');
    const budget = docs.find((d) => d.kind === 'PodDisruptionBudget');
    expect(budget?.spec.selector.matchLabels).toEqual(serve.spec.selector.matchLabels);
    expect(budget?.spec.maxUnavailable).toBe(1);
  });

  it('runs one Redis primary, with an append-only file for the registry and no eviction, behind the URL serve and origins use', async () => {
    const docs = await deployed();
    const redis = workload(docs, 'redis');
    expect(redis.spec.replicas).toBe(1);
    const args = containerOf(redis).args.join(' ');
    expect(args).toMatch(/--appendonly yes/);
    expect(args).toMatch(/--maxmemory-policy noeviction/);
    const url = new URL(await clusterRedisUrl());
    const service = docs.find((d) => d.kind === 'Service' && d.metadata.name === url.hostname);
    expect(service, `a Service named ${url.hostname}`).toBeDefined();
    expect(service!.spec.ports.map((p: any) => String(p.port))).toContain(url.port);
  });
});
