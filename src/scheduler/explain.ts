// The explanation of an application's plan: for every component, why each
// cloud and cluster was chosen or rejected, with counts per reason and the
// scores of the chosen clusters. A view of the plan placeApplication made
// with `explain` (place.ts), for `GET .../applications/{name}/explain` and
// `yunjian explain app`; it decides nothing itself.
import type { Application } from '../model/schema.ts';
import { DEFAULT_WEIGHTS } from './plugins.ts';
import { componentArchitectures } from './request.ts';
import type {
  ApplicationExplanation,
  CloudExplanation,
  ComponentExplanationView,
} from '../model/explanation.ts';
import type { AppPlan } from './types.ts';

/** Why the app is placed where it is: the plan's explanation (made with `explain`), grouped by cloud. */
export function explainPlan(app: Application, plan: AppPlan): ApplicationExplanation {
  const prefs = app.spec.placement?.preferences;
  const weights: Record<string, number> = {
    cost: prefs?.cost ?? DEFAULT_WEIGHTS.cost,
    packing: prefs?.packing ?? DEFAULT_WEIGHTS.packing,
    balance: prefs?.balance ?? DEFAULT_WEIGHTS.balance,
  };
  if (prefs?.userRegions?.length)
    weights['proximity'] = prefs.proximity ?? DEFAULT_WEIGHTS.proximity;
  const out: ApplicationExplanation = {
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'PlacementExplanation',
    application: app.metadata.name,
    namespace: app.metadata.namespace ?? 'default',
    weights,
    components: plan.explanation.map((e, i) => {
      const spec = app.spec.components[i]!;
      const verdicts = e.verdicts ?? [];
      const byCloud = new Map<string, CloudExplanation & { reasons: Map<string, number> }>();
      for (const v of verdicts) {
        let c = byCloud.get(v.cloud);
        if (!c) {
          c = {
            cloud: v.cloud,
            verdict: 'rejected',
            clusters: 0,
            chosen: [],
            feasible: 0,
            rejected: [],
            reasons: new Map(),
          };
          byCloud.set(v.cloud, c);
        }
        c.clusters++;
        if (v.verdict === 'chosen') {
          c.verdict = 'chosen';
          const chosen = e.chosen.find((x) => x.cluster === v.cluster);
          if (chosen) c.chosen.push(chosen);
        } else if (v.verdict === 'feasible') {
          c.feasible++;
          if (c.verdict === 'rejected') c.verdict = 'feasible';
          if (v.score !== undefined && (c.bestFeasible?.score ?? -1) < v.score)
            c.bestFeasible = { cluster: v.cluster, score: v.score };
        } else if (v.reason !== undefined) {
          c.reasons.set(v.reason, (c.reasons.get(v.reason) ?? 0) + 1);
        }
      }
      const rank = { chosen: 0, feasible: 1, rejected: 2 } as const;
      const clouds = [...byCloud.values()]
        .map(({ reasons, ...c }) => ({
          ...c,
          rejected: [...reasons]
            .map(([reason, count]) => ({ count, reason }))
            .sort((a, b) => b.count - a.count || (a.reason < b.reason ? -1 : 1)),
        }))
        .sort(
          (a, b) =>
            rank[a.verdict] - rank[b.verdict] ||
            (a.cloud < b.cloud ? -1 : a.cloud > b.cloud ? 1 : 0),
        );
      return {
        component: e.component,
        replicas: spec.replicas,
        architectures: componentArchitectures(spec),
        clusters: e.clusters,
        feasible: e.feasible,
        unplaced: e.unplaced,
        chosen: e.chosen,
        rejected: [...e.rejected],
        notes: e.notes,
        clouds,
        verdicts: verdicts.map((v) => {
          const x: ComponentExplanationView['verdicts'][number] = {
            cluster: v.cluster,
            cloud: v.cloud,
            verdict: v.verdict,
          };
          if (v.reason !== undefined) x.reason = v.reason;
          if (v.score !== undefined) x.score = v.score;
          return x;
        }),
      };
    }),
  };
  if (app.metadata.generation !== undefined) out.generation = app.metadata.generation;
  if (app.status?.observedGeneration !== undefined)
    out.observedGeneration = app.status.observedGeneration;
  return out;
}
