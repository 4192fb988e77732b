// Colocation mode with cpu time profiles, table-driven: admission (the
// summed profile under the limit in all but the budget's slots, never over
// capacity), node choice (the least growth of the profile penalty), the mix
// with replicas without profile, and the report.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { schedule, Scheduler, type ColocationOptions } from '../src/scheduler/index.ts';
import { app, clusterInfo, comp, fleet, node } from './scheduler.fixtures.ts';

/** A scheduler on `count` nodes of 10 cores in one cluster. */
function colocation(count: number, options: ColocationOptions) {
  const snap = fleet([
    {
      info: clusterInfo('a-1'),
      nodes: Array.from({ length: count }, () => node({ cpuMilli: 10000, memoryMiB: 1e6 })),
    },
  ]);
  return new Scheduler(snap, { seed: 1, mode: 'colocation', colocation: options });
}

/** Places one one-replica app per profile (a number alone: a replica without profile at that p95) and returns each one's node, -1 when unplaced. */
function placeAll(s: Scheduler, replicas: readonly (readonly number[] | number)[]): number[] {
  return replicas.map((p, k) => {
    const usage =
      typeof p === 'number' ? { cpuMilli: p } : { cpuMilli: Math.max(...p), cpuProfileMilli: p };
    const plan = s.scheduleApp(app(`vm-${k}`, [comp('vm', 1, { cpuMilli: 8000 }, { usage })]));
    return plan.components[0]!.assignments[0]?.nodes[0] ?? -1;
  });
}

describe('colocation with cpu profiles', () => {
  const cases: {
    name: string;
    nodes: number;
    options: ColocationOptions;
    replicas: (number[] | number)[];
    want: number[];
  }[] = [
    {
      name: 'replicas that peak at different times share a node (their p95s would not)',
      nodes: 2,
      options: { cpuLimit: 0.8 },
      replicas: [
        [7000, 0, 0, 0],
        [0, 7000, 0, 0],
      ],
      want: [0, 0],
    },
    {
      name: 'replicas that peak together go to different nodes',
      nodes: 2,
      options: { cpuLimit: 0.8 },
      replicas: [
        [7000, 0, 0, 0],
        [7000, 0, 0, 0],
      ],
      want: [0, 1],
    },
    {
      name: 'no slot above the limit without a budget',
      nodes: 1,
      options: { cpuLimit: 0.8, profileOverloadBudget: 0 },
      replicas: [
        [7000, 7000, 0, 0],
        [2000, 0, 0, 0],
      ],
      want: [0, -1],
    },
    {
      name: 'a budget of one slot in four admits one slot above the limit',
      nodes: 1,
      options: { cpuLimit: 0.8, profileOverloadBudget: 0.25 },
      replicas: [
        [7000, 7000, 0, 0],
        [2000, 0, 0, 0],
        [0, 2000, 0, 0],
      ],
      want: [0, 0, -1],
    },
    {
      name: 'never above capacity, whatever the budget',
      nodes: 1,
      options: { cpuLimit: 0.8, profileOverloadBudget: 1 },
      replicas: [
        [7000, 0, 0, 0],
        [4000, 0, 0, 0],
      ],
      want: [0, -1],
    },
    {
      name: 'balances predicted use: the emptier node takes the next replica (best fit would not)',
      nodes: 2,
      options: { cpuLimit: 0.8 },
      replicas: [
        [4000, 4000, 4000, 4000],
        [3000, 3000, 3000, 3000],
        [1000, 1000, 1000, 1000],
      ],
      want: [0, 1, 1],
    },
    {
      name: 'a replica without profile sees the profiled peaks as used (clipped at the limit)',
      nodes: 1,
      options: { cpuLimit: 0.8 },
      replicas: [[6000, 0, 0, 0], 2000, 1000],
      want: [0, 0, -1],
    },
    {
      name: 'a profile adds to what replicas without profile use at their p95',
      nodes: 1,
      options: { cpuLimit: 0.8, profileOverloadBudget: 0 },
      replicas: [5000, [3000, 0, 0, 0], [0, 4000, 0, 0]],
      want: [0, 0, -1],
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      assert.deepEqual(placeAll(colocation(c.nodes, c.options), c.replicas), c.want);
    });

  it('reports the share of predicted slots above the overload threshold', () => {
    const s = colocation(1, { cpuLimit: 0.8, overloadThreshold: 0.75 });
    assert.deepEqual(
      placeAll(s, [
        [7000, 7000, 0, 0],
        [1000, 0, 0, 0],
      ]),
      [0, 0],
    );
    const report = s.result([]).colocation!;
    assert.equal(report.profileSlots, 4);
    assert.equal(report.maxProfileOverloadShare, 0.25); // node 0: 8000 > 7500 in slot 0 only
    assert.equal(report.top.length, 1);
    assert.equal(report.top[0]!.node, 0);
    assert.equal(report.top[0]!.profileOverloadShare, 0.25);
    assert.equal(report.top[0]!.overloadProbability, 0.25);
  });

  it('rejects profiles whose slots do not line up', () => {
    const s = colocation(1, {});
    placeAll(s, [[1000, 1000]]);
    assert.throws(() => placeAll(s, [[1000, 1000, 1000]]), RangeError);
  });
});

describe('colocation in place (the application controller)', () => {
  it('bounds its placements by the limit and gives the snapshot its capacities back', () => {
    const snap = fleet([
      {
        info: clusterInfo('a-1'),
        nodes: [node({ cpuMilli: 10000, memoryMiB: 100_000 })],
      },
    ]);
    const result = schedule(
      snap,
      [app('batch', [comp('w', 10, { cpuMilli: 2000 }, { usage: { cpuMilli: 1000 } })])],
      { seed: 1, mode: 'colocation', colocation: { cpuLimit: 0.8 }, inPlace: true },
    );
    // 8 of 10 fit under 0.8 x 10 cores at their 1-core reservations.
    assert.equal(result.placed, 8);
    assert.equal(snap.nodes.cpuCap[0], 10000);
    assert.equal(snap.nodes.memCap[0], 100_000);
    assert.equal(snap.nodes.cpuUsed[0], 8000);
  });
});
