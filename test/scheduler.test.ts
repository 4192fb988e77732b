// The global scheduler, table-driven: every feasibility check with its reason,
// every score, replica division, stickiness, node limits, colocation, and
// determinism for a seed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Placement } from '../src/model/schema.ts';
import type { NodeInput } from '../src/scheduler/index.ts';
import { seededRandom } from '../src/lib/random.ts';
import { Scheduler, divide, schedule } from '../src/scheduler/index.ts';
import type { ClusterInfo } from '../src/scheduler/index.ts';
import {
  app,
  assertPlanValid,
  clusterInfo,
  comp,
  fleet,
  node,
  perCluster,
} from './scheduler.fixtures.ts';

const nodes = (n: number, over: Partial<NodeInput> = {}) =>
  Array.from({ length: n }, () => node(over));

/** One component of `replicas` 1-core replicas on a fleet where cluster "ok-1" always fits. */
function rejection(
  bad: { info: ClusterInfo; nodes: NodeInput[] },
  placement: Placement | undefined,
  podOver: Parameters<typeof comp>[2] = {},
) {
  const snap = fleet([
    { info: clusterInfo('ok-1'), nodes: nodes(2, { gpus: 2, gpuModel: 'A100' }) },
    bad,
  ]);
  const r = schedule(snap, [app('a', [comp('web', 2, podOver)], placement)], { seed: 1 });
  return { result: r, expl: r.plans[0]!.explanation[0]! };
}

