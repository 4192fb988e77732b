// The global scheduler: a pure function of (snapshot, requests, seed) to plans
// and reasons. No I/O, no clock, no unseeded randomness: the same input gives
// the same plan.
//
// For each application, for each component in order, the stages:
//   1. feasibility (feasibility.ts): the registry's filters, cached per
//      constraint set, then node size and capacity against what is free now;
//      every rejection counted by reason;
//   2. ranking (ranking.ts): weighted scores of the feasible clusters; the
//      clusters a component already runs on come first (placement is
//      sticky); exact ties broken by a PRNG seeded from (seed, app name);
//   3. node limits (selection.ts): maxReplicasPerNode and anti-affinity;
//   4. division (division.ts): the strategy of placement.replicaScheduling
//      takes clusters through selection (selection.ts: in rank order, never
//      past a spread maximum) and places replicas on their nodes (placer.ts,
//      or by profile in colocation mode); a spread minimum is met whenever
//      the feasible groups and the replica count allow (spread.ts; best
//      effort, so an outage never takes running replicas down with it);
//      replicas a cluster could not take go to the next cluster in rank order;
//   5. spread check (spread.ts): a minimum the plan misses is said in a note;
//   6. reasons (reasons.ts): the plan, the explanation and the counts.
// Replicas a component already runs (`current`) stay where they are: they are
// counted in the snapshot's node state and are not placed again; only the
// difference is placed (or removed, least preferred cluster first).
//
// Modes: `requests` packs by requested cpu and memory; `colocation`
// (colocation.ts) packs by predicted use under a per-node safety limit and
// reports each node's overload probability.
import { seededRandom } from '../lib/random.ts';
import { appRisk, colocationReport, compileRequest, restoreCapacities } from './colocation.ts';
import { newRun, type AppContext, type Run, type StaticVerdicts } from './context.ts';
import { DIVISIONS, divisionKey } from './division.ts';
import { feasibleNow, staticVerdicts } from './feasibility.ts';
import type { NodeState } from './nodestate.ts';
import { rank } from './ranking.ts';
import {
  NOT_CHOSEN,
  Plan,
  UNPLACED,
  increment,
  mergeReasons,
  round3,
  sortedReasons,
} from './reasons.ts';
import { nodeLimits } from './selection.ts';
import type { ClusterInfo, Snapshot } from './snapshot.ts';
import { checkSpread } from './spread.ts';
import type {
  AppPlan,
  AppRequest,
  Assignment,
  ClusterVerdict,
  ComponentExplanation,
  ComponentPlan,
  ComponentRequest,
  ScheduleOptions,
  ScheduleResult,
} from './types.ts';

/**
 * The scheduler over one snapshot. `scheduleApp` may be called many times;
 * each call sees what the earlier ones placed. `schedule()` below is the
 * one-shot form.
 */
export class Scheduler {
  readonly clusters: readonly ClusterInfo[];
  /** The node state it allocates on (the snapshot's own with `inPlace`). */
  readonly state: NodeState;
  private readonly run: Run;

  constructor(snapshot: Snapshot, options: ScheduleOptions) {
    this.run = newRun(snapshot, options);
    this.clusters = this.run.clusters;
    this.state = this.run.state;
  }

  /** Places every component of one application and returns its plan. */
  scheduleApp(app: AppRequest): AppPlan {
    const run = this.run;
    const placement = app.placement;
    const ctx: AppContext = {
      app,
      placement,
      placementKey: JSON.stringify([
        placement?.clusterAffinity,
        placement?.residency,
        placement?.tolerations,
      ]),
      random: seededRandom(run.seed, app.name),
      groups: (placement?.antiAffinity ?? []).map((a) => ({
        members: new Set(a.components ?? app.components.map((c) => c.name)),
        onNode: new Map<number, number>(),
      })),
      nodes: new Set(),
    };
    const components: ComponentPlan[] = [];
    const explanation: ComponentExplanation[] = [];
    for (const comp of app.components) {
      const [plan, expl] = placeComponent(run, ctx, comp);
      components.push(plan);
      explanation.push(expl);
      if (expl.notChosen > 0) increment(run.reasonTotals, NOT_CHOSEN, expl.notChosen);
      for (const note of expl.notes) increment(run.reasonTotals, note);
      if (plan.unplaced > 0) increment(run.reasonTotals, UNPLACED, plan.unplaced);
    }
    const plan = new Plan(app.name, components, explanation);
    if (run.colo) plan.risk = appRisk(run.colo, ctx.nodes);
    return plan;
  }

  /**
   * Totals so far and, in colocation mode, the overload report. A colocation
   * run in place gives the snapshot its real capacities back.
   */
  result(plans: AppPlan[]): ScheduleResult {
    const run = this.run;
    if (run.colo) restoreCapacities(run.colo, run.state);
    const totals = new Map(run.reasonTotals);
    for (const st of run.staticCache.values())
      for (const r of st.rejected) increment(totals, r.reason, r.count * st.uses);
    const out: ScheduleResult = {
      plans,
      reasons: sortedReasons(totals),
      placed: run.placedTotal,
      unplaced: run.unplacedTotal,
    };
    if (run.colo) out.colocation = colocationReport(run.colo, run.state, run.clusters);
    return out;
  }
}

