// Cost allocation, OpenCost's model, as pure functions of cost samples.
//
// Each placed component is charged, per sample, max(request, usage) of each
// resource times the cluster's price for the sample's duration; each cluster's
// own cost is its capacity times the same prices, and its idle cost is the
// difference. Idle is its own line, or shared over the workloads of the same
// cluster and sample (uniformly or in proportion to their cost); shared idle
// leaves the idle line, so nothing is counted twice.
//
// Every amount is an integer number of micro-dollars (1e-6 USD): each line is
// rounded once, idle is derived from the rounded lines, and shares are split
// with the largest-remainder method, so per-app cost + idle equals the fleet's
// cost exactly, whatever is grouped or shared.
import type { CostSampleSpec, CostSampleWorkload, IdleSharing } from '../../model/schema.ts';

export const COST_DIMENSIONS = [
  'app',
  'component',
  'team',
  'cloud',
  'site',
  'cluster',
  'day',
] as const;
export type CostDimension = (typeof COST_DIMENSIONS)[number];

/** The row of idle capacity nobody was charged for, in the app, component and team views. */
export const IDLE_KEY = '__idle__';

/** One charge from one sample: a component on a cluster, or a cluster's idle capacity. */
export interface CostLine {
  /** Absent on idle lines. */
  workload?: { namespace: string; app: string; component: string; team: string };
  cloud: string;
  site: string;
  cluster: string;
  /** The UTC day (YYYY-MM-DD) the sample starts in. */
  day: string;
  cpuMicros: number;
  memoryMicros: number;
  gpuMicros: number;
  /** Idle cost: the whole line's on an idle line, the shared part on a workload line. */
  idleMicros: number;
}

export interface CostRow {
  /** The row's value of each dimension, joined with `|` when there are several. */
  key: string;
  keys: string[];
  /** What the workloads were charged (cpu + memory + gpu). */
  workloadMicros: number;
  cpuMicros: number;
  memoryMicros: number;
  gpuMicros: number;
  idleMicros: number;
  totalMicros: number;
}

export interface CostTotals {
  workloadMicros: number;
  idleMicros: number;
  totalMicros: number;
  /** Every sampled cluster's capacity at its prices; equals totalMicros when no team or cloud filters. */
  fleetMicros: number;
}

export interface CostReport {
  /** The dimensions, comma-separated (`cloud,day`). */
  by: string;
  idle: IdleSharing;
  rows: CostRow[];
  totals: CostTotals;
}

export interface AllocateOptions {
  /** One dimension, or several: a row per combination (`cloud` then `day`). */
  by: CostDimension | readonly CostDimension[];
  idle: IdleSharing;
  /** Only this team's lines (idle lines are nobody's: they show only when shared). */
  team?: string;
  /** Only lines of clusters in this cloud. */
  cloud?: string;
}

const GIB = 2n ** 30n;
const MICROS_PER_NANO_HOUR = 3600n * 1000n;

/** Price per unit-hour in nano-dollars: prices carry up to nine decimals exactly. */
function nanos(price: number): bigint {
  return BigInt(Math.round(price * 1e9));
}

/** round(quantity / divisor * price * seconds / 3600) in micro-dollars, half up. */
function charge(quantity: bigint, divisor: bigint, priceNanos: bigint, seconds: number): number {
  const numerator = quantity * priceNanos * BigInt(seconds);
  const denominator = divisor * MICROS_PER_NANO_HOUR;
  return Number((2n * numerator + denominator) / (2n * denominator));
}

/**
 * Splits an integer over weights so the parts sum to it exactly: each part
 * gets the floor of its share, and the units left go to the largest
 * remainders (earlier entries first on ties). Negative amounts split as their
 * absolute value, negated. All-zero weights split evenly.
 */
