// Replica division: which clusters a component takes and how many replicas
// each runs, one strategy per `placement.replicaScheduling`, looked up in
// DIVISIONS. Each strategy keeps what runs on the sticky clusters first,
// fills the spread minimum, takes clusters in rank order through selection,
// places the replicas it assigns, and returns the replicas left unplaced.
//   Duplicated         every selected cluster runs all replicas; the spread
//                      minimum (default one cluster) decides how many;
//   Static             targets by staticWeights over every weighted
//                      feasible cluster, capped by what fits;
//   AvailableCapacity  the spread minimum first, one replica in each new
//   / Cost             group; then the best clusters until their free
//                      capacity covers the replicas, divided by free capacity
//                      or by cheapest price / price; a minimum still short
//                      is restored by moving kept replicas (spread.ts).
import type { Placement } from '../model/schema.ts';
import type { Run } from './context.ts';
import type { CompiledRequest } from './nodestate.ts';
import { replicaPrice } from './plugins.ts';
import {
  add,
  canAdd,
  drop,
  estimate,
  next,
  NEXT_ANY,
  NEXT_NEW_GROUP,
  NEXT_NEW_GROUP_ROOMY,
  NEXT_ROOMY,
  NEXT_WEIGHTED,
  placeOn,
  staticWeight,
} from './selection.ts';
import { restoreSpread } from './spread.ts';

/**
 * Places the component of run.ws on clusters in run.ws.chosen; returns the
 * replicas left unplaced. `sticky` are the candidates the component runs on
 * now, best first; `current` its replicas per cluster.
 */
export type Division = (
  run: Run,
  sticky: readonly number[],
  current: ReadonlyMap<number, number> | undefined,
) => number;

export type DivisionKey = 'Duplicated' | 'Static' | 'AvailableCapacity' | 'Cost';

/**
 * Divides `need` over clusters by weight, at most caps[i] each, largest
 * remainder first (ties broken by `random`); minOne[i] clusters get one first.
 * Returns the counts; their sum is less than `need` only when the caps are.
 */
export function divide(
  need: number,
  weights: readonly number[],
  caps: readonly number[],
  minOne: readonly boolean[],
  random: () => number,
): number[] {
  const n = weights.length;
  const out = new Array<number>(n).fill(0);
  let left = need;
  for (let i = 0; i < n && left > 0; i++) {
    if (minOne[i] && caps[i]! >= 1) {
      out[i] = 1;
      left--;
    }
  }
  for (let round = 0; left > 0 && round < 16; round++) {
    let W = 0;
    for (let i = 0; i < n; i++) if (out[i]! < caps[i]!) W += Math.max(0, weights[i]!);
    if (W <= 0) break;
    const frac: { i: number; f: number; tie: number }[] = [];
    let given = 0;
    for (let i = 0; i < n; i++) {
      const room = caps[i]! - out[i]!;
      if (room <= 0 || !(weights[i]! > 0)) continue;
      const q = (left * weights[i]!) / W;
      const g = Math.min(room, Math.floor(q));
      out[i]! += g;
      given += g;
      if (out[i]! < caps[i]!) frac.push({ i, f: q - Math.floor(q), tie: random() });
    }
    left -= given;
    frac.sort((a, b) => b.f - a.f || a.tie - b.tie);
    for (const x of frac) {
      if (left <= 0) break;
      if (out[x.i]! < caps[x.i]!) {
        out[x.i]!++;
        left--;
      }
    }
  }
  return out;
}

const duplicated: Division = (run, sticky, current) => {
  const w = run.ws;
  const replicas = w.comp!.replicas;
  const spread = w.spread;
  let unplaced = 0;
  const want = (c: number) => {
    const k = run.keptOn[c]!;
    unplaced += replicas - k - placeOn(run, c, replicas - k);
  };
  for (const c of sticky) {
    if (!canAdd(run, c)) continue;
    add(run, c);
    run.keptOn[c] = Math.min(replicas, current!.get(c)!);
  }
  for (const c of [...w.chosen]) want(c);
  // Spread minimum, then at least one cluster; clusters with room for all replicas first.
  for (let i = 0; i < spread.length; i++) {
    const min = spread[i]!.min ?? 1;
    while (w.used[i]!.size < min) {
      let c = next(run, NEXT_NEW_GROUP_ROOMY, i, replicas);
      if (c < 0) c = next(run, NEXT_NEW_GROUP, i, 0);
      if (c < 0) break;
      add(run, c);
      want(c);
    }
  }
  if (w.chosen.length === 0) {
    let c = next(run, NEXT_ROOMY, 0, replicas);
    if (c < 0) c = next(run, NEXT_ANY, 0, 0);
    if (c >= 0) {
      add(run, c);
      want(c);
    }
  }
  return unplaced;
};

