// The fleet as the scheduler sees it when it places an application, built in
// one place for the application controller (which acts on the plan) and the
// explain endpoint (which shows it): the clusters with the nodes their
// drivers list, the NotReady clusters the app's replicas are held on treated
// as Ready, and the clusters too recently Ready to move replicas to marked
// settling. Both then call the scheduler's one entry point
// (placeApplication), so `yunjian explain app` shows the controller's
// decision for sim, agent and Kubernetes members alike.
import {
  DEFAULT_STABILIZATION_SECONDS,
  type Application,
  type Cloud,
  type Cluster,
  type Site,
} from '../model/schema.ts';
import { clusterReadyCondition } from '../model/cluster.ts';
import type { ApplicationExplanation } from '../model/explanation.ts';
import {
  currentFromStatus,
  explainPlan,
  placeApplication,
  snapshotFromResources,
  type ReportedNode,
  type Snapshot,
} from '../scheduler/index.ts';
import { decideFailover, failoverPolicy } from './application/failover.ts';
import type { DriverProvider } from './drivers.ts';
import type { NodeStatus } from '../drivers/types.ts';

export interface FleetInput {
  clusters: readonly Cluster[];
  sites: readonly Site[];
  clouds?: readonly Cloud[];
  /** Nodes of a cluster as its driver lists them; from the cluster's status when undefined. */
  nodesOf?: (cluster: Cluster) => readonly ReportedNode[] | undefined;
  /** Clusters to treat as not Ready (found unreachable in this reconcile). */
  unreachable?: ReadonlySet<string>;
  /** NotReady clusters an app's replicas are held on (failover grace or failover off). */
  held?: ReadonlySet<string>;
  /** Clusters Ready for less than the app's stabilisation window (settlingClusters). */
  settling?: ReadonlySet<string>;
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
    const ready = clusterReadyCondition(c.status);
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

/** A member that has not listed its nodes by then is taken as its status says: explain never hangs on an unreachable one. */
const LIST_NODES_TIMEOUT_MS = 2000;

/**
 * The nodes of a cluster as its driver lists them now; undefined when it has
 * no driver that lists nodes or the listing failed or timed out (the
 * snapshot then derives nodes from the cluster's status). NotReady clusters
 * are asked too: the controller keeps the nodes a held cluster last listed,
 * and a driver reports what it last knew of an unreachable member (the
 * agent's last host), so held replicas stay placeable in both.
 */
export function driverNodes(
  drivers: DriverProvider,
): (cluster: Cluster) => Promise<readonly NodeStatus[] | undefined> {
  return async (cluster) => {
    const driver = drivers.driverFor(cluster);
    if (!driver?.nodes) return undefined;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(resolve, LIST_NODES_TIMEOUT_MS, undefined);
    });
    try {
      return await Promise.race([driver.nodes().catch(() => undefined), timeout]);
    } finally {
      clearTimeout(timer);
    }
  };
}

export interface ExplainFleet {
  clusters: readonly Cluster[];
  sites: readonly Site[];
  clouds?: readonly Cloud[];
  /** Lists a cluster's nodes (driverNodes); without it nodes come from cluster status. */
  nodes?: (cluster: Cluster) => Promise<readonly ReportedNode[] | undefined>;
}

/**
 * Why the app is placed where it is, now: the controller's snapshot (the
 * drivers' nodes, the clusters its replicas are held on by its failover
 * policy, the settling clusters) placed through the same entry point, sticky
 * to the replicas its status records, so the plan is the one the controller
 * keeps.
 */
export async function explainApplication(
  app: Application,
  fleet: ExplainFleet,
  nowMs: number,
): Promise<ApplicationExplanation> {
  const listNodes = fleet.nodes;
  const listed = new Map<string, readonly ReportedNode[] | undefined>();
  if (listNodes)
    await Promise.all(
      fleet.clusters.map(async (c) => listed.set(c.metadata.name, await listNodes(c))),
    );
  const byName = new Map(fleet.clusters.map((c) => [c.metadata.name, c]));
  const active = (app.status?.placements ?? []).filter((p) => p.draining !== true);
  const { held } = decideFailover(active, byName, failoverPolicy(app), nowMs);
  const snapshot = fleetSnapshot({
    clusters: fleet.clusters,
    sites: fleet.sites,
    ...(fleet.clouds ? { clouds: fleet.clouds } : {}),
    nodesOf: (c) => listed.get(c.metadata.name),
    held,
    settling: settlingClusters(app, fleet.clusters, nowMs).settling,
  });
  return explainPlan(app, placeApplication(snapshot, app, currentFromStatus(app), true));
}
