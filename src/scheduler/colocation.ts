// Colocation mode: replicas are packed by predicted use (`usage`, e.g. p95 of
// past use) under a per-node safety limit, and every node a replica lands on
// gets an overload probability. A usage with a time profile is placed by
// profile instead (placeProfiled). The state here lives as long as the run:
// newColocation scales the node state's capacities to the limit (the placer
// then sees the limit as capacity) and restoreCapacities gives them back.
import type { Run } from './context.ts';
import type { CompiledRequest, NodeState } from './nodestate.ts';
import type { ClusterInfo } from './snapshot.ts';
import type {
  AppRisk,
  ColocationOptions,
  ColocationReport,
  ComponentRequest,
  NodeRisk,
} from './types.ts';

export interface Colocation {
  options: Required<ColocationOptions>;
  capacity: Float64Array;
  memoryCapacity: Float64Array;
  /** The snapshot's own state is scaled: restoreCapacities gives its capacities back. */
  inPlace: boolean;
  base: Float64Array;
  mean: Float64Array;
  variance: Float64Array;
  predicted: Float64Array;
  touched: Uint8Array;
  /** Slots per profile, fixed by the first profile seen (0 before). */
  slots: number;
  /** Summed profile per node, allocated when the node takes its first profiled replica. */
  profile: (Float64Array | undefined)[];
  /**
   * Of cpuUsed, what profiled replicas added: each its profile's peak,
   * clipped so that cpuUsed stays within the limit (cpuCap). Replicas
   * without profile thus see a node as full once its profiled peaks
   * reach the limit, and cpuUsed minus this is the constant part
   * (existing use, replicas without profile) that profiles add to.
   */
  profiledPeak: Float64Array;
}

/** Steepness of the profile penalty above cpuLimit, relative to the balancing square (see placeProfiled). */
const PROFILE_STEEP = 1e6;

/** The profile penalty of one slot at use u (a fraction of capacity) under the limit L. */
function profilePenalty(u: number, L: number): number {
  const o = u - L;
  return (o > 0 ? PROFILE_STEEP * o * o : 0) + u * u;
}

/** Standard normal CDF (Abramowitz and Stegun 7.1.26, error < 1.5e-7). */
function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-z * z);
  return x >= 0 ? (1 + y) / 2 : (1 - y) / 2;
}

/** The colocation state of a run; scales `s`'s capacities to the safety limits. */
export function newColocation(s: NodeState, o: ColocationOptions, inPlace: boolean): Colocation {
  const options = {
    cpuLimit: o.cpuLimit ?? 0.8,
    memoryLimit: o.memoryLimit ?? 0.9,
    overloadThreshold: o.overloadThreshold ?? 0.9,
    profileOverloadBudget: o.profileOverloadBudget ?? 0.01,
  };
  const capacity = s.cpuCap.slice();
  const memoryCapacity = s.memCap.slice();
  for (let i = 0; i < s.count; i++) {
    s.cpuCap[i] = s.cpuCap[i]! * options.cpuLimit;
    s.memCap[i] = s.memCap[i]! * options.memoryLimit;
  }
  return {
    options,
    capacity,
    memoryCapacity,
    inPlace,
    base: s.cpuUsed.slice(),
    mean: new Float64Array(s.count),
    variance: new Float64Array(s.count),
    predicted: new Float64Array(s.count),
    touched: new Uint8Array(s.count),
    slots: 0,
    profile: new Array<Float64Array | undefined>(s.count),
    profiledPeak: new Float64Array(s.count),
  };
}

/**
 * An in-place run gives the snapshot its real capacities back: the safety
 * limit bounds this run's placements only, and what they allocated stays.
 */
export function restoreCapacities(colo: Colocation, s: NodeState): void {
  if (!colo.inPlace) return;
  s.cpuCap.set(colo.capacity);
  s.memCap.set(colo.memoryCapacity);
}

