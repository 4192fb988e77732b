// Cost allocation: hand-worked cases (max of request and usage, idle as its
// own line or shared uniformly or proportionally, GPU, rounding, usage beyond
// capacity, an empty cluster whose idle cannot be shared), and a property:
// for random fleets every view's rows sum to the fleet's cost exactly.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  COST_DIMENSIONS,
  IDLE_KEY,
  allocate,
  compareReports,
  formatMicros,
  splitInteger,
  type AllocateOptions,
  type CostDimension,
} from '../src/insights/cost/allocate.ts';
import type { CostSampleCluster, CostSampleSpec, IdleSharing } from '../src/model/schema.ts';

const GiB = 2 ** 30;
const workload = (
  namespace: string,
  app: string,
  component: string,
  team: string,
  replicas: number,
  cpuMillis: number,
  memoryBytes: number,
  extra: { gpu?: number; usedCpuMillis?: number } = {},
) => ({
  namespace,
  app,
  component,
  team,
  replicas,
  request: { cpuMillis, memoryBytes, gpu: extra.gpu ?? 0 },
  ...(extra.usedCpuMillis !== undefined ? { usedCpuMillis: extra.usedCpuMillis } : {}),
});

// c1: 4 cores at 0.04, 16 GiB at 0.005 for an hour = 0.16 + 0.08 = 240000 micros.
//   shop/web: 2 x 500m (used 600m: request wins) = 0.04, 2 x 1 GiB = 0.01  -> 50000
//   shop/api: 1 x 250m (used 900m: usage wins)   = 0.036, 0.5 GiB = 0.0025 -> 38500
//   batch/job: 1 x 1000m (no usage measured)     = 0.04, 4 GiB = 0.02     -> 60000
//   idle = 240000 - 148500 = 91500
//     uniform: 30500 each; proportional: 91500 x (50000, 38500, 60000) / 148500 =
//     30808.08, 23722.22, 36969.70 -> floors 30808, 23722, 36969 and the unit
//     left goes to the largest remainder (job): 36970.
const c1: CostSampleCluster = {
  cluster: 'c1',
  cloud: 'aws',
  site: 's1',
  prices: { cpuCoreHour: 0.04, memoryGiBHour: 0.005, gpuHour: 2 },
  capacity: { cpuMillis: 4000, memoryBytes: 16 * GiB, gpu: 0 },
  workloads: [
    workload('shop', 'web', 'web', 'alpha', 2, 500, GiB, { usedCpuMillis: 600 }),
    workload('shop', 'web', 'api', 'alpha', 1, 250, GiB / 2, { usedCpuMillis: 900 }),
    workload('batch', 'job', 'run', 'beta', 1, 1000, 4 * GiB),
  ],
};
// c2, nothing placed, for half an hour: 2 GPUs x 2.5 x 0.5 = 2.5, 8 cores x 0.03 x 0.5
// = 0.12, 32 GiB x 0.004 x 0.5 = 0.064 -> 2684000 micros, all idle whatever the sharing.
const c2: CostSampleCluster = {
  cluster: 'c2',
  cloud: 'gcp',
  site: 's2',
  prices: { cpuCoreHour: 0.03, memoryGiBHour: 0.004, gpuHour: 2.5 },
  capacity: { cpuMillis: 8000, memoryBytes: 32 * GiB, gpu: 2 },
  workloads: [],
};
const hour = (start: string, ...clusters: CostSampleCluster[]): CostSampleSpec => ({
  start,
  seconds: 3600,
  clusters,
});

interface Case {
  name: string;
  samples: CostSampleSpec[];
  options: AllocateOptions;
  rows: [key: string, totalMicros: number, idleMicros: number][];
  fleetMicros: number;
}

