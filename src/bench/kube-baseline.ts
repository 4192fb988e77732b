// The benchmarks' baseline: the Kubernetes default scheduler's algorithm
// (kube-scheduler, default profile), re-implemented over a NodeState so that it
// runs on exactly the nodes and requests the candidate gets. It was written
// from reading pkg/scheduler/schedule_one.go and the noderesources,
// nodeaffinity, tainttoleration and podtopologyspread plugins; no code is
// copied.
//
// One pod at a time (scheduleOne):
//   1. PreFilter  PodTopologySpread counts, per topology domain, the pods of the
//                 same group on every node that passes the pod's required node
//                 affinity (nodeAffinityPolicy Honor, nodeTaintsPolicy Ignore),
//                 visiting ALL nodes, as upstream does.
//   2. Filter     starting at the rotating `nextStartNodeIndex`, nodes are
//                 visited in order until `numFeasibleNodesToFind` feasible ones
//                 are found (percentageOfNodesToScore adaptive: 50 - n/125 per
//                 cent, at least 5 %, at least 100 nodes, all nodes below 100).
//                 Filters, in the default profile's order:
//                 TaintToleration (NoSchedule/NoExecute taints; a failed node
//                 counts as tainted not-ready), NodeAffinity (required terms on
//                 node labels: kubernetes.io/arch, the GPU product label and any
//                 topology labels the bench gives), NodeResourcesFit (a pod
//                 slot, cpu, memory and the extended resource nvidia.com/gpu as
//                 a count of whole GPUs), PodTopologySpread (DoNotSchedule:
//                 count + 1 - min over eligible domains <= maxSkew; min is 0
//                 while fewer than minDomains domains are eligible).
//                 nextStartNodeIndex advances by the number of nodes visited.
//   3. Score      NodeResourcesFit with the LeastAllocated strategy (cpu and
//                 memory, weight 1 each; requests of 0 count as 100m / 200 MiB,
//                 the scheduler's "non-zero" requests) plus
//                 NodeResourcesBalancedAllocation (1 - |cpu% - mem%| / 2, on the
//                 real requests; skipped for best-effort pods), each 0..100 in
//                 integer arithmetic as upstream, plugin weights 1, summed.
//   4. Select     the highest total; ties broken by a seeded reservoir choice
//                 (upstream's selectHost: the k-th tie replaces the pick with
//                 probability 1/k).
//   5. Bind       the pod's requests are added to the node (assume + bind).
//
// Left out, because they score every node of the benchmarks alike or do not
// apply: ImageLocality, InterPodAffinity (no pod affinity in the benches),
// NodeAffinity and TaintToleration scores (no preferred terms, no
// PreferNoSchedule taints), the system-default soft spreading of
// PodTopologySpread (ScheduleAnyway), preemption, volumes and ports. Binding
// is synchronous and instantaneous (no API server).
//
// GPUs: the default scheduler knows GPUs only as the device-plugin resource
// nvidia.com/gpu, an integer. It cannot share a GPU, so a pod asking for a
// share of one GPU (gpuMilli < 1000) asks for one whole GPU here; a GPU model
// constraint is node affinity on the node's GPU product label.
import { ARCHES, type Taint } from '../model/schema.ts';
import { seededRandom, type Random } from '../lib/random.ts';
import { GPU_MILLI, type Allocation, type NodeState, type PodRequest } from '../scheduler/index.ts';

/** The node label the kubelet sets to the node's architecture. */
export const ARCH_LABEL = 'kubernetes.io/arch';
/** The node label NVIDIA's GPU feature discovery sets to the GPU model. */
export const GPU_PRODUCT_LABEL = 'nvidia.com/gpu.product';

