// Make before break, table-driven: which workloads are written, what each
// placement records, surges and draining while replacements are not ready;
// and, as a property, that no replica being replaced is let go before every
// replacement is ready.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { placementKey } from '../src/controllers/application/observed.ts';
import {
  replacementsReady,
  rolloutComponent,
  type RolloutInput,
} from '../src/controllers/application/rollout.ts';
import { workloadFor } from '../src/controllers/application/workloads.ts';
import type { PlacementStatus } from '../src/model/schema.ts';
import {
  NOW,
  app,
  cluster,
  component,
  fleet,
  observations,
  placement,
  workload,
} from './controllers.application.fixtures.ts';

const web = component('web', 4);
const shop = app([web]);
const clusters = fleet(cluster('a'), cluster('b'), cluster('c'), cluster('down', 'False'));
const hashFor = (cn: string, replicas: number) =>
  workloadFor(shop, web, clusters.get(cn)!, replicas).hash;
/** A listed workload running `replicas` at the hash the plan would give it, `ready` of them ready. */
const running = (cn: string, replicas: number, ready = replicas) =>
  workload('web', { hash: hashFor(cn, replicas), desired: replicas, scheduled: replicas, ready });

const rollout = (over: Partial<RolloutInput>) =>
  rolloutComponent({
    app: shop,
    component: web,
    assignments: [],
    reachable: clusters,
    previous: [],
    previousAll: [],
    held: new Set(),
    observed: new Map(),
    sent: new Map(),
    clusters,
    ...over,
  });

