// application: Application -> placement -> one workload per (component, cluster)
// through the cluster's driver -> status aggregated back into the Application.
//
// Each reconcile, in this order:
//   1. read the app and the fleet from the informers (current state, not events),
//      the nodes of each cluster from its driver (cached until the Cluster
//      changes or this controller writes to it) and what each current workload
//      has scheduled;
//   2. place (the pure global scheduler; sticky: replicas running where they
//      are stay, only missing ones are placed, on clusters and nodes);
//   3. apply every planned workload (idempotent: drivers skip unchanged hashes);
//   4. delete workloads the plan no longer has (on a cluster that cannot be
//      reached, deletion is retried by later reconciles and the GC sweep);
//   5. read workload status back and write the app status if it changed.
// A crash between any two steps is repaired by the next reconcile.
import { createHash } from 'node:crypto';
import { ConflictError, NotFoundError, UnavailableError, YunjianError } from '../model/errors.ts';
import { canonical } from '../model/canonical.ts';
import { parseCpuMillis, parseMemoryBytes } from '../model/quantity.ts';
import type {
  Application,
  ApplicationStatus,
  Cloud,
  Cluster,
  Component,
  Condition,
  PlacementStatus,
  Site,
} from '../model/schema.ts';
import type { Store } from '../store/types.ts';
import type { ClusterDriver, NodeStatus, WorkloadSpec, WorkloadStatus } from '../drivers/types.ts';
import { fleetSnapshot, placeApplication } from '../scheduler/explain.ts';
import { componentArchitectures } from '../scheduler/request.ts';
import type { AppPlan } from '../scheduler/scheduler.ts';
import { isClusterReady } from './clusterstatus.ts';
import type { DriverProvider } from './drivers.ts';
import { Controller } from './runtime/controller.ts';
import { objectKey, type Informer } from './runtime/informer.ts';

export interface ApplicationControllerOptions {
  store: Store;
  apps: Informer<Application>;
  clusters: Informer<Cluster>;
  sites: Informer<Site>;
  /** Cloud list prices, for clusters that do not carry their own. */
  clouds?: Informer<Cloud>;
  drivers: DriverProvider;
  log: (line: string) => void;
  now?: () => number;
  /** How often a settled app is re-checked even without changes. */
  resyncSeconds?: number;
}

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
    cpuMillis: resources.cpu !== undefined ? parseCpuMillis(resources.cpu) : 0,
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
          },
        }
      : {}),
  };
  return { ...spec, hash: createHash('sha256').update(canonical(spec)).digest('hex').slice(0, 16) };
}

/** Bounds the re-placement rounds of one reconcile; the rest is left to retries. */
const MAX_UNREACHABLE_PER_RECONCILE = 64;

function appKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

const notRetryable = (err: unknown) => !(err instanceof YunjianError && err.retryable);

