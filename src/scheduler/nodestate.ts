// The node-level state of a fleet as columns of typed arrays: one slot per
// node, so 150k nodes cost a few MiB rather than 150k objects, and the hot
// loops of placement touch only numbers.
//
// This is the ONE node-placement implementation: the global scheduler, the sim
// driver (its nodes) and the benchmarks all fit, allocate and release replicas
// through it.
//
// Units: cpu in millicores, memory in MiB, GPUs in milli-GPUs per device.
//
// Invariants:
// - cpuUsed/memUsed/podsUsed are exactly the sums of the allocations made on a
//   node and not yet released; `allocate` never lets them pass the capacities.
// - GPU g of node n has gpuFree[n * MAX_GPUS_PER_NODE + g] milli-GPUs free,
//   1000 when untouched; slots g >= gpuCount[n] stay 0.
// - gpuWhole[n] counts GPUs of node n that are entirely free (gpuFree = 1000);
//   gpuFreeTotal[n] is the sum of gpuFree over the node's GPUs.
//
// GPU requests: `gpuCount` devices of `gpuMilli` each. gpuMilli >= 1000 (or 0)
// means whole GPUs: `gpuCount` entirely free devices. 0 < gpuMilli < 1000 is a
// share of ONE device (gpuCount must be 1): it goes on the GPU whose free
// share fits most tightly (best fit), so partly used GPUs fill up first and
// whole GPUs stay whole for whole-GPU requests. That is the per-node half of
// fragmentation awareness ("Beware of Fragmentation", USENIX ATC'23); the
// scheduler's packing score is the per-fleet half.
import { ARCHES, type Arch } from '../model/schema.ts';

export const MAX_GPUS_PER_NODE = 16;

/** One whole GPU in milli-GPUs. */
export const GPU_MILLI = 1000;

export interface NodeInput {
  arch: Arch;
  cpuMilli: number;
  memoryMiB: number;
  pods: number;
  gpus: number;
  gpuModel?: string;
  /** Index of the node's cluster in the snapshot; 0 when there is one cluster. */
  cluster?: number;
  /** False for a failed node: nothing fits on it. Default true. */
  healthy?: boolean;
  /** What is allocated on the node already; nothing by default. */
  used?: NodeUsage;
}

/** Allocated resources of a node that is not empty. */
export interface NodeUsage {
  cpuMilli: number;
  memoryMiB: number;
  pods: number;
  /**
   * Milli-GPUs in use: per GPU index, or a total that is taken to fill whole
   * GPUs first and share the next one with the remainder.
   */
  gpuMilli?: number | readonly number[];
}

export interface PodRequest {
  cpuMilli: number;
  memoryMiB: number;
  gpuCount: number;
  /** Per GPU: 1000 = a whole GPU; < 1000 = a share of ONE GPU (then gpuCount must be 1). */
  gpuMilli: number;
  gpuModel?: string;
  /**
   * GPU models the pod may run on, any one of them (a GPU spec such as
   * "V100M16|V100M32"); absent or empty = no restriction beyond `gpuModel`.
   * With both, a node's model must be `gpuModel` and in this list.
   */
  gpuModels?: readonly string[];
  /** Architectures the image exists for; absent = any. */
  architectures?: Arch[];
}

export interface Allocation {
  node: number;
  cpuMilli: number;
  memoryMiB: number;
  /** GPU indexes on the node. */
  gpus: number[];
  gpuMilli: number;
}

/**
 * A request resolved against one NodeState (architecture bit mask, GPU model
 * code): what the hot loops use, so that no string or array is looked at per node.
 */
export interface CompiledRequest {
  archMask: number;
  cpuMilli: number;
  memoryMiB: number;
  /** Devices wanted; 0 = no GPU. */
  gpuCount: number;
  /** Per device, 1..1000. */
  gpuMilli: number;
  /**
   * 0 = any model; -1 = no model any node has (nothing fits); GPU_MODEL_SET =
   * any model whose code is set in gpuModelSet; else the one gpuModel code.
   */
  gpuModel: number;
  /** Indexed by model code, 1 = allowed; read only when gpuModel is GPU_MODEL_SET. */
  gpuModelSet: Uint8Array;
}

/** CompiledRequest.gpuModel for a request allowing several models (see gpuModelSet). */
export const GPU_MODEL_SET = -2;

const NO_MODEL_SET = new Uint8Array(0);

