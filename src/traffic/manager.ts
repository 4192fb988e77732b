// The traffic manager: keeps the routing table in step with the store, probes
// every networked endpoint from each vantage point, and publishes the result to
// the DNS authority (and its packet cache), to events and to metrics.
//
// Ordering: a health flip first updates the verdict the authority reads, then
// publishes it to every DNS thread (emptying their packet caches) and waits
// for all of them, then records events; so once an EndpointDown event is
// visible no answer includes the endpoint (unless all are down and the route
// fails open).
import { availableParallelism } from 'node:os';
import type { EventRecorder } from '../events/recorder.ts';
import type { Application, Cluster, Site } from '../model/schema.ts';
import { Authority } from './answer.ts';
import { nativeUdpUnavailable, type UdpThreads } from './dns-native.ts';
import { DnsServer } from './dns.ts';
import { follow, type FeedSource, type FeedSnapshot } from './feed.ts';
import { builtinGeoLocator, type GeoLocator } from './geo.ts';
import {
  EndpointHealth,
  type HealthState,
  probe,
  type ProbeCheck,
  type Thresholds,
  type VantagePoint,
} from './health.ts';
import {
  buildRouteTable,
  type RouteTable,
  type TrafficEndpoint,
  type TrafficRoute,
} from './routes.ts';
import { select, sharedCounters, StrategyState } from './strategies.ts';

/** Health-check defaults: seconds, not Route 53's 30 s x 3. */
export const HEALTH_DEFAULTS = { intervalSeconds: 1, timeoutSeconds: 1, unhealthy: 2, healthy: 2 };

/** On one machine each vantage point is a source address; see NOTES.md for remote probers. */
export const DEFAULT_VANTAGE_POINTS: readonly VantagePoint[] = [
  { name: 'probe-a', localAddress: '127.0.0.1' },
  { name: 'probe-b', localAddress: '127.0.0.2' },
];

export interface TrafficManagerOptions {
  source: FeedSource;
  dnsHost: string;
  /** Absent: no DNS server (the gateway uses the table and health alone). */
  dnsPort?: number;
  /**
   * UDP threads of the DNS server; defaults to the available parallelism,
   * 0 with a custom `geo` when UDP is served by Node worker threads (a locator
   * cannot cross threads; native threads hand misses to the main thread).
   */
  dnsWorkers?: number;
  /** What serves UDP (`DnsServerOptions.udp`); default native when built. */
  dnsUdp?: UdpThreads;
  vantagePoints?: readonly VantagePoint[];
  geo?: GeoLocator;
  /** Addresses answered for ns1.<zone>; defaults to the DNS host. */
  nameServers?: readonly string[];
  recorder?: EventRecorder;
  log?: (line: string) => void;
}

export interface TrafficEvent {
  at: string;
  reason: 'EndpointDown' | 'EndpointUp' | 'TrafficFailover';
  host: string;
  message: string;
}

interface Checked {
  route: TrafficRoute;
  endpoint: TrafficEndpoint;
  health: EndpointHealth;
  timer?: NodeJS.Timeout;
  check?: ProbeCheck;
  thresholds: Thresholds;
  intervalMs: number;
  inFlight: boolean;
}

export class TrafficManager {
  readonly authority: Authority;
  readonly dns: DnsServer;
  readonly vantagePoints: readonly VantagePoint[];
  /** Recent health and failover events, newest last (bounded). */
  readonly history: TrafficEvent[] = [];
  readonly failovers = new Map<string, number>();
  #table: RouteTable = { routes: new Map(), zones: [], conflicts: [] };
  /** By `${host}|${endpoint.key}`: survives table rebuilds. */
  readonly #checked = new Map<string, Checked>();
  readonly #byEndpoint = new Map<TrafficEndpoint, Checked>();
  readonly #serving = new Map<string, string>();
  readonly #o: TrafficManagerOptions;
  readonly #abort = new AbortController();
  #following: Promise<void> | undefined;