/** Upstream constants (schedule_one.go). */
export const MIN_FEASIBLE_NODES_TO_FIND = 100;
export const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5;
/** MaxNodeScore. */
export const MAX_NODE_SCORE = 100;
/** The scheduler's default requests for a container that sets none (util.DefaultMilliCPURequest / DefaultMemoryRequest). */
export const DEFAULT_MILLI_CPU_REQUEST = 100;
export const DEFAULT_MEMORY_REQUEST_MIB = 200;

/** A node label as a column: per node an index into `values`, -1 when the node lacks the label. */
export interface LabelColumn {
  values: readonly string[];
  byNode: Int32Array;
}

export interface KubeTopology {
  /** Node labels besides kubernetes.io/arch and nvidia.com/gpu.product, which come from the NodeState. */
  labels?: ReadonlyMap<string, LabelColumn>;
  /** Per node, an index into `taintSets`; -1 for a node without taints. */
  taintSetOf?: Int32Array;
  taintSets?: readonly (readonly Taint[])[];
}

export interface KubeToleration {
  key?: string;
  operator?: 'Exists' | 'Equal';
  value?: string;
  effect?: Taint['effect'];
}

export interface KubeNodeSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn';
  values: readonly string[];
}

export interface KubeSpreadConstraint {
  topologyKey: string;
  maxSkew: number;
  minDomains?: number;
}

/** One pod as the default scheduler sees it. */
export interface KubePod {
  cpuMilli: number;
  memoryMiB: number;
  /** nvidia.com/gpu: whole GPUs. */
  gpus: number;
  /** requiredDuringSchedulingIgnoredDuringExecution, one node selector term (requirements ANDed). */
  nodeAffinity?: readonly KubeNodeSelectorRequirement[];
  tolerations?: readonly KubeToleration[];
  /** Pods of one group match each other's topology spread label selector (one application's replicas). */
  group?: number;
  /** whenUnsatisfiable: DoNotSchedule constraints. */
  topologySpread?: readonly KubeSpreadConstraint[];
}

/** What a bound pod holds, to release it later. */
export interface KubeBinding {
  node: number;
  allocation: Allocation;
  nonZeroCpu: number;
  nonZeroMem: number;
  group: number | undefined;
  /** Spread counters this pod was added to: [column key, domain]. */
  domains: [string, number][];
}

export interface KubeBaselineOptions {
  /** Seed of the tie-breaking random choice. Default 1. */
  seed?: number;
  /** 0 (default) = adaptive, as upstream; 1..100 = a fixed percentage. */
  percentageOfNodesToScore?: number;
  topology?: KubeTopology;
}

