// Usage (placement.colocation): one per-replica cpu sample per component from
// what its ready replicas use (where the drivers measure it), and the
// reservations that follow from each component's window of samples.
import {
  COLOCATION_DEFAULTS,
  type Application,
  type ApplicationStatus,
  type PlacementStatus,
} from '../../model/schema.ts';
import { requestedCpuMillis, type AppPlan } from '../../scheduler/index.ts';
import { nextReservation, type ComponentUsage } from '../colocation.ts';
import { observedOf, type Observations } from './observed.ts';

/**
 * Cpu per ready replica of each component, over its active placements whose
 * workloads report use; components with no such replica have no sample.
 */
export function perReplicaUsage(
  app: Application,
  active: readonly PlacementStatus[],
  observed: Observations,
): Map<string, number> {
  const samples = new Map<string, number>();
  for (const c of app.spec.components) {
    let used = 0;
    let replicas = 0;
    for (const p of active) {
      if (p.component !== c.name) continue;
      const { ws } = observedOf(observed, c.name, p.cluster);
      if (ws?.cpuUsageMillis === undefined || ws.ready === 0) continue;
      used += ws.cpuUsageMillis;
      replicas += ws.ready;
    }
    if (replicas > 0) samples.set(c.name, Math.round(used / replicas));
  }
  return samples;
}

export interface ColocationDecision {
  status: NonNullable<ApplicationStatus['colocation']>;
  /**
   * Which reservations moved, as event text: the workloads still run the old
   * ones until the next pass applies them.
   */
  changes: string[];
}

/** The colocation status of a colocated app (undefined for any other). */
export function decideColocation(
  app: Application,
  /** Each component's window of per-replica samples, oldest first. */
  samples: ReadonlyMap<string, readonly number[]>,
  plan: AppPlan,
): ColocationDecision | undefined {
  const policy = app.spec.placement?.colocation;
  if (policy === undefined) return undefined;
  const before = app.status?.colocation;
  const changes: string[] = [];
  const components: ComponentUsage[] = [];
  for (const c of app.spec.components) {
    const collected = samples.get(c.name) ?? [];
    const requestMillis = requestedCpuMillis(c);
    const was = before?.components.find((x) => x.component === c.name);
    const next = nextReservation({
      requestMillis,
      ...(was !== undefined ? { reservedMillis: was.reservedCpuMillis } : {}),
      samples: collected,
      policy,
    });
    const previous = was?.reservedCpuMillis ?? requestMillis;
    if (next.reservedMillis !== previous)
      changes.push(
        `${c.name} reserves ${next.reservedMillis}m per replica (was ${previous}m, request ${requestMillis}m): p${policy.percentile ?? COLOCATION_DEFAULTS.percentile} of ${collected.length} samples is ${next.predictedMillis ?? 0}m`,
      );
    const latest = collected[collected.length - 1];
    components.push({
      component: c.name,
      samples: collected.length,
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
