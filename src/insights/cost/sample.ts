// One cost sample from the fleet as the store holds it: every cluster with its
// prices (its own, else its cloud's, field by field) and capacity, and every
// placed component with its ready replicas, what one replica requests (a
// colocated replica: what it reserves) and the cpu its replicas used where the
// member measures it. Pure: the sampler passes everything in.
import type { Tenant } from '../../model/access.ts';
import { parseCpuMillis, parseMemoryBytes } from '../../model/quantity.ts';
import {
  API_VERSION,
  type Application,
  type Cloud,
  type Cluster,
  type CostSample,
  type CostSampleCluster,
  type CostSampleWorkload,
} from '../../model/schema.ts';
import { TEAM_LABEL } from '../delivery/plan.ts';

/** Cpu the replicas of one component used on one cluster, millicores, keyed by `usageKey`. */
export type UsageByWorkload = ReadonlyMap<string, number>;

export function usageKey(cluster: string, namespace: string, app: string, component: string) {
  return `${cluster}/${namespace}/${app}/${component}`;
}

export const UNASSIGNED_TEAM = 'unassigned';

/** The app's `yunjian.io/team` label, else the tenant owning its namespace, else its namespace. */
export function teamOf(app: Application, tenants: readonly Tenant[]): string {
  const label = app.metadata.labels?.[TEAM_LABEL];
  if (label !== undefined && label !== '') return label;
  const namespace = app.metadata.namespace ?? 'default';
  return tenants.find((t) => t.spec.namespaces.includes(namespace))?.metadata.name ?? namespace;
}

export interface FleetState {
  clusters: readonly Cluster[];
  clouds: readonly Cloud[];
  apps: readonly Application[];
  tenants: readonly Tenant[];
  usage: UsageByWorkload;
}

/** Sample names sort by time: `cost-` and the start in seconds since the epoch, ten digits. */
export function sampleName(startMs: number): string {
  return `cost-${String(Math.floor(startMs / 1000)).padStart(10, '0')}`;
}

export function buildSample(state: FleetState, startMs: number, seconds: number): CostSample {
  const clouds = new Map(state.clouds.map((c) => [c.metadata.name, c]));
  const byCluster = new Map<string, Map<string, CostSampleWorkload>>();
  for (const app of state.apps) {
    const namespace = app.metadata.namespace ?? 'default';
    const team = teamOf(app, state.tenants);
    const reserved = new Map(
      (app.status?.colocation?.components ?? []).map((c) => [c.component, c.reservedCpuMillis]),
    );
    for (const p of app.status?.placements ?? []) {
      if (p.ready === 0) continue;
      const component = app.spec.components.find((c) => c.name === p.component);
      if (component === undefined) continue;
      const r = component.resources ?? {};
      const key = usageKey(p.cluster, namespace, app.metadata.name, p.component);
      const workloads = byCluster.get(p.cluster) ?? new Map<string, CostSampleWorkload>();
      byCluster.set(p.cluster, workloads);
      // A draining placement and its replacement on the same cluster are one
      // workload there: the replicas add up, the measured use is the cluster's.
      const existing = workloads.get(key);
      if (existing !== undefined) {
        existing.replicas += p.ready;
        continue;
      }
      const used = state.usage.get(key);
      workloads.set(key, {
        namespace,
        app: app.metadata.name,
        component: p.component,
        team,
        replicas: p.ready,
        request: {
          cpuMillis: Math.round(
            reserved.get(p.component) ?? (r.cpu !== undefined ? parseCpuMillis(r.cpu) : 0),
          ),
          memoryBytes: Math.round(r.memory !== undefined ? parseMemoryBytes(r.memory) : 0),
          gpu: Math.ceil(r.gpu ?? 0),
        },
        ...(used !== undefined ? { usedCpuMillis: Math.round(used) } : {}),
      });
    }
  }
  const clusters: CostSampleCluster[] = state.clusters.map((c) => {
    const own = c.spec.prices;
    const cloud = clouds.get(c.spec.cloud)?.spec.prices;
    const capacity = c.status?.capacity;
    return {
      cluster: c.metadata.name,
      cloud: c.spec.cloud,
      site: c.spec.site,
      prices: {
        cpuCoreHour: own?.cpuCoreHour ?? cloud?.cpuCoreHour ?? 0,
        memoryGiBHour: own?.memoryGiBHour ?? cloud?.memoryGiBHour ?? 0,
        gpuHour: own?.gpuHour ?? cloud?.gpuHour ?? 0,
      },
      capacity: {
        cpuMillis: Math.round((capacity?.cpu ?? 0) * 1000),
        memoryBytes: Math.round(capacity?.memory ?? 0),
        gpu: Math.round(capacity?.gpu ?? 0),
      },
      workloads: [...(byCluster.get(c.metadata.name)?.values() ?? [])],
    };
  });
  return {
    apiVersion: API_VERSION,
    kind: 'CostSample',
    metadata: { name: sampleName(startMs) },
    spec: { start: new Date(startMs).toISOString(), seconds, clusters },
  };
}
