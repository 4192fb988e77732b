// cluster-status: asks each cluster's driver for its inventory and writes it into
// the Cluster's status, with a Ready condition. It heartbeats on a fixed period;
// a status write happens when anything but the heartbeat time changed, or when
// the recorded heartbeat is older than `heartbeatWriteSeconds`, which keeps the
// store's change log from filling with heartbeats at fleet scale.
//
// Grace period: a Ready cluster that stops answering stays Ready (reason
// ContactLost) until `graceSeconds` have passed since the driver last heard
// from it (its `lastContactMs`, else the first failed check), so one missed
// heartbeat or a control-plane restart does not move every replica. Only then
// does it become NotReady, which is what the application controller fails over
// on. A cluster that was not Ready gets no grace.
import { clusterReadyCondition } from '../model/cluster.ts';
import { ConflictError } from '../model/errors.ts';
import type { Cluster, ClusterStatus, Condition } from '../model/schema.ts';
import type { Store } from '../store/types.ts';
import { canonical } from '../model/canonical.ts';
import type { ClusterInventory } from '../drivers/types.ts';
import { Controller } from './runtime/controller.ts';
import { systemClock, type Clock } from '../lib/clock.ts';
import type { Informer } from './runtime/informer.ts';
import type { DriverProvider } from './drivers.ts';
import type { EventRecorder } from '../events/recorder.ts';

export interface ClusterStatusOptions {
  store: Store;
  clusters: Informer<Cluster>;
  drivers: DriverProvider;
  log: (line: string) => void;
  /** The clock of timestamps and requeue delays (the system clock; the what-if's twin runs faster). */
  clock?: Clock;
  heartbeatSeconds?: number;
  heartbeatWriteSeconds?: number;
  /** Seconds an unreachable Ready cluster stays Ready before it is marked NotReady. */
  graceSeconds?: number;
  events?: EventRecorder;
}

/** Default failover grace period for clusters, in seconds. */
export const DEFAULT_CLUSTER_GRACE_SECONDS = 5;

function conditionFrom(
  inv: ClusterInventory | undefined,
  reasonIfMissing: string,
): Omit<Condition, 'lastTransitionTime'> {
  if (!inv)
    return { type: 'Ready', status: 'Unknown', reason: 'NoDriver', message: reasonIfMissing };
  if (!inv.reachable)
    return {
      type: 'Ready',
      status: 'False',
      reason: 'Unreachable',
      message: inv.message ?? 'cluster unreachable',
    };
  if (inv.readyNodeCount === 0)
    return { type: 'Ready', status: 'False', reason: 'NoReadyNodes', message: 'no node is ready' };
  return {
    type: 'Ready',
    status: 'True',
    reason: 'ClusterReady',
    message: `${inv.readyNodeCount}/${inv.nodeCount} nodes ready`,
  };
}

