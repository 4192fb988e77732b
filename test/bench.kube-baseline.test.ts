// The benchmarks' baseline: the Kubernetes default scheduler's algorithm.
// Table-driven: the upstream arithmetic (numFeasibleNodesToFind, LeastAllocated,
// BalancedAllocation), every filter, the rotating start, seeded ties, spread.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  balancedScore,
  KubeBaseline,
  kubePodFor,
  leastRequestedScore,
  numFeasibleNodesToFind,
  wholeGpus,
  type KubePod,
  type KubeTopology,
} from '../src/bench/kube-baseline.ts';
import { NodeState, type NodeInput } from '../src/scheduler/nodestate.ts';

const node = (over: Partial<NodeInput> = {}): NodeInput => ({
  arch: 'amd64',
  cpuMilli: 4000,
  memoryMiB: 8192,
  pods: 110,
  gpus: 0,
  ...over,
});
const pod = (over: Partial<KubePod> = {}): KubePod => ({
  cpuMilli: 1000,
  memoryMiB: 1024,
  gpus: 0,
  ...over,
});

describe('numFeasibleNodesToFind (adaptive percentageOfNodesToScore)', () => {
  const table: [nodes: number, percentage: number, expected: number][] = [
    [0, 0, 0],
    [50, 0, 50], // below 100 nodes: all of them
    [99, 0, 99],
    [100, 0, 100], // 50 % of 100 = 50 -> at least 100
    [199, 0, 100], // 49 % -> 97 -> at least 100
    [1000, 0, 420], // 50 - 8 = 42 %
    [5000, 0, 500], // 50 - 40 = 10 %
    [5625, 0, 281], // 50 - 45 = 5 %
    [6000, 0, 300], // 50 - 48 = 2 % -> at least 5 %
    [150_000, 0, 7500],
    [305_757, 0, 15_287],
    [1000, 10, 100],
    [1000, 1, 100], // 10 -> at least 100
    [1000, 100, 1000],
  ];
  for (const [n, pct, expected] of table) {
    it(`${n} nodes, percentage ${pct} -> ${expected}`, () => {
      assert.equal(numFeasibleNodesToFind(n, pct), expected);
    });
  }
});

describe('LeastAllocated (per resource)', () => {
  const table: [requested: number, capacity: number, expected: number][] = [
    [0, 4000, 100],
    [1000, 4000, 75],
    [3000, 4000, 25],
    [4000, 4000, 0],
    [5000, 4000, 0], // over capacity
    [1, 3, 66], // integer division, as upstream
    [100, 0, 0], // no capacity
  ];
  for (const [req, cap, expected] of table) {
    it(`requested ${req} of ${cap} -> ${expected}`, () => {
      assert.equal(leastRequestedScore(req, cap), expected);
    });
  }
});

describe('BalancedAllocation', () => {
  const table: [
    cpuReq: number,
    cpuCap: number,
    memReq: number,
    memCap: number,
    expected: number,
  ][] = [
    [1000, 4000, 2048, 8192, 100], // 25 % and 25 %
    [2000, 4000, 0, 8192, 75], // |0.5 - 0| / 2 = 0.25
    [4000, 4000, 0, 8192, 50],
    [8000, 4000, 0, 8192, 50], // fractions clamp at 1
    [3000, 4000, 1024, 8192, 68], // |0.75 - 0.125| / 2 = 0.3125 -> 68.75 truncated
    [1000, 0, 4096, 8192, 100], // one resource left: no deviation
  ];
  for (const [cr, cc, mr, mc, expected] of table) {
    it(`cpu ${cr}/${cc}, memory ${mr}/${mc} -> ${expected}`, () => {
      assert.equal(balancedScore(cr, cc, mr, mc), expected);
    });
  }
});

