// Builders shared by the generated sites: resource documents with the labels,
// prices and sim settings every generated cluster carries.
import {
  API_VERSION,
  ARCHES,
  type Cloud,
  type Cluster,
  type Prices,
  type Site,
  type SimNodePool,
  type Taint,
} from '../model/schema.ts';
import {
  CLOUDS,
  GPU_PRICE_FACTOR,
  MACHINES,
  type CloudDef,
  type MachineCatalog,
  type MachineType,
} from './catalog.ts';
import { continent, type EdgeDef } from './places.ts';

/** Start-up latency and API limits by kind of site: private control planes are closer, edge links slower. */
export const SIM_SETTINGS = {
  public: { startupSeconds: 3, apiQps: 50, apiBurst: 100 },
  private: { startupSeconds: 4, apiQps: 100, apiBurst: 200 },
  edge: { startupSeconds: 6, apiQps: 20, apiBurst: 40 },
} as const;

export function cloudDef(name: string): CloudDef {
  const def = CLOUDS.find((c) => c.name === name);
  if (def === undefined) throw new RangeError(`no cloud ${name} in the catalog`);
  return def;
}

export function catalog(cloud: string): MachineCatalog {
  const c = MACHINES[cloud];
  if (c === undefined) throw new RangeError(`no machine catalog for cloud ${cloud}`);
  return c;
}

export function cloudDoc(def: CloudDef): Cloud {
  return {
    apiVersion: API_VERSION,
    kind: 'Cloud',
    metadata: { name: def.name, labels: { type: def.type } },
    spec: {
      vendor: def.vendor,
      type: def.type,
      displayName: def.displayName,
      prices: {
        cpuCoreHour: def.cpuCoreHour,
        memoryGiBHour: def.memoryGiBHour,
        gpuHour: def.gpuHour,
        currency: 'USD',
      },
    },
  };
}

/** "Standard_D32s_v5" -> "standard-d32s-v5", "Xi'an" -> "xian", "Sao Paulo" -> "sao-paulo". */
export function slug(text: string): string {
  return text
    .normalize('NFD')
    .replace(/[\u0300-\u036f']/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

export function sitePrices(
  cloud: CloudDef,
  multiplier: number,
  gpuModel: string | undefined,
): Prices {
  const round = (x: number) => Math.round(x * 1e5) / 1e5;
  const prices: Prices = {
    cpuCoreHour: round(cloud.cpuCoreHour * multiplier),
    memoryGiBHour: round(cloud.memoryGiBHour * multiplier),
    currency: 'USD',
  };
  if (gpuModel !== undefined)
    prices.gpuHour = round(cloud.gpuHour * (GPU_PRICE_FACTOR[gpuModel] ?? 1) * multiplier);
  return prices;
}

export function nodePool(
  type: MachineType,
  count: number,
  extraLabels: Record<string, string> = {},
): SimNodePool {
  const pool: SimNodePool = {
    name: slug(type.type),
    count,
    arch: type.arch,
    cpu: type.cpu,
    memory: `${type.memoryGiB}Gi`,
    maxPods: type.cpu >= 64 ? 250 : 110,
    labels: {
      'node.kubernetes.io/instance-type': type.type,
      'yunjian.io/cpu-model': type.cpuModel,
      ...extraLabels,
    },
  };
  if (type.gpu !== undefined && type.gpuModel !== undefined) {
    pool.gpu = type.gpu;
    pool.gpuModel = type.gpuModel;
  }
  return pool;
}

export interface ClusterInput {
  name: string;
  cloud: string;
  site: string;
  zone: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  pools: SimNodePool[];
  prices: Prices;
  settings: (typeof SIM_SETTINGS)[keyof typeof SIM_SETTINGS];
  taints?: Taint[];
}

/** A sim cluster; its `arch` label ("amd64-arm64") and `gpu` label ("a100-t4") follow from its pools. */
export function clusterDoc(c: ClusterInput): Cluster {
  const arches = ARCHES.filter((a) => c.pools.some((p) => p.arch === a && p.count > 0));
  const gpus = [
    ...new Set(
      c.pools.flatMap((p) => (p.gpuModel === undefined ? [] : [p.gpuModel.toLowerCase()])),
    ),
  ];
  // `cloud` and `site` labels let selectors (`-l cloud=aws`) reach clusters by topology.
  const labels: Record<string, string> = {
    ...c.labels,
    cloud: c.cloud,
    site: c.site,
    arch: arches.join('-'),
  };
  if (gpus.length > 0) labels['gpu'] = gpus.join('-');
  const cluster: Cluster = {
    apiVersion: API_VERSION,
    kind: 'Cluster',
    metadata: { name: c.name, labels },
    spec: {
      cloud: c.cloud,
      site: c.site,
      zone: c.zone,
      driver: { type: 'sim', sim: { nodePools: c.pools, ...c.settings } },
      prices: c.prices,
    },
  };
  if (c.annotations !== undefined) cluster.metadata.annotations = c.annotations;
  if (c.taints !== undefined) cluster.spec.taints = c.taints;
  return cluster;
}

export function siteDoc(
  name: string,
  cloud: string,
  kind: Site['spec']['kind'],
  place: EdgeDef,
  zones: string[],
  region?: string,
): Site {
  const site: Site = {
    apiVersion: API_VERSION,
    kind: 'Site',
    metadata: { name, labels: { cloud, continent: continent(place.country) } },
    spec: {
      cloud,
      kind,
      country: place.country,
      city: place.city,
      latitude: place.latitude,
      longitude: place.longitude,
      zones,
    },
  };
  if (region !== undefined) site.spec.region = region;
  return site;
}
