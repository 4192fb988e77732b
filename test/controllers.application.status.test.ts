// The status a pass writes, table-driven: replica counts (ready replicas
// count up to what the plan assigns, draining ones included), the Ready
// condition and its events, spread-move events, and when the app is looked
// at again.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decideStatus,
  onlyUndeletable,
  requeueAfterMs,
  respreadNotes,
  type RequeueInput,
  type StatusInput,
} from '../src/controllers/application/status.ts';
import type { Condition, PlacementStatus } from '../src/model/schema.ts';
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

const planWith = (unplaced = 0, spreadMoves?: { from: string; to: string }[]): AppPlan => ({
  app: 'shop',
  components: [
    { component: 'web', assignments: [], unplaced, ...(spreadMoves ? { spreadMoves } : {}) },
  ],
  reasons: [{ component: 'web', count: 1, reason: 'r' }],
  explanation: [],
});
const status = (over: Partial<StatusInput> = {}) =>
  decideStatus({
    app: app([component('web', 4)]),
    plan: planWith(),
    placements: [],
    displaced: [],
    rebalanceRequest: undefined,
    rebalancing: false,
    nowMs: NOW,
    ...over,
  });

describe('decideStatus', () => {
  const cases: {
    name: string;
    placements: PlacementStatus[];
    unplaced?: number;
    replicas: { desired: number; ready: number };
    reason: string;
    migrating: boolean;
  }[] = [
    {
      name: 'every assigned replica ready',
      placements: [placement('web', 'a', 2), placement('web', 'b', 2)],
      replicas: { desired: 4, ready: 4 },
      reason: 'AllReplicasReady',
      migrating: false,
    },
    {
      name: 'draining replicas serve: they count up to the target',
      placements: [
        placement('web', 'b', 4, { ready: 1 }),
        placement('web', 'a', 4, { ready: 4, draining: true }),
      ],
      replicas: { desired: 4, ready: 4 },
      reason: 'AllReplicasReady',
      migrating: true,
    },
    {
      name: 'a surge is migrating; its target is what it is assigned',
      placements: [
        placement('web', 'a', 4, { assigned: 2, ready: 1 }),
        placement('web', 'c', 2, { ready: 0 }),
      ],
      replicas: { desired: 4, ready: 1 },
      reason: 'Progressing',
      migrating: true,
    },
    {
      name: 'unplaced replicas: Unschedulable',
      placements: [placement('web', 'a', 3)],
      unplaced: 1,
      replicas: { desired: 3, ready: 3 },
      reason: 'Unschedulable',
      migrating: false,
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const got = status({ placements: c.placements, plan: planWith(c.unplaced) });
      assert.deepEqual(got.status.replicas, c.replicas);
      assert.equal(got.ready.reason, c.reason);
      assert.equal(got.migrating, c.migrating);
      assert.deepEqual(got.status.conditions, [got.ready]);
      assert.equal(got.status.placements, c.placements);
      assert.deepEqual(got.status.reasons, planWith().reasons);
    });

  it('records displaced replicas, the rebalance done, and colocation only when present', () => {
    const displaced = [
      { component: 'web', cluster: 'a', replicas: 1, replacedBy: [], since: ago(1) },
    ];
    const colocation = { components: [] };
    const cases: { input: Partial<StatusInput>; want: object }[] = [
      { input: {}, want: {} },
      { input: { displaced }, want: { displaced } },
      { input: { rebalanceRequest: 't2', rebalancing: true }, want: { rebalanced: 't2' } },
      { input: { rebalanceRequest: 't2', rebalancing: false }, want: { rebalanced: '' } },
      { input: { colocation }, want: { colocation } },
    ];
    for (const c of cases) {
      const { displaced: d, rebalanced, colocation: k } = status(c.input).status;
      assert.deepEqual(
        {
          ...(d ? { displaced: d } : {}),
          ...(rebalanced !== undefined ? { rebalanced } : {}),
          ...(k ? { colocation: k } : {}),
        },
        c.want,
      );
    }
  });

  it('warns once when the progress deadline passes', () => {
    const stalled: Condition = {
      type: 'Ready',
      status: 'False',
      reason: 'Progressing',
      lastTransitionTime: ago(700),
      lastProgressTime: ago(700),
    };
    const appWith = (cond: Condition) =>
      app([component('web', 4)], {
        status: { observedGeneration: 1, conditions: [cond], replicas: { desired: 4, ready: 0 } },
      });
    const placements = [placement('web', 'a', 4, { ready: 0 })];
    const first = status({ app: appWith(stalled), placements });
    assert.equal(first.ready.reason, 'ProgressDeadlineExceeded');
    assert.deepEqual(
      first.notes.map((n) => [n.type, n.reason]),
      [['Warning', 'ProgressDeadlineExceeded']],
    );
    assert.deepEqual(status({ app: appWith(first.ready), placements }).notes, []);
  });
});