describe('feasibility checks', () => {
  const cases: {
    name: string;
    bad: Partial<ClusterInfo>;
    nodes?: Partial<NodeInput>;
    placement?: Placement;
    pod?: Parameters<typeof comp>[2];
    reason: string;
  }[] = [
    { name: 'health', bad: { ready: false }, reason: 'cluster not Ready' },
    {
      name: 'affinity: clouds',
      bad: { cloud: 'gcp' },
      placement: { clusterAffinity: { clouds: ['ok'] } },
      reason: 'cloud not in affinity (ok)',
    },
    {
      name: 'affinity: sites',
      bad: {},
      placement: { clusterAffinity: { sites: ['ok-1-site'] } },
      reason: 'site not in affinity (ok-1-site)',
    },
    {
      name: 'affinity: clusters',
      bad: {},
      placement: { clusterAffinity: { clusters: ['ok-1'] } },
      reason: 'cluster not in affinity',
    },
    {
      name: 'affinity: labelSelector',
      bad: { labels: { tier: 'staging' } },
      placement: {
        clusterAffinity: {
          labelSelector: {
            matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['staging'] }],
          },
        },
      },
      reason: 'labels do not match the label selector',
    },
    {
      name: 'affinity: exclude',
      bad: {},
      placement: { clusterAffinity: { exclude: { clusters: ['bad-1'] } } },
      reason: 'cluster excluded by placement',
    },
    {
      name: 'data residency',
      bad: { country: 'DE' },
      placement: { residency: { countries: ['US'] } },
      reason: 'data residency: country DE not allowed (US)',
    },
    {
      name: 'taints',
      bad: { taints: [{ key: 'edge', value: 'true', effect: 'NoSchedule' }] },
      reason: 'untolerated taint edge=true:NoSchedule',
    },
    {
      name: 'image architecture',
      bad: {},
      nodes: { arch: 'arm64' },
      pod: { architectures: ['amd64'] },
      reason: 'image has no arm64 variant',
    },
    {
      name: 'GPU: none',
      bad: {},
      pod: { gpuCount: 1, gpuMilli: 1000 },
      reason: 'no GPU nodes',
    },
    {
      name: 'GPU: model',
      bad: {},
      nodes: { gpus: 2, gpuModel: 'T4' },
      pod: { gpuCount: 1, gpuMilli: 1000, gpuModel: 'A100' },
      reason: 'no A100 GPUs',
    },
    {
      name: 'GPU: several models',
      bad: {},
      nodes: { gpus: 2, gpuModel: 'T4' },
      pod: { gpuCount: 1, gpuMilli: 1000, gpuModels: ['V100M32', 'A100'] },
      reason: 'no V100M32|A100 GPUs',
    },
    {
      name: 'GPU: count',
      bad: {},
      nodes: { gpus: 1, gpuModel: 'A100' },
      pod: { gpuCount: 2, gpuMilli: 1000, gpuModel: 'A100' },
      reason: 'no node has 2 A100 GPUs',
    },
    {
      name: 'node size',
      bad: {},
      nodes: { cpuMilli: 2000 },
      pod: { cpuMilli: 3000 },
      reason: 'no node large enough for one replica (3 cpu, 1Gi memory)',
    },
    {
      name: 'capacity',
      bad: {},
      nodes: { used: { cpuMilli: 3600, memoryMiB: 0, pods: 1 } },
      reason: 'insufficient cpu',
    },
    {
      name: 'capacity, fragmented',
      bad: {},
      nodes: { used: { cpuMilli: 3500, memoryMiB: 0, pods: 1 } },
      reason: 'no single node has room (free capacity is fragmented)',
    },
    {
      name: 'pods',
      bad: {},
      nodes: { pods: 1, used: { cpuMilli: 0, memoryMiB: 0, pods: 1 } },
      reason: 'no pod slots free',
    },
  ];
  for (const c of cases) {
    it(`${c.name}: rejected with "${c.reason}"`, () => {
      const bad = { info: clusterInfo('bad-1', c.bad), nodes: nodes(2, c.nodes) };
      const { result, expl } = rejection(bad, c.placement, c.pod);
      assert.deepEqual(perCluster(result), { 'ok-1': 2 });
      assert.deepEqual(expl.rejected, [{ count: 1, reason: c.reason }]);
      assert.equal(expl.feasible, 1);
    });
  }

  it('counts clusters per reason ("31 clusters: image has no arm64 variant")', () => {
    const specs = [
      { info: clusterInfo('x86-1'), nodes: nodes(1) },
      ...Array.from({ length: 31 }, (_, i) => ({
        info: clusterInfo(`arm-${i}`),
        nodes: nodes(1, { arch: 'arm64' }),
      })),
      ...Array.from({ length: 3 }, (_, i) => ({
        info: clusterInfo(`rv-${i}`),
        nodes: nodes(1, { arch: 'riscv64' }),
      })),
    ];
    const r = schedule(fleet(specs), [app('a', [comp('web', 1, { architectures: ['amd64'] })])], {
      seed: 1,
    });
    assert.deepEqual(r.plans[0]!.reasons, [
      { component: 'web', count: 31, reason: 'image has no arm64 variant' },
      { component: 'web', count: 3, reason: 'image has no riscv64 variant' },
    ]);
  });

  it('tolerations let a tainted cluster in; PreferNoSchedule never keeps one out', () => {
    const snap = fleet([
      {
        info: clusterInfo('edge-1', {
          taints: [{ key: 'edge', value: 'true', effect: 'NoSchedule' }],
        }),
        nodes: nodes(1),
      },
      {
        info: clusterInfo('soft-1', { taints: [{ key: 'spot', effect: 'PreferNoSchedule' }] }),
        nodes: nodes(1),
      },
    ]);
    const tolerated = schedule(
      snap,
      [app('a', [comp('w', 1)], { tolerations: [{ key: 'edge', operator: 'Exists' }] })],
      { seed: 1 },
    );
    assert.equal(tolerated.plans[0]!.explanation[0]!.feasible, 2);
    const plain = schedule(snap, [app('a', [comp('w', 1)])], { seed: 1 });
    assert.deepEqual(perCluster(plain), { 'soft-1': 1 });
  });

  it('replicas that fit nowhere are unplaced and said so', () => {
    const snap = fleet([{ info: clusterInfo('c-1'), nodes: nodes(1) }]);
    const r = schedule(snap, [app('a', [comp('w', 6)])], { seed: 1 });
    assert.equal(r.plans[0]!.components[0]!.unplaced, 2);
    assert.deepEqual(perCluster(r), { 'c-1': 4 });
    assert.ok(
      r.plans[0]!.reasons.some((x) => x.count === 2 && /could not be placed/.test(x.reason)),
    );
  });
});

