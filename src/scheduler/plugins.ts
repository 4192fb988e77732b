// The scheduler's plugins: feasibility checks (filters) and scores, each small
// and composed in a documented order through a registry, after Nomad's
// `scheduler/feasible` iterators and Karmada's scheduler framework.
//
// Filters, in order; a cluster is rejected by the first that fails, and every
// rejection is counted under its reason ("31 clusters: image has no arm64
// variant"):
//   1. health        the cluster is Ready (and reachable in this reconcile)
//   2. affinity      clouds / sites / clusters / labelSelector / exclude
//   3. residency     the site's country is an allowed one
//   4. taints        every NoSchedule / NoExecute taint is tolerated
//   5. architecture  some node has an architecture the image exists for
//   6. gpu           some node has the GPU model and enough GPUs
// These depend only on the cluster and the application's constraints, so the
// scheduler caches their verdicts per constraint set. Two more checks follow in
// the scheduler itself because they depend on what is free now:
//   7. node size     some compatible node is large enough for one replica
//   8. capacity      the compatible nodes have room for at least one replica
// Spread limits, replica division and node placement come after (scheduler.ts).
//
// Scores, each in [0, 1], are combined as a weighted mean with the app's
// `placement.preferences` (defaults in DEFAULT_WEIGHTS):
//   cost       cheapest per replica = 1; others cheapest price / their price
//   packing    how full the cluster is after one more replica (most-allocated),
//              over the resources the replica asks for
//   balance    1 - spread between cpu, memory (and GPU) use after one more
//              replica (Kubernetes' BalancedAllocation)
//   proximity  closeness of the site to the nearest user region
import type { Requirement } from '../model/labels.ts';
import { matchesLabels, requirementsFromLabelSelector } from '../model/labels.ts';
import { ARCHES, type Arch, type Placement, type Taint } from '../model/schema.ts';
import { modelAllowed, modelKey, type CompiledRequest } from './nodestate.ts';
import type { NodePlacer } from './placer.ts';
import type { ClusterInfo } from './snapshot.ts';

/** What plugins may read about the fleet. */
export interface FleetView {
  readonly clusters: readonly ClusterInfo[];
  readonly placer: NodePlacer;
  /** Architectures of each cluster's nodes, as bits of ARCHES indexes. */
  readonly clusterArchMask: Uint8Array;
  /** GPU model names by code (0 = none). */
  readonly gpuModels: readonly string[];
  /** Proximity score per cluster for the user regions, and the regions not understood. */
  proximity(userRegions: readonly string[]): { scores: Float64Array; unknown: string[] };
}

/** The app and component constraints the filters look at. */
export interface FilterQuery {
  placement: Placement | undefined;
  request: CompiledRequest;
  /** The image's architectures (for messages). */
  architectures: readonly Arch[];
  /** The GPU model, or the allowed models joined by "|", the component asks for (for messages). */
  gpuModel: string | undefined;
}

export type ClusterCheck = (cluster: number) => string | undefined;

export interface FilterPlugin {
  readonly name: string;
  /**
   * The part of the query the filter reads, as a string: verdicts are cached
   * per (filter, key) and shared by every app with the same constraint. Without
   * it they are cached per whole query.
   */
  key?(q: FilterQuery): string;
  /** A check for this query; undefined when the query cannot reject any cluster. */
  prepare(q: FilterQuery, fleet: FleetView): ClusterCheck | undefined;
}

export interface ScoreQuery {
  placement: Placement | undefined;
  request: CompiledRequest;
  /** The clusters still in the running: candidates[0 .. count). */
  candidates: Int32Array;
  count: number;
}

export type ClusterScore = (cluster: number) => number;

export interface ScorePlugin {
  readonly name: string;
  /** The app's weight for this score (0 leaves it out). */
  weight(placement: Placement | undefined): number;
  /** The score of one cluster in [0, 1]; undefined when the score does not apply. */
  prepare(q: ScoreQuery, fleet: FleetView): ClusterScore | undefined;
  /**
   * Optional batch form, for speed: adds weight x score of every candidate c
   * to out[c]. Must agree with prepare.
   */
  addAll?(q: ScoreQuery, fleet: FleetView, weight: number, out: Float64Array): void;
}