/** Whether a node or class with GPU model `code` is one the request allows. */
export function modelAllowed(r: CompiledRequest, code: number): boolean {
  return (
    r.gpuModel === 0 ||
    code === r.gpuModel ||
    (r.gpuModel === GPU_MODEL_SET && r.gpuModelSet[code] === 1)
  );
}

/** The request's GPU model constraint as a cache key: equal keys allow the same models. */
export function modelKey(r: CompiledRequest): string {
  if (r.gpuModel !== GPU_MODEL_SET) return String(r.gpuModel);
  const codes: number[] = [];
  r.gpuModelSet.forEach((allowed, code) => {
    if (allowed === 1) codes.push(code);
  });
  return codes.join('+');
}

/** Bit i set = architecture ARCHES[i] allowed; all bits when `archs` is absent. */
export function archMaskOf(archs: readonly Arch[] | undefined): number {
  if (archs === undefined) return (1 << ARCHES.length) - 1;
  let mask = 0;
  for (const a of archs) mask |= 1 << ARCHES.indexOf(a);
  return mask;
}

/** The milli-GPUs one device of the request takes: whole (1000) unless a share below 1000. */
export function perDeviceMilli(gpuMilli: number): number {
  return gpuMilli > 0 && gpuMilli < GPU_MILLI ? Math.ceil(gpuMilli) : GPU_MILLI;
}

export class NodeState {
  readonly count: number;
  /** 0 amd64, 1 arm64, 2 riscv64 (index into ARCHES). */
  readonly arch: Uint8Array;
  readonly cluster: Int32Array;
  readonly cpuCap: Float64Array;
  readonly memCap: Float64Array;
  readonly cpuUsed: Float64Array;
  readonly memUsed: Float64Array;
  readonly podsCap: Int32Array;
  readonly podsUsed: Int32Array;
  readonly gpuCount: Uint8Array;
  /** Index into gpuModels; 0 = none. */
  readonly gpuModel: Uint16Array;
  /** gpuModels[0] is '' (no GPU model). */
  readonly gpuModels: string[];
  readonly healthy: Uint8Array;
  /** Free milli-GPU of GPU g on node n at n * MAX_GPUS_PER_NODE + g. */
  readonly gpuFree: Int32Array;
  /** GPUs of the node that are entirely free. */
  readonly gpuWhole: Uint8Array;
  /** Sum of the node's free milli-GPUs. */
  readonly gpuFreeTotal: Int32Array;

  private constructor(count: number, gpuModels: string[], from?: NodeState) {
    this.count = count;
    this.gpuModels = gpuModels;
    if (from) {
      this.arch = from.arch.slice();
      this.cluster = from.cluster.slice();
      this.cpuCap = from.cpuCap.slice();
      this.memCap = from.memCap.slice();
      this.cpuUsed = from.cpuUsed.slice();
      this.memUsed = from.memUsed.slice();
      this.podsCap = from.podsCap.slice();
      this.podsUsed = from.podsUsed.slice();
      this.gpuCount = from.gpuCount.slice();
      this.gpuModel = from.gpuModel.slice();
      this.healthy = from.healthy.slice();
      this.gpuFree = from.gpuFree.slice();
      this.gpuWhole = from.gpuWhole.slice();
      this.gpuFreeTotal = from.gpuFreeTotal.slice();
      return;
    }
    this.arch = new Uint8Array(count);
    this.cluster = new Int32Array(count);
    this.cpuCap = new Float64Array(count);
    this.memCap = new Float64Array(count);
    this.cpuUsed = new Float64Array(count);
    this.memUsed = new Float64Array(count);
    this.podsCap = new Int32Array(count);
    this.podsUsed = new Int32Array(count);
    this.gpuCount = new Uint8Array(count);
    this.gpuModel = new Uint16Array(count);
    this.healthy = new Uint8Array(count);
    this.gpuFree = new Int32Array(count * MAX_GPUS_PER_NODE);
    this.gpuWhole = new Uint8Array(count);
    this.gpuFreeTotal = new Int32Array(count);
  }