describe('filters', () => {
  const topology: KubeTopology = {
    labels: new Map([['yunjian.io/cloud', { values: ['aws', 'gcp'], byNode: Int32Array.of(0) }]]),
    taintSets: [[{ key: 'edge', value: 'true', effect: 'NoSchedule' }]],
    taintSetOf: Int32Array.of(-1),
  };
  const tainted: KubeTopology = { ...topology, taintSetOf: Int32Array.of(0) };
  const table: {
    name: string;
    node: NodeInput;
    pod: KubePod;
    topology?: KubeTopology;
    fits: boolean;
  }[] = [
    { name: 'fits', node: node(), pod: pod(), fits: true },
    { name: 'cpu exactly full', node: node(), pod: pod({ cpuMilli: 4000 }), fits: true },
    { name: 'cpu over', node: node(), pod: pod({ cpuMilli: 4001 }), fits: false },
    { name: 'memory over', node: node(), pod: pod({ memoryMiB: 8193 }), fits: false },
    { name: 'no pod slot', node: node({ pods: 0 }), pod: pod(), fits: false },
    { name: 'failed node', node: node({ healthy: false }), pod: pod(), fits: false },
    {
      name: 'architecture affinity matches',
      node: node({ arch: 'arm64' }),
      pod: kubePodFor({
        cpuMilli: 1,
        memoryMiB: 1,
        gpuCount: 0,
        gpuMilli: 0,
        architectures: ['arm64'],
      }),
      fits: true,
    },
    {
      name: 'x86-only image on arm64',
      node: node({ arch: 'arm64' }),
      pod: kubePodFor({
        cpuMilli: 1,
        memoryMiB: 1,
        gpuCount: 0,
        gpuMilli: 0,
        architectures: ['amd64'],
      }),
      fits: false,
    },
    {
      name: 'whole GPUs counted',
      node: node({ gpus: 2, gpuModel: 'T4' }),
      pod: pod({ gpus: 2 }),
      fits: true,
    },
    {
      name: 'too few GPUs',
      node: node({ gpus: 2, gpuModel: 'T4' }),
      pod: pod({ gpus: 3 }),
      fits: false,
    },
    { name: 'GPU on a CPU node', node: node(), pod: pod({ gpus: 1 }), fits: false },
    {
      name: 'GPU model affinity matches',
      node: node({ gpus: 1, gpuModel: 'T4' }),
      pod: kubePodFor({ cpuMilli: 1, memoryMiB: 1, gpuCount: 1, gpuMilli: 300, gpuModel: 'T4' }),
      fits: true,
    },
    {
      name: 'GPU model affinity fails',
      node: node({ gpus: 1, gpuModel: 'T4' }),
      pod: kubePodFor({ cpuMilli: 1, memoryMiB: 1, gpuCount: 1, gpuMilli: 1000, gpuModel: 'A100' }),
      fits: false,
    },
    {
      name: 'cloud affinity In',
      node: node(),
      pod: pod({ nodeAffinity: [{ key: 'yunjian.io/cloud', operator: 'In', values: ['aws'] }] }),
      topology,
      fits: true,
    },
    {
      name: 'cloud affinity In, other cloud',
      node: node(),
      pod: pod({ nodeAffinity: [{ key: 'yunjian.io/cloud', operator: 'In', values: ['gcp'] }] }),
      topology,
      fits: false,
    },
    {
      name: 'NotIn',
      node: node(),
      pod: pod({ nodeAffinity: [{ key: 'yunjian.io/cloud', operator: 'NotIn', values: ['aws'] }] }),
      topology,
      fits: false,
    },
    {
      name: 'In on a label the node lacks',
      node: node(),
      pod: pod({ nodeAffinity: [{ key: 'nope', operator: 'In', values: ['x'] }] }),
      fits: false,
    },
    {
      name: 'NotIn on a label the node lacks',
      node: node(),
      pod: pod({ nodeAffinity: [{ key: 'nope', operator: 'NotIn', values: ['x'] }] }),
      fits: true,
    },
    {
      name: 'NoSchedule taint not tolerated',
      node: node(),
      pod: pod(),
      topology: tainted,
      fits: false,
    },
    {
      name: 'taint tolerated by Exists',
      node: node(),
      pod: pod({ tolerations: [{ key: 'edge', operator: 'Exists' }] }),
      topology: tainted,
      fits: true,
    },
    {
      name: 'taint tolerated by Equal',
      node: node(),
      pod: pod({ tolerations: [{ key: 'edge', operator: 'Equal', value: 'true' }] }),
      topology: tainted,
      fits: true,
    },
    {
      name: 'Equal with another value',
      node: node(),
      pod: pod({ tolerations: [{ key: 'edge', operator: 'Equal', value: 'no' }] }),
      topology: tainted,
      fits: false,
    },
    {
      name: 'toleration for another effect',
      node: node(),
      pod: pod({ tolerations: [{ key: 'edge', operator: 'Exists', effect: 'NoExecute' }] }),
      topology: tainted,
      fits: false,
    },
    {
      name: 'empty key with Exists tolerates everything',
      node: node(),
      pod: pod({ tolerations: [{ operator: 'Exists' }] }),
      topology: tainted,
      fits: true,
    },
  ];
  for (const t of table) {
    it(`${t.name} -> ${t.fits ? 'fits' : 'filtered'}`, () => {
      const kb = new KubeBaseline(
        NodeState.fromNodes([t.node]),
        t.topology === undefined ? {} : { topology: t.topology },
      );
      assert.equal(kb.feasibleFor(0, t.pod), t.fits);
      const b = kb.schedule(t.pod);
      assert.equal(b?.node, t.fits ? 0 : undefined);
    });
  }
});