  constructor(o: TrafficManagerOptions) {
    this.#o = o;
    this.vantagePoints = o.vantagePoints ?? DEFAULT_VANTAGE_POINTS;
    this.authority = new Authority({
      geo: o.geo ?? builtinGeoLocator,
      nameServers: o.nameServers ?? [o.dnsHost === '0.0.0.0' ? '127.0.0.1' : o.dnsHost],
      counters: sharedCounters(),
    });
    this.authority.healthy = (e) => this.isHealthy(e);
    this.dns = new DnsServer({
      authority: this.authority,
      host: o.dnsHost,
      port: o.dnsPort ?? 0,
      workers:
        o.dnsWorkers ??
        (o.geo === undefined || (o.dnsUdp !== 'workers' && nativeUdpUnavailable() === undefined)
          ? availableParallelism()
          : 0),
      ...(o.dnsUdp !== undefined ? { udp: o.dnsUdp } : {}),
      ...(o.log !== undefined ? { log: o.log } : {}),
    });
  }

  get table(): RouteTable {
    return this.#table;
  }

  async start(): Promise<void> {
    if (this.#o.dnsPort !== undefined) await this.dns.listen();
    this.#following = follow(
      this.#o.source,
      ['Application', 'Site', 'Cluster'],
      (snap) => this.#rebuild(snap),
      this.#abort.signal,
      (err) => this.#o.log?.(`traffic: watch failed, relisting: ${String(err)}`),
    );
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    for (const c of this.#checked.values()) clearInterval(c.timer);
    this.#checked.clear();
    await this.#following;
    await this.dns.close();
  }

  isHealthy(e: TrafficEndpoint): boolean {
    if (!e.ready) return false;
    if (e.probe === 'simulated') return e.clusterReady;
    return this.#byEndpoint.get(e)?.health.state !== 'down';
  }

  healthOf(e: TrafficEndpoint): EndpointHealth | undefined {
    return this.#byEndpoint.get(e)?.health;
  }

  #rebuild(snap: FeedSnapshot): void {
    const values = <T>(kind: string) => [...(snap.objects.get(kind)?.values() ?? [])] as T[];
    const table = buildRouteTable(
      values<Application>('Application'),
      values<Site>('Site'),
      values<Cluster>('Cluster'),
    );
    const now = Date.now();
    const live = new Set<string>();
    this.#byEndpoint.clear();
    for (const route of table.routes.values()) {
      const hc = route.spec.healthCheck;
      const intervalMs = Math.max(
        100,
        (hc?.intervalSeconds ?? HEALTH_DEFAULTS.intervalSeconds) * 1000,
      );
      const check: ProbeCheck = {
        kind: hc?.http ? (hc.http.scheme === 'HTTPS' ? 'https' : 'http') : 'tcp',
        path: hc?.http?.path ?? '/',
        timeoutMs: Math.max(50, (hc?.timeoutSeconds ?? HEALTH_DEFAULTS.timeoutSeconds) * 1000),
      };
      const thresholds = {
        healthy: hc?.healthyThreshold ?? HEALTH_DEFAULTS.healthy,
        unhealthy: hc?.unhealthyThreshold ?? HEALTH_DEFAULTS.unhealthy,
      };
      for (const endpoint of route.endpoints) {
        const id = `${route.host}|${endpoint.key}`;
        live.add(id);
        let c = this.#checked.get(id);
        if (c === undefined) {
          c = {
            route,
            endpoint,
            health: new EndpointHealth(
              this.vantagePoints.map((v) => v.name),
              now,
            ),
            thresholds,
            intervalMs,
            inFlight: false,
          };
          this.#checked.set(id, c);
        }
        const wasHealthy = this.#checkedHealthy(c);
        c.route = route;
        c.endpoint = endpoint;
        c.thresholds = thresholds;
        const sameSchedule = c.timer !== undefined && c.intervalMs === intervalMs;
        c.intervalMs = intervalMs;
        c.check = check;
        if (endpoint.probe === 'network' && !sameSchedule) {
          clearInterval(c.timer);
          const cc = c;
          c.timer = setInterval(() => this.#probeAll(cc), intervalMs);
          c.timer.unref();
          this.#probeAll(c);
        } else if (endpoint.probe === 'simulated' && c.timer !== undefined) {
          clearInterval(c.timer);
          delete c.timer;
        }
        this.#byEndpoint.set(endpoint, c);
        const healthyNow = this.#checkedHealthy(c);
        if (wasHealthy !== healthyNow && endpoint.probe === 'simulated')
          this.#note(
            route,
            healthyNow ? 'EndpointUp' : 'EndpointDown',
            endpointText(endpoint, 'cluster readiness'),
          );
      }
    }
    for (const [id, c] of this.#checked) {
      if (live.has(id)) continue;
      clearInterval(c.timer);
      this.#checked.delete(id);
    }
    for (const conflict of table.conflicts)
      this.#o.log?.(
        `traffic: host ${conflict.host} is claimed by ${conflict.winner} and ${conflict.loser}; ${conflict.winner} serves it`,
      );
    this.#table = table;
    this.authority.table = table;
    this.authority.serial = snap.revision;
    void this.dns.publish();
    for (const route of table.routes.values()) this.#checkServing(route, false);
  }

  #checkedHealthy(c: Checked): boolean {
    const e = c.endpoint;
    if (!e.ready) return false;
    if (e.probe === 'simulated') return e.clusterReady;
    return c.health.state !== 'down';
  }

  #probeAll(c: Checked): void {
    if (c.inFlight || c.check === undefined) return;
    c.inFlight = true;
    const check = c.check;
    const target = { address: c.endpoint.address, port: c.endpoint.port };
    void Promise.all(
      this.vantagePoints.map(async (vp) => {
        const result = await probe(vp, target, check);
        if (this.#checked.get(`${c.route.host}|${c.endpoint.key}`) !== c) return;
        const flipped = c.health.record(vp.name, result, c.thresholds, Date.now());
        if (flipped !== undefined) await this.#flipped(c, flipped);
      }),
    ).finally(() => {
      c.inFlight = false;
    });
  }

  async #flipped(c: Checked, state: HealthState): Promise<void> {
    await this.dns.publish();
    const seenBy = [...c.health.byVantage]
      .map(
        ([name, v]) =>
          `${name}: ${v.state}${v.lastResult?.error !== undefined ? ` (${v.lastResult.error})` : ''}`,
      )
      .join(', ');
    this.#note(
      c.route,
      state === 'down' ? 'EndpointDown' : 'EndpointUp',
      endpointText(c.endpoint, seenBy),
    );
    this.#checkServing(c.route, true);
  }

  /** The clouds a route sends traffic to now; a change caused by health is a failover. */
  #checkServing(route: TrafficRoute, byHealth: boolean): void {
    const s = select(route, (e) => this.isHealthy(e), {}, new StrategyState(), builtinGeoLocator);
    const clouds = [
      ...new Set(
        (route.strategy === 'failover'
          ? s.endpoints
          : route.endpoints.filter((e) => this.isHealthy(e))
        ).map((e) => e.cloud),
      ),
    ]
      .sort()
      .join(',');
    const serving = s.allDown ? `none (${route.spec.whenAllDown ?? 'failOpen'})` : clouds;
    const before = this.#serving.get(route.host);
    this.#serving.set(route.host, serving);
    if (before === undefined || before === serving || !byHealth) return;
    this.failovers.set(route.host, (this.failovers.get(route.host) ?? 0) + 1);
    this.#note(
      route,
      'TrafficFailover',
      `traffic for ${route.host} moved from ${before} to ${serving}`,
    );
  }

  servingClouds(host: string): string | undefined {
    return this.#serving.get(host);
  }

  #note(route: TrafficRoute, reason: TrafficEvent['reason'], message: string): void {
    const ev = { at: new Date().toISOString(), reason, host: route.host, message };
    this.history.push(ev);
    if (this.history.length > 200) this.history.splice(0, this.history.length - 200);
    this.#o.log?.(`traffic: ${reason} ${message}`);
    const recorder = this.#o.recorder;
    if (recorder)
      void recorder.record(
        { kind: 'Application', namespace: route.namespace, name: route.app },
        reason === 'EndpointUp' ? 'Normal' : 'Warning',
        reason,
        message,
      );
  }
}

function endpointText(e: TrafficEndpoint, detail: string): string {
  return `${e.address}:${e.port} (cluster ${e.cluster}, cloud ${e.cloud}) — ${detail}`;
}