const CASES: Case[] = [
  {
    name: 'by team, idle its own line',
    samples: [hour('2026-11-01T00:00:00Z', c1)],
    options: { by: 'team', idle: 'none' },
    rows: [
      [IDLE_KEY, 91500, 91500],
      ['alpha', 88500, 0],
      ['beta', 60000, 0],
    ],
    fleetMicros: 240000,
  },
  {
    name: 'by component, idle shared uniformly',
    samples: [hour('2026-11-01T00:00:00Z', c1)],
    options: { by: 'component', idle: 'uniform' },
    rows: [
      ['batch/job/run', 90500, 30500],
      ['shop/web/web', 80500, 30500],
      ['shop/web/api', 69000, 30500],
    ],
    fleetMicros: 240000,
  },
  {
    name: 'by app, idle shared proportionally (largest remainder)',
    samples: [hour('2026-11-01T00:00:00Z', c1)],
    options: { by: 'app', idle: 'proportional' },
    rows: [
      ['shop/web', 50000 + 30808 + 38500 + 23722, 30808 + 23722],
      ['batch/job', 60000 + 36970, 36970],
    ],
    fleetMicros: 240000,
  },
  {
    name: 'a cluster with nothing placed keeps its idle (GPU included) even when shared',
    samples: [{ start: '2026-11-01T01:00:00Z', seconds: 1800, clusters: [c1, c2] }],
    options: { by: 'cloud', idle: 'proportional' },
    rows: [
      ['gcp', 2684000, 2684000],
      ['aws', 120000, 45750],
    ],
    fleetMicros: 120000 + 2684000,
  },
  {
    name: 'two dimensions: a row per cloud and day, in key order',
    samples: [
      hour('2026-11-01T00:00:00Z', c1),
      { start: '2026-11-02T01:00:00Z', seconds: 1800, clusters: [c1, c2] },
    ],
    options: { by: ['cloud', 'day'], idle: 'none' },
    rows: [
      ['aws|2026-11-01', 240000, 91500],
      ['aws|2026-11-02', 120000, 45750],
      ['gcp|2026-11-02', 2684000, 2684000],
    ],
    fleetMicros: 240000 + 120000 + 2684000,
  },
  {
    name: 'one cloud only: its clusters, idle included',
    samples: [{ start: '2026-11-01T01:00:00Z', seconds: 1800, clusters: [c1, c2] }],
    options: { by: 'team', idle: 'none', cloud: 'gcp' },
    rows: [[IDLE_KEY, 2684000, 2684000]],
    fleetMicros: 120000 + 2684000,
  },
  {
    name: 'one team only: its lines, idle only as its share',
    samples: [hour('2026-11-01T00:00:00Z', c1)],
    options: { by: 'team', idle: 'proportional', team: 'beta' },
    rows: [['beta', 96970, 36970]],
    fleetMicros: 240000,
  },
  {
    name: 'by day: samples fall on the UTC day they start in',
    samples: [
      hour('2026-11-01T23:00:00Z', c1),
      hour('2026-11-02T00:00:00+08:00', c1),
      hour('2026-11-02T00:00:00Z', c1),
    ],
    options: { by: 'day', idle: 'none' },
    rows: [
      ['2026-11-01', 480000, 183000],
      ['2026-11-02', 240000, 91500],
    ],
    fleetMicros: 720000,
  },
  {
    // 100m for a minute at 0.0416/core-hour = 69.33 micros -> 69; the 1-core
    // cluster 693.33 -> 693; idle 624 takes the rounding.
    name: 'each line rounds once to the micro-dollar and idle takes the rest',
    samples: [
      {
        start: '2026-11-01T00:00:00Z',
        seconds: 60,
        clusters: [
          {
            cluster: 'small',
            cloud: 'aws',
            site: 's1',
            prices: { cpuCoreHour: 0.0416, memoryGiBHour: 0, gpuHour: 0 },
            capacity: { cpuMillis: 1000, memoryBytes: 0, gpu: 0 },
            workloads: [workload('default', 'a', 'c', 'alpha', 1, 100, 0)],
          },
        ],
      },
    ],
    options: { by: 'team', idle: 'none' },
    rows: [
      [IDLE_KEY, 624, 624],
      ['alpha', 69, 0],
    ],
    fleetMicros: 693,
  },
  {
    // 1 core at 0.01 for an hour = 10000; the workload used 1.5 cores = 15000:
    // idle is -5000, and sharing it charges the workload what the cluster costs.
    name: 'usage beyond capacity: negative idle, shared back to the capacity',
    samples: [
      hour('2026-11-01T00:00:00Z', {
        cluster: 'hot',
        cloud: 'aws',
        site: 's1',
        prices: { cpuCoreHour: 0.01, memoryGiBHour: 0, gpuHour: 0 },
        capacity: { cpuMillis: 1000, memoryBytes: 0, gpu: 0 },
        workloads: [workload('default', 'a', 'c', 'alpha', 1, 500, 0, { usedCpuMillis: 1500 })],
      }),
    ],
    options: { by: 'app', idle: 'proportional' },
    rows: [['default/a', 10000, -5000]],
    fleetMicros: 10000,
  },
  {
    // 1 A100 requested at 2.5/h for an hour, 2 on the cluster: half idle.
    name: 'GPUs are charged by the device-hour',
    samples: [
      hour('2026-11-01T00:00:00Z', {
        cluster: 'gpu',
        cloud: 'gcp',
        site: 's2',
        prices: { cpuCoreHour: 0, memoryGiBHour: 0, gpuHour: 2.5 },
        capacity: { cpuMillis: 0, memoryBytes: 0, gpu: 2 },
        workloads: [workload('ml', 'train', 'worker', 'gamma', 1, 0, 0, { gpu: 1 })],
      }),
    ],
    options: { by: 'team', idle: 'none' },
    rows: [
      [IDLE_KEY, 2500000, 2500000],
      ['gamma', 2500000, 0],
    ],
    fleetMicros: 5000000,
  },
];

