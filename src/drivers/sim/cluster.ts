// One simulated cluster: its nodes as columns of typed arrays (one slot per node,
// so a 150k-node fleet costs a few MiB, not 150k objects) and the workloads the
// control plane applied, each replica pinned to a node index.
//
// Invariants:
// - Node i belongs to the pool whose [start, start + count) holds i; pools are
//   laid out in spec order, so node order, and with it first-fit, is the order
//   of the cluster's nodePools and then the index inside each pool.
// - The *Used columns are exactly the sum of the requests of the replicas placed
//   on each node. Replicas are only ever placed on healthy nodes; failing a node
//   evicts its replicas at once, so a failed node holds nothing.
// - A workload's replicas are `replicas` placed ones plus `spec.replicas -
//   replicas.length` pending ones. Pending replicas are retried, oldest workload
//   first, whenever anything changed since the last attempt (`dirty`); the retry
//   runs at the start of every read or write, the way a cluster's own scheduler
//   would have acted in the meantime.
// - Readiness is never stored as a flag: a replica is ready once the clock
//   reaches its `readyAt`, fixed when it was placed (placement + start-up time).
import { BadRequestError } from '../../model/errors.ts';
import { parseCpuMillis, parseMemoryBytes } from '../../model/quantity.ts';
import { ARCHES, type Arch, type ClusterSpec, type SimNodePool } from '../../model/schema.ts';
import type {
  ClusterInventory,
  ResourceTotals,
  WorkloadKey,
  WorkloadSpec,
  WorkloadStatus,
} from '../types.ts';

export const DEFAULT_MAX_PODS = 110;

/** Most millicores one node may have: the cpu columns are Int32Array. */
const MAX_NODE_CPU_MILLIS = 2 ** 31 - 1;

/** One node as the twin's operator view shows it (not part of the ClusterDriver API). */
export interface SimNodeStatus {
  name: string;
  pool: string;
  arch: Arch;
  healthy: boolean;
  gpuModel?: string;
  capacity: ResourceTotals;
  allocated: ResourceTotals;
}

interface PoolRange {
  name: string;
  start: number;
  count: number;
}

interface Replica {
  node: number;
  readyAt: number;
}

interface Workload {
  spec: WorkloadSpec;
  /** The spec without key, hash and replicas: when it changes, every replica is replaced. */
  template: string;
  replicas: Replica[];
  /**
   * During a rolling update, the readyAt of the previous version's replicas that
   * were serving: their replacements inherit it (the old replica keeps serving
   * until the new one is up), so `ready` does not drop while a new version rolls out.
   */
  handover: number[];
  /** Why pending replicas could not be placed at the last attempt. */
  unschedulable: string | undefined;
}

/** What one replica needs from a node, resolved against this cluster's GPU model table. */
interface Demand {
  archMask: number;
  cpu: number;
  memory: number;
  gpu: number;
  /** 0: any node; otherwise the node's gpuModel code must equal it (-1 when no node has the model). */
  model: number;
}