/** The component's request as the placer sees it: predicted use instead of the request. */
export function compileRequest(run: Run, comp: ComponentRequest): CompiledRequest {
  const r = run.state.compile(comp.pod);
  const colo = run.colo;
  if (colo && comp.usage) {
    r.cpuMilli = comp.usage.cpuMilli;
    if (comp.usage.memoryMiB !== undefined) r.memoryMiB = comp.usage.memoryMiB;
    const profile = comp.usage.cpuProfileMilli;
    if (profile !== undefined) {
      if (colo.slots === 0) colo.slots = profile.length;
      if (profile.length !== colo.slots || profile.length === 0)
        throw new RangeError(
          `${comp.name}: cpu profile of ${profile.length} slots, the scheduler's have ${colo.slots}`,
        );
      // The profile decides cpu (placeProfiled); the scalar filters and
      // estimates see memory, pods and GPUs only.
      r.cpuMilli = 0;
    }
  }
  return r;
}

/**
 * Places up to `count` replicas with a cpu profile on cluster c's nodes, one
 * at a time (each one changes its node's profile), writing their nodes into
 * `out`; returns how many. A node is admissible when the request fits it
 * apart from cpu (r.cpuMilli is 0 here), the per-node limits allow one more,
 * and its constant cpu (cpuUsed less profiled peaks: existing use and
 * replicas without profile at their p95) plus its summed profile plus this
 * profile stays within capacity in every slot and within cpuLimit x capacity
 * in all but floor(profileOverloadBudget x slots) slots. Of the admissible
 * nodes, the one whose penalty grows least wins, the lower index on ties;
 * per slot, with u = use / capacity and L = cpuLimit, the penalty is
 * PROFILE_STEEP x max(0, u - L)^2 + u^2: passing the limit costs far more
 * than anything under it, and under it the square evens predicted peaks out
 * between nodes rather than filling one node after another.
 */
export function placeProfiled(
  run: Run,
  c: number,
  r: CompiledRequest,
  profile: readonly number[],
  count: number,
  out: Int32Array,
): number {
  const colo = run.colo!;
  const s = run.state;
  const w = run.ws;
  const slots = colo.slots;
  const budget = Math.floor(colo.options.profileOverloadBudget * slots);
  const L = colo.options.cpuLimit;
  const maxPerNode = w.maxPerNode ?? Infinity;
  const here = new Map<number, number>();
  let peak = 0;
  for (const x of profile) peak = Math.max(peak, x);
  let placed = 0;
  while (placed < count) {
    let best = -1;
    let bestCost = Infinity;
    for (let i = 0; i < s.count; i++) {
      if (s.cluster[i] !== c || !s.fitsCompiled(i, r)) continue;
      const already = (w.onNode ? w.onNode(i) : 0) + (here.get(i) ?? 0);
      if (already >= maxPerNode) continue;
      const cap = colo.capacity[i]!;
      if (cap <= 0) continue;
      const flat = s.cpuUsed[i]! - colo.profiledPeak[i]!;
      const S = colo.profile[i];
      let over = 0;
      let cost = 0;
      let t = 0;
      for (; t < slots; t++) {
        const before = flat + (S === undefined ? 0 : S[t]!);
        const after = before + profile[t]!;
        if (after > cap || (after > L * cap && ++over > budget)) break;
        cost += profilePenalty(after / cap, L) - profilePenalty(before / cap, L);
      }
      if (t < slots) continue;
      if (cost < bestCost) {
        bestCost = cost;
        best = i;
      }
    }
    if (best < 0) break;
    run.placer.begin(best);
    s.allocateCompiled(best, r);
    const add = Math.max(0, Math.min(peak, s.cpuCap[best]! - s.cpuUsed[best]!));
    s.cpuUsed[best]! += add;
    run.placer.end(best);
    colo.profiledPeak[best]! += add;
    let S = colo.profile[best];
    if (S === undefined) colo.profile[best] = S = new Float64Array(slots);
    for (let t = 0; t < slots; t++) S[t]! += profile[t]!;
    here.set(best, (here.get(best) ?? 0) + 1);
    out[placed++] = best;
  }
  return placed;
}

