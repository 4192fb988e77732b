// Colocation on real data: the Bitbrains "Rnd" VMs on identical nodes, packed
// by requested cores (the baseline, the Kubernetes default algorithm on the
// VMs' requests) versus by predicted use (the candidate's colocation mode).
//
// Protocol, the same for both:
// - Training: hours [0, trainHours) of the usage trace (default the first 7
//   days). The candidate sees only these hours of history; the baseline sees
//   none (it uses the requests).
// - Placement at hour `trainHours`, of every VM still running then (a VM
//   with a sample at or after that hour), handed to the placer in file order
//   (a placer may queue them in its own order: the baseline keeps file order,
//   the candidate places the most predicted cpu first).
// - Nodes needed: the smallest number of identical nodes on which the
//   scheduler places every one of those VMs (what a cluster autoscaler would
//   provision); found by trying N = lower bound, N + 1, ...
// - Evaluation: hours [trainHours, hours), never seen by the placement. Per
//   node and hour, the use is the sum of its VMs' cpu_cores_avg (an hour
//   without a sample counts 0) and the peak the sum of their cpu_cores_max.
//   avgCpuUtilization = total use / (nodes x cores x hours);
//   overloadedNodeHourShare = node-hours whose summed peak is above 90 % of
//   the node's cores / all node-hours. Summing peaks is pessimistic (peaks
//   of different VMs need not coincide within the hour).
//
// Node shape: 32 cores and 512 GiB (a 2-socket memory-optimised
// virtualisation host, 16 GiB per core), 110 VM slots. 512 GiB because the
// trace's largest VM (bb-27) asks for 32 cores and 511 GiB and must fit on one
// node; the VMs ask for 3.4 GiB per core on average, so cpu is what binds when
// packing by requests.
import { performance } from 'node:perf_hooks';
import { NodeState, type NodeInput, type PodRequest } from '../scheduler/index.ts';
import { KubeBaseline, kubePodFor } from './kube-baseline.ts';
import { compareRow, fixed, int, percent, quantile, type Progress, type Row } from './report.ts';
import type { BitbrainsTrace } from './traces.ts';

export const DEFAULT_NODE_CORES = 32;
export const DEFAULT_NODE_MEMORY_GIB = 512;
export const DEFAULT_TRAIN_HOURS = 7 * 24;
export const OVERLOAD_THRESHOLD = 0.9;
const NODE_PODS = 110;

/** One VM as the placement sees it: its request and the training part of its history. */
export interface ColocationVm {
  name: string;
  request: PodRequest;
  /** Index into the trace's VMs. */
  index: number;
  /** Training hours only (length trainHours): per hour, sampled or not, avg/max cores, avg MiB. */
  history: {
    present: Uint8Array;
    cpuAvg: Float64Array;
    cpuMax: Float64Array;
    memAvgMiB: Float64Array;
  };
}

/** Places every VM on the state (allocating what it decides) and returns the node of each, -1 when not placed. */
export type VmPlacer = (state: NodeState, vms: readonly ColocationVm[]) => Int32Array;

/** One scheduler's result: the JSON keys of the colocation benchmark. */
export interface ColocationSide {
  nodes: number;
  vms: number;
  avgCpuUtilization: number;
  overloadedNodeHourShare: number;
  /** Highest summed hourly peak on any node, as a share of its cores. */
  maxNodePeakUtilization: number;
  avgMemoryUtilization: number;
  /** Node-hours whose summed average memory use is above the node's memory. */
  memoryOverloadedNodeHourShare: number;
  /** Requested cores of the VMs per node core (the overcommit ratio). */
  cpuRequestedPerCore: number;
  /** Wall time of all the placement attempts. */
  seconds: number;
}

export interface ColocationOptions {
  nodeCores?: number;
  nodeMemoryGiB?: number;
  trainHours?: number;
  seed?: number;
  progress?: Progress;
}

export function colocationVms(trace: BitbrainsTrace, trainHours: number): ColocationVm[] {
  const { hours } = trace;
  const vms: ColocationVm[] = [];
  trace.vms.forEach((vm, i) => {
    let alive = false;
    for (let h = trainHours; h < hours && !alive; h++) alive = trace.present[i * hours + h] === 1;
    if (!alive) return;
    const from = i * hours;
    const to = from + Math.min(trainHours, hours);
    vms.push({
      name: vm.name,
      index: i,
      request: {
        cpuMilli: Math.round(vm.cores * 1000),
        memoryMiB: vm.memoryMiB,
        gpuCount: 0,
        gpuMilli: 0,
      },
      history: {
        present: trace.present.slice(from, to),
        cpuAvg: trace.cpuAvg.slice(from, to),
        cpuMax: trace.cpuMax.slice(from, to),
        memAvgMiB: trace.memAvgMiB.slice(from, to),
      },
    });
  });
  return vms;
}