function workloadId(key: WorkloadKey): string {
  return `${key.namespace}/${key.app}/${key.component}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export class SimCluster {
  readonly name: string;
  spec: ClusterSpec;
  startupMs: number;

  private poolsKey = '';
  private pools: PoolRange[] = [];
  /** GPU model names; a node's gpuModel column holds index + 1, 0 for none. */
  private gpuModelNames: string[] = [];
  private size = 0;
  private arch = new Uint8Array(0);
  private healthy = new Uint8Array(0);
  private gpuModel = new Uint16Array(0);
  private cpuCap = new Int32Array(0);
  private cpuUsed = new Int32Array(0);
  private memCap = new Float64Array(0);
  private memUsed = new Float64Array(0);
  /** GPUs in thousandths, so fractional requests add up exactly. */
  private gpuCap = new Int32Array(0);
  private gpuUsed = new Int32Array(0);
  private podCap = new Int32Array(0);
  private podUsed = new Int32Array(0);

  /** Insertion order is creation order: it is the retry priority of pending replicas. */
  private readonly workloads = new Map<string, Workload>();
  private dirty = false;

  constructor(name: string, spec: ClusterSpec, pools: SimNodePool[], startupMs: number) {
    this.name = name;
    this.spec = spec;
    this.startupMs = startupMs;
    this.build(pools, new Set());
  }

  get nodeCount(): number {
    return this.size;
  }

  /**
   * Replaces the node pools. Nothing happens when they are unchanged. Otherwise
   * nodes are rebuilt, `failedNodes` marked failed, and every replica whose
   * node still exists (same pool name and index) and still fits stays where it
   * is with its readiness; the others go pending and are placed afresh.
   * Returns the names in `failedNodes` that no longer exist.
   */
  setPools(pools: SimNodePool[], failedNodes: ReadonlySet<string>): string[] {
    if (JSON.stringify(pools) === this.poolsKey) return [];
    const oldPools = this.pools;
    const missing = this.build(pools, failedNodes);
    const byName = new Map(this.pools.map((p) => [p.name, p]));
    for (const wl of this.workloads.values()) {
      const d = this.demand(wl.spec);
      const kept: Replica[] = [];
      for (const r of wl.replicas) {
        const old = poolOf(oldPools, r.node);
        const current = old && byName.get(old.name);
        if (old === undefined || current === undefined || r.node - old.start >= current.count)
          continue;
        const node = current.start + r.node - old.start;
        if (!this.fits(node, d)) continue;
        this.allocate(node, d);
        kept.push({ node, readyAt: r.readyAt });
      }
      wl.replicas = kept;
    }
    this.dirty = true;
    return missing;
  }

  private build(pools: SimNodePool[], failedNodes: ReadonlySet<string>): string[] {
    const seen = new Set<string>();
    for (const p of pools) {
      if (seen.has(p.name))
        throw new BadRequestError(
          `cluster "${this.name}": node pool name "${p.name}" is used twice`,
        );
      seen.add(p.name);
    }
    const size = pools.reduce((n, p) => n + p.count, 0);
    this.size = size;
    this.arch = new Uint8Array(size);
    this.healthy = new Uint8Array(size).fill(1);
    this.gpuModel = new Uint16Array(size);
    this.cpuCap = new Int32Array(size);
    this.cpuUsed = new Int32Array(size);
    this.memCap = new Float64Array(size);
    this.memUsed = new Float64Array(size);
    this.gpuCap = new Int32Array(size);
    this.gpuUsed = new Int32Array(size);
    this.podCap = new Int32Array(size);
    this.podUsed = new Int32Array(size);
    this.gpuModelNames = [];
    this.pools = [];
    let start = 0;
    for (const p of pools) {
      const end = start + p.count;
      const cpu = parseCpuMillis(p.cpu);
      if (cpu > MAX_NODE_CPU_MILLIS) {
        throw new BadRequestError(
          `cluster "${this.name}": node pool "${p.name}" has more cpu per node than the sim supports`,
        );
      }
      const gpus = p.gpu ?? 0;
      this.arch.fill(ARCHES.indexOf(p.arch), start, end);
      this.cpuCap.fill(cpu, start, end);
      this.memCap.fill(parseMemoryBytes(p.memory), start, end);
      this.gpuCap.fill(gpus * 1000, start, end);
      this.podCap.fill(p.maxPods ?? DEFAULT_MAX_PODS, start, end);
      if (gpus > 0 && p.gpuModel !== undefined)
        this.gpuModel.fill(this.modelCode(p.gpuModel, true), start, end);
      this.pools.push({ name: p.name, start, count: p.count });
      start = end;
    }
    this.poolsKey = JSON.stringify(pools);
    const missing: string[] = [];
    for (const name of failedNodes) {
      const i = this.nodeIndex(name);
      if (i === undefined) missing.push(name);
      else this.healthy[i] = 0;
    }
    return missing;
  }

  private modelCode(model: string, intern: boolean): number {
    const i = this.gpuModelNames.indexOf(model);
    if (i >= 0) return i + 1;
    if (!intern) return -1;
    this.gpuModelNames.push(model);
    return this.gpuModelNames.length;
  }

  // ------------------------------------------------------------ node names

  /** The index of node `<cluster>-<pool>-<index>` (index counted from 0 inside the pool). */
  nodeIndex(nodeName: string): number | undefined {
    const prefix = `${this.name}-`;
    if (!nodeName.startsWith(prefix)) return undefined;
    const rest = nodeName.slice(prefix.length);
    for (const p of this.pools) {
      if (!rest.startsWith(`${p.name}-`)) continue;
      const index = rest.slice(p.name.length + 1);
      if (/^(0|[1-9][0-9]*)$/.test(index) && Number(index) < p.count)
        return p.start + Number(index);
    }
    return undefined;
  }

  /** "m6i-8xlarge (0..11), m7g-8xlarge (0..5)": for messages about unknown nodes. */
  describePools(): string {
    if (this.pools.length === 0) return 'no node pools';
    return this.pools
      .map((p) => (p.count === 0 ? `${p.name} (empty)` : `${p.name} (0..${p.count - 1})`))
      .join(', ');
  }

  // ------------------------------------------------------------ faults

  /** Marks the node failed and evicts its replicas; they go pending and are re-placed elsewhere. */
  failNode(i: number): void {
    if (this.healthy[i] === 0) return;
    this.healthy[i] = 0;
    for (const wl of this.workloads.values()) {
      if (!wl.replicas.some((r) => r.node === i)) continue;
      const d = this.demand(wl.spec);
      wl.replicas = wl.replicas.filter((r) => {
        if (r.node !== i) return true;
        this.release(i, d);
        return false;
      });
    }
    this.dirty = true;
  }

  recoverNode(i: number): void {
    if (this.healthy[i] === 1) return;
    this.healthy[i] = 1;
    this.dirty = true;
  }

  /** After an outage of the whole cluster every replica starts again: none is ready before start-up time. */
  restartAll(now: number): void {
    for (const wl of this.workloads.values()) {
      for (const r of wl.replicas) r.readyAt = now + this.startupMs;
    }
  }

  // ------------------------------------------------------------ workloads

  apply(spec: WorkloadSpec, now: number): void {
    checkSpec(spec);
    const id = workloadId(spec.key);
    const wl = this.workloads.get(id);
    const template = templateOf(spec);
    if (wl === undefined) {
      this.workloads.set(id, {
        spec,
        template,
        replicas: [],
        handover: [],
        unschedulable: undefined,
      });
    } else if (wl.spec.hash === spec.hash) {
      this.settle(now);
      return;
    } else if (wl.template !== template) {
      // Rolling update: every replica is replaced by one of the new version,
      // placed first-fit with the new requests.
      const old = this.demand(wl.spec);
      for (const r of wl.replicas) this.release(r.node, old);
      wl.handover = wl.replicas
        .map((r) => r.readyAt)
        .filter((t) => t <= now)
        .sort((a, b) => a - b)
        .slice(0, spec.replicas);
      wl.replicas = [];
      wl.spec = spec;
      wl.template = template;
    } else {
      this.scaleDown(wl, spec.replicas);
      wl.spec = spec;
    }
    this.dirty = true;
    this.settle(now);
  }

  /**
   * Keeps `keep` placed replicas. Pending replicas go first (the lower desired
   * count simply covers fewer of them); then, as a ReplicaSet does, those still
   * starting and those that became ready last.
   */
  private scaleDown(wl: Workload, keep: number): void {
    const excess = wl.replicas.length - keep;
    if (excess <= 0) return;
    const order = wl.replicas
      .map((r, i) => ({ r, i }))
      .sort((a, b) => b.r.readyAt - a.r.readyAt || b.i - a.i);
    const drop = new Set(order.slice(0, excess).map((x) => x.r));
    const d = this.demand(wl.spec);
    for (const r of drop) this.release(r.node, d);
    wl.replicas = wl.replicas.filter((r) => !drop.has(r));
  }

  /** Returns whether the workload existed. */
  delete(key: WorkloadKey): boolean {
    const id = workloadId(key);
    const wl = this.workloads.get(id);
    if (wl === undefined) return false;
    const d = this.demand(wl.spec);
    for (const r of wl.replicas) this.release(r.node, d);
    this.workloads.delete(id);
    this.dirty = true;
    return true;
  }

  list(now: number): WorkloadStatus[] {
    this.settle(now);
    const out: WorkloadStatus[] = [];
    for (const wl of this.workloads.values()) {
      const scheduled = wl.replicas.length;
      const ready = wl.replicas.reduce((n, r) => n + (r.readyAt <= now ? 1 : 0), 0);
      const why: string[] = [];
      if (wl.unschedulable !== undefined) why.push(wl.unschedulable);
      if (ready < scheduled)
        why.push(`${scheduled - ready} of ${plural(wl.spec.replicas, 'replica')} starting`);
      const status: WorkloadStatus = {
        key: { ...wl.spec.key },
        hash: wl.spec.hash,
        desired: wl.spec.replicas,
        scheduled,
        ready,
      };
      if (why.length > 0) status.message = why.join('; ');
      out.push(status);
    }
    return out.sort((a, b) => (workloadId(a.key) < workloadId(b.key) ? -1 : 1));
  }

  /**
   * Capacity, allocatable, nodesByArch and gpuModels (GPU devices per model)
   * count healthy nodes only; nodeCount counts all. The sim reserves nothing
   * for the system, so allocatable equals capacity and test arithmetic is exact.
   */
  inventory(now: number): ClusterInventory {
    this.settle(now);
    const capacity: ResourceTotals = { cpu: 0, memory: 0, gpu: 0, pods: 0 };
    const allocated: ResourceTotals = { cpu: 0, memory: 0, gpu: 0, pods: 0 };
    const nodesByArch: Record<Arch, number> = { amd64: 0, arm64: 0, riscv64: 0 };
    const gpusByCode = new Float64Array(this.gpuModelNames.length + 1);
    let cpuCap = 0;
    let cpuUsed = 0;
    let gpuCap = 0;
    let gpuUsed = 0;
    let ready = 0;
    for (let i = 0; i < this.size; i++) {
      if (this.healthy[i] === 0) continue;
      ready++;
      cpuCap += this.cpuCap[i]!;
      cpuUsed += this.cpuUsed[i]!;
      capacity.memory += this.memCap[i]!;
      allocated.memory += this.memUsed[i]!;
      gpuCap += this.gpuCap[i]!;
      gpuUsed += this.gpuUsed[i]!;
      capacity.pods += this.podCap[i]!;
      allocated.pods += this.podUsed[i]!;
      nodesByArch[ARCHES[this.arch[i]!]!]++;
      gpusByCode[this.gpuModel[i]!]! += this.gpuCap[i]!;
    }
    capacity.cpu = cpuCap / 1000;
    allocated.cpu = cpuUsed / 1000;
    capacity.gpu = gpuCap / 1000;
    allocated.gpu = gpuUsed / 1000;
    const gpuModels: Record<string, number> = {};
    this.gpuModelNames.forEach((m, k) => (gpuModels[m] = gpusByCode[k + 1]! / 1000));
    const inv: ClusterInventory = {
      reachable: true,
      capacity,
      allocatable: { ...capacity },
      allocated,
      nodeCount: this.size,
      readyNodeCount: ready,
      nodesByArch,
      gpuModels,
    };
    if (ready < this.size)
      inv.message = `${this.size - ready} of ${plural(this.size, 'node')} failed`;
    return inv;
  }

  nodes(now: number): SimNodeStatus[] {
    this.settle(now);
    const out: SimNodeStatus[] = [];
    for (const p of this.pools) {
      for (let i = p.start; i < p.start + p.count; i++) {
        const node: SimNodeStatus = {
          name: `${this.name}-${p.name}-${i - p.start}`,
          pool: p.name,
          arch: ARCHES[this.arch[i]!]!,
          healthy: this.healthy[i] === 1,
          capacity: {
            cpu: this.cpuCap[i]! / 1000,
            memory: this.memCap[i]!,
            gpu: this.gpuCap[i]! / 1000,
            pods: this.podCap[i]!,
          },
          allocated: {
            cpu: this.cpuUsed[i]! / 1000,
            memory: this.memUsed[i]!,
            gpu: this.gpuUsed[i]! / 1000,
            pods: this.podUsed[i]!,
          },
        };
        const model = this.gpuModelNames[this.gpuModel[i]! - 1];
        if (model !== undefined) node.gpuModel = model;
        out.push(node);
      }
    }
    return out;
  }

  // ------------------------------------------------------------ placement

  /** Retries pending replicas of every workload, oldest workload first, if anything changed. */
  private settle(now: number): void {
    if (!this.dirty) return;
    this.dirty = false;
    for (const wl of this.workloads.values()) {
      if (wl.replicas.length < wl.spec.replicas) this.place(wl, now);
      else wl.unschedulable = undefined;
    }
  }

  /**
   * First-fit: each pending replica goes to the lowest-index node that fits it.
   * Within one pass nodes only fill up, so a node that cannot take this
   * workload's replica now cannot later in the pass either, and the scan resumes
   * where the previous replica landed: O(nodes + replicas) per workload.
   */
  private place(wl: Workload, now: number): void {
    const want = wl.spec.replicas - wl.replicas.length;
    const d = this.demand(wl.spec);
    let placed = 0;
    let node = 0;
    while (placed < want) {
      while (node < this.size && !this.fits(node, d)) node++;
      if (node === this.size) break;
      this.allocate(node, d);
      wl.replicas.push({ node, readyAt: wl.handover[placed] ?? now + this.startupMs });
      placed++;
    }
    wl.handover = [];
    wl.unschedulable = placed < want ? this.explain(want - placed, wl.spec, d) : undefined;
  }

  private demand(spec: WorkloadSpec): Demand {
    let archMask = 0;
    for (const a of spec.architectures) archMask |= 1 << ARCHES.indexOf(a);
    return {
      archMask,
      cpu: spec.cpuMillis,
      memory: spec.memoryBytes,
      gpu: Math.round(spec.gpu * 1000),
      model: spec.gpuModel === undefined ? 0 : this.modelCode(spec.gpuModel, false),
    };
  }

  private fits(i: number, d: Demand): boolean {
    return (
      this.healthy[i] === 1 &&
      ((d.archMask >> this.arch[i]!) & 1) === 1 &&
      (d.model === 0 || this.gpuModel[i] === d.model) &&
      this.cpuCap[i]! - this.cpuUsed[i]! >= d.cpu &&
      this.memCap[i]! - this.memUsed[i]! >= d.memory &&
      this.gpuCap[i]! - this.gpuUsed[i]! >= d.gpu &&
      this.podCap[i]! - this.podUsed[i]! >= 1
    );
  }

  private allocate(i: number, d: Demand): void {
    this.cpuUsed[i]! += d.cpu;
    this.memUsed[i]! += d.memory;
    this.gpuUsed[i]! += d.gpu;
    this.podUsed[i]!++;
  }

  private release(i: number, d: Demand): void {
    this.cpuUsed[i]! -= d.cpu;
    this.memUsed[i]! -= d.memory;
    this.gpuUsed[i]! -= d.gpu;
    this.podUsed[i]!--;
  }

  /**
   * Why no node takes one more replica, counting every node once under its
   * first obstacle: failed, wrong architecture, wrong GPU model, then the first
   * resource (cpu, memory, gpu, pods) it lacks, grouped by architecture.
   */
  private explain(pending: number, spec: WorkloadSpec, d: Demand): string {
    const resources = ['cpu', 'memory', 'gpu', 'pods'] as const;
    const short = resources.map(() => new Int32Array(ARCHES.length));
    const otherArch = new Int32Array(ARCHES.length);
    let failed = 0;
    let wrongModel = 0;
    for (let i = 0; i < this.size; i++) {
      const a = this.arch[i]!;
      if (this.healthy[i] === 0) failed++;
      else if (((d.archMask >> a) & 1) === 0) otherArch[a]!++;
      else if (d.model !== 0 && this.gpuModel[i] !== d.model) wrongModel++;
      else {
        const lacking = [
          this.cpuCap[i]! - this.cpuUsed[i]! < d.cpu,
          this.memCap[i]! - this.memUsed[i]! < d.memory,
          this.gpuCap[i]! - this.gpuUsed[i]! < d.gpu,
          this.podCap[i]! - this.podUsed[i]! < 1,
        ].indexOf(true);
        if (lacking >= 0) short[lacking]![a]!++;
      }
    }
    const parts: string[] = [];
    resources.forEach((res, k) => {
      ARCHES.forEach((arch, a) => {
        const n = short[k]![a]!;
        if (n > 0) parts.push(`insufficient ${res} on ${plural(n, `${arch} node`)}`);
      });
    });
    if (wrongModel > 0)
      parts.push(`${plural(wrongModel, 'node')} without GPU model ${spec.gpuModel ?? ''}`);
    const excluded = ARCHES.flatMap((arch, a) =>
      otherArch[a]! > 0 ? [`${otherArch[a]} ${arch}`] : [],
    );
    if (excluded.length > 0) {
      const total = otherArch.reduce((s, n) => s + n, 0);
      parts.push(
        `${excluded.join(', ')} ${total === 1 ? 'node' : 'nodes'} not in the image's architectures (${spec.architectures.join(', ')})`,
      );
    }
    if (failed > 0) parts.push(`${plural(failed, 'node')} failed`);
    if (this.size === 0) parts.push('the cluster has no nodes');
    return `${pending} of ${plural(spec.replicas, 'replica')} unschedulable: ${parts.join('; ')}`;
  }
}

