// Plain values for the application controller's decision tests: clusters
// Ready or NotReady since a given time, apps, placements and workload
// statuses, all relative to one fixed clock.
import type { Observed } from '../src/controllers/application/observed.ts';
import { placementKey } from '../src/controllers/application/observed.ts';
import type { WorkloadStatus } from '../src/drivers/types.ts';
import type { Application, Cluster, Component, PlacementStatus } from '../src/model/schema.ts';

export const NOW = Date.parse('2026-12-01T12:00:00Z');
export const ago = (seconds: number) => new Date(NOW - seconds * 1000).toISOString();

/** A cluster whose Ready condition last changed `sinceSeconds` ago. */
export function cluster(
  name: string,
  ready: 'True' | 'False' | 'Unknown' = 'True',
  sinceSeconds = 3600,
  reason?: string,
): Cluster {
  return {
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'Cluster',
    metadata: { name },
    spec: { cloud: `cloud-${name}`, site: `site-${name}`, driver: { type: 'sim' } },
    status: {
      conditions: [
        {
          type: 'Ready',
          status: ready,
          lastTransitionTime: ago(sinceSeconds),
          ...(reason !== undefined ? { reason } : {}),
        },
      ],
    },
  };
}

export function fleet(...clusters: Cluster[]): Map<string, Cluster> {
  return new Map(clusters.map((c) => [c.metadata.name, c]));
}

export function component(
  name: string,
  replicas: number,
  over: Partial<Component> = {},
): Component {
  return { name, image: 'busybox', replicas, ...over };
}

export function app(
  components: Component[],
  over: { spec?: Partial<Application['spec']>; status?: Application['status'] } = {},
): Application {
  return {
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'Application',
    metadata: { name: 'shop', namespace: 'default', generation: 1 },
    spec: { components, ...over.spec },
    ...(over.status ? { status: over.status } : {}),
  };
}

export function placement(
  componentName: string,
  clusterName: string,
  desired: number,
  over: Partial<PlacementStatus> = {},
): PlacementStatus {
  return {
    component: componentName,
    cluster: clusterName,
    cloud: `cloud-${clusterName}`,
    site: `site-${clusterName}`,
    desired,
    ready: desired,
    ...over,
  };
}

export function workload(
  componentName: string,
  over: Partial<WorkloadStatus> = {},
): WorkloadStatus {
  return {
    key: { namespace: 'default', app: 'shop', component: componentName },
    hash: 'h0',
    desired: 1,
    scheduled: 1,
    ready: 1,
    ...over,
  };
}

/** Observations from `[component, cluster, status]` triples, each listed at `listedAt`. */
export function observations(
  entries: readonly (readonly [string, string, WorkloadStatus | undefined])[],
  listedAt = NOW,
): Map<string, Observed> {
  return new Map(
    entries.map(([c, cn, ws]) => [placementKey(c, cn), { listed: true, listedAt, ws }]),
  );
}
