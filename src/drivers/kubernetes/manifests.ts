// WorkloadSpec -> Kubernetes objects, and the labels by which the driver
// recognises what it created. Pure: no I/O, so the mapping is unit-tested
// without a cluster.
//
// Ownership invariant: every object the driver writes carries
// MANAGED_BY_LABEL=MANAGED_BY and the workload key in annotations; the driver
// lists, updates and deletes only objects with that label, so a foreign
// Deployment of the same name in the same namespace is never touched (apply
// refuses it instead).
import { APP_LABEL, COMPONENT_LABEL, NAMESPACE_LABEL } from '../../model/wellknown.ts';
import { createHash } from 'node:crypto';
import type {
  V1Container,
  V1Deployment,
  V1Namespace,
  V1Probe,
  V1Service,
} from '@kubernetes/client-node';
import type { WorkloadKey, WorkloadSpec } from '../types.ts';

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'yunjian';
export const HASH_ANNOTATION = 'yunjian.io/workload-hash';
export const KEY_ANNOTATION = 'yunjian.io/workload-key';
export const ARCH_LABEL = 'kubernetes.io/arch';
export const ZONE_LABEL = 'topology.kubernetes.io/zone';
export const HOSTNAME_LABEL = 'kubernetes.io/hostname';
/** Set by NVIDIA GPU feature discovery; the driver selects and counts GPU models by it. */
export const GPU_PRODUCT_LABEL = 'nvidia.com/gpu.product';
export const GPU_RESOURCE = 'nvidia.com/gpu';

/** Selects every object this control plane created. */
export const OWNED_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;

/** Fits `value` in `max` characters of [a-z0-9-], keeping it readable and unique (hash suffix when cut). */
function dnsLabel(value: string, max = 63): string {
  const clean = value
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/^-+|-+$/g, '');
  if (clean.length <= max && clean === value) return clean;
  const digest = createHash('sha256').update(value).digest('hex').slice(0, 8);
  const head = clean.slice(0, max - 9).replace(/-+$/g, '');
  return `${head}-${digest}`;
}

/** The Kubernetes namespace that holds one application's workloads. */
export function namespaceName(key: Pick<WorkloadKey, 'namespace' | 'app'>): string {
  return dnsLabel(`yj-${key.namespace}-${key.app}`);
}

/** Deployment, Service and container name for a component. */
export function objectName(key: WorkloadKey): string {
  return dnsLabel(key.component);
}

/** Labels shared by the Deployment, its pods and the Service; also the pod selector. */
export function selectorLabels(key: WorkloadKey): Record<string, string> {
  return {
    [MANAGED_BY_LABEL]: MANAGED_BY,
    [NAMESPACE_LABEL]: dnsLabel(key.namespace),
    [APP_LABEL]: dnsLabel(key.app),
    [COMPONENT_LABEL]: dnsLabel(key.component),
  };
}

export function keyAnnotation(key: WorkloadKey): string {
  return JSON.stringify({ namespace: key.namespace, app: key.app, component: key.component });
}

/** The workload key an owned object carries, or undefined when it is not one of ours. */
export function keyOf(meta: {
  labels?: Record<string, string> | undefined;
  annotations?: Record<string, string> | undefined;
}): WorkloadKey | undefined {
  if (meta.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY) return undefined;
  const raw = meta.annotations?.[KEY_ANNOTATION];
  if (raw === undefined) return undefined;
  try {
    const k = JSON.parse(raw) as Partial<WorkloadKey>;
    if (
      typeof k.namespace === 'string' &&
      typeof k.app === 'string' &&
      typeof k.component === 'string'
    )
      return { namespace: k.namespace, app: k.app, component: k.component };
  } catch {
    // A hand-edited annotation: not ours to manage.
  }
  return undefined;
}

export function namespaceManifest(key: WorkloadKey): V1Namespace {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: namespaceName(key),
      labels: {
        [MANAGED_BY_LABEL]: MANAGED_BY,
        [NAMESPACE_LABEL]: dnsLabel(key.namespace),
        [APP_LABEL]: dnsLabel(key.app),
      },
    },
  };
}

/** Container port names must be IANA service names: at most 15 characters with a letter. */
function portName(name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  return /^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$/.test(name) && /[a-z]/.test(name) ? name : undefined;
}

/** How long a replica with a liveness check may take to pass its first check on Kubernetes. */
const STARTUP_ALLOWANCE_SECONDS = 3600;

function probe(spec: WorkloadSpec): V1Probe | undefined {
  const hc = spec.healthCheck;
  if (!hc) return undefined;
  const firstPort = spec.ports[0]?.port;
  const timing = {
    periodSeconds: Math.max(1, Math.round(hc.intervalSeconds)),
    timeoutSeconds: Math.max(1, Math.round(hc.timeoutSeconds)),
    failureThreshold: hc.failureThreshold,
  };
  if (hc.http) {
    const port = hc.http.port ?? firstPort;
    if (port === undefined) return undefined;
    return {
      httpGet: { path: hc.http.path, port, scheme: hc.http.scheme ?? 'HTTP' },
      ...timing,
    };
  }
  if (hc.tcp) {
    const port = hc.tcp.port ?? firstPort;
    if (port === undefined) return undefined;
    return { tcpSocket: { port }, ...timing };
  }
  return undefined;
}

