// The throughput benchmark's second baseline: what a Kubernetes user runs
// instead of one kube-scheduler over a whole fleet. Karmada's scheduler picks
// member clusters for each application (a ResourceBinding) and divides its
// replicas among them; in each member cluster (at most a few thousand nodes)
// that cluster's own default scheduler places the pods. Re-implemented from
// reading Karmada's pkg/scheduler (framework/plugins, core/spreadconstraint,
// core/division_algorithm) and the scheduler estimator, not copied.
//
// Per application:
//   1. Filter   ClusterAffinity (clouds as the provider field, residency as a
//               country label selector), TaintToleration (the cluster's
//               NoSchedule/NoExecute taints against the placement's
//               clusterTolerations; a not-ready cluster carries Karmada's
//               not-ready taint), SpreadConstraint (a cluster without a value
//               for the spread field is dropped). APIEnablement passes every
//               cluster: all members serve the same APIs.
//   2. Score    ClusterLocality (100 for clusters the binding already uses: 0
//               for a fresh binding, as every binding here is) and
//               ClusterAffinity's score (0: no preferred terms): every cluster
//               scores alike, so AvailableReplicas decides, as in Karmada's
//               sort by (score, available replicas).
//   3. Estimate AvailableReplicas per cluster as karmada-scheduler-estimator
//               computes it: the sum over the member's nodes that pass the
//               pod's node affinity and tolerations of the replicas each node
//               still fits (cpu, memory, pod slots, whole GPUs).
//   4. Select   with a spread constraint (spreadByField provider / region /
//               zone / cluster, minGroups, maxGroups): clusters grouped by the
//               field, groups by available replicas (most first), the first
//               maxGroups of them (all when unset); fewer than minGroups groups
//               fails the binding. Without one: every cluster that passed.
//   5. Divide   Divided with dynamic weight by AvailableReplicas: each selected
//               cluster gets floor(replicas x available / total) and the
//               remainder goes one by one to the largest weights (then by
//               name); when the clusters' available replicas sum to less than
//               the replicas, the binding fails and nothing is placed, as in
//               Karmada. Duplicated: every selected cluster that can take all
//               replicas gets all of them.
//   6. Member   each cluster's share goes to that cluster's KubeBaseline (the
//               default scheduler's algorithm over its nodes only), one pod at
//               a time; a pod it cannot place stays pending (unplaced).
//
// Not modelled: Karmada's resource models (grade-based general estimator; the
// accurate estimator above is tighter), the group-combination search of the
// spread selection when groups are short (groups are taken greedily, most
// available first), static weights, rescheduling and descheduler,
// propagation latency (binding to a member is instantaneous) and the
// member's own node affinity scoring. Spread inside a member cluster is
// trivial here: a cluster of the bench fleet lies in one zone.
import { ARCHES, type Taint } from '../model/schema.ts';
import { GPU_MILLI, NodeState, type NodeInput } from '../scheduler/index.ts';
import type { ClusterInfo } from '../scheduler/index.ts';
import { KubeBaseline, tolerates, type KubePod, type KubeToleration } from './kube-baseline.ts';

/** Karmada's SpreadConstraint.spreadByField. */
export type KarmadaSpreadField = 'provider' | 'region' | 'zone' | 'cluster';

export interface KarmadaSpreadConstraint {
  field: KarmadaSpreadField;
  minGroups: number;
  /** Unset: no upper bound. */
  maxGroups?: number;
}

/** A PropagationPolicy's placement, as far as the scheduler reads it. */
export interface KarmadaPlacement {
  /** ClusterAffinity: providers (clouds) allowed; unset = any. */
  providers?: readonly string[];
  /** ClusterAffinity: countries allowed (a label selector on the cluster's country); unset = any. */
  countries?: readonly string[];
  clusterTolerations?: readonly KubeToleration[];
  spreadConstraint?: KarmadaSpreadConstraint;
  replicaScheduling: 'Divided' | 'Duplicated';
}

/** One ResourceBinding: the replicas, the member pod and the placement. */
export interface KarmadaApp {
  replicas: number;
  /** The pod as each member's default scheduler gets it. */
  pod: KubePod;
  placement: KarmadaPlacement;
}

