// How controllers reach a cluster's driver. The provider owns driver lifetimes:
// driverFor() creates or refreshes the driver for the cluster's current spec,
// forget() releases it when the Cluster is deleted.
import type { ClusterDriver } from '../drivers/types.ts';
import type { Cluster } from '../model/schema.ts';

export interface DriverProvider {
  /** Undefined when no driver of the cluster's type is available (no agent joined yet). */
  driverFor(cluster: Cluster): ClusterDriver | undefined;
  forget(clusterName: string): void;
}