/** The baseline: the default scheduler's algorithm on the VMs' requests. */
export function baselineVmPlacer(seed: number): VmPlacer {
  return (state, vms) => {
    const kb = new KubeBaseline(state, { seed });
    return Int32Array.from(vms, (vm) => kb.schedule(kubePodFor(vm.request))?.node ?? -1);
  };
}

/** The percentile of training-hour use the usage-aware baseline requests. */
export const USAGE_AWARE_PERCENTILE = 0.95;

/**
 * What a VM would request if its requests were set from its use, as a
 * vertical autoscaler's recommendation sets them: the USAGE_AWARE_PERCENTILE
 * of its hourly average cpu and of its hourly average memory over the training
 * hours it was sampled in (at least 1 millicore and 1 MiB); a VM never sampled
 * keeps its request.
 */
export function usageAwareRequest(vm: ColocationVm): PodRequest {
  const cpu: number[] = [];
  const mem: number[] = [];
  const h = vm.history;
  for (let i = 0; i < h.present.length; i++) {
    if (h.present[i] !== 1) continue;
    cpu.push(h.cpuAvg[i]!);
    mem.push(h.memAvgMiB[i]!);
  }
  if (cpu.length === 0) return vm.request;
  return {
    ...vm.request,
    cpuMilli: Math.max(1, Math.ceil(quantile(cpu, USAGE_AWARE_PERCENTILE) * 1000)),
    memoryMiB: Math.max(1, Math.ceil(quantile(mem, USAGE_AWARE_PERCENTILE))),
  };
}

/**
 * The usage-aware baseline: the default scheduler's algorithm, unchanged,
 * on requests set from use (`usageAwareRequest`) — what a Kubernetes user
 * gets from a vertical autoscaler's recommendations, without any colocation
 * logic in the scheduler.
 */
export function usageAwareVmPlacer(seed: number): VmPlacer {
  return (state, vms) => {
    const kb = new KubeBaseline(state, { seed });
    return Int32Array.from(vms, (vm) => kb.schedule(kubePodFor(usageAwareRequest(vm)))?.node ?? -1);
  };
}

/**
 * Fewest identical nodes on which `place` puts every VM, and where it put
 * them: doubling from 1 until everything fits, then bisection (success is
 * taken to be monotone in the node count, which holds for both placers here).
 */
export function nodesNeeded(
  vms: readonly ColocationVm[],
  node: NodeInput,
  place: VmPlacer,
  progress?: Progress,
  label = 'colocation',
): { nodes: number; assignment: Int32Array; seconds: number } {
  const began = performance.now();
  const attempt = (k: number): Int32Array | undefined => {
    const state = NodeState.fromNodes(Array.from({ length: k }, () => node));
    const a = place(state, vms);
    const ok = a.length === vms.length && a.every((x) => x >= 0 && x < k);
    progress?.(`${label}: ${k} nodes: ${ok ? 'every VM placed' : 'some VMs left over'}`);
    return ok ? a : undefined;
  };
  if (vms.length === 0) return { nodes: 0, assignment: new Int32Array(0), seconds: 0 };
  let lo = 0; // known not to be enough
  let hi = 1;
  let best = attempt(hi);
  while (best === undefined) {
    if (hi >= vms.length * 4) throw new Error(`${label}: the VMs do not fit even on ${hi} nodes`);
    lo = hi;
    hi *= 2;
    best = attempt(hi);
  }
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    const a = attempt(mid);
    if (a === undefined) lo = mid;
    else {
      hi = mid;
      best = a;
    }
  }
  return { nodes: hi, assignment: best, seconds: (performance.now() - began) / 1000 };
}

