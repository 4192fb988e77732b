// Pods that allow several GPU models (a GPU spec such as "V100M16|V100M32"):
// what fits, and that node placement picks the best node across all allowed
// models at once, never the first model that has room.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NodePlacer, NodeState, type NodeInput, type PodRequest } from '../src/scheduler/index.ts';
import { node, pod } from './scheduler.fixtures.ts';

/** A GPU node of `model` with `used` of its `gpus` GPUs taken whole (and their share of cpu). */
function gpuNode(model: string, gpus: number, used = 0, usedShares: number[] = []): NodeInput {
  return node({
    cpuMilli: 64000,
    memoryMiB: 262144,
    gpus,
    gpuModel: model,
    used: {
      cpuMilli: used * 4000,
      memoryMiB: 0,
      pods: used + usedShares.length,
      gpuMilli: [
        ...Array.from({ length: used }, () => 1000),
        ...usedShares,
        ...Array.from({ length: gpus - used - usedShares.length }, () => 0),
      ],
    },
  });
}

describe('NodeState.fits with several allowed GPU models', () => {
  const cases: { name: string; node: NodeInput; pod: Partial<PodRequest>; fits: boolean }[] = [
    {
      name: 'the node has one of the allowed models',
      node: gpuNode('V100M32', 2),
      pod: { gpuModels: ['V100M16', 'V100M32'] },
      fits: true,
    },
    {
      name: 'the node has none of the allowed models',
      node: gpuNode('T4', 2),
      pod: { gpuModels: ['V100M16', 'V100M32'] },
      fits: false,
    },
    {
      name: 'a model no node has is ignored among the allowed ones',
      node: gpuNode('T4', 2),
      pod: { gpuModels: ['H100', 'T4'] },
      fits: true,
    },
    {
      name: 'only models no node has',
      node: gpuNode('T4', 2),
      pod: { gpuModels: ['H100', 'B200'] },
      fits: false,
    },
    {
      name: 'gpuModel and gpuModels together: the node must satisfy both',
      node: gpuNode('T4', 2),
      pod: { gpuModel: 'V100M32', gpuModels: ['T4', 'V100M32'] },
      fits: false,
    },
    {
      name: 'an empty list restricts nothing',
      node: gpuNode('T4', 2),
      pod: { gpuModels: [] },
      fits: true,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const s = NodeState.fromNodes([c.node, gpuNode('V100M16', 1, 1)]);
      const p = pod({ gpuCount: 1, gpuMilli: 1000, ...c.pod });
      assert.equal(s.fits(0, p), c.fits);
    });
  }
});

describe('NodePlacer.bestNode with several allowed GPU models', () => {
  const cases: {
    name: string;
    nodes: NodeInput[];
    pod: Partial<PodRequest>;
    /** Node index chosen, -1 for none. */
    best: number;
  }[] = [
    {
      name: 'the tightest node across the allowed models, not the first model that has room',
      nodes: [
        gpuNode('V100M16', 8),
        gpuNode('V100M32', 8, 6),
        // Tighter still, but not allowed.
        gpuNode('T4', 8, 7),
      ],
      pod: { gpuCount: 1, gpuMilli: 1000, gpuModels: ['V100M16', 'V100M32'] },
      best: 1,
    },
    {
      name: 'a share fills a shared GPU of the second model instead of breaking a whole one of the first',
      nodes: [gpuNode('V100M16', 2), gpuNode('V100M32', 2, 0, [500]), gpuNode('T4', 2, 0, [700])],
      pod: { gpuCount: 1, gpuMilli: 300, gpuModels: ['V100M16', 'V100M32'] },
      best: 1,
    },
    {
      name: 'several whole GPUs: only the allowed node that has that many whole',
      nodes: [gpuNode('V100M16', 8, 6), gpuNode('G2', 8, 4), gpuNode('V100M32', 8, 4)],
      pod: { gpuCount: 4, gpuMilli: 1000, gpuModels: ['V100M16', 'V100M32'] },
      best: 2,
    },
    {
      name: 'no allowed model has room: no node, though another model has',
      nodes: [gpuNode('V100M16', 2, 2), gpuNode('V100M32', 2, 2), gpuNode('T4', 2)],
      pod: { gpuCount: 1, gpuMilli: 1000, gpuModels: ['V100M16', 'V100M32'] },
      best: -1,
    },
    {
      name: 'one allowed model behaves as gpuModel',
      nodes: [gpuNode('T4', 2, 1), gpuNode('V100M32', 2)],
      pod: { gpuCount: 1, gpuMilli: 1000, gpuModels: ['V100M32'] },
      best: 1,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const s = NodeState.fromNodes(c.nodes);
      const placer = new NodePlacer(s, 1);
      const r = s.compile(pod({ cpuMilli: 1000, memoryMiB: 1024, ...c.pod }));
      assert.equal(placer.bestNode(0, r), c.best);
      if (c.best >= 0) {
        const a = placer.allocate(c.best, r);
        assert.equal(a.gpus.length, r.gpuCount);
      }
    });
  }
});

