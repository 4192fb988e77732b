// application: Application -> placement -> one workload per (component, cluster)
// through the cluster's driver -> status aggregated back into the Application.
//
// This file is the controller: it reads the informers, calls the drivers,
// writes the store and records events, and keeps what it remembers between
// passes. Every decision is a pure function of plain values in the modules
// beside it. Each reconcile, in this order:
//   1. read the app and one view of the fleet from the informers (current
//      state, not events);
//   2. failover (failover.ts): which NotReady clusters hold the app's replicas
//      and which lose them;
//   3. what runs now (running.ts), from what each workload has scheduled;
//   4. failback or rebalance (failback.ts) change what counts as running;
//   5. steady state (steady.ts): the status is the plan; otherwise place (the
//      pure global scheduler; sticky: replicas running where they are stay,
//      only missing ones are placed, on clusters and nodes) from the nodes of
//      each cluster as its driver lists them (cached until the Cluster
//      changes or this controller writes to it);
//   6. roll out each component (rollout.ts, workloads.ts): apply changed
//      workloads (idempotent: drivers skip unchanged hashes), keep what is
//      being replaced until the replacements are ready; a cluster found
//      unreachable here sends the pass back to 5 without it;
//   7. record failovers (failover.ts) and spread moves (status.ts);
//   8. delete workloads the plan no longer keeps (on a cluster that cannot be
//      reached, deletion is retried by later reconciles and the GC sweep);
//   9. learn colocated usage (usage.ts);
//  10. write the status (status.ts) if it changed, then the pass's events,
//      and say when to look again.
// A crash between any two steps is repaired by the next reconcile.
import { REBALANCE_ANNOTATION } from '../../model/wellknown.ts';
import {
  ConflictError,
  NotFoundError,
  UnavailableError,
  YunjianError,
} from '../../model/errors.ts';
import { canonical } from '../../model/canonical.ts';
import type {
  Application,
  ApplicationStatus,
  Cloud,
  Cluster,
  PlacementStatus,
  Site,
} from '../../model/schema.ts';
import type { Store } from '../../store/types.ts';
import type { ClusterDriver, NodeStatus, WorkloadStatus } from '../../drivers/types.ts';
import { placeApplication, type AppPlan } from '../../scheduler/index.ts';
import { isClusterReady } from '../../model/cluster.ts';
import { UsageWindows } from '../colocation.ts';
import type { EventRecorder } from '../../events/recorder.ts';
import type { DriverProvider } from '../drivers.ts';
import { systemClock, type Clock } from '../../lib/clock.ts';
import { Controller } from '../runtime/controller.ts';
import { objectKey, type Informer } from '../runtime/informer.ts';
import { fleetSnapshot, settlingClusters } from '../snapshot.ts';
import { freedCapacity } from './capacity.ts';
import { decideFailback } from './failback.ts';
import { decideFailover, failoverPolicy, failoverRecords } from './failover.ts';
import { placementKey, type Note, type Observed } from './observed.ts';
import { leavingPlacements, replacementsReady, rolloutComponent } from './rollout.ts';
import { runningReplicas } from './running.ts';
import { isSteady, planOfStatus } from './steady.ts';
import { decideStatus, requeueAfterMs, respreadNotes } from './status.ts';
import { decideColocation, perReplicaUsage } from './usage.ts';
import { isOrphan, undeletedPlacements, workloadsToDelete, type Sent } from './workloads.ts';

