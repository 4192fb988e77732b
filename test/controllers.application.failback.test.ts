// Failback and rebalance, table-driven: what the scheduler is told runs now
// when displaced replicas return or every replica is placed afresh; and, as a
// property, that failback never takes more than it gives back nor leaves a
// cluster below zero.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decideFailback } from '../src/controllers/application/failback.ts';
import type { Displaced } from '../src/controllers/application/failover.ts';
import type { ReplicaCounts } from '../src/controllers/application/running.ts';
import type { Cluster } from '../src/model/schema.ts';
import { NOW, ago, app, cluster, component, fleet } from './controllers.application.fixtures.ts';

const policy = { enabled: true, graceMs: 0, failback: true, stabilizationMs: 60_000 };
const displacedFromA = (replicas = 2, replacedBy = ['b']): Displaced => ({
  component: 'web',
  cluster: 'a',
  replicas,
  replacedBy,
  since: ago(600),
});

describe('decideFailback', () => {
  const cases: {
    name: string;
    a?: Cluster;
    displaced?: Displaced[];
    failback?: boolean;
    rebalance?: { request?: string; done?: string };
    current?: ReplicaCounts;
    planFrom: ReplicaCounts;
    fromCurrent?: boolean;
    kept: number;
    notes: string[];
    wakeAtMs?: number;
  }[] = [
    {
      name: 'nothing displaced, no rebalance: current as it is',
      planFrom: { web: { b: 4 } },
      fromCurrent: true,
      kept: 0,
      notes: [],
    },
    {
      name: 'a new rebalance request: a fresh plan, displaced records dropped',
      displaced: [displacedFromA()],
      rebalance: { request: 't2', done: 't1' },
      planFrom: {},
      kept: 0,
      notes: ['Rebalance'],
    },
    {
      name: 'a rebalance already done: nothing afresh',
      rebalance: { request: 't1', done: 't1' },
      planFrom: { web: { b: 4 } },
      fromCurrent: true,
      kept: 0,
      notes: [],
    },
    {
      name: 'Ready past the stabilisation window: the replicas return, taken from their replacement',
      a: cluster('a', 'True', 61),
      displaced: [displacedFromA()],
      planFrom: { web: { a: 2, b: 2 } },
      kept: 0,
      notes: ['Failback'],
    },
    {
      name: 'a replacement that no longer runs them gives what it has, then nothing',
      a: cluster('a', 'True', 61),
      displaced: [displacedFromA(6, ['c', 'b'])],
      current: { web: { b: 4, c: 1 } },
      planFrom: { web: { a: 6 } },
      kept: 0,
      notes: ['Failback'],
    },
    {
      name: 'Ready inside the window: kept, woken when it ends',
      a: cluster('a', 'True', 20),
      displaced: [displacedFromA()],
      planFrom: { web: { b: 4 } },
      kept: 1,
      notes: [],
      wakeAtMs: NOW + 40_000,
    },
    {
      name: 'still NotReady: kept',
      a: cluster('a', 'False', 3600),
      displaced: [displacedFromA()],
      planFrom: { web: { b: 4 } },
      kept: 1,
      notes: [],
    },
    {
      name: 'Ready with contact lost: kept',
      a: cluster('a', 'True', 3600, 'ContactLost'),
      displaced: [displacedFromA()],
      planFrom: { web: { b: 4 } },
      kept: 1,
      notes: [],
    },
    {
      name: 'failback off: the record is dropped, nothing returns',
      a: cluster('a', 'True', 3600),
      displaced: [displacedFromA()],
      failback: false,
      planFrom: { web: { b: 4 } },
      kept: 0,
      notes: [],
    },
    {
      name: 'the cluster is gone: the record is dropped',
      displaced: [displacedFromA()],
      planFrom: { web: { b: 4 } },
      kept: 0,
      notes: [],
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const current = c.current ?? { web: { b: 4 } };
      const a = app([component('web', 4)], {
        status: {
          ...(c.displaced ? { displaced: c.displaced } : {}),
          ...(c.rebalance?.done !== undefined ? { rebalanced: c.rebalance.done } : {}),
        },
      });
      const got = decideFailback({
        app: a,
        current,
        clusters: fleet(...(c.a ? [c.a] : []), cluster('b'), cluster('c')),
        policy: { ...policy, failback: c.failback ?? true },
        rebalanceRequest: c.rebalance?.request,
        nowMs: NOW,
      });
      assert.deepEqual(got.planFrom, c.planFrom);
      assert.equal(got.fromCurrent, c.fromCurrent ?? false);
      if (got.fromCurrent) assert.equal(got.planFrom, current);
      assert.equal(got.displaced.length, c.kept);
      assert.deepEqual(
        got.notes.map((n) => n.reason),
        c.notes,
      );
      assert.equal(got.wakeAtMs, c.wakeAtMs ?? Infinity);
      assert.deepEqual(current, c.current ?? { web: { b: 4 } }, 'current is not changed');
    });

  it('property: a component never shrinks, grows by at most what returns, and no count is negative', () => {
    const names = ['a', 'b', 'c', 'd'];
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 4, maxLength: 4 }),
        fc.array(
          fc.record({
            from: fc.constantFrom(...names),
            replicas: fc.integer({ min: 1, max: 6 }),
            replacedBy: fc.subarray(names),
            settled: fc.boolean(),
          }),
          { maxLength: 3 },
        ),
        (counts, records) => {
          const current: ReplicaCounts = { web: {} };
          counts.forEach((n, i) => {
            if (n > 0) current.web![names[i]!] = n;
          });
          const displaced = records.map((r) => ({
            component: 'web',
            cluster: r.from,
            replicas: r.replicas,
            replacedBy: r.replacedBy.filter((x) => x !== r.from),
            since: ago(600),
          }));
          // A cluster is settled when any record from it says so.
          const settled = new Set(records.filter((r) => r.settled).map((r) => r.from));
          const got = decideFailback({
            app: app([component('web', 4)], { status: { displaced } }),
            current,
            clusters: fleet(...names.map((n) => cluster(n, 'True', settled.has(n) ? 3600 : 10))),
            policy,
            rebalanceRequest: undefined,
            nowMs: NOW,
          });
          const total = (r: ReplicaCounts) => Object.values(r.web ?? {}).reduce((s, n) => s + n, 0);
          const returned = displaced
            .filter((d) => settled.has(d.cluster))
            .reduce((s, d) => s + d.replicas, 0);
          assert.ok(total(got.planFrom) >= total(current));
          assert.ok(total(got.planFrom) <= total(current) + returned);
          assert.ok(Object.values(got.planFrom.web ?? {}).every((n) => n > 0));
          assert.equal(
            got.displaced.length,
            displaced.length - displaced.filter((d) => settled.has(d.cluster)).length,
          );
        },
      ),
      { seed: 14, numRuns: 300 },
    );
  });
});
