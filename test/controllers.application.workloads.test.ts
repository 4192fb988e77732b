// Workload specs and the workload diff, table-driven: overrides and node
// limits in the spec, when a write is needed, which listed workloads are
// deleted, what stays draining when deletion fails, and what the GC sweep
// removes; and, as a property, that the diff is idempotent: carrying out its
// writes and deletions and diffing again finds nothing to do.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { placementKey } from '../src/controllers/application/observed.ts';
import {
  applyNeeded,
  isOrphan,
  undeletedPlacements,
  workloadFor,
  workloadsToDelete,
} from '../src/controllers/application/workloads.ts';
import type { WorkloadSpec, WorkloadStatus } from '../src/drivers/types.ts';
import type { Application } from '../src/model/schema.ts';
import {
  NOW,
  app,
  cluster,
  component,
  placement,
  workload,
} from './controllers.application.fixtures.ts';

describe('workloadFor', () => {
  const web = component('web', 3, {
    image: 'web:1',
    env: { A: '1' },
    resources: { cpu: '500m', memory: '1Gi' },
    ports: [{ port: 8080 }],
  });
  const cases: {
    name: string;
    spec: Partial<Application['spec']>;
    cluster?: string;
    want: Partial<WorkloadSpec>;
  }[] = [
    {
      name: 'no overrides: the component as declared',
      spec: {},
      want: {
        image: 'web:1',
        replicas: 3,
        cpuMillis: 500,
        memoryBytes: 1024 ** 3,
        env: { A: '1' },
        ports: [{ port: 8080, protocol: 'TCP' }],
      },
    },
    {
      name: 'overrides whose target matches apply in order',
      spec: {
        overrides: [
          { target: { clusters: ['a'] }, patches: { image: 'web:2', env: { B: '2' } } },
          { target: { components: ['web'] }, patches: { image: 'web:3', replicas: 1 } },
          { target: { clouds: ['elsewhere'] }, patches: { image: 'never' } },
        ],
      },
      want: { image: 'web:3', replicas: 1, env: { A: '1', B: '2' } },
    },
    {
      name: 'an override for another cluster does not apply',
      spec: { overrides: [{ target: { clusters: ['b'] }, patches: { image: 'web:2' } }] },
      want: { image: 'web:1' },
    },
    {
      name: 'anti-affinity: one replica per node, the group named',
      spec: { placement: { antiAffinity: [{ components: ['web', 'api'] }] } },
      want: { maxReplicasPerNode: 1, antiAffinity: ['api', 'web'] },
    },
    {
      name: 'maxReplicasPerNode without anti-affinity',
      spec: { placement: { maxReplicasPerNode: 2 } },
      want: { maxReplicasPerNode: 2 },
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const a = app([web, component('api', 1)], { spec: c.spec });
      const got = workloadFor(a, web, cluster(c.cluster ?? 'a'), 3);
      for (const [k, v] of Object.entries(c.want))
        assert.deepEqual(got[k as keyof WorkloadSpec], v, k);
    });

  it('the hash follows the spec and nothing else', () => {
    const a = app([web]);
    const h = (replicas: number) => workloadFor(a, web, cluster('a'), replicas).hash;
    assert.equal(h(3), h(3));
    assert.notEqual(h(3), h(4));
    assert.equal(workloadFor(a, web, cluster('b'), 3).hash, h(3));
  });
});

describe('applyNeeded', () => {
  const spec = workloadFor(app([component('web', 1)]), component('web', 1), cluster('a'), 1);
  const at = (hash: string) => workload('web', { hash });
  const cases: {
    name: string;
    listed?: WorkloadStatus;
    listedAt?: number;
    sentAt?: number;
    held?: boolean;
    want: { apply: boolean; inFlight: boolean };
  }[] = [
    { name: 'not listed: write', want: { apply: true, inFlight: false } },
    { name: 'another hash: write', listed: at('old'), want: { apply: true, inFlight: false } },
    { name: 'the same hash: none', listed: at(spec.hash), want: { apply: false, inFlight: false } },
    {
      name: 'written after the listing: in flight, none',
      listed: at('old'),
      listedAt: NOW - 10,
      sentAt: NOW,
      want: { apply: false, inFlight: true },
    },
    {
      name: 'listed after the write and still another hash: write again',
      listed: at('old'),
      listedAt: NOW + 10,
      sentAt: NOW,
      want: { apply: true, inFlight: false },
    },
    {
      name: 'held cluster: never',
      listed: at('old'),
      held: true,
      want: { apply: false, inFlight: false },
    },
  ];
  for (const c of cases)
    it(c.name, () =>
      assert.deepEqual(
        applyNeeded({
          spec,
          listed: c.listed,
          listedAt: c.listedAt ?? NOW,
          sent: c.sentAt !== undefined ? { hash: spec.hash, at: c.sentAt } : undefined,
          held: c.held ?? false,
        }),
        c.want,
      ),
    );
});