describe('scores', () => {
  const two = (
    a: Partial<ClusterInfo>,
    b: Partial<ClusterInfo>,
    na: NodeInput[] = nodes(4),
    nb: NodeInput[] = nodes(4),
  ) =>
    fleet([
      { info: clusterInfo('a-1', a), nodes: na },
      { info: clusterInfo('b-1', b), nodes: nb },
    ]);
  const only = (w: keyof NonNullable<Placement['preferences']>): Placement['preferences'] => ({
    cost: 0,
    packing: 0,
    balance: 0,
    proximity: 0,
    [w]: 1,
  });
  const cases: {
    name: string;
    snap: () => ReturnType<typeof two>;
    prefs: Placement['preferences'];
    want: string;
  }[] = [
    {
      name: 'cost: the cheaper cluster',
      snap: () =>
        two(
          { prices: { cpuCoreHour: 0.05, memoryGiBHour: 0.005, gpuHour: 3 } },
          { prices: { cpuCoreHour: 0.02, memoryGiBHour: 0.002, gpuHour: 3 } },
        ),
      prefs: only('cost'),
      want: 'b-1',
    },
    {
      name: 'packing: the fuller cluster',
      snap: () =>
        two({}, {}, nodes(4), nodes(4, { used: { cpuMilli: 2000, memoryMiB: 8192, pods: 2 } })),
      prefs: only('packing'),
      want: 'b-1',
    },
    {
      name: 'balance: the cluster whose cpu and memory stay even',
      snap: () =>
        two(
          {},
          {},
          nodes(4, { used: { cpuMilli: 3000, memoryMiB: 0, pods: 1 } }),
          nodes(4, { used: { cpuMilli: 2000, memoryMiB: 8192, pods: 1 } }),
        ),
      prefs: only('balance'),
      want: 'b-1',
    },
    {
      name: 'proximity: the site nearest the users',
      snap: () =>
        two({ latitude: 37.77, longitude: -122.42 }, { latitude: 31.2, longitude: 121.5 }),
      prefs: { ...only('proximity'), userRegions: ['cn-east'] },
      want: 'b-1',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = schedule(c.snap(), [app('x', [comp('w', 1)], { preferences: c.prefs! })], {
        seed: 1,
      });
      const e = r.plans[0]!.explanation[0]!;
      assert.deepEqual(Object.keys(perCluster(r)), [c.want]);
      assert.ok(e.chosen[0]!.score > 0);
    });
  }

  it('weights combine: a strong cost preference beats a weak packing one', () => {
    const snap = two(
      { prices: { cpuCoreHour: 0.05, memoryGiBHour: 0.005, gpuHour: 3 } },
      { prices: { cpuCoreHour: 0.01, memoryGiBHour: 0.001, gpuHour: 3 } },
      nodes(4, { used: { cpuMilli: 3000, memoryMiB: 12000, pods: 1 } }),
      nodes(4),
    );
    const cheap = schedule(
      snap,
      [app('x', [comp('w', 1)], { preferences: { cost: 5, packing: 1, balance: 0 } })],
      { seed: 1 },
    );
    assert.deepEqual(Object.keys(perCluster(cheap)), ['b-1']);
    const packed = schedule(
      snap,
      [app('x', [comp('w', 1)], { preferences: { cost: 0, packing: 5, balance: 0 } })],
      { seed: 1 },
    );
    assert.deepEqual(Object.keys(perCluster(packed)), ['a-1']);
  });

  it('reports the chosen clusters with each score', () => {
    const r = schedule(
      two({}, {}),
      [app('x', [comp('w', 1)], { preferences: { userRegions: ['us-east', 'nowhere-land'] } })],
      { seed: 1 },
    );
    const e = r.plans[0]!.explanation[0]!;
    assert.deepEqual(Object.keys(e.chosen[0]!.scores).sort(), [
      'balance',
      'cost',
      'packing',
      'proximity',
    ]);
    assert.deepEqual(e.notes, ['unknown user regions ignored: nowhere-land']);
  });
});

