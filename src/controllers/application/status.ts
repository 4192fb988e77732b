// Status: what the pass found, as the app's status (placements, replica
// counts, the Ready condition with its progress deadline), the events that
// go with it, and when the app is looked at again.
import {
  DEFAULT_PROGRESS_DEADLINE_SECONDS,
  type Application,
  type ApplicationStatus,
  type Condition,
  type PlacementStatus,
} from '../../model/schema.ts';
import type { AppPlan } from '../../scheduler/index.ts';
import { isClusterReady } from '../../model/cluster.ts';
import { applicationReadyCondition } from '../condition.ts';
import type { Displaced } from './failover.ts';
import type { ClusterLookup, Note } from './observed.ts';

/** One Normal event per route replicas take to restore a spread minimum. */
export function respreadNotes(plan: AppPlan): Note[] {
  const notes: Note[] = [];
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
  return notes;
}

export interface StatusInput {
  app: Application;
  plan: AppPlan;
  /** Every placement of this pass, draining ones included. */
  placements: PlacementStatus[];
  displaced: readonly Displaced[];
  rebalanceRequest: string | undefined;
  rebalancing: boolean;
  colocation?: NonNullable<ApplicationStatus['colocation']> | undefined;
  nowMs: number;
}

export interface StatusDecision {
  status: ApplicationStatus;
  ready: Condition;
  /** Replicas still moving: placements draining or surging above what they are assigned. */
  migrating: boolean;
  /** A Warning the first time the progress deadline passes. */
  notes: Note[];
}

/**
 * Per component, ready replicas anywhere (draining and surging ones serve
 * too) count up to the target the plan assigns.
 */
export function decideStatus(input: StatusInput): StatusDecision {
  const { app, plan, placements, displaced, nowMs } = input;
  const active = placements.filter((p) => p.draining !== true);
  const drainingCount = placements.length - active.length;
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
    nowMs,
    app.spec.progressDeadlineSeconds ?? DEFAULT_PROGRESS_DEADLINE_SECONDS,
  );
  const notes: Note[] = [];
  if (cond.reason === 'ProgressDeadlineExceeded' && oldCond?.reason !== cond.reason)
    notes.push({
      type: 'Warning',
      reason: 'ProgressDeadlineExceeded',
      message: cond.message ?? '',
    });
  const status: ApplicationStatus = {
    observedGeneration: app.metadata.generation ?? 1,
    placements,
    replicas: { desired, ready },
    conditions: [cond],
    reasons: plan.reasons,
    ...(displaced.length > 0 ? { displaced: [...displaced] } : {}),
    ...(input.rebalanceRequest !== undefined
      ? {
          rebalanced: input.rebalancing ? input.rebalanceRequest : (app.status?.rebalanced ?? ''),
        }
      : {}),
    ...(input.colocation !== undefined ? { colocation: input.colocation } : {}),
  };
  return { status, ready: cond, migrating, notes };
}

/** True when every draining placement is on a cluster that is not Ready (nothing to poll for). */
export function onlyUndeletable(
  placements: readonly PlacementStatus[],
  clusters: ClusterLookup,
): boolean {
  return placements.every((p) => {
    if (p.draining !== true) return p.assigned === undefined || p.desired <= p.assigned;
    const cluster = clusters.get(p.cluster);
    return cluster !== undefined && !isClusterReady(cluster);
  });
}

export interface RequeueInput {
  app: Application;
  placements: readonly PlacementStatus[];
  ready: Condition;
  migrating: boolean;
  /** The fleet now (after the pass's writes), for clusters draining waits on. */
  clusters: ClusterLookup;
  /** The app is colocated; `reservationsMoved` when this pass changed a reservation. */
  colocated: boolean;
  reservationsMoved: boolean;
  resyncMs: number;
  sampleMs: number;
  /** The earliest timer of the pass (grace, stabilisation, pending, spread re-plan). */
  wakeAtMs: number;
  nowMs: number;
}

/**
 * Draining that waits on replacements is polled (every 500 ms); draining that
 * waits on an unreachable cluster is retried on resync or when the cluster
 * turns Ready. Endpoints show up a moment after readiness (an ingress starts
 * listening) and traffic management needs them, so polling goes on until
 * every ready placement of a component with ports has them. A colocated app
 * is looked at once per sample interval: that is when it learns. Never
 * sooner than 50 ms.
 */
export function requeueAfterMs(input: RequeueInput): number {
  const { app, placements } = input;
  const withPorts = new Set(
    app.spec.components.filter((c) => (c.ports ?? []).length > 0).map((c) => c.name),
  );
  const endpointsPending = placements.some(
    (p) =>
      p.draining !== true && p.ready > 0 && withPorts.has(p.component) && p.endpoints === undefined,
  );
  const waiting =
    input.ready.status !== 'True' ||
    endpointsPending ||
    input.reservationsMoved ||
    (input.migrating && !onlyUndeletable(placements, input.clusters));
  const settledMs = input.colocated ? Math.min(input.resyncMs, input.sampleMs) : input.resyncMs;
  return Math.max(50, Math.min(waiting ? 500 : settledMs, input.wakeAtMs - input.nowMs));
}
