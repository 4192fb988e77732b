// Node-level placement: which nodes of a cluster take a component's replicas.
// The one implementation used by the global scheduler, the sim driver and the
// benchmarks (see nodestate.ts for the state it works on).
//
// Index. Nodes are grouped into classes (nodeclasses.ts): nodes of one cluster
// with the same shape (architecture, cpu, memory, pods, GPU count and model).
// Inside a class every node sits in one of 16 x 16 cells (levels.ts) by how
// much it has free, as a fraction of its capacity, in the class's two binding
// resources:
//   GPU classes: (free GPU, free cpu);  CPU classes: (free cpu, free memory).
// A node with no pod slot left, a failed node and a parked node sit in no cell.
// Each cell is a doubly linked list (typed arrays, O(1) moves) and each class
// keeps a 16-bit mask per row of non-empty cells, so the tightest non-empty
// cell that can hold a request is found with a handful of bit operations.
//
// Selection (best fit, fragmentation-aware):
//   1. per compatible class, the non-empty cell with the least free space
//      (lowest row + column) among those whose levels can hold the request;
//      up to LOOKAHEAD fitting nodes of that cell are compared exactly;
//   2. across classes the tightest candidate wins, except that a replica
//      without GPUs goes to a GPU node only when no CPU node takes it (CPU on
//      GPU nodes strands GPUs), a GPU share prefers a GPU that is already
//      shared over breaking a whole one, and a GPU replica that allows several
//      models pays for the share of its model's free GPUs in the cluster it
//      would take (see modelScarcity);
//   3. the chosen node takes as many replicas as fit (and `maxPerNode`
//      allows), since after each one it is still the tightest fit.
// Ties go to the lower node index, so placement is deterministic.
//
// Capacity summaries per class and per cluster (free cpu, memory, pods, GPUs)
// are kept exact on every change, for the scheduler's scores and its estimate
// of how many replicas a cluster can take (an upper bound: it ignores how the
// free space is split between nodes).
import {
  GPU_MILLI,
  GPU_MODEL_SET,
  MAX_GPUS_PER_NODE,
  modelAllowed,
  type Allocation,
  type CompiledRequest,
  type NodeState,
} from './nodestate.ts';
import { CELLS, LEVELS, level, lowestBit } from './levels.ts';
import { classifyNodes } from './nodeclasses.ts';

/** Fitting nodes of the best cell compared exactly before choosing. */
const LOOKAHEAD = 4;
/** Nodes of one cell looked at before moving to the next cell (all of them if no cell has a fit). */
const SCAN_LIMIT = 32;

export class NodePlacer {
  readonly state: NodeState;
  readonly clusterCount: number;

  // ---- classes (index k)
  readonly classCount: number;
  readonly classCluster: Int32Array;
  readonly classArch: Uint8Array;
  readonly classGpuModel: Uint16Array;
  /** Largest GPU count of the class's nodes; 0 for a CPU class. */
  readonly classGpus: Uint8Array;
  readonly classMaxCpu: Float64Array;
  readonly classMaxMem: Float64Array;
  readonly classNodes: Int32Array;
  /** Free totals over the class's healthy nodes. */
  readonly classCpuFree: Float64Array;
  readonly classMemFree: Float64Array;
  readonly classPodsFree: Float64Array;
  readonly classGpuWhole: Float64Array;
  readonly classGpuFree: Float64Array;
  readonly classHealthy: Int32Array;
  /** Classes of cluster c: clusterClasses[clusterClassStart[c] .. clusterClassStart[c + 1]). */
  readonly clusterClassStart: Int32Array;
  readonly clusterClasses: Int32Array;

  // ---- per cluster totals over healthy nodes
  readonly clusterCpuCap: Float64Array;
  readonly clusterCpuFree: Float64Array;
  readonly clusterMemCap: Float64Array;
  readonly clusterMemFree: Float64Array;
  readonly clusterGpuCap: Float64Array;
  readonly clusterGpuFree: Float64Array;
  readonly clusterPodsFree: Float64Array;
  readonly clusterNodes: Int32Array;
  /** Free milli-GPUs of model m in cluster c at c * modelCount + m (m indexes state.gpuModels). */
  readonly clusterModelGpuFree: Float64Array;
  private readonly modelCount: number;

