// One simulated cluster: its nodes as the scheduler's NodeState (columns of
// typed arrays, one slot per node, so a 150k-node fleet costs a few MiB, not
// 150k objects) and the workloads the control plane applied, each replica
// pinned to a node index (and GPU indexes). Replicas are placed on nodes by the
// scheduler's NodePlacer: the one node-placement implementation (best fit,
// fragmentation-aware for GPUs), so the twin places replicas exactly as the
// global scheduler plans them.
//
// Invariants:
// - Node i belongs to the pool whose [start, start + count) holds i; pools are
//   laid out in spec order; among equally good nodes the lower index wins.
// - The NodeState's used columns are exactly the sum of the allocations of the
//   replicas placed on each node. Replicas are only ever placed on healthy nodes; failing a node
//   evicts its replicas at once, so a failed node holds nothing.
// - A workload's replicas are `replicas` placed ones plus `spec.replicas -
//   replicas.length` pending ones. Pending replicas are retried, oldest workload
//   first, whenever anything changed since the last attempt (`dirty`); the retry
//   runs at the start of every read or write, the way a cluster's own scheduler
//   would have acted in the meantime.
// - Readiness is never stored as a flag: a replica is ready once the clock
//   reaches its `readyAt`, fixed when it was placed (placement + start-up time).
import { BadRequestError } from '../../model/errors.ts';
import { parseCpuMillis } from '../../model/quantity.ts';
import { ARCHES, type Arch, type ClusterSpec, type SimNodePool } from '../../model/schema.ts';
import {
  MAX_GPUS_PER_NODE,
  NodeState,
  type Allocation,
  type CompiledRequest,
} from '../../scheduler/nodestate.ts';
import { NodePlacer } from '../../scheduler/placer.ts';
import { podRequest } from '../../scheduler/request.ts';
import { nodesFromPools } from '../../scheduler/snapshot.ts';
import type {
  ClusterInventory,
  NodeStatus,
  ResourceTotals,
  WorkloadKey,
  WorkloadSpec,
  WorkloadStatus,
} from '../types.ts';
import { simIngressAddress, simReplicaCpuMillis } from './replica.ts';

/** Pods per node when a pool does not say: the scheduler's default, one definition. */
export { DEFAULT_MAX_PODS } from '../../scheduler/snapshot.ts';

/** Most millicores one node may have. */
const MAX_NODE_CPU_MILLIS = 2 ** 31 - 1;

const MiB = 1024 * 1024;

/** One node as the twin's operator view shows it: the driver's NodeStatus and its pool. */
export interface SimNodeStatus extends NodeStatus {
  pool: string;
}

interface PoolRange {
  name: string;
  start: number;
  count: number;
}