/** The taint Karmada's cluster controller puts on a cluster that is not ready. */
export const CLUSTER_NOT_READY_TAINT: Taint = {
  key: 'cluster.karmada.io/not-ready',
  effect: 'NoSchedule',
};

/** The cluster's value for a spread field ('' = it has none). */
export function spreadValue(c: ClusterInfo, field: KarmadaSpreadField): string {
  switch (field) {
    case 'provider':
      return c.cloud;
    case 'region':
      return c.site;
    case 'zone':
      return c.zone === '' ? '' : `${c.site}/${c.zone}`;
    case 'cluster':
      return c.name;
  }
}

/** The Filter plugins: indexes of the clusters that pass, in cluster order. */
export function filterClusters(
  clusters: readonly ClusterInfo[],
  placement: KarmadaPlacement,
): number[] {
  const out: number[] = [];
  const tolerations = placement.clusterTolerations ?? [];
  const spread = placement.spreadConstraint;
  clusters.forEach((c, i) => {
    if (placement.providers !== undefined && !placement.providers.includes(c.cloud)) return;
    if (placement.countries !== undefined && !placement.countries.includes(c.country)) return;
    const taints = c.ready ? c.taints : [...c.taints, CLUSTER_NOT_READY_TAINT];
    for (const t of taints)
      if (t.effect !== 'PreferNoSchedule' && !tolerates(tolerations, t)) return;
    if (spread !== undefined && spreadValue(c, spread.field) === '') return;
    out.push(i);
  });
  return out;
}

/**
 * The spread constraint's cluster selection: indexes (a subset of
 * `candidates`) or undefined when fewer than minGroups groups exist.
 * `available[i]` is candidate i's AvailableReplicas.
 */
export function selectClusters(
  clusters: readonly ClusterInfo[],
  candidates: readonly number[],
  available: readonly number[],
  spread: KarmadaSpreadConstraint | undefined,
): number[] | undefined {
  if (spread === undefined) return [...candidates];
  const groups = new Map<string, { members: number[]; available: number }>();
  candidates.forEach((c, i) => {
    const key = spreadValue(clusters[c]!, spread.field);
    let g = groups.get(key);
    if (g === undefined) groups.set(key, (g = { members: [], available: 0 }));
    g.members.push(c);
    g.available += available[i]!;
  });
  if (groups.size < spread.minGroups) return undefined;
  const ordered = [...groups.entries()].sort(
    ([ka, a], [kb, b]) => b.available - a.available || (ka < kb ? -1 : ka > kb ? 1 : 0),
  );
  const take = Math.min(ordered.length, spread.maxGroups ?? ordered.length);
  return ordered
    .slice(0, take)
    .flatMap(([, g]) => g.members)
    .sort((a, b) => a - b);
}

/**
 * Divided by dynamic weight: replicas per selected cluster in proportion to
 * its available replicas (largest remainder, ties by name), or undefined when
 * they sum to less than `replicas` (Karmada fails the binding).
 */
export function divideByAvailableReplicas(
  replicas: number,
  available: readonly number[],
  names: readonly string[],
): number[] | undefined {
  const total = available.reduce((s, a) => s + a, 0);
  if (total < replicas) return undefined;
  const out = available.map((a) => Math.floor((replicas * a) / total));
  let left = replicas - out.reduce((s, n) => s + n, 0);
  const order = available
    .map((_, i) => i)
    .sort(
      (a, b) =>
        available[b]! - available[a]! ||
        (names[a]! < names[b]! ? -1 : names[a]! > names[b]! ? 1 : 0),
    );
  for (let j = 0; left > 0; j = (j + 1) % order.length, left--) out[order[j]!]!++;
  return out;
}

/** Duplicated: all replicas on every selected cluster that can take them all, none elsewhere. */
export function duplicate(replicas: number, available: readonly number[]): number[] {
  return available.map((a) => (a >= replicas ? replicas : 0));
}

/** The Karmada scheduler in front of one default scheduler per member cluster. */
export class KarmadaBaseline {
  readonly clusters: readonly ClusterInfo[];
  /** Per member cluster: its nodes alone, and its default scheduler over them. */
  readonly members: { state: NodeState; kube: KubeBaseline }[];