describe('rolloutComponent', () => {
  it('a new workload is written and starts with nothing ready', () => {
    const r = rollout({ assignments: [{ cluster: 'a', replicas: 4 }] });
    assert.deepEqual(
      r.workloads.map((w) => [w.cluster, w.apply, w.spec.replicas, w.placement.ready]),
      [['a', true, 4, 0]],
    );
    assert.deepEqual(r.keep, [placementKey('web', 'a')]);
  });

  it('a workload already at its hash is not written; its status is recorded', () => {
    const ws = { ...running('a', 4, 3), endpoints: [{ address: '127.0.0.1', port: 80 }] };
    const r = rollout({
      assignments: [{ cluster: 'a', replicas: 4 }],
      previous: [placement('web', 'a', 4)],
      observed: observations([['web', 'a', ws]]),
    });
    assert.equal(r.workloads[0]?.apply, false);
    assert.equal(r.workloads[0]?.placement.ready, 3);
    assert.deepEqual(r.workloads[0]?.placement.endpoints, ws.endpoints);
  });

  const writes: {
    name: string;
    listed: ReturnType<typeof workload>;
    sentAt?: number;
    held?: boolean;
    apply: boolean;
    ready: number;
  }[] = [
    {
      name: 'a write in flight (listing no newer than it) is not repeated; the stale status is not used',
      listed: workload('web', { hash: 'old', ready: 4 }),
      sentAt: NOW,
      apply: false,
      ready: 2,
    },
    {
      name: 'a listing newer than the write that still shows another hash: written again',
      listed: workload('web', { hash: 'old', ready: 4 }),
      sentAt: NOW - 1,
      apply: true,
      ready: 2,
    },
    {
      name: 'a held cluster is never written; what it lists stands',
      listed: workload('web', { hash: 'old', ready: 1 }),
      held: true,
      apply: false,
      ready: 1,
    },
  ];
  for (const c of writes)
    it(c.name, () => {
      const r = rollout({
        assignments: [{ cluster: 'a', replicas: 4 }],
        previous: [placement('web', 'a', 4, { ready: 2 })],
        held: new Set(c.held ? ['a'] : []),
        observed: observations([['web', 'a', c.listed]]),
        sent: new Map(
          c.sentAt !== undefined
            ? [[placementKey('web', 'a'), { hash: hashFor('a', 4), at: c.sentAt }]]
            : [],
        ),
      });
      assert.equal(r.workloads[0]?.apply, c.apply);
      assert.equal(r.workloads[0]?.placement.ready, c.ready);
    });

  const moves: {
    name: string;
    previous: PlacementStatus[];
    previousAll?: PlacementStatus[];
    assignments: { cluster: string; replicas: number }[];
    listed: [string, ReturnType<typeof workload>][];
    /** cluster: [desired, assigned] */
    workloads: Record<string, [number, number | undefined]>;
    draining: Record<string, number>;
  }[] = [
    {
      name: 'moving a to b: a drains, still serving, while b is not ready',
      previous: [placement('web', 'a', 4)],
      assignments: [{ cluster: 'b', replicas: 4 }],
      listed: [
        ['a', running('a', 4)],
        ['b', running('b', 4, 1)],
      ],
      workloads: { b: [4, undefined] },
      draining: { a: 4 },
    },
    {
      name: 'moving a to b: a goes once b is ready',
      previous: [placement('web', 'a', 4)],
      assignments: [{ cluster: 'b', replicas: 4 }],
      listed: [['b', running('b', 4)]],
      workloads: { b: [4, undefined] },
      draining: {},
    },
    {
      name: 'shrinking a while c grows: a surges at its old count until c is ready',
      previous: [placement('web', 'a', 4)],
      assignments: [
        { cluster: 'a', replicas: 2 },
        { cluster: 'c', replicas: 2 },
      ],
      listed: [
        ['a', running('a', 4)],
        ['c', running('c', 2, 0)],
      ],
      workloads: { a: [4, 2], c: [2, undefined] },
      draining: {},
    },
    {
      name: 'draining on a NotReady cluster serves nothing',
      previous: [placement('web', 'down', 4)],
      assignments: [{ cluster: 'b', replicas: 4 }],
      listed: [
        ['down', running('down', 4)],
        ['b', running('b', 4, 0)],
      ],
      workloads: { b: [4, undefined] },
      draining: { down: 0 },
    },
    {
      name: 'a placement draining since an earlier pass keeps draining',
      previous: [placement('web', 'b', 4)],
      previousAll: [placement('web', 'b', 4), placement('web', 'a', 4, { draining: true })],
      assignments: [{ cluster: 'b', replicas: 4 }],
      listed: [
        ['a', running('a', 4, 2)],
        ['b', running('b', 4, 3)],
      ],
      workloads: { b: [4, undefined] },
      draining: { a: 2 },
    },
    {
      name: 'an assignment no driver serves is skipped and does not hold the rollout',
      previous: [placement('web', 'a', 4)],
      assignments: [
        { cluster: 'b', replicas: 2 },
        { cluster: 'nowhere', replicas: 2 },
      ],
      listed: [['b', running('b', 2)]],
      workloads: { b: [2, undefined] },
      draining: {},
    },
  ];
  for (const c of moves)
    it(c.name, () => {
      const r = rollout({
        assignments: c.assignments,
        previous: c.previous,
        previousAll: c.previousAll ?? c.previous,
        observed: observations(c.listed.map(([cn, ws]) => ['web', cn, ws] as const)),
      });
      assert.deepEqual(
        Object.fromEntries(
          r.workloads.map((w) => [w.cluster, [w.spec.replicas, w.placement.assigned]]),
        ),
        c.workloads,
      );
      assert.deepEqual(Object.fromEntries(r.draining.map((p) => [p.cluster, p.ready])), c.draining);
      assert.ok(r.draining.every((p) => p.draining === true));
      assert.deepEqual(
        [...r.keep].sort(),
        [...Object.keys(c.workloads), ...Object.keys(c.draining)]
          .map((cn) => placementKey('web', cn))
          .sort(),
      );
    });

  it('property: while a replacement is short of ready replicas, every replica being replaced keeps running', () => {
    const names = ['a', 'b', 'c'];
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 3, maxLength: 3 }),
        fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 3, maxLength: 3 }),
        fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 3, maxLength: 3 }),
        (before, after, readyNow) => {
          const previous = names.flatMap((cn, i) =>
            before[i]! > 0 ? [placement('web', cn, before[i]!)] : [],
          );
          const assignments = names.flatMap((cn, i) =>
            after[i]! > 0 ? [{ cluster: cn, replicas: after[i]! }] : [],
          );
          const observed = observations(
            names.map((cn, i) => [
              'web',
              cn,
              running(cn, Math.max(before[i]!, after[i]!), readyNow[i]),
            ]),
          );
          const input = { assignments, previous, previousAll: previous, observed };
          const r = rollout(input);
          const ready = replacementsReady({
            app: shop,
            component: web,
            assignments,
            reachable: clusters,
            held: new Set(),
            observed,
          });
          // What keeps running per cluster: its workload's spec, or its draining placement.
          const kept = new Map<string, number>();
          for (const w of r.workloads) kept.set(w.cluster, w.spec.replicas);
          for (const p of r.draining) kept.set(p.cluster, p.desired);
          for (const p of previous) {
            const want = ready ? (after[names.indexOf(p.cluster)] ?? 0) : p.desired;
            assert.ok((kept.get(p.cluster) ?? 0) >= want, `${p.cluster}`);
            if (!ready) assert.ok(r.keep.includes(placementKey('web', p.cluster)));
          }
          if (ready) assert.deepEqual(r.draining, []);
        },
      ),
      { seed: 14, numRuns: 300 },
    );
  });
});
