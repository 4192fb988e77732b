// Node classes: the nodes of one cluster with the same shape (architecture,
// cpu, memory, pods, GPU count and model) form a class, the unit the placer
// indexes and the scheduler's capacity checks sum over. A cluster with more
// than MAX_CLASSES_PER_CLUSTER shapes is classed coarsely, by architecture
// and GPUs only, so a fleet of odd machines does not make a class per node.
import type { NodeState } from './nodestate.ts';

/** More distinct node shapes than this in one cluster share classes by (arch, GPU model, GPU count). */
const MAX_CLASSES_PER_CLUSTER = 48;

/** Each node's class (numbered in order of first appearance), and the first node of each class. */
export function classifyNodes(state: NodeState): { nodeClass: Int32Array; firstNode: number[] } {
  const n = state.count;
  // Classes: by full shape, or coarse when a cluster has too many shapes.
  // Runs of identical nodes (a pool) skip the string keys.
  const same = (i: number, j: number, coarse: boolean) =>
    state.cluster[i] === state.cluster[j] &&
    state.arch[i] === state.arch[j] &&
    state.gpuModel[i] === state.gpuModel[j] &&
    state.gpuCount[i] === state.gpuCount[j] &&
    (coarse ||
      (state.cpuCap[i] === state.cpuCap[j] &&
        state.memCap[i] === state.memCap[j] &&
        state.podsCap[i] === state.podsCap[j]));
  const shapeKey = (i: number) =>
    `${state.cluster[i]}|${state.arch[i]}|${state.gpuModel[i]}|${state.gpuCount[i]}|${state.cpuCap[i]}|${state.memCap[i]}|${state.podsCap[i]}`;
  const coarseKey = (i: number) =>
    `${state.cluster[i]}|${state.arch[i]}|${state.gpuModel[i]}|${state.gpuCount[i]}`;
  const shapesPerCluster = new Map<number, Set<string>>();
  for (let i = 0; i < n; i++) {
    if (i > 0 && same(i, i - 1, false)) continue;
    const c = state.cluster[i]!;
    let s = shapesPerCluster.get(c);
    if (s === undefined) shapesPerCluster.set(c, (s = new Set()));
    if (s.size <= MAX_CLASSES_PER_CLUSTER) s.add(shapeKey(i));
  }
  const coarse = (i: number) =>
    (shapesPerCluster.get(state.cluster[i]!)?.size ?? 0) > MAX_CLASSES_PER_CLUSTER;
  const classIds = new Map<string, number>();
  const nodeClass = new Int32Array(n);
  const firstNode: number[] = [];
  for (let i = 0; i < n; i++) {
    const co = coarse(i);
    if (i > 0 && same(i, i - 1, co) && co === coarse(i - 1)) {
      nodeClass[i] = nodeClass[i - 1]!;
      continue;
    }
    const key = co ? coarseKey(i) : shapeKey(i);
    let k = classIds.get(key);
    if (k === undefined) {
      k = classIds.size;
      classIds.set(key, k);
      firstNode.push(i);
    }
    nodeClass[i] = k;
  }
  return { nodeClass, firstNode };
}