export function splitInteger(amount: number, weights: readonly number[]): number[] {
  if (weights.length === 0) return [];
  const sign = amount < 0 ? -1n : 1n;
  const total = BigInt(Math.abs(amount));
  const w = weights.some((x) => x > 0)
    ? weights.map((x) => BigInt(Math.max(0, x)))
    : weights.map(() => 1n);
  const sum = w.reduce((a, b) => a + b, 0n);
  const parts = w.map((x) => (total * x) / sum);
  const remainders = w.map((x, i) => ({ i, r: (total * x) % sum }));
  let left = total - parts.reduce((a, b) => a + b, 0n);
  remainders.sort((a, b) => (a.r === b.r ? a.i - b.i : a.r > b.r ? -1 : 1));
  for (const { i } of remainders) {
    if (left === 0n) break;
    parts[i]! += 1n;
    left -= 1n;
  }
  return parts.map((p) => Number(sign * p));
}

/** What one workload line is charged: max(request, usage) of cpu, requests of memory and gpu. */
function workloadCharge(
  w: CostSampleWorkload,
  prices: { cpu: bigint; memory: bigint; gpu: bigint },
  seconds: number,
) {
  const replicas = BigInt(w.replicas);
  const requested = replicas * BigInt(w.request.cpuMillis);
  const used = BigInt(w.usedCpuMillis ?? 0);
  return {
    cpuMicros: charge(used > requested ? used : requested, 1000n, prices.cpu, seconds),
    memoryMicros: charge(replicas * BigInt(w.request.memoryBytes), GIB, prices.memory, seconds),
    gpuMicros: charge(replicas * BigInt(w.request.gpu), 1n, prices.gpu, seconds),
  };
}

/** The UTC day a sample starts in. */
export function sampleDay(start: string): string {
  return new Date(start).toISOString().slice(0, 10);
}

/**
 * The charges of one sample: a line per workload (with its share of idle when
 * shared) and a line per cluster for the idle cost left unshared. Returns the
 * fleet's cost for the sample too (every cluster's capacity at its prices).
 */
export function sampleLines(
  sample: CostSampleSpec,
  idle: IdleSharing,
): { lines: CostLine[]; fleetMicros: number } {
  const day = sampleDay(sample.start);
  const lines: CostLine[] = [];
  let fleetMicros = 0;
  for (const c of sample.clusters) {
    const prices = {
      cpu: nanos(c.prices.cpuCoreHour),
      memory: nanos(c.prices.memoryGiBHour),
      gpu: nanos(c.prices.gpuHour),
    };
    const clusterMicros =
      charge(BigInt(c.capacity.cpuMillis), 1000n, prices.cpu, sample.seconds) +
      charge(BigInt(c.capacity.memoryBytes), GIB, prices.memory, sample.seconds) +
      charge(BigInt(c.capacity.gpu), 1n, prices.gpu, sample.seconds);
    fleetMicros += clusterMicros;
    const place = { cloud: c.cloud, site: c.site, cluster: c.cluster, day };
    const charged: CostLine[] = c.workloads.map((w) => ({
      workload: { namespace: w.namespace, app: w.app, component: w.component, team: w.team },
      ...place,
      ...workloadCharge(w, prices, sample.seconds),
      idleMicros: 0,
    }));
    // Negative when the workloads used more than the cluster offers (usage
    // beyond requests): the identity holds, and sharing scales them back.
    const idleMicros =
      clusterMicros -
      charged.reduce((sum, l) => sum + l.cpuMicros + l.memoryMicros + l.gpuMicros, 0);
    if (idle === 'none' || charged.length === 0) {
      lines.push(...charged);
      if (idleMicros !== 0)
        lines.push({ ...place, cpuMicros: 0, memoryMicros: 0, gpuMicros: 0, idleMicros });
      continue;
    }
    const weights = charged.map((l) =>
      idle === 'uniform' ? 1 : l.cpuMicros + l.memoryMicros + l.gpuMicros,
    );
    const shares = splitInteger(idleMicros, weights);
    charged.forEach((l, i) => (l.idleMicros = shares[i]!));
    lines.push(...charged);
  }
  return { lines, fleetMicros };
}