export function createClusterStatusController(o: ClusterStatusOptions): Controller {
  const clock = o.clock ?? systemClock;
  const now = clock.now;
  const heartbeatMs = (o.heartbeatSeconds ?? 2) * 1000;
  const writeMs = (o.heartbeatWriteSeconds ?? 30) * 1000;
  const graceMs = (o.graceSeconds ?? DEFAULT_CLUSTER_GRACE_SECONDS) * 1000;
  /** First failed check of each cluster now unreachable, for drivers that report no last contact. */
  const unreachableSince = new Map<string, number>();

  const controller = new Controller(
    'cluster-status',
    async (name) => {
      const cluster = o.clusters.get(name);
      if (!cluster) {
        o.drivers.forget(name);
        unreachableSince.delete(name);
        return;
      }
      const driver = o.drivers.driverFor(cluster);
      const inv = driver ? await driver.inventory() : undefined;
      const old = cluster.status;
      const oldReady = clusterReadyCondition(old);
      let cond = conditionFrom(
        inv,
        `no ${cluster.spec.driver.type} driver is connected for this cluster`,
      );
      let requeueMs = heartbeatMs;
      if (cond.status === 'True') unreachableSince.delete(name);
      else if (oldReady?.status === 'True') {
        const since =
          inv?.lastContactMs ??
          unreachableSince.get(name) ??
          unreachableSince.set(name, now()).get(name)!;
        const left = since + graceMs - now();
        if (left > 0) {
          cond = {
            type: 'Ready',
            status: 'True',
            reason: 'ContactLost',
            message: `${cond.message ?? 'no contact'}; marked NotReady in ${Math.ceil(left / 1000)}s unless it answers`,
          };
          requeueMs = Math.min(heartbeatMs, left);
        }
      }
      // ContactLost is still Ready: the transition time keeps counting the
      // stretch of readiness that failback's stabilisation window measures.
      const transitioned =
        !oldReady ||
        oldReady.status !== cond.status ||
        (oldReady.reason !== cond.reason &&
          cond.reason !== 'ContactLost' &&
          oldReady.reason !== 'ContactLost');
      const ready: Condition = {
        ...cond,
        lastTransitionTime: transitioned
          ? new Date(now()).toISOString()
          : (oldReady.lastTransitionTime ?? new Date(now()).toISOString()),
      };
      const next: ClusterStatus = {
        conditions: [ready],
        // An unreachable cluster's inventory says nothing about its capacity:
        // the last reported figures stay (the console and explanations keep
        // showing what the cluster had, not an empty cluster).
        ...(inv && (inv.reachable || old?.capacity === undefined)
          ? {
              capacity: inv.capacity,
              allocatable: inv.allocatable,
              allocated: inv.allocated,
              nodeCount: inv.nodeCount,
              nodesByArch: inv.nodesByArch,
              gpuModels: inv.gpuModels,
            }
          : old?.capacity !== undefined
            ? {
                capacity: old.capacity,
                ...(old.allocatable ? { allocatable: old.allocatable } : {}),
                ...(old.allocated ? { allocated: old.allocated } : {}),
                ...(old.nodeCount !== undefined ? { nodeCount: old.nodeCount } : {}),
                ...(old.nodesByArch ? { nodesByArch: old.nodesByArch } : {}),
                ...(old.gpuModels ? { gpuModels: old.gpuModels } : {}),
              }
            : {}),
        lastHeartbeatTime: new Date(now()).toISOString(),
      };
      const { lastHeartbeatTime: _a, ...oldContent } = old ?? {};
      const { lastHeartbeatTime: _b, ...nextContent } = next;
      const heartbeatAge = old?.lastHeartbeatTime
        ? now() - Date.parse(old.lastHeartbeatTime)
        : Infinity;
      if (canonical(oldContent) !== canonical(nextContent) || heartbeatAge >= writeMs) {
        try {
          await o.store.updateStatus(
            { ...cluster, status: next },
            { expectedResourceVersion: cluster.metadata.resourceVersion ?? null },
          );
        } catch (err) {
          // The informer has not seen a newer write yet; the watch event that
          // carries it re-enqueues this key, so just wait for the next tick.
          if (!(err instanceof ConflictError)) throw err;
          return { requeueAfterMs: Math.min(requeueMs, 200) };
        }
        if (oldReady && oldReady.status !== ready.status) {
          const becameReady = ready.status === 'True';
          const error = await o.events?.record(
            { kind: 'Cluster', name },
            becameReady ? 'Normal' : 'Warning',
            becameReady ? 'ClusterReady' : 'ClusterNotReady',
            ready.message ?? ready.reason ?? '',
          );
          if (error) o.log(`cluster-status: event for ${name}: ${error.message}`);
        }
      }
      return { requeueAfterMs: requeueMs };
    },
    o.log,
    {
      workers: 4,
      // A cluster seen unreachable in a past term may have answered since.
      forgetTerm: () => unreachableSince.clear(),
      clock,
    },
  );

  o.clusters.addHandlers({
    onAdd: (c) => controller.enqueue(c.metadata.name),
    onUpdate: (a, b) => {
      // Our own status writes come back as updates; only spec changes need an
      // immediate reconcile, the heartbeat requeue covers the rest.
      if (a.metadata.generation !== b.metadata.generation) controller.enqueue(b.metadata.name);
    },
    onDelete: (c) => controller.enqueue(c.metadata.name),
  });
  return controller;
}