interface Replica {
  /** Where it runs: node, and GPUs on it. */
  alloc: Allocation;
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
  private size = 0;
  private state = NodeState.fromNodes([]);
  private placer = new NodePlacer(this.state, 1);

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
        const old = poolOf(oldPools, r.alloc.node);
        const current = old && byName.get(old.name);
        if (old === undefined || current === undefined || r.alloc.node - old.start >= current.count)
          continue;
        const node = current.start + r.alloc.node - old.start;
        if (!this.state.fitsCompiled(node, d)) continue;
        kept.push({ alloc: this.placer.allocate(node, d), readyAt: r.readyAt });
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
    this.pools = [];
    let start = 0;
    for (const p of pools) {
      const cpu = parseCpuMillis(p.cpu);
      if (cpu > MAX_NODE_CPU_MILLIS) {
        throw new BadRequestError(
          `cluster "${this.name}": node pool "${p.name}" has more cpu per node than the sim supports`,
        );
      }
      if ((p.gpu ?? 0) > MAX_GPUS_PER_NODE) {
        throw new BadRequestError(
          `cluster "${this.name}": node pool "${p.name}" has more than ${MAX_GPUS_PER_NODE} GPUs per node`,
        );
      }
      this.pools.push({ name: p.name, start, count: p.count });
      start += p.count;
    }
    this.size = start;
    this.state = NodeState.fromNodes(nodesFromPools(pools, 0));
    this.poolsKey = JSON.stringify(pools);
    const missing: string[] = [];
    for (const name of failedNodes) {
      const i = this.nodeIndex(name);
      if (i === undefined) missing.push(name);
      else this.state.healthy[i] = 0;
    }
    this.placer = new NodePlacer(this.state, 1);
    return missing;
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
    if (this.state.healthy[i] === 0) return;
    this.placer.setHealthy(i, false);
    for (const wl of this.workloads.values()) {
      if (!wl.replicas.some((r) => r.alloc.node === i)) continue;
      wl.replicas = wl.replicas.filter((r) => {
        if (r.alloc.node !== i) return true;
        this.placer.release(r.alloc);
        return false;
      });
    }
    this.dirty = true;
  }

  recoverNode(i: number): void {
    if (this.state.healthy[i] === 1) return;
    this.placer.setHealthy(i, true);
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
      // placed afresh with the new requests.
      for (const r of wl.replicas) this.placer.release(r.alloc);
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
   * Each workload's spec and how many of its replicas are ready, in creation
   * order: what keeps running in a real cluster while its control plane restarts.
   */
  runningWorkloads(now: number): { spec: WorkloadSpec; ready: number }[] {
    this.settle(now);
    return [...this.workloads.values()].map((wl) => ({
      spec: wl.spec,
      ready: wl.replicas.reduce((n, r) => n + (r.readyAt <= now ? 1 : 0), 0),
    }));
  }

  /**
   * Puts back a workload that `runningWorkloads` recorded: placed again on
   * this cluster's nodes, and the replicas that were ready are ready at once,
   * since they never stopped serving.
   */
  restoreWorkload(spec: WorkloadSpec, ready: number, now: number): void {
    this.apply(spec, now);
    const wl = this.workloads.get(workloadId(spec.key));
    for (const r of wl?.replicas.slice(0, ready) ?? []) r.readyAt = Math.min(r.readyAt, now);
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
    for (const r of drop) this.placer.release(r.alloc);
    wl.replicas = wl.replicas.filter((r) => !drop.has(r));
  }

  /** Returns whether the workload existed. */
  delete(key: WorkloadKey): boolean {
    const id = workloadId(key);
    const wl = this.workloads.get(id);
    if (wl === undefined) return false;
    for (const r of wl.replicas) this.placer.release(r.alloc);
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
        cpuUsageMillis: Math.round(ready * simReplicaCpuMillis(wl.spec, now)),
      };
      if (why.length > 0) status.message = why.join('; ');
      if (ready > 0 && wl.spec.ports.length > 0) {
        const address = simIngressAddress(this.name);
        status.endpoints = wl.spec.ports.map((p) => ({
          ...(p.name !== undefined ? { name: p.name } : {}),
          address,
          port: p.port,
        }));
      }
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
    const st = this.state;
    const gpusByCode = new Float64Array(st.gpuModels.length);
    let cpuCap = 0;
    let cpuUsed = 0;
    let gpuCap = 0;
    let gpuFree = 0;
    let ready = 0;
    for (let i = 0; i < this.size; i++) {
      if (st.healthy[i] === 0) continue;
      ready++;
      cpuCap += st.cpuCap[i]!;
      cpuUsed += st.cpuUsed[i]!;
      capacity.memory += st.memCap[i]! * MiB;
      allocated.memory += st.memUsed[i]! * MiB;
      gpuCap += st.gpuCount[i]!;
      gpuFree += st.gpuFreeTotal[i]!;
      capacity.pods += st.podsCap[i]!;
      allocated.pods += st.podsUsed[i]!;
      nodesByArch[ARCHES[st.arch[i]!]!]++;
      gpusByCode[st.gpuModel[i]!]! += st.gpuCount[i]!;
    }
    capacity.cpu = cpuCap / 1000;
    allocated.cpu = cpuUsed / 1000;
    capacity.gpu = gpuCap;
    allocated.gpu = (gpuCap * 1000 - gpuFree) / 1000;
    const gpuModels: Record<string, number> = {};
    st.gpuModels.forEach((m, k) => {
      if (k > 0) gpuModels[m] = gpusByCode[k]!;
    });
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
        const st = this.state;
        const gpus = st.gpuCount[i]!;
        const gpuUsedMilli: number[] = [];
        for (let g = 0; g < gpus; g++)
          gpuUsedMilli.push(1000 - st.gpuFree[i * MAX_GPUS_PER_NODE + g]!);
        const node: SimNodeStatus = {
          name: `${this.name}-${p.name}-${i - p.start}`,
          pool: p.name,
          arch: ARCHES[st.arch[i]!]!,
          healthy: st.healthy[i] === 1,
          capacity: {
            cpu: st.cpuCap[i]! / 1000,
            memory: st.memCap[i]! * MiB,
            gpu: gpus,
            pods: st.podsCap[i]!,
          },
          allocated: {
            cpu: st.cpuUsed[i]! / 1000,
            memory: st.memUsed[i]! * MiB,
            gpu: (gpus * 1000 - st.gpuFreeTotal[i]!) / 1000,
            pods: st.podsUsed[i]!,
          },
          gpuUsedMilli,
        };
        const model = st.gpuModels[st.gpuModel[i]!];
        if (model) node.gpuModel = model;
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
   * Places the workload's pending replicas with the scheduler's NodePlacer
   * (best fit), honouring maxReplicasPerNode and anti-affinity to the app's
   * other components named in the spec.
   */
  private place(wl: Workload, now: number): void {
    const want = wl.spec.replicas - wl.replicas.length;
    const d = this.demand(wl.spec);
    const own = new Map<number, number>();
    for (const r of wl.replicas) own.set(r.alloc.node, (own.get(r.alloc.node) ?? 0) + 1);
    const avoid = new Set<number>();
    for (const name of wl.spec.antiAffinity ?? []) {
      if (name === wl.spec.key.component) continue;
      const other = this.workloads.get(workloadId({ ...wl.spec.key, component: name }));
      for (const r of other?.replicas ?? []) avoid.add(r.alloc.node);
    }
    const maxPerNode = wl.spec.maxReplicasPerNode ?? Infinity;
    const allocations: Allocation[] = [];
    const limited = maxPerNode !== Infinity || avoid.size > 0;
    this.placer.place(0, d, want, {
      allocations,
      ...(limited
        ? {
            maxPerNode,
            onNode: (i: number) => (avoid.has(i) ? maxPerNode : (own.get(i) ?? 0)),
          }
        : {}),
    });
    allocations.forEach((alloc, placed) => {
      wl.replicas.push({ alloc, readyAt: wl.handover[placed] ?? now + this.startupMs });
    });
    const placed = allocations.length;
    wl.handover = [];
    wl.unschedulable = placed < want ? this.explain(want - placed, wl.spec, d) : undefined;
  }

  private demand(spec: WorkloadSpec): CompiledRequest {
    return this.state.compile(
      podRequest(spec.cpuMillis, spec.memoryBytes, spec.gpu, spec.gpuModel, spec.architectures),
    );
  }

  /**
   * Why no node takes one more replica, counting every node once under its
   * first obstacle: failed, wrong architecture, wrong GPU model, then the first
   * resource (cpu, memory, gpu, pods) it lacks, grouped by architecture.
   */
  private explain(pending: number, spec: WorkloadSpec, d: CompiledRequest): string {
    const resources = ['cpu', 'memory', 'gpu', 'pods'] as const;
    const short = resources.map(() => new Int32Array(ARCHES.length));
    const otherArch = new Int32Array(ARCHES.length);
    let failed = 0;
    let wrongModel = 0;
    let perNode = 0;
    const st = this.state;
    for (let i = 0; i < this.size; i++) {
      const a = st.arch[i]!;
      if (st.healthy[i] === 0) failed++;
      else if (((d.archMask >> a) & 1) === 0) otherArch[a]!++;
      else if (d.gpuModel !== 0 && st.gpuModel[i] !== d.gpuModel) wrongModel++;
      else {
        const lacking = [
          st.cpuCap[i]! - st.cpuUsed[i]! < d.cpuMilli,
          st.memCap[i]! - st.memUsed[i]! < d.memoryMiB,
          !st.gpusFit(i, d),
          st.podsCap[i]! - st.podsUsed[i]! < 1,
        ].indexOf(true);
        if (lacking >= 0) short[lacking]![a]!++;
        else perNode++;
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
    if (perNode > 0)
      parts.push(
        `${plural(perNode, 'node')} at the per-node limit (maxReplicasPerNode or anti-affinity)`,
      );
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
