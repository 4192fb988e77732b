// The demo fleet: 13 clouds, 72 large sites (public regions and private data
// centres), 100 edge sites, plus one private data centre shaped from the
// Alibaba 2018 trace when that file is at hand. Every cluster uses the sim
// driver, so the whole fleet runs as a digital twin on one machine.
//
// Sizes: one unit of scale is the regions and edge sites at scale 1, 175,364
// cores on 5,284 nodes for the default seed (other seeds differ by a few per
// cent; scaleForCores measures it). Node counts are multiplied by `scale` and
// rounded up, so cores grow linearly and never fall short (scaleForCores(10M)
// = 57.03). The Alibaba-shaped data centre keeps its real 4,034 machines
// (387,264 cores) at every scale, so the default fleet has 562,628 cores.
//
// Determinism: the output depends only on (scale, seed, the Alibaba file).
// Each site draws from its own random stream, so the fleet is stable under
// edits elsewhere in the tables.
import { BadRequestError } from '../model/errors.ts';
import type { Cluster, Site } from '../model/schema.ts';
import { alibabaDatacenter, DEFAULT_ALIBABA_MACHINE_META } from './alibaba.ts';
import {
  catalog,
  cloudDef,
  cloudDoc,
  clusterDoc,
  nodePool,
  SIM_SETTINGS,
  siteDoc,
  sitePrices,
  slug,
  type ClusterInput,
} from './build.ts';
import { CLOUDS, type MachineCatalog, type MachineType } from './catalog.ts';
import { continent, EDGE_CITIES, REGIONS, type EdgeDef, type RegionDef } from './places.ts';
import { between, seededRandom, type Random } from '../lib/random.ts';
import { fleetSummary } from './summary.ts';
import type { FleetDocs } from './types.ts';

export const DEFAULT_SEED = 1;

export interface DemoFleetOptions {
  /** Multiplies every generated node count (rounded up, at least 1 node per pool). Default 1. */
  scale?: number;
  seed?: number;
  /**
   * Alibaba 2018 machine_meta.csv to shape one private data centre from; by
   * default ../shared/data/alibaba-2018/machine_meta.csv beside the repository.
   * false leaves that data centre out.
   */
  alibabaMachineMetaPath?: string | false;
}

export interface GeneratedFleet extends FleetDocs {
  notes: string[];
}

/** Edge price multiplier by continent (an edge site in Asia or North America = 1.0). */
const EDGE_PRICE_MULTIPLIER: Readonly<Record<string, number>> = {
  asia: 1.0,
  'north-america': 1.0,
  europe: 1.1,
  oceania: 1.2,
  africa: 1.3,
  'south-america': 1.35,
};

export function generateDemoFleet(options: DemoFleetOptions = {}): GeneratedFleet {
  const scale = options.scale ?? 1;
  const seed = options.seed ?? DEFAULT_SEED;
  if (!Number.isFinite(scale) || scale <= 0)
    throw new BadRequestError(`fleet scale must be a number > 0, got ${scale}`);
  if (!Number.isInteger(seed))
    throw new BadRequestError(`fleet seed must be an integer, got ${seed}`);
  const fleet: GeneratedFleet = {
    clouds: CLOUDS.map(cloudDoc),
    sites: [],
    clusters: [],
    notes: [],
  };
  const add = ({ site, clusters }: { site: Site; clusters: Cluster[] }) => {
    fleet.sites.push(site);
    fleet.clusters.push(...clusters);
  };
  for (const def of REGIONS) add(regionSite(def, scale, seed));
  const path = options.alibabaMachineMetaPath ?? DEFAULT_ALIBABA_MACHINE_META;
  if (path !== false) {
    const dc = alibabaDatacenter(path, cloudDef('openstack'));
    if (dc === undefined) {
      fleet.notes.push(
        `Alibaba 2018 machine_meta.csv not found at ${path}: the Alibaba-shaped private data centre is left out`,
      );
    } else {
      add(dc);
      fleet.notes.push(dc.note);
    }
  }
  for (const def of EDGE_CITIES) add(edgeSite(def, scale, seed));
  return fleet;
}

/** The scale at which the generated regions and edge sites alone hold at least `targetCores` (the Alibaba data centre comes on top). */
export function scaleForCores(targetCores: number, seed = DEFAULT_SEED): number {
  const atOne = fleetSummary(generateDemoFleet({ seed, alibabaMachineMetaPath: false })).cores;
  return targetCores / atOne;
}

// ------------------------------------------------------------------ sites

/**
 * Zone names as each provider spells them, and the short suffix a cluster in
 * that zone gets (aws-us-east-1-a in us-east-1a).
 */
function zoneNames(cloud: string, region: string, n: number): { zone: string; suffix: string }[] {
  const letter = (i: number) => String.fromCharCode(97 + i);
  return Array.from({ length: n }, (_, i) => {
    const l = letter(i);
    const k = String(i + 1);
    switch (cloud) {
      case 'aws':
      case 'jdcloud':
      case 'huawei':
        return { zone: `${region}${l}`, suffix: l };
      case 'gcp':
      case 'aliyun':
        return { zone: `${region}-${l}`, suffix: l };
      case 'baidu':
        return { zone: `cn-${region}-${l}`, suffix: l };
      case 'oracle':
        return { zone: `${region}-ad-${k}`, suffix: `ad${k}` };
      case 'openstack':
      case 'vmware':
        return { zone: `${region}-az${k}`, suffix: `az${k}` };
      default: // azure, tencent, ibm number their zones
        return { zone: `${region}-${k}`, suffix: k };
    }
  });
}