  /** Empty nodes (nothing allocated). Throws RangeError on a node with more than MAX_GPUS_PER_NODE GPUs. */
  static fromNodes(nodes: readonly NodeInput[]): NodeState {
    const s = new NodeState(nodes.length, ['']);
    const codes = new Map<string, number>();
    for (let i = 0; i < nodes.length; i++) {
      const n = nodes[i]!;
      const a = ARCHES.indexOf(n.arch);
      if (a < 0) throw new RangeError(`node ${i}: unknown architecture ${String(n.arch)}`);
      if (!Number.isInteger(n.gpus) || n.gpus < 0 || n.gpus > MAX_GPUS_PER_NODE)
        throw new RangeError(
          `node ${i}: gpus must be an integer from 0 to ${MAX_GPUS_PER_NODE}, got ${n.gpus}`,
        );
      s.arch[i] = a;
      s.cluster[i] = n.cluster ?? 0;
      s.cpuCap[i] = n.cpuMilli;
      s.memCap[i] = n.memoryMiB;
      s.podsCap[i] = n.pods;
      s.healthy[i] = n.healthy === false ? 0 : 1;
      s.gpuCount[i] = n.gpus;
      s.gpuWhole[i] = n.gpus;
      s.gpuFreeTotal[i] = n.gpus * GPU_MILLI;
      s.gpuFree.fill(GPU_MILLI, i * MAX_GPUS_PER_NODE, i * MAX_GPUS_PER_NODE + n.gpus);
      if (n.used !== undefined) s.setUsed(i, n.used);
      if (n.gpus > 0 && n.gpuModel !== undefined && n.gpuModel !== '') {
        let code = codes.get(n.gpuModel);
        if (code === undefined) {
          code = s.gpuModels.length;
          s.gpuModels.push(n.gpuModel);
          codes.set(n.gpuModel, code);
        }
        s.gpuModel[i] = code;
      }
    }
    return s;
  }

  /**
   * Sets what node i has allocated (building a snapshot of a running fleet).
   * Totals beyond capacity are kept as they are: an over-full node simply fits nothing.
   */
  setUsed(i: number, used: NodeUsage): void {
    this.cpuUsed[i] = used.cpuMilli;
    this.memUsed[i] = used.memoryMiB;
    this.podsUsed[i] = used.pods;
    const base = i * MAX_GPUS_PER_NODE;
    const n = this.gpuCount[i]!;
    const g = used.gpuMilli;
    let whole = 0;
    let total = 0;
    for (let d = 0; d < n; d++) {
      let u: number;
      if (typeof g === 'number' || g === undefined) {
        const left = (g ?? 0) - d * GPU_MILLI;
        u = left >= GPU_MILLI ? GPU_MILLI : left > 0 ? Math.ceil(left) : 0;
      } else u = Math.min(GPU_MILLI, Math.max(0, Math.ceil(g[d] ?? 0)));
      const free = GPU_MILLI - u;
      this.gpuFree[base + d] = free;
      if (free === GPU_MILLI) whole++;
      total += free;
    }
    this.gpuWhole[i] = whole;
    this.gpuFreeTotal[i] = total;
  }

  /** A deep copy: allocations on the clone leave this state alone. */
  clone(): NodeState {
    return new NodeState(this.count, [...this.gpuModels], this);
  }

  /** The request resolved against this state's GPU model table. */
  compile(pod: PodRequest): CompiledRequest {
    const gpuCount = pod.gpuMilli > 0 || pod.gpuCount > 0 ? Math.max(0, pod.gpuCount) : 0;
    const { gpuModel, gpuModelSet } = this.compileModels(pod);
    return {
      archMask: archMaskOf(pod.architectures),
      cpuMilli: pod.cpuMilli,
      memoryMiB: pod.memoryMiB,
      gpuCount,
      gpuMilli: perDeviceMilli(pod.gpuMilli),
      gpuModel,
      gpuModelSet,
    };
  }

  /**
   * The allowed model codes of the request: one code when exactly one model
   * of this state is allowed, so that the common case stays one comparison.
   */
  private compileModels(pod: PodRequest): { gpuModel: number; gpuModelSet: Uint8Array } {
    const one = pod.gpuModel !== undefined && pod.gpuModel !== '' ? pod.gpuModel : undefined;
    const list =
      pod.gpuModels !== undefined && pod.gpuModels.length > 0 ? pod.gpuModels : undefined;
    if (one === undefined && list === undefined) return { gpuModel: 0, gpuModelSet: NO_MODEL_SET };
    const allowed = (list ?? [one!]).filter((m) => one === undefined || m === one);
    const codes = [...new Set(allowed.map((m) => this.gpuModels.indexOf(m)).filter((i) => i > 0))];
    if (codes.length === 0) return { gpuModel: -1, gpuModelSet: NO_MODEL_SET };
    if (codes.length === 1) return { gpuModel: codes[0]!, gpuModelSet: NO_MODEL_SET };
    const set = new Uint8Array(this.gpuModels.length);
    for (const c of codes) set[c] = 1;
    return { gpuModel: GPU_MODEL_SET, gpuModelSet: set };
  }

