// Fleet aggregation for the console: one pass over clouds, sites and clusters
// per update batch (memoised on the feeds' versions by the views). Pure and
// DOM-free so the unit tests run it on the demo fleet. Cluster-level numbers
// only: the console never sees per-node data, which keeps a 10M-core fleet as
// cheap as the demo one.
import { parseCpuMillis } from '../model/quantity.ts';
import type { Cloud, Cluster, Site } from '../model/schema.ts';

export type Health = 'healthy' | 'degraded' | 'down' | 'empty';

export interface Breakdown {
  key: string;
  label: string;
  clusters: number;
  readyClusters: number;
  nodes: number;
  cores: number;
  allocated: number;
}

export interface CloudBreakdown extends Breakdown {
  type: string;
  /** The cloud's list price per core-hour, if it has one. */
  listPrice?: number;
  /** Capacity-weighted price per core-hour over its clusters (their own price, else the cloud's). */
  averagePrice?: number;
  currency: string;
}

export interface SiteAggregate {
  name: string;
  cloud: string;
  kind: string;
  city: string;
  country: string;
  latitude: number;
  longitude: number;
  clusters: number;
  readyClusters: number;
  nodes: number;
  cores: number;
  allocated: number;
  health: Health;
}

export interface FleetAggregate {
  totals: {
    clouds: number;
    sites: number;
    clusters: number;
    readyClusters: number;
    nodes: number;
    cores: number;
    allocated: number;
    gpus: number;
  };
  byCloud: CloudBreakdown[];
  bySiteKind: Breakdown[];
  byArch: Breakdown[];
  sites: SiteAggregate[];
}

export function isReady(c: Cluster): boolean {
  return c.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True') ?? false;
}

export function healthOf(clusters: number, ready: number): Health {
  if (clusters === 0) return 'empty';
  if (ready === clusters) return 'healthy';
  return ready === 0 ? 'down' : 'degraded';
}

const ARCHES = ['amd64', 'arm64', 'riscv64'] as const;

/**
 * Each architecture's share of a cluster's cores. The sim twin's node pools
 * give it exactly; other drivers report only nodes per architecture, so cores
 * are split by node count there.
 */
export function archShares(c: Cluster): Record<string, number> {
  const weights: Record<string, number> = {};
  const pools = c.spec.driver.sim?.nodePools;
  if (pools && pools.length > 0) {
    for (const p of pools)
      weights[p.arch] = (weights[p.arch] ?? 0) + p.count * parseCpuMillis(p.cpu);
  } else if (c.status?.nodesByArch) {
    for (const a of ARCHES) weights[a] = c.status.nodesByArch[a];
  }
  const total = Object.values(weights).reduce((s, w) => s + w, 0);
  if (total === 0) return {};
  return Object.fromEntries(Object.entries(weights).map(([a, w]) => [a, w / total]));
}

function empty(key: string, label: string): Breakdown {
  return { key, label, clusters: 0, readyClusters: 0, nodes: 0, cores: 0, allocated: 0 };
}

type Counts = Pick<Breakdown, 'clusters' | 'readyClusters' | 'nodes' | 'cores' | 'allocated'>;

function add(b: Counts, ready: boolean, nodes: number, cores: number, allocated: number) {
  b.clusters++;
  if (ready) b.readyClusters++;
  b.nodes += nodes;
  b.cores += cores;
  b.allocated += allocated;
}

export function aggregateFleet(
  clouds: readonly Cloud[],
  sites: readonly Site[],
  clusters: readonly Cluster[],
): FleetAggregate {
  const cloudByName = new Map(clouds.map((c) => [c.metadata.name, c]));
  const byCloud = new Map<string, CloudBreakdown & { priced: number; pricedCores: number }>();
  for (const c of clouds) {
    const list = c.spec.prices?.cpuCoreHour;
    byCloud.set(c.metadata.name, {
      ...empty(c.metadata.name, c.spec.displayName ?? c.metadata.name),
      type: c.spec.type,
      ...(list !== undefined ? { listPrice: list } : {}),
      currency: c.spec.prices?.currency ?? 'USD',
      priced: 0,
      pricedCores: 0,
    });
  }
  const siteAgg = new Map<string, SiteAggregate>();
  for (const s of sites) {
    siteAgg.set(s.metadata.name, {
      name: s.metadata.name,
      cloud: s.spec.cloud,
      kind: s.spec.kind,
      city: s.spec.city,
      country: s.spec.country,
      latitude: s.spec.latitude,
      longitude: s.spec.longitude,
      clusters: 0,
      readyClusters: 0,
      nodes: 0,
      cores: 0,
      allocated: 0,
      health: 'empty',
    });
  }
  const bySiteKind = new Map<string, Breakdown>();
  const byArch = new Map<string, Breakdown>(ARCHES.map((a) => [a, empty(a, a)]));
  const totals = {
    clouds: clouds.length,
    sites: sites.length,
    clusters: clusters.length,
    readyClusters: 0,
    nodes: 0,
    cores: 0,
    allocated: 0,
    gpus: 0,
  };

  for (const c of clusters) {
    const ready = isReady(c);
    const nodes = c.status?.nodeCount ?? 0;
    const cores = c.status?.capacity?.cpu ?? 0;
    const allocated = c.status?.allocated?.cpu ?? 0;
    if (ready) totals.readyClusters++;
    totals.nodes += nodes;
    totals.cores += cores;
    totals.allocated += allocated;
    totals.gpus += c.status?.capacity?.gpu ?? 0;

    let cloud = byCloud.get(c.spec.cloud);
    if (!cloud) {
      cloud = {
        ...empty(c.spec.cloud, c.spec.cloud),
        type: 'unknown',
        currency: 'USD',
        priced: 0,
        pricedCores: 0,
      };
      byCloud.set(c.spec.cloud, cloud);
    }
    add(cloud, ready, nodes, cores, allocated);
    const price =
      c.spec.prices?.cpuCoreHour ?? cloudByName.get(c.spec.cloud)?.spec.prices?.cpuCoreHour;
    if (price !== undefined) {
      cloud.priced += price * cores;
      cloud.pricedCores += cores;
    }

    const site = siteAgg.get(c.spec.site);
    const kind = site?.kind ?? 'unknown';
    let k = bySiteKind.get(kind);
    if (!k) {
      k = empty(kind, kind);
      bySiteKind.set(kind, k);
    }
    add(k, ready, nodes, cores, allocated);
    if (site) add(site, ready, nodes, cores, allocated);

    const nodesByArch = c.status?.nodesByArch;
    for (const [arch, share] of Object.entries(archShares(c))) {
      let a = byArch.get(arch);
      if (!a) {
        a = empty(arch, arch);
        byArch.set(arch, a);
      }
      add(
        a,
        ready,
        nodesByArch ? (nodesByArch[arch as (typeof ARCHES)[number]] ?? 0) : nodes * share,
        cores * share,
        allocated * share,
      );
    }
  }
  for (const s of siteAgg.values()) s.health = healthOf(s.clusters, s.readyClusters);

  return {
    totals,
    byCloud: [...byCloud.values()]
      .map(({ priced, pricedCores, ...b }) => ({
        ...b,
        ...(pricedCores > 0 ? { averagePrice: priced / pricedCores } : {}),
      }))
      .sort((a, b) => b.cores - a.cores),
    bySiteKind: [...bySiteKind.values()].sort((a, b) => b.cores - a.cores),
    // An architecture counts once a cluster has it, so a fleet without RISC-V shows no empty bar.
    byArch: [...byArch.values()].filter((a) => a.clusters > 0),
    sites: [...siteAgg.values()],
  };
}
