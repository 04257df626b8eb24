import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Service } from 'kubernetes-models/v1';
import type { IContainer, IEnvVar } from 'kubernetes-models/v1';
import { parse, parseAllDocuments } from 'yaml';
import { Environment, parseEnvironment } from '../../src/config/environment.js';
import { readTasksFile } from '../../src/prompts/tasks-file.js';

const BASE = 'deploy/k8s';
const COMPONENTS = ['deploy/k8s/servicemonitor'];
/** The Kubernetes API schemas (kubernetes-models' validators), by apiVersion and kind. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'v1/Service': Service,
  'networking.k8s.io/v1/Ingress': Ingress,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule,
};

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

const readYaml = (path: string) =>
  parseAllDocuments(readFileSync(path, 'utf8')).map((document) => document.toJS() as Manifest);
const kustomization = (dir: string) =>
  parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as {
    resources?: string[];
    components?: string[];
    configMapGenerator?: { name: string; files: string[] }[];
  };
const resources = [BASE, ...COMPONENTS].flatMap((dir) =>
  (kustomization(dir).resources ?? []).flatMap((file) => readYaml(join(dir, file))),
);
const resource = (kind: string) => resources.find((r) => r.kind === kind) as Manifest & Record<string, any>;

/**
 * Validates against the API schema and, like the API server's strict field validation, rejects
 * fields the schema does not know (kubernetes-models' validators alone accept them): every field
 * the validator never looked at is unknown.
 */
function validate(manifest: Manifest): string[] {
  const Kind = MODELS[`${manifest.apiVersion}/${manifest.kind}`];
  if (!Kind) return [`no schema for ${manifest.apiVersion} ${manifest.kind}`];
  const read = new Set<string>();
  const watched = (value: unknown, path: string): unknown =>
    value === null || typeof value !== 'object'
      ? value
      : new Proxy(value, {
          get(target, key, receiver) {
            const child: unknown = Reflect.get(target, key, receiver);
            if (typeof key !== 'string' || !Object.hasOwn(target, key)) return child;
            read.add(`${path}/${key}`);
            return watched(child, `${path}/${key}`);
          },
          ownKeys(target) {
            // A map (labels, resources, data): the schema checks each entry, whatever its key.
            for (const key of Object.keys(target)) read.add(`${path}/${key}`);
            return Reflect.ownKeys(target);
          },
        });
  const model = new Kind(manifest as never);
  try {
    model.validate.call(watched({ ...model }, ''));
  } catch (error) {
    return [(error as Error).message];
  }
  const unknown = (value: unknown, path: string): string[] =>
    value === null || typeof value !== 'object'
      ? []
      : Object.entries(value).flatMap(([key, child]) =>
          read.has(`${path}/${key}`) ? unknown(child, `${path}/${key}`) : [`unknown field ${path}/${key}`],
        );
  return unknown(manifest, '');
}

