// Failover decisions, table-driven: the effective policy, which NotReady
// clusters hold an app's replicas and which lose them, the displaced records
// failback reads; and, as a property, that replicas on a NotReady cluster past
// its grace never count as running anywhere.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  decideFailover,
  failoverPolicy,
  failoverRecords,
  type Displaced,
} from '../src/controllers/application/failover.ts';
import { runningReplicas } from '../src/controllers/application/running.ts';
import type { Application, PlacementStatus } from '../src/model/schema.ts';
import type { AppPlan } from '../src/scheduler/index.ts';
import {
  NOW,
  ago,
  app,
  cluster,
  component,
  fleet,
  placement,
} from './controllers.application.fixtures.ts';

describe('failoverPolicy', () => {
  const cases: { name: string; failover?: Application['spec']['failover']; want: object }[] = [
    {
      name: 'defaults: failover and failback on, no grace, the default stabilisation',
      want: { enabled: true, graceMs: 0, failback: true, stabilizationMs: 60_000 },
    },
    {
      name: 'a grace period in seconds',
      failover: { gracePeriodSeconds: 30 },
      want: { enabled: true, graceMs: 30_000, failback: true },
    },
    {
      name: 'failover off turns failback off too',
      failover: { enabled: false, failback: { enabled: true } },
      want: { enabled: false, failback: false },
    },
    {
      name: 'failback off alone',
      failover: { failback: { enabled: false, stabilizationSeconds: 5 } },
      want: { enabled: true, failback: false, stabilizationMs: 5000 },
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const got = failoverPolicy(
        app([component('web', 1)], c.failover ? { spec: { failover: c.failover } } : {}),
      );
      for (const [k, v] of Object.entries(c.want)) assert.equal(got[k as keyof typeof got], v, k);
    });
});

describe('decideFailover', () => {
  const on = { enabled: true, graceMs: 30_000, failback: true, stabilizationMs: 60_000 };
  const cases: {
    name: string;
    clusters: ReturnType<typeof cluster>[];
    policy?: typeof on;
    held: string[];
    failedOver: string[];
    wakeAtMs: number;
  }[] = [
    {
      name: 'a Ready cluster keeps its replicas, no timer',
      clusters: [cluster('a')],
      held: [],
      failedOver: [],
      wakeAtMs: Infinity,
    },
    {
      name: 'NotReady inside the grace: held until the grace ends',
      clusters: [cluster('a', 'False', 10)],
      held: ['a'],
      failedOver: [],
      wakeAtMs: NOW + 20_000,
    },
    {
      name: 'NotReady for exactly the grace: failed over',
      clusters: [cluster('a', 'False', 30)],
      held: [],
      failedOver: ['a'],
      wakeAtMs: Infinity,
    },
    {
      name: 'Unknown counts as NotReady',
      clusters: [cluster('a', 'Unknown', 300)],
      held: [],
      failedOver: ['a'],
      wakeAtMs: Infinity,
    },
    {
      name: 'failover off: held for ever, no timer',
      clusters: [cluster('a', 'False', 3600)],
      policy: { ...on, enabled: false },
      held: ['a'],
      failedOver: [],
      wakeAtMs: Infinity,
    },
    {
      name: 'a cluster gone from the fleet is neither',
      clusters: [],
      held: [],
      failedOver: [],
      wakeAtMs: Infinity,
    },
    {
      name: 'the earliest grace end wins',
      clusters: [cluster('a', 'False', 10), cluster('b', 'False', 25)],
      held: ['a', 'b'],
      failedOver: [],
      wakeAtMs: NOW + 5000,
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const previous = [placement('web', 'a', 2), placement('web', 'b', 1)];
      const got = decideFailover(previous, fleet(...c.clusters), c.policy ?? on, NOW);
      assert.deepEqual([...got.held].sort(), c.held);
      assert.deepEqual([...got.failedOver].sort(), c.failedOver);
      assert.equal(got.wakeAtMs, c.wakeAtMs);
    });

  it('property: a NotReady cluster is held or failed over, never both; past the grace with failover on it is failed over and runs nothing', () => {
    const clusterArb = fc.record({
      status: fc.constantFrom<'True' | 'False' | 'Unknown'>('True', 'False', 'Unknown'),
      since: fc.integer({ min: 0, max: 600 }),
      replicas: fc.integer({ min: 1, max: 5 }),
    });
    fc.assert(
      fc.property(
        fc.array(clusterArb, { minLength: 1, maxLength: 6 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 300 }),
        (specs, enabled, graceSeconds) => {
          const clusters = specs.map((s, i) => cluster(`c${i}`, s.status, s.since));
          const previous = specs.map((s, i) => placement('web', `c${i}`, s.replicas));
          const policy = { ...on, enabled, graceMs: graceSeconds * 1000 };
          const byName = fleet(...clusters);
          const { held, failedOver } = decideFailover(previous, byName, policy, NOW);
          const { current } = runningReplicas({
            previous,
            clusters: byName,
            held,
            observed: new Map(),
            pendingSince: new Map(),
            nowMs: NOW,
          });
          specs.forEach((s, i) => {
            const name = `c${i}`;
            assert.ok(!(held.has(name) && failedOver.has(name)));
            if (s.status === 'True') assert.ok(!held.has(name) && !failedOver.has(name));
            else assert.ok(held.has(name) || failedOver.has(name));
            if (s.status !== 'True' && enabled && s.since >= graceSeconds) {
              assert.ok(failedOver.has(name), name);
              assert.equal(current.web?.[name], undefined, name);
            }
          });
        },
      ),
      { seed: 14, numRuns: 300 },
    );
  });
});

