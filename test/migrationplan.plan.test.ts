// The wave planner: a table of fleets and plans with the waves and unmovable
// applications each must give, and a property test over random plans (every
// dependency moves in an earlier wave, groups move together, no wave over its
// size or a target over its budget, every application planned or unmovable).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planWaves, type PlanCluster } from '../src/controllers/migrationplan/plan.ts';
import { seededRandom } from '../src/lib/random.ts';
import type { Application, MigrationPlanSpec } from '../src/model/schema.ts';

function cluster(
  name: string,
  cloud: string,
  o: { ready?: boolean; arches?: PlanCluster['arches']; cores?: number; country?: string } = {},
): PlanCluster {
  return {
    name,
    cloud,
    site: `${cloud}-site`,
    country: o.country ?? 'US',
    ready: o.ready ?? true,
    arches: o.arches ?? ['amd64'],
    cpuMillis: { allocatable: (o.cores ?? 1000) * 1000, allocated: 0 },
    memoryBytes: { allocatable: 1024 ** 4, allocated: 0 },
  };
}

function app(
  name: string,
  o: {
    cloud?: string;
    dependsOn?: string[];
    cpu?: string;
    labels?: Record<string, string>;
    namespace?: string;
    countries?: string[];
    platforms?: string[];
  } = {},
): Application {
  const cloud = o.cloud ?? 'a';
  return {
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'Application',
    metadata: {
      name,
      namespace: o.namespace ?? 'default',
      ...(o.labels !== undefined ? { labels: o.labels } : {}),
    },
    spec: {
      components: [
        {
          name: 'web',
          image: 'hello',
          replicas: 1,
          ...(o.cpu !== undefined ? { resources: { cpu: o.cpu } } : {}),
          ...(o.platforms !== undefined ? { platforms: o.platforms } : {}),
        },
      ],
      ...(o.dependsOn !== undefined ? { dependsOn: o.dependsOn } : {}),
      ...(o.countries !== undefined
        ? { placement: { residency: { countries: o.countries } } }
        : {}),
    },
    status: {
      placements: [{ component: 'web', cluster: `c-${cloud}`, cloud, desired: 1, ready: 1 }],
    },
  };
}

const fleet = [cluster('c-a', 'a'), cluster('c-b', 'b')];
const toB: MigrationPlanSpec = { targets: [{ to: { cloud: 'b' } }] };

