// The cost sampler against a real (in-memory SQLite) store: one sample per
// interval whatever the number of passes, what a sample holds (prices merged
// from the cloud, ready replicas only, colocation reservations, measured use,
// teams from the label, the tenant or the namespace), retention, and budgets
// that warn once per threshold per month.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventRecorder } from '../src/events/recorder.ts';
import { CostSampler } from '../src/insights/cost/sampler.ts';
import { buildSample, sampleName } from '../src/insights/cost/sample.ts';
import { budgetPeriod, decideBudget } from '../src/insights/cost/budget.ts';
import type { Tenant } from '../src/model/access.ts';
import {
  API_VERSION,
  type Application,
  type Budget,
  type Cloud,
  type Cluster,
  type CostSample,
  type Event,
} from '../src/model/schema.ts';
import { openSqliteStore } from '../src/store/index.ts';
import { ValidationError } from '../src/model/errors.ts';
import { validateResource } from '../src/model/validate.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

const GiB = 2 ** 30;
const cloud: Cloud = {
  apiVersion: API_VERSION,
  kind: 'Cloud',
  metadata: { name: 'aws' },
  spec: { vendor: 'aws', type: 'public', prices: { cpuCoreHour: 0.04, memoryGiBHour: 0.005 } },
};
const cluster = (name: string, prices?: Cluster['spec']['prices']): Cluster => ({
  apiVersion: API_VERSION,
  kind: 'Cluster',
  metadata: { name },
  spec: {
    cloud: 'aws',
    site: 'use1',
    driver: { type: 'sim' },
    ...(prices !== undefined ? { prices } : {}),
  },
  status: {
    capacity: { cpu: 4, memory: 16 * GiB, gpu: 1, pods: 110 },
  },
});
const app = (
  namespace: string,
  name: string,
  labels: Record<string, string>,
  placements: { cluster: string; ready: number; draining?: boolean }[],
  colocatedMillis?: number,
): Application => ({
  apiVersion: API_VERSION,
  kind: 'Application',
  metadata: { name, namespace, labels },
  spec: {
    components: [
      {
        name: 'web',
        image: 'nginx',
        replicas: 3,
        resources: { cpu: '500m', memory: '1Gi', gpu: 1 },
      },
    ],
  },
  status: {
    placements: placements.map((p) => ({
      component: 'web',
      cloud: 'aws',
      desired: p.ready,
      ...p,
    })),
    ...(colocatedMillis !== undefined
      ? {
          colocation: {
            components: [
              {
                component: 'web',
                samples: 10,
                reservedCpuMillis: colocatedMillis,
                requestCpuMillis: 500,
              },
            ],
          },
        }
      : {}),
  },
});
const tenant: Tenant = {
  apiVersion: API_VERSION,
  kind: 'Tenant',
  metadata: { name: 'payments' },
  spec: { namespaces: ['pay'] },
};

describe('buildSample', () => {
  const sample = buildSample(
    {
      clusters: [cluster('a', { cpuCoreHour: 0.05 }), cluster('b')],
      clouds: [cloud],
      apps: [
        app('shop', 'front', { 'yunjian.io/team': 'web-team' }, [
          { cluster: 'a', ready: 2 },
          { cluster: 'a', ready: 1, draining: true },
          { cluster: 'b', ready: 0 },
        ]),
        app('pay', 'ledger', {}, [{ cluster: 'b', ready: 1 }], 200),
        app('misc', 'tool', {}, [{ cluster: 'b', ready: 1 }]),
      ],
      tenants: [tenant],
      usage: new Map([['a/shop/front/web', 2100]]),
    },
    Date.UTC(2026, 10, 1, 5),
    3600,
  );
  it('is named and timed by its interval', () => {
    assert.equal(sample.metadata.name, 'cost-1793509200');
    assert.equal(sample.spec.start, '2026-11-01T05:00:00.000Z');
    assert.equal(sample.spec.seconds, 3600);
  });
  it("takes the cluster's own prices field by field, else the cloud's, else 0", () => {
    assert.deepEqual(
      sample.spec.clusters.map((c) => [c.cluster, c.prices]),
      [
        ['a', { cpuCoreHour: 0.05, memoryGiBHour: 0.005, gpuHour: 0 }],
        ['b', { cpuCoreHour: 0.04, memoryGiBHour: 0.005, gpuHour: 0 }],
      ],
    );
    assert.deepEqual(sample.spec.clusters[0]?.capacity, {
      cpuMillis: 4000,
      memoryBytes: 16 * GiB,
      gpu: 1,
    });
  });
  it('counts ready replicas (draining included), reservations, use and teams', () => {
    assert.deepEqual(
      sample.spec.clusters.map((c) =>
        c.workloads.map((w) => [
          c.cluster,
          `${w.namespace}/${w.app}/${w.component}`,
          w.team,
          w.replicas,
          w.request.cpuMillis,
          w.usedCpuMillis,
        ]),
      ),
      [
        [['a', 'shop/front/web', 'web-team', 3, 500, 2100]],
        [
          ['b', 'pay/ledger/web', 'payments', 1, 200, undefined],
          ['b', 'misc/tool/web', 'misc', 1, 500, undefined],
        ],
      ],
    );
    assert.deepEqual(sample.spec.clusters[0]?.workloads[0]?.request, {
      cpuMillis: 500,
      memoryBytes: GiB,
      gpu: 1,
    });
  });
});

