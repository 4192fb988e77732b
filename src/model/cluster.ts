// Whether a member cluster is Ready: its status's Ready condition says True.
// The one reading of that condition for every consumer (controllers, the
// scheduler's snapshot, the traffic manager), so "Ready" means the same thing
// to failover, placement and DNS alike.
import type { Cluster, ClusterStatus, Condition } from './schema.ts';

export function clusterReadyCondition(status: ClusterStatus | undefined): Condition | undefined {
  return status?.conditions?.find((c) => c.type === 'Ready');
}

export function isClusterReady(cluster: Cluster): boolean {
  return clusterReadyCondition(cluster.status)?.status === 'True';
}
