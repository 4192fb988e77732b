// NodeState and NodePlacer: what fits on a node, how GPUs are picked, and how
// nodes are chosen inside a cluster (best fit, fragmentation-aware).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  MAX_GPUS_PER_NODE,
  NodeState,
  type NodeInput,
  type PodRequest,
} from '../src/scheduler/index.ts';
import { NodePlacer } from '../src/scheduler/index.ts';
import { node, pod } from './scheduler.fixtures.ts';

const gpuFree = (s: NodeState, i: number) =>
  Array.from(s.gpuFree.subarray(i * MAX_GPUS_PER_NODE, i * MAX_GPUS_PER_NODE + s.gpuCount[i]!));

describe('NodeState.fits', () => {
  const cases: {
    name: string;
    node: Partial<NodeInput>;
    pod: Partial<PodRequest>;
    fits: boolean;
  }[] = [
    {
      name: 'cpu and memory within capacity',
      node: {},
      pod: { cpuMilli: 4000, memoryMiB: 16384 },
      fits: true,
    },
    { name: 'cpu over capacity', node: {}, pod: { cpuMilli: 4001 }, fits: false },
    { name: 'memory over capacity', node: {}, pod: { memoryMiB: 16385 }, fits: false },
    { name: 'no pod slot', node: { pods: 0 }, pod: {}, fits: false },
    {
      name: 'architecture allowed',
      node: { arch: 'arm64' },
      pod: { architectures: ['amd64', 'arm64'] },
      fits: true,
    },
    {
      name: 'x86-only image on ARM',
      node: { arch: 'arm64' },
      pod: { architectures: ['amd64'] },
      fits: false,
    },
    {
      name: 'x86-only image on RISC-V',
      node: { arch: 'riscv64' },
      pod: { architectures: ['amd64'] },
      fits: false,
    },
    { name: 'failed node', node: { healthy: false }, pod: {}, fits: false },
    {
      name: 'whole GPUs',
      node: { gpus: 4, gpuModel: 'A100' },
      pod: { gpuCount: 4, gpuMilli: 1000 },
      fits: true,
    },
    {
      name: 'too many GPUs',
      node: { gpus: 4, gpuModel: 'A100' },
      pod: { gpuCount: 5, gpuMilli: 1000 },
      fits: false,
    },
    { name: 'GPU on a CPU node', node: {}, pod: { gpuCount: 1, gpuMilli: 1000 }, fits: false },
    {
      name: 'GPU share',
      node: { gpus: 1, gpuModel: 'T4' },
      pod: { gpuCount: 1, gpuMilli: 300 },
      fits: true,
    },
    {
      name: 'share of two GPUs is not a thing',
      node: { gpus: 2 },
      pod: { gpuCount: 2, gpuMilli: 500 },
      fits: false,
    },
    {
      name: 'GPU model matches',
      node: { gpus: 2, gpuModel: 'A100' },
      pod: { gpuCount: 1, gpuMilli: 1000, gpuModel: 'A100' },
      fits: true,
    },
    {
      name: 'GPU model differs',
      node: { gpus: 2, gpuModel: 'T4' },
      pod: { gpuCount: 1, gpuMilli: 1000, gpuModel: 'A100' },
      fits: false,
    },
    {
      name: 'GPU model no node has',
      node: { gpus: 2, gpuModel: 'T4' },
      pod: { gpuCount: 1, gpuMilli: 1000, gpuModel: 'H100' },
      fits: false,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const s = NodeState.fromNodes([node(c.node)]);
      assert.equal(s.fits(0, pod(c.pod)), c.fits);
      if (c.fits) s.allocate(0, pod(c.pod));
      else assert.throws(() => s.allocate(0, pod(c.pod)), RangeError);
    });
  }
});

describe('NodeState allocation', () => {
  it('allocate and release restore the node exactly', () => {
    const s = NodeState.fromNodes([node({ gpus: 4, gpuModel: 'A100' })]);
    const a = s.allocate(0, pod({ cpuMilli: 1500, memoryMiB: 2048, gpuCount: 2, gpuMilli: 1000 }));
    assert.deepEqual(
      [s.cpuUsed[0], s.memUsed[0], s.podsUsed[0], s.gpuWhole[0]],
      [1500, 2048, 1, 2],
    );
    assert.deepEqual(a.gpus, [0, 1]);
    s.release(a);
    assert.deepEqual([s.cpuUsed[0], s.memUsed[0], s.podsUsed[0], s.gpuWhole[0]], [0, 0, 0, 4]);
    assert.deepEqual(gpuFree(s, 0), [1000, 1000, 1000, 1000]);
  });

  it('GPU shares go best-fit onto already shared GPUs, keeping whole ones whole', () => {
    const s = NodeState.fromNodes([node({ gpus: 3, gpuModel: 'T4' })]);
    s.allocate(0, pod({ cpuMilli: 0, memoryMiB: 0, gpuCount: 1, gpuMilli: 600 })); // GPU 0: 400 left
    s.allocate(0, pod({ cpuMilli: 0, memoryMiB: 0, gpuCount: 1, gpuMilli: 300 })); // tightest: GPU 0
    assert.deepEqual(gpuFree(s, 0), [100, 1000, 1000]);
    assert.equal(s.gpuWhole[0], 2);
    // A whole-GPU request still finds two whole GPUs.
    assert.ok(s.fits(0, pod({ cpuMilli: 0, memoryMiB: 0, gpuCount: 2, gpuMilli: 1000 })));
  });

  it('clone is independent', () => {
    const s = NodeState.fromNodes([node()]);
    const c = s.clone();
    c.allocate(0, pod());
    assert.equal(s.cpuUsed[0], 0);
    assert.equal(c.cpuUsed[0], 1000);
  });

  it('setUsed takes whole GPUs first, then one share', () => {
    const s = NodeState.fromNodes([
      node({
        gpus: 4,
        gpuModel: 'A100',
        used: { cpuMilli: 1000, memoryMiB: 10, pods: 3, gpuMilli: 2500 },
      }),
    ]);
    assert.deepEqual(gpuFree(s, 0), [0, 0, 500, 1000]);
    assert.deepEqual([s.gpuWhole[0], s.gpuFreeTotal[0], s.podsUsed[0]], [1, 1500, 3]);
  });

  it('rejects more GPUs than MAX_GPUS_PER_NODE', () => {
    assert.throws(() => NodeState.fromNodes([node({ gpus: MAX_GPUS_PER_NODE + 1 })]), RangeError);
  });
});

