// The steady-state fast path, table-driven: each reason a pass must place
// again instead of reusing its status, and the plan the status gives.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSteady, planOfStatus, type SteadyInput } from '../src/controllers/application/steady.ts';
import type { Application } from '../src/model/schema.ts';
import { NOW, app, component, placement } from './controllers.application.fixtures.ts';

const previous = [placement('web', 'a', 2), placement('web', 'b', 3, { assigned: 1 })];
const placed = (over: Partial<NonNullable<Application['status']>> = {}) =>
  app([component('web', 3)], {
    status: {
      observedGeneration: 1,
      placements: previous,
      conditions: [{ type: 'Ready', status: 'True', reason: 'AllReplicasReady' }],
      ...over,
    },
  });
const steady = (over: Partial<SteadyInput> = {}): SteadyInput => ({
  app: placed(),
  previous,
  current: { web: { a: 2, b: 1 } },
  fromCurrent: true,
  rebalancing: false,
  held: new Set(),
  failedOver: new Set(),
  plannedThisEpoch: true,
  replanAtMs: Infinity,
  nowMs: NOW,
  ...over,
});

describe('isSteady', () => {
  const cases: { name: string; input: SteadyInput; want: boolean }[] = [
    { name: 'placed, Ready, running what was assigned', input: steady(), want: true },
    { name: 'a rebalance', input: steady({ rebalancing: true }), want: false },
    { name: 'a failback changed current', input: steady({ fromCurrent: false }), want: false },
    { name: 'a held cluster', input: steady({ held: new Set(['a']) }), want: false },
    { name: 'a failed-over cluster', input: steady({ failedOver: new Set(['b']) }), want: false },
    { name: 'never placed', input: steady({ previous: [] }), want: false },
    {
      name: 'a new generation',
      input: steady({ app: { ...placed(), metadata: { name: 'shop', generation: 2 } } }),
      want: false,
    },
    {
      name: 'Unschedulable last time',
      input: steady({
        app: placed({ conditions: [{ type: 'Ready', status: 'False', reason: 'Unschedulable' }] }),
      }),
      want: false,
    },
    {
      name: 'a placement runs less than assigned',
      input: steady({ current: { web: { a: 2 } } }),
      want: false,
    },
    {
      name: 'planned in an older fleet epoch',
      input: steady({ plannedThisEpoch: false }),
      want: false,
    },
    { name: 'a spread re-plan is due', input: steady({ replanAtMs: NOW }), want: false },
    { name: 'a spread re-plan later', input: steady({ replanAtMs: NOW + 1 }), want: true },
  ];
  for (const c of cases) it(c.name, () => assert.equal(isSteady(c.input), c.want));
});

describe('planOfStatus', () => {
  it('assigns each active placement what it was assigned, per component, nothing unplaced', () => {
    const a = app([component('web', 3), component('db', 1)], {
      status: { reasons: [{ count: 1, reason: 'why' }] },
    });
    const plan = planOfStatus(a, previous);
    assert.deepEqual(
      plan.components.map((c) => [
        c.component,
        c.assignments.map((x) => [x.cluster, x.replicas, x.kept]),
        c.unplaced,
      ]),
      [
        [
          'web',
          [
            ['a', 2, 2],
            ['b', 1, 1],
          ],
          0,
        ],
        ['db', [], 0],
      ],
    );
    assert.deepEqual(plan.reasons, [{ count: 1, reason: 'why' }]);
  });
});
