// What the twin shows of a running replica from outside: its cpu use and the
// address its cluster's ingress answers on. Both derive from names only, so
// they are the same after a control-plane restart.
import { fnv1a32 } from '../../lib/hash.ts';
import type { WorkloadSpec } from '../types.ts';

/**
 * A workload's env var that sets the share of its cpu limit each of its twin
 * replicas uses (a what-if knob: "what if this service ran hotter").
 */
export const SIM_CPU_UTILIZATION_ENV = 'YUNJIAN_SIM_CPU_UTILIZATION';

/**
 * The twin's model of one ready replica's cpu use, millicores: a share of its
 * cpu limit (the request for workloads that are not colocated), from
 * SIM_CPU_UTILIZATION_ENV or else fixed per workload between 10 % and 50 %
 * by a hash of its key, varied by up to ±20 % over a day of the sim clock.
 */
export function simReplicaCpuMillis(spec: WorkloadSpec, nowMs: number): number {
  const limit = spec.cpuLimitMillis ?? spec.cpuMillis;
  const set = Number(spec.env[SIM_CPU_UTILIZATION_ENV]);
  if (spec.env[SIM_CPU_UTILIZATION_ENV] !== undefined && Number.isFinite(set))
    return limit * Math.min(1, Math.max(0, set));
  const { namespace, app, component } = spec.key;
  const h = fnv1a32(`${namespace}/${app}/${component}`);
  const share = 0.1 + 0.4 * ((h % 1000) / 1000);
  const phase = ((h >>> 10) % 1000) / 1000;
  const day = 24 * 3600 * 1000;
  return limit * share * (1 + 0.2 * Math.sin(2 * Math.PI * (nowMs / day + phase)));
}

/**
 * The simulated ingress address of a sim cluster: one address in the shared
 * address space 100.64.0.0/10 (RFC 6598, never routed on the internet), from a
 * hash of the cluster's name, so it is the same after a restart and (barring a
 * 1-in-4M collision) distinct per cluster.
 */
export function simIngressAddress(cluster: string): string {
  const n = (100 << 24) + (64 << 16) + (fnv1a32(cluster) & 0x3fffff);
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}