/** Upstream's numFeasibleNodesToFind. */
export function numFeasibleNodesToFind(numAllNodes: number, percentageOfNodesToScore = 0): number {
  if (numAllNodes < MIN_FEASIBLE_NODES_TO_FIND) return numAllNodes;
  let percentage = percentageOfNodesToScore;
  if (percentage === 0) {
    percentage = 50 - Math.trunc(numAllNodes / 125);
    if (percentage < MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
      percentage = MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND;
  }
  const numNodes = Math.trunc((numAllNodes * percentage) / 100);
  return numNodes < MIN_FEASIBLE_NODES_TO_FIND ? MIN_FEASIBLE_NODES_TO_FIND : numNodes;
}

/** LeastAllocated for one resource: the unused share of the node after the pod, 0..100. */
export function leastRequestedScore(requested: number, capacity: number): number {
  if (capacity === 0 || requested > capacity) return 0;
  return Math.floor(((capacity - requested) * MAX_NODE_SCORE) / capacity);
}

/** BalancedAllocation over cpu and memory fractions (resources with capacity 0 are left out). */
export function balancedScore(
  cpuRequested: number,
  cpuCapacity: number,
  memRequested: number,
  memCapacity: number,
): number {
  let n = 0;
  let f0 = 0;
  let f1 = 0;
  if (cpuCapacity !== 0) {
    f0 = Math.min(1, cpuRequested / cpuCapacity);
    n++;
  }
  if (memCapacity !== 0) {
    const f = Math.min(1, memRequested / memCapacity);
    if (n === 0) f0 = f;
    else f1 = f;
    n++;
  }
  const std = n === 2 ? Math.abs((f0 - f1) / 2) : 0;
  return Math.trunc((1 - std) * MAX_NODE_SCORE);
}

/** Whether one of the tolerations tolerates the taint (upstream's ToleratesTaint). */
export function tolerates(tolerations: readonly KubeToleration[], taint: Taint): boolean {
  for (const t of tolerations) {
    if (t.effect !== undefined && t.effect !== taint.effect) continue;
    if (t.key === undefined || t.key === '') {
      // An empty key with Exists matches every taint.
      if ((t.operator ?? 'Equal') === 'Exists') return true;
      continue;
    }
    if (t.key !== taint.key) continue;
    if ((t.operator ?? 'Equal') === 'Exists') return true;
    if ((t.value ?? '') === (taint.value ?? '')) return true;
  }
  return false;
}

/** A node selector requirement resolved against one label column. */
interface CompiledRequirement {
  byNode: Int32Array;
  /** Per label value: 1 = matches. */
  allowed: Uint8Array;
  /** Whether a node without the label matches (NotIn). */
  absent: boolean;
}

interface CompiledSpread {
  key: string;
  column: LabelColumn;
  maxSkew: number;
  minDomains: number;
  /** The group's pods per domain. */
  counts: Int32Array;
  /** Pre-filter result: the smallest count over eligible domains (0 below minDomains). */
  minMatch: number;
}

interface CompiledPod {
  pod: KubePod;
  requirements: CompiledRequirement[];
  /** Per taint set: 1 = every NoSchedule/NoExecute taint in it is tolerated. */
  toleratedSets: Uint8Array;
  spreads: CompiledSpread[];
  nonZeroCpu: number;
  nonZeroMem: number;
  bestEffort: boolean;
}

export class KubeBaseline {
  readonly state: NodeState;
  /** Where the next filter pass starts (upstream: sched.nextStartNodeIndex). */
  nextStartNodeIndex = 0;
  /** Nodes visited and found feasible in the last scheduling cycle, for tests and diagnostics. */
  lastEvaluated = 0;
  lastFeasible = 0;

  private readonly percentage: number;
  private readonly random: Random;
  private readonly labels = new Map<string, LabelColumn>();
  private readonly taintSetOf: Int32Array | undefined;
  private readonly taintSets: readonly (readonly Taint[])[];
  /** Sums of the non-zero requests per node (what LeastAllocated scores). */
  private readonly nonZeroCpuUsed: Float64Array;
  private readonly nonZeroMemUsed: Float64Array;
  /** group -> topology key -> pods per domain. */
  private readonly spreadCounts = new Map<number, Map<string, Int32Array>>();
  private feasible: Int32Array;

  constructor(state: NodeState, options: KubeBaselineOptions = {}) {
    this.state = state;
    this.percentage = options.percentageOfNodesToScore ?? 0;
    this.random = seededRandom(options.seed ?? 1, 'kube-baseline');
    const n = state.count;
    this.labels.set(ARCH_LABEL, { values: ARCHES, byNode: Int32Array.from(state.arch) });
    const gpuProduct = new Int32Array(n);
    for (let i = 0; i < n; i++) gpuProduct[i] = state.gpuModel[i]! === 0 ? -1 : state.gpuModel[i]!;
    this.labels.set(GPU_PRODUCT_LABEL, { values: state.gpuModels, byNode: gpuProduct });
    for (const [key, column] of options.topology?.labels ?? []) {
      if (column.byNode.length !== n)
        throw new RangeError(`label ${key}: ${column.byNode.length} values for ${n} nodes`);
      this.labels.set(key, column);
    }
    this.taintSetOf = options.topology?.taintSetOf;
    this.taintSets = options.topology?.taintSets ?? [];
    // Nodes that already hold allocations start with them as their non-zero requests.
    this.nonZeroCpuUsed = Float64Array.from(state.cpuUsed);
    this.nonZeroMemUsed = Float64Array.from(state.memUsed);
    this.feasible = new Int32Array(Math.min(n, numFeasibleNodesToFind(n, this.percentage)));
  }

  /**
   * One scheduling cycle: the node the pod is bound to, or undefined when no
   * node passes the filters (the pod stays pending; nothing changes except
   * nextStartNodeIndex).
   */
  schedule(pod: KubePod): KubeBinding | undefined {
    const c = this.compile(pod);
    const state = this.state;
    const n = state.count;
    this.lastEvaluated = 0;
    this.lastFeasible = 0;
    if (n === 0) return undefined;
    for (const s of c.spreads) this.preFilterSpread(c, s);

    // Filter, from the rotating start, until enough feasible nodes are found.
    const toFind = numFeasibleNodesToFind(n, this.percentage);
    if (this.feasible.length < toFind) this.feasible = new Int32Array(toFind);
    const feasible = this.feasible;
    let found = 0;
    let visited = 0;
    const start = this.nextStartNodeIndex;
    for (; visited < n && found < toFind; visited++) {
      let node = start + visited;
      if (node >= n) node -= n;
      if (this.passes(node, c)) feasible[found++] = node;
    }
    this.nextStartNodeIndex = (start + visited) % n;
    this.lastEvaluated = visited;
    this.lastFeasible = found;
    if (found === 0) return undefined;

    // Score and select.
    let chosen = feasible[0]!;
    if (found > 1) {
      let best = -1;
      let ties = 0;
      for (let i = 0; i < found; i++) {
        const node = feasible[i]!;
        const score = this.score(node, c);
        if (score > best) {
          best = score;
          chosen = node;
          ties = 1;
        } else if (score === best) {
          ties++;
          if (Math.floor(this.random() * ties) === 0) chosen = node;
        }
      }
    }
    return this.bind(chosen, c);
  }

  /** Takes a bound pod off its node. */
  release(b: KubeBinding): void {
    this.state.release(b.allocation);
    this.nonZeroCpuUsed[b.node]! -= b.nonZeroCpu;
    this.nonZeroMemUsed[b.node]! -= b.nonZeroMem;
    if (b.group === undefined) return;
    const byKey = this.spreadCounts.get(b.group);
    for (const [key, domain] of b.domains) byKey!.get(key)![domain]!--;
  }

  /** Whether the node passes every filter for the pod (spread counts as of now). */
  feasibleFor(node: number, pod: KubePod): boolean {
    const c = this.compile(pod);
    for (const s of c.spreads) this.preFilterSpread(c, s);
    return this.passes(node, c);
  }

  /**
   * Whether the pod may ever go to the node: health, TaintToleration and
   * NodeAffinity, not resources or spread (what a capacity estimator filters
   * nodes by). Compiles the pod once for many nodes.
   */
  nodeMatcher(pod: KubePod): (node: number) => boolean {
    const c = this.compile({ ...pod, topologySpread: [] });
    return (node) => {
      if (this.state.healthy[node] !== 1) return false;
      const t = this.taintSetOf?.[node] ?? -1;
      if (t >= 0 && c.toleratedSets[t] !== 1) return false;
      return this.matchesAffinity(node, c);
    };
  }

  /** The total score (LeastAllocated + BalancedAllocation) the pod would give the node now. */
  scoreFor(node: number, pod: KubePod): number {
    return this.score(node, this.compile(pod));
  }

  // ---------------------------------------------------------------- internals

  private compile(pod: KubePod): CompiledPod {
    const requirements: CompiledRequirement[] = [];
    for (const r of pod.nodeAffinity ?? []) {
      const column = this.labels.get(r.key);
      const allowed = new Uint8Array(column?.values.length ?? 0);
      const inList = r.operator === 'In';
      column?.values.forEach((v, i) => {
        allowed[i] = r.values.includes(v) === inList ? 1 : 0;
      });
      requirements.push({
        byNode: column?.byNode ?? new Int32Array(this.state.count).fill(-1),
        allowed,
        absent: !inList,
      });
    }
    const toleratedSets = new Uint8Array(this.taintSets.length);
    const tolerations = pod.tolerations ?? [];
    this.taintSets.forEach((set, i) => {
      toleratedSets[i] = set.every(
        (t) => t.effect === 'PreferNoSchedule' || tolerates(tolerations, t),
      )
        ? 1
        : 0;
    });
    const spreads: CompiledSpread[] = [];
    if (pod.topologySpread !== undefined && pod.topologySpread.length > 0) {
      if (pod.group === undefined) throw new RangeError('a pod with topologySpread needs a group');
      let byKey = this.spreadCounts.get(pod.group);
      if (byKey === undefined)
        this.spreadCounts.set(pod.group, (byKey = new Map<string, Int32Array>()));
      for (const s of pod.topologySpread) {
        const column = this.labels.get(s.topologyKey);
        if (column === undefined)
          throw new RangeError(`no node label ${s.topologyKey} to spread by`);
        let counts = byKey.get(s.topologyKey);
        if (counts === undefined)
          byKey.set(s.topologyKey, (counts = new Int32Array(column.values.length)));
        spreads.push({
          key: s.topologyKey,
          column,
          maxSkew: s.maxSkew,
          minDomains: s.minDomains ?? 1,
          counts,
          minMatch: 0,
        });
      }
    }
    return {
      pod,
      requirements,
      toleratedSets,
      spreads,
      nonZeroCpu: pod.cpuMilli === 0 ? DEFAULT_MILLI_CPU_REQUEST : pod.cpuMilli,
      nonZeroMem: pod.memoryMiB === 0 ? DEFAULT_MEMORY_REQUEST_MIB : pod.memoryMiB,
      bestEffort: pod.cpuMilli === 0 && pod.memoryMiB === 0,
    };
  }

  /** PodTopologySpread PreFilter: eligible domains from every node that passes node affinity. */
  private preFilterSpread(c: CompiledPod, s: CompiledSpread): void {
    const eligible = new Uint8Array(s.column.values.length);
    const byNode = s.column.byNode;
    const n = this.state.count;
    let domains = 0;
    for (let node = 0; node < n; node++) {
      const d = byNode[node]!;
      if (d < 0 || eligible[d] === 1) continue;
      if (!this.matchesAffinity(node, c)) continue;
      eligible[d] = 1;
      domains++;
    }
    let min = Number.POSITIVE_INFINITY;
    for (let d = 0; d < eligible.length; d++)
      if (eligible[d] === 1) min = Math.min(min, s.counts[d]!);
    s.minMatch = domains < s.minDomains ? 0 : min;
  }

  private matchesAffinity(node: number, c: CompiledPod): boolean {
    for (const r of c.requirements) {
      const v = r.byNode[node]!;
      if (v < 0 ? !r.absent : r.allowed[v] !== 1) return false;
    }
    return true;
  }

  private passes(node: number, c: CompiledPod): boolean {
    const s = this.state;
    // TaintToleration (a failed node carries node.kubernetes.io/not-ready:NoSchedule).
    if (s.healthy[node] !== 1) return false;
    if (this.taintSetOf !== undefined) {
      const t = this.taintSetOf[node]!;
      if (t >= 0 && c.toleratedSets[t] !== 1) return false;
    }
    // NodeAffinity.
    if (!this.matchesAffinity(node, c)) return false;
    // NodeResourcesFit.
    const pod = c.pod;
    if (s.podsUsed[node]! + 1 > s.podsCap[node]!) return false;
    if (pod.cpuMilli > 0 && pod.cpuMilli > s.cpuCap[node]! - s.cpuUsed[node]!) return false;
    if (pod.memoryMiB > 0 && pod.memoryMiB > s.memCap[node]! - s.memUsed[node]!) return false;
    if (pod.gpus > 0 && pod.gpus > s.gpuWhole[node]!) return false;
    // PodTopologySpread.
    for (const sp of c.spreads) {
      const d = sp.column.byNode[node]!;
      if (d < 0) return false;
      if (sp.counts[d]! + 1 - sp.minMatch > sp.maxSkew) return false;
    }
    return true;
  }

  private score(node: number, c: CompiledPod): number {
    const s = this.state;
    const cpuCap = s.cpuCap[node]!;
    const memCap = s.memCap[node]!;
    const least = Math.trunc(
      (leastRequestedScore(this.nonZeroCpuUsed[node]! + c.nonZeroCpu, cpuCap) +
        leastRequestedScore(this.nonZeroMemUsed[node]! + c.nonZeroMem, memCap)) /
        2,
    );
    const balanced = c.bestEffort
      ? 0
      : balancedScore(
          s.cpuUsed[node]! + c.pod.cpuMilli,
          cpuCap,
          s.memUsed[node]! + c.pod.memoryMiB,
          memCap,
        );
    return least + balanced;
  }

  private bind(node: number, c: CompiledPod): KubeBinding {
    const pod = c.pod;
    const allocation = this.state.allocate(node, {
      cpuMilli: pod.cpuMilli,
      memoryMiB: pod.memoryMiB,
      gpuCount: pod.gpus,
      gpuMilli: GPU_MILLI,
    });
    this.nonZeroCpuUsed[node]! += c.nonZeroCpu;
    this.nonZeroMemUsed[node]! += c.nonZeroMem;
    const domains: [string, number][] = [];
    for (const sp of c.spreads) {
      const d = sp.column.byNode[node]!;
      sp.counts[d]!++;
      domains.push([sp.key, d]);
    }
    return {
      node,
      allocation,
      nonZeroCpu: c.nonZeroCpu,
      nonZeroMem: c.nonZeroMem,
      group: pod.group,
      domains,
    };
  }
}

/**
 * The pod the default scheduler would get for a request of the shared
 * PodRequest shape: architectures as node affinity on kubernetes.io/arch, a
 * GPU model or a list of allowed ones as node affinity (operator In) on the
 * GPU product label, as a user would write it, and a share of a GPU
 * rounded up to one whole GPU (the default scheduler cannot share GPUs).
 */
export function kubePodFor(
  request: PodRequest,
  extra: Omit<KubePod, 'cpuMilli' | 'memoryMiB' | 'gpus'> = {},
): KubePod {
  const affinity: KubeNodeSelectorRequirement[] = [...(extra.nodeAffinity ?? [])];
  if (request.architectures !== undefined)
    affinity.push({ key: ARCH_LABEL, operator: 'In', values: request.architectures });
  if (request.gpuModel !== undefined && request.gpuModel !== '')
    affinity.push({ key: GPU_PRODUCT_LABEL, operator: 'In', values: [request.gpuModel] });
  if (request.gpuModels !== undefined && request.gpuModels.length > 0)
    affinity.push({ key: GPU_PRODUCT_LABEL, operator: 'In', values: request.gpuModels });
  return {
    ...extra,
    cpuMilli: request.cpuMilli,
    memoryMiB: request.memoryMiB,
    gpus: wholeGpus(request),
    ...(affinity.length > 0 ? { nodeAffinity: affinity } : {}),
  };
}

/** nvidia.com/gpu for a request: a share of one GPU takes a whole one. */
export function wholeGpus(request: PodRequest): number {
  if (request.gpuCount <= 0 && request.gpuMilli <= 0) return 0;
  if (request.gpuMilli > 0 && request.gpuMilli < GPU_MILLI) return 1;
  return Math.max(1, request.gpuCount);
}
