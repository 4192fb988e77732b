// Steady state: the spec was placed already, every placement's cluster is
// Ready and runs what it was assigned, nothing is unplaced, and no failover,
// failback or rebalance is due. The scheduler would keep exactly this
// (placement is sticky), so the plan is the status itself and no snapshot of
// the fleet is built. Most reconciles during a rollout are these status
// polls, which is what keeps thousands of apps cheap.
import type { Application, PlacementStatus } from '../../model/schema.ts';
import type { AppPlan } from '../../scheduler/index.ts';
import type { ReplicaCounts } from './running.ts';

export interface SteadyInput {
  app: Application;
  /** The app's active placements. */
  previous: readonly PlacementStatus[];
  current: ReplicaCounts;
  /** From `decideFailback`: nothing rebalanced or given back. */
  fromCurrent: boolean;
  rebalancing: boolean;
  held: ReadonlySet<string>;
  failedOver: ReadonlySet<string>;
  /**
   * The app's last plan was made in the current fleet epoch (no cluster
   * joined, left or changed readiness since, so no better plan can exist).
   */
  plannedThisEpoch: boolean;
  /** When an app with a spread minimum must be planned again (Infinity when never). */
  replanAtMs: number;
  nowMs: number;
}

export function isSteady(s: SteadyInput): boolean {
  return (
    !s.rebalancing &&
    s.fromCurrent &&
    s.held.size === 0 &&
    s.failedOver.size === 0 &&
    s.previous.length > 0 &&
    s.app.status?.observedGeneration === s.app.metadata.generation &&
    s.app.status?.conditions?.[0]?.reason !== 'Unschedulable' &&
    s.previous.every((p) => s.current[p.component]?.[p.cluster] === (p.assigned ?? p.desired)) &&
    s.plannedThisEpoch &&
    s.replanAtMs > s.nowMs
  );
}

/** The plan the app's status records (what the scheduler would keep in steady state). */
export function planOfStatus(app: Application, active: readonly PlacementStatus[]): AppPlan {
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