describe('cost allocation, worked by hand', () => {
  for (const c of CASES)
    it(c.name, () => {
      const report = allocate(c.samples, c.options);
      assert.deepEqual(
        report.rows.map((r) => [r.key, r.totalMicros, r.idleMicros]),
        c.rows,
      );
      assert.equal(report.totals.fleetMicros, c.fleetMicros);
      for (const r of report.rows) assert.equal(r.totalMicros, r.workloadMicros + r.idleMicros);
      if (c.options.team === undefined && c.options.cloud === undefined)
        assert.equal(report.totals.totalMicros, c.fleetMicros);
    });
});

describe('splitInteger', () => {
  const cases: [amount: number, weights: number[], parts: number[]][] = [
    [10, [1, 1, 1], [4, 3, 3]],
    [91500, [50000, 38500, 60000], [30808, 23722, 36970]],
    [-7, [1, 1], [-4, -3]],
    [5, [0, 0], [3, 2]],
    [0, [3, 1], [0, 0]],
    [3, [], []],
  ];
  for (const [amount, weights, parts] of cases)
    it(`${amount} over [${weights.join(', ')}]`, () =>
      assert.deepEqual(splitInteger(amount, weights), parts));
});

describe('savings and formatting', () => {
  it('compares two windows row by row, absent rows as 0', () => {
    const before = allocate([hour('2026-10-01T00:00:00Z', c1)], { by: 'team', idle: 'none' });
    const moved: CostSampleCluster = {
      ...c1,
      workloads: c1.workloads.filter((w) => w.team !== 'beta'),
    };
    const after = allocate([hour('2026-11-01T00:00:00Z', moved)], { by: 'team', idle: 'none' });
    const { rows, totals } = compareReports(before, after);
    assert.deepEqual(
      rows.map((r) => [r.key, r.beforeMicros, r.afterMicros, r.differenceMicros]),
      [
        ['beta', 60000, 0, -60000],
        ['alpha', 88500, 88500, 0],
        [IDLE_KEY, 91500, 151500, 60000],
      ],
    );
    assert.equal(totals.differenceMicros, 0);
  });
  for (const [micros, text] of [
    [0, '0.000000'],
    [1, '0.000001'],
    [2684000, '2.684000'],
    [-5000, '-0.005000'],
  ] as const)
    it(`formats ${micros} micro-dollars as ${text}`, () =>
      assert.equal(formatMicros(micros), text));
});

// ---------------------------------------------------------------- property

