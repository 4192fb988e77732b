// The throughput benchmark's fleet: the generated demo fleet (regions, private
// data centres, edge sites) as the scheduler's snapshot (every node in one
// NodeState), plus, per node, the topology labels a Kubernetes node would
// carry (cloud, site, zone, cluster, country) and its cluster's taints, for
// the baseline.
import type { Taint } from '../model/schema.ts';
import {
  fleetSummary,
  generateDemoFleet,
  scaleForCores,
  type FleetSummary,
  type GeneratedFleet,
} from '../fleet/index.ts';
import { CLOUD_LABEL, CLUSTER_LABEL, SITE_LABEL } from '../model/wellknown.ts';
import type { NodeState } from '../scheduler/index.ts';
import { snapshotFromFleet, type ClusterInfo, type Snapshot } from '../scheduler/index.ts';
import type { KubeTopology, LabelColumn } from './kube-baseline.ts';

/** Node label keys of the topology columns (well-known Kubernetes ones where they exist). */
export const TOPOLOGY_LABELS = {
  cloud: CLOUD_LABEL,
  site: SITE_LABEL,
  zone: 'topology.kubernetes.io/zone',
  cluster: CLUSTER_LABEL,
  country: 'yunjian.io/country',
} as const;
export type TopologyLevel = keyof typeof TOPOLOGY_LABELS;

export interface BenchFleet {
  docs: GeneratedFleet;
  summary: FleetSummary;
  /** The scheduler's snapshot of the fleet: clusters (by name) and every node, all free. */
  snapshot: Snapshot;
  /** Node labels and taints as the baseline reads them. */
  topology: KubeTopology;
}

/**
 * The demo fleet at the scale that gives at least `cores` cores (the
 * Alibaba-shaped data centre on top); `scale` instead of `cores` for a given
 * scale, and `alibaba: false` without that data centre (tiny test fleets).
 */
export function generateBenchFleet(
  cores: number,
  seed = 1,
  options: { scale?: number; alibaba?: boolean } = {},
): BenchFleet {
  return benchFleetOf(
    generateDemoFleet({
      scale: options.scale ?? scaleForCores(cores, seed),
      seed,
      ...(options.alibaba === false ? { alibabaMachineMetaPath: false } : {}),
    }),
  );
}

export function benchFleetOf(docs: GeneratedFleet): BenchFleet {
  const snapshot = snapshotFromFleet(docs);
  return {
    docs,
    summary: fleetSummary(docs),
    snapshot,
    topology: topologyOf(snapshot.clusters, snapshot.nodes),
  };
}

/** Label columns per node from the node's cluster, and the clusters' taint sets. */
export function topologyOf(clusters: readonly ClusterInfo[], state: NodeState): KubeTopology {
  const labels = new Map<string, LabelColumn>();
  for (const level of Object.keys(TOPOLOGY_LABELS) as TopologyLevel[]) {
    const values: string[] = [];
    const codes = new Map<string, number>();
    const perCluster = clusters.map((c) => {
      const v = level === 'cluster' ? c.name : level === 'zone' ? `${c.site}/${c.zone}` : c[level];
      let code = codes.get(v);
      if (code === undefined) {
        code = values.length;
        values.push(v);
        codes.set(v, code);
      }
      return code;
    });
    const byNode = new Int32Array(state.count);
    for (let i = 0; i < state.count; i++) byNode[i] = perCluster[state.cluster[i]!] ?? -1;
    labels.set(TOPOLOGY_LABELS[level], { values, byNode });
  }
  const taintSets: (readonly Taint[])[] = [];
  const setKeys = new Map<string, number>();
  const setOfCluster = clusters.map((c) => {
    if (c.taints.length === 0) return -1;
    const key = JSON.stringify(c.taints);
    let i = setKeys.get(key);
    if (i === undefined) {
      i = taintSets.length;
      taintSets.push(c.taints);
      setKeys.set(key, i);
    }
    return i;
  });
  const taintSetOf = new Int32Array(state.count);
  for (let i = 0; i < state.count; i++) taintSetOf[i] = setOfCluster[state.cluster[i]!] ?? -1;
  return { labels, taintSets, taintSetOf };
}