  fits(node: number, pod: PodRequest): boolean {
    return this.fitsCompiled(node, this.compile(pod));
  }

  /** Node health, architecture, GPU model, cpu, memory, a pod slot and the GPUs. */
  fitsCompiled(node: number, r: CompiledRequest): boolean {
    if (this.healthy[node] !== 1) return false;
    if (((r.archMask >> this.arch[node]!) & 1) === 0) return false;
    if (this.podsUsed[node]! >= this.podsCap[node]!) return false;
    if (this.cpuCap[node]! - this.cpuUsed[node]! < r.cpuMilli) return false;
    if (this.memCap[node]! - this.memUsed[node]! < r.memoryMiB) return false;
    if (r.gpuModel !== 0 && !modelAllowed(r, this.gpuModel[node]!)) return false;
    return this.gpusFit(node, r);
  }

  /** The GPU part of fitsCompiled alone. */
  gpusFit(node: number, r: CompiledRequest): boolean {
    if (r.gpuCount === 0) return true;
    if (r.gpuMilli >= GPU_MILLI) return this.gpuWhole[node]! >= r.gpuCount;
    if (r.gpuCount !== 1) return false;
    if (this.gpuWhole[node]! > 0) return true;
    const base = node * MAX_GPUS_PER_NODE;
    const n = this.gpuCount[node]!;
    for (let g = 0; g < n; g++) if (this.gpuFree[base + g]! >= r.gpuMilli) return true;
    return false;
  }

  /** Places one replica; throws RangeError when it does not fit. */
  allocate(node: number, pod: PodRequest): Allocation {
    return this.allocateCompiled(node, this.compile(pod));
  }

  allocateCompiled(node: number, r: CompiledRequest): Allocation {
    if (node < 0 || node >= this.count || !this.fitsCompiled(node, r))
      throw new RangeError(`the request does not fit on node ${node}`);
    this.cpuUsed[node]! += r.cpuMilli;
    this.memUsed[node]! += r.memoryMiB;
    this.podsUsed[node]!++;
    const gpus: number[] = [];
    if (r.gpuCount > 0) {
      const base = node * MAX_GPUS_PER_NODE;
      const n = this.gpuCount[node]!;
      if (r.gpuMilli >= GPU_MILLI) {
        for (let g = 0; g < n && gpus.length < r.gpuCount; g++) {
          if (this.gpuFree[base + g] === GPU_MILLI) {
            this.gpuFree[base + g] = 0;
            gpus.push(g);
          }
        }
        this.gpuWhole[node]! -= r.gpuCount;
      } else {
        // Best fit: the GPU whose free share is the smallest that still fits.
        let best = -1;
        let bestFree = GPU_MILLI + 1;
        for (let g = 0; g < n; g++) {
          const f = this.gpuFree[base + g]!;
          if (f >= r.gpuMilli && f < bestFree) {
            best = g;
            bestFree = f;
          }
        }
        if (bestFree === GPU_MILLI) this.gpuWhole[node]!--;
        this.gpuFree[base + best] = bestFree - r.gpuMilli;
        gpus.push(best);
      }
      this.gpuFreeTotal[node]! -= r.gpuMilli * r.gpuCount;
    }
    return {
      node,
      cpuMilli: r.cpuMilli,
      memoryMiB: r.memoryMiB,
      gpus,
      gpuMilli: gpus.length > 0 ? r.gpuMilli : 0,
    };
  }

  /** Gives back what `allocate` took. */
  release(a: Allocation): void {
    const node = a.node;
    this.cpuUsed[node]! -= a.cpuMilli;
    this.memUsed[node]! -= a.memoryMiB;
    this.podsUsed[node]!--;
    const base = node * MAX_GPUS_PER_NODE;
    for (const g of a.gpus) {
      const f = (this.gpuFree[base + g]! += a.gpuMilli);
      if (f === GPU_MILLI) this.gpuWhole[node]!++;
      this.gpuFreeTotal[node]! += a.gpuMilli;
    }
  }

  /** Free millicores of the node (0 when failed). */
  cpuFree(node: number): number {
    return this.healthy[node] === 1 ? this.cpuCap[node]! - this.cpuUsed[node]! : 0;
  }

  /** Free MiB of the node (0 when failed). */
  memFree(node: number): number {
    return this.healthy[node] === 1 ? this.memCap[node]! - this.memUsed[node]! : 0;
  }
}