export const DEFAULT_WEIGHTS = { cost: 1, packing: 1, balance: 0.5, proximity: 1 } as const;

// ------------------------------------------------------------------ filters

const list = (xs: readonly string[] | undefined) => (xs ?? []).join(', ');

export const healthFilter: FilterPlugin = {
  name: 'health',
  key: () => '',
  prepare: (_q, fleet) => (c) => (fleet.clusters[c]!.ready ? undefined : 'cluster not Ready'),
};

export const affinityFilter: FilterPlugin = {
  name: 'affinity',
  key: (q) => JSON.stringify(q.placement?.clusterAffinity ?? null),
  prepare(q, fleet) {
    const aff = q.placement?.clusterAffinity;
    if (!aff) return undefined;
    const selector: Requirement[] | undefined = aff.labelSelector
      ? requirementsFromLabelSelector(aff.labelSelector)
      : undefined;
    const clouds = aff.clouds?.length ? new Set(aff.clouds) : undefined;
    const sites = aff.sites?.length ? new Set(aff.sites) : undefined;
    const names = aff.clusters?.length ? new Set(aff.clusters) : undefined;
    const ex = aff.exclude;
    const cloudMsg = `cloud not in affinity (${list(aff.clouds)})`;
    const siteMsg = `site not in affinity (${list(aff.sites)})`;
    return (c) => {
      const k = fleet.clusters[c]!;
      if (clouds && !clouds.has(k.cloud)) return cloudMsg;
      if (sites && !sites.has(k.site)) return siteMsg;
      if (names && !names.has(k.name)) return 'cluster not in affinity';
      if (selector && !matchesLabels(selector, k.labels))
        return 'labels do not match the label selector';
      if (ex?.clouds?.includes(k.cloud)) return 'cloud excluded by placement';
      if (ex?.sites?.includes(k.site)) return 'site excluded by placement';
      if (ex?.clusters?.includes(k.name)) return 'cluster excluded by placement';
      return undefined;
    };
  },
};

export const residencyFilter: FilterPlugin = {
  name: 'residency',
  key: (q) => q.placement?.residency?.countries.join(',') ?? '*',
  prepare(q, fleet) {
    const countries = q.placement?.residency?.countries;
    if (!countries) return undefined;
    const allowed = new Set(countries);
    return (c) => {
      const country = fleet.clusters[c]!.country;
      return allowed.has(country)
        ? undefined
        : `data residency: country ${country || 'unknown'} not allowed (${countries.join(', ')})`;
    };
  },
};

/** Whether one of the tolerations tolerates the taint (Kubernetes semantics). */
export function tolerates(tolerations: Placement['tolerations'], t: Taint): boolean {
  return (tolerations ?? []).some(
    (tol) =>
      (tol.key === undefined || tol.key === t.key) &&
      (tol.operator === 'Exists' ||
        tol.key === undefined ||
        (tol.value ?? '') === (t.value ?? '')) &&
      (tol.effect === undefined || tol.effect === t.effect),
  );
}

export const taintFilter: FilterPlugin = {
  name: 'taints',
  key: (q) => JSON.stringify(q.placement?.tolerations ?? null),
  prepare(q, fleet) {
    const tolerations = q.placement?.tolerations;
    return (c) => {
      for (const t of fleet.clusters[c]!.taints) {
        if (t.effect !== 'PreferNoSchedule' && !tolerates(tolerations, t))
          return `untolerated taint ${t.key}${t.value !== undefined ? `=${t.value}` : ''}:${t.effect}`;
      }
      return undefined;
    };
  },
};

function archNames(mask: number): string {
  return ARCHES.filter((_, i) => ((mask >> i) & 1) === 1).join('/') || 'any';
}

export const architectureFilter: FilterPlugin = {
  name: 'architecture',
  key: (q) => String(q.request.archMask),
  prepare(q, fleet) {
    const want = q.request.archMask;
    return (c) => {
      const have = fleet.clusterArchMask[c]!;
      if ((have & want) !== 0) return undefined;
      return have === 0 ? 'cluster has no nodes' : `image has no ${archNames(have)} variant`;
    };
  },
};

