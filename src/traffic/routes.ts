// The routing table: which host names we answer for and the endpoints behind
// each, built (purely) from Applications with `spec.traffic`, their
// `status.placements[].endpoints`, and the Sites and Clusters those live on.
// Rebuilt from scratch on every change; the DNS server and the gateway read it.
import { isIPv4, isIPv6 } from 'node:net';
import { isClusterReady } from '../model/cluster.ts';
import {
  DEFAULT_TRAFFIC_TTL_SECONDS,
  type Application,
  type Cluster,
  type Site,
} from '../model/schema.ts';
import type { GeoPoint } from './geo.ts';
import { migrationTraffic } from './migration.ts';

export type TrafficSpec = NonNullable<Application['spec']['traffic']>;
export type Strategy = TrafficSpec['strategy'];

export interface TrafficEndpoint {
  /** Unique in a route: cluster and address:port. */
  key: string;
  cluster: string;
  cloud: string;
  site?: string;
  address: string;
  port: number;
  family: 4 | 6;
  /** The placement reports at least one ready replica. */
  ready: boolean;
  /** Being replaced: served only when nothing else is healthy. */
  draining: boolean;
  /**
   * 'network': probed over the network. 'simulated': a sim member's address
   * does not exist, so its health is the placement's readiness and the
   * cluster's Ready condition instead of a probe.
   */
  probe: 'network' | 'simulated';
  clusterReady: boolean;
  location?: GeoPoint;
}

export interface TrafficRoute {
  namespace: string;
  app: string;
  host: string;
  strategy: Strategy;
  ttl: number;
  spec: TrafficSpec;
  endpoints: TrafficEndpoint[];
}

export interface RouteTable {
  /** By host name (lower case, no trailing dot). */
  routes: Map<string, TrafficRoute>;
  /** Zones we are authoritative for, longest first: the parent domain of each host. */
  zones: string[];
  /** Hosts claimed by more than one application (the first by namespace/name wins). */
  conflicts: { host: string; winner: string; loser: string }[];
}

/** The zone a host lives in: its parent domain, or the host itself when the parent is a TLD. */
export function zoneOf(host: string): string {
  const dot = host.indexOf('.');
  const parent = host.slice(dot + 1);
  return parent.includes('.') ? parent : host;
}

export function buildRouteTable(
  apps: readonly Application[],
  sites: readonly Site[],
  clusters: readonly Cluster[],
): RouteTable {
  const siteByName = new Map(sites.map((s) => [s.metadata.name, s]));
  const clusterByName = new Map(clusters.map((c) => [c.metadata.name, c]));
  const routes = new Map<string, TrafficRoute>();
  const conflicts: RouteTable['conflicts'] = [];
  const sorted = [...apps].sort((a, b) => (appId(a) < appId(b) ? -1 : appId(a) > appId(b) ? 1 : 0));
  for (const app of sorted) {
    const spec = app.spec.traffic;
    if (spec === undefined) continue;
    const existing = routes.get(spec.host);
    if (existing) {
      conflicts.push({
        host: spec.host,
        winner: `${existing.namespace}/${existing.app}`,
        loser: appId(app),
      });
      continue;
    }
    const component = spec.component ?? app.spec.components[0]?.name;
    const endpoints: TrafficEndpoint[] = [];
    const seen = new Set<string>();
    for (const p of app.status?.placements ?? []) {
      if (p.component !== component) continue;
      const candidates = p.endpoints ?? [];
      const ep =
        spec.port !== undefined ? candidates.find((e) => e.name === spec.port) : candidates[0];
      if (ep === undefined) continue;
      const family = isIPv4(ep.address) ? 4 : isIPv6(ep.address) ? 6 : undefined;
      if (family === undefined) continue;
      const key = `${p.cluster}/${family === 6 ? `[${ep.address}]` : ep.address}:${ep.port}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const cluster = clusterByName.get(p.cluster);
      const siteName = p.site ?? cluster?.spec.site;
      const site = siteName !== undefined ? siteByName.get(siteName) : undefined;
      endpoints.push({
        key,
        cluster: p.cluster,
        cloud: p.cloud,
        ...(siteName !== undefined ? { site: siteName } : {}),
        address: ep.address,
        port: ep.port,
        family,
        ready: p.ready > 0,
        draining: p.draining === true,
        probe: cluster?.spec.driver.type === 'sim' ? 'simulated' : 'network',
        clusterReady: cluster !== undefined && isClusterReady(cluster),
        ...(site
          ? {
              location: {
                region: site.metadata.name,
                latitude: site.spec.latitude,
                longitude: site.spec.longitude,
              },
            }
          : {}),
      });
    }
    endpoints.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const migration = app.spec.migration;
    const routed = migration === undefined ? spec : migrationTraffic(spec, migration, endpoints);
    routes.set(spec.host, {
      namespace: app.metadata.namespace ?? 'default',
      app: app.metadata.name,
      host: spec.host,
      strategy: routed.strategy,
      ttl: spec.ttl ?? DEFAULT_TRAFFIC_TTL_SECONDS,
      spec: routed,
      endpoints,
    });
  }
  const zones = [...new Set([...routes.keys()].map(zoneOf))].sort(
    (a, b) => b.length - a.length || (a < b ? -1 : 1),
  );
  return { routes, zones, conflicts };
}

function appId(app: Application): string {
  return `${app.metadata.namespace ?? 'default'}/${app.metadata.name}`;
}
