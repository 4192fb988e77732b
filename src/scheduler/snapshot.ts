// The scheduler's picture of the fleet: one entry per cluster (topology,
// labels, taints, health, prices, coordinates) and every node's state in
// typed arrays. Built from resource documents, so it is the same whether the
// fleet came from the store (the controller, the explain endpoint) or from a
// generator (benchmarks). No I/O here: node state is handed in by the caller.
import { isClusterReady } from '../model/cluster.ts';
import { parseCpuMillis, parseMemoryBytes } from '../model/quantity.ts';
import type { Arch, Cloud, Cluster, Prices, SimNodePool, Site, Taint } from '../model/schema.ts';
import { NodeState, type NodeInput } from './nodestate.ts';

const MiB = 1024 * 1024;

/** Pods per node when a pool does not say (Kubernetes' default). */
export const DEFAULT_MAX_PODS = 110;

export interface ClusterPrices {
  cpuCoreHour: number;
  memoryGiBHour: number;
  gpuHour: number;
}

export interface ClusterInfo {
  name: string;
  cloud: string;
  /** The cloud's vendor (aws, aliyun, openstack, ...); the cloud's name when unknown. */
  vendor: string;
  site: string;
  /** The cluster's zone; '' when it has none. */
  zone: string;
  /** The site's provider region code (us-east-1); '' when unknown. */
  region: string;
  /** ISO 3166-1 alpha-2 code of the site; '' when unknown. */
  country: string;
  latitude?: number;
  longitude?: number;
  labels: Readonly<Record<string, string>>;
  taints: readonly Taint[];
  ready: boolean;
  /**
   * Ready for less than the app's failback stabilisation window: replicas are
   * placed there, but none are moved there to restore a spread minimum.
   */
  settling?: boolean;
  /** Cluster prices, else the cloud's, field by field; 0 where neither says. */
  prices: ClusterPrices;
}

export interface Snapshot {
  clusters: readonly ClusterInfo[];
  /** Every node; `nodes.cluster[i]` is an index into `clusters`. */
  nodes: NodeState;
}

/** A node as a driver reports it (the sim's SimNodeStatus has this shape): cpu in cores, memory in bytes. */
export interface ReportedNode {
  arch: Arch;
  healthy: boolean;
  gpuModel?: string;
  capacity: { cpu: number; memory: number; gpu: number; pods: number };
  allocated: { cpu: number; memory: number; gpu: number; pods: number };
  /** Milli-GPUs in use per GPU, when the driver knows. */
  gpuUsedMilli?: readonly number[];
}

function mergePrices(cluster: Prices | undefined, cloud: Prices | undefined): ClusterPrices {
  return {
    cpuCoreHour: cluster?.cpuCoreHour ?? cloud?.cpuCoreHour ?? 0,
    memoryGiBHour: cluster?.memoryGiBHour ?? cloud?.memoryGiBHour ?? 0,
    gpuHour: cluster?.gpuHour ?? cloud?.gpuHour ?? 0,
  };
}

/** The cluster as the scheduler sees it; `ready` defaults to the cluster's Ready condition. */
export function clusterInfo(
  cluster: Cluster,
  site: Site | undefined,
  cloud: Cloud | undefined,
  ready: boolean = isClusterReady(cluster),
): ClusterInfo {
  const info: ClusterInfo = {
    name: cluster.metadata.name,
    cloud: cluster.spec.cloud,
    vendor: cloud?.spec.vendor ?? cluster.spec.cloud,
    site: cluster.spec.site,
    zone: cluster.spec.zone ?? '',
    region: site?.spec.region ?? '',
    country: site?.spec.country ?? '',
    labels: cluster.metadata.labels ?? {},
    taints: cluster.spec.taints ?? [],
    ready,
    prices: mergePrices(cluster.spec.prices, cloud?.spec.prices),
  };
  if (site) {
    info.latitude = site.spec.latitude;
    info.longitude = site.spec.longitude;
  }
  return info;
}

/** Empty nodes of a sim cluster's pools (one shared NodeInput per pool). */
export function nodesFromPools(pools: readonly SimNodePool[], cluster: number): NodeInput[] {
  const out: NodeInput[] = [];
  for (const p of pools) {
    const node: NodeInput = {
      arch: p.arch,
      cpuMilli: parseCpuMillis(p.cpu),
      memoryMiB: parseMemoryBytes(p.memory) / MiB,
      pods: p.maxPods ?? DEFAULT_MAX_PODS,
      gpus: p.gpu ?? 0,
      cluster,
    };
    if (p.gpuModel !== undefined && (p.gpu ?? 0) > 0) node.gpuModel = p.gpuModel;
    for (let i = 0; i < p.count; i++) out.push(node);
  }
  return out;
}