describe('workloadsToDelete', () => {
  it("deletes the app's workloads the plan does not keep, and nobody else's", () => {
    const listed = [
      workload('web'),
      workload('api'),
      { ...workload('web'), key: { namespace: 'other', app: 'shop', component: 'web' } },
      { ...workload('web'), key: { namespace: 'default', app: 'blog', component: 'web' } },
    ];
    assert.deepEqual(
      workloadsToDelete(
        listed,
        { namespace: 'default', name: 'shop' },
        'a',
        new Set([placementKey('web', 'a'), placementKey('api', 'b')]),
      ),
      [{ namespace: 'default', app: 'shop', component: 'api' }],
    );
  });

  it('property: idempotent — after its writes and deletions, a second diff is empty', () => {
    const components = ['web', 'api', 'db'];
    const clusters = ['a', 'b'];
    const shop = app(components.map((c) => component(c, 1)));
    fc.assert(
      fc.property(
        // What each cluster lists: per component, absent or at some hash.
        fc.array(fc.array(fc.option(fc.constantFrom('h1', 'h2')), { minLength: 3, maxLength: 3 }), {
          minLength: 2,
          maxLength: 2,
        }),
        // What the plan wants: per cluster and component, absent or a replica count.
        fc.array(
          fc.array(fc.option(fc.integer({ min: 1, max: 3 })), { minLength: 3, maxLength: 3 }),
          {
            minLength: 2,
            maxLength: 2,
          },
        ),
        (listedHashes, wanted) => {
          const listing = new Map<string, WorkloadStatus[]>(
            clusters.map((cn, i) => [
              cn,
              components.flatMap((c, j) => {
                const hash = listedHashes[i]![j];
                return hash ? [workload(c, { hash })] : [];
              }),
            ]),
          );
          const desired = clusters.flatMap((cn, i) =>
            components.flatMap((c, j) => {
              const n = wanted[i]![j];
              return n ? [{ cn, spec: workloadFor(shop, component(c, 1), cluster(cn), n) }] : [];
            }),
          );
          const keep = new Set(desired.map((d) => placementKey(d.spec.key.component, d.cn)));
          const diff = () => {
            const writes = desired.filter(
              (d) =>
                applyNeeded({
                  spec: d.spec,
                  listed: listing.get(d.cn)!.find((w) => w.key.component === d.spec.key.component),
                  listedAt: NOW,
                  sent: undefined,
                  held: false,
                }).apply,
            );
            const deletes = clusters.flatMap((cn) =>
              workloadsToDelete(
                listing.get(cn)!,
                { namespace: 'default', name: 'shop' },
                cn,
                keep,
              ).map((key) => ({ cn, key })),
            );
            return { writes, deletes };
          };
          const first = diff();
          for (const { cn, key } of first.deletes)
            listing.set(
              cn,
              listing.get(cn)!.filter((w) => w.key.component !== key.component),
            );
          for (const { cn, spec } of first.writes)
            listing.set(cn, [
              ...listing.get(cn)!.filter((w) => w.key.component !== spec.key.component),
              workload(spec.key.component, { hash: spec.hash }),
            ]);
          const second = diff();
          assert.deepEqual(second.writes, []);
          assert.deepEqual(second.deletes, []);
        },
      ),
      { seed: 14, numRuns: 300 },
    );
  });
});

describe('undeletedPlacements', () => {
  const previousAll = [
    placement('web', 'a', 2),
    placement('api', 'a', 1),
    placement('web', 'b', 2),
    placement('web', 'c', 2),
  ];
  it('keeps as draining, serving nothing, what left the plan and could not be deleted', () => {
    const got = undeletedPlacements(
      previousAll,
      new Set([placementKey('web', 'a')]),
      new Set([placementKey('web', 'a'), placementKey('web', 'b'), placementKey('*', 'c')]),
    );
    assert.deepEqual(
      got.map((p) => [p.component, p.cluster, p.ready, p.draining]),
      [
        ['web', 'b', 0, true],
        ['web', 'c', 0, true],
      ],
    );
  });
});

describe('isOrphan', () => {
  const placed = (generation: number, observedGeneration: number): Application => {
    const a = app([component('web', 1)], {
      status: { observedGeneration, placements: [placement('web', 'a', 1)] },
    });
    return { ...a, metadata: { ...a.metadata, generation } };
  };
  const cases: { name: string; app?: Application; cluster: string; want: boolean }[] = [
    { name: 'the app is gone', cluster: 'a', want: true },
    { name: 'placed there', app: placed(1, 1), cluster: 'a', want: false },
    { name: 'not placed there, status current', app: placed(1, 1), cluster: 'b', want: true },
    {
      name: 'not placed there, a newer spec not yet reconciled',
      app: placed(2, 1),
      cluster: 'b',
      want: false,
    },
  ];
  for (const c of cases)
    it(c.name, () => assert.equal(isOrphan(workload('web'), c.cluster, c.app), c.want));
});
