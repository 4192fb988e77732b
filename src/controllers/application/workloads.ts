// Workloads: the spec of each (component, cluster) workload, and the diff
// between what the plan wants and what the drivers list: which workloads need
// a write and which are deleted. Writes are idempotent (drivers skip a hash
// they run), so the diff only saves API calls; deletions must never reach a
// workload the plan keeps.
import { createHash } from 'node:crypto';
import { canonical } from '../../model/canonical.ts';
import { parseCpuMillis, parseMemoryBytes } from '../../model/quantity.ts';
import type { Application, Cluster, Component, PlacementStatus } from '../../model/schema.ts';
import type { WorkloadKey, WorkloadSpec, WorkloadStatus } from '../../drivers/types.ts';
import { colocationReservation, componentArchitectures } from '../../scheduler/index.ts';
import { placementKey } from './observed.ts';

/** Node limits of a component from placement.maxReplicasPerNode and antiAffinity. */
function nodeLimits(
  app: Application,
  c: Component,
): { maxReplicasPerNode?: number; antiAffinity?: string[] } {
  const placement = app.spec.placement;
  const names = app.spec.components.map((x) => x.name);
  const groups = (placement?.antiAffinity ?? [])
    .map((a) => a.components ?? names)
    .filter((g) => g.includes(c.name));
  if (groups.length > 0) {
    return { maxReplicasPerNode: 1, antiAffinity: [...new Set(groups.flat())].sort() };
  }
  return placement?.maxReplicasPerNode !== undefined
    ? { maxReplicasPerNode: placement.maxReplicasPerNode }
    : {};
}

/** The component as it runs on one cluster: overrides whose target matches apply in order. */
export function workloadFor(
  app: Application,
  c: Component,
  cluster: Cluster,
  replicas: number,
): WorkloadSpec {
  let image = c.image;
  let env = { ...(c.env ?? {}) };
  let resources = { ...(c.resources ?? {}) };
  let count = replicas;
  for (const o of app.spec.overrides ?? []) {
    const t = o.target;
    const matches =
      (!t.clouds || t.clouds.includes(cluster.spec.cloud)) &&
      (!t.sites || t.sites.includes(cluster.spec.site)) &&
      (!t.clusters || t.clusters.includes(cluster.metadata.name)) &&
      (!t.components || t.components.includes(c.name));
    if (!matches) continue;
    if (o.patches.image !== undefined) image = o.patches.image;
    if (o.patches.env) env = { ...env, ...o.patches.env };
    if (o.patches.resources) resources = { ...resources, ...o.patches.resources };
    if (o.patches.replicas !== undefined) count = o.patches.replicas;
  }
  const cpuMillis = resources.cpu !== undefined ? parseCpuMillis(resources.cpu) : 0;
  // A colocated replica reserves its learnt use and may burst to its request.
  const reserved = colocationReservation(app, c);
  const hc = c.healthCheck;
  const spec: Omit<WorkloadSpec, 'hash'> = {
    key: {
      namespace: app.metadata.namespace ?? 'default',
      app: app.metadata.name,
      component: c.name,
    },
    image,
    replicas: count,
    architectures: componentArchitectures(c),
    ...(reserved !== undefined
      ? { cpuMillis: Math.min(reserved, cpuMillis), cpuLimitMillis: cpuMillis }
      : { cpuMillis }),
    memoryBytes: resources.memory !== undefined ? parseMemoryBytes(resources.memory) : 0,
    gpu: resources.gpu ?? 0,
    ...(resources.gpuModel !== undefined ? { gpuModel: resources.gpuModel } : {}),
    ...nodeLimits(app, c),
    ports: (c.ports ?? []).map((p) => ({
      ...(p.name !== undefined ? { name: p.name } : {}),
      port: p.port,
      protocol: p.protocol ?? 'TCP',
    })),
    env,
    command: c.command ?? [],
    args: c.args ?? [],
    ...(hc && (hc.http || hc.tcp)
      ? {
          healthCheck: {
            ...(hc.http ? { http: hc.http } : {}),
            ...(hc.tcp ? { tcp: hc.tcp } : {}),
            intervalSeconds: hc.intervalSeconds ?? 5,
            timeoutSeconds: hc.timeoutSeconds ?? 1,
            failureThreshold: hc.failureThreshold ?? 3,
            ...(hc.restartThreshold !== undefined ? { restartThreshold: hc.restartThreshold } : {}),
          },
        }
      : {}),
  };
  return { ...spec, hash: createHash('sha256').update(canonical(spec)).digest('hex').slice(0, 16) };
}

/** The last hash this controller applied to a workload, and when. */
export interface Sent {
  hash: string;
  at: number;
}

/**
 * Whether a workload needs a write. A held cluster cannot be written to (its
 * workload stays as it was); a workload already at the hash needs none, which
 * keeps a reconcile storm (a whole cloud flipping) within API limits; and a
 * listing requested no later than our last apply of this hash cannot show it
 * yet (`inFlight`: the write is not repeated, and the listed status is stale).
 */
export function applyNeeded(input: {
  spec: WorkloadSpec;
  listed: WorkloadStatus | undefined;
  listedAt: number;
  sent: Sent | undefined;
  held: boolean;
}): { apply: boolean; inFlight: boolean } {
  const { spec, listed, sent } = input;
  const inFlight = sent?.hash === spec.hash && input.listedAt <= sent.at;
  return { apply: !input.held && listed?.hash !== spec.hash && !inFlight, inFlight };
}

/** The app's workloads a cluster lists that the plan does not keep (`placementKey`s). */
export function workloadsToDelete(
  listed: readonly WorkloadStatus[],
  app: { namespace: string; name: string },
  cluster: string,
  keep: ReadonlySet<string>,
): WorkloadKey[] {
  return listed
    .filter(
      (w) =>
        w.key.namespace === app.namespace &&
        w.key.app === app.name &&
        !keep.has(placementKey(w.key.component, cluster)),
    )
    .map((w) => w.key);
}

/**
 * Placements that left the plan but could not be deleted: kept as draining
 * (with nothing ready) so the next reconcile, or the GC sweep, tries again.
 * `undeleted` holds `placementKey`s, with component `*` for a cluster whose
 * listing failed.
 */
export function undeletedPlacements(
  previousAll: readonly PlacementStatus[],
  keep: ReadonlySet<string>,
  undeleted: ReadonlySet<string>,
): PlacementStatus[] {
  return previousAll
    .filter((p) => {
      const k = placementKey(p.component, p.cluster);
      return !keep.has(k) && (undeleted.has(k) || undeleted.has(placementKey('*', p.cluster)));
    })
    .map((p) => ({ ...p, ready: 0, draining: true }));
}

/**
 * Garbage: a workload of an app that no longer exists, or one on a cluster
 * the app's status does not list once the status describes the current spec
 * (before that, the controller may be placing it right now).
 */
export function isOrphan(
  w: WorkloadStatus,
  cluster: string,
  app: Application | undefined,
): boolean {
  if (!app) return true;
  const placed = app.status?.placements?.some(
    (p) => p.cluster === cluster && p.component === w.key.component,
  );
  return placed !== true && app.status?.observedGeneration === app.metadata.generation;
}
