// Cluster-level placement, first-fit: a pure function of (snapshot, application)
// with no I/O, no clock and no randomness. The global scheduler (its own issue)
// replaces the scoring; the filters and the explanation format stay.
//
// Order of filters (each rejection is counted under its reason, so an operator
// sees "31 clusters: image has no arm64 variant" rather than "no fit"):
//   1. health        cluster Ready
//   2. affinity      clouds / sites / clusters / labelSelector / exclusions
//   3. residency     site country in the allowed list
//   4. taints        every NoSchedule/NoExecute taint tolerated
//   5. architecture  the cluster has nodes of an architecture the image exists for
//   6. capacity      at least one replica's cpu/memory/gpu free
// Feasible clusters are then taken in order: the clusters the component already
// runs on first (placements are sticky, so a reconcile never reshuffles a healthy
// app), then by name, until the spread minimum and the replica count are covered.
import type { Requirement } from '../model/labels.ts';
import { matchesLabels, requirementsFromLabelSelector } from '../model/labels.ts';
import type { Arch, Placement, Taint } from '../model/schema.ts';

export interface ClusterSnapshot {
  name: string;
  cloud: string;
  site: string;
  zone: string;
  country: string;
  labels: Record<string, string>;
  taints: Taint[];
  ready: boolean;
  archs: Arch[];
  /** Free resources: cores, bytes, gpus, pods. */
  free: { cpu: number; memory: number; gpu: number; pods: number };
}

export interface ComponentRequest {
  name: string;
  replicas: number;
  architectures: Arch[];
  cpuMillis: number;
  memoryBytes: number;
  gpu: number;
}

export interface PlacementRequest {
  components: ComponentRequest[];
  placement: Placement | undefined;
  /** Clusters each component runs on now, by component name. */
  current: Record<string, string[]>;
}

export interface ClusterAssignment {
  cluster: string;
  replicas: number;
}

export interface ComponentPlan {
  component: string;
  assignments: ClusterAssignment[];
  /** Replicas no feasible cluster could take. */
  unplaced: number;
}

export interface Reason {
  component?: string;
  count: number;
  reason: string;
}

export interface PlacementPlan {
  components: ComponentPlan[];
  reasons: Reason[];
}

type Filter = (c: ClusterSnapshot, r: ComponentRequest) => string | undefined;

function affinityFilter(placement: Placement | undefined): Filter {
  const aff = placement?.clusterAffinity;
  const selector: Requirement[] | undefined = aff?.labelSelector
    ? requirementsFromLabelSelector(aff.labelSelector)
    : undefined;
  const inList = (list: string[] | undefined, v: string) =>
    list === undefined || list.length === 0 || list.includes(v);
  return (c) => {
    if (!aff) return undefined;
    if (!inList(aff.clouds, c.cloud))
      return `cloud not in affinity (${aff.clouds?.join(', ') ?? ''})`;
    if (!inList(aff.sites, c.site)) return `site not in affinity (${aff.sites?.join(', ') ?? ''})`;
    if (!inList(aff.clusters, c.name)) return 'cluster not in affinity';
    if (selector && !matchesLabels(selector, c.labels))
      return 'labels do not match the label selector';
    const ex = aff.exclude;
    if (
      ex?.clouds?.includes(c.cloud) ||
      ex?.sites?.includes(c.site) ||
      ex?.clusters?.includes(c.name)
    )
      return 'excluded by placement';
    return undefined;
  };
}

function residencyFilter(placement: Placement | undefined): Filter {
  const countries = placement?.residency?.countries;
  return (c) =>
    countries && !countries.includes(c.country)
      ? `data residency: country ${c.country} not allowed`
      : undefined;
}

function taintFilter(placement: Placement | undefined): Filter {
  const tolerations = placement?.tolerations ?? [];
  const tolerated = (t: Taint) =>
    tolerations.some(
      (tol) =>
        (tol.key === undefined || tol.key === t.key) &&
        (tol.operator === 'Exists' ||
          tol.key === undefined ||
          (tol.value ?? '') === (t.value ?? '')) &&
        (tol.effect === undefined || tol.effect === t.effect),
    );
  return (c) => {
    const blocking = c.taints.find((t) => t.effect !== 'PreferNoSchedule' && !tolerated(t));
    return blocking ? `untolerated taint ${blocking.key}:${blocking.effect}` : undefined;
  };
}

const healthFilter: Filter = (c) => (c.ready ? undefined : 'cluster not Ready');

const archFilter: Filter = (c, r) =>
  r.architectures.some((a) => c.archs.includes(a))
    ? undefined
    : `image has no ${c.archs.join('/') || 'matching'} variant`;

const capacityFilter: Filter = (c, r) => {
  if (c.free.pods < 1) return 'no pod slots free';
  if (c.free.cpu * 1000 < r.cpuMillis) return 'insufficient cpu';
  if (c.free.memory < r.memoryBytes) return 'insufficient memory';
  if (c.free.gpu < r.gpu) return 'insufficient gpu';
  return undefined;
};

function replicasThatFit(c: ClusterSnapshot, r: ComponentRequest): number {
  const limits = [c.free.pods];
  if (r.cpuMillis > 0) limits.push(Math.floor((c.free.cpu * 1000) / r.cpuMillis));
  if (r.memoryBytes > 0) limits.push(Math.floor(c.free.memory / r.memoryBytes));
  if (r.gpu > 0) limits.push(Math.floor(c.free.gpu / r.gpu));
  return Math.max(0, Math.min(...limits));
}

function groupOf(c: ClusterSnapshot, by: 'cloud' | 'site' | 'zone' | 'cluster'): string {
  if (by === 'zone') return `${c.site}/${c.zone}`;
  return by === 'cluster' ? c.name : c[by];
}

