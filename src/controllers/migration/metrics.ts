// Where the migration gate's numbers come from. Health is the target's ready
// replicas over its desired ones, from the application's status (the agents'
// and drivers' own checks). Requests, errors and p99 come from the gateways
// (`yunjian server --gateway-stats URL`): each serves its per-backend attempt
// stats since a time (traffic/backendstats.ts), summed here over the target's
// clusters; the p99 is the worst gateway's. A gateway that does not answer is
// left out, so the gate sees fewer requests and, below `minRequests`,
// pauses rather than passing.
import type { Application } from '../../model/schema.ts';
import type { TargetMetrics } from './analysis.ts';
import type { MigrationMetricsSource } from './index.ts';

/** How long one gateway may take to answer. */
const GATEWAY_TIMEOUT_MS = 2000;

interface BackendWindow {
  requests: number;
  errors: number;
  p99LatencyMs?: number;
}

export function targetHealth(app: Application, target: readonly string[]): number {
  const on = new Set(target);
  let desired = 0;
  let ready = 0;
  for (const p of app.status?.placements ?? [])
    if (on.has(p.cluster) && p.draining !== true) {
      desired += p.desired;
      ready += Math.min(p.ready, p.desired);
    }
  return desired === 0 ? 0 : ready / desired;
}

/** The gate's metrics from these gateways' stats URLs (none: health only, no requests). */
export function gatewayMetrics(urls: readonly string[]): MigrationMetricsSource {
  return async ({ app, target, sinceMs }) => {
    const sum: TargetMetrics = {
      requests: 0,
      errors: 0,
      healthyFraction: targetHealth(app, target),
    };
    const windows = await Promise.all(urls.map((u) => fetchWindows(u, sinceMs)));
    for (const byCluster of windows)
      for (const cluster of target) {
        const w = byCluster?.[cluster];
        if (w === undefined) continue;
        sum.requests += w.requests;
        sum.errors += w.errors;
        if (w.p99LatencyMs !== undefined)
          sum.p99LatencyMs = Math.max(sum.p99LatencyMs ?? 0, w.p99LatencyMs);
      }
    return sum;
  };
}

async function fetchWindows(
  url: string,
  sinceMs: number,
): Promise<Record<string, BackendWindow> | undefined> {
  try {
    const u = new URL(url);
    u.searchParams.set('since', String(sinceMs));
    const res = await fetch(u, { signal: AbortSignal.timeout(GATEWAY_TIMEOUT_MS) });
    if (!res.ok) return undefined;
    const body = (await res.json()) as { clusters?: Record<string, BackendWindow> };
    return body.clusters;
  } catch {
    return undefined;
  }
}