const cases: {
  name: string;
  clusters?: PlanCluster[];
  apps: Application[];
  spec?: Partial<MigrationPlanSpec>;
  waves: string[][];
  unmovable?: Record<string, RegExp>;
}[] = [
  {
    name: 'a chain moves dependencies first, one wave each',
    apps: [app('c', { dependsOn: ['b'] }), app('b', { dependsOn: ['a'] }), app('a')],
    waves: [['a'], ['b'], ['c']],
  },
  {
    name: 'independent applications fill waves of waveSize in name order',
    apps: ['e', 'd', 'c', 'b', 'a'].map((n) => app(n)),
    spec: { waveSize: 2 },
    waves: [['a', 'b'], ['c', 'd'], ['e']],
  },
  {
    name: 'a group moves in one wave; its dependents after it',
    apps: [app('a'), app('b'), app('c', { dependsOn: ['a'] }), app('d')],
    spec: { groups: [{ name: 'core', applications: ['a', 'b'] }], waveSize: 3 },
    waves: [['d', 'a', 'b'], ['c']],
  },
  {
    name: 'a dependency outside the plan orders nothing',
    apps: [app('a', { dependsOn: ['db'], labels: { tier: 'web' } }), app('db')],
    spec: { selector: { matchLabels: { tier: 'web' } } },
    waves: [['a']],
  },
  {
    name: 'a cycle is unmovable and named; what depends on it waits',
    apps: [
      app('a', { dependsOn: ['b'] }),
      app('b', { dependsOn: ['a'] }),
      app('c', { dependsOn: ['a'] }),
      app('d'),
    ],
    waves: [['d']],
    unmovable: {
      a: /dependency cycle: a -> b -> a/,
      b: /dependency cycle: a -> b -> a/,
      c: /depends on a, which cannot move/,
    },
  },
  {
    name: 'residency keeps an application off a target in another country',
    apps: [app('eu', { countries: ['DE'] }), app('any')],
    waves: [['any']],
    unmovable: { eu: /residency: it may run in DE only; cloud=b is in US/ },
  },
  {
    name: 'an amd64 image cannot move to an ARM-only target',
    clusters: [cluster('c-a', 'a'), cluster('c-b', 'b', { arches: ['arm64'] })],
    apps: [app('x86'), app('multi', { platforms: ['linux/amd64', 'linux/arm64'] })],
    waves: [['multi']],
    unmovable: { x86: /architecture: component web runs on amd64 only; cloud=b has arm64/ },
  },
  {
    name: 'capacity within the headroom: 10 cores at 20 % leave 8, so two 3-core apps fit',
    clusters: [cluster('c-a', 'a'), cluster('c-b', 'b', { cores: 10 })],
    apps: [app('p', { cpu: '3' }), app('q', { cpu: '3' }), app('r', { cpu: '3' })],
    waves: [['p', 'q']],
    unmovable: { r: /capacity: needs 3\.0 cores .* on cloud=b, which has 2\.0 cores/ },
  },
  {
    name: 'already there, no Ready target, no matching rule',
    clusters: [cluster('c-a', 'a'), cluster('c-b', 'b'), cluster('c-z', 'z', { ready: false })],
    apps: [
      app('there', { cloud: 'b' }),
      app('to-z', { cloud: 'a' }),
      app('elsewhere', { cloud: 'c' }),
    ],
    spec: {
      targets: [
        { fromCloud: 'b', to: { cloud: 'b' } },
        { fromCloud: 'a', to: { cloud: 'z' } },
      ],
    },
    waves: [],
    unmovable: {
      there: /already runs on cloud=b/,
      'to-z': /no Ready cluster matches cloud=z/,
      elsewhere: /no target rule matches its clouds \(c\)/,
    },
  },
  {
    name: 'the selector: labels, clouds and the plan namespace',
    apps: [
      app('web', { labels: { tier: 'web' } }),
      app('web-on-b', { labels: { tier: 'web' }, cloud: 'b' }),
      app('db', { labels: { tier: 'db' } }),
      app('other-ns', { labels: { tier: 'web' }, namespace: 'other' }),
    ],
    spec: { selector: { matchLabels: { tier: 'web' }, clouds: ['a'] } },
    waves: [['web']],
  },
  {
    name: 'a group that does not fit one wave is unmovable',
    apps: [app('a'), app('b'), app('c')],
    spec: { groups: [{ name: 'big', applications: ['a', 'b', 'c'] }], waveSize: 2 },
    waves: [],
    unmovable: {
      a: /group big has 3 applications, more than waveSize 2/,
      b: /group big has 3 applications/,
      c: /group big has 3 applications/,
    },
  },
];

describe('planWaves', () => {
  for (const c of cases)
    it(c.name, () => {
      const plan = planWaves({
        namespace: 'default',
        clusters: c.clusters ?? fleet,
        apps: c.apps,
        spec: { ...toB, ...c.spec },
      });
      assert.deepEqual(plan.waves, c.waves);
      const unmovable = Object.fromEntries(plan.unmovable.map((u) => [u.name, u.reason]));
      assert.deepEqual(Object.keys(unmovable).sort(), Object.keys(c.unmovable ?? {}).sort());
      for (const [name, re] of Object.entries(c.unmovable ?? {}))
        assert.match(unmovable[name] ?? '', re, name);
    });

  it('predicts each wave as its migrations in rounds of concurrency', () => {
    const plan = planWaves({
      namespace: 'default',
      clusters: fleet,
      apps: ['a', 'b', 'c', 'd', 'e'].map((n) => app(n)),
      spec: {
        ...toB,
        waveSize: 3,
        concurrency: 2,
        migration: { steps: [50, 100], pauseSeconds: 10 },
      },
      startupSeconds: 1,
    });
    // waves of 3 and 2: 2 rounds + 1 round, each (2 steps x 10 s + 2 x 1 s)
    assert.equal(plan.predictedSeconds, 3 * 22);
  });
});

