// Plain values the application controller's decisions share: what a pass
// observed of each workload, the events it records, and a cluster lookup (a
// Map in tests, the pass's view of the fleet in the controller).
import type { Cluster } from '../../model/schema.ts';
import type { WorkloadStatus } from '../../drivers/types.ts';

/** What one pass saw of a component's workload on a cluster. */
export interface Observed {
  /** False when the cluster has no driver or its listing failed. */
  listed: boolean;
  /** When the listing the status comes from was requested (0 when none). */
  listedAt: number;
  ws?: WorkloadStatus | undefined;
}

/** Observations of one pass, by `placementKey(component, cluster)`. */
export type Observations = ReadonlyMap<string, Observed>;

export const NOT_LISTED: Observed = { listed: false, listedAt: 0 };

export function placementKey(component: string, cluster: string): string {
  return `${component}@${cluster}`;
}

export function observedOf(observed: Observations, component: string, cluster: string): Observed {
  return observed.get(placementKey(component, cluster)) ?? NOT_LISTED;
}

export interface ClusterLookup {
  get(name: string): Cluster | undefined;
}

/** An event the pass records once its status write succeeds. */
export interface Note {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}
