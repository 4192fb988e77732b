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
import {
  COLOCATION_DEFAULTS,
  DEFAULT_PROGRESS_DEADLINE_SECONDS,
  DEFAULT_STABILIZATION_SECONDS,
  type Application,
  type ApplicationStatus,
  type Cloud,
  type Cluster,
  type Component,
  type PlacementStatus,
  type ResourceAmounts,
  type Site,
} from '../model/schema.ts';
import type { Store } from '../store/types.ts';
import type { ClusterDriver, NodeStatus, WorkloadSpec, WorkloadStatus } from '../drivers/types.ts';
import { fleetSnapshot, settlingClusters } from './snapshot.ts';
import {
  colocationReservation,
  componentArchitectures,
  requestedCpuMillis,
} from '../scheduler/request.ts';
import { placeApplication, type AppPlan } from '../scheduler/index.ts';
import { isClusterReady, readyCondition } from './clusterstatus.ts';
import { applicationReadyCondition } from './condition.ts';
import { nextReservation, UsageWindows, type ComponentUsage } from './colocation.ts';
import type { EventRecorder } from './events.ts';
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
  events?: EventRecorder;
  /** Colocated apps: at most one usage sample per component this often (10 s). */
  usageSampleSeconds?: number;
}

/** Set (to any new value, e.g. a timestamp) to ask for a fresh placement: `yunjian rebalance app`. */
export const REBALANCE_ANNOTATION = 'yunjian.io/rebalance';

interface EffectivePolicy {
  enabled: boolean;
  /** Extra wait after the cluster is NotReady before this app's replicas move. */
  graceMs: number;
  failback: boolean;
  stabilizationMs: number;
}