export function placeFirstFit(
  clusters: readonly ClusterSnapshot[],
  request: PlacementRequest,
): PlacementPlan {
  const placement = request.placement;
  const filters: Filter[] = [
    healthFilter,
    affinityFilter(placement),
    residencyFilter(placement),
    taintFilter(placement),
    archFilter,
    capacityFilter,
  ];
  const reasonCounts = new Map<string, Reason>();
  const byName = [...clusters].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  // Free capacity is consumed as components are placed, so two components of
  // one app are never both counted against the same free cores.
  const free = new Map(byName.map((c) => [c.name, { ...c.free }]));
  const plans: ComponentPlan[] = [];

  for (const r of request.components) {
    const feasible: ClusterSnapshot[] = [];
    for (const c of byName) {
      const view = { ...c, free: free.get(c.name) ?? c.free };
      const reason = filters.map((f) => f(view, r)).find((x) => x !== undefined);
      if (reason === undefined) feasible.push(view);
      else {
        const key = `${r.name}\u0000${reason}`;
        const entry = reasonCounts.get(key) ?? { component: r.name, count: 0, reason };
        entry.count++;
        reasonCounts.set(key, entry);
      }
    }
    const current = new Set(request.current[r.name] ?? []);
    const ordered = [
      ...feasible.filter((c) => current.has(c.name)),
      ...feasible.filter((c) => !current.has(c.name)),
    ];
    const plan =
      r.replicas === 0
        ? { component: r.name, assignments: [], unplaced: 0 }
        : choose(ordered, r, placement);
    for (const a of plan.assignments) {
      const f = free.get(a.cluster);
      if (!f) continue;
      f.cpu -= (a.replicas * r.cpuMillis) / 1000;
      f.memory -= a.replicas * r.memoryBytes;
      f.gpu -= a.replicas * r.gpu;
      f.pods -= a.replicas;
    }
    plans.push(plan);
    if (plan.unplaced > 0) {
      const key = `${r.name}\u0000unplaced`;
      reasonCounts.set(key, {
        component: r.name,
        count: plan.unplaced,
        reason: 'replicas could not be placed on any feasible cluster',
      });
    }
  }
  return { components: plans, reasons: [...reasonCounts.values()] };
}

function choose(
  ordered: ClusterSnapshot[],
  r: ComponentRequest,
  placement: Placement | undefined,
): ComponentPlan {
  const spread = placement?.spread ?? [];
  const duplicated = placement?.replicaScheduling?.type === 'Duplicated';
  const chosen: ClusterSnapshot[] = [];
  // First satisfy every spread minimum with one cluster per new group, then
  // add clusters until the replicas fit; never exceed a spread maximum.
  const groupsOk = (candidate: ClusterSnapshot) =>
    spread.every((s) => {
      if (s.max === undefined) return true;
      const groups = new Set(chosen.map((c) => groupOf(c, s.by)));
      return groups.has(groupOf(candidate, s.by)) || groups.size < s.max;
    });
  for (const s of spread) {
    const min = s.min ?? 1;
    for (const c of ordered) {
      const groups = new Set(chosen.map((x) => groupOf(x, s.by)));
      if (groups.size >= min) break;
      if (!chosen.includes(c) && !groups.has(groupOf(c, s.by)) && groupsOk(c)) chosen.push(c);
    }
  }
  const capacityOf = (cs: ClusterSnapshot[]) => cs.reduce((n, c) => n + replicasThatFit(c, r), 0);
  for (const c of ordered) {
    if (chosen.length === 0 || (!duplicated && capacityOf(chosen) < r.replicas)) {
      if (!chosen.includes(c) && groupsOk(c)) chosen.push(c);
    } else break;
  }
  if (chosen.length === 0) return { component: r.name, assignments: [], unplaced: r.replicas };
  if (duplicated) {
    return {
      component: r.name,
      assignments: chosen.map((c) => ({
        cluster: c.name,
        replicas: Math.min(r.replicas, replicasThatFit(c, r)),
      })),
      unplaced: chosen.reduce((n, c) => n + Math.max(0, r.replicas - replicasThatFit(c, r)), 0),
    };
  }
  return divide(chosen, r, placement);
}

/** Divides replicas over the chosen clusters by static weight (default equal), capped by what fits. */
function divide(
  chosen: ClusterSnapshot[],
  r: ComponentRequest,
  placement: Placement | undefined,
): ComponentPlan {
  const weights = chosen.map((c) => {
    const w = placement?.replicaScheduling?.staticWeights?.find((sw) =>
      sw.clusters.includes(c.name),
    );
    return placement?.replicaScheduling?.weighting === 'Static' ? (w?.weight ?? 0) : 1;
  });
  const totalWeight = weights.reduce((a, b) => a + b, 0) || 1;
  const caps = chosen.map((c) => replicasThatFit(c, r));
  const counts = chosen.map((_, i) =>
    Math.min(caps[i] ?? 0, Math.floor((r.replicas * (weights[i] ?? 0)) / totalWeight)),
  );
  let left = r.replicas - counts.reduce((a, b) => a + b, 0);
  // Hand out the remainder round-robin, in order, to clusters with room.
  for (let pass = 0; left > 0 && pass < r.replicas; pass++) {
    let gave = false;
    for (let i = 0; i < chosen.length && left > 0; i++) {
      if ((counts[i] ?? 0) < (caps[i] ?? 0) && (weights[i] ?? 0) > 0) {
        counts[i] = (counts[i] ?? 0) + 1;
        left--;
        gave = true;
      }
    }
    if (!gave) break;
  }
  return {
    component: r.name,
    assignments: chosen
      .map((c, i) => ({ cluster: c.name, replicas: counts[i] ?? 0 }))
      .filter((a) => a.replicas > 0),
    unplaced: left,
  };
}