/** A node as reported by a driver, with what is allocated on it. */
export function nodeFromReport(n: ReportedNode, cluster: number): NodeInput {
  const node: NodeInput = {
    arch: n.arch,
    cpuMilli: Math.round(n.capacity.cpu * 1000),
    memoryMiB: n.capacity.memory / MiB,
    pods: n.capacity.pods,
    gpus: n.capacity.gpu,
    cluster,
    healthy: n.healthy,
    used: {
      cpuMilli: Math.round(n.allocated.cpu * 1000),
      memoryMiB: n.allocated.memory / MiB,
      pods: n.allocated.pods,
      gpuMilli: n.gpuUsedMilli ?? Math.round(n.allocated.gpu * 1000),
    },
  };
  if (n.gpuModel !== undefined) node.gpuModel = n.gpuModel;
  return node;
}

/**
 * Nodes of a cluster whose driver does not list nodes: one node per sim pool
 * when the spec has pools, with the cluster's allocated totals spread over
 * them in proportion to capacity; otherwise nothing is known of its nodes.
 */
function nodesFromStatus(cluster: Cluster, index: number): NodeInput[] {
  const pools = cluster.spec.driver.sim?.nodePools;
  if (!pools) return [];
  const nodes = nodesFromPools(pools, index).map((n) => ({ ...n }));
  const alloc = cluster.status?.allocated;
  const cap = cluster.status?.capacity;
  if (alloc && cap) {
    const cpuShare = cap.cpu > 0 ? alloc.cpu / cap.cpu : 0;
    const memShare = cap.memory > 0 ? alloc.memory / cap.memory : 0;
    const podShare = cap.pods > 0 ? alloc.pods / cap.pods : 0;
    const gpuShare = cap.gpu > 0 ? alloc.gpu / cap.gpu : 0;
    for (const n of nodes) {
      n.used = {
        cpuMilli: Math.ceil(n.cpuMilli * cpuShare),
        memoryMiB: n.memoryMiB * memShare,
        pods: Math.ceil(n.pods * podShare),
        gpuMilli: Math.ceil(n.gpus * 1000 * gpuShare),
      };
    }
  }
  return nodes;
}

export interface ResourceSnapshotInput {
  clusters: readonly Cluster[];
  sites: readonly Site[];
  clouds?: readonly Cloud[];
  /** Reported nodes of a cluster (with allocations), when its driver lists them. */
  nodes?: (cluster: Cluster) => readonly ReportedNode[] | undefined;
  /** Clusters to treat as not Ready whatever their status says. */
  unreachable?: ReadonlySet<string>;
  /**
   * Clusters to treat as Ready whatever their status says: an app's replicas
   * are held on a NotReady cluster during its failover grace period, or
   * always when the app turned failover off. `unreachable` wins over it.
   */
  held?: ReadonlySet<string>;
  /** Clusters Ready too recently to move running replicas to (`ClusterInfo.settling`). */
  settling?: ReadonlySet<string>;
  /** Take every cluster as Ready (a generated fleet has no status yet). */
  assumeReady?: boolean;
}

/**
 * The snapshot of a fleet of resources. Clusters are ordered by name, and the
 * nodes of each cluster are contiguous, in the order the driver lists them
 * (so node `i` of a cluster is snapshot node `clusterStart[c] + i`).
 */
export function snapshotFromResources(input: ResourceSnapshotInput): Snapshot & {
  clusterStart: Int32Array;
} {
  const sites = new Map(input.sites.map((s) => [s.metadata.name, s]));
  const clouds = new Map((input.clouds ?? []).map((c) => [c.metadata.name, c]));
  const sorted = [...input.clusters].sort((a, b) =>
    a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0,
  );
  const clusters: ClusterInfo[] = [];
  const nodes: NodeInput[] = [];
  const clusterStart = new Int32Array(sorted.length + 1);
  sorted.forEach((c, i) => {
    const ready =
      !input.unreachable?.has(c.metadata.name) &&
      (input.assumeReady === true ||
        input.held?.has(c.metadata.name) === true ||
        isClusterReady(c));
    const info = clusterInfo(c, sites.get(c.spec.site), clouds.get(c.spec.cloud), ready);
    if (input.settling?.has(c.metadata.name) === true) info.settling = true;
    clusters.push(info);
    const reported = input.nodes?.(c);
    if (reported) for (const n of reported) nodes.push(nodeFromReport(n, i));
    else if (input.assumeReady === true && c.spec.driver.sim)
      for (const n of nodesFromPools(c.spec.driver.sim.nodePools, i)) nodes.push(n);
    else for (const n of nodesFromStatus(c, i)) nodes.push(n);
    clusterStart[i + 1] = nodes.length;
  });
  return { clusters, nodes: NodeState.fromNodes(nodes), clusterStart };
}

/**
 * A generated or loaded fleet (Cloud, Site and Cluster documents, e.g.
 * `generateDemoFleet({ scale })`) as an empty snapshot: every cluster Ready,
 * every sim node free.
 */
export function snapshotFromFleet(docs: {
  clouds: readonly Cloud[];
  sites: readonly Site[];
  clusters: readonly Cluster[];
}): Snapshot {
  const { clusters, nodes } = snapshotFromResources({
    clusters: docs.clusters,
    sites: docs.sites,
    clouds: docs.clouds,
    assumeReady: true,
  });
  return { clusters, nodes };
}
