// Spread: how many clouds, sites, zones or clusters a component uses.
// Selection never exceeds a spread maximum (canAdd); each division strategy
// fills the minimum first, best effort, so an outage never takes running
// replicas down with it. What is still short once every running replica is
// kept is mended by moving kept replicas (restoreSpread, Divided by capacity
// or cost only), and what stays short is said in a note (checkSpread).
import type { Run, SpreadBy } from './context.ts';
import { plural } from './reasons.ts';
import { add, drop, next, NEXT_NEW_GROUP_SETTLED, placeOn } from './selection.ts';
import type { ClusterInfo } from './snapshot.ts';

/** Each cluster's group id per spread key. */
export function groupIdsOf(clusters: readonly ClusterInfo[]): Record<SpreadBy, Int32Array> {
  const ids = (key: (c: ClusterInfo) => string) => {
    const m = new Map<string, number>();
    const out = new Int32Array(clusters.length);
    clusters.forEach((c, i) => {
      const k = key(c);
      let id = m.get(k);
      if (id === undefined) m.set(k, (id = m.size));
      out[i] = id;
    });
    return out;
  };
  return {
    cloud: ids((c) => c.cloud),
    site: ids((c) => c.site),
    zone: ids((c) => `${c.site}/${c.zone}`),
    cluster: Int32Array.from({ length: clusters.length }, (_, i) => i),
  };
}

/**
 * A spread minimum still short once every running replica is kept (the app
 * was placed while fewer groups were feasible, or lost a group to an outage
 * and is not failing back): replicas move, one at a time, into new groups.
 * Each comes from the cluster keeping the most replicas that can give one
 * without leaving a group empty, so a move never undoes another minimum and
 * a shortfall that cannot be mended moves nothing. Settling clusters are no
 * targets (a flapping cluster draws no moves); the controller runs each
 * move make-before-break.
 */
export function restoreSpread(run: Run): void {
  const w = run.ws;
  for (let i = 0; i < w.spread.length; i++) {
    const min = w.spread[i]!.min ?? 1;
    while (w.used[i]!.size < min) {
      const donor = spreadDonor(run);
      if (donor < 0) return;
      const c = next(run, NEXT_NEW_GROUP_SETTLED, i, 0);
      if (c < 0) break;
      add(run, c);
      if (placeOn(run, c, 1) === 0) {
        drop(run, c);
        run.taken[c] = 1;
        continue;
      }
      run.keptOn[donor]! -= 1;
      if (run.keptOn[donor] === 0 && run.placedOn[donor] === 0) drop(run, donor);
      const move = { from: run.clusters[donor]!.name, to: run.clusters[c]!.name };
      (w.spreadMoves ??= []).push(move);
      w.notes.push(
        `spread: a replica moves from ${move.from} to ${move.to} (at least ${plural(min, w.spread[i]!.by)} wanted)`,
      );
    }
  }
}

/** The chosen cluster with the most kept replicas that can give one up without emptying a spread group, or -1. */
function spreadDonor(run: Run): number {
  const w = run.ws;
  let best = -1;
  for (const c of w.chosen) {
    const k = run.keptOn[c]!;
    if (k === 0 || (best >= 0 && k < run.keptOn[best]!)) continue;
    let canGive = k + run.placedOn[c]! >= 2;
    for (let j = 0; !canGive && j < w.spread.length; j++) {
      if ((w.used[j]!.get(run.groupIds[w.spread[j]!.by][c]!) ?? 0) < 2) break;
      if (j === w.spread.length - 1) canGive = true;
    }
    // Ties go to the least preferred cluster (chosen is in preference order).
    if (canGive) best = c;
  }
  return best;
}

/** Notes a spread minimum that the plan does not meet, and why. */
export function checkSpread(run: Run, replicas: number): void {
  const w = run.ws;
  for (let i = 0; i < w.spread.length; i++) {
    const s = w.spread[i]!;
    const min = s.min ?? 1;
    const have = new Set<number>();
    for (const c of w.chosen)
      if (run.keptOn[c]! + run.placedOn[c]! > 0) have.add(run.groupIds[s.by][c]!);
    if (have.size >= min) continue;
    const feasible = new Set<number>();
    for (let j = 0; j < w.n; j++) feasible.add(run.groupIds[s.by][run.candidates[j]!]!);
    w.notes.push(
      `spread: ${plural(have.size, s.by)} used, at least ${min} wanted` +
        (feasible.size < min
          ? ` (only ${plural(feasible.size, s.by)} feasible)`
          : replicas < min
            ? ` (only ${plural(replicas, 'replica')})`
            : ' (not enough room)'),
    );
  }
}