function container(spec: WorkloadSpec): V1Container {
  const requests: Record<string, string> = {
    cpu: `${Math.round(spec.cpuMillis)}m`,
    memory: String(Math.round(spec.memoryBytes)),
  };
  // Extended resources are whole devices in Kubernetes: a GPU share takes a GPU.
  const gpus = Math.ceil(spec.gpu);
  // A colocated replica reserves its predicted use and may burst to its request.
  const limits: Record<string, string> = {
    ...(spec.cpuLimitMillis !== undefined ? { cpu: `${Math.round(spec.cpuLimitMillis)}m` } : {}),
    ...(gpus > 0 ? { [GPU_RESOURCE]: String(gpus) } : {}),
  };
  const readiness = probe(spec);
  const restartAfter = spec.healthCheck?.restartThreshold;
  // Liveness counts only once the replica has passed its check (the agent's
  // rule): the startup probe holds it off, allowing an hour to start.
  const liveness =
    readiness && restartAfter !== undefined
      ? {
          livenessProbe: { ...readiness, failureThreshold: restartAfter },
          startupProbe: {
            ...readiness,
            failureThreshold: Math.ceil(STARTUP_ALLOWANCE_SECONDS / (readiness.periodSeconds ?? 1)),
          },
        }
      : {};
  return {
    name: objectName(spec.key),
    image: spec.image,
    ...(spec.command.length > 0 ? { command: spec.command } : {}),
    ...(spec.args.length > 0 ? { args: spec.args } : {}),
    env: Object.entries(spec.env)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, value]) => ({ name, value })),
    ports: spec.ports.map((p) => {
      const name = portName(p.name);
      return { containerPort: p.port, protocol: p.protocol, ...(name ? { name } : {}) };
    }),
    resources: {
      requests: gpus > 0 ? { ...requests, [GPU_RESOURCE]: String(gpus) } : requests,
      ...(Object.keys(limits).length > 0 ? { limits } : {}),
    },
    ...(readiness ? { readinessProbe: readiness } : {}),
    ...liveness,
  };
}

/**
 * Architecture by nodeSelector when the image has one, by required node
 * affinity when it has several (a nodeSelector cannot say "one of").
 */
function placement(
  spec: WorkloadSpec,
): Pick<
  NonNullable<NonNullable<V1Deployment['spec']>['template']['spec']>,
  'nodeSelector' | 'affinity'
> {
  const nodeSelector: Record<string, string> = {};
  if (spec.gpuModel !== undefined && spec.gpu > 0) nodeSelector[GPU_PRODUCT_LABEL] = spec.gpuModel;
  const arches = [...new Set(spec.architectures)].sort();
  const single = arches.length === 1 ? arches[0] : undefined;
  if (single !== undefined) nodeSelector[ARCH_LABEL] = single;
  const own = selectorLabels(spec.key);
  const antiTerms = [];
  if (spec.maxReplicasPerNode === 1) {
    antiTerms.push({ labelSelector: { matchLabels: own }, topologyKey: HOSTNAME_LABEL });
  }
  if (spec.antiAffinity && spec.antiAffinity.length > 0) {
    antiTerms.push({
      labelSelector: {
        matchLabels: { [MANAGED_BY_LABEL]: MANAGED_BY, [APP_LABEL]: own[APP_LABEL] ?? '' },
        matchExpressions: [
          {
            key: COMPONENT_LABEL,
            operator: 'In',
            values: [...spec.antiAffinity].sort().map((c) => dnsLabel(c)),
          },
        ],
      },
      topologyKey: HOSTNAME_LABEL,
    });
  }
  const affinity = {
    ...(single === undefined
      ? {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                { matchExpressions: [{ key: ARCH_LABEL, operator: 'In', values: arches }] },
              ],
            },
          },
        }
      : {}),
    ...(antiTerms.length > 0
      ? { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: antiTerms } }
      : {}),
  };
  return {
    ...(Object.keys(nodeSelector).length > 0 ? { nodeSelector } : {}),
    ...(Object.keys(affinity).length > 0 ? { affinity } : {}),
  };
}

export function deploymentManifest(spec: WorkloadSpec): V1Deployment {
  const labels = selectorLabels(spec.key);
  const annotations = { [HASH_ANNOTATION]: spec.hash, [KEY_ANNOTATION]: keyAnnotation(spec.key) };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: objectName(spec.key),
      namespace: namespaceName(spec.key),
      labels,
      annotations,
    },
    spec: {
      replicas: spec.replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels, annotations },
        spec: { containers: [container(spec)], ...placement(spec) },
      },
    },
  };
}

/** The component's Service, or undefined when it serves no ports. */
export function serviceManifest(spec: WorkloadSpec): V1Service | undefined {
  if (spec.ports.length === 0) return undefined;
  const labels = selectorLabels(spec.key);
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: objectName(spec.key),
      namespace: namespaceName(spec.key),
      labels,
      annotations: { [HASH_ANNOTATION]: spec.hash, [KEY_ANNOTATION]: keyAnnotation(spec.key) },
    },
    spec: {
      type: 'ClusterIP',
      selector: labels,
      ports: spec.ports.map((p, i) => ({
        // Several ports need distinct names; a port without one is named by number.
        name: p.name !== undefined ? dnsLabel(p.name) : `port-${p.port}-${i}`,
        port: p.port,
        targetPort: p.port,
        protocol: p.protocol,
      })),
    },
  };
}