describe('replica division', () => {
  const three = () =>
    fleet([
      { info: clusterInfo('a-1'), nodes: nodes(8) },
      {
        info: clusterInfo('b-1', {
          prices: { cpuCoreHour: 0.06, memoryGiBHour: 0.008, gpuHour: 3 },
        }),
        nodes: nodes(2),
      },
      { info: clusterInfo('c-1', { zone: 'z2' }), nodes: nodes(4) },
    ]);
  const cases: {
    name: string;
    placement: Placement;
    replicas: number;
    want: Record<string, number>;
  }[] = [
    {
      name: 'Divided: the best cluster (fullest after placing, at equal price) while it has room',
      placement: {},
      replicas: 6,
      want: { 'c-1': 6 },
    },
    {
      name: 'Divided by AvailableCapacity over a spread minimum',
      placement: {
        spread: [{ by: 'cluster', min: 3 }],
        replicaScheduling: { type: 'Divided', weighting: 'AvailableCapacity' },
      },
      replicas: 14,
      want: { 'c-1': 4, 'a-1': 7, 'b-1': 3 },
    },
    {
      name: 'Divided by Static weights',
      placement: {
        replicaScheduling: {
          type: 'Divided',
          weighting: 'Static',
          staticWeights: [
            { clusters: ['a-1'], weight: 3 },
            { clusters: ['c-1'], weight: 1 },
          ],
        },
      },
      replicas: 8,
      want: { 'a-1': 6, 'c-1': 2 },
    },
    {
      name: 'Divided by Cost: cheaper clusters get more',
      placement: {
        spread: [{ by: 'cluster', min: 3 }],
        replicaScheduling: { type: 'Divided', weighting: 'Cost' },
      },
      replicas: 12,
      want: { 'c-1': 5, 'a-1': 4, 'b-1': 3 },
    },
    {
      name: 'Duplicated: every selected cluster runs all replicas',
      placement: { spread: [{ by: 'cluster', min: 2 }], replicaScheduling: { type: 'Duplicated' } },
      replicas: 3,
      want: { 'a-1': 3, 'c-1': 3 },
    },
    {
      name: 'spread maximum is never exceeded (each site is its own zone group)',
      placement: { spread: [{ by: 'zone', max: 1 }] },
      replicas: 40,
      want: { 'c-1': 16 },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const snap = three();
      const apps = [app('x', [comp('w', c.replicas)], c.placement)];
      const s = new Scheduler(snap, { seed: 7 });
      const plans = apps.map((a) => s.scheduleApp(a));
      const r = s.result(plans);
      assert.deepEqual(perCluster(r), c.want);
      assertPlanValid(snap, apps, r, s);
    });
  }

  it('divide: largest remainder, caps respected, ties by the seeded stream', () => {
    assert.deepEqual(
      divide(10, [1, 1, 1], [10, 10, 10], [false, false, false], seededRandom(1, 't')).reduce(
        (a, b) => a + b,
      ),
      10,
    );
    assert.deepEqual(divide(10, [1, 1], [3, 100], [false, false], seededRandom(1, 't')), [3, 7]);
    assert.deepEqual(divide(2, [0, 5], [5, 5], [true, false], seededRandom(1, 't')), [1, 1]);
    assert.deepEqual(divide(5, [1, 1], [1, 1], [false, false], seededRandom(1, 't')), [1, 1]);
  });

  it('a spread minimum that cannot be met is placed best-effort and reported', () => {
    const snap = fleet([
      { info: clusterInfo('a-1'), nodes: nodes(2) },
      { info: clusterInfo('a-2'), nodes: nodes(2) },
    ]);
    const r = schedule(snap, [app('x', [comp('w', 2)], { spread: [{ by: 'cloud', min: 2 }] })], {
      seed: 1,
    });
    assert.equal(r.plans[0]!.components[0]!.unplaced, 0);
    assert.deepEqual(r.plans[0]!.explanation[0]!.notes, [
      'spread: 1 cloud used, at least 2 wanted (only 1 cloud feasible)',
    ]);
  });
});

