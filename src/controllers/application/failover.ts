// Failover: which NotReady clusters keep an app's replicas (failover off, or
// still inside the app's grace period) and which lose them now, and the
// record of what left a failed cluster and where it went (failback reads it).
import {
  DEFAULT_STABILIZATION_SECONDS,
  type Application,
  type ApplicationStatus,
  type PlacementStatus,
} from '../../model/schema.ts';
import type { AppPlan } from '../../scheduler/index.ts';
import { clusterReadyCondition, isClusterReady } from '../../model/cluster.ts';
import type { ClusterLookup, Note } from './observed.ts';

export interface FailoverPolicy {
  enabled: boolean;
  /** Extra wait after the cluster is NotReady before this app's replicas move. */
  graceMs: number;
  failback: boolean;
  stabilizationMs: number;
}

export type Displaced = NonNullable<ApplicationStatus['displaced']>[number];

export function failoverPolicy(app: Application): FailoverPolicy {
  const f = app.spec.failover;
  return {
    enabled: f?.enabled ?? true,
    graceMs: (f?.gracePeriodSeconds ?? 0) * 1000,
    failback: (f?.enabled ?? true) && (f?.failback?.enabled ?? true),
    stabilizationMs: (f?.failback?.stabilizationSeconds ?? DEFAULT_STABILIZATION_SECONDS) * 1000,
  };
}

export interface FailoverDecision {
  /** NotReady clusters whose replicas stay where they are. */
  held: Set<string>;
  /** NotReady clusters past the grace period: their replicas are placed again. */
  failedOver: Set<string>;
  /** When the first held cluster's grace ends (Infinity when none is waiting). */
  wakeAtMs: number;
}

/**
 * `previous` is the app's active placements; a cluster missing from the fleet
 * is neither held nor failed over (its replicas are simply gone). The grace
 * period counts from the cluster's last Ready transition.
 */
export function decideFailover(
  previous: readonly PlacementStatus[],
  clusters: ClusterLookup,
  policy: FailoverPolicy,
  nowMs: number,
): FailoverDecision {
  const held = new Set<string>();
  const failedOver = new Set<string>();
  let wakeAtMs = Infinity;
  for (const p of previous) {
    const cluster = clusters.get(p.cluster);
    if (!cluster || isClusterReady(cluster)) continue;
    const since =
      Date.parse(clusterReadyCondition(cluster.status)?.lastTransitionTime ?? '') || nowMs;
    if (!policy.enabled || nowMs < since + policy.graceMs) {
      held.add(p.cluster);
      if (policy.enabled) wakeAtMs = Math.min(wakeAtMs, since + policy.graceMs);
    } else failedOver.add(p.cluster);
  }
  return { held, failedOver, wakeAtMs };
}

/**
 * What left each failed-over cluster and where it went: every cluster the plan
 * gives more of the component than it had, in the plan's order (failback
 * takes the replicas back from there). A component already displaced from a
 * cluster keeps its first record.
 */
export function failoverRecords(input: {
  failedOver: ReadonlySet<string>;
  previous: readonly PlacementStatus[];
  plan: AppPlan;
  displaced: readonly Displaced[];
  failback: boolean;
  nowMs: number;
}): { displaced: Displaced[]; notes: Note[] } {
  const { failedOver, previous, plan, nowMs } = input;
  const displaced = [...input.displaced];
  const notes: Note[] = [];
  for (const cn of failedOver) {
    for (const p of previous.filter((x) => x.cluster === cn)) {
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
      if (input.failback && !displaced.some((d) => d.component === p.component && d.cluster === cn))
        displaced.push({
          component: p.component,
          cluster: cn,
          replicas,
          replacedBy,
          since: new Date(nowMs).toISOString(),
        });
      notes.push({
        type: 'Warning',
        reason: 'Failover',
        message: `${replicas} replicas of ${p.component} leave NotReady cluster ${cn}${replacedBy.length ? ` for ${replacedBy.join(', ')}` : ''}`,
      });
    }
  }
  return { displaced, notes };
}