describe('GPUs as nvidia.com/gpu', () => {
  const table: [count: number, milli: number, whole: number][] = [
    [0, 0, 0],
    [1, 1000, 1],
    [4, 1000, 4],
    [1, 250, 1], // a share takes a whole GPU
    [1, 999, 1],
  ];
  for (const [count, milli, whole] of table) {
    it(`${count} x ${milli} milli-GPU -> ${whole} whole`, () => {
      assert.equal(
        wholeGpus({ cpuMilli: 0, memoryMiB: 0, gpuCount: count, gpuMilli: milli }),
        whole,
      );
    });
  }
  it('two 0.3-GPU pods take two GPUs', () => {
    const kb = new KubeBaseline(NodeState.fromNodes([node({ gpus: 2, gpuModel: 'T4' })]));
    const p = kubePodFor({ cpuMilli: 100, memoryMiB: 100, gpuCount: 1, gpuMilli: 300 });
    assert.ok(kb.schedule(p));
    assert.ok(kb.schedule(p));
    assert.equal(kb.schedule(p), undefined);
    assert.equal(kb.state.gpuWhole[0], 0);
  });
});

describe('scoring and selection', () => {
  it('prefers the least allocated node, then the balanced one', () => {
    const state = NodeState.fromNodes([node(), node(), node()]);
    state.allocate(0, { cpuMilli: 3000, memoryMiB: 1024, gpuCount: 0, gpuMilli: 0 });
    state.allocate(2, { cpuMilli: 1000, memoryMiB: 6144, gpuCount: 0, gpuMilli: 0 });
    const kb = new KubeBaseline(state);
    const p = pod();
    // node 0: least (0 + 75) / 2 = 37, balanced |1 - .25| / 2 -> 62: 99
    // node 1: least (75 + 87) / 2 = 81, balanced |.25 - .125| / 2 -> 93: 174
    // node 2: least (50 + 12) / 2 = 31, balanced |.5 - .875| / 2 -> 81: 112
    assert.deepEqual(
      [0, 1, 2].map((n) => kb.scoreFor(n, p)),
      [99, 174, 112],
    );
    assert.equal(kb.schedule(p)?.node, 1);
  });

  it('scores requests of 0 as 100m cpu / 200 MiB (non-zero requests)', () => {
    const kb = new KubeBaseline(NodeState.fromNodes([node()]));
    // least: cpu (4000 - 100) * 100 / 4000 = 97, memory (8192 - 200) * 100 / 8192 = 97 -> 97; best effort: no balance score
    assert.equal(kb.scoreFor(0, pod({ cpuMilli: 0, memoryMiB: 0 })), 97);
  });

  it('starts each search where the last one stopped', () => {
    const kb = new KubeBaseline(NodeState.fromNodes(Array.from({ length: 250 }, () => node())));
    // 250 nodes: 48 % = 120 nodes to find, all feasible.
    kb.schedule(pod());
    assert.equal(kb.lastEvaluated, 120);
    assert.equal(kb.nextStartNodeIndex, 120);
    kb.schedule(pod());
    assert.equal(kb.nextStartNodeIndex, 240);
    kb.schedule(pod());
    assert.equal(kb.nextStartNodeIndex, 110); // wrapped
  });

  it('visits every node when too few are feasible, and the start stays put', () => {
    const nodes = Array.from({ length: 300 }, (_, i) =>
      node({ arch: i % 10 === 0 ? 'arm64' : 'amd64' }),
    );
    const kb = new KubeBaseline(NodeState.fromNodes(nodes));
    kb.nextStartNodeIndex = 7;
    const b = kb.schedule(
      kubePodFor({ cpuMilli: 1, memoryMiB: 1, gpuCount: 0, gpuMilli: 0, architectures: ['arm64'] }),
    );
    assert.equal(b!.node % 10, 0);
    assert.equal(kb.lastEvaluated, 300);
    assert.equal(kb.lastFeasible, 30);
    assert.equal(kb.nextStartNodeIndex, 7);
  });

  it('breaks ties by a seeded random choice', () => {
    const run = (seed: number) => {
      const kb = new KubeBaseline(NodeState.fromNodes(Array.from({ length: 20 }, () => node())), {
        seed,
      });
      return Array.from(
        { length: 10 },
        () => kb.schedule(pod({ cpuMilli: 10, memoryMiB: 10 }))!.node,
      );
    };
    assert.deepEqual(run(1), run(1));
    assert.notDeepEqual(run(1), run(2));
    assert.ok(new Set(run(1)).size > 1, 'ties spread over equal nodes');
  });

  it('release gives back what bind took', () => {
    const kb = new KubeBaseline(NodeState.fromNodes([node({ gpus: 1, gpuModel: 'T4' })]));
    const b = kb.schedule(pod({ cpuMilli: 4000, gpus: 1 }))!;
    assert.equal(kb.schedule(pod()), undefined);
    kb.release(b);
    assert.equal(kb.state.cpuUsed[0], 0);
    assert.equal(kb.state.podsUsed[0], 0);
    assert.equal(kb.state.gpuWhole[0], 1);
    assert.ok(kb.schedule(pod({ cpuMilli: 4000, gpus: 1 })));
  });
});