describe('failoverRecords', () => {
  const plan = (assignments: Record<string, number>): AppPlan => ({
    app: 'shop',
    components: [
      {
        component: 'web',
        assignments: Object.entries(assignments).map(([cn, replicas]) => ({
          cluster: cn,
          clusterIndex: 0,
          replicas,
          kept: 0,
          nodes: new Int32Array(0),
        })),
        unplaced: 0,
      },
    ],
    reasons: [],
    explanation: [],
  });
  const previous: PlacementStatus[] = [
    placement('web', 'a', 3),
    placement('web', 'b', 1),
    placement('web', 'c', 2),
  ];
  const cases: {
    name: string;
    failedOver: string[];
    displaced?: Displaced[];
    failback?: boolean;
    want: Displaced[];
    notes: string[];
  }[] = [
    {
      name: 'nothing failed over: nothing recorded',
      failedOver: [],
      want: [],
      notes: [],
    },
    {
      name: 'replacedBy lists the clusters that grew, in plan order',
      failedOver: ['a'],
      want: [
        { component: 'web', cluster: 'a', replicas: 3, replacedBy: ['d', 'b'], since: ago(0) },
      ],
      notes: ['3 replicas of web leave NotReady cluster a for d, b'],
    },
    {
      name: 'a component already displaced from the cluster keeps its first record',
      failedOver: ['a'],
      displaced: [
        { component: 'web', cluster: 'a', replicas: 3, replacedBy: ['c'], since: ago(60) },
      ],
      want: [{ component: 'web', cluster: 'a', replicas: 3, replacedBy: ['c'], since: ago(60) }],
      notes: ['3 replicas of web leave NotReady cluster a for d, b'],
    },
    {
      name: 'failback off: the event only',
      failedOver: ['a'],
      failback: false,
      want: [],
      notes: ['3 replicas of web leave NotReady cluster a for d, b'],
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const got = failoverRecords({
        failedOver: new Set(c.failedOver),
        previous,
        plan: plan({ d: 2, b: 2, c: 2 }),
        displaced: c.displaced ?? [],
        failback: c.failback ?? true,
        nowMs: NOW,
      });
      assert.deepEqual(got.displaced, c.want);
      assert.deepEqual(
        got.notes.map((n) => n.message),
        c.notes,
      );
      assert.ok(got.notes.every((n) => n.type === 'Warning' && n.reason === 'Failover'));
    });
});
