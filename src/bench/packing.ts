// Packing on real data: replay an Alibaba GPU 2023 pod list on its node list.
//
// Pods arrive in creation order and leave at their deletion time; releases due
// at or before an arrival happen first. A pod that fits nowhere when it
// arrives is counted unplaced and dropped (no queue, no retry, no preemption),
// the same for both schedulers, so the comparison is decision for decision.
// Nodes get 110 pod slots (the kubelet default; the trace has no limit).
//
// Reported, time-weighted over the replay (from the first arrival to the last
// event):
// - gpuAllocationAvg: GPU requested by running pods / GPU capacity. What the
//   pods asked for, in milli-GPU: a 0.3-GPU pod counts 0.3 even where the
//   baseline had to give it a whole GPU.
// - cpuAllocationAvg: cpu requested by running pods / cpu capacity.
// - gpuFragmentationAvg: the share of GPU capacity that is free but cannot be
//   used by the pod list's GPU pods, weighted by how common each GPU request
//   (count x milli) is ("Beware of Fragmentation", ATC'23): for a request
//   class, all free GPU of a node whose cpu, memory or GPUs cannot take it, and
//   on a node that can, the free GPU on devices too full for it (for a share:
//   devices with less free than the share; for whole GPUs: partly used devices).
//   Sampled at `samples` evenly spaced times.
// - gpuOverAllocationAvg: GPU held by running pods beyond what they asked for
//   / GPU capacity: the default scheduler gives a 0.3-GPU pod a whole GPU, so
//   0.7 of it is held but idle. Together with fragmentation, the GPU lost.
// The timeline (same samples) keeps the three over time for plotting.
import { performance } from 'node:perf_hooks';
import { MinHeap } from '../lib/heap.ts';
import { seededRandom } from '../lib/random.ts';
import {
  GPU_MILLI,
  MAX_GPUS_PER_NODE,
  NodeState,
  type Allocation,
  type NodeInput,
  type PodRequest,
} from '../scheduler/index.ts';
import { KubeBaseline, kubePodFor, type KubeBinding } from './kube-baseline.ts';
import type { Progress } from './report.ts';
import { sortByCreation, type AlibabaNode, type AlibabaPod } from './traces.ts';

export const ALIBABA_NODE_PODS = 110;
export const DEFAULT_SAMPLES = 200;

export interface PackingTimelinePoint {
  /** Seconds from the start of the trace. */
  t: number;
  gpuAllocation: number;
  cpuAllocation: number;
  gpuFragmentation: number;
}

/** One scheduler's result: the JSON keys of the packing benchmark. */
export interface PackingSide {
  pods: number;
  placed: number;
  unplaced: number;
  unplacedGpuPods: number;
  gpuAllocationAvg: number;
  cpuAllocationAvg: number;
  memAllocationAvg: number;
  gpuFragmentationAvg: number;
  gpuOverAllocationAvg: number;
  /** Placements after which the node was over capacity in cpu, memory, pods or GPU (must be 0). */
  overCapacity: number;
  /** Highest GPU allocation reached, and the allocation at the end of the arrivals. */
  gpuAllocationMax: number;
  gpuAllocationFinal: number;
  cpuAllocationFinal: number;
  /**
   * leave: the lowest share of the GPUs held by pods (what they asked for,
   * plus the rest of each whole GPU the baseline gives a share) in the
   * measured passes, just before an arrival: whether the cluster stayed
   * allocated. 0 for the other protocols.
   */
  gpuHeldMinMeasured: number;
  /** leave: what each trace lifetime was multiplied by (clock units per trace second); 0 otherwise. */
  lifetimeScale: number;
  /** Wall time of the replay (placement decisions and bookkeeping). */
  seconds: number;
  timeline: PackingTimelinePoint[];
}

/** A placed pod: what it took, and how to give it back. */
export interface PlacedPod {
  allocation: Allocation;
  release: () => void;
}

/**
 * Places one pod on the state it was made for (allocating it) or returns
 * undefined; `pod.gpuModels`, when not empty, are the GPU models it may use.
 */
export type PodPlacer = (pod: PodRequest) => PlacedPod | undefined;