describe('Kubernetes manifests (deploy/k8s)', () => {
  it('validate against the Kubernetes API schemas, with no unknown fields', () => {
    expect(resources.map((r) => r.kind).sort()).toEqual(
      [
        'Deployment',
        'HorizontalPodAutoscaler',
        'Ingress',
        'NetworkPolicy',
        'PodDisruptionBudget',
        'PrometheusRule',
        'Service',
        'ServiceMonitor',
      ].sort(),
    );
    expect(Object.fromEntries(resources.map((r) => [r.kind, validate(r)]))).toEqual(
      Object.fromEntries(resources.map((r) => [r.kind, []])),
    );
  });

  it('the validation catches a misspelled field and a wrong type', () => {
    const deployment = structuredClone(resource('Deployment'));
    deployment.spec.template.spec.containers[0].readinesProbe = {};
    deployment.spec.template.spec.terminationGracePeriodSeconds = 'soon';
    expect(validate(deployment).join('\n')).toMatch(/terminationGracePeriodSeconds must be integer/);
    delete deployment.spec.template.spec.terminationGracePeriodSeconds;
    expect(validate(deployment)).toEqual(['unknown field /spec/template/spec/containers/0/readinesProbe']);
  });

  it('lists every file of the directory in a kustomization', () => {
    const listed = [BASE, ...COMPONENTS].flatMap((dir) => {
      const k = kustomization(dir);
      const files = [...(k.resources ?? []), ...(k.configMapGenerator ?? []).flatMap((g) => g.files)];
      return ['kustomization.yaml', ...files].map((file) => join(dir, file));
    });
    const files = readdirSync(BASE, { recursive: true, encoding: 'utf8' })
      .map((file) => join(BASE, file))
      .filter((path) => path.endsWith('.yaml'));
    expect(files.sort()).toEqual(listed.sort());
    expect(listed.filter((path) => !existsSync(path))).toEqual([]);
  });

  it('ships a valid tasks file in the ConfigMap', () => {
    const [generator] = kustomization(BASE).configMapGenerator!;
    expect(generator.name).toBe('duet-tasks');
    const tasks = readTasksFile(join(BASE, generator.files[0]));
    expect(tasks.map((task) => task.name)).toContain('support-topic');
  });

  describe('the Deployment', () => {
    const pod = resource('Deployment').spec.template.spec;
    const duet = pod.containers.find((c: IContainer) => c.name === 'duet') as IContainer;
    const pull = pod.initContainers.find((c: IContainer) => c.name === 'model-pull') as IContainer;
    const env = (container: IContainer, name: string) => container.env!.find((e: IEnvVar) => e.name === name);
    const plainEnv = Object.fromEntries(duet.env!.filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));

    it('sets only variables Duet reads, with valid values', () => {
      // TASKS_FILE is read by the tasks-file loader (src/prompts/tasks-file.ts), not Environment.
      const known = [...Object.keys(new Environment()), 'TASKS_FILE'];
      expect(duet.env!.map((e) => e.name).filter((name) => !known.includes(name))).toEqual([]);
      expect(() => parseEnvironment(plainEnv)).not.toThrow();
    });

    it('sets THREADS from the CPU limit, and a memory limit like the systemd unit', () => {
      expect(env(duet, 'THREADS')!.valueFrom!.resourceFieldRef).toEqual({
        containerName: 'duet',
        resource: 'limits.cpu',
        divisor: '1',
      });
      expect(Number(duet.resources!.limits!.cpu)).toBeGreaterThanOrEqual(1);
      const memoryMax = readFileSync('deploy/systemd/duet.service', 'utf8').match(/^MemoryMax=(\d+)M$/m)![1];
      expect(duet.resources!.limits!.memory).toBe(`${memoryMax}Mi`); // systemd's M is MiB
    });

    it('probes start-up, readiness and liveness through the probe script, authenticated by the ops key', () => {
      const command = (probe: keyof IContainer) => (duet[probe] as { exec: { command: string[] } }).exec.command;
      expect(command('startupProbe')).toEqual(['node', 'dist/health-probe.js', '/health/ready']);
      expect(command('readinessProbe')).toEqual(['node', 'dist/health-probe.js', '/health/ready']);
      expect(command('livenessProbe')).toEqual(['node', 'dist/health-probe.js', '/health/live']);
      expect(existsSync('src/health-probe.ts')).toBe(true);
      // The start-up probe covers a model load of minutes before liveness may restart the pod.
      const startup = duet.startupProbe!;
      expect(startup.periodSeconds! * startup.failureThreshold!).toBeGreaterThanOrEqual(120);
      expect(env(duet, 'OPS_API_KEYS')!.valueFrom!.secretKeyRef).toMatchObject({ name: 'duet-keys' });
      expect(env(duet, 'API_KEYS')!.valueFrom!.secretKeyRef).toMatchObject({ name: 'duet-keys' });
    });

    it('keeps full queues out of readiness and trusts the ingress hop', () => {
      const config = parseEnvironment(plainEnv);
      expect(config.READY_QUEUE_CHECK).toBe(false);
      expect(config.TRUST_PROXY).toBe('1');
    });

    it('gives the drain time: preStop delay, then SHUTDOWN_DRAIN_MS, within the grace period', () => {
      const [sleep, seconds] = duet.lifecycle!.preStop!.exec!.command!;
      expect(sleep).toBe('sleep');
      const drainS = parseEnvironment(plainEnv).SHUTDOWN_DRAIN_MS / 1000;
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(Number(seconds) + drainS);
    });

    it('pulls the model in an init container into the volume Duet mounts read-only', () => {
      expect(pull.command!.join(' ')).toMatch(/node dist\/model-pull\/cli\.js/);
      expect(env(pull, 'MODEL_PATH')!.value).toBe(plainEnv.MODEL_PATH);
      const mount = (c: IContainer) => c.volumeMounts!.find((m) => plainEnv.MODEL_PATH.startsWith(`${m.mountPath}/`))!;
      expect(mount(pull).name).toBe(mount(duet).name);
      expect([mount(pull).readOnly, mount(duet).readOnly]).toEqual([undefined, true]);
    });

    it('mounts the tasks ConfigMap where TASKS_FILE points', () => {
      const volume = pod.volumes.find((v: { configMap?: { name: string } }) => v.configMap?.name === 'duet-tasks');
      const mount = duet.volumeMounts!.find((m) => m.name === volume.name)!;
      expect(relative(mount.mountPath, plainEnv.TASKS_FILE)).toBe('tasks.yaml');
    });

    it("runs as the image's non-root user with a read-only root filesystem", () => {
      const dockerfileUser = readFileSync('Dockerfile', 'utf8').match(/^USER (\d+):(\d+)$/m)!;
      expect(pod.securityContext).toMatchObject({
        runAsNonRoot: true,
        runAsUser: Number(dockerfileUser[1]),
        runAsGroup: Number(dockerfileUser[2]),
      });
      for (const container of [duet, pull]) {
        expect(container.securityContext).toMatchObject({
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
        });
      }
    });
  });

  it('points the Service, PDB, NetworkPolicy, HPA, Ingress and ServiceMonitor at the pods', () => {
    const deployment = resource('Deployment');
    const podLabels = deployment.spec.template.metadata.labels;
    const port = deployment.spec.template.spec.containers[0].ports[0];
    const service = resource('Service');
    expect(podLabels).toMatchObject(service.spec.selector);
    expect(service.spec.ports[0].targetPort).toBe(port.name);
    for (const kind of ['PodDisruptionBudget', 'NetworkPolicy']) {
      const { selector, podSelector } = resource(kind).spec;
      expect(podLabels).toMatchObject((selector ?? podSelector).matchLabels);
    }
    expect(resource('NetworkPolicy').spec.ingress[0].ports).toEqual([{ port: port.name }]);
    expect(resource('HorizontalPodAutoscaler').spec.scaleTargetRef).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: deployment.metadata.name,
    });
    const monitor = resource('ServiceMonitor');
    expect(service.metadata.labels).toMatchObject(monitor.spec.selector.matchLabels);
    expect(monitor.spec.endpoints[0]).toMatchObject({ port: service.spec.ports[0].name, path: '/metrics' });
    const ingress = resource('Ingress');
    const backends = ingress.spec.rules[0].http.paths.map((p: { backend: { service: unknown } }) => p.backend.service);
    expect(new Set(backends.map((b: unknown) => JSON.stringify(b)))).toEqual(
      new Set([JSON.stringify({ name: service.metadata.name, port: { name: service.spec.ports[0].name } })]),
    );
  });

  it('holds in its PrometheusRule exactly the rules of deploy/prometheus/duet-rules.yaml', () => {
    const rules = parse(readFileSync('deploy/prometheus/duet-rules.yaml', 'utf8')) as { groups: unknown[] };
    expect(resource('PrometheusRule').spec.groups).toEqual(rules.groups);
    expect(rules.groups).toHaveLength(1);
  });

  it('streams through the ingress unbuffered and keeps /health and /metrics inside the cluster', () => {
    const ingress = resource('Ingress');
    expect(ingress.metadata.annotations!['nginx.ingress.kubernetes.io/proxy-buffering']).toBe('off');
    const routes = (url: string) =>
      ingress.spec.rules[0].http.paths.some((p: { path: string; pathType: string }) =>
        p.pathType === 'Exact' ? url === p.path : url.startsWith(p.path),
      );
    expect(['/v1/chat', '/docs', '/'].map(routes)).toEqual([true, true, true]);
    expect(['/health/ready', '/health/memory', '/metrics'].map(routes)).toEqual([false, false, false]);
  });
});