/** Adds the predicted use of `count` new replicas of comp on nodes[0 .. count) to their nodes. */
export function recordRisk(
  colo: Colocation,
  comp: ComponentRequest,
  nodes: Int32Array,
  count: number,
  appNodes: Set<number>,
): void {
  const p95 = comp.usage?.cpuMilli ?? comp.pod.cpuMilli;
  // A profiled replica's use is in the node's profile, not the normal part.
  const profiled = comp.usage?.cpuProfileMilli !== undefined;
  const mean = comp.usage?.cpuMeanMilli ?? p95 / 2;
  const sd = Math.max(0, p95 - mean) / 1.645;
  for (let j = 0; j < count; j++) {
    const i = nodes[j]!;
    if (!profiled) {
      colo.mean[i]! += mean;
      colo.variance[i]! += sd * sd;
    }
    colo.predicted[i]! += p95;
    colo.touched[i] = 1;
    appNodes.add(i);
  }
}

/**
 * Probability that node i's cpu use passes the overload threshold: replicas
 * without profile as a normal (means and variances summed, existing use
 * constant); on a profiled node, its summed profile is added slot by slot
 * and the probability is the mean over slots.
 */
function overloadProbability(colo: Colocation, i: number): number {
  const limit = colo.options.overloadThreshold * colo.capacity[i]!;
  const mean = colo.base[i]! + colo.mean[i]!;
  const sd = Math.sqrt(colo.variance[i]!);
  const tail = (m: number) => (sd <= 0 ? (m > limit ? 1 : 0) : 1 - normalCdf((limit - m) / sd));
  const S = colo.profile[i];
  if (S === undefined) return tail(mean);
  let sum = 0;
  for (let t = 0; t < S.length; t++) sum += tail(mean + S[t]!);
  return sum / S.length;
}

/** Share of node i's predicted slots whose use (constant part plus profile) is above the overload threshold; 0 without a profile. */
function profileOverloadShare(colo: Colocation, s: NodeState, i: number): number {
  const S = colo.profile[i];
  if (S === undefined) return 0;
  const limit = colo.options.overloadThreshold * colo.capacity[i]!;
  const flat = s.cpuUsed[i]! - colo.profiledPeak[i]!;
  let over = 0;
  for (let t = 0; t < S.length; t++) if (flat + S[t]! > limit) over++;
  return over / S.length;
}

export function appRisk(colo: Colocation, nodes: Set<number>): AppRisk {
  let max = 0;
  for (const i of nodes) max = Math.max(max, overloadProbability(colo, i));
  return { maxOverloadProbability: max, nodes: nodes.size };
}

export function colocationReport(
  colo: Colocation,
  s: NodeState,
  clusters: readonly ClusterInfo[],
): ColocationReport {
  let nodes = 0;
  let expected = 0;
  let max = 0;
  let maxShare = 0;
  const risks: NodeRisk[] = [];
  for (let i = 0; i < s.count; i++) {
    if (colo.touched[i] !== 1) continue;
    nodes++;
    const p = overloadProbability(colo, i);
    expected += p;
    max = Math.max(max, p);
    const S = colo.profile[i];
    const share = profileOverloadShare(colo, s, i);
    maxShare = Math.max(maxShare, share);
    let profileMean = 0;
    if (S !== undefined) {
      for (let t = 0; t < S.length; t++) profileMean += S[t]!;
      profileMean /= S.length;
    }
    if (p > 0)
      risks.push({
        node: i,
        cluster: clusters[s.cluster[i]!]?.name ?? '',
        cpuCapMilli: colo.capacity[i]!,
        predictedMilli: colo.base[i]! + colo.predicted[i]!,
        meanMilli: colo.base[i]! + colo.mean[i]! + profileMean,
        overloadProbability: p,
        ...(S !== undefined ? { profileOverloadShare: share } : {}),
      });
  }
  risks.sort((a, b) => b.overloadProbability - a.overloadProbability || a.node - b.node);
  return {
    overloadThreshold: colo.options.overloadThreshold,
    cpuLimit: colo.options.cpuLimit,
    memoryLimit: colo.options.memoryLimit,
    nodes,
    expectedOverloadedNodes: expected,
    maxOverloadProbability: max,
    profileSlots: colo.slots,
    maxProfileOverloadShare: maxShare,
    top: risks.slice(0, 20),
  };
}