/**
 * trace: pods leave at their deletion time (the trace's own timing).
 * fill: nobody leaves; the clock is the arrival count. The pod lists ask in
 * total for ~98 % of the cluster's GPUs while only ~1 % runs at any moment
 * of the trace's timing, so this is the replay where placement decides how
 * much fits (the ATC'23 paper's own methodology).
 * leave: the list is replayed LEAVE_PASSES times back to back, one arrival
 * per clock unit in creation order, and each pod lives its own trace
 * lifetime (deletion - creation) times one factor. A list asks in total for
 * ~98 % of the GPUs, so one pass cannot keep the cluster full while pods
 * leave. The factor is the one (found by bisection, leaveScale) for which the
 * GPU the pods in flight would ask for if all were placed averages `load` x
 * the capacity over the measured passes (after LEAVE_WARMUP_PASSES of
 * warm-up, which are not measured: averages, samples and the lowest
 * allocation cover the later passes;
 * unplaced pods count every pass).
 */
export type PackingTiming = 'trace' | 'fill' | 'leave';

/** The leave protocol's offered GPU load (GPU asked for in flight / capacity) by default. */
export const DEFAULT_LEAVE_LOAD = 1;
/** Passes over the pod list in the leave protocol, and how many of them are warm-up (not measured). */
export const LEAVE_PASSES = 4;
export const LEAVE_WARMUP_PASSES = 2;
/** The allocation the leave protocol is meant to hold the cluster above. */
export const LEAVE_FULL = 0.8;

export interface PackingOptions {
  timing?: PackingTiming;
  /** leave: the offered GPU load (default DEFAULT_LEAVE_LOAD). */
  load?: number;
  seed?: number;
  samples?: number;
  progress?: Progress;
  /** Label for progress lines. */
  label?: string;
}

export function alibabaNodeInputs(nodes: readonly AlibabaNode[]): NodeInput[] {
  return nodes.map((n) => {
    const input: NodeInput = {
      arch: 'amd64',
      cpuMilli: n.cpuMilli,
      memoryMiB: n.memoryMiB,
      pods: ALIBABA_NODE_PODS,
      gpus: n.gpus,
    };
    if (n.model !== undefined) input.gpuModel = n.model;
    return input;
  });
}

export function podRequestOf(p: AlibabaPod): PodRequest {
  const r: PodRequest = {
    cpuMilli: p.cpuMilli,
    memoryMiB: p.memoryMiB,
    gpuCount: p.numGpu,
    gpuMilli: p.gpuMilli,
  };
  if (p.gpuModels.length > 0) r.gpuModels = p.gpuModels;
  return r;
}

/** The baseline's placer: the default scheduler's algorithm over the state. */
export function baselinePlacer(state: NodeState, seed: number): PodPlacer {
  const kb = new KubeBaseline(state, { seed });
  return (pod) => {
    const k = kubePodFor(pod);
    const b: KubeBinding | undefined = kb.schedule(k);
    return b === undefined ? undefined : { allocation: b.allocation, release: () => kb.release(b) };
  };
}

/**
 * Share of the GPU pods that a derived list makes name GPU models: a third,
 * about 29 % of all pods of the default list, like the trace authors'
 * "gpuspec33" list (which ../shared/data does not have).
 */
export const DERIVED_GPU_SPEC_SHARE = 1 / 3;

/**
 * A copy of the pod list in which a seeded `share` of the GPU pods that name
 * no model name one or two, as a GPU spec would: a model drawn by GPU count
 * among the models with a node that could hold the pod when empty, and with
 * probability 1/2 a second such model. Pods no model could hold stay as they are.
 */
export function withGpuSpecs(
  pods: readonly AlibabaPod[],
  nodes: readonly AlibabaNode[],
  share: number,
  seed: number,
): AlibabaPod[] {
  const random = seededRandom(seed, 'packing-gpu-spec');
  const models = new Map<string, { gpus: number; shapes: AlibabaNode[] }>();
  for (const n of nodes) {
    if (n.model === undefined) continue;
    let m = models.get(n.model);
    if (m === undefined) models.set(n.model, (m = { gpus: 0, shapes: [] }));
    m.gpus += n.gpus;
    m.shapes.push(n);
  }
  const draw = (among: [string, { gpus: number }][]): string | undefined => {
    const total = among.reduce((t, [, m]) => t + m.gpus, 0);
    let x = random() * total;
    for (const [name, m] of among) if ((x -= m.gpus) < 0) return name;
    return among[among.length - 1]?.[0];
  };
  return pods.map((p) => {
    if (p.numGpu === 0 || p.gpuModels.length > 0 || random() >= share) return p;
    const eligible = [...models].filter(([, m]) =>
      m.shapes.some(
        (n) => n.gpus >= p.numGpu && n.cpuMilli >= p.cpuMilli && n.memoryMiB >= p.memoryMiB,
      ),
    );
    const first = draw(eligible);
    if (first === undefined) return p;
    const rest = eligible.filter(([name]) => name !== first);
    const second = rest.length > 0 && random() < 0.5 ? draw(rest) : undefined;
    return { ...p, gpuModels: second === undefined ? [first] : [first, second] };
  });
}