export interface ApplicationControllerOptions {
  store: Store;
  apps: Informer<Application>;
  clusters: Informer<Cluster>;
  sites: Informer<Site>;
  /** Cloud list prices, for clusters that do not carry their own. */
  clouds?: Informer<Cloud>;
  drivers: DriverProvider;
  log: (line: string) => void;
  /** The clock of timestamps and requeue delays (the system clock; the what-if's twin runs faster). */
  clock?: Clock;
  /** How often a settled app is re-checked even without changes. */
  resyncSeconds?: number;
  events?: EventRecorder;
  /** Colocated apps: at most one usage sample per component this often (10 s). */
  usageSampleSeconds?: number;
}

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
  const clock = o.clock ?? systemClock;
  const now = clock.now;
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
  /** Per app, since when each placement has had fewer replicas placed than assigned. */
  const pendingSince = new Map<string, Map<string, number>>();
  /** Per app, the last hash this controller applied to each placement's workload, and when. */
  const applied = new Map<string, Map<string, Sent>>();
  const sentBy = (key: string): Map<string, Sent> => {
    let sent = applied.get(key);
    if (!sent) applied.set(key, (sent = new Map<string, Sent>()));
    return sent;
  };
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
   * (`placementKey`s); returns those that could not be deleted because their
   * cluster is unreachable (listing or deleting failed with a retryable error).
   */
  async function removeWorkloads(
    namespace: string,
    name: string,
    clusterNames: Iterable<string>,
    keep: ReadonlySet<string>,
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
        undeleted.add(placementKey('*', cn));
        continue;
      }
      for (const k of workloadsToDelete(listed, { namespace, name }, cn, keep)) {
        await cd[1].deleteWorkload(k).then(
          () => {
            touched(cn);
            // A listing requested before this delete still shows the workload,
            // with the hash and ready replicas it had: were the app to want it
            // back within the cache's life, it would count those replicas and
            // skip the write that recreates them.
            listingCache.delete(cn);
            applied.get(appKey(namespace, name))?.delete(placementKey(k.component, cn));
          },
          (err: unknown) => {
            if (notRetryable(err)) throw err;
            undeleted.add(placementKey(k.component, cn));
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
      pendingSince.delete(key);
      applied.delete(key);
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
    const notes: Note[] = [];
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
    /** What the listings show of these (component, cluster) workloads now, in order. */
    const observe = async (pairs: Iterable<readonly [string, string]>) => {
      const observed = new Map<string, Observed>();
      for (const [component, cn] of pairs) {
        const cd = driverOf(cn);
        const l = cd ? listFor(cn, cd[1]) : undefined;
        const listed = await l?.items;
        observed.set(placementKey(component, cn), {
          listed: listed !== undefined,
          listedAt: l?.at ?? 0,
          ws: listed?.find(
            (w) =>
              w.key.component === component &&
              w.key.app === app.metadata.name &&
              w.key.namespace === namespace,
          ),
        });
      }
      return observed;
    };

    const { held, failedOver, ...failover } = decideFailover(previous, clusterNamed, policy, t);
    const running = runningReplicas({
      previous,
      clusters: clusterNamed,
      held,
      observed: await observe(previous.map((p) => [p.component, p.cluster])),
      pendingSince: pendingSince.get(key) ?? new Map<string, number>(),
      nowMs: t,
    });
    pendingSince.set(key, running.pendingSince);
    const rebalanceRequest = app.metadata.annotations?.[REBALANCE_ANNOTATION];
    const failback = decideFailback({
      app,
      current: running.current,
      clusters: clusterNamed,
      policy,
      rebalanceRequest,
      nowMs: t,
    });
    notes.push(...failback.notes);
    /** When this app must be looked at again for a timer (grace, pending, stabilisation). */
    let wakeAtMs = Math.min(failover.wakeAtMs, running.wakeAtMs, failback.wakeAtMs);

    // The scheduler restores a spread minimum only onto settled clusters; the
    // app is planned again when the first settling one settles.
    const { settling, settlesAtMs } = settlingClusters(app, clusters, t);
    let steady = isSteady({
      app,
      previous,
      current: running.current,
      fromCurrent: failback.fromCurrent,
      rebalancing: failback.rebalancing,
      held,
      failedOver,
      plannedThisEpoch: plannedInEpoch.get(key) === epoch,
      replanAtMs: spreadReplanAt.get(key) ?? Infinity,
      nowMs: t,
    });

    // A cluster found unreachable while applying is treated as not Ready for the
    // rest of this reconcile and the app is placed again without it: the
    // controller often learns of an outage before cluster-status records it, and
    // waiting for that would stall failover on retries and backoff.
    const unreachable = new Set<string>();
    const sent = sentBy(key);
    let plan: AppPlan;
    let keep: Set<string>;
    let placements: PlacementStatus[];
    let nodesRefreshed = false;
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
        plan = placeApplication(snapshot, app, failback.planFrom);
        plannedInEpoch.set(key, epoch);
        if (settlesAtMs < Infinity) spreadReplanAt.set(key, settlesAtMs);
        else spreadReplanAt.delete(key);
      }
      keep = new Set<string>();
      placements = [];
      for (const cp of plan.components) {
        const component = app.spec.components.find((c) => c.name === cp.component);
        if (!component) continue;
        const reachable = new Map<string, Cluster>();
        const drivers = new Map<string, ClusterDriver>();
        for (const a of cp.assignments) {
          const cd = driverOf(a.cluster);
          if (!cd) continue;
          reachable.set(a.cluster, cd[0]);
          drivers.set(a.cluster, cd[1]);
        }
        const observed = await observe([...reachable.keys()].map((cn) => [component.name, cn]));
        const request = { app, component, assignments: cp.assignments, reachable, held };
        // What the clusters it leaves run matters only while they are kept.
        if (!replacementsReady({ ...request, observed }))
          for (const [k, v] of await observe(
            leavingPlacements(component.name, cp.assignments, previous, previousAll).map((p) => [
              component.name,
              p.cluster,
            ]),
          ))
            observed.set(k, v);
        const rollout = rolloutComponent({
          ...request,
          previous,
          previousAll,
          observed,
          sent,
          clusters: clusterNamed,
        });
        for (const k of rollout.keep) keep.add(k);
        for (const w of rollout.workloads) {
          const driver = drivers.get(w.cluster);
          if (w.apply && driver) {
            const sentKey = placementKey(component.name, w.cluster);
            try {
              touched(w.cluster);
              sent.set(sentKey, { hash: w.spec.hash, at: now() });
              await driver.applyWorkload(w.spec);
            } catch (err) {
              sent.delete(sentKey);
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
              if (previous.some((p) => p.cluster === w.cluster)) held.add(w.cluster);
              else unreachable.add(w.cluster);
              continue placing;
            }
          }
          placements.push(w.placement);
        }
        placements.push(...rollout.draining);
      }
      break;
    }

    notes.push(...respreadNotes(plan));
    const failovers = failoverRecords({
      failedOver,
      previous,
      plan,
      displaced: failback.displaced,
      failback: policy.failback,
      nowMs: t,
    });
    notes.push(...failovers.notes);

    // Deletion failures on an unreachable cluster keep the placement as draining,
    // so the next reconcile (or the GC sweep) tries again.
    const previouslyUsed = new Set(previousAll.map((p) => p.cluster));
    const undeleted = await removeWorkloads(namespace, app.metadata.name, previouslyUsed, keep);
    placements.push(...undeletedPlacements(previousAll, keep, undeleted));

    const colocation = await learnUsage(app, key, placements, observe, t, plan);
    const decided = decideStatus({
      app,
      plan,
      placements,
      displaced: failovers.displaced,
      rebalanceRequest,
      rebalancing: failback.rebalancing,
      colocation: colocation?.status,
      nowMs: t,
    });
    notes.push(...decided.notes);
    for (const message of colocation?.changes ?? [])
      notes.push({ type: 'Normal', reason: 'Reserved', message });
    const { status } = decided;
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
    wakeAtMs = Math.min(wakeAtMs, spreadReplanAt.get(key) ?? Infinity);
    return {
      requeueAfterMs: requeueAfterMs({
        app,
        placements,
        ready: decided.ready,
        migrating: decided.migrating,
        clusters: o.clusters,
        colocated: colocation !== undefined,
        reservationsMoved: (colocation?.changes.length ?? 0) > 0,
        resyncMs,
        sampleMs,
        wakeAtMs,
        nowMs: t,
      }),
    };
  }

  /**
   * Colocated apps: records this pass's per-replica sample of each component
   * (from its active placements' workloads) in the component's window, then
   * decides the reservations that follow.
   */
  async function learnUsage(
    app: Application,
    key: string,
    placements: readonly PlacementStatus[],
    observe: (pairs: Iterable<readonly [string, string]>) => Promise<Map<string, Observed>>,
    t: number,
    plan: AppPlan,
  ): Promise<
    { status: NonNullable<ApplicationStatus['colocation']>; changes: string[] } | undefined
  > {
    if (app.spec.placement?.colocation === undefined) return undefined;
    const active = placements.filter((p) => p.draining !== true);
    const observed = await observe(
      app.spec.components.flatMap((c) =>
        active.filter((p) => p.component === c.name).map((p) => [c.name, p.cluster] as const),
      ),
    );
    for (const [component, perReplica] of perReplicaUsage(app, active, observed))
      usage.record(`${key}/${component}`, t, perReplica);
    const samples = new Map(
      app.spec.components.map((c) => [c.name, usage.samples(`${key}/${c.name}`)]),
    );
    return decideColocation(app, samples, plan);
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
  const controller = new Controller('application', reconcile, o.log, {
    workers: 8,
    forgetTerm,
    clock,
  });
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
      else if (freedCapacity(a, b))
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
        if (!isOrphan(w, cluster.metadata.name, app)) continue;
        await driver.deleteWorkload(w.key).catch(() => undefined);
        listingCache.delete(cluster.metadata.name);
        deleted++;
      }
    }
    return deleted;
  }
  return Object.assign(controller, { sweep });
}