describe('decideBudget', () => {
  const budget = (status?: Budget['status']): Budget => ({
    apiVersion: API_VERSION,
    kind: 'Budget',
    metadata: { name: 'b' },
    spec: { team: 't', monthlyAmount: 100, thresholds: [100, 50, 80] },
    ...(status !== undefined ? { status } : {}),
  });
  const cases: [string, Budget, number, string, number[], number[]][] = [
    ['below every threshold', budget(), 49_999_999, '2026-11', [], []],
    ['two at once, ascending', budget(), 85_000_000, '2026-11', [50, 80], [50, 80]],
    [
      'already crossed this month: only the new one',
      budget({ period: '2026-11', crossed: [50, 80] }),
      100_000_000,
      '2026-11',
      [100],
      [50, 80, 100],
    ],
    [
      'a new month starts again',
      budget({ period: '2026-10', crossed: [50, 80, 100] }),
      60_000_000,
      '2026-11',
      [50],
      [50],
    ],
  ];
  for (const [name, b, spent, period, crossed, kept] of cases)
    it(name, () => {
      const d = decideBudget(b, spent, period);
      assert.deepEqual(d.crossed, crossed);
      assert.deepEqual(d.status, { period, spentMicros: spent, crossed: kept });
    });
});

describe('CostSampler', () => {
  it('samples each interval once, prunes past retention and warns once per threshold', async () => {
    const store = openSqliteStore({ path: ':memory:' });
    let now = Date.UTC(2026, 10, 3, 10, 30);
    const events = new EventRecorder({ store, source: 'test', now: () => now });
    const sampler = new CostSampler({
      store,
      events,
      log: (line) => assert.fail(line),
      intervalSeconds: 3600,
      retentionDays: 2,
      now: () => now,
      usage: () =>
        Promise.resolve([
          { key: { namespace: 'shop', app: 'front', component: 'web' }, cpuUsageMillis: 2500 },
        ]),
    });
    try {
      for (const o of [
        cloud,
        cluster('a'),
        app('shop', 'front', { 'yunjian.io/team': 'web-team' }, [{ cluster: 'a', ready: 2 }]),
      ])
        await store.create(o);
      // Backdated, past retention: pruned by the first pass.
      await store.create({
        ...buildSample(
          { clusters: [], clouds: [], apps: [], tenants: [], usage: new Map() },
          Date.UTC(2026, 9, 30),
          3600,
        ),
      });
      // Spend per hour: 2 replicas x (max(1000m, 2500m used) x 0.04 + 2 GiB x 0.005 + 2 GPUs x 0)
      // = 0.10 + 0.01 = 0.11 USD; a 0.20 USD budget crosses 50 % in the first hour, 100 % in the second.
      await store.create({
        apiVersion: API_VERSION,
        kind: 'Budget',
        metadata: { name: 'web' },
        spec: { team: 'web-team', monthlyAmount: 0.2, thresholds: [50, 100] },
      } satisfies Budget);

      await sampler.tick();
      await sampler.tick();
      now += 3600_000;
      await sampler.tick();

      const samples = (await store.list('CostSample')).items as CostSample[];
      assert.deepEqual(samples.map((s) => s.metadata.name).sort(), [
        sampleName(Date.UTC(2026, 10, 3, 10)),
        sampleName(Date.UTC(2026, 10, 3, 11)),
      ]);
      assert.equal(samples[0]?.spec.clusters[0]?.workloads[0]?.usedCpuMillis, 2500);
      const budget = (await store.get({ kind: 'Budget', name: 'web' })) as Budget;
      assert.deepEqual(budget.status, {
        period: budgetPeriod(now),
        spentMicros: 220_000,
        crossed: [50, 100],
      });
      const warnings = ((await store.list('Event')).items as Event[]).filter(
        (e) => e.spec.reason === 'BudgetThresholdCrossed',
      );
      assert.deepEqual(
        warnings
          .map((e) => [e.spec.type, e.spec.count, /: (\d+)% of/.exec(e.spec.message)?.[1]])
          .sort(),
        [
          ['Warning', 1, '100'],
          ['Warning', 1, '50'],
        ],
      );
    } finally {
      await sampler.stop();
      await store.close();
    }
  });

  it('samples soon after it starts leading, not only at the next boundary', async () => {
    const store = openSqliteStore({ path: ':memory:' });
    let calls = 0;
    const sampler = new CostSampler({
      store,
      events: new EventRecorder({ store, source: 'test' }),
      log: (line) => assert.fail(line),
      retrySeconds: 0.05,
      leading: () =>
        ++calls < 3 ? Promise.reject(new Error('waiting for the leader lease')) : Promise.resolve(),
    });
    try {
      await store.create(cluster('a'));
      sampler.start();
      const deadline = Date.now() + 10_000;
      while ((await store.list('CostSample')).items.length === 0) {
        assert.ok(Date.now() < deadline, 'no sample within 10 s of leading');
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(calls >= 3);
    } finally {
      await sampler.stop();
      await store.close();
    }
  });

  it('does nothing while another control plane leads', async () => {
    const store = openSqliteStore({ path: ':memory:' });
    const sampler = new CostSampler({
      store,
      events: new EventRecorder({ store, source: 'test' }),
      log: (line) => assert.fail(line),
      leading: () => Promise.reject(new Error('waiting for the leader lease')),
    });
    try {
      await store.create(cluster('a'));
      assert.equal(await sampler.tick(), false);
      assert.equal((await store.list('CostSample')).items.length, 0);
    } finally {
      await sampler.stop();
      await store.close();
    }
  });
});

describe('Budget and CostSample validation', () => {
  it('accepts the example budgets', () => {
    const file = join(import.meta.dirname, '..', 'examples', 'devops', 'budgets.yaml');
    const docs = parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS() as unknown);
    assert.deepEqual(
      docs.map((d) => validateResource(d, 'budgets.yaml').kind),
      ['Budget', 'Budget', 'Budget'],
    );
  });
  const budget = (spec: Record<string, unknown>) => ({
    apiVersion: API_VERSION,
    kind: 'Budget',
    metadata: { name: 'b' },
    spec: { team: 't', monthlyAmount: 10, ...spec },
  });
  const cases: [string, unknown, string][] = [
    ['a zero amount', budget({ monthlyAmount: 0 }), 'spec.monthlyAmount'],
    ['a threshold of 0', budget({ thresholds: [50, 0] }), 'spec.thresholds[1]'],
    ['an unknown sharing', budget({ idle: 'half' }), 'spec.idle'],
    [
      'a sample of 0 seconds',
      {
        apiVersion: API_VERSION,
        kind: 'CostSample',
        metadata: { name: 'cost-1' },
        spec: { start: '2026-11-01T00:00:00Z', seconds: 0, clusters: [] },
      },
      'spec.seconds',
    ],
    [
      'a sample whose start is no time',
      {
        apiVersion: API_VERSION,
        kind: 'CostSample',
        metadata: { name: 'cost-1' },
        spec: {
          start: 'yesterday',
          seconds: 60,
          clusters: [],
        },
      },
      'spec.start',
    ],
  ];
  for (const [name, doc, field] of cases)
    it(`refuses ${name}, naming ${field}`, () => {
      assert.throws(
        () => validateResource(doc),
        (err: unknown) =>
          err instanceof ValidationError && err.causes.some((c) => c.field === field),
      );
    });
});