interface RequestClass {
  gpuCount: number;
  gpuMilli: number;
  cpuMilli: number;
  memoryMiB: number;
  weight: number;
}

/** GPU request classes of the pod list with their share of GPU pods, and mean cpu/memory. */
function requestClasses(pods: readonly AlibabaPod[]): RequestClass[] {
  const byKey = new Map<
    string,
    { n: number; cpu: number; mem: number; count: number; milli: number }
  >();
  let total = 0;
  for (const p of pods) {
    if (p.numGpu === 0) continue;
    const key = `${p.numGpu}x${p.gpuMilli}`;
    let c = byKey.get(key);
    if (c === undefined)
      byKey.set(key, (c = { n: 0, cpu: 0, mem: 0, count: p.numGpu, milli: p.gpuMilli }));
    c.n++;
    c.cpu += p.cpuMilli;
    c.mem += p.memoryMiB;
    total++;
  }
  return [...byKey.values()].map((c) => ({
    gpuCount: c.count,
    gpuMilli: c.milli,
    cpuMilli: c.cpu / c.n,
    memoryMiB: c.mem / c.n,
    weight: c.n / total,
  }));
}

/** Expected fragmented milli-GPU of the whole state for the request classes. */
export function gpuFragmentation(
  state: NodeState,
  classes: readonly {
    gpuCount: number;
    gpuMilli: number;
    cpuMilli: number;
    memoryMiB: number;
    weight: number;
  }[],
): number {
  let frag = 0;
  for (let n = 0; n < state.count; n++) {
    const g = state.gpuCount[n]!;
    if (g === 0) continue;
    const free = state.gpuFreeTotal[n]!;
    if (free === 0) continue;
    const base = n * MAX_GPUS_PER_NODE;
    const cpuFree = state.cpuCap[n]! - state.cpuUsed[n]!;
    const memFree = state.memCap[n]! - state.memUsed[n]!;
    const slot = state.podsUsed[n]! < state.podsCap[n]! && state.healthy[n] === 1;
    for (const c of classes) {
      let f: number;
      if (!slot || cpuFree < c.cpuMilli || memFree < c.memoryMiB) f = free;
      else if (c.gpuMilli >= GPU_MILLI) {
        // Whole GPUs: partly used devices are unusable; all free is unusable when too few whole ones.
        f = state.gpuWhole[n]! >= c.gpuCount ? free - state.gpuWhole[n]! * GPU_MILLI : free;
      } else {
        let unusable = 0;
        let usable = false;
        for (let d = 0; d < g; d++) {
          const x = state.gpuFree[base + d]!;
          if (x < c.gpuMilli) unusable += x;
          else usable = true;
        }
        f = usable ? unusable : free;
      }
      frag += c.weight * f;
    }
  }
  return frag;
}

/**
 * The leave protocol's pod stream: the list in creation order LEAVE_PASSES
 * times, arrival i at clock i, each pod leaving after its trace lifetime
 * times `scale` (never, for a pod the trace never deleted).
 */
export function leaveStream(inOrder: readonly AlibabaPod[], scale: number): AlibabaPod[] {
  const out: AlibabaPod[] = [];
  for (let pass = 0; pass < LEAVE_PASSES; pass++)
    for (const p of inOrder) {
      const i = out.length;
      out.push({ ...p, creation: i, deletion: i + (p.deletion - p.creation) * scale });
    }
  return out;
}

/**
 * The lifetime factor of the leave protocol: the GPU asked for by the pods in
 * flight if every pod were placed, averaged over the arrivals of passes
 * after warm-up, grows with the factor; bisection (on a log scale) finds
 * the factor where it is `load` x capacity. 0 when no pod ever leaves.
 */
