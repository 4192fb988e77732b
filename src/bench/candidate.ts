// The candidate side of the scheduler benchmarks: Yunjian's scheduler, plugged
// in through this one adapter so the harness (inputs, baseline, timing,
// tables, JSON) never depends on the scheduler's internals.
//
// Each hook is a factory, called once per run outside the timed part, that
// returns the function the benchmark times:
// - fleetPlacer  (throughput) places every replica of one application on the
//                whole fleet, honouring its constraints, and returns how many
//                replicas it placed; calls see the earlier calls' placements.
// - podPlacer    (packing) places one pod on the nodes of one cluster, or
//                returns undefined; the returned release() gives it back.
// - vmPlacer     (colocation) places VMs by predicted use from their training
//                history on the nodes given, returning each VM's node (-1 =
//                not placed).
import type { Placement } from '../model/schema.ts';
import type { NodeState } from '../scheduler/nodestate.ts';
import { NodePlacer } from '../scheduler/placer.ts';
import {
  Scheduler,
  type AppRequest,
  type ColocationOptions,
  type PredictedUsage,
} from '../scheduler/scheduler.ts';
import type { ClusterInfo } from '../scheduler/snapshot.ts';
import type { ColocationVm, VmPlacer } from './colocation.ts';
import type { BenchFleet } from './fleet.ts';
import type { PodPlacer } from './packing.ts';
import { quantile } from './report.ts';
import type { BenchApp } from './workload.ts';

export interface Candidate {
  name: string;
  fleetPlacer: (fleet: BenchFleet, seed: number) => (app: BenchApp) => number;
  podPlacer: (state: NodeState, seed: number) => PodPlacer;
  vmPlacer: (seed: number) => VmPlacer;
  /** Settings worth recording with the results (e.g. the colocation safety limit). */
  settings?: Record<string, string | number>;
}

/** The stream's application as the scheduler's request: one component, placement as an Application says it. */
export function appRequestOf(app: BenchApp): AppRequest {
  const placement: Placement = {};
  if (app.clouds !== undefined) placement.clusterAffinity = { clouds: app.clouds };
  if (app.countries !== undefined) placement.residency = { countries: app.countries };
  if (app.spread !== undefined) {
    const s: NonNullable<Placement['spread']>[number] = { by: app.spread.by, min: app.spread.min };
    if (app.spread.max !== undefined) s.max = app.spread.max;
    placement.spread = [s];
  }
  if (app.tolerations !== undefined) placement.tolerations = app.tolerations;
  return {
    name: app.name,
    components: [{ name: 'main', replicas: app.replicas, pod: app.request }],
    placement,
  };
}

/** The global scheduler (src/scheduler/scheduler.ts), one application after another on the fleet's own node state. */
function fleetPlacer(fleet: BenchFleet, seed: number): (app: BenchApp) => number {
  const scheduler = new Scheduler(fleet.snapshot, { seed, inPlace: true });
  return (app) => {
    const plan = scheduler.scheduleApp(appRequestOf(app));
    let unplaced = 0;
    for (const c of plan.components) unplaced += c.unplaced;
    return app.replicas - unplaced;
  };
}

/** Node-level placement of src/scheduler/placer.ts: best fit, fragmentation-aware for GPUs. */
function podPlacer(state: NodeState): PodPlacer {
  const placer = new NodePlacer(state);
  return (pod, gpuModels) => {
    const models = gpuModels.length > 0 ? gpuModels : [pod.gpuModel];
    for (const model of models) {
      const r = state.compile(model === undefined ? pod : { ...pod, gpuModel: model });
      const node = placer.bestNode(0, r);
      if (node < 0) continue;
      const allocation = placer.allocate(node, r);
      return { allocation, release: () => placer.release(allocation) };
    }
    return undefined;
  };
}

/** The percentile of past use the colocation mode packs by. */
export const USAGE_PERCENTILE = 0.95;
const COLOCATION: Required<ColocationOptions> = {
  cpuLimit: 0.8,
  memoryLimit: 0.9,
  overloadThreshold: 0.9,
};

/**
 * Predicted use of a VM from its training hours only: cpu the p95 of its
 * hourly peaks, mean cpu the mean of its hourly averages, memory the highest
 * hourly average. A VM with no sample in the training hours is predicted at
 * its request.
 */
export function predictUsage(vm: ColocationVm): PredictedUsage {
  const h = vm.history;
  const peaks: number[] = [];
  let sum = 0;
  let mem = 0;
  for (let i = 0; i < h.present.length; i++) {
    if (h.present[i] !== 1) continue;
    peaks.push(h.cpuMax[i]!);
    sum += h.cpuAvg[i]!;
    mem = Math.max(mem, h.memAvgMiB[i]!);
  }
  if (peaks.length === 0) return { cpuMilli: vm.request.cpuMilli, memoryMiB: vm.request.memoryMiB };
  const cap = vm.request.cpuMilli;
  return {
    cpuMilli: Math.min(cap, Math.ceil(quantile(peaks, USAGE_PERCENTILE) * 1000)),
    cpuMeanMilli: Math.min(cap, (sum / peaks.length) * 1000),
    memoryMiB: Math.min(vm.request.memoryMiB, mem),
  };
}

/** The global scheduler in colocation mode on one cluster of the nodes given, one VM (a one-replica app) at a time. */
function vmPlacer(seed: number): VmPlacer {
  return (state, vms) => {
    const cluster: ClusterInfo = {
      name: 'colocation',
      cloud: 'bench',
      vendor: 'bench',
      site: 'bench',
      zone: '',
      region: '',
      country: '',
      labels: {},
      taints: [],
      ready: true,
      prices: { cpuCoreHour: 0, memoryGiBHour: 0, gpuHour: 0 },
    };
    const scheduler = new Scheduler(
      { clusters: [cluster], nodes: state },
      { seed, mode: 'colocation', colocation: COLOCATION, inPlace: true },
    );
    return Int32Array.from(vms, (vm) => {
      const plan = scheduler.scheduleApp({
        name: vm.name,
        components: [{ name: 'vm', replicas: 1, pod: vm.request, usage: predictUsage(vm) }],
      });
      return plan.components[0]?.assignments[0]?.nodes[0] ?? -1;
    });
  };
}

export const candidate: Candidate = {
  name: 'yunjian',
  fleetPlacer,
  podPlacer,
  vmPlacer,
  settings: {
    usagePercentile: USAGE_PERCENTILE,
    cpuLimit: COLOCATION.cpuLimit,
    memoryLimit: COLOCATION.memoryLimit,
  },
};
