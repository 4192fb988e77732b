// Selection: taking clusters for the component in rank order and putting
// replicas on their nodes. Every pick goes through next(), which returns the
// best candidate not yet taken that keeps every spread maximum and passes the
// pick's mode; placeOn() places replicas on a cluster's nodes (placer.ts, or
// by profile in colocation mode) honouring maxReplicasPerNode and
// anti-affinity. Everything here reads and writes run.ws, the component
// being placed.
import { placeProfiled, recordRisk } from './colocation.ts';
import { TOP, type AppContext, type Run, type Workspace } from './context.ts';
import { round3 } from './reasons.ts';
import type { ComponentRequest } from './types.ts';

// Pick modes of next().
export const NEXT_ANY = 0;
/** Room for the given replicas by the capacity estimate. */
export const NEXT_ROOMY = 1;
/** In a spread group of the given constraint the component does not use yet. */
export const NEXT_NEW_GROUP = 2;
export const NEXT_NEW_GROUP_ROOMY = 3;
/** A cluster with a static weight. */
export const NEXT_WEIGHTED = 4;
/** A cluster of a new spread group that is not settling: a target for a moved replica. */
export const NEXT_NEW_GROUP_SETTLED = 5;

/** Node-limit counters over the workspace: replicas of the component's anti-affinity groups, and of the component, per node. */
export function nodeCounters(ws: Workspace): {
  group: (node: number) => number;
  own: (node: number) => number;
} {
  return {
    group: (i) => {
      let most = 0;
      for (const g of ws.groups ?? []) most = Math.max(most, g.onNode.get(i) ?? 0);
      return most;
    },
    own: (i) => ws.ownOnNode?.get(i) ?? 0,
  };
}

/** The component's per-node limit: one per node in an anti-affinity group, else maxReplicasPerNode. */
export function nodeLimits(run: Run, ctx: AppContext, comp: ComponentRequest): void {
  const w = run.ws;
  let myGroups: AppContext['groups'] | undefined;
  for (const g of ctx.groups) if (g.members.has(comp.name)) (myGroups ??= []).push(g);
  w.groups = myGroups;
  w.maxPerNode = myGroups ? 1 : (comp.maxReplicasPerNode ?? ctx.placement?.maxReplicasPerNode);
  w.ownOnNode = w.maxPerNode !== undefined && !myGroups ? new Map() : undefined;
  w.onNode = myGroups ? run.groupOnNode : w.ownOnNode ? run.ownOnNode : undefined;
}

/** Upper bound on the replicas of the current request cluster c can take (cached per component). */
export function estimate(run: Run, c: number): number {
  if (run.estimateStamp[c] !== run.stamp) {
    run.estimateStamp[c] = run.stamp;
    run.estimateOf[c] = run.placer.estimate(c, run.ws.r);
  }
  return run.estimateOf[c]!;
}

export function staticWeight(run: Run, c: number): number {
  const name = run.clusters[c]!.name;
  let wt = 0;
  for (const sw of run.ws.staticWeights ?? [])
    if (sw.clusters.includes(name)) wt = Math.max(wt, sw.weight);
  return wt;
}

/** Whether taking cluster c keeps every spread maximum. */
export function canAdd(run: Run, c: number): boolean {
  const w = run.ws;
  for (let i = 0; i < w.spread.length; i++) {
    const s = w.spread[i]!;
    if (s.max === undefined) continue;
    const g = run.groupIds[s.by][c]!;
    if (!w.used[i]!.has(g) && w.used[i]!.size >= s.max) return false;
  }
  return true;
}

export function add(run: Run, c: number): void {
  const w = run.ws;
  w.chosen.push(c);
  run.taken[c] = 1;
  for (let i = 0; i < w.spread.length; i++) {
    const g = run.groupIds[w.spread[i]!.by][c]!;
    w.used[i]!.set(g, (w.used[i]!.get(g) ?? 0) + 1);
  }
  // Each plugin's score, as it was when the cluster was chosen.
  const scores: Record<string, number> = {};
  for (const part of w.parts) scores[part.plugin.name] = round3(part.fn(c));
  (w.scores ??= new Map()).set(c, scores);
}