/** Targets by weight over every weighted feasible cluster (capped by what fits, counting what runs there); replicas already there are kept. */
const byStaticWeights: Division = (run, sticky, current) => {
  const w = run.ws;
  const replicas = w.comp!.replicas;
  const spread = w.spread;
  for (const c of sticky) if (staticWeight(run, c) > 0 && canAdd(run, c)) add(run, c);
  for (;;) {
    const c = next(run, NEXT_WEIGHTED, 0, 0);
    if (c < 0) break;
    add(run, c);
  }
  for (let i = 0; i < spread.length; i++) {
    const min = spread[i]!.min ?? 1;
    while (w.used[i]!.size < min) {
      const c = next(run, NEXT_NEW_GROUP, i, 0);
      if (c < 0) break;
      add(run, c);
    }
  }
  const list = [...w.chosen];
  const caps = list.map((c) => estimate(run, c) + (current?.get(c) ?? 0));
  const weights = list.map((c) => staticWeight(run, c) || 1);
  const minOne = list.map((c) => staticWeight(run, c) === 0);
  const t = divide(replicas, weights, caps, minOne, w.ctx!.random);
  let unplaced = 0;
  list.forEach((c, i) => {
    const k = Math.min(current?.get(c) ?? 0, t[i]!);
    run.keptOn[c] = k;
    unplaced += t[i]! - k - placeOn(run, c, t[i]! - k);
  });
  // Weighted clusters without room for their share: the rest has nowhere to go.
  unplaced += replicas - t.reduce((a, b) => a + b, 0);
  if (list.length === 0) w.notes.push('no feasible cluster has a static weight');
  return unplaced;
};

function costWeights(run: Run, chosen: readonly number[], r: CompiledRequest): number[] {
  const prices = chosen.map((c) => replicaPrice(run, c, r));
  const min = Math.min(...prices.filter((p) => p > 0));
  return prices.map((p) => (p > 0 && Number.isFinite(min) ? min / p : 1));
}

/** Divided: keep what runs, place the rest over the chosen clusters by `weightsOf` (given their capacities). */
function divided(
  weightsOf: (run: Run, chosen: readonly number[], caps: number[]) => number[],
): Division {
  return (run, sticky, current) => {
    const w = run.ws;
    const chosen = w.chosen;
    const spread = w.spread;
    let need = w.comp!.replicas;
    for (const c of sticky) {
      if (!canAdd(run, c)) continue;
      add(run, c);
      run.keptOn[c] = current!.get(c)!;
      need -= current!.get(c)!;
    }
    if (need < 0) {
      // Scale down: least preferred clusters give up replicas first.
      for (let j = chosen.length - 1; j >= 0 && need < 0; j--) {
        const c = chosen[j]!;
        const give = Math.min(run.keptOn[c]!, -need);
        run.keptOn[c]! -= give;
        need += give;
      }
      for (const c of [...chosen]) if (run.keptOn[c] === 0) drop(run, c);
    }
    // Spread minimum: one replica into each new group, verified on a node.
    for (let i = 0; i < spread.length && need > 0; i++) {
      const min = spread[i]!.min ?? 1;
      while (w.used[i]!.size < min && need > 0) {
        const c = next(run, NEXT_NEW_GROUP, i, 0);
        if (c < 0) break;
        add(run, c);
        if (placeOn(run, c, 1) === 1) need--;
        else {
          drop(run, c);
          run.taken[c] = 1;
        }
      }
    }
    restoreSpread(run);
    // Enough clusters to cover the rest.
    let room = 0;
    for (const c of chosen) room += estimate(run, c);
    while (room < need) {
      const c = next(run, NEXT_ANY, 0, 0);
      if (c < 0) break;
      add(run, c);
      room += estimate(run, c);
    }
    if (need > 0 && chosen.length === 1) {
      need -= placeOn(run, chosen[0]!, need);
    } else if (need > 0 && chosen.length > 1) {
      const list = [...chosen];
      const caps = list.map((c) => run.placer.estimate(c, w.r));
      const t = divide(
        need,
        weightsOf(run, list, caps),
        caps,
        list.map(() => false),
        w.ctx!.random,
      );
      list.forEach((c, i) => {
        need -= placeOn(run, c, t[i]!);
      });
    }
    // What the chosen clusters could not take goes to the next best ones.
    while (need > 0) {
      const c = next(run, NEXT_ANY, 0, 0);
      if (c < 0) break;
      add(run, c);
      const placed = placeOn(run, c, need);
      if (placed === 0) drop(run, c);
      need -= placed;
    }
    return Math.max(0, need);
  };
}

/** The strategies, by replicaScheduling type and weighting. */
export const DIVISIONS: Readonly<Record<DivisionKey, Division>> = {
  Duplicated: duplicated,
  Static: byStaticWeights,
  AvailableCapacity: divided((_run, _chosen, caps) => caps),
  Cost: divided((run, chosen) => costWeights(run, chosen, run.ws.r)),
};

/** The strategy key of a placement: Duplicated, else the Divided weighting (AvailableCapacity by default). */
export function divisionKey(placement: Placement | undefined): DivisionKey {
  const rs = placement?.replicaScheduling;
  return rs?.type === 'Duplicated' ? 'Duplicated' : (rs?.weighting ?? 'AvailableCapacity');
}
