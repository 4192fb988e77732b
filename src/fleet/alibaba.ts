// One private data centre shaped from the real topology of Alibaba's 2018
// cluster trace (machine_meta.csv: machine_id, failure_domain_1,
// failure_domain_2, cpu_num, mem_size_norm; 4,034 machines).
//
// Mapping, chosen so the result reads like a real data centre:
// - failure_domain_2 (20 values, ~200 machines each) becomes one cluster and
//   one zone each: an independent failure domain the scheduler can spread over.
//   failure_domain_1 (292 values, ~14 machines each) reads as racks; it is too
//   fine for clusters and is kept as the `yunjian.io/racks` annotation.
// - Machines of identical shape (cores, memory) in a cluster form one node pool.
// - Memory is normalised to 0-100 in the trace; 100 maps to 512 GiB, the usual
//   memory of the trace's 96-core machines (2 sockets x 12 channels x 16 GiB,
//   rounded to a power of two), linearly below that, rounded to whole GiB.
// - The site is in Hangzhou, where the trace's machines are, on the private
//   OpenStack cloud. Node counts are real and are not multiplied by the fleet
//   scale.
// The file is read from ../shared/data and never copied into the repository.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { BadRequestError } from '../model/errors.ts';
import type { Cluster, Site } from '../model/schema.ts';
import { clusterDoc, nodePool, SIM_SETTINGS, siteDoc, sitePrices } from './build.ts';
import type { CloudDef } from './catalog.ts';

export const DEFAULT_ALIBABA_MACHINE_META = resolve(
  import.meta.dirname,
  '../../../shared/data/alibaba-2018/machine_meta.csv',
);

/** The memory of a machine whose mem_size_norm is 100. */
export const ALIBABA_FULL_MEMORY_GIB = 512;

const HEADER = 'machine_id,failure_domain_1,failure_domain_2,cpu_num,mem_size_norm';
const SITE = 'openstack-dc-hangzhou';
const REGION = 'dc-hangzhou';
const HANGZHOU = { city: 'Hangzhou', country: 'CN', latitude: 30.27, longitude: 120.15 };

export interface AlibabaDatacenter {
  site: Site;
  clusters: Cluster[];
  machines: number;
  /** One line on what was built from the file, for the generator's notes. */
  note: string;
}

interface Domain {
  racks: Set<string>;
  /** "cores/GiB" -> machines */
  shapes: Map<string, number>;
}

/** Returns undefined when the file does not exist; a file that exists but is malformed is an error. */
export function alibabaDatacenter(path: string, cloud: CloudDef): AlibabaDatacenter | undefined {
  if (!existsSync(path)) return undefined;
  const lines = readFileSync(path, 'utf8').split(/\r?\n/);
  if (lines[0]?.trim() !== HEADER)
    throw new BadRequestError(`${path}: expected the header "${HEADER}", got "${lines[0] ?? ''}"`);
  const domains = new Map<number, Domain>();
  const racks = new Set<string>();
  let machines = 0;
  lines.slice(1).forEach((line, i) => {
    if (line.trim() === '') return;
    const f = line.split(',');
    const fd1 = f[1] ?? '';
    const fd2 = Number(f[2]);
    const cores = Number(f[3]);
    const memNorm = Number(f[4]);
    if (
      f.length !== 5 ||
      fd1 === '' ||
      !Number.isInteger(fd2) ||
      !Number.isInteger(cores) ||
      cores <= 0 ||
      !(memNorm > 0 && memNorm <= 100)
    ) {
      throw new BadRequestError(
        `${path}:${i + 2}: expected machine_id, two failure domains, cores > 0 and memory in (0, 100], got "${line}"`,
      );
    }
    const memoryGiB = Math.round((memNorm / 100) * ALIBABA_FULL_MEMORY_GIB);
    let d = domains.get(fd2);
    if (d === undefined) domains.set(fd2, (d = { racks: new Set(), shapes: new Map() }));
    d.racks.add(fd1);
    racks.add(fd1);
    const shape = `${cores}/${memoryGiB}`;
    d.shapes.set(shape, (d.shapes.get(shape) ?? 0) + 1);
    machines++;
  });
  if (machines === 0) throw new BadRequestError(`${path}: no machines`);

  const ids = [...domains.keys()].sort((a, b) => a - b);
  const width = String(ids[ids.length - 1]).length;
  const zoneOf = (id: number) => `${REGION}-fd${String(id).padStart(width, '0')}`;
  const clusters = ids.map((id) => {
    const d = domains.get(id)!;
    // Largest pool first, so first-fit fills the common shape before the rare ones.
    const shapes = [...d.shapes].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    const pools = shapes.map(([shape, count]) => {
      const [cores, memoryGiB] = shape.split('/').map(Number) as [number, number];
      const type = `alibaba-2018.${cores}c${memoryGiB}g`;
      return nodePool(
        { type, arch: 'amd64', cpu: cores, memoryGiB, cpuModel: 'not published in the trace' },
        count,
        { 'yunjian.io/source': 'alibaba-2018' },
      );
    });
    return clusterDoc({
      name: `${SITE}-fd${String(id).padStart(width, '0')}`,
      cloud: cloud.name,
      site: SITE,
      zone: zoneOf(id),
      labels: { tier: 'prod', region: REGION, country: 'CN', continent: 'asia' },
      annotations: {
        'yunjian.io/source': `alibaba-2018 machine_meta.csv, failure_domain_2=${id}`,
        'yunjian.io/racks': String(d.racks.size),
      },
      pools,
      prices: sitePrices(cloud, 1, undefined),
      settings: SIM_SETTINGS.private,
    });
  });
  const site = siteDoc(SITE, cloud.name, 'datacenter', HANGZHOU, ids.map(zoneOf), REGION);
  site.metadata.annotations = { 'yunjian.io/source': 'alibaba-2018 machine_meta.csv' };
  const note =
    `private data centre ${SITE} shaped from ${path}: ${machines} machines, one cluster per failure_domain_2 (${clusters.length}), ` +
    `${racks.size} racks (failure_domain_1); memory 100 (normalised) = ${ALIBABA_FULL_MEMORY_GIB} GiB; real node counts, not scaled`;
  return { site, clusters, machines, note };
}