describe('stickiness', () => {
  const snap = () =>
    fleet([
      { info: clusterInfo('a-1'), nodes: nodes(4) },
      {
        info: clusterInfo('b-1', {
          prices: { cpuCoreHour: 0.01, memoryGiBHour: 0.001, gpuHour: 3 },
        }),
        nodes: nodes(4),
      },
    ]);
  it('replicas that run stay where they are, even on a worse cluster', () => {
    const r = schedule(snap(), [{ ...app('x', [comp('w', 3)]), current: { w: { 'a-1': 3 } } }], {
      seed: 1,
    });
    assert.deepEqual(perCluster(r), { 'a-1': 3 });
    assert.equal(r.plans[0]!.components[0]!.assignments[0]!.kept, 3);
    assert.equal(r.plans[0]!.components[0]!.assignments[0]!.nodes.length, 0);
  });
  it('scaling up adds to the running clusters first; scaling down takes from the least preferred', () => {
    const up = schedule(snap(), [{ ...app('x', [comp('w', 5)]), current: { w: { 'a-1': 3 } } }], {
      seed: 1,
    });
    assert.deepEqual(perCluster(up), { 'a-1': 5 });
    const down = schedule(
      snap(),
      [
        {
          ...app('x', [comp('w', 3)], { spread: [{ by: 'cluster', min: 2 }] }),
          current: { w: { 'a-1': 2, 'b-1': 2 } },
        },
      ],
      { seed: 1 },
    );
    assert.deepEqual(perCluster(down), { 'b-1': 2, 'a-1': 1 });
  });
  it('replicas on a cluster that is no longer Ready move', () => {
    const s = snap();
    (s.clusters[0] as ClusterInfo).ready = false;
    const r = schedule(s, [{ ...app('x', [comp('w', 3)]), current: { w: { 'a-1': 3 } } }], {
      seed: 1,
    });
    assert.deepEqual(perCluster(r), { 'b-1': 3 });
  });
});

