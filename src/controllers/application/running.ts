// What runs now: the replicas each workload has on nodes, at most what the
// scheduler assigned. Replicas a cluster has not placed count as placed for
// PENDING_GRACE_MS (a driver reports them a moment after an apply: an agent on
// its next heartbeat, a listing shared between passes a little later);
// pending longer, they are placed again, maybe elsewhere.
import type { PlacementStatus } from '../../model/schema.ts';
import { isClusterReady } from '../../model/cluster.ts';
import { observedOf, placementKey, type ClusterLookup, type Observations } from './observed.ts';

/** How long replicas may stay unplaced on their cluster before they are placed elsewhere. */
export const PENDING_GRACE_MS = 5000;

/** Replicas by component, then cluster (the scheduler's `current`). */
export type ReplicaCounts = Record<string, Record<string, number>>;

export interface RunningInput {
  /** The app's active placements. */
  previous: readonly PlacementStatus[];
  clusters: ClusterLookup;
  held: ReadonlySet<string>;
  observed: Observations;
  /** Since when each placement (`placementKey`) has had fewer replicas scheduled than assigned. */
  pendingSince: ReadonlyMap<string, number>;
  nowMs: number;
}

export interface Running {
  current: ReplicaCounts;
  /**
   * `pendingSince` after this pass: placements short of scheduled replicas
   * keep their start (or start now), those no longer short are forgotten, and
   * placements on clusters that run nothing are left as they were.
   */
  pendingSince: Map<string, number>;
  /** When the first pending grace ends (Infinity when none). */
  wakeAtMs: number;
}

/**
 * A placement on a cluster that is gone, or NotReady and not held, runs
 * nothing. A held cluster keeps what it was assigned whatever it last
 * reported, and so does a cluster whose listing failed.
 */
export function runningReplicas(input: RunningInput): Running {
  const { previous, clusters, held, observed, nowMs } = input;
  const current: ReplicaCounts = {};
  const pendingSince = new Map(input.pendingSince);
  let wakeAtMs = Infinity;
  for (const p of previous) {
    const assigned = p.assigned ?? p.desired;
    const { listed, ws } = observedOf(observed, p.component, p.cluster);
    const cluster = clusters.get(p.cluster);
    if (!cluster || (!isClusterReady(cluster) && !held.has(p.cluster))) continue;
    const key = placementKey(p.component, p.cluster);
    let running = assigned;
    if (listed && !held.has(p.cluster) && (ws?.scheduled ?? 0) < assigned) {
      const since = pendingSince.get(key) ?? nowMs;
      pendingSince.set(key, since);
      if (nowMs - since >= PENDING_GRACE_MS) running = ws?.scheduled ?? 0;
      else wakeAtMs = Math.min(wakeAtMs, since + PENDING_GRACE_MS);
    } else pendingSince.delete(key);
    if (running > 0) (current[p.component] ??= {})[p.cluster] = running;
  }
  return { current, pendingSince, wakeAtMs };
}
