// Feasibility: which clusters may take a replica of the component, each
// rejection counted under its reason. In order (after Nomad's feasibility
// iterators):
//   1-6. the registry's filters (plugins.ts: health, affinity, residency,
//        taints, architecture, GPU), a cluster rejected by the first that
//        fails; verdicts depend only on the cluster and the constraint, so
//        they are cached per filter key and shared by every app in the run;
//   7.   node size: some compatible node is large enough for one replica;
//   8.   capacity: the compatible nodes have room for one replica now.
// Clusters the component already runs on stay candidates whatever 7-8 say:
// their replicas are kept, not placed again.
import { ARCHES, type Arch } from '../model/schema.ts';
import type { AppContext, Run, StaticVerdicts } from './context.ts';
import { GPU_MILLI, modelKey, type CompiledRequest } from './nodestate.ts';
import { formatCpu, formatMiB, increment, sortedReasons } from './reasons.ts';
import type { ComponentRequest } from './types.ts';

/** A filter that rejects nothing. */
const NO_REJECTIONS: readonly (string | undefined)[] = [];

/** Filters 1-6 for the component's constraint set, from the run's cache when another component had it. */
export function staticVerdicts(
  run: Run,
  ctx: AppContext,
  comp: ComponentRequest,
  r: CompiledRequest,
): StaticVerdicts {
  const key = `${ctx.placementKey}|${r.archMask}|${r.gpuCount}|${r.gpuMilli >= GPU_MILLI ? 1 : 0}|${modelKey(r)}`;
  let v = run.staticCache.get(key);
  if (v) return v;
  const archs: Arch[] = ARCHES.filter((_, i) => ((r.archMask >> i) & 1) === 1);
  const q = {
    placement: ctx.placement,
    request: r,
    architectures: archs,
    gpuModel: comp.pod.gpuModel ?? comp.pod.gpuModels?.join('|'),
  };
  // One verdict array per filter, shared through the cache by every query with the same key.
  const verdicts: (readonly (string | undefined)[])[] = [];
  for (const f of run.registry.filters) {
    const fkey = f.key ? `${f.name}\u0000${f.key(q)}` : `${f.name}\u0000\u0000${key}`;
    let v = run.filterCache.get(fkey);
    if (!v) {
      const check = f.prepare(q, run);
      v = check ? run.clusters.map((_, c) => check(c)) : NO_REJECTIONS;
      run.filterCache.set(fkey, v);
    }
    if (v !== NO_REJECTIONS) verdicts.push(v);
  }
  const pass: number[] = [];
  const classStart: number[] = [0];
  const classList: number[] = [];
  const rejected = new Map<string, number>();
  const reasonOf: (string | undefined)[] = [];
  const p = run.placer;
  for (let c = 0; c < run.clusters.length; c++) {
    let why: string | undefined;
    for (const v of verdicts) {
      why = v[c];
      if (why !== undefined) break;
    }
    reasonOf.push(why);
    if (why !== undefined) {
      increment(rejected, why);
      continue;
    }
    pass.push(c);
    for (let j = p.clusterClassStart[c]!; j < p.clusterClassStart[c + 1]!; j++) {
      const k = p.clusterClasses[j]!;
      if (p.classCompatible(k, r)) classList.push(k);
    }
    classStart.push(classList.length);
  }
  v = {
    pass: Int32Array.from(pass),
    classStart: Int32Array.from(classStart),
    classList: Int32Array.from(classList),
    rejected: sortedReasons(rejected),
    reasonOf,
    uses: 0,
  };
  run.staticCache.set(key, v);
  return v;
}

/** Whether st.pass[j] may take one replica of r now (its class totals and node sizes allow). */
function roomAt(run: Run, st: StaticVerdicts, j: number, r: CompiledRequest): boolean {
  const p = run.placer;
  const end = st.classStart[j + 1]!;
  const gpu = r.gpuCount > 0;
  const whole = r.gpuMilli >= GPU_MILLI;
  for (let x = st.classStart[j]!; x < end; x++) {
    const k = st.classList[x]!;
    if (
      p.classMaxCpu[k]! >= r.cpuMilli &&
      p.classMaxMem[k]! >= r.memoryMiB &&
      p.classPodsFree[k]! >= 1 &&
      p.classCpuFree[k]! >= r.cpuMilli &&
      p.classMemFree[k]! >= r.memoryMiB &&
      (!gpu || (whole ? p.classGpuWhole[k]! >= r.gpuCount : p.classGpuFree[k]! >= r.gpuMilli)) &&
      p.hasRoom(k, r)
    )
      return true;
  }
  return false;
}

/** Why cluster c takes no replica of r now (node size, then free capacity). */
function capacityReason(run: Run, c: number, r: CompiledRequest): string {
  const p = run.placer;
  let bigEnough = false;
  let healthy = 0;
  let cpu = 0;
  let mem = 0;
  let pods = 0;
  let gpu = 0;
  for (let j = p.clusterClassStart[c]!; j < p.clusterClassStart[c + 1]!; j++) {
    const k = p.clusterClasses[j]!;
    if (!p.classCompatible(k, r)) continue;
    if (p.classMaxCpu[k]! < r.cpuMilli || p.classMaxMem[k]! < r.memoryMiB) continue;
    bigEnough = true;
    healthy += p.classHealthy[k]!;
    cpu += p.classCpuFree[k]!;
    mem += p.classMemFree[k]!;
    pods += p.classPodsFree[k]!;
    gpu += r.gpuMilli >= GPU_MILLI ? p.classGpuWhole[k]! * GPU_MILLI : p.classGpuFree[k]!;
  }
  if (!bigEnough)
    return `no node large enough for one replica (${formatCpu(r.cpuMilli)} cpu, ${formatMiB(r.memoryMiB)} memory)`;
  if (healthy === 0) return 'no healthy node of a fitting kind';
  if (pods < 1) return 'no pod slots free';
  if (cpu < r.cpuMilli) return 'insufficient cpu';
  if (mem < r.memoryMiB) return 'insufficient memory';
  if (gpu < r.gpuCount * r.gpuMilli) return 'insufficient gpu';
  return 'no single node has room (free capacity is fragmented)';
}

/**
 * Checks 7-8 on the clusters that passed the filters. Starts a new stamp (the
 * previous component's marks and capacity estimates stop counting), marks
 * the candidates and lists them in run.candidates[0 .. ws.n); the rejections
 * go to ws.dynamicRejected (and per cluster to ws.dynamicReason when
 * explaining).
 */
export function feasibleNow(
  run: Run,
  st: StaticVerdicts,
  comp: ComponentRequest,
  current: ReadonlyMap<number, number> | undefined,
): void {
  const w = run.ws;
  const r = w.r;
  let dynamicRejected: Map<string, number> | undefined;
  let dynamicReason: Map<number, string> | undefined;
  const cand = run.candidates;
  let n = 0;
  const stamp = ++run.stamp;
  w.stamp = stamp;
  for (let j = 0; j < st.pass.length; j++) {
    const c = st.pass[j]!;
    if (comp.replicas > 0 && !roomAt(run, st, j, r) && current?.has(c) !== true) {
      const why = capacityReason(run, c, r);
      increment((dynamicRejected ??= new Map<string, number>()), why);
      if (run.explain) (dynamicReason ??= new Map<number, string>()).set(c, why);
      continue;
    }
    run.mark[c] = stamp;
    cand[n++] = c;
  }
  w.n = n;
  w.dynamicRejected = dynamicRejected;
  w.dynamicReason = dynamicReason;
}