  // ---- per node
  readonly nodeClass: Int32Array;
  /** Cell of the node (class * CELLS + row * LEVELS + column), -1 when in none. */
  private readonly nodeCell: Int32Array;
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  private readonly parked: Uint8Array;
  private readonly head: Int32Array;
  private readonly rowMask: Uint16Array;
  /** Scratch: cells already found empty of fitting nodes during one search. */
  private readonly skip = new Uint16Array(LEVELS);
  private skipDirty = false;

  constructor(state: NodeState, clusterCount?: number) {
    this.state = state;
    const n = state.count;
    let clusters = clusterCount ?? 0;
    for (let i = 0; i < n; i++)
      if (state.cluster[i]! + 1 > clusters) clusters = state.cluster[i]! + 1;
    this.clusterCount = clusters;

    const { nodeClass, firstNode } = classifyNodes(state);
    this.nodeClass = nodeClass;

    const K = firstNode.length;
    this.classCount = K;
    this.classCluster = new Int32Array(K);
    this.classArch = new Uint8Array(K);
    this.classGpuModel = new Uint16Array(K);
    this.classGpus = new Uint8Array(K);
    this.classMaxCpu = new Float64Array(K);
    this.classMaxMem = new Float64Array(K);
    this.classNodes = new Int32Array(K);
    this.classCpuFree = new Float64Array(K);
    this.classMemFree = new Float64Array(K);
    this.classPodsFree = new Float64Array(K);
    this.classGpuWhole = new Float64Array(K);
    this.classGpuFree = new Float64Array(K);
    this.classHealthy = new Int32Array(K);
    for (let k = 0; k < K; k++) {
      const i = firstNode[k]!;
      this.classCluster[k] = state.cluster[i]!;
      this.classArch[k] = state.arch[i]!;
      this.classGpuModel[k] = state.gpuModel[i]!;
    }
    for (let i = 0; i < n; i++) {
      const k = this.nodeClass[i]!;
      this.classNodes[k]!++;
      if (state.cpuCap[i]! > this.classMaxCpu[k]!) this.classMaxCpu[k] = state.cpuCap[i]!;
      if (state.memCap[i]! > this.classMaxMem[k]!) this.classMaxMem[k] = state.memCap[i]!;
      if (state.gpuCount[i]! > this.classGpus[k]!) this.classGpus[k] = state.gpuCount[i]!;
    }
    // Classes of each cluster, in class order (CSR).
    this.clusterClassStart = new Int32Array(clusters + 1);
    for (let k = 0; k < K; k++) this.clusterClassStart[this.classCluster[k]! + 1]!++;
    for (let c = 0; c < clusters; c++) this.clusterClassStart[c + 1]! += this.clusterClassStart[c]!;
    this.clusterClasses = new Int32Array(K);
    const fill = this.clusterClassStart.slice(0, clusters);
    for (let k = 0; k < K; k++) this.clusterClasses[fill[this.classCluster[k]!]!++] = k;

    this.clusterCpuCap = new Float64Array(clusters);
    this.clusterCpuFree = new Float64Array(clusters);
    this.clusterMemCap = new Float64Array(clusters);
    this.clusterMemFree = new Float64Array(clusters);
    this.clusterGpuCap = new Float64Array(clusters);
    this.clusterGpuFree = new Float64Array(clusters);
    this.clusterPodsFree = new Float64Array(clusters);
    this.clusterNodes = new Int32Array(clusters);
    this.modelCount = state.gpuModels.length;
    this.clusterModelGpuFree = new Float64Array(clusters * this.modelCount);

    this.nodeCell = new Int32Array(n).fill(-1);
    this.next = new Int32Array(n).fill(-1);
    this.prev = new Int32Array(n).fill(-1);
    this.parked = new Uint8Array(n);
    this.head = new Int32Array(K * CELLS).fill(-1);
    this.rowMask = new Uint16Array(K * LEVELS);
    // Tail insertion in index order: within a cell, lower indexes come first.
    const tail = new Int32Array(K * CELLS).fill(-1);
    for (let i = 0; i < n; i++) {
      this.clusterNodes[state.cluster[i]!]!++;
      this.add(i, 1);
      const cell = this.cellOf(i);
      if (cell < 0) continue;
      const t = tail[cell]!;
      if (t < 0) this.head[cell] = i;
      else this.next[t] = i;
      this.prev[i] = t;
      tail[cell] = i;
      this.nodeCell[i] = cell;
      const k = this.nodeClass[i]!;
      const local = cell - k * CELLS;
      this.rowMask[k * LEVELS + ((local / LEVELS) | 0)]! |= 1 << (local % LEVELS);
    }
  }