describe('PodTopologySpread (DoNotSchedule)', () => {
  const zones = (byNode: number[], values = ['a', 'b', 'c']): KubeTopology => ({
    labels: new Map([['zone', { values, byNode: Int32Array.from(byNode) }]]),
  });

  it('maxSkew 1 over three zones places replicas evenly', () => {
    const kb = new KubeBaseline(NodeState.fromNodes(Array.from({ length: 6 }, () => node())), {
      topology: zones([0, 0, 1, 1, 2, 2]),
    });
    const p = pod({
      cpuMilli: 10,
      memoryMiB: 10,
      group: 1,
      topologySpread: [{ topologyKey: 'zone', maxSkew: 1 }],
    });
    const perZone = [0, 0, 0];
    for (let i = 0; i < 9; i++) perZone[Math.floor(kb.schedule(p)!.node / 2)]!++;
    assert.deepEqual(perZone, [3, 3, 3]);
  });

  it('only eligible domains (by node affinity) count toward the minimum', () => {
    const topology = zones([0, 1, 2]);
    const kb = new KubeBaseline(NodeState.fromNodes([node(), node(), node({ arch: 'arm64' })]), {
      topology,
    });
    const p = kubePodFor(
      { cpuMilli: 10, memoryMiB: 10, gpuCount: 0, gpuMilli: 0, architectures: ['amd64'] },
      { group: 1, topologySpread: [{ topologyKey: 'zone', maxSkew: 1 }] },
    );
    // Zone c has only an arm64 node: it is not eligible, so its 0 pods never hold the others back.
    for (let i = 0; i < 4; i++) assert.ok(kb.schedule(p));
  });

  it('minDomains above the eligible domains treats the minimum as 0', () => {
    const kb = new KubeBaseline(NodeState.fromNodes([node(), node()]), { topology: zones([0, 0]) });
    const p = pod({
      group: 7,
      topologySpread: [{ topologyKey: 'zone', maxSkew: 1, minDomains: 2 }],
    });
    assert.ok(kb.schedule(p));
    assert.equal(kb.schedule(p), undefined);
  });

  it('groups count separately; release lowers the count', () => {
    const kb = new KubeBaseline(NodeState.fromNodes([node(), node()]), { topology: zones([0, 0]) });
    const spread = [{ topologyKey: 'zone', maxSkew: 1, minDomains: 2 }];
    const a = kb.schedule(pod({ group: 1, topologySpread: spread }))!;
    assert.ok(kb.schedule(pod({ group: 2, topologySpread: spread })));
    assert.equal(kb.schedule(pod({ group: 1, topologySpread: spread })), undefined);
    kb.release(a);
    assert.ok(kb.schedule(pod({ group: 1, topologySpread: spread })));
  });

  it('a node without the topology label does not pass', () => {
    const kb = new KubeBaseline(NodeState.fromNodes([node()]), { topology: zones([-1]) });
    assert.equal(
      kb.schedule(pod({ group: 1, topologySpread: [{ topologyKey: 'zone', maxSkew: 1 }] })),
      undefined,
    );
  });
});