export const gpuFilter: FilterPlugin = {
  name: 'gpu',
  key: (q) =>
    `${q.request.archMask}|${q.request.gpuCount}|${q.request.gpuMilli >= 1000 ? 1 : 0}|${modelKey(q.request)}`,
  prepare(q, fleet) {
    const r = q.request;
    if (r.gpuCount === 0 && r.gpuModel === 0) return undefined;
    const p = fleet.placer;
    const model = q.gpuModel;
    return (c) => {
      let anyGpu = false;
      let anyModel = false;
      for (let j = p.clusterClassStart[c]!; j < p.clusterClassStart[c + 1]!; j++) {
        const k = p.clusterClasses[j]!;
        if (((r.archMask >> p.classArch[k]!) & 1) === 0) continue;
        if (p.classGpus[k]! === 0) continue;
        anyGpu = true;
        if (!modelAllowed(r, p.classGpuModel[k]!)) continue;
        anyModel = true;
        if (p.classCompatible(k, r)) return undefined;
      }
      if (!anyGpu) return 'no GPU nodes';
      if (!anyModel) return `no ${model ?? ''} GPUs`;
      return r.gpuMilli >= 1000
        ? `no node has ${r.gpuCount}${model ? ` ${model}` : ''} GPUs`
        : 'a GPU share needs gpu count 1';
    };
  },
};

// ------------------------------------------------------------------ scores

function weightOf(placement: Placement | undefined, key: keyof typeof DEFAULT_WEIGHTS): number {
  const w = placement?.preferences?.[key];
  return w ?? DEFAULT_WEIGHTS[key];
}

/** Price of one replica per hour on cluster c. */
export function replicaPrice(fleet: FleetView, c: number, r: CompiledRequest): number {
  const p = fleet.clusters[c]!.prices;
  return (
    (r.cpuMilli / 1000) * p.cpuCoreHour +
    (r.memoryMiB / 1024) * p.memoryGiBHour +
    (r.gpuCount * r.gpuMilli * p.gpuHour) / 1000
  );
}

function minPrice(q: ScoreQuery, fleet: FleetView): number {
  let min = Infinity;
  for (let j = 0; j < q.count; j++) {
    const price = replicaPrice(fleet, q.candidates[j]!, q.request);
    if (price > 0 && price < min) min = price;
  }
  return min;
}

function costAt(fleet: FleetView, c: number, r: CompiledRequest, min: number): number {
  const price = replicaPrice(fleet, c, r);
  return price <= 0 || min === Infinity ? 1 : min / price;
}

export const costScore: ScorePlugin = {
  name: 'cost',
  weight: (p) => weightOf(p, 'cost'),
  prepare(q, fleet) {
    const min = minPrice(q, fleet);
    return (c) => costAt(fleet, c, q.request, min);
  },
  addAll(q, fleet, weight, out) {
    const min = minPrice(q, fleet);
    for (let j = 0; j < q.count; j++) {
      const c = q.candidates[j]!;
      out[c]! += weight * costAt(fleet, c, q.request, min);
    }
  },
};

/** Used fraction of cluster c after one more replica of r, averaged over what r asks for. */
function packingAt(p: NodePlacer, c: number, r: CompiledRequest): number {
  const gpu = r.gpuCount * r.gpuMilli;
  let sum = 0;
  let n = 0;
  const cpuCap = p.clusterCpuCap[c]!;
  if ((r.cpuMilli > 0 || (r.memoryMiB === 0 && gpu === 0)) && cpuCap > 0) {
    sum += (cpuCap - p.clusterCpuFree[c]! + r.cpuMilli) / cpuCap;
    n++;
  }
  const memCap = p.clusterMemCap[c]!;
  if (r.memoryMiB > 0 && memCap > 0) {
    sum += (memCap - p.clusterMemFree[c]! + r.memoryMiB) / memCap;
    n++;
  }
  const gpuCap = p.clusterGpuCap[c]!;
  if (gpu > 0 && gpuCap > 0) {
    sum += (gpuCap - p.clusterGpuFree[c]! + gpu) / gpuCap;
    n++;
  }
  return n === 0 ? 0 : Math.min(1, sum / n);
}

