// Failback and rebalance change what counts as current before placing:
// rebalance forgets it (a fresh plan), failback gives displaced replicas back
// to their cluster once it has been Ready for the stabilisation window, taking
// them from the clusters that replaced them, in the order those were recorded.
import type { Application } from '../../model/schema.ts';
import { clusterReadyCondition } from '../../model/cluster.ts';
import type { Displaced, FailoverPolicy } from './failover.ts';
import type { ClusterLookup, Note } from './observed.ts';
import type { ReplicaCounts } from './running.ts';

export interface FailbackInput {
  app: Application;
  current: ReplicaCounts;
  clusters: ClusterLookup;
  policy: FailoverPolicy;
  /** The app's rebalance annotation, if any. */
  rebalanceRequest: string | undefined;
  nowMs: number;
}

export interface FailbackDecision {
  /** What the scheduler is told runs now. */
  planFrom: ReplicaCounts;
  /**
   * True when `planFrom` is `current` untouched: no rebalance and nothing
   * displaced. The steady-state fast path needs it.
   */
  fromCurrent: boolean;
  rebalancing: boolean;
  /** Displaced replicas still waiting for their cluster. */
  displaced: Displaced[];
  notes: Note[];
  /** When the first waiting cluster's stabilisation window ends (Infinity when none). */
  wakeAtMs: number;
}

/**
 * A displaced record is dropped (not given back) when its cluster is gone or
 * failback is off; it waits while the cluster is not Ready, has contact
 * lost, or has been Ready for less than the stabilisation window.
 */
export function decideFailback(input: FailbackInput): FailbackDecision {
  const { app, current, clusters, policy, rebalanceRequest, nowMs } = input;
  const notes: Note[] = [];
  let wakeAtMs = Infinity;
  const rebalancing = rebalanceRequest !== undefined && rebalanceRequest !== app.status?.rebalanced;
  const displaced = app.status?.displaced ?? [];
  if (rebalancing) {
    notes.push({
      type: 'Normal',
      reason: 'Rebalance',
      message: `placing every replica afresh (requested ${rebalanceRequest})`,
    });
    return { planFrom: {}, fromCurrent: false, rebalancing, displaced: [], notes, wakeAtMs };
  }
  if (displaced.length === 0)
    return { planFrom: current, fromCurrent: true, rebalancing, displaced: [], notes, wakeAtMs };
  const planFrom = structuredClone(current);
  const kept: Displaced[] = [];
  for (const d of displaced) {
    const cluster = clusters.get(d.cluster);
    if (!cluster || !policy.failback) continue;
    const ready = clusterReadyCondition(cluster.status);
    const stableSince = Date.parse(ready?.lastTransitionTime ?? '') || nowMs;
    if (ready?.status !== 'True' || ready.reason === 'ContactLost') {
      kept.push(d);
      continue;
    }
    if (nowMs < stableSince + policy.stabilizationMs) {
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
  return { planFrom, fromCurrent: false, rebalancing, displaced: kept, notes, wakeAtMs };
}