export function drop(run: Run, c: number): void {
  const w = run.ws;
  const at = w.chosen.indexOf(c);
  if (at >= 0) w.chosen.splice(at, 1);
  for (let i = 0; i < w.spread.length; i++) {
    const g = run.groupIds[w.spread[i]!.by][c]!;
    const k = (w.used[i]!.get(g) ?? 0) - 1;
    if (k <= 0) w.used[i]!.delete(g);
    else w.used[i]!.set(g, k);
  }
}

/** The best candidate not yet taken that keeps the spread maxima and passes `mode`, or -1. */
export function next(run: Run, mode: number, spreadIndex: number, replicas: number): number {
  const w = run.ws;
  const taken = run.taken;
  for (let j = 0; j < w.topN; j++) {
    const c = run.top[j]!;
    if (taken[c] === 0 && accepts(run, c, mode, spreadIndex, replicas)) return c;
  }
  if (w.topN < TOP) return -1;
  const cand = run.candidates;
  const order = run.order;
  let best = -1;
  let bestKey = -Infinity;
  for (let j = 0; j < w.n; j++) {
    const c = cand[j]!;
    if (taken[c] === 1 || order[c]! <= bestKey) continue;
    if (!accepts(run, c, mode, spreadIndex, replicas)) continue;
    best = c;
    bestKey = order[c]!;
  }
  return best;
}

function accepts(
  run: Run,
  c: number,
  mode: number,
  spreadIndex: number,
  replicas: number,
): boolean {
  const w = run.ws;
  if (w.spread.length > 0 && !canAdd(run, c)) return false;
  if (mode === NEXT_ANY) return true;
  if ((mode === NEXT_ROOMY || mode === NEXT_NEW_GROUP_ROOMY) && estimate(run, c) < replicas)
    return false;
  if (mode === NEXT_NEW_GROUP || mode === NEXT_NEW_GROUP_ROOMY || mode === NEXT_NEW_GROUP_SETTLED) {
    const s = w.spread[spreadIndex]!;
    if (w.used[spreadIndex]!.has(run.groupIds[s.by][c]!)) return false;
    if (mode === NEXT_NEW_GROUP_SETTLED && run.clusters[c]!.settling === true) return false;
  }
  return mode !== NEXT_WEIGHTED || staticWeight(run, c) > 0;
}

/** Places up to `count` new replicas on cluster c's nodes; returns how many. */
export function placeOn(run: Run, c: number, count: number): number {
  if (count <= 0) return 0;
  const w = run.ws;
  if (run.placeBuffer.length < count) run.placeBuffer = new Int32Array(count);
  const buf = run.placeBuffer;
  const profile = run.colo ? w.comp!.usage?.cpuProfileMilli : undefined;
  const placed =
    profile !== undefined
      ? placeProfiled(run, c, w.r, profile, count, buf)
      : run.placer.place(c, w.r, count, {
          ...(w.maxPerNode !== undefined ? { maxPerNode: w.maxPerNode } : {}),
          ...(w.onNode ? { onNode: w.onNode } : {}),
          nodes: buf,
        });
  if (placed === 0) return 0;
  if (w.flatNode.length < w.flat + placed) {
    const size = Math.max(2 * w.flatNode.length, w.flat + placed);
    const nodes = new Int32Array(size);
    nodes.set(w.flatNode.subarray(0, w.flat));
    const clusters = new Int32Array(size);
    clusters.set(w.flatCluster.subarray(0, w.flat));
    w.flatNode = nodes;
    w.flatCluster = clusters;
  }
  w.flatNode.set(buf.subarray(0, placed), w.flat);
  w.flatCluster.fill(c, w.flat, w.flat + placed);
  w.flat += placed;
  if (w.ownOnNode || w.groups) {
    for (let j = 0; j < placed; j++) {
      const i = buf[j]!;
      if (w.ownOnNode) w.ownOnNode.set(i, (w.ownOnNode.get(i) ?? 0) + 1);
      for (const g of w.groups ?? []) g.onNode.set(i, (g.onNode.get(i) ?? 0) + 1);
    }
  }
  if (run.colo) recordRisk(run.colo, w.comp!, buf, placed, w.ctx!.nodes);
  run.placedOn[c]! += placed;
  run.estimateStamp[c] = 0;
  return placed;
}