export const packingScore: ScorePlugin = {
  name: 'packing',
  weight: (p) => weightOf(p, 'packing'),
  prepare: (q, fleet) => (c) => packingAt(fleet.placer, c, q.request),
  addAll(q, fleet, weight, out) {
    for (let j = 0; j < q.count; j++) {
      const c = q.candidates[j]!;
      out[c]! += weight * packingAt(fleet.placer, c, q.request);
    }
  },
};

/** 1 - how unevenly cpu, memory (and GPU) of cluster c are used after one more replica of r. */
function balanceAt(p: NodePlacer, c: number, r: CompiledRequest): number {
  const gpu = r.gpuCount * r.gpuMilli;
  const cpuCap = p.clusterCpuCap[c]!;
  const memCap = p.clusterMemCap[c]!;
  const cpu = cpuCap > 0 ? (cpuCap - p.clusterCpuFree[c]! + r.cpuMilli) / cpuCap : 0;
  const mem = memCap > 0 ? (memCap - p.clusterMemFree[c]! + r.memoryMiB) / memCap : 0;
  const gpuCap = p.clusterGpuCap[c]!;
  if (gpu > 0 && gpuCap > 0) {
    const g = (gpuCap - p.clusterGpuFree[c]! + gpu) / gpuCap;
    const mean = (cpu + mem + g) / 3;
    const sd = Math.sqrt(((cpu - mean) ** 2 + (mem - mean) ** 2 + (g - mean) ** 2) / 3);
    return Math.max(0, 1 - sd);
  }
  return Math.max(0, 1 - Math.abs(cpu - mem) / 2);
}

export const balanceScore: ScorePlugin = {
  name: 'balance',
  weight: (p) => weightOf(p, 'balance'),
  prepare: (q, fleet) => (c) => balanceAt(fleet.placer, c, q.request),
  addAll(q, fleet, weight, out) {
    for (let j = 0; j < q.count; j++) {
      const c = q.candidates[j]!;
      out[c]! += weight * balanceAt(fleet.placer, c, q.request);
    }
  },
};

export const proximityScore: ScorePlugin = {
  name: 'proximity',
  weight: (p) => (p?.preferences?.userRegions?.length ? weightOf(p, 'proximity') : 0),
  prepare(q, fleet) {
    const regions = q.placement?.preferences?.userRegions;
    if (!regions?.length) return undefined;
    const { scores } = fleet.proximity(regions);
    return (c) => scores[c]!;
  },
};

// ------------------------------------------------------------------ registry

/** The filters and scores the scheduler runs, in order. */
export class PluginRegistry {
  readonly filters: FilterPlugin[] = [];
  readonly scores: ScorePlugin[] = [];

  /** Adds a filter at the end, or before the filter named `before`. */
  registerFilter(f: FilterPlugin, before?: string): this {
    if (this.filters.some((x) => x.name === f.name))
      throw new RangeError(`a filter named ${f.name} is registered already`);
    const i = before === undefined ? -1 : this.filters.findIndex((x) => x.name === before);
    if (i < 0) this.filters.push(f);
    else this.filters.splice(i, 0, f);
    return this;
  }

  registerScore(s: ScorePlugin): this {
    if (this.scores.some((x) => x.name === s.name))
      throw new RangeError(`a score named ${s.name} is registered already`);
    this.scores.push(s);
    return this;
  }
}

/** The built-in plugins in their documented order. */
export function defaultRegistry(): PluginRegistry {
  return new PluginRegistry()
    .registerFilter(healthFilter)
    .registerFilter(affinityFilter)
    .registerFilter(residencyFilter)
    .registerFilter(taintFilter)
    .registerFilter(architectureFilter)
    .registerFilter(gpuFilter)
    .registerScore(costScore)
    .registerScore(packingScore)
    .registerScore(balanceScore)
    .registerScore(proximityScore);
}