/** Utilisation and overload of an assignment over the evaluation hours. */
export function evaluate(
  trace: BitbrainsTrace,
  vms: readonly ColocationVm[],
  assignment: Int32Array,
  nodes: number,
  nodeCores: number,
  nodeMemoryMiB: number,
  trainHours: number,
): Omit<ColocationSide, 'seconds'> {
  const { hours } = trace;
  const evalHours = Math.max(0, hours - trainHours);
  let used = 0;
  let memUsed = 0;
  let overloaded = 0;
  let memOverloaded = 0;
  let maxPeak = 0;
  const peak = new Float64Array(nodes);
  const mem = new Float64Array(nodes);
  for (let h = trainHours; h < hours; h++) {
    peak.fill(0);
    mem.fill(0);
    for (let v = 0; v < vms.length; v++) {
      const k = vms[v]!.index * hours + h;
      if (trace.present[k] !== 1) continue;
      const n = assignment[v]!;
      used += trace.cpuAvg[k]!;
      memUsed += trace.memAvgMiB[k]!;
      peak[n]! += trace.cpuMax[k]!;
      mem[n]! += trace.memAvgMiB[k]!;
    }
    for (let n = 0; n < nodes; n++) {
      if (peak[n]! > OVERLOAD_THRESHOLD * nodeCores) overloaded++;
      if (mem[n]! > nodeMemoryMiB) memOverloaded++;
      maxPeak = Math.max(maxPeak, peak[n]! / nodeCores);
    }
  }
  const nodeHours = nodes * evalHours;
  let requested = 0;
  for (const v of vms) requested += v.request.cpuMilli / 1000;
  return {
    nodes,
    vms: vms.length,
    avgCpuUtilization: nodeHours > 0 ? used / (nodeHours * nodeCores) : 0,
    overloadedNodeHourShare: nodeHours > 0 ? overloaded / nodeHours : 0,
    maxNodePeakUtilization: maxPeak,
    avgMemoryUtilization: nodeHours > 0 ? memUsed / (nodeHours * nodeMemoryMiB) : 0,
    memoryOverloadedNodeHourShare: nodeHours > 0 ? memOverloaded / nodeHours : 0,
    cpuRequestedPerCore: nodes > 0 ? requested / (nodes * nodeCores) : 0,
  };
}

/** Nodes needed by one placer, then its evaluation. */
export function colocate(
  trace: BitbrainsTrace,
  place: VmPlacer,
  options: ColocationOptions & { label?: string } = {},
): ColocationSide {
  const nodeCores = options.nodeCores ?? DEFAULT_NODE_CORES;
  const nodeMemoryMiB = (options.nodeMemoryGiB ?? DEFAULT_NODE_MEMORY_GIB) * 1024;
  const trainHours = Math.min(options.trainHours ?? DEFAULT_TRAIN_HOURS, trace.hours);
  const vms = colocationVms(trace, trainHours);
  const node: NodeInput = {
    arch: 'amd64',
    cpuMilli: nodeCores * 1000,
    memoryMiB: nodeMemoryMiB,
    pods: NODE_PODS,
    gpus: 0,
  };
  const { nodes, assignment, seconds } = nodesNeeded(
    vms,
    node,
    place,
    options.progress,
    options.label,
  );
  return {
    ...evaluate(trace, vms, assignment, nodes, nodeCores, nodeMemoryMiB, trainHours),
    seconds,
  };
}

/**
 * Whether `candidate` beats `baseline`: fewer nodes, or as many nodes with
 * fewer overloaded node-hours (the colocation target against the usage-aware
 * baseline).
 */
export function beats(candidate: ColocationSide, baseline: ColocationSide): boolean {
  return (
    candidate.nodes < baseline.nodes ||
    (candidate.nodes === baseline.nodes &&
      candidate.overloadedNodeHourShare < baseline.overloadedNodeHourShare)
  );
}

/** The table rows comparing two sides. */
export function comparisonRows(candidate: ColocationSide, baseline: ColocationSide): Row[] {
  return [
    compareRow('VMs placed', candidate.vms, baseline.vms, int, false),
    compareRow('nodes needed', candidate.nodes, baseline.nodes, int),
    compareRow(
      'avg CPU utilisation',
      candidate.avgCpuUtilization,
      baseline.avgCpuUtilization,
      percent,
    ),
    compareRow(
      `node-hours > ${OVERLOAD_THRESHOLD * 100} % CPU (peaks)`,
      candidate.overloadedNodeHourShare,
      baseline.overloadedNodeHourShare,
      (x) => percent(x, 2),
      false,
    ),
    compareRow(
      'highest node-hour peak',
      candidate.maxNodePeakUtilization,
      baseline.maxNodePeakUtilization,
      percent,
      false,
    ),
    compareRow(
      'requested cores / node core',
      candidate.cpuRequestedPerCore,
      baseline.cpuRequestedPerCore,
      (x) => fixed(x),
    ),
    compareRow(
      'avg memory utilisation',
      candidate.avgMemoryUtilization,
      baseline.avgMemoryUtilization,
      percent,
    ),
    compareRow(
      'node-hours memory > 100 %',
      candidate.memoryOverloadedNodeHourShare,
      baseline.memoryOverloadedNodeHourShare,
      (x) => percent(x, 2),
      false,
    ),
  ];
}