describe('spread minimum restored by moving running replicas', () => {
  // Clouds a, b and c (cluster names start with their cloud); c is the dearest,
  // so a move goes to b unless b cannot take it.
  const cases: {
    name: string;
    replicas: number;
    spread: NonNullable<Placement['spread']>;
    current: Record<string, number>;
    settling?: string[];
    nodesOf?: Record<string, number>;
    want: Record<string, number>;
    moves: { from: string; to: string }[];
  }[] = [
    {
      name: 'one replica moves into a second cloud',
      replicas: 4,
      spread: [{ by: 'cloud', min: 2 }],
      current: { 'a-1': 4 },
      want: { 'a-1': 3, 'b-1': 1 },
      moves: [{ from: 'a-1', to: 'b-1' }],
    },
    {
      name: 'each new group takes one, from the cluster keeping the most',
      replicas: 5,
      spread: [{ by: 'cloud', min: 3 }],
      current: { 'a-1': 3, 'b-1': 2 },
      want: { 'a-1': 2, 'b-1': 2, 'c-1': 1 },
      moves: [{ from: 'a-1', to: 'c-1' }],
    },
    {
      name: 'a cluster gives its only replica when its group keeps another cluster',
      replicas: 2,
      spread: [{ by: 'cloud', min: 2 }],
      current: { 'a-1': 1, 'a-2': 1 },
      want: { 'a-1': 1, 'b-1': 1 },
      moves: [{ from: 'a-2', to: 'b-1' }],
    },
    {
      name: 'no group is emptied to fill another (too few replicas for the minimum)',
      replicas: 2,
      spread: [{ by: 'cloud', min: 3 }],
      current: { 'a-1': 1, 'b-1': 1 },
      want: { 'a-1': 1, 'b-1': 1 },
      moves: [],
    },
    {
      name: 'a settling cluster is no target; a settled one of another cloud is',
      replicas: 4,
      spread: [{ by: 'cloud', min: 2 }],
      current: { 'a-1': 4 },
      settling: ['b-1'],
      want: { 'a-1': 3, 'c-1': 1 },
      moves: [{ from: 'a-1', to: 'c-1' }],
    },
    {
      name: 'nothing moves while every new group is settling',
      replicas: 4,
      spread: [{ by: 'cloud', min: 2 }],
      current: { 'a-1': 4 },
      settling: ['b-1', 'c-1'],
      want: { 'a-1': 4 },
      moves: [],
    },
    {
      name: 'a full target is skipped for the next group',
      replicas: 4,
      spread: [{ by: 'cloud', min: 2 }],
      current: { 'a-1': 4 },
      nodesOf: { 'b-1': 0 },
      want: { 'a-1': 3, 'c-1': 1 },
      moves: [{ from: 'a-1', to: 'c-1' }],
    },
    {
      name: 'a met minimum moves nothing',
      replicas: 4,
      spread: [{ by: 'cloud', min: 2 }],
      current: { 'a-1': 3, 'c-1': 1 },
      want: { 'a-1': 3, 'c-1': 1 },
      moves: [],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const names = ['a-1', 'a-2', 'b-1', 'c-1'];
      const snap = fleet(
        names.map((n) => ({
          info: clusterInfo(n, {
            ...(n === 'c-1'
              ? { prices: { cpuCoreHour: 0.3, memoryGiBHour: 0.04, gpuHour: 30 } }
              : {}),
            ...(c.settling?.includes(n) === true ? { settling: true } : {}),
          }),
          nodes: nodes(c.nodesOf?.[n] ?? 4),
        })),
      );
      const request = {
        ...app('x', [comp('w', c.replicas)], { spread: c.spread }),
        current: { w: c.current },
      };
      const s = new Scheduler(snap, { seed: 1 });
      const r = s.result([s.scheduleApp(request)]);
      assert.deepEqual(perCluster(r), c.want);
      assert.deepEqual(r.plans[0]!.components[0]!.spreadMoves ?? [], c.moves);
      assertPlanValid(snap, [request], r, s);
      const notes = r.plans[0]!.explanation[0]!.notes;
      for (const m of c.moves)
        assert.ok(
          notes.some((n) => n.startsWith(`spread: a replica moves from ${m.from} to ${m.to}`)),
          notes.join('; '),
        );
    });
  }
});

describe('node limits', () => {
  it('maxReplicasPerNode spreads a component over nodes', () => {
    const snap = fleet([{ info: clusterInfo('a-1'), nodes: nodes(3) }]);
    const apps = [
      app('x', [comp('w', 4, { cpuMilli: 100, memoryMiB: 0 })], { maxReplicasPerNode: 2 }),
    ];
    const s = new Scheduler(snap, { seed: 1 });
    const r = s.result(apps.map((a) => s.scheduleApp(a)));
    assertPlanValid(snap, apps, r, s);
    assert.equal(new Set(r.plans[0]!.components[0]!.assignments[0]!.nodes).size, 2);
  });
  it('anti-affinity keeps the listed components on different nodes', () => {
    const snap = fleet([{ info: clusterInfo('a-1'), nodes: nodes(4) }]);
    const apps = [
      app(
        'x',
        [
          comp('db', 2, { cpuMilli: 100, memoryMiB: 0 }),
          comp('cache', 2, { cpuMilli: 100, memoryMiB: 0 }),
        ],
        {
          antiAffinity: [{ components: ['db', 'cache'] }],
        },
      ),
    ];
    const s = new Scheduler(snap, { seed: 1 });
    const r = s.result(apps.map((a) => s.scheduleApp(a)));
    assertPlanValid(snap, apps, r, s);
    const all = r.plans[0]!.components.flatMap((c) => [...c.assignments[0]!.nodes]);
    assert.equal(new Set(all).size, 4);
    const tooFew = schedule(fleet([{ info: clusterInfo('a-1'), nodes: nodes(3) }]), apps, {
      seed: 1,
    });
    assert.equal(tooFew.unplaced, 1);
  });
});

