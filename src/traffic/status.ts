// What the traffic manager exposes: a status document (routes, endpoint health
// per vantage point, answers per strategy, recent failovers) for the API and
// the CLI, and Prometheus metrics computed at scrape time from the same state.
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { TrafficEvent, TrafficManager } from './manager.ts';

export interface EndpointStatus {
  cluster: string;
  cloud: string;
  site?: string;
  address: string;
  port: number;
  healthy: boolean;
  ready: boolean;
  draining: boolean;
  probe: 'network' | 'simulated';
  since?: string;
  vantagePoints: {
    name: string;
    state: 'up' | 'down';
    lastProbeAt?: string;
    latencyMs?: number;
    error?: string;
  }[];
}

export interface RouteStatus {
  host: string;
  application: string;
  strategy: string;
  ttl: number;
  whenAllDown: string;
  serving: string;
  failovers: number;
  endpoints: EndpointStatus[];
}

export interface TrafficStatus {
  dns: {
    port: number;
    /** What serves UDP: native threads, Node worker threads, or the main thread alone. */
    udp: 'native' | 'workers' | 'main';
    workers: number;
    received: number;
    malformed: number;
    /** Queries read but dropped because the main thread was behind (native threads). */
    dropped: number;
  };
  vantagePoints: { name: string; localAddress?: string }[];
  routes: RouteStatus[];
  answers: { transport: string; strategy: string; rcode: string; count: number }[];
  events: TrafficEvent[];
}

export function trafficStatus(m: TrafficManager): TrafficStatus {
  const routes: RouteStatus[] = [...m.table.routes.values()]
    .sort((a, b) => (a.host < b.host ? -1 : 1))
    .map((r) => ({
      host: r.host,
      application: `${r.namespace}/${r.app}`,
      strategy: r.strategy,
      ttl: r.ttl,
      whenAllDown: r.spec.whenAllDown ?? 'failOpen',
      serving: m.servingClouds(r.host) ?? '',
      failovers: m.failovers.get(r.host) ?? 0,
      endpoints: r.endpoints.map((e) => {
        const h = m.healthOf(e);
        return {
          cluster: e.cluster,
          cloud: e.cloud,
          ...(e.site !== undefined ? { site: e.site } : {}),
          address: e.address,
          port: e.port,
          healthy: m.isHealthy(e),
          ready: e.ready,
          draining: e.draining,
          probe: e.probe,
          ...(h ? { since: new Date(h.since).toISOString() } : {}),
          vantagePoints:
            e.probe === 'network' && h
              ? [...h.byVantage].map(([name, v]) => ({
                  name,
                  state: v.state,
                  ...(v.lastProbeAt !== undefined
                    ? { lastProbeAt: new Date(v.lastProbeAt).toISOString() }
                    : {}),
                  ...(v.lastResult ? { latencyMs: Math.round(v.lastResult.ms * 10) / 10 } : {}),
                  ...(v.lastResult?.error !== undefined ? { error: v.lastResult.error } : {}),
                }))
              : [],
        };
      }),
    }));
  const answers = [...m.dns.counts].map(([key, count]) => {
    const [transport = '', strategy = '', rcode = ''] = key.split('|');
    return { transport, strategy, rcode, count };
  });
  return {
    dns: {
      port: m.dns.port,
      udp: m.dns.udpThreads,
      workers: m.dns.workers,
      received: m.dns.received,
      malformed: m.dns.malformed,
      dropped: m.dns.dropped,
    },
    vantagePoints: m.vantagePoints.map((v) => ({ ...v })),
    routes,
    answers,
    events: [...m.history],
  };
}

/** `GET /api/v1alpha1/traffic` (admin token, like every other API route). */
export function trafficApiPlugin(m: TrafficManager) {
  return {
    name: 'traffic',
    register(app: FastifyInstance) {
      app.get(
        '/api/v1alpha1/traffic',
        {
          config: {
            doc: {
              tags: ['Traffic'],
              summary:
                'The DNS server, vantage points, routes with their endpoints and health, answers and recent changes',
              response: { status: 200, description: 'Traffic status' },
            },
          },
        },
        async () => trafficStatus(m),
      );
    },
  };
}

/** Registers the traffic metrics on `registry`; values are read from the manager at scrape time. */
export function registerTrafficMetrics(registry: Registry, m: TrafficManager): void {
  new Gauge({
    name: 'yunjian_traffic_endpoint_healthy',
    help: 'Whether an endpoint is in the answers (1) or out (0), after the vantage-point quorum',
    labelNames: ['host', 'cluster', 'cloud', 'address'],
    registers: [registry],
    collect() {
      this.reset();
      for (const r of m.table.routes.values())
        for (const e of r.endpoints)
          this.set(
            { host: r.host, cluster: e.cluster, cloud: e.cloud, address: `${e.address}:${e.port}` },
            m.isHealthy(e) ? 1 : 0,
          );
    },
  });
  new Gauge({
    name: 'yunjian_traffic_vantage_up',
    help: 'Endpoint health as one vantage point sees it (1 up, 0 down)',
    labelNames: ['host', 'cluster', 'vantage'],
    registers: [registry],
    collect() {
      this.reset();
      for (const r of m.table.routes.values())
        for (const e of r.endpoints) {
          const h = m.healthOf(e);
          if (e.probe !== 'network' || !h) continue;
          for (const [vantage, v] of h.byVantage)
            this.set({ host: r.host, cluster: e.cluster, vantage }, v.state === 'up' ? 1 : 0);
        }
    },
  });
  new Counter({
    name: 'yunjian_dns_answers_total',
    help: 'DNS answers by transport, strategy and rcode',
    labelNames: ['transport', 'strategy', 'rcode'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [key, count] of m.dns.counts) {
        const [transport = '', strategy = '', rcode = ''] = key.split('|');
        this.inc({ transport, strategy, rcode }, count);
      }
    },
  });
  new Counter({
    name: 'yunjian_dns_malformed_total',
    help: 'DNS packets that did not decode',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(m.dns.malformed);
    },
  });
  new Counter({
    name: 'yunjian_dns_dropped_total',
    help: 'DNS queries read by the native UDP threads but dropped because the main thread was behind',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(m.dns.dropped);
    },
  });
  new Counter({
    name: 'yunjian_traffic_failovers_total',
    help: 'Changes of the clouds a host is served from, caused by health',
    labelNames: ['host'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [host, n] of m.failovers) this.inc({ host }, n);
    },
  });
}