  // ------------------------------------------------------------ bookkeeping

  /** Adds (sign 1) or removes (sign -1) the node's free space from the class and cluster totals. */
  private add(i: number, sign: number): void {
    const s = this.state;
    if (s.healthy[i] !== 1) return;
    const k = this.nodeClass[i]!;
    const c = s.cluster[i]!;
    const cpuFree = s.cpuCap[i]! - s.cpuUsed[i]!;
    const memFree = s.memCap[i]! - s.memUsed[i]!;
    const podsFree = s.podsCap[i]! - s.podsUsed[i]!;
    const gpuFree = s.gpuFreeTotal[i]!;
    this.classCpuFree[k]! += sign * cpuFree;
    this.classMemFree[k]! += sign * memFree;
    this.classPodsFree[k]! += sign * podsFree;
    this.classGpuWhole[k]! += sign * s.gpuWhole[i]!;
    this.classGpuFree[k]! += sign * gpuFree;
    this.classHealthy[k]! += sign;
    this.clusterCpuCap[c]! += sign * s.cpuCap[i]!;
    this.clusterCpuFree[c]! += sign * cpuFree;
    this.clusterMemCap[c]! += sign * s.memCap[i]!;
    this.clusterMemFree[c]! += sign * memFree;
    this.clusterGpuCap[c]! += sign * s.gpuCount[i]! * GPU_MILLI;
    this.clusterGpuFree[c]! += sign * gpuFree;
    this.clusterPodsFree[c]! += sign * podsFree;
    this.clusterModelGpuFree[c * this.modelCount + s.gpuModel[i]!]! += sign * gpuFree;
  }

  private cellOf(i: number): number {
    const s = this.state;
    if (s.healthy[i] !== 1 || this.parked[i] === 1 || s.podsUsed[i]! >= s.podsCap[i]!) return -1;
    const k = this.nodeClass[i]!;
    let a: number;
    let b: number;
    const cpu = level(s.cpuCap[i]! - s.cpuUsed[i]!, s.cpuCap[i]!);
    if (s.gpuCount[i]! > 0) {
      a = level(s.gpuFreeTotal[i]!, s.gpuCount[i]! * GPU_MILLI);
      b = cpu;
    } else {
      a = cpu;
      b = level(s.memCap[i]! - s.memUsed[i]!, s.memCap[i]!);
    }
    return k * CELLS + a * LEVELS + b;
  }

  private unlink(i: number): void {
    const cell = this.nodeCell[i]!;
    if (cell < 0) return;
    const p = this.prev[i]!;
    const nx = this.next[i]!;
    if (p >= 0) this.next[p] = nx;
    else this.head[cell] = nx;
    if (nx >= 0) this.prev[nx] = p;
    this.nodeCell[i] = -1;
    if (this.head[cell]! < 0) {
      const k = this.nodeClass[i]!;
      const local = cell - k * CELLS;
      this.rowMask[k * LEVELS + ((local / LEVELS) | 0)]! &= ~(1 << (local % LEVELS));
    }
  }

  /** Puts the node at the front of its cell: the node just used stays first among equals. */
  private link(i: number): void {
    const cell = this.cellOf(i);
    if (cell < 0) return;
    const h = this.head[cell]!;
    this.next[i] = h;
    this.prev[i] = -1;
    if (h >= 0) this.prev[h] = i;
    else {
      const k = this.nodeClass[i]!;
      const local = cell - k * CELLS;
      this.rowMask[k * LEVELS + ((local / LEVELS) | 0)]! |= 1 << (local % LEVELS);
    }
    this.head[cell] = i;
    this.nodeCell[i] = cell;
  }

  /** Call before changing node i's state outside the placer ... */
  begin(i: number): void {
    this.add(i, -1);
    this.unlink(i);
  }

  /** ... and after: re-files the node and its free space. */
  end(i: number): void {
    this.add(i, 1);
    this.link(i);
  }

  /** Takes the node out of selection until unpark (e.g. it reached a per-node limit). */
  park(i: number): void {
    if (this.parked[i] === 1) return;
    this.unlink(i);
    this.parked[i] = 1;
  }