export function leaveScale(
  inOrder: readonly AlibabaPod[],
  gpuCapMilli: number,
  load: number,
): number {
  const n = inOrder.length;
  const total = n * LEAVE_PASSES;
  const warmup = n * LEAVE_WARMUP_PASSES;
  if (n === 0 || !inOrder.some((p) => Number.isFinite(p.deletion) && p.numGpu > 0)) return 0;
  const delta = new Float64Array(total + 1);
  const offered = (scale: number) => {
    delta.fill(0);
    for (let i = 0; i < total; i++) {
      const p = inOrder[i % n]!;
      const gpu = p.numGpu * p.gpuMilli;
      delta[i]! += gpu;
      const leaves = Math.ceil(i + (p.deletion - p.creation) * scale);
      delta[Math.min(total, Math.max(i + 1, leaves))]! -= gpu;
    }
    let inFlight = 0;
    let sum = 0;
    for (let t = 0; t < total; t++) {
      inFlight += delta[t]!;
      if (t >= warmup) sum += inFlight;
    }
    return sum / (total - warmup) / gpuCapMilli;
  };
  let lo = 1e-9;
  let hi = 1e9;
  for (let k = 0; k < 80; k++) {
    const mid = Math.sqrt(lo * hi);
    if (offered(mid) < load) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** Replays the pod list on a fresh copy of the nodes with one scheduler. */
export function replay(
  nodes: readonly NodeInput[],
  podsInFileOrder: readonly AlibabaPod[],
  makePlacer: (state: NodeState) => PodPlacer,
  options: PackingOptions = {},
): PackingSide {
  const state = NodeState.fromNodes(nodes);
  const place = makePlacer(state);
  const timing = options.timing ?? 'trace';
  let cpuCap = 0;
  let memCap = 0;
  let gpuCap = 0;
  for (let n = 0; n < state.count; n++) {
    cpuCap += state.cpuCap[n]!;
    memCap += state.memCap[n]!;
    gpuCap += state.gpuCount[n]! * GPU_MILLI;
  }
  const inOrder = sortByCreation(podsInFileOrder);
  const lifetimeScale =
    timing === 'leave' ? leaveScale(inOrder, gpuCap, options.load ?? DEFAULT_LEAVE_LOAD) : 0;
  const pods =
    timing === 'leave'
      ? leaveStream(inOrder, lifetimeScale)
      : timing === 'fill'
        ? inOrder.map((p, i) => ({ ...p, creation: i, deletion: Number.POSITIVE_INFINITY }))
        : inOrder;
  const classes = requestClasses(pods);
  const samples = options.samples ?? DEFAULT_SAMPLES;
  const lastArrival = pods[pods.length - 1]?.creation ?? 0;
  // The leave protocol is measured after its warm-up passes while pods arrive; the
  // others from the first arrival to the last event.
  const start =
    timing === 'leave' ? inOrder.length * LEAVE_WARMUP_PASSES : (pods[0]?.creation ?? 0);
  let end = start;
  for (const p of pods)
    end = Math.max(end, p.creation, Number.isFinite(p.deletion) ? p.deletion : p.creation);
  if (timing === 'leave') end = lastArrival;
  const span = end - start;

  // Departures, by deletion time.
  type Departure = { placed: PlacedPod; gpu: number; held: number; cpu: number; mem: number };
  const departures = new MinHeap<{ t: number; a: Departure }>((x, y) => x.t < y.t);

  let gpuReq = 0;
  let gpuHeld = 0;
  let heldArea = 0;
  let cpuReq = 0;
  let memReq = 0;
  let gpuMax = 0;
  let gpuArea = 0;
  let cpuArea = 0;
  let memArea = 0;
  let now = start;
  const timeline: PackingTimelinePoint[] = [];
  let nextSample = 0;
  const sampleAt = (k: number) => (samples <= 1 ? start : start + (span * k) / (samples - 1));
  /** Moves the clock to t, integrating the allocation and taking the samples passed. */
  const advance = (t: number) => {
    while (nextSample < samples && sampleAt(nextSample) <= t) {
      timeline.push({
        t: sampleAt(nextSample),
        gpuAllocation: gpuCap > 0 ? gpuReq / gpuCap : 0,
        cpuAllocation: cpuCap > 0 ? cpuReq / cpuCap : 0,
        gpuFragmentation: gpuCap > 0 ? gpuFragmentation(state, classes) / gpuCap : 0,
      });
      nextSample++;
    }
    // Only the measured window [start, end] counts.
    const dt = Math.max(0, Math.min(t, end) - Math.max(now, start));
    gpuArea += gpuReq * dt;
    heldArea += gpuHeld * dt;
    cpuArea += cpuReq * dt;
    memArea += memReq * dt;
    now = Math.max(now, t);
  };
  const release = (until: number) => {
    for (
      let next = departures.peek();
      next !== undefined && next.t <= until;
      next = departures.peek()
    ) {
      departures.pop();
      const { t, a } = next;
      advance(t);
      a.placed.release();
      gpuReq -= a.gpu;
      gpuHeld -= a.held;
      cpuReq -= a.cpu;
      memReq -= a.mem;
    }
  };

  let gpuMin = Number.POSITIVE_INFINITY;
  const began = performance.now();
  let placed = 0;
  let overCapacity = 0;
  let unplaced = 0;
  let unplacedGpuPods = 0;
  let lastProgress = began;
  for (let i = 0; i < pods.length; i++) {
    const p = pods[i]!;
    release(p.creation);
    advance(p.creation);
    if (timing === 'leave' && p.creation >= start) gpuMin = Math.min(gpuMin, gpuHeld);
    const a = place(podRequestOf(p));
    if (a === undefined) {
      unplaced++;
      if (p.numGpu > 0) unplacedGpuPods++;
    } else {
      placed++;
      const n = a.allocation.node;
      if (
        state.cpuUsed[n]! > state.cpuCap[n]! ||
        state.memUsed[n]! > state.memCap[n]! ||
        state.podsUsed[n]! > state.podsCap[n]! ||
        state.gpuFreeTotal[n]! < 0 ||
        state.gpuWhole[n]! > state.gpuCount[n]!
      )
        overCapacity++;
      const entry = {
        placed: a,
        gpu: p.numGpu * p.gpuMilli,
        held: a.allocation.gpus.length * a.allocation.gpuMilli,
        cpu: p.cpuMilli,
        mem: p.memoryMiB,
      };
      gpuReq += entry.gpu;
      gpuHeld += entry.held;
      gpuMax = Math.max(gpuMax, gpuReq);

      cpuReq += entry.cpu;
      memReq += entry.mem;
      if (Number.isFinite(p.deletion)) departures.push({ t: p.deletion, a: entry });
    }
    const t = performance.now();
    if (options.progress && t - lastProgress > 1000) {
      lastProgress = t;
      options.progress(
        `${options.label ?? 'packing'}: ${i + 1}/${pods.length} pods, ${unplaced} unplaced`,
      );
    }
  }
  const gpuAtEnd = gpuReq;
  const cpuAtEnd = cpuReq;
  release(Number.POSITIVE_INFINITY);
  advance(Math.max(now, end));
  const seconds = (performance.now() - began) / 1000;
  const avg = (area: number, cap: number) => (span > 0 && cap > 0 ? area / span / cap : 0);
  const fragAvg =
    timeline.length > 0
      ? timeline.reduce((s, x) => s + x.gpuFragmentation, 0) / timeline.length
      : 0;
  return {
    pods: pods.length,
    placed,
    unplaced,
    unplacedGpuPods,
    gpuAllocationAvg: avg(gpuArea, gpuCap),
    cpuAllocationAvg: avg(cpuArea, cpuCap),
    memAllocationAvg: avg(memArea, memCap),
    gpuFragmentationAvg: fragAvg,
    gpuOverAllocationAvg: avg(heldArea - gpuArea, gpuCap),
    overCapacity,
    gpuAllocationMax: gpuCap > 0 ? gpuMax / gpuCap : 0,
    gpuAllocationFinal: gpuCap > 0 ? gpuAtEnd / gpuCap : 0,
    cpuAllocationFinal: cpuCap > 0 ? cpuAtEnd / cpuCap : 0,
    gpuHeldMinMeasured: gpuCap > 0 && Number.isFinite(gpuMin) ? gpuMin / gpuCap : 0,
    lifetimeScale,
    seconds,
    timeline,
  };
}