/** The row a line belongs to in a view. */
export function lineKey(line: CostLine, by: CostDimension): string {
  const w = line.workload;
  switch (by) {
    case 'app':
      return w ? `${w.namespace}/${w.app}` : IDLE_KEY;
    case 'component':
      return w ? `${w.namespace}/${w.app}/${w.component}` : IDLE_KEY;
    case 'team':
      return w ? w.team : IDLE_KEY;
    case 'cloud':
    case 'site':
    case 'cluster':
    case 'day':
      return line[by];
  }
}

/**
 * Sums the samples' lines into rows of one view, most expensive first (in key
 * order when a dimension is the day, so series read in time order).
 */
export function allocate(samples: readonly CostSampleSpec[], o: AllocateOptions): CostReport {
  const dims: readonly CostDimension[] = typeof o.by === 'string' ? [o.by] : o.by;
  const rows = new Map<string, CostRow>();
  const totals: CostTotals = { workloadMicros: 0, idleMicros: 0, totalMicros: 0, fleetMicros: 0 };
  for (const sample of samples) {
    const { lines, fleetMicros } = sampleLines(sample, o.idle);
    totals.fleetMicros += fleetMicros;
    for (const line of lines) {
      if (o.team !== undefined && line.workload?.team !== o.team) continue;
      if (o.cloud !== undefined && line.cloud !== o.cloud) continue;
      const keys = dims.map((d) => lineKey(line, d));
      const key = keys.join('|');
      let row = rows.get(key);
      if (row === undefined) {
        row = {
          key,
          keys,
          workloadMicros: 0,
          cpuMicros: 0,
          memoryMicros: 0,
          gpuMicros: 0,
          idleMicros: 0,
          totalMicros: 0,
        };
        rows.set(key, row);
      }
      const workload = line.cpuMicros + line.memoryMicros + line.gpuMicros;
      row.cpuMicros += line.cpuMicros;
      row.memoryMicros += line.memoryMicros;
      row.gpuMicros += line.gpuMicros;
      row.workloadMicros += workload;
      row.idleMicros += line.idleMicros;
      row.totalMicros += workload + line.idleMicros;
      totals.workloadMicros += workload;
      totals.idleMicros += line.idleMicros;
      totals.totalMicros += workload + line.idleMicros;
    }
  }
  const sorted = [...rows.values()].sort((a, b) =>
    dims.includes('day')
      ? a.key.localeCompare(b.key)
      : b.totalMicros - a.totalMicros || a.key.localeCompare(b.key),
  );
  return { by: dims.join(','), idle: o.idle, rows: sorted, totals };
}

export interface SavingsRow {
  key: string;
  beforeMicros: number;
  afterMicros: number;
  /** after - before: negative is a saving. */
  differenceMicros: number;
}

/**
 * A savings report: the same view over two windows (before and after a
 * migration or colocation), row by row, with the difference; rows present in
 * only one window count 0 in the other.
 */
export function compareReports(
  before: CostReport,
  after: CostReport,
): { rows: SavingsRow[]; totals: SavingsRow } {
  const keys = new Set([...before.rows, ...after.rows].map((r) => r.key));
  const amount = (report: CostReport, key: string) =>
    report.rows.find((r) => r.key === key)?.totalMicros ?? 0;
  const rows = [...keys]
    .map((key) => {
      const b = amount(before, key);
      const a = amount(after, key);
      return { key, beforeMicros: b, afterMicros: a, differenceMicros: a - b };
    })
    .sort((x, y) => x.differenceMicros - y.differenceMicros || x.key.localeCompare(y.key));
  const b = before.totals.totalMicros;
  const a = after.totals.totalMicros;
  return {
    rows,
    totals: { key: 'total', beforeMicros: b, afterMicros: a, differenceMicros: a - b },
  };
}

/** Micro-dollars as a decimal amount with six places ("-1.250000"), exactly. */
export function formatMicros(micros: number): string {
  const sign = micros < 0 ? '-' : '';
  const abs = Math.abs(micros);
  return `${sign}${Math.floor(abs / 1e6)}.${String(abs % 1e6).padStart(6, '0')}`;
}