function scaled(base: number, scale: number): number {
  // The epsilon keeps an exact product (16 * 1.5) from rounding up past itself.
  return Math.max(1, Math.ceil(base * scale - 1e-9));
}

function regionSite(
  def: RegionDef,
  scale: number,
  seed: number,
): { site: Site; clusters: Cluster[] } {
  const cloud = cloudDef(def.cloud);
  const machines = catalog(def.cloud);
  const name = `${def.cloud}-${def.region}`;
  const random = seededRandom(seed, name);
  const count = def.large ? 3 : random() < 0.55 ? 2 : 1;
  const zones = zoneNames(def.cloud, def.region, 3);
  const size = def.large ? 1.5 : 1;
  const clusters: Cluster[] = [];
  for (let i = 0; i < count; i++) {
    const pools = regionPools(machines, random, i, def, size).map(([type, base]) =>
      nodePool(type, scaled(base, scale)),
    );
    const gpuModel = pools.find((p) => p.gpuModel !== undefined)?.gpuModel;
    const { zone, suffix } = zones[i]!;
    clusters.push(
      clusterDoc({
        name: `${name}-${suffix}`,
        cloud: def.cloud,
        site: name,
        zone,
        labels: {
          tier: i === 2 ? 'staging' : 'prod',
          region: def.region,
          country: def.country,
          continent: continent(def.country),
        },
        pools,
        prices: sitePrices(cloud, def.priceMultiplier, gpuModel),
        settings: cloud.type === 'private' ? SIM_SETTINGS.private : SIM_SETTINGS.public,
      }),
    );
  }
  const kind = cloud.type === 'private' ? 'datacenter' : 'region';
  return {
    site: siteDoc(
      name,
      def.cloud,
      kind,
      def,
      zones.map((z) => z.zone),
      def.region,
    ),
    clusters,
  };
}

/**
 * A region cluster: x86 workhorses always; memory-optimised and ARM pools often;
 * RISC-V in the first cluster of a private data centre that has it; GPUs in
 * the first cluster (and the second of a large site, sometimes) of a GPU region.
 */
function regionPools(
  machines: MachineCatalog,
  random: Random,
  index: number,
  def: RegionDef,
  size: number,
): [MachineType, number][] {
  const pools: [MachineType, number][] = [
    [machines.general, Math.round(between(random, 12, 28) * size)],
  ];
  if (machines.memory && random() < 0.4) pools.push([machines.memory, between(random, 4, 10)]);
  if (machines.arm && random() < 0.6)
    pools.push([machines.arm, Math.round(between(random, 6, 16) * size)]);
  if (machines.riscv && index === 0) pools.push([machines.riscv, between(random, 2, 4)]);
  const gpuHere = def.gpu && (index === 0 || (index === 1 && def.large && random() < 0.5));
  if (gpuHere) {
    const first = between(random, 0, machines.gpus.length - 1);
    pools.push([machines.gpus[first]!, between(random, 2, 6)]);
    const second = between(random, 0, machines.gpus.length - 1);
    if (second !== first && random() < 0.5)
      pools.push([machines.gpus[second]!, between(random, 2, 4)]);
  }
  return pools;
}

/** Edge sites: one cluster (sometimes two) of small x86 boxes, often ARM, a few RISC-V boards and T4 inference boxes; half are tainted edge:NoSchedule. */
function edgeSite(def: EdgeDef, scale: number, seed: number): { site: Site; clusters: Cluster[] } {
  const cloud = cloudDef('edge');
  const machines = catalog('edge');
  const city = slug(def.city);
  const name = `edge-${city}`;
  const zone = `${city}-1`;
  const random = seededRandom(seed, name);
  const count = random() < 0.2 ? 2 : 1;
  const area = continent(def.country);
  const clusters: Cluster[] = [];
  for (let i = 0; i < count; i++) {
    const bases: [MachineType, number][] = [[machines.general, between(random, 3, 8)]];
    if (machines.arm && random() < 0.5) bases.push([machines.arm, between(random, 2, 5)]);
    if (machines.riscv && random() < 0.12) bases.push([machines.riscv, between(random, 4, 8)]);
    if (random() < 0.2) bases.push([machines.gpus[0]!, between(random, 1, 3)]);
    const pools = bases.map(([type, base]) => nodePool(type, scaled(base, scale)));
    const gpuModel = pools.find((p) => p.gpuModel !== undefined)?.gpuModel;
    const input: ClusterInput = {
      name: `${name}-${i + 1}`,
      cloud: cloud.name,
      site: name,
      zone,
      labels: { tier: 'edge', region: city, country: def.country, continent: area },
      pools,
      prices: sitePrices(cloud, EDGE_PRICE_MULTIPLIER[area] ?? 1, gpuModel),
      settings: SIM_SETTINGS.edge,
    };
    if (random() < 0.5) input.taints = [{ key: 'edge', value: 'true', effect: 'NoSchedule' }];
    clusters.push(clusterDoc(input));
  }
  return { site: siteDoc(name, cloud.name, 'edge', def, [zone]), clusters };
}