export function createApplicationController(
  o: ApplicationControllerOptions,
): Controller & { sweep(): Promise<number> } {
  const now = o.now ?? Date.now;
  const resyncMs = (o.resyncSeconds ?? 30) * 1000;
  // Nodes of each cluster, as its driver lists them. An entry is reused while
  // the Cluster's resourceVersion is the same and this controller has not
  // written to the cluster since; clusters whose driver lists no nodes are
  // scheduled from their status.
  const nodeCache = new Map<
    string,
    { version: string; nodes: Promise<NodeStatus[] | undefined> }
  >();
  const nodesReady = new Map<string, NodeStatus[] | undefined>();
  const touched = (name: string) => nodeCache.delete(name);
  async function refreshNodes(clusters: readonly Cluster[]): Promise<void> {
    const pending: Promise<void>[] = [];
    for (const c of clusters) {
      const name = c.metadata.name;
      const version = c.metadata.resourceVersion ?? '';
      let entry = nodeCache.get(name);
      if (entry?.version !== version) {
        const driver = isClusterReady(c) ? o.drivers.driverFor(c) : undefined;
        const listed = driver?.nodes
          ? driver.nodes().catch((err: unknown) => {
              if (notRetryable(err)) throw err;
              return undefined;
            })
          : Promise.resolve(undefined);
        entry = { version, nodes: listed };
        nodeCache.set(name, entry);
        // A failed listing is not kept: the next reconcile asks again.
        void listed.then((n) => {
          if (n === undefined && nodeCache.get(name) === entry) nodeCache.delete(name);
        });
      }
      pending.push(
        entry.nodes.then((n) => {
          nodesReady.set(name, n);
        }),
      );
    }
    await Promise.all(pending);
  }

  const driverOf = (name: string): [Cluster, ClusterDriver] | undefined => {
    const cluster = o.clusters.get(name);
    const driver = cluster ? o.drivers.driverFor(cluster) : undefined;
    return cluster && driver ? [cluster, driver] : undefined;
  };

  async function removeWorkloads(
    namespace: string,
    name: string,
    clusterNames: Iterable<string>,
    keep: Set<string>,
  ): Promise<void> {
    for (const cn of clusterNames) {
      const cd = driverOf(cn);
      if (!cd) continue;
      const listed = await cd[1].listWorkloads().catch((err: unknown) => {
        if (notRetryable(err)) throw err;
        return [] as WorkloadStatus[];
      });
      for (const w of listed) {
        if (
          w.key.namespace !== namespace ||
          w.key.app !== name ||
          keep.has(`${w.key.component}@${cn}`)
        )
          continue;
        await cd[1].deleteWorkload(w.key).catch((err: unknown) => {
          if (notRetryable(err)) throw err;
        });
        touched(cn);
      }
    }
  }

  async function reconcile(key: string) {
    const app = o.apps.get(key);
    const [namespace = 'default', name = key] = key.split('/');
    if (!app) {
      await removeWorkloads(
        namespace,
        name,
        o.clusters.list().map((c) => c.metadata.name),
        new Set(),
      );
      return;
    }
    const previous = new Map(
      (app.status?.placements ?? []).map((p) => [`${p.component}@${p.cluster}`, p]),
    );
    const listings = new Map<string, Promise<WorkloadStatus[] | undefined>>();
    const listFor = (cn: string, d: ClusterDriver) => {
      let p = listings.get(cn);
      if (!p) {
        p = d.listWorkloads().catch((err: unknown) => {
          if (notRetryable(err)) throw err;
          return undefined;
        });
        listings.set(cn, p);
      }
      return p;
    };

    // What runs now: the replicas each workload has on nodes, at most what the
    // scheduler assigned (pending replicas are placed again, maybe elsewhere).
    const current: Record<string, Record<string, number>> = {};
    for (const p of app.status?.placements ?? []) {
      const assigned = p.assigned ?? p.desired;
      const cd = driverOf(p.cluster);
      const listed = cd ? await listFor(p.cluster, cd[1]) : undefined;
      const ws = listed?.find(
        (w) =>
          w.key.component === p.component &&
          w.key.app === app.metadata.name &&
          w.key.namespace === namespace,
      );
      const running = listed === undefined ? assigned : Math.min(assigned, ws?.scheduled ?? 0);
      if (running > 0) (current[p.component] ??= {})[p.cluster] = running;
    }
    const clusters = o.clusters.list();
    await refreshNodes(clusters);

    // A cluster found unreachable while applying is treated as not Ready for the
    // rest of this reconcile and the app is placed again without it: the
    // controller often learns of an outage before cluster-status records it, and
    // waiting for that would stall failover on retries and backoff.
    const unreachable = new Set<string>();
    let plan: AppPlan;
    let keep: Set<string>;
    let placements: PlacementStatus[];
    placing: for (;;) {
      const snapshot = fleetSnapshot({
        clusters,
        sites: o.sites.list(),
        ...(o.clouds ? { clouds: o.clouds.list() } : {}),
        nodesOf: (c) => nodesReady.get(c.metadata.name),
        unreachable,
      });
      plan = placeApplication(snapshot, app, current);
      keep = new Set<string>();
      placements = [];
      for (const cp of plan.components) {
        const component = app.spec.components.find((c) => c.name === cp.component);
        if (!component) continue;
        for (const a of cp.assignments) {
          const cd = driverOf(a.cluster);
          if (!cd) continue;
          const [cluster, driver] = cd;
          const spec = workloadFor(app, component, cluster, a.replicas);
          keep.add(`${component.name}@${a.cluster}`);
          // Status first: a workload already at this hash needs no write, which
          // keeps a reconcile storm (a whole cloud flipping) within API limits.
          let ws = (await listFor(a.cluster, driver))?.find(
            (w) =>
              w.key.component === component.name &&
              w.key.app === app.metadata.name &&
              w.key.namespace === namespace,
          );
          if (ws?.hash !== spec.hash) {
            try {
              touched(a.cluster);
              await driver.applyWorkload(spec);
            } catch (err) {
              if (
                !(err instanceof UnavailableError) ||
                unreachable.size >= MAX_UNREACHABLE_PER_RECONCILE
              )
                throw err;
              unreachable.add(a.cluster);
              continue placing;
            }
            ws = undefined; // status predates the apply; the next reconcile reads it
          }
          const prev = previous.get(`${component.name}@${a.cluster}`);
          placements.push({
            component: component.name,
            cluster: a.cluster,
            cloud: cluster.spec.cloud,
            site: cluster.spec.site,
            desired: spec.replicas,
            ready: ws ? ws.ready : Math.min(prev?.ready ?? 0, spec.replicas),
            ...(spec.replicas !== a.replicas ? { assigned: a.replicas } : {}),
          });
        }
      }
      break;
    }
    const previouslyUsed = new Set((app.status?.placements ?? []).map((p) => p.cluster));
    await removeWorkloads(namespace, app.metadata.name, previouslyUsed, keep);

    const desired = placements.reduce((n, p) => n + p.desired, 0);
    const ready = placements.reduce((n, p) => n + p.ready, 0);
    const unplaced = plan.components.reduce((n, c) => n + c.unplaced, 0);
    const wanted = app.spec.components.reduce((n, c) => n + c.replicas, 0);
    const cond: Omit<Condition, 'lastTransitionTime'> =
      unplaced > 0
        ? {
            type: 'Ready',
            status: 'False',
            reason: 'Unschedulable',
            message: `${unplaced} of ${wanted} replicas have no feasible cluster`,
          }
        : ready >= desired
          ? {
              type: 'Ready',
              status: 'True',
              reason: 'AllReplicasReady',
              message: `${ready}/${desired} replicas ready`,
            }
          : {
              type: 'Ready',
              status: 'False',
              reason: 'Progressing',
              message: `${ready}/${desired} replicas ready`,
            };
    const oldCond = app.status?.conditions?.find((c) => c.type === 'Ready');
    const sameCond = oldCond?.status === cond.status && oldCond.reason === cond.reason;
    const status: ApplicationStatus = {
      observedGeneration: app.metadata.generation ?? 1,
      placements,
      replicas: { desired, ready },
      conditions: [
        {
          ...cond,
          lastTransitionTime: sameCond
            ? (oldCond.lastTransitionTime ?? new Date(now()).toISOString())
            : new Date(now()).toISOString(),
        },
      ],
      reasons: plan.reasons,
    };
    if (canonical(status) !== canonical(app.status ?? {})) {
      try {
        await o.store.updateStatus(
          { ...app, status },
          { expectedResourceVersion: app.metadata.resourceVersion ?? null },
        );
      } catch (err) {
        // A newer spec is on its way through the informer and will re-enqueue us.
        if (!(err instanceof ConflictError || err instanceof NotFoundError)) throw err;
      }
    }
    return { requeueAfterMs: cond.status === 'True' ? resyncMs : 1000 };
  }

  const controller = new Controller('application', reconcile, o.log, 8);
  o.apps.addHandlers({
    onAdd: (a) => controller.enqueue(objectKey(a)),
    onUpdate: (a, b) => {
      if (a.metadata.generation !== b.metadata.generation) controller.enqueue(objectKey(b));
    },
    onDelete: (a) => controller.enqueue(objectKey(a)),
  });
  // A cluster turning ready or not ready, or joining, can change every app's plan.
  const enqueueAll = () => o.apps.list().forEach((a) => controller.enqueue(objectKey(a)));
  o.clusters.addHandlers({
    onAdd: enqueueAll,
    onUpdate: (a, b) => {
      if (isClusterReady(a) !== isClusterReady(b)) enqueueAll();
    },
    onDelete: enqueueAll,
  });

  /**
   * Garbage collection for what a crash can leave behind: workloads of apps that
   * no longer exist, or on clusters the app's status does not list. Returns the
   * number deleted.
   */
  async function sweep(): Promise<number> {
    let deleted = 0;
    for (const cluster of o.clusters.list()) {
      const driver = o.drivers.driverFor(cluster);
      if (!driver) continue;
      const listed = await driver.listWorkloads().catch(() => [] as WorkloadStatus[]);
      for (const w of listed) {
        const app = o.apps.get(appKey(w.key.namespace, w.key.app));
        const placed = app?.status?.placements?.some(
          (p) => p.cluster === cluster.metadata.name && p.component === w.key.component,
        );
        if (app && (placed || app.status?.observedGeneration !== app.metadata.generation)) continue;
        await driver.deleteWorkload(w.key).catch(() => undefined);
        deleted++;
      }
    }
    return deleted;
  }
  return Object.assign(controller, { sweep });
}
