// The throughput benchmark's request stream: applications of one component
// each, with the mix of constraints a multi-cloud platform sees. Seeded and
// deterministic: (seed, apps, replicas, fleet) gives the same stream.
//
// Mix (per application, drawn independently):
//   replicas      70 % 1-10, 25 % 10-50, 5 % 50-300; GPU apps 1-8
//   cpu / memory  100m-4 cores; 1-4 GiB per core (at least 128 MiB)
//   architectures 55 % amd64 only, 30 % amd64+arm64, 8 % arm64 only,
//                 5 % any of the three, 2 % riscv64 only
//   GPU           3 %: half whole GPUs (1, 2 or 4), half a share (250 or 500
//                 milli-GPU); a third of them pin a GPU model of the fleet
//   clouds        25 % affinity to 2-4 clouds
//   residency     15 % allowed countries (CN, the EU, US or SG+JP)
//   spread        30 % over clouds (min 2, max 3), 10 % over zones (min 2)
//   tolerations   10 % tolerate the edge taint (edge sites are half tainted)
// An application no cluster could satisfy (say riscv64 only, in clouds without
// RISC-V) is drawn again, so every application is satisfiable before capacity.
// The stream is then cut or extended so it has exactly `replicas` replicas
// in at least `apps` applications.
import { seededRandom, type Random } from '../lib/random.ts';
import { ARCHES, type Arch } from '../model/schema.ts';
import type { PodRequest } from '../scheduler/index.ts';
import type { BenchFleet, TopologyLevel } from './fleet.ts';

export interface BenchToleration {
  key: string;
  operator: 'Exists' | 'Equal';
  value?: string;
  effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
}

export interface BenchSpread {
  by: Extract<TopologyLevel, 'cloud' | 'site' | 'zone' | 'cluster'>;
  min: number;
  max?: number;
}

/** One application of the stream: one component, `replicas` identical replicas. */
export interface BenchApp {
  name: string;
  replicas: number;
  request: PodRequest;
  clouds?: string[];
  countries?: string[];
  spread?: BenchSpread;
  tolerations?: BenchToleration[];
}

export interface WorkloadOptions {
  apps: number;
  replicas: number;
  seed: number;
}

const EU = ['DE', 'IE', 'NL', 'BE', 'GB'];
const RESIDENCY = [['CN'], EU, ['US'], ['SG', 'JP']];
const CPU_CHOICES = [100, 250, 500, 500, 1000, 1000, 1000, 2000, 2000, 4000];

function pick<T>(random: Random, list: readonly T[]): T {
  return list[Math.floor(random() * list.length)]!;
}

function int(random: Random, lo: number, hi: number): number {
  return lo + Math.floor(random() * (hi - lo + 1));
}

export function generateWorkload(fleet: BenchFleet, options: WorkloadOptions): BenchApp[] {
  const random = seededRandom(options.seed, 'throughput-workload');
  const clouds = [...new Set(fleet.snapshot.clusters.map((c) => c.cloud))].sort();
  const models = fleet.snapshot.nodes.gpuModels.slice(1);
  const apps: BenchApp[] = [];
  let total = 0;
  const feasible = feasibility(fleet);
  while (apps.length < options.apps || total < options.replicas) {
    let app = oneApp(random, apps.length, clouds, models);
    for (let tries = 1; !feasible(app); tries++) {
      if (tries > 1000) throw new Error('the fleet satisfies almost no application of the stream');
      app = oneApp(random, apps.length, clouds, models);
    }
    apps.push(app);
    total += app.replicas;
  }
  // Cut the tail so the total is exact.
  while (total > options.replicas) {
    const last = apps[apps.length - 1]!;
    const extra = total - options.replicas;
    if (last.replicas > extra) {
      last.replicas -= extra;
      total -= extra;
    } else if (apps.length > options.apps) {
      apps.pop();
      total -= last.replicas;
    } else {
      // Keep at least `apps` applications: take one replica from the largest ones.
      const big = apps.reduce((a, b) => (b.replicas > a.replicas ? b : a));
      if (big.replicas <= 1) break;
      big.replicas--;
      total--;
    }
  }
  return apps;
}

/**
 * Whether some clusters of the fleet satisfy the app's constraints before
 * capacity: cloud affinity, residency, taints, a node of an allowed
 * architecture (with the GPUs, and GPU model, asked for), and as many spread
 * groups as the spread minimum. Apps that fail are drawn again, so replicas
 * left unplaced in the benchmark are a matter of capacity or placement, not of
 * impossible requests.
 */