  constructor(state: NodeState, clusters: readonly ClusterInfo[], options: { seed?: number } = {}) {
    this.clusters = clusters;
    const nodesOf: NodeInput[][] = clusters.map(() => []);
    for (let i = 0; i < state.count; i++) {
      const model = state.gpuModels[state.gpuModel[i]!]!;
      nodesOf[state.cluster[i]!]!.push({
        arch: ARCHES[state.arch[i]!]!,
        cpuMilli: state.cpuCap[i]!,
        memoryMiB: state.memCap[i]!,
        pods: state.podsCap[i]!,
        gpus: state.gpuCount[i]!,
        ...(model === '' ? {} : { gpuModel: model }),
        healthy: state.healthy[i] === 1,
        used: {
          cpuMilli: state.cpuUsed[i]!,
          memoryMiB: state.memUsed[i]!,
          pods: state.podsUsed[i]!,
          gpuMilli: state.gpuCount[i]! * GPU_MILLI - state.gpuFreeTotal[i]!,
        },
      });
    }
    this.members = nodesOf.map((nodes, c) => {
      const member = NodeState.fromNodes(nodes);
      const taints = clusters[c]!.taints;
      // The member's nodes carry its cluster's taints, as the fleet's nodes do for the single-scheduler baseline.
      const topology =
        taints.length === 0
          ? {}
          : { taintSets: [taints], taintSetOf: new Int32Array(member.count).fill(0) };
      return {
        state: member,
        kube: new KubeBaseline(member, { seed: (options.seed ?? 1) + c, topology }),
      };
    });
  }

  /** Karmada-scheduler-estimator's answer: replicas of the pod the member's nodes still fit. */
  availableReplicas(cluster: number, pod: KubePod): number {
    const { state, kube } = this.members[cluster]!;
    const matches = kube.nodeMatcher(pod);
    let total = 0;
    for (let i = 0; i < state.count; i++) {
      if (!matches(i)) continue;
      let n = state.podsCap[i]! - state.podsUsed[i]!;
      if (pod.cpuMilli > 0)
        n = Math.min(n, Math.floor((state.cpuCap[i]! - state.cpuUsed[i]!) / pod.cpuMilli));
      if (pod.memoryMiB > 0)
        n = Math.min(n, Math.floor((state.memCap[i]! - state.memUsed[i]!) / pod.memoryMiB));
      if (pod.gpus > 0) n = Math.min(n, Math.floor(state.gpuWhole[i]! / pod.gpus));
      if (n > 0) total += n;
    }
    return total;
  }

  /**
   * Replicas per cluster (indexes into `clusters`, 0 where none) the Karmada
   * scheduler assigns the application, or undefined when the binding fails.
   */
  assign(app: KarmadaApp): number[] | undefined {
    const p = app.placement;
    const candidates = filterClusters(this.clusters, p);
    const available = candidates.map((c) => this.availableReplicas(c, app.pod));
    const selected = selectClusters(this.clusters, candidates, available, p.spreadConstraint);
    if (selected === undefined || selected.length === 0) return undefined;
    const availableOf = new Map(candidates.map((c, i) => [c, available[i]!]));
    const selectedAvailable = selected.map((c) => availableOf.get(c)!);
    const shares =
      p.replicaScheduling === 'Duplicated'
        ? duplicate(app.replicas, selectedAvailable)
        : divideByAvailableReplicas(
            app.replicas,
            selectedAvailable,
            selected.map((c) => this.clusters[c]!.name),
          );
    if (shares === undefined) return undefined;
    const out = new Array<number>(this.clusters.length).fill(0);
    selected.forEach((c, i) => {
      out[c] = shares[i]!;
    });
    return out;
  }

  /** Schedules the application: Karmada's assignment, then each member's default scheduler. Returns the pods placed. */
  schedule(app: KarmadaApp): number {
    const shares = this.assign(app);
    if (shares === undefined) return 0;
    let placed = 0;
    shares.forEach((n, c) => {
      const kube = this.members[c]!.kube;
      for (let r = 0; r < n; r++) if (kube.schedule(app.pod) !== undefined) placed++;
    });
    return placed;
  }
}
