// Make before break, per component: while any assignment of the component has
// fewer ready replicas than it should, every cluster losing replicas of it
// keeps them (draining, or surging at its old count). Readiness is judged on
// the whole component, not on what changed since the last pass, so the hold
// survives the status write between passes.
import type { Application, Component, PlacementStatus } from '../../model/schema.ts';
import type { WorkloadSpec } from '../../drivers/types.ts';
import type { Assignment } from '../../scheduler/index.ts';
import { isClusterReady } from '../../model/cluster.ts';
import { observedOf, placementKey, type ClusterLookup, type Observations } from './observed.ts';
import { applyNeeded, workloadFor, type Sent } from './workloads.ts';

/** One planned workload: what it runs, whether it needs a write, and the placement it records. */
export interface PlannedWorkload {
  cluster: string;
  spec: WorkloadSpec;
  apply: boolean;
  /** The placement once the write (if any) succeeded. */
  placement: PlacementStatus;
}

export interface RolloutInput {
  app: Application;
  component: Component;
  assignments: readonly Pick<Assignment, 'cluster' | 'replicas'>[];
  /** Clusters of the assignments that a driver serves; the others are skipped. */
  reachable: ClusterLookup;
  /** The app's active placements, every component. */
  previous: readonly PlacementStatus[];
  /** Every placement of the app's status, draining ones too. */
  previousAll: readonly PlacementStatus[];
  held: ReadonlySet<string>;
  /**
   * The component's workloads on the assignments' clusters and, when
   * replacements are not ready, on the clusters it leaves.
   */
  observed: Observations;
  /** The last write of each of the app's workloads, by `placementKey`. */
  sent: ReadonlyMap<string, Sent>;
  /** The pass's view of the fleet: a NotReady cluster's report is not evidence. */
  clusters: ClusterLookup;
}

export interface Rollout {
  workloads: PlannedWorkload[];
  /** Placements the component leaves that keep running until replacements are ready. */
  draining: PlacementStatus[];
  /** `placementKey`s not to delete. */
  keep: string[];
}

/** True when every reachable, writable assignment has as many ready replicas as it runs. */
export function replacementsReady(
  input: Pick<
    RolloutInput,
    'app' | 'component' | 'assignments' | 'reachable' | 'held' | 'observed'
  >,
): boolean {
  const { app, component, reachable, held, observed } = input;
  for (const a of input.assignments) {
    const cluster = reachable.get(a.cluster);
    if (!cluster || held.has(a.cluster)) continue;
    const want = workloadFor(app, component, cluster, a.replicas).replicas;
    if ((observedOf(observed, component.name, a.cluster).ws?.ready ?? 0) < want) return false;
  }
  return true;
}

/** The component's placements on clusters the plan no longer gives it, draining ones included. */
export function leavingPlacements(
  component: string,
  assignments: readonly Pick<Assignment, 'cluster'>[],
  previous: readonly PlacementStatus[],
  previousAll: readonly PlacementStatus[],
): PlacementStatus[] {
  const targets = new Set(assignments.map((a) => a.cluster));
  return [
    ...previous.filter((p) => p.component === component && !targets.has(p.cluster)),
    ...previousAll.filter(
      (p) => p.draining === true && p.component === component && !targets.has(p.cluster),
    ),
  ];
}

/**
 * The component's workloads under the plan. A cluster that shrinks surges:
 * it keeps the count it runs now (`desired` of the last pass) until the
 * replacements are ready; a cluster the component leaves keeps its workload
 * as a draining placement until then.
 */
export function rolloutComponent(input: RolloutInput): Rollout {
  const { app, component, reachable, held, observed, sent, clusters } = input;
  const ready = replacementsReady(input);
  const prevOf = new Map(
    input.previous.filter((p) => p.component === component.name).map((p) => [p.cluster, p]),
  );
  const workloads: PlannedWorkload[] = [];
  const keep: string[] = [];
  for (const a of input.assignments) {
    const cluster = reachable.get(a.cluster);
    if (!cluster) continue;
    const prev = prevOf.get(a.cluster);
    const target = workloadFor(app, component, cluster, a.replicas);
    const surge = !ready && prev !== undefined && prev.desired > target.replicas;
    const spec = surge ? workloadFor(app, component, cluster, prev.desired) : target;
    keep.push(placementKey(component.name, a.cluster));
    const seen = observedOf(observed, component.name, a.cluster);
    const { apply, inFlight } = applyNeeded({
      spec,
      listed: seen.ws,
      listedAt: seen.listedAt,
      sent: sent.get(placementKey(component.name, a.cluster)),
      held: held.has(a.cluster),
    });
    // A status from before the write (or before one still in flight) says
    // nothing about this spec; the next reconcile reads it.
    const ws = apply || (inFlight && seen.ws?.hash !== spec.hash) ? undefined : seen.ws;
    workloads.push({
      cluster: a.cluster,
      spec,
      apply,
      placement: {
        component: component.name,
        cluster: a.cluster,
        cloud: cluster.spec.cloud,
        site: cluster.spec.site,
        desired: spec.replicas,
        ready: ws ? ws.ready : Math.min(prev?.ready ?? 0, spec.replicas),
        ...(spec.replicas !== a.replicas ? { assigned: a.replicas } : {}),
        ...(ws?.endpoints?.length ? { endpoints: ws.endpoints } : {}),
      },
    });
  }
  const draining: PlacementStatus[] = [];
  if (!ready)
    for (const p of leavingPlacements(
      component.name,
      input.assignments,
      input.previous,
      input.previousAll,
    )) {
      keep.push(placementKey(component.name, p.cluster));
      const { ws } = observedOf(observed, component.name, p.cluster);
      const live = clusters.get(p.cluster);
      draining.push({
        ...p,
        ready: live && isClusterReady(live) ? (ws?.ready ?? 0) : 0,
        draining: true,
        ...(ws?.endpoints?.length ? { endpoints: ws.endpoints } : {}),
      });
    }
  return { workloads, draining, keep };
}