describe('respreadNotes', () => {
  it('one event per route, with its count', () => {
    const notes = respreadNotes(
      planWith(0, [
        { from: 'a', to: 'b' },
        { from: 'a', to: 'b' },
        { from: 'a', to: 'c' },
      ]),
    );
    assert.deepEqual(
      notes.map((n) => n.message),
      [
        '2 replicas of web move from a to b to meet the spread minimum',
        '1 replica of web move from a to c to meet the spread minimum',
      ],
    );
  });
});

describe('onlyUndeletable', () => {
  const clusters = fleet(cluster('up'), cluster('down', 'False'));
  const cases: { name: string; placements: PlacementStatus[]; want: boolean }[] = [
    { name: 'nothing draining', placements: [placement('web', 'up', 2)], want: true },
    {
      name: 'draining on a NotReady cluster only',
      placements: [placement('web', 'down', 2, { draining: true })],
      want: true,
    },
    {
      name: 'draining on a Ready cluster',
      placements: [placement('web', 'up', 2, { draining: true })],
      want: false,
    },
    {
      name: 'draining on a cluster that is gone',
      placements: [placement('web', 'gone', 2, { draining: true })],
      want: false,
    },
    {
      name: 'a surge',
      placements: [placement('web', 'up', 4, { assigned: 2 })],
      want: false,
    },
  ];
  for (const c of cases)
    it(c.name, () => assert.equal(onlyUndeletable(c.placements, clusters), c.want));
});

describe('requeueAfterMs', () => {
  const ready: Condition = { type: 'Ready', status: 'True', reason: 'AllReplicasReady' };
  const requeue = (over: Partial<RequeueInput>) =>
    requeueAfterMs({
      app: app([component('web', 2), component('api', 2, { ports: [{ port: 80 }] })]),
      placements: [placement('web', 'a', 2)],
      ready,
      migrating: false,
      clusters: fleet(cluster('a'), cluster('down', 'False')),
      colocated: false,
      reservationsMoved: false,
      resyncMs: 30_000,
      sampleMs: 10_000,
      wakeAtMs: Infinity,
      nowMs: NOW,
      ...over,
    });
  const cases: { name: string; input: Partial<RequeueInput>; want: number }[] = [
    { name: 'settled: the resync', input: {}, want: 30_000 },
    { name: 'not Ready: polled', input: { ready: { ...ready, status: 'False' } }, want: 500 },
    {
      name: 'a ready placement with ports and no endpoints yet: polled',
      input: { placements: [placement('api', 'a', 2)] },
      want: 500,
    },
    {
      name: 'draining on a Ready cluster: polled',
      input: { migrating: true, placements: [placement('web', 'a', 2, { draining: true })] },
      want: 500,
    },
    {
      name: 'draining only on a NotReady cluster: the resync',
      input: { migrating: true, placements: [placement('web', 'down', 2, { draining: true })] },
      want: 30_000,
    },
    { name: 'colocated: once per sample interval', input: { colocated: true }, want: 10_000 },
    { name: 'a reservation moved: polled', input: { reservationsMoved: true }, want: 500 },
    { name: 'a timer sooner', input: { wakeAtMs: NOW + 1234 }, want: 1234 },
    { name: 'never sooner than 50 ms', input: { wakeAtMs: NOW - 10 }, want: 50 },
  ];
  for (const c of cases) it(c.name, () => assert.equal(requeue(c.input), c.want));
});