  unpark(i: number): void {
    if (this.parked[i] === 0) return;
    this.parked[i] = 0;
    this.link(i);
  }

  setHealthy(i: number, healthy: boolean): void {
    this.begin(i);
    this.state.healthy[i] = healthy ? 1 : 0;
    this.end(i);
  }

  allocate(i: number, r: CompiledRequest): Allocation {
    this.begin(i);
    try {
      return this.state.allocateCompiled(i, r);
    } finally {
      this.end(i);
    }
  }

  release(a: Allocation): void {
    this.begin(a.node);
    this.state.release(a);
    this.end(a.node);
  }

  // ------------------------------------------------------------ capacity

  /** Whether class k can ever hold one replica: architecture, GPU model and count, node size. */
  classCompatible(k: number, r: CompiledRequest): boolean {
    if (((r.archMask >> this.classArch[k]!) & 1) === 0) return false;
    if (r.gpuModel !== 0 && !modelAllowed(r, this.classGpuModel[k]!)) return false;
    if (r.gpuCount > 0) {
      const gpus = this.classGpus[k]!;
      if (gpus === 0) return false;
      if (r.gpuMilli >= GPU_MILLI ? gpus < r.gpuCount : r.gpuCount !== 1) return false;
    }
    return true;
  }

  /**
   * Whether some indexed node of class k has free levels that may hold r: a
   * quick necessary condition (a node in the boundary cell may still be short).
   */
  hasRoom(k: number, r: CompiledRequest): boolean {
    const maxCpu = this.classMaxCpu[k]!;
    const gpus = this.classGpus[k]!;
    let ia: number;
    let ib: number;
    if (gpus > 0) {
      ia = level(r.gpuCount > 0 ? r.gpuCount * r.gpuMilli : 0, gpus * GPU_MILLI);
      ib = level(r.cpuMilli, maxCpu);
    } else {
      ia = level(r.cpuMilli, maxCpu);
      ib = level(r.memoryMiB, this.classMaxMem[k]!);
    }
    const colMask = ~((1 << ib) - 1) & 0xffff;
    const rows = k * LEVELS;
    for (let a = LEVELS - 1; a >= ia; a--)
      if ((this.rowMask[rows + a]! & colMask) !== 0) return true;
    return false;
  }

  /** Upper bound on the replicas class k can take now (0 when it is not compatible). */
  classEstimate(k: number, r: CompiledRequest): number {
    let n = this.classPodsFree[k]!;
    if (r.cpuMilli > 0) n = Math.min(n, this.classCpuFree[k]! / r.cpuMilli);
    if (r.memoryMiB > 0) n = Math.min(n, this.classMemFree[k]! / r.memoryMiB);
    if (r.gpuCount > 0) {
      n = Math.min(
        n,
        r.gpuMilli >= GPU_MILLI
          ? this.classGpuWhole[k]! / r.gpuCount
          : this.classGpuFree[k]! / r.gpuMilli,
      );
    }
    return n > 0 ? Math.floor(n) : 0;
  }

  /** Upper bound on the replicas cluster c can take now. */
  estimate(c: number, r: CompiledRequest): number {
    let total = 0;
    for (let j = this.clusterClassStart[c]!; j < this.clusterClassStart[c + 1]!; j++) {
      const k = this.clusterClasses[j]!;
      if (!this.classCompatible(k, r)) continue;
      if (this.classMaxCpu[k]! < r.cpuMilli || this.classMaxMem[k]! < r.memoryMiB) continue;
      total += this.classEstimate(k, r);
    }
    return total;
  }

  // ------------------------------------------------------------ selection

  /** Exact replicas of `r` node i can take now, at most `limit`. */
  fitCount(i: number, r: CompiledRequest, limit: number): number {
    const s = this.state;
    if (!s.fitsCompiled(i, r)) return 0;
    let n = Math.min(limit, s.podsCap[i]! - s.podsUsed[i]!);
    if (r.cpuMilli > 0) n = Math.min(n, Math.floor((s.cpuCap[i]! - s.cpuUsed[i]!) / r.cpuMilli));
    if (r.memoryMiB > 0) n = Math.min(n, Math.floor((s.memCap[i]! - s.memUsed[i]!) / r.memoryMiB));
    if (r.gpuCount > 0 && n > 0) {
      if (r.gpuMilli >= GPU_MILLI) n = Math.min(n, Math.floor(s.gpuWhole[i]! / r.gpuCount));
      else {
        let slots = 0;
        const base = i * MAX_GPUS_PER_NODE;
        for (let g = 0; g < s.gpuCount[i]!; g++)
          slots += Math.floor(s.gpuFree[base + g]! / r.gpuMilli);
        n = Math.min(n, slots);
      }
    }
    return n > 0 ? n : 0;
  }