describe('NodePlacer.bestNode keeps scarce GPU models for the pods that need them', () => {
  const any = { gpuCount: 1, gpuMilli: 1000 };
  const a10 = { gpuCount: 1, gpuMilli: 1000, gpuModel: 'A10' };
  const cases: {
    name: string;
    nodes: NodeInput[];
    /** Pods in arrival order, each placed on bestNode if it has one. */
    pods: Partial<PodRequest>[];
    /** Node of each pod, -1 for unplaced. */
    nodesChosen: number[];
  }[] = [
    {
      // The case found on gpushare40+gpuspec33: best fit gave both A10s to pods naming no model.
      name: 'pods allowing any model leave the only two A10 GPUs to pods that name A10',
      nodes: [
        gpuNode('A10', 1),
        gpuNode('A10', 1),
        gpuNode('V100M16', 1),
        gpuNode('V100M16', 1),
        gpuNode('V100M16', 1),
        gpuNode('V100M16', 1),
      ],
      pods: [any, any, a10, a10],
      nodesChosen: [2, 3, 0, 1],
    },
    {
      name: 'a set of allowed models prefers the model with more free GPUs at the same fit',
      nodes: [gpuNode('A10', 1), gpuNode('A10', 1), gpuNode('T4', 2, 1), gpuNode('T4', 4)],
      pods: [{ ...any, gpuModels: ['A10', 'T4'] }],
      nodesChosen: [2],
    },
    {
      name: 'a share goes to a partly shared GPU of the plentiful model',
      nodes: [gpuNode('A10', 1, 0, [500]), gpuNode('T4', 2, 0, [500]), gpuNode('T4', 4)],
      pods: [{ gpuCount: 1, gpuMilli: 300 }],
      nodesChosen: [1],
    },
    {
      name: 'a scarce model is still taken when nothing else fits',
      nodes: [gpuNode('A10', 1), gpuNode('V100M16', 4, 4)],
      pods: [any],
      nodesChosen: [0],
    },
    {
      name: 'a pod naming one model is not kept off it, however scarce',
      nodes: [gpuNode('A10', 1), gpuNode('V100M16', 1), gpuNode('V100M16', 1)],
      pods: [a10],
      nodesChosen: [0],
    },
    {
      name: 'a clearly tighter fit on a scarce model still wins over breaking an empty 8-GPU node',
      nodes: [gpuNode('G2', 8), gpuNode('A10', 1), gpuNode('A10', 1), gpuNode('A10', 1)],
      pods: [any],
      nodesChosen: [1],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const s = NodeState.fromNodes(c.nodes);
      const placer = new NodePlacer(s, 1);
      const chosen = c.pods.map((p) => {
        const r = s.compile(pod({ cpuMilli: 1000, memoryMiB: 1024, ...p }));
        const i = placer.bestNode(0, r);
        if (i >= 0) placer.allocate(i, r);
        return i;
      });
      assert.deepEqual(chosen, c.nodesChosen);
    });
  }
});
