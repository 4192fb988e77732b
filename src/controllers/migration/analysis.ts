// The gate of a traffic step: what the target served during the step's window
// against the migration's thresholds (MIGRATION_ANALYSIS_DEFAULTS under
// spec.analysis) -> success, fail (roll back) or inconclusive (pause).
import {
  MIGRATION_ANALYSIS_DEFAULTS,
  type Migration,
  type MigrationAnalysis,
} from '../../model/schema.ts';

/** What the target served during the current step's window. */
export interface TargetMetrics {
  /** Requests (gateway) and probes that reached the target. */
  requests: number;
  errors: number;
  p99LatencyMs?: number;
  /** Ready replicas on the target over replicas it should have, probes considered. */
  healthyFraction: number;
}

/**
 * The gate: health decides on its own (a target short of healthy replicas
 * fails whatever the traffic); error rate and p99 need `minRequests` first.
 */
export function analyze(
  m: Migration,
  metrics: TargetMetrics | undefined,
  step: number,
  weight: number,
  at: string,
): MigrationAnalysis {
  const t = { ...MIGRATION_ANALYSIS_DEFAULTS, ...m.spec.analysis };
  const base = { step, weight, at };
  if (metrics === undefined)
    return { ...base, result: 'inconclusive', requests: 0, message: 'no metrics for the target' };
  const errorRate = metrics.requests > 0 ? metrics.errors / metrics.requests : 0;
  const measured = {
    requests: metrics.requests,
    healthyFraction: metrics.healthyFraction,
    ...(metrics.requests > 0 ? { errorRate } : {}),
    ...(metrics.p99LatencyMs !== undefined ? { p99LatencyMs: metrics.p99LatencyMs } : {}),
  };
  if (metrics.healthyFraction < t.minHealthyFraction)
    return {
      ...base,
      ...measured,
      result: 'fail',
      message: `healthy fraction ${metrics.healthyFraction} below ${t.minHealthyFraction}`,
    };
  // Failures that exceed the threshold even if every request still missing
  // before `minRequests` succeeded decide now: a target the gateway ejects
  // after its first failures would otherwise never collect enough requests.
  const worstCase = metrics.errors / Math.max(metrics.requests, t.minRequests, 1);
  if (worstCase > t.maxErrorRate)
    return {
      ...base,
      ...measured,
      result: 'fail',
      message: `${metrics.errors} of ${metrics.requests} requests failed: error rate above ${t.maxErrorRate} whatever the next ${Math.max(0, t.minRequests - metrics.requests)} do`,
    };
  if (metrics.requests < t.minRequests)
    return {
      ...base,
      ...measured,
      result: 'inconclusive',
      message: `${metrics.requests} requests, fewer than the ${t.minRequests} needed`,
    };
  if (errorRate > t.maxErrorRate)
    return {
      ...base,
      ...measured,
      result: 'fail',
      message: `error rate ${round(errorRate)} above ${t.maxErrorRate}`,
    };
  if (metrics.p99LatencyMs !== undefined && metrics.p99LatencyMs > t.maxP99LatencyMs)
    return {
      ...base,
      ...measured,
      result: 'fail',
      message: `p99 latency ${metrics.p99LatencyMs} ms above ${t.maxP99LatencyMs} ms`,
    };
  return {
    ...base,
    ...measured,
    result: 'success',
    message: `${metrics.requests} requests, error rate ${round(errorRate)}${metrics.p99LatencyMs !== undefined ? `, p99 ${metrics.p99LatencyMs} ms` : ''}`,
  };
}

function round(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}