function poolOf(pools: readonly PoolRange[], i: number): PoolRange | undefined {
  let lo = 0;
  let hi = pools.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const p = pools[mid]!;
    if (i < p.start) hi = mid - 1;
    else if (i >= p.start + p.count) lo = mid + 1;
    else return p;
  }
  return undefined;
}

function templateOf(spec: WorkloadSpec): string {
  const { key: _key, hash: _hash, replicas: _replicas, ...template } = spec;
  return JSON.stringify(template);
}

function checkSpec(spec: WorkloadSpec): void {
  const problems: string[] = [];
  if (!Number.isInteger(spec.replicas) || spec.replicas < 0)
    problems.push('replicas must be an integer >= 0');
  if (!Number.isInteger(spec.cpuMillis) || spec.cpuMillis < 0)
    problems.push('cpuMillis must be an integer >= 0');
  if (!Number.isFinite(spec.memoryBytes) || spec.memoryBytes < 0)
    problems.push('memoryBytes must be a number >= 0');
  if (!Number.isFinite(spec.gpu) || spec.gpu < 0) problems.push('gpu must be a number >= 0');
  if (spec.architectures.length === 0)
    problems.push(`architectures must name at least one of ${ARCHES.join(', ')}`);
  for (const a of spec.architectures)
    if (!ARCHES.includes(a)) problems.push(`unknown architecture "${a}"`);
  if (problems.length > 0)
    throw new BadRequestError(`workload ${workloadId(spec.key)}: ${problems.join('; ')}`);
}