  /** Lower is tighter: how much of the node stays free after one more replica (plus a penalty for breaking a whole GPU). */
  private tightness(i: number, r: CompiledRequest): number {
    const s = this.state;
    const cpuAfter =
      s.cpuCap[i]! > 0 ? (s.cpuCap[i]! - s.cpuUsed[i]! - r.cpuMilli) / s.cpuCap[i]! : 0;
    const memAfter =
      s.memCap[i]! > 0 ? (s.memCap[i]! - s.memUsed[i]! - r.memoryMiB) / s.memCap[i]! : 0;
    const gpus = s.gpuCount[i]!;
    if (gpus === 0) return cpuAfter + memAfter / LEVELS;
    const gpuAfter =
      (s.gpuFreeTotal[i]! - (r.gpuCount > 0 ? r.gpuCount * r.gpuMilli : 0)) / (gpus * GPU_MILLI);
    let penalty = 0;
    if (r.gpuCount > 0 && r.gpuMilli < GPU_MILLI) {
      // A share that fits in an already shared GPU breaks no whole one.
      penalty = 1;
      const base = i * MAX_GPUS_PER_NODE;
      for (let g = 0; g < gpus; g++) {
        const f = s.gpuFree[base + g]!;
        if (f < GPU_MILLI && f >= r.gpuMilli) {
          penalty = 0;
          break;
        }
      }
    }
    return penalty + gpuAfter + cpuAfter / LEVELS;
  }

  /**
   * The best node of class k for one replica, or -1. Cells are visited from the
   * tightest; the first cell with fitting nodes decides, among up to LOOKAHEAD of them.
   */
  private bestInClass(k: number, r: CompiledRequest, scanLimit = SCAN_LIMIT): number {
    const s = this.state;
    let truncated = false;
    let ia: number;
    let ib: number;
    const maxCpu = this.classMaxCpu[k]!;
    // Levels are fractions of each node's own capacity; against the class's
    // largest node they never start above a node that could fit.
    const cpuLevel = level(r.cpuMilli, maxCpu);
    const gpus = this.classGpus[k]!;
    if (gpus > 0) {
      ia = level(r.gpuCount > 0 ? r.gpuCount * r.gpuMilli : 0, gpus * GPU_MILLI);
      ib = cpuLevel;
    } else {
      ia = cpuLevel;
      ib = level(r.memoryMiB, this.classMaxMem[k]!);
    }
    const skip = this.skip;
    if (this.skipDirty) {
      skip.fill(0);
      this.skipDirty = false;
    }
    const colMask = ~((1 << ib) - 1) & 0xffff;
    const rows = k * LEVELS;
    for (;;) {
      let bestRow = -1;
      let bestCol = 0;
      let bestCost = 1 << 30;
      for (let a = ia; a < LEVELS; a++) {
        if (a + ib >= bestCost) break;
        const m = this.rowMask[rows + a]! & colMask & ~skip[a]!;
        if (m === 0) continue;
        const b = lowestBit(m);
        if (a + b < bestCost) {
          bestCost = a + b;
          bestRow = a;
          bestCol = b;
        }
      }
      if (bestRow < 0) break;
      let best = -1;
      let bestTight = Infinity;
      let seen = 0;
      let scanned = 0;
      for (let i = this.head[k * CELLS + bestRow * LEVELS + bestCol]!; i >= 0; i = this.next[i]!) {
        if (++scanned > scanLimit && best < 0) {
          truncated = true;
          break;
        }
        if (!s.fitsCompiled(i, r)) continue;
        const t = this.tightness(i, r);
        if (t < bestTight || (t === bestTight && i < best)) {
          bestTight = t;
          best = i;
        }
        if (++seen >= LOOKAHEAD) break;
      }
      if (best >= 0) return best;
      skip[bestRow]! |= 1 << bestCol;
      this.skipDirty = true;
    }
    // A long cell of nodes that do not fit was cut short: look through all of it.
    return truncated && scanLimit !== Infinity ? this.bestInClass(k, r, Infinity) : -1;
  }