describe('planWaves on random plans', () => {
  for (let seed = 1; seed <= 40; seed++)
    it(`seed ${seed}`, () => {
      const random = seededRandom(seed, 'migrationplan');
      const n = 5 + Math.floor(random() * 40);
      const names = Array.from({ length: n }, (_, i) => `app-${i}`);
      const apps = names.map((name) =>
        app(name, {
          cpu: `${1 + Math.floor(random() * 4)}`,
          dependsOn: names.filter((d) => d !== name && random() < 0.06),
          cloud: random() < 0.9 ? 'a' : 'b',
        }),
      );
      const groups = [0, 1, 2].map((g) => ({
        name: `g${g}`,
        applications: names.filter((_, i) => i % 11 === g && random() < 0.7),
      }));
      const waveSize = 1 + Math.floor(random() * 6);
      const spec: MigrationPlanSpec = {
        targets: [{ fromCloud: 'a', to: { cloud: 'b' } }],
        groups: groups.filter((g) => g.applications.length > 0),
        waveSize,
        capacityHeadroomPercent: 10,
      };
      const clusters = [cluster('c-a', 'a'), cluster('c-b', 'b', { cores: 20 + random() * 80 })];
      const plan = planWaves({ namespace: 'default', clusters, apps, spec });

      const waveOf = new Map<string, number>();
      plan.waves.forEach((w, i) => {
        assert.ok(w.length > 0 && w.length <= waveSize, `wave ${i} has ${w.length}`);
        for (const a of w) {
          assert.ok(!waveOf.has(a), `${a} in two waves`);
          waveOf.set(a, i);
        }
      });
      const unmovable = new Set(plan.unmovable.map((u) => u.name));
      for (const a of names)
        assert.ok(waveOf.has(a) !== unmovable.has(a), `${a}: planned xor unmovable`);
      for (const u of plan.unmovable) assert.ok(u.reason.length > 0);
      const groupOf = new Map(spec.groups?.flatMap((g) => g.applications.map((a) => [a, g.name])));
      for (const a of apps) {
        const w = waveOf.get(a.metadata.name);
        if (w === undefined) continue;
        for (const d of a.spec.dependsOn ?? []) {
          const dw = waveOf.get(d);
          assert.ok(dw !== undefined, `${a.metadata.name} moves but its dependency ${d} does not`);
          const together =
            groupOf.get(d) !== undefined && groupOf.get(d) === groupOf.get(a.metadata.name);
          assert.ok(
            together ? dw === w : dw < w,
            `${d} (wave ${dw}) before ${a.metadata.name} (wave ${w})`,
          );
        }
      }
      for (const g of spec.groups ?? []) {
        const ws = new Set(g.applications.map((a) => waveOf.get(a)));
        assert.equal(ws.size, 1, `group ${g.name} split over waves ${[...ws].join(',')}`);
      }
      for (const t of plan.targets) assert.ok(t.cpuMillis.planned <= t.cpuMillis.budget);
      const planned = plan.applications.reduce((s, p) => {
        const cpu = apps.find((x) => x.metadata.name === p.name)?.spec.components[0]?.resources
          ?.cpu;
        return s + Number(cpu) * 1000;
      }, 0);
      assert.equal(planned, plan.targets[0]?.cpuMillis.planned ?? 0);
    });
});