function feasibility(fleet: BenchFleet): (app: BenchApp) => boolean {
  const { clusters, nodes } = fleet.snapshot;
  // Per cluster: architectures present, and per (arch, GPU model) the most GPUs on one node.
  const archMask = new Uint8Array(clusters.length);
  const gpus = clusters.map(() => new Map<string, number>());
  for (let i = 0; i < nodes.count; i++) {
    const c = nodes.cluster[i]!;
    archMask[c]! |= 1 << nodes.arch[i]!;
    if (nodes.gpuCount[i]! > 0) {
      const key = `${nodes.arch[i]}/${nodes.gpuModels[nodes.gpuModel[i]!]}`;
      gpus[c]!.set(key, Math.max(gpus[c]!.get(key) ?? 0, nodes.gpuCount[i]!));
    }
  }
  const memo = new Map<string, boolean>();
  return (app) => {
    const r = app.request;
    const key = JSON.stringify([
      r.architectures,
      r.gpuCount,
      r.gpuMilli,
      r.gpuModel,
      app.clouds,
      app.countries,
      app.tolerations,
      app.spread,
    ]);
    const known = memo.get(key);
    if (known !== undefined) return known;
    const archs = (r.architectures ?? ARCHES).map((a) => ARCHES.indexOf(a));
    const groups = new Set<string>();
    clusters.forEach((c, i) => {
      if (app.clouds !== undefined && !app.clouds.includes(c.cloud)) return;
      if (app.countries !== undefined && !app.countries.includes(c.country)) return;
      const untolerated = c.taints.some(
        (t) =>
          t.effect !== 'PreferNoSchedule' &&
          !(app.tolerations ?? []).some((tol) => tol.key === t.key && tol.operator === 'Exists'),
      );
      if (untolerated) return;
      const ok =
        r.gpuCount > 0
          ? [...gpus[i]!].some(([key, n]) => {
              const [arch, model] = key.split('/');
              return (
                archs.includes(Number(arch)) &&
                (r.gpuModel === undefined || r.gpuModel === model) &&
                n >= (r.gpuMilli < 1000 ? 1 : r.gpuCount)
              );
            })
          : archs.some((a) => (archMask[i]! & (1 << a)) !== 0);
      if (!ok) return;
      const by = app.spread?.by ?? 'cluster';
      groups.add(by === 'zone' ? `${c.site}/${c.zone}` : by === 'cluster' ? c.name : c[by]);
    });
    const result = groups.size >= (app.spread?.min ?? 1);
    memo.set(key, result);
    return result;
  };
}

function oneApp(random: Random, i: number, clouds: string[], models: string[]): BenchApp {
  const name = `app-${String(i).padStart(6, '0')}`;
  const gpu = models.length > 0 && random() < 0.03;
  const r = random();
  const replicas = gpu
    ? int(random, 1, 8)
    : r < 0.7
      ? int(random, 1, 10)
      : r < 0.95
        ? int(random, 10, 50)
        : int(random, 50, 300);
  const cpuMilli = gpu ? pick(random, [2000, 4000, 8000]) : pick(random, CPU_CHOICES);
  const memoryMiB = Math.max(
    128,
    Math.round(((cpuMilli / 1000) * 1024 * int(random, 1, 4)) / 64) * 64,
  );
  const a = random();
  const architectures: Arch[] | undefined = gpu
    ? ['amd64']
    : a < 0.55
      ? ['amd64']
      : a < 0.85
        ? ['amd64', 'arm64']
        : a < 0.93
          ? ['arm64']
          : a < 0.98
            ? undefined
            : ['riscv64'];
  const request: PodRequest = { cpuMilli, memoryMiB, gpuCount: 0, gpuMilli: 0 };
  if (architectures !== undefined) request.architectures = architectures;
  if (gpu) {
    if (random() < 0.5) {
      request.gpuCount = pick(random, [1, 1, 2, 4]);
      request.gpuMilli = 1000;
    } else {
      request.gpuCount = 1;
      request.gpuMilli = pick(random, [250, 500]);
    }
    if (random() < 1 / 3) request.gpuModel = pick(random, models);
  }
  const app: BenchApp = { name, replicas, request };
  if (random() < 0.25) {
    const n = int(random, 2, 4);
    const chosen = new Set<string>();
    while (chosen.size < n) chosen.add(pick(random, clouds));
    app.clouds = [...chosen].sort();
  }
  if (random() < 0.15) app.countries = pick(random, RESIDENCY);
  const s = random();
  if (s < 0.3) app.spread = { by: 'cloud', min: 2, max: 3 };
  else if (s < 0.4) app.spread = { by: 'zone', min: 2 };
  if (random() < 0.1) app.tolerations = [{ key: 'edge', operator: 'Exists' }];
  return app;
}

/** Counts of the constraint kinds in a stream, for the report. */
export function workloadMix(apps: readonly BenchApp[]): Record<string, number> {
  const mix: Record<string, number> = {
    apps: apps.length,
    replicas: 0,
    multiArch: 0,
    nonAmd64: 0,
    gpuWhole: 0,
    gpuShare: 0,
    gpuModel: 0,
    cloudAffinity: 0,
    residency: 0,
    spread: 0,
    tolerations: 0,
  };
  const inc = (k: string, by = 1) => (mix[k] = (mix[k] ?? 0) + by);
  for (const a of apps) {
    inc('replicas', a.replicas);
    const archs = a.request.architectures;
    if (archs === undefined || archs.length > 1) inc('multiArch');
    if (archs !== undefined && !archs.includes('amd64')) inc('nonAmd64');
    if (a.request.gpuCount > 0) inc(a.request.gpuMilli < 1000 ? 'gpuShare' : 'gpuWhole');
    if (a.request.gpuModel !== undefined) inc('gpuModel');
    if (a.clouds !== undefined) inc('cloudAffinity');
    if (a.countries !== undefined) inc('residency');
    if (a.spread !== undefined) inc('spread');
    if (a.tolerations !== undefined) inc('tolerations');
  }
  return mix;
}