/** A cluster's cost by an independent route: exact rationals, rounded half up per resource. */
function clusterOracle(c: CostSampleCluster, seconds: number): bigint {
  const part = (qty: number, perUnit: bigint, price: number) => {
    const n = BigInt(qty) * BigInt(Math.round(price * 1e9)) * BigInt(seconds);
    const d = perUnit * 3_600_000n;
    return (2n * n + d) / (2n * d);
  };
  return (
    part(c.capacity.cpuMillis, 1000n, c.prices.cpuCoreHour) +
    part(c.capacity.memoryBytes, 2n ** 30n, c.prices.memoryGiBHour) +
    part(c.capacity.gpu, 1n, c.prices.gpuHour)
  );
}

const TEAMS = ['alpha', 'beta', 'gamma'];
const clusterArb = (i: number): fc.Arbitrary<CostSampleCluster> =>
  fc.record({
    cluster: fc.constant(`c${i}`),
    cloud: fc.constantFrom('aws', 'gcp', 'ali'),
    site: fc.constantFrom('s1', 's2'),
    prices: fc.record({
      cpuCoreHour: fc.constantFrom(0, 0.0416, 0.031, 1.7),
      memoryGiBHour: fc.constantFrom(0, 0.0052, 0.00437),
      gpuHour: fc.constantFrom(0, 2.48, 3.06),
    }),
    capacity: fc.record({
      cpuMillis: fc.integer({ min: 0, max: 512_000 }),
      memoryBytes: fc.integer({ min: 0, max: 2 ** 42 }),
      gpu: fc.integer({ min: 0, max: 16 }),
    }),
    workloads: fc.array(
      fc.record(
        {
          namespace: fc.constantFrom('shop', 'batch'),
          app: fc.constantFrom('a', 'b', 'c'),
          component: fc.constantFrom('x', 'y'),
          team: fc.constantFrom(...TEAMS),
          replicas: fc.integer({ min: 0, max: 200 }),
          request: fc.record({
            cpuMillis: fc.integer({ min: 0, max: 8000 }),
            memoryBytes: fc.integer({ min: 0, max: 2 ** 36 }),
            gpu: fc.integer({ min: 0, max: 2 }),
          }),
          usedCpuMillis: fc.integer({ min: 0, max: 400_000 }),
        },
        { requiredKeys: ['namespace', 'app', 'component', 'team', 'replicas', 'request'] },
      ),
      { maxLength: 6 },
    ),
  });
const sampleArb: fc.Arbitrary<CostSampleSpec> = fc.record({
  start: fc
    .integer({ min: Date.UTC(2026, 0, 1) / 1000, max: Date.UTC(2026, 11, 31) / 1000 })
    .map((s) => new Date(s * 1000).toISOString()),
  seconds: fc.constantFrom(1, 60, 299, 3600, 86400),
  clusters: fc.tuple(clusterArb(0), clusterArb(1), clusterArb(2)),
});

describe('cost allocation reconciles (property)', () => {
  it('every view, every idle sharing: rows + idle = the fleet, to the micro-dollar', () => {
    fc.assert(
      fc.property(
        fc.array(sampleArb, { minLength: 1, maxLength: 4 }),
        fc.shuffledSubarray<CostDimension>([...COST_DIMENSIONS], { minLength: 1, maxLength: 2 }),
        fc.constantFrom<IdleSharing>('none', 'uniform', 'proportional'),
        (samples, by, idle) => {
          const fleet = samples.reduce(
            (sum, s) => sum + s.clusters.reduce((a, c) => a + clusterOracle(c, s.seconds), 0n),
            0n,
          );
          const report = allocate(samples, { by, idle });
          assert.equal(BigInt(report.totals.fleetMicros), fleet);
          assert.equal(BigInt(report.rows.reduce((a, r) => a + r.totalMicros, 0)), fleet);
          // Each team's own report, plus the unshared idle, is the whole again.
          const teams = TEAMS.map((team) => allocate(samples, { by, idle, team }).totals);
          const unshared = allocate(samples, { by: 'team', idle }).rows.find(
            (r) => r.key === IDLE_KEY,
          );
          assert.equal(
            BigInt(teams.reduce((a, t) => a + t.totalMicros, 0) + (unshared?.totalMicros ?? 0)),
            fleet,
          );
        },
      ),
      { seed: 18, numRuns: 300 },
    );
  });
});