  /**
   * The share of its GPU model's free GPUs in cluster c that one replica of r
   * takes on a node of class k (0..1). Best fit alone sends a replica that
   * allows any model to the tightest node whatever its model, so it can use up
   * a scarce model (two 1-GPU A10 nodes) that later replicas pinned to that
   * model need, while plenty of another model is free. Charging the fraction of
   * the model's remaining supply makes such replicas take plentiful models
   * first and a scarce one only when it is clearly the better fit.
   */
  private modelScarcity(c: number, k: number, r: CompiledRequest): number {
    const free = this.clusterModelGpuFree[c * this.modelCount + this.classGpuModel[k]!]!;
    return free > 0 ? (r.gpuCount * r.gpuMilli) / free : 1;
  }

  /** The best node of cluster c for one replica of `r`, or -1. */
  bestNode(c: number, r: CompiledRequest): number {
    let best = -1;
    let bestScore = Infinity;
    // A replica pinned to one model compares nodes of that model only: the term would be constant.
    const weighModels = r.gpuCount > 0 && (r.gpuModel === 0 || r.gpuModel === GPU_MODEL_SET);
    for (let j = this.clusterClassStart[c]!; j < this.clusterClassStart[c + 1]!; j++) {
      const k = this.clusterClasses[j]!;
      if (this.classHealthy[k] === 0 || !this.classCompatible(k, r)) continue;
      if (this.classMaxCpu[k]! < r.cpuMilli || this.classMaxMem[k]! < r.memoryMiB) continue;
      if (this.classEstimate(k, r) === 0) continue;
      const i = this.bestInClass(k, r);
      if (i < 0) continue;
      // CPU-only replicas on GPU nodes strand GPUs: only when no CPU node takes them.
      let score = this.tightness(i, r) + (r.gpuCount === 0 && this.classGpus[k]! > 0 ? 4 : 0);
      if (weighModels) score += this.modelScarcity(c, k, r);
      if (score < bestScore || (score === bestScore && i < best)) {
        bestScore = score;
        best = i;
      }
    }
    return best;
  }

  /**
   * Places up to `count` replicas of `r` on nodes of cluster c, best fit, at
   * most `maxPerNode` on one node (counting `onNode(i)` already there). Writes
   * each replica's node into `nodes` from `offset` and, when `allocations` is
   * given, pushes one Allocation per replica. Returns how many were placed.
   */
  place(
    c: number,
    r: CompiledRequest,
    count: number,
    opts: {
      maxPerNode?: number;
      onNode?: (node: number) => number;
      nodes?: Int32Array;
      offset?: number;
      allocations?: Allocation[];
    } = {},
  ): number {
    const maxPerNode = opts.maxPerNode ?? Infinity;
    const parked: number[] = [];
    let placed = 0;
    const s = this.state;
    try {
      while (placed < count) {
        const i = this.bestNode(c, r);
        if (i < 0) break;
        const already = opts.onNode ? opts.onNode(i) : 0;
        const room = maxPerNode - already;
        const k = room > 0 ? this.fitCount(i, r, Math.min(count - placed, room)) : 0;
        if (k === 0) {
          // Only a per-node limit can make the best node take nothing.
          this.park(i);
          parked.push(i);
          continue;
        }
        this.begin(i);
        if (r.gpuCount > 0 || opts.allocations) {
          for (let j = 0; j < k; j++) {
            const a = s.allocateCompiled(i, r);
            opts.allocations?.push(a);
          }
        } else {
          s.cpuUsed[i]! += k * r.cpuMilli;
          s.memUsed[i]! += k * r.memoryMiB;
          s.podsUsed[i]! += k;
        }
        this.end(i);
        if (opts.nodes)
          opts.nodes.fill(i, (opts.offset ?? 0) + placed, (opts.offset ?? 0) + placed + k);
        placed += k;
        if (already + k >= maxPerNode) {
          this.park(i);
          parked.push(i);
        }
      }
    } finally {
      for (const i of parked) this.unpark(i);
    }
    return placed;
  }
}