describe('colocation', () => {
  it('packs by predicted use under the safety limit and reports the overload risk', () => {
    const snap = fleet([
      { info: clusterInfo('a-1'), nodes: nodes(4, { cpuMilli: 10000, memoryMiB: 1e6 }) },
    ]);
    const c = comp(
      'vm',
      20,
      { cpuMilli: 4000, memoryMiB: 1024 },
      { usage: { cpuMilli: 1000, cpuMeanMilli: 400 } },
    );
    const byRequest = schedule(snap, [app('x', [c])], { seed: 1 });
    assert.equal(byRequest.placed, 8); // 2 per node by request
    const s = new Scheduler(snap, { seed: 1, mode: 'colocation', colocation: { cpuLimit: 0.8 } });
    const apps = [app('x', [c])];
    const r = s.result(apps.map((a) => s.scheduleApp(a)));
    assert.equal(r.placed, 20); // 8 per node by p95 within 80%
    assertPlanValid(snap, apps, r, s, 'colocation', { cpu: 0.8, memory: 0.9 });
    assert.ok(r.colocation);
    assert.equal(r.colocation.nodes, 3);
    assert.ok(
      r.colocation.maxOverloadProbability >= 0 && r.colocation.maxOverloadProbability < 0.05,
    );
    assert.ok(r.plans[0]!.risk!.maxOverloadProbability < 0.05);
    const tight = new Scheduler(snap, {
      seed: 1,
      mode: 'colocation',
      colocation: { cpuLimit: 1, overloadThreshold: 0.35 },
    });
    const rt = tight.result([tight.scheduleApp(apps[0]!)]);
    assert.ok(rt.colocation!.maxOverloadProbability > 0.5, 'a tight limit shows a high risk');
  });
});

describe('determinism', () => {
  it('the same input and seed give the same plan; ties follow the seed', () => {
    const specs = Array.from({ length: 6 }, (_, i) => ({
      info: clusterInfo(`c-${i}`),
      nodes: nodes(2),
    }));
    const apps = Array.from({ length: 5 }, (_, i) =>
      app(`app-${i}`, [comp('w', 3, { cpuMilli: 500 })], { spread: [{ by: 'cluster', min: 2 }] }),
    );
    const run = (seed: number) => JSON.stringify(schedule(fleet(specs), apps, { seed }).plans);
    assert.equal(run(1), run(1));
    const seeds = new Set([1, 2, 3, 4, 5, 6].map(run));
    assert.ok(seeds.size > 1, 'different seeds break exact ties differently');
  });

  it('does not change the snapshot unless inPlace', () => {
    const snap = fleet([{ info: clusterInfo('a-1'), nodes: nodes(2) }]);
    schedule(snap, [app('x', [comp('w', 3)])], { seed: 1 });
    assert.equal(snap.nodes.cpuUsed[0], 0);
    schedule(snap, [app('x', [comp('w', 3)])], { seed: 1, inPlace: true });
    assert.equal(snap.nodes.podsUsed[0]! + snap.nodes.podsUsed[1]!, 3);
  });
});
