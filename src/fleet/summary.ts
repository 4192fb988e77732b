// Fleet totals for the operator: what the server prints at start and the CLI
// shows. Nodes, cores, memory and GPUs count sim node pools; clusters with
// other drivers count as clusters only, their size being known at run time.
import { parseCpuMillis, parseMemoryBytes, formatBytes } from '../model/quantity.ts';
import { ARCHES, type Arch, type SiteSpec } from '../model/schema.ts';
import type { FleetDocs } from './types.ts';

export interface FleetSummary {
  clouds: number;
  sites: number;
  sitesByKind: Record<SiteSpec['kind'], number>;
  clusters: number;
  nodes: number;
  cores: number;
  memoryBytes: number;
  gpus: number;
  nodesByArch: Record<Arch, number>;
  coresByArch: Record<Arch, number>;
  gpusByModel: Record<string, number>;
}

export function fleetSummary(docs: FleetDocs): FleetSummary {
  const s: FleetSummary = {
    clouds: docs.clouds.length,
    sites: docs.sites.length,
    sitesByKind: { region: 0, datacenter: 0, edge: 0 },
    clusters: docs.clusters.length,
    nodes: 0,
    cores: 0,
    memoryBytes: 0,
    gpus: 0,
    nodesByArch: { amd64: 0, arm64: 0, riscv64: 0 },
    coresByArch: { amd64: 0, arm64: 0, riscv64: 0 },
    gpusByModel: {},
  };
  for (const site of docs.sites) s.sitesByKind[site.spec.kind]++;
  let millis = 0;
  const millisByArch: Record<Arch, number> = { amd64: 0, arm64: 0, riscv64: 0 };
  for (const cluster of docs.clusters) {
    for (const pool of cluster.spec.driver.sim?.nodePools ?? []) {
      const poolMillis = pool.count * parseCpuMillis(pool.cpu);
      s.nodes += pool.count;
      s.nodesByArch[pool.arch] += pool.count;
      millis += poolMillis;
      millisByArch[pool.arch] += poolMillis;
      s.memoryBytes += pool.count * parseMemoryBytes(pool.memory);
      const gpus = pool.count * (pool.gpu ?? 0);
      s.gpus += gpus;
      if (gpus > 0) {
        const model = pool.gpuModel ?? 'unspecified';
        s.gpusByModel[model] = (s.gpusByModel[model] ?? 0) + gpus;
      }
    }
  }
  // Summed in integer millicores, so fractional pool sizes add up exactly.
  s.cores = millis / 1000;
  for (const a of ARCHES) s.coresByArch[a] = millisByArch[a] / 1000;
  return s;
}

/** One paragraph, e.g. "13 clouds, 173 sites (69 regions, 4 data centres, 100 edge), ...". */
export function formatFleetSummary(s: FleetSummary): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const arches = ARCHES.filter((a) => s.coresByArch[a] > 0).map(
    (a) => `${a} ${n(s.coresByArch[a])}`,
  );
  const models = Object.entries(s.gpusByModel)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map(([m, g]) => `${m} ${n(g)}`);
  return (
    `${n(s.clouds)} clouds, ${n(s.sites)} sites (${n(s.sitesByKind.region)} regions, ${n(s.sitesByKind.datacenter)} data centres, ` +
    `${n(s.sitesByKind.edge)} edge), ${n(s.clusters)} clusters, ${n(s.nodes)} nodes, ${n(s.cores)} cores` +
    (arches.length > 0 ? ` (${arches.join(', ')})` : '') +
    `, ${formatBytes(s.memoryBytes)}B memory, ${n(s.gpus)} GPUs` +
    (models.length > 0 ? ` (${models.join(', ')})` : '')
  );
}
