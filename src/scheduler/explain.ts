// Placement of one Application over a fleet of resources, and the explanation
// of it: for every component, why each cloud and cluster was chosen or
// rejected, with counts per reason and the scores of the chosen clusters.
// Shared by the application controller (which acts on the plan) and the
// explain endpoint (which shows it), so both see the same picture.
import {
  COLOCATION_DEFAULTS,
  DEFAULT_STABILIZATION_SECONDS,
  type Application,
  type Cloud,
  type Cluster,
  type Site,
} from '../model/schema.ts';
import { appRequest, componentArchitectures } from './request.ts';
import { schedule } from './scheduler.ts';
import type { AppPlan, ChosenCluster } from './types.ts';
import { snapshotFromResources, type ReportedNode, type Snapshot } from './snapshot.ts';

/** Seeds the scheduler's tie-breaks; with the app's name it makes every decision repeatable. */
export const SCHEDULER_SEED = 1;

export interface FleetInput {
  clusters: readonly Cluster[];
  sites: readonly Site[];
  clouds?: readonly Cloud[];
  /** Nodes of a cluster as its driver reports them; from the cluster's status when undefined. */
  nodesOf?: (cluster: Cluster) => readonly ReportedNode[] | undefined;
  /** Clusters to treat as not Ready (found unreachable). */
  unreachable?: ReadonlySet<string>;
  /** NotReady clusters an app's replicas are held on (failover grace or failover off). */
  held?: ReadonlySet<string>;
  /** Clusters Ready for less than the app's stabilisation window. */
  settling?: ReadonlySet<string>;
}

/**
 * Clusters Ready for less than the app's failback stabilisation window, or
 * with contact lost (`ClusterInfo.settling`), and when the first of the
 * former settles. Empty unless the app has a spread minimum above one: only
 * spread restoration looks at it.
 */
export function settlingClusters(
  app: Application,
  clusters: readonly Cluster[],
  nowMs: number,
): { settling: Set<string>; settlesAtMs: number } {
  const settling = new Set<string>();
  let settlesAtMs = Infinity;
  if (app.spec.placement?.spread?.some((s) => (s.min ?? 1) > 1) !== true)
    return { settling, settlesAtMs };
  const windowMs =
    (app.spec.failover?.failback?.stabilizationSeconds ?? DEFAULT_STABILIZATION_SECONDS) * 1000;
  for (const c of clusters) {
    const ready = c.status?.conditions?.find((x) => x.type === 'Ready');
    if (ready?.status !== 'True') continue;
    const since = Date.parse(ready.lastTransitionTime ?? '') || nowMs;
    if (ready.reason === 'ContactLost') settling.add(c.metadata.name);
    else if (nowMs < since + windowMs) {
      settling.add(c.metadata.name);
      settlesAtMs = Math.min(settlesAtMs, since + windowMs);
    }
  }
  return { settling, settlesAtMs };
}

/** The fleet as the scheduler sees it. */
export function fleetSnapshot(input: FleetInput): Snapshot {
  return snapshotFromResources({
    clusters: input.clusters,
    sites: input.sites,
    ...(input.clouds ? { clouds: input.clouds } : {}),
    ...(input.nodesOf ? { nodes: input.nodesOf } : {}),
    ...(input.unreachable ? { unreachable: input.unreachable } : {}),
    ...(input.held ? { held: input.held } : {}),
    ...(input.settling ? { settling: input.settling } : {}),
  });
}

/** Replicas the app runs now as its status records them: component -> cluster -> replicas. */
export function currentFromStatus(app: Application): Record<string, Record<string, number>> {
  const current: Record<string, Record<string, number>> = {};
  for (const p of app.status?.placements ?? []) {
    const n = p.assigned ?? p.desired;
    if (n > 0) (current[p.component] ??= {})[p.cluster] = n;
  }
  return current;
}

/** Places one app on the snapshot (allocating on it); `current` is what runs now. */
export function placeApplication(
  snapshot: Snapshot,
  app: Application,
  current: Record<string, Record<string, number>>,
  explain = false,
): AppPlan {
  const colocation = app.spec.placement?.colocation;
  const result = schedule(snapshot, [appRequest(app, current)], {
    seed: SCHEDULER_SEED,
    explain,
    inPlace: true,
    ...(colocation !== undefined
      ? {
          mode: 'colocation' as const,
          colocation: { cpuLimit: colocation.cpuLimit ?? COLOCATION_DEFAULTS.cpuLimit },
        }
      : {}),
  });
  return result.plans[0]!;
}

export interface CloudExplanation {
  cloud: string;
  verdict: 'chosen' | 'feasible' | 'rejected';
  /** Clusters of the cloud, and of those the chosen ones with their replicas and scores. */
  clusters: number;
  chosen: ChosenCluster[];
  /** Feasible clusters of the cloud that were not needed, and the best of them. */
  feasible: number;
  bestFeasible?: { cluster: string; score: number };
  rejected: { count: number; reason: string }[];
}

export interface ComponentExplanationView {
  component: string;
  replicas: number;
  architectures: string[];
  /** Clusters considered, and those that passed every filter. */
  clusters: number;
  feasible: number;
  unplaced: number;
  chosen: ChosenCluster[];
  rejected: { count: number; reason: string }[];
  notes: string[];
  clouds: CloudExplanation[];
  /** Every cluster's verdict: chosen, feasible (not needed) or rejected with its reason. */
  verdicts: { cluster: string; cloud: string; verdict: string; reason?: string; score?: number }[];
}

export interface ApplicationExplanation {
  apiVersion: 'yunjian.io/v1alpha1';
  kind: 'PlacementExplanation';
  application: string;
  namespace: string;
  generation?: number;
  observedGeneration?: number;
  /** How the scores are weighted for this app. */
  weights: Record<string, number>;
  components: ComponentExplanationView[];
}

/**
 * Why the app is placed where it is: the scheduler run again, now, on the
 * fleet, sticky to what the app runs (so it shows the decision the controller
 * keeps), with every cluster's verdict.
 */
export function explainApplication(app: Application, fleet: FleetInput): ApplicationExplanation {
  const snapshot = fleetSnapshot(fleet);
  const plan = placeApplication(snapshot, app, currentFromStatus(app), true);
  const prefs = app.spec.placement?.preferences;
  const weights: Record<string, number> = {
    cost: prefs?.cost ?? 1,
    packing: prefs?.packing ?? 1,
    balance: prefs?.balance ?? 0.5,
  };
  if (prefs?.userRegions?.length) weights['proximity'] = prefs.proximity ?? 1;
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
