// How controllers reach a cluster's driver. The provider owns driver lifetimes:
// driverFor() creates or refreshes the driver for the cluster's current spec,
// forget() releases it when the Cluster is deleted.
import type { ClusterDriver } from '../drivers/types.ts';
import type { Cluster, ClusterDriver as ClusterDriverConfig } from '../model/schema.ts';

export interface DriverProvider {
  /** Undefined when no driver of the cluster's type is available (no agent joined yet). */
  driverFor(cluster: Cluster): ClusterDriver | undefined;
  forget(clusterName: string): void;
}

export type DriverType = ClusterDriverConfig['type'];

/** One provider per driver type (sim, agent, kubernetes), chosen by `spec.driver.type`. */
export function providerByType(
  providers: Partial<Record<DriverType, DriverProvider>>,
): DriverProvider {
  return {
    driverFor: (cluster) => providers[cluster.spec.driver.type]?.driverFor(cluster),
    forget(name) {
      for (const p of Object.values(providers)) p.forget(name);
    },
  };
}