function failoverPolicy(app: Application): EffectivePolicy {
  const f = app.spec.failover;
  return {
    enabled: f?.enabled ?? true,
    graceMs: (f?.gracePeriodSeconds ?? 0) * 1000,
    failback: (f?.enabled ?? true) && (f?.failback?.enabled ?? true),
    stabilizationMs: (f?.failback?.stabilizationSeconds ?? DEFAULT_STABILIZATION_SECONDS) * 1000,
  };
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

/** The plan the app's status records (the steady-state fast path of reconcile). */
function planOfStatus(app: Application, active: readonly PlacementStatus[]): AppPlan {
  return {
    app: app.metadata.name,
    components: app.spec.components.map((c) => ({
      component: c.name,
      assignments: active
        .filter((p) => p.component === c.name)
        .map((p) => ({
          cluster: p.cluster,
          clusterIndex: -1,
          replicas: p.assigned ?? p.desired,
          kept: p.assigned ?? p.desired,
          nodes: new Int32Array(0),
        })),
      unplaced: 0,
    })),
    reasons: app.status?.reasons ?? [],
    explanation: [],
  };
}

/** True when every draining placement is on a cluster that is not Ready (nothing to poll for). */
function onlyUndeletable(placements: readonly PlacementStatus[], o: ApplicationControllerOptions) {
  return placements.every((p) => {
    if (p.draining !== true) return p.assigned === undefined || p.desired <= p.assigned;
    const cluster = o.clusters.get(p.cluster);
    return cluster !== undefined && !isClusterReady(cluster);
  });
}

/** What a cluster can still take: allocatable minus allocated. */
function free(c: Cluster): ResourceAmounts | undefined {
  const total = c.status?.allocatable ?? c.status?.capacity;
  const used = c.status?.allocated;
  if (!total) return undefined;
  return {
    cpu: total.cpu - (used?.cpu ?? 0),
    memory: total.memory - (used?.memory ?? 0),
    gpu: total.gpu - (used?.gpu ?? 0),
    pods: total.pods - (used?.pods ?? 0),
  };
}

/** True when any resource is larger after than before. */
function grew(before: ResourceAmounts | undefined, after: ResourceAmounts | undefined): boolean {
  if (!after) return false;
  if (!before) return true;
  return (
    after.cpu > before.cpu ||
    after.memory > before.memory ||
    after.gpu > before.gpu ||
    after.pods > before.pods
  );
}

/** How long replicas may stay unplaced on their cluster before they are placed elsewhere. */
const PENDING_GRACE_MS = 5000;

/** How long a cluster's workload listing serves every app's reconcile. */
const LISTING_TTL_MS = 500;
/** How long a node listing is reused after this controller changed the cluster. */
const NODES_TTL_MS = 1000;

interface Listing {
  at: number;
  items: Promise<WorkloadStatus[] | undefined>;
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
  // the Cluster's resourceVersion is the same and, after this controller wrote
  // to the cluster, for at most NODES_TTL_MS more (placing from a view a moment
  // old at worst leaves a replica pending, which the next pass places again);
  // clusters whose driver lists no nodes are scheduled from their status.
  const nodeCache = new Map<
    string,
    { version: string; at: number; dirty: boolean; nodes: Promise<NodeStatus[] | undefined> }
  >();
  const nodesReady = new Map<string, NodeStatus[] | undefined>();
  const sampleMs = (o.usageSampleSeconds ?? 10) * 1000;
  const usage = new UsageWindows(sampleMs);
  const listingCache = new Map<string, Listing>();
  /**
   * Bumped whenever a cluster joins, leaves or changes readiness: a plan made
   * in an older epoch may be improved (more clusters feasible now), so the
   * steady-state fast path needs the app's last plan to be from this one.
   */
  let fleetEpoch = 0;
  const plannedInEpoch = new Map<string, number>();
  /**
   * When an app with a spread minimum must be planned again although its
   * epoch did not move: a cluster it could re-spread to stops settling then.
   */
  const spreadReplanAt = new Map<string, number>();
  /** Since when each cluster/namespace/app/component has had fewer replicas placed than assigned. */
  const pendingSince = new Map<string, number>();
  /** The last hash this controller applied per cluster/namespace/app/component, and when. */
  const applied = new Map<string, { hash: string; at: number }>();
  const touched = (name: string) => {
    const entry = nodeCache.get(name);
    if (entry) entry.dirty = true;
  };
  async function refreshNodes(clusters: readonly Cluster[]): Promise<void> {
    const pending: Promise<void>[] = [];
    const t = now();
    for (const c of clusters) {
      const name = c.metadata.name;
      const version = c.metadata.resourceVersion ?? '';
      let entry = nodeCache.get(name);
      if (entry?.version !== version || (entry.dirty && t - entry.at > NODES_TTL_MS)) {
        // A cluster that is not Ready keeps the nodes it last listed: replicas
        // held there through a grace period stay placeable on them.
        const driver = isClusterReady(c) ? o.drivers.driverFor(c) : undefined;
        const listed = driver?.nodes
          ? driver.nodes().catch((err: unknown) => {
              if (notRetryable(err)) throw err;
              return undefined;
            })
          : (entry?.nodes ?? Promise.resolve(undefined));
        const fresh = { version, at: t, dirty: false, nodes: listed };
        entry = fresh;
        nodeCache.set(name, fresh);
        // A failed listing is not kept: the next reconcile asks again.
        void listed.then((n) => {
          if (n === undefined && nodeCache.get(name) === fresh) nodeCache.delete(name);
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

  /**
   * Deletes the app's workloads on these clusters except `keep`
   * (component@cluster); returns those that could not be deleted because their
   * cluster is unreachable (listing or deleting failed with a retryable error).
   */
  async function removeWorkloads(
    namespace: string,
    name: string,
    clusterNames: Iterable<string>,
    keep: Set<string>,
  ): Promise<Set<string>> {
    const undeleted = new Set<string>();
    for (const cn of clusterNames) {
      const cd = driverOf(cn);
      if (!cd) continue;
      const listed = await cd[1].listWorkloads().catch((err: unknown) => {
        if (notRetryable(err)) throw err;
        return undefined;
      });
      if (listed === undefined) {
        undeleted.add(`*@${cn}`);
        continue;
      }
      for (const w of listed) {
        const k = `${w.key.component}@${cn}`;
        if (w.key.namespace !== namespace || w.key.app !== name || keep.has(k)) continue;
        await cd[1].deleteWorkload(w.key).then(
          () => {
            touched(cn);
            applied.delete(`${cn}/${namespace}/${name}/${w.key.component}`);
          },
          (err: unknown) => {
            if (notRetryable(err)) throw err;
            undeleted.add(k);
          },
        );
      }
    }
    return undeleted;
  }

  async function reconcile(key: string) {
    const app = o.apps.get(key);
    const [namespace = 'default', name = key] = key.split('/');
    if (!app) {
      for (const m of [pendingSince, applied])
        for (const k of m.keys()) if (k.includes(`/${key}/`)) m.delete(k);
      plannedInEpoch.delete(key);
      spreadReplanAt.delete(key);
      usage.forget(`${key}/`);
      await removeWorkloads(
        namespace,
        name,
        o.clusters.list().map((c) => c.metadata.name),
        new Set(),
      );
      return;
    }
    const t = now();
    const epoch = fleetEpoch;
    const policy = failoverPolicy(app);
    const ref = { kind: 'Application', namespace, name };
    const notes: { type: 'Normal' | 'Warning'; reason: string; message: string }[] = [];
    /** When this app must be looked at again for a timer (grace, stabilisation). */
    let wakeAtMs = Infinity;
    // One view of the fleet for the whole pass: the informer may change under
    // the awaits below, and a cluster seen Ready by the failover decision but
    // NotReady by the scheduler would lose its replicas without a failover.
    const clusters = o.clusters.list();
    const clusterNamed = new Map(clusters.map((c) => [c.metadata.name, c]));

    const previousAll = app.status?.placements ?? [];
    const previous = previousAll.filter((p) => p.draining !== true);
    // Workload listings: one per cluster per pass, shared between passes for
    // LISTING_TTL_MS, so a thousand apps polling one cluster cost it one list.
    const listings = new Map<string, Listing>();
    const listFor = (cn: string, d: ClusterDriver): Listing => {
      let l = listings.get(cn) ?? listingCache.get(cn);
      if (!l || now() - l.at > LISTING_TTL_MS) {
        l = {
          at: now(),
          items: d.listWorkloads().catch((err: unknown) => {
            if (notRetryable(err)) throw err;
            return undefined;
          }),
        };
        listingCache.set(cn, l);
      }
      listings.set(cn, l);
      return l;
    };
    const statusOf = async (component: string, cn: string) => {
      const cd = driverOf(cn);
      const l = cd ? listFor(cn, cd[1]) : undefined;
      const listed = await l?.items;
      return {
        listed: listed !== undefined,
        listedAt: l?.at ?? 0,
        ws: listed?.find(
          (w) =>
            w.key.component === component &&
            w.key.app === app.metadata.name &&
            w.key.namespace === namespace,
        ),
      };
    };

    // Which NotReady clusters keep this app's replicas (failover off, or still in
    // the app's grace period) and which lose them now (failover).
    const held = new Set<string>();
    const failedOver = new Set<string>();
    for (const p of previous) {
      const cluster = clusterNamed.get(p.cluster);
      if (!cluster || isClusterReady(cluster)) continue;
      const since = Date.parse(readyCondition(cluster.status)?.lastTransitionTime ?? '') || t;
      if (!policy.enabled || t < since + policy.graceMs) {
        held.add(p.cluster);
        if (policy.enabled) wakeAtMs = Math.min(wakeAtMs, since + policy.graceMs);
      } else failedOver.add(p.cluster);
    }

    // What runs now: the replicas each workload has on nodes, at most what the
    // scheduler assigned. Replicas a cluster has not placed count as placed for
    // PENDING_GRACE_MS (a driver reports them a moment after an apply: an agent
    // on its next heartbeat, a listing shared between passes a little later);
    // pending longer, they are placed again, maybe elsewhere.
    const current: Record<string, Record<string, number>> = {};
    for (const p of previous) {
      const assigned = p.assigned ?? p.desired;
      const { listed, ws } = await statusOf(p.component, p.cluster);
      const cluster = clusterNamed.get(p.cluster);
      if (!cluster || (!isClusterReady(cluster) && !held.has(p.cluster))) continue;
      const pendingKey = `${p.cluster}/${key}/${p.component}`;
      let running = assigned;
      if (listed && !held.has(p.cluster) && (ws?.scheduled ?? 0) < assigned) {
        const since = pendingSince.get(pendingKey) ?? t;
        pendingSince.set(pendingKey, since);
        if (t - since >= PENDING_GRACE_MS) running = ws?.scheduled ?? 0;
        else wakeAtMs = Math.min(wakeAtMs, since + PENDING_GRACE_MS);
      } else pendingSince.delete(pendingKey);
      if (running > 0) (current[p.component] ??= {})[p.cluster] = running;
    }

    // Failback and rebalance change what counts as current before placing:
    // rebalance forgets it (a fresh plan), failback gives displaced replicas back
    // to their cluster once it has been Ready for the stabilisation window.
    let displaced = [...(app.status?.displaced ?? [])];
    const rebalanceRequest = app.metadata.annotations?.[REBALANCE_ANNOTATION];
    const rebalancing =
      rebalanceRequest !== undefined && rebalanceRequest !== app.status?.rebalanced;
    let planFrom = current;
    if (rebalancing) {
      planFrom = {};
      displaced = [];
      notes.push({
        type: 'Normal',
        reason: 'Rebalance',
        message: `placing every replica afresh (requested ${rebalanceRequest})`,
      });
    } else if (displaced.length > 0) {
      planFrom = structuredClone(current);
      const kept: typeof displaced = [];
      for (const d of displaced) {
        const cluster = clusterNamed.get(d.cluster);
        if (!cluster || !policy.failback) continue;
        const ready = readyCondition(cluster.status);
        const stableSince = Date.parse(ready?.lastTransitionTime ?? '') || t;
        if (ready?.status !== 'True' || ready.reason === 'ContactLost') {
          kept.push(d);
          continue;
        }
        if (t < stableSince + policy.stabilizationMs) {
          wakeAtMs = Math.min(wakeAtMs, stableSince + policy.stabilizationMs);
          kept.push(d);
          continue;
        }
        const comp = (planFrom[d.component] ??= {});
        comp[d.cluster] = (comp[d.cluster] ?? 0) + d.replicas;
        let give = d.replicas;
        for (const r of d.replacedBy) {
          const k = Math.min(comp[r] ?? 0, give);
          if (k === 0) continue;
          comp[r] = (comp[r] ?? 0) - k;
          if (comp[r] === 0) delete comp[r];
          give -= k;
        }
        notes.push({
          type: 'Normal',
          reason: 'Failback',
          message: `${d.replicas} replicas of ${d.component} return to ${d.cluster} (Ready since ${ready.lastTransitionTime ?? 'now'})`,
        });
      }
      displaced = kept;
    }

    // The scheduler restores a spread minimum only onto settled clusters; the
    // app is planned again when the first settling one settles.
    const { settling, settlesAtMs } = settlingClusters(app, clusters, t);
    const replanAtMs = spreadReplanAt.get(key) ?? Infinity;

    // Steady state: the spec was placed already, every placement's cluster is
    // Ready and runs what it was assigned, nothing is unplaced, and no failover,
    // failback or rebalance is due. The scheduler would keep exactly this
    // (placement is sticky), so the plan is the status itself and no snapshot
    // of the fleet is built. Most reconciles during a rollout are these status
    // polls, which is what keeps thousands of apps cheap.
    let steady =
      !rebalancing &&
      planFrom === current &&
      held.size === 0 &&
      failedOver.size === 0 &&
      previous.length > 0 &&
      app.status?.observedGeneration === app.metadata.generation &&
      app.status?.conditions?.[0]?.reason !== 'Unschedulable' &&
      previous.every((p) => current[p.component]?.[p.cluster] === (p.assigned ?? p.desired)) &&
      plannedInEpoch.get(key) === epoch &&
      replanAtMs > t;

    // A cluster found unreachable while applying is treated as not Ready for the
    // rest of this reconcile and the app is placed again without it: the
    // controller often learns of an outage before cluster-status records it, and
    // waiting for that would stall failover on retries and backoff.
    const unreachable = new Set<string>();
    let plan: AppPlan;
    let keep: Set<string>;
    let placements: PlacementStatus[];
    let nodesRefreshed = false;
    const prevOf = new Map(previous.map((p) => [`${p.component}@${p.cluster}`, p]));
    placing: for (;;) {
      if (steady) plan = planOfStatus(app, previous);
      else {
        if (!nodesRefreshed) await refreshNodes(clusters);
        nodesRefreshed = true;
        const snapshot = fleetSnapshot({
          clusters,
          sites: o.sites.list(),
          ...(o.clouds ? { clouds: o.clouds.list() } : {}),
          nodesOf: (c) => nodesReady.get(c.metadata.name),
          unreachable,
          held,
          settling,
        });
        plan = placeApplication(snapshot, app, planFrom);
        plannedInEpoch.set(key, epoch);
        if (settlesAtMs < Infinity) spreadReplanAt.set(key, settlesAtMs);
        else spreadReplanAt.delete(key);
      }
      keep = new Set<string>();
      placements = [];
      for (const cp of plan.components) {
        const component = app.spec.components.find((c) => c.name === cp.component);
        if (!component) continue;
        const targets = new Map<string, number>();
        for (const a of cp.assignments) targets.set(a.cluster, a.replicas);

        // Make before break: while any assignment of the component has fewer
        // ready replicas than it should, every cluster losing replicas of it
        // keeps them (draining, or surging at its old count). Readiness is
        // judged on the whole component, not on what changed since the last
        // pass, so the hold survives the status write between passes.
        const prevHere = previous.filter((p) => p.component === component.name);
        let replacementsReady = true;
        for (const a of cp.assignments) {
          const cd = driverOf(a.cluster);
          if (!cd || held.has(a.cluster)) continue;
          const want = workloadFor(app, component, cd[0], a.replicas).replicas;
          const { ws } = await statusOf(component.name, a.cluster);
          if ((ws?.ready ?? 0) < want) replacementsReady = false;
        }

        for (const a of cp.assignments) {
          const cd = driverOf(a.cluster);
          if (!cd) continue;
          const [cluster, driver] = cd;
          const prev = prevOf.get(`${component.name}@${a.cluster}`);
          // A surge keeps the count that runs now (`desired` of the last pass).
          const target = workloadFor(app, component, cluster, a.replicas);
          const surge = !replacementsReady && prev !== undefined && prev.desired > target.replicas;
          const spec = surge ? workloadFor(app, component, cluster, prev.desired) : target;
          keep.add(`${component.name}@${a.cluster}`);
          const seen = await statusOf(component.name, a.cluster);
          let { ws } = seen;
          const appliedKey = `${a.cluster}/${key}/${component.name}`;
          const sent = applied.get(appliedKey);
          // A listing older than our last apply of this hash cannot show it yet.
          const inFlight = sent?.hash === spec.hash && seen.listedAt <= sent.at;
          // A held cluster cannot be written to; its workload stays as it was.
          if (!held.has(a.cluster) && ws?.hash !== spec.hash && !inFlight) {
            // Status first: a workload already at this hash needs no write, which
            // keeps a reconcile storm (a whole cloud flipping) within API limits.
            try {
              touched(a.cluster);
              applied.set(appliedKey, { hash: spec.hash, at: now() });
              await driver.applyWorkload(spec);
            } catch (err) {
              applied.delete(appliedKey);
              if (
                !(err instanceof UnavailableError) ||
                unreachable.size >= MAX_UNREACHABLE_PER_RECONCILE
              )
                throw err;
              // Replicas already there wait out the cluster's grace period (the
              // cluster-status controller decides when it is NotReady); new
              // replicas do not wait on a cluster that cannot be reached.
              steady = false;
              // Marking a cluster unreachable drops everything the app runs
              // there, so only a cluster it does not run on yet is; the rest is
              // held as it was until cluster-status decides.
              if (previous.some((p) => p.cluster === a.cluster)) held.add(a.cluster);
              else unreachable.add(a.cluster);
              continue placing;
            }
            ws = undefined; // status predates the apply; the next reconcile reads it
          } else if (inFlight && ws?.hash !== spec.hash) ws = undefined;
          placements.push({
            component: component.name,
            cluster: a.cluster,
            cloud: cluster.spec.cloud,
            site: cluster.spec.site,
            desired: spec.replicas,
            ready: ws ? ws.ready : Math.min(prev?.ready ?? 0, spec.replicas),
            ...(spec.replicas !== a.replicas ? { assigned: a.replicas } : {}),
            ...(ws?.endpoints?.length ? { endpoints: ws.endpoints } : {}),
          });
        }
        // Clusters the component leaves: kept as draining until the
        // replacements are ready (and while they cannot be deleted).
        const draining = [
          ...prevHere.filter((p) => !targets.has(p.cluster)),
          ...previousAll.filter(
            (p) => p.draining === true && p.component === component.name && !targets.has(p.cluster),
          ),
        ];
        for (const p of draining) {
          if (replacementsReady) continue;
          keep.add(`${component.name}@${p.cluster}`);
          const { ws } = await statusOf(component.name, p.cluster);
          // What a NotReady cluster last reported is not evidence of anything.
          const live = clusterNamed.get(p.cluster);
          placements.push({
            ...p,
            ready: live && isClusterReady(live) ? (ws?.ready ?? 0) : 0,
            draining: true,
            ...(ws?.endpoints?.length ? { endpoints: ws.endpoints } : {}),
          });
        }
      }
      break;
    }

    for (const cp of plan.components) {
      const moves = new Map<string, number>();
      for (const m of cp.spreadMoves ?? []) {
        const route = `${m.from} to ${m.to}`;
        moves.set(route, (moves.get(route) ?? 0) + 1);
      }
      for (const [route, n] of moves)
        notes.push({
          type: 'Normal',
          reason: 'Respread',
          message: `${n} replica${n === 1 ? '' : 's'} of ${cp.component} move from ${route} to meet the spread minimum`,
        });
    }

    // Failover bookkeeping: what left each failed cluster, and where it went.
    if (failedOver.size > 0) {
      for (const cn of failedOver) {
        for (const p of previous.filter((x) => x.cluster === cn)) {
          // Where they went: every cluster the plan gives more of the component
          // than it had, in the plan's order (failback takes them back there).
          const planned = plan.components.find((c) => c.component === p.component);
          const had = new Map(
            previous
              .filter((x) => x.component === p.component)
              .map((x) => [x.cluster, x.assigned ?? x.desired]),
          );
          const replacedBy = (planned?.assignments ?? [])
            .filter((a) => a.cluster !== cn && a.replicas > (had.get(a.cluster) ?? 0))
            .map((a) => a.cluster);
          const replicas = p.assigned ?? p.desired;
          if (
            policy.failback &&
            !displaced.some((d) => d.component === p.component && d.cluster === cn)
          )
            displaced.push({
              component: p.component,
              cluster: cn,
              replicas,
              replacedBy,
              since: new Date(t).toISOString(),
            });
          notes.push({
            type: 'Warning',
            reason: 'Failover',
            message: `${replicas} replicas of ${p.component} leave NotReady cluster ${cn}${replacedBy.length ? ` for ${replacedBy.join(', ')}` : ''}`,
          });
        }
      }
    }

    // Deletion failures on an unreachable cluster keep the placement as draining,
    // so the next reconcile (or the GC sweep) tries again.
    const previouslyUsed = new Set(previousAll.map((p) => p.cluster));
    const undeleted = await removeWorkloads(namespace, app.metadata.name, previouslyUsed, keep);
    for (const p of previousAll) {
      const k = `${p.component}@${p.cluster}`;
      if (!keep.has(k) && (undeleted.has(k) || undeleted.has(`*@${p.cluster}`)))
        placements.push({ ...p, ready: 0, draining: true });
    }

    const active = placements.filter((p) => p.draining !== true);
    const drainingCount = placements.length - active.length;
    // Per component, ready replicas anywhere (draining and surging ones serve
    // too) count up to the target the plan assigns.
    let desired = 0;
    let ready = 0;
    for (const c of app.spec.components) {
      const target = active
        .filter((p) => p.component === c.name)
        .reduce((n, p) => n + (p.assigned ?? p.desired), 0);
      const up = placements.filter((p) => p.component === c.name).reduce((n, p) => n + p.ready, 0);
      desired += target;
      ready += Math.min(up, target);
    }
    const migrating =
      drainingCount > 0 || active.some((p) => p.assigned !== undefined && p.desired > p.assigned);
    const unplaced = plan.components.reduce((n, c) => n + c.unplaced, 0);
    const wanted = app.spec.components.reduce((n, c) => n + c.replicas, 0);
    const oldCond = app.status?.conditions?.find((c) => c.type === 'Ready');
    const cond = applicationReadyCondition(
      {
        unplaced,
        wanted,
        ready,
        desired,
        draining: drainingCount,
        specChanged: app.status?.observedGeneration !== app.metadata.generation,
      },
      oldCond,
      app.status?.replicas?.ready ?? 0,
      t,
      app.spec.progressDeadlineSeconds ?? DEFAULT_PROGRESS_DEADLINE_SECONDS,
    );
    if (cond.reason === 'ProgressDeadlineExceeded' && oldCond?.reason !== cond.reason)
      notes.push({
        type: 'Warning',
        reason: 'ProgressDeadlineExceeded',
        message: cond.message ?? '',
      });
    const colocation = await learnUsage(app, key, active, statusOf, t, plan);
    for (const message of colocation?.changes ?? [])
      notes.push({ type: 'Normal', reason: 'Reserved', message });
    const status: ApplicationStatus = {
      observedGeneration: app.metadata.generation ?? 1,
      placements,
      replicas: { desired, ready },
      conditions: [cond],
      reasons: plan.reasons,
      ...(displaced.length > 0 ? { displaced } : {}),
      ...(rebalanceRequest !== undefined
        ? { rebalanced: rebalancing ? rebalanceRequest : (app.status?.rebalanced ?? '') }
        : {}),
      ...(colocation !== undefined ? { colocation: colocation.status } : {}),
    };
    if (canonical(status) !== canonical(app.status ?? {})) {
      try {
        await o.store.updateStatus(
          { ...app, status },
          { expectedResourceVersion: app.metadata.resourceVersion ?? null },
        );
      } catch (err) {
        // A newer spec is on its way through the informer and will re-enqueue us;
        // the events of this pass are left for the pass that succeeds.
        if (err instanceof ConflictError || err instanceof NotFoundError) return;
        throw err;
      }
      for (const n of notes) {
        const error = await o.events?.record(ref, n.type, n.reason, n.message);
        if (error) o.log(`application: event for ${key}: ${error.message}`);
      }
    }
    // Draining that waits on replacements is polled; draining that waits on an
    // unreachable cluster is retried on resync or when the cluster turns Ready.
    // Endpoints show up a moment after readiness (an ingress starts listening);
    // traffic management needs them, so keep polling until every ready
    // placement of a component with ports has them.
    const withPorts = new Set(
      app.spec.components.filter((c) => (c.ports ?? []).length > 0).map((c) => c.name),
    );
    const endpointsPending = active.some(
      (p) => p.ready > 0 && withPorts.has(p.component) && p.endpoints === undefined,
    );
    const waiting =
      cond.status !== 'True' ||
      endpointsPending ||
      (colocation?.changes.length ?? 0) > 0 ||
      (migrating && !onlyUndeletable(placements, o));
    // A colocated app is looked at once per sample interval: that is when it learns.
    const settledMs = colocation !== undefined ? Math.min(resyncMs, sampleMs) : resyncMs;
    wakeAtMs = Math.min(wakeAtMs, spreadReplanAt.get(key) ?? Infinity);
    return { requeueAfterMs: Math.max(50, Math.min(waiting ? 500 : settledMs, wakeAtMs - t)) };
  }

  /**
   * Colocated apps: one per-replica cpu sample per component from what its
   * ready replicas use (where the drivers measure it), and the reservations
   * that follow. `changes` says which reservations moved: the workloads still
   * run the old ones until the next pass applies them.
   */
  async function learnUsage(
    app: Application,
    key: string,
    active: readonly PlacementStatus[],
    statusOf: (component: string, cluster: string) => Promise<{ ws?: WorkloadStatus | undefined }>,
    t: number,
    plan: AppPlan,
  ): Promise<
    { status: NonNullable<ApplicationStatus['colocation']>; changes: string[] } | undefined
  > {
    const policy = app.spec.placement?.colocation;
    if (policy === undefined) return undefined;
    const before = app.status?.colocation;
    const changes: string[] = [];
    const components: ComponentUsage[] = [];
    for (const c of app.spec.components) {
      let used = 0;
      let replicas = 0;
      for (const p of active) {
        if (p.component !== c.name) continue;
        const { ws } = await statusOf(c.name, p.cluster);
        if (ws?.cpuUsageMillis === undefined || ws.ready === 0) continue;
        used += ws.cpuUsageMillis;
        replicas += ws.ready;
      }
      const windowKey = `${key}/${c.name}`;
      if (replicas > 0) usage.record(windowKey, t, Math.round(used / replicas));
      const samples = usage.samples(windowKey);
      const requestMillis = requestedCpuMillis(c);
      const was = before?.components.find((x) => x.component === c.name);
      const next = nextReservation({
        requestMillis,
        ...(was !== undefined ? { reservedMillis: was.reservedCpuMillis } : {}),
        samples,
        policy,
      });
      const previous = was?.reservedCpuMillis ?? requestMillis;
      if (next.reservedMillis !== previous)
        changes.push(
          `${c.name} reserves ${next.reservedMillis}m per replica (was ${previous}m, request ${requestMillis}m): p${policy.percentile ?? COLOCATION_DEFAULTS.percentile} of ${samples.length} samples is ${next.predictedMillis ?? 0}m`,
        );
      const latest = samples[samples.length - 1];
      components.push({
        component: c.name,
        samples: samples.length,
        ...(latest !== undefined ? { observedCpuMillis: latest } : {}),
        ...(next.predictedMillis !== undefined ? { predictedCpuMillis: next.predictedMillis } : {}),
        reservedCpuMillis: next.reservedMillis,
        requestCpuMillis: requestMillis,
      });
    }
    // A plan from the status (steady state) placed nothing: the last risk stands.
    const risk =
      plan.risk !== undefined && plan.risk.nodes > 0
        ? plan.risk.maxOverloadProbability
        : before?.maxOverloadProbability;
    return {
      status: { components, ...(risk !== undefined ? { maxOverloadProbability: risk } : {}) },
      changes,
    };
  }

  // Another control plane may have led in between: what this one applied,
  // listed, planned or saw pending then proves nothing now. Learnt usage
  // stays (it describes the workloads, not who acted on them).
  const forgetTerm = () => {
    for (const m of [
      nodeCache,
      nodesReady,
      listingCache,
      plannedInEpoch,
      spreadReplanAt,
      pendingSince,
      applied,
    ])
      m.clear();
  };
  const controller = new Controller('application', reconcile, o.log, 8, forgetTerm);
  o.apps.addHandlers({
    onAdd: (a) => controller.enqueue(objectKey(a)),
    onUpdate: (a, b) => {
      if (
        a.metadata.generation !== b.metadata.generation ||
        a.metadata.annotations?.[REBALANCE_ANNOTATION] !==
          b.metadata.annotations?.[REBALANCE_ANNOTATION]
      )
        controller.enqueue(objectKey(b));
    },
    onDelete: (a) => controller.enqueue(objectKey(a)),
  });
  // A cluster turning ready or not ready, or joining, can change every app's plan.
  const enqueueAll = () => {
    fleetEpoch++;
    o.apps.list().forEach((a) => controller.enqueue(objectKey(a)));
  };
  o.clusters.addHandlers({
    onAdd: enqueueAll,
    onUpdate: (a, b) => {
      if (isClusterReady(a) !== isClusterReady(b)) enqueueAll();
      // Capacity that appears (nodes added, replicas gone) is offered to the
      // apps that could not be placed: the automatic half of rebalance.
      else if (grew(free(a), free(b)))
        for (const app of o.apps.list())
          if (app.status?.conditions?.[0]?.reason === 'Unschedulable')
            controller.enqueue(objectKey(app));
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