/** Replicas the component runs now, by cluster index (those on clusters gone from the snapshot just move). */
function currentOf(
  run: Run,
  ctx: AppContext,
  comp: ComponentRequest,
): Map<number, number> | undefined {
  let current: Map<number, number> | undefined;
  const cur = ctx.app.current?.[comp.name];
  if (cur) {
    for (const name in cur) {
      const c = run.clusterIndex.get(name);
      const k = cur[name]!;
      if (c !== undefined && k > 0) (current ??= new Map()).set(c, k);
    }
  }
  return current;
}

/** The stages, in the order of the header, for one component. */
function placeComponent(
  run: Run,
  ctx: AppContext,
  comp: ComponentRequest,
): [ComponentPlan, ComponentExplanation] {
  const w = run.ws;
  w.r = compileRequest(run, comp);
  w.comp = comp;
  w.ctx = ctx;
  w.chosen.length = 0;
  w.flat = 0;
  w.notes = [];
  w.spreadMoves = undefined;
  w.scores = undefined;
  const placement = ctx.placement;
  const spread = placement?.spread ?? [];
  w.spread = spread;
  w.used = spread.length > 0 ? spread.map(() => new Map<number, number>()) : [];
  w.staticWeights = placement?.replicaScheduling?.staticWeights;
  const current = currentOf(run, ctx, comp);

  const st = staticVerdicts(run, ctx, comp, w.r);
  st.uses++;
  feasibleNow(run, st, comp, current);
  rank(run, current);
  nodeLimits(run, ctx, comp);

  let unplaced = 0;
  const replicas = comp.replicas;
  if (replicas > 0 && w.n > 0) {
    const stamp = w.stamp;
    const sticky = current
      ? [...current.keys()]
          .filter((c) => run.mark[c] === stamp)
          .sort((a, b) => run.order[b]! - run.order[a]!)
      : [];
    unplaced = DIVISIONS[divisionKey(placement)](run, sticky, current);
    checkSpread(run, replicas);
  } else if (replicas > 0) {
    unplaced = replicas;
  }
  return assemble(run, st, comp, unplaced);
}

/** The component's plan and explanation from the workspace; adds its counts to the run's totals. */
function assemble(
  run: Run,
  st: StaticVerdicts,
  comp: ComponentRequest,
  unplaced: number,
): [ComponentPlan, ComponentExplanation] {
  const w = run.ws;
  const total = run.total;
  const expl: ComponentExplanation = {
    component: comp.name,
    clusters: run.clusters.length,
    feasible: w.n,
    chosen: [],
    rejected: st.rejected,
    notChosen: 0,
    unplaced,
    notes: w.notes,
  };
  const assignments: Assignment[] = [];
  const chosen = w.chosen;
  for (let x = 0; x < chosen.length; x++) {
    const c = chosen[x]!;
    const k = run.keptOn[c]!;
    const placed = run.placedOn[c]!;
    if (k + placed === 0) continue;
    const nodes = new Int32Array(placed);
    if (placed > 0) {
      let m = 0;
      for (let j = 0; j < w.flat && m < placed; j++)
        if (w.flatCluster[j] === c) nodes[m++] = w.flatNode[j]!;
    }
    const info = run.clusters[c]!;
    assignments.push({
      cluster: info.name,
      clusterIndex: c,
      replicas: k + placed,
      kept: k,
      nodes,
    });
    expl.chosen.push({
      cluster: info.name,
      cloud: info.cloud,
      replicas: k + placed,
      score: round3(total[c]!),
      scores: w.scores?.get(c) ?? {},
    });
  }
  const placedHere = assignments.reduce((s, a) => s + a.replicas - a.kept, 0);
  run.placedTotal += placedHere;
  run.unplacedTotal += unplaced;
  expl.notChosen = w.n - assignments.length;
  const dynamicRejected = w.dynamicRejected;
  if (dynamicRejected) {
    for (const [reason, count] of dynamicRejected) increment(run.reasonTotals, reason, count);
    expl.rejected = mergeReasons(st.rejected, dynamicRejected);
  }
  if (run.explain) {
    const inPlan = new Map(assignments.map((a) => [a.clusterIndex, a.replicas]));
    expl.verdicts = run.clusters.map((k, c) => {
      const v: ClusterVerdict = {
        cluster: k.name,
        cloud: k.cloud,
        site: k.site,
        verdict: 'rejected',
      };
      if (run.mark[c] === w.stamp) {
        v.verdict = inPlan.has(c) ? 'chosen' : 'feasible';
        v.score = round3(total[c]!);
        const replicasThere = inPlan.get(c);
        if (replicasThere !== undefined) v.replicas = replicasThere;
      } else {
        const why = st.reasonOf[c] ?? w.dynamicReason?.get(c);
        if (why !== undefined) v.reason = why;
      }
      return v;
    });
  }
  const spreadMoves = w.spreadMoves;
  return [
    { component: comp.name, assignments, unplaced, ...(spreadMoves ? { spreadMoves } : {}) },
    expl,
  ];
}

/**
 * Places every application, in order, on a copy of the snapshot (or on the
 * snapshot itself with `inPlace`). Pure: same input, same output.
 */
export function schedule(
  snapshot: Snapshot,
  requests: readonly AppRequest[],
  options: ScheduleOptions,
): ScheduleResult {
  const s = new Scheduler(snapshot, options);
  const plans: AppPlan[] = [];
  for (const app of requests) plans.push(s.scheduleApp(app));
  return s.result(plans);
}