describe('NodePlacer', () => {
  const place = (nodes: NodeInput[], p: Partial<PodRequest>, count: number, opts = {}) => {
    const s = NodeState.fromNodes(nodes);
    const placer = new NodePlacer(s, 1);
    const out = new Int32Array(count);
    const n = placer.place(0, s.compile(pod(p)), count, { nodes: out, ...opts });
    return { s, placer, nodes: Array.from(out.subarray(0, n)) };
  };

  it('fills the tightest node first (best fit), lower index on ties', () => {
    const s = NodeState.fromNodes([node({ cpuMilli: 8000 }), node(), node()]);
    const placer = new NodePlacer(s, 1);
    const r = s.compile(pod({ cpuMilli: 3000, memoryMiB: 0 }));
    const out = new Int32Array(3);
    assert.equal(placer.place(0, r, 3, { nodes: out }), 3);
    assert.deepEqual(Array.from(out), [1, 2, 0]);
    // 1 core is left on nodes 1 and 2: the next small replica goes to node 1.
    const small = s.compile(pod({ cpuMilli: 1000, memoryMiB: 0 }));
    assert.equal(placer.place(0, small, 1, { nodes: out }), 1);
    assert.equal(out[0], 1);
  });

  it('packs replicas onto as few nodes as fit', () => {
    const { nodes } = place([node(), node(), node()], { cpuMilli: 1000, memoryMiB: 1024 }, 6);
    assert.deepEqual(nodes, [0, 0, 0, 0, 1, 1]);
  });

  it('honours a per-node limit', () => {
    const { nodes } = place([node(), node(), node()], { cpuMilli: 500, memoryMiB: 0 }, 3, {
      maxPerNode: 1,
    });
    assert.deepEqual([...nodes].sort(), [0, 1, 2]);
    const capped = place([node(), node()], { cpuMilli: 500, memoryMiB: 0 }, 5, { maxPerNode: 2 });
    assert.equal(capped.nodes.length, 4);
  });

  it('keeps CPU-only replicas off GPU nodes while CPU nodes have room', () => {
    const { nodes } = place(
      [node({ gpus: 4, gpuModel: 'T4', cpuMilli: 32000 }), node()],
      { cpuMilli: 1000, memoryMiB: 0 },
      5,
    );
    assert.deepEqual(nodes, [1, 1, 1, 1, 0]);
  });

  it('puts a GPU share on a node with a shared GPU rather than breaking a whole one', () => {
    const s = NodeState.fromNodes([
      node({ gpus: 2, gpuModel: 'T4' }),
      node({ gpus: 2, gpuModel: 'T4' }),
    ]);
    const placer = new NodePlacer(s, 1);
    const half = s.compile(pod({ cpuMilli: 0, memoryMiB: 0, gpuCount: 1, gpuMilli: 500 }));
    placer.allocate(1, half); // node 1 GPU 0 half used
    const out = new Int32Array(1);
    placer.place(0, s.compile(pod({ cpuMilli: 0, memoryMiB: 0, gpuCount: 1, gpuMilli: 400 })), 1, {
      nodes: out,
    });
    assert.equal(out[0], 1);
    assert.deepEqual(gpuFree(s, 1), [100, 1000]);
    assert.deepEqual(gpuFree(s, 0), [1000, 1000]);
  });

  it('keeps class and cluster totals exact through allocate, release and failures', () => {
    const s = NodeState.fromNodes([
      node({ cluster: 0 }),
      node({ cluster: 1 }),
      node({ cluster: 1 }),
    ]);
    const placer = new NodePlacer(s, 2);
    const a = placer.allocate(2, s.compile(pod({ cpuMilli: 1500, memoryMiB: 100 })));
    assert.deepEqual(
      [placer.clusterCpuFree[1], placer.clusterMemFree[1], placer.clusterPodsFree[1]],
      [6500, 32668, 219],
    );
    placer.setHealthy(1, false);
    assert.deepEqual([placer.clusterCpuCap[1], placer.clusterCpuFree[1]], [4000, 2500]);
    assert.equal(placer.estimate(1, s.compile(pod({ cpuMilli: 1000, memoryMiB: 0 }))), 2);
    placer.release(a);
    placer.setHealthy(1, true);
    assert.deepEqual([placer.clusterCpuCap[1], placer.clusterCpuFree[1]], [8000, 8000]);
  });

  it('finds the one node with room behind many that are too full', () => {
    const nodes = Array.from({ length: 200 }, () =>
      node({ used: { cpuMilli: 3900, memoryMiB: 0, pods: 1 } }),
    );
    nodes.push(node());
    const { nodes: got } = place(nodes, { cpuMilli: 2000, memoryMiB: 0 }, 1);
    assert.deepEqual(got, [200]);
  });
});
