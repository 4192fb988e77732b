// `yunjian gateway`: an HTTP reverse proxy in front of every cloud an
// application runs in. It routes by Host header to the route's endpoints in
// strategy order (the same strategies as DNS), skips endpoints that active
// probes or recent failures (passive health) mark down, and retries a failed
// idempotent request on another cloud, so a client sees no failed request
// while a cloud dies: a connect error, reset, timeout or 5xx from one endpoint
// becomes an attempt on the next.
//
// Retried: GET, HEAD, PUT, DELETE, OPTIONS, and any request carrying an
// Idempotency-Key header. Request bodies are buffered (up to MAX_BODY) so they
// can be replayed. Each response names the endpoint that served it in
// `x-yunjian-endpoint` (cluster) and the attempts it took in `x-yunjian-attempts`.
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { isLoopbackAddress } from '../lib/net.ts';
import type { FeedSource } from './feed.ts';
import type { VantagePoint } from './health.ts';
import { TrafficManager } from './manager.ts';
import type { TrafficEndpoint, TrafficRoute } from './routes.ts';
import { select, StrategyState } from './strategies.ts';
import { builtinGeoLocator } from './geo.ts';
import { BACKEND_STATS_PATH, BackendStats } from './backendstats.ts';

const MAX_BODY = 16 * 1024 * 1024;
const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'host',
]);

export interface GatewayOptions {
  source: FeedSource;
  host: string;
  port: number;
  vantagePoints?: readonly VantagePoint[];
  /** Per-attempt limit for connecting and receiving response headers. */
  attemptTimeoutMs?: number;
  /** How long an endpoint that failed a request is skipped (passive health). */
  ejectMs?: number;
  maxAttempts?: number;
  log?: (line: string) => void;
}

export interface GatewayStats {
  requests: number;
  retries: number;
  failed: number;
  byEndpoint: Map<string, number>;
}

export class Gateway {
  readonly manager: TrafficManager;
  readonly stats: GatewayStats = { requests: 0, retries: 0, failed: 0, byEndpoint: new Map() };
  readonly backends = new BackendStats();
  readonly #o: GatewayOptions;
  readonly #ejected = new Map<string, number>();
  readonly #state = new StrategyState();
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 256 });
  #server: Server | undefined;

  constructor(o: GatewayOptions) {
    this.#o = o;
    this.manager = new TrafficManager({
      source: o.source,
      dnsHost: o.host,
      ...(o.vantagePoints !== undefined ? { vantagePoints: o.vantagePoints } : {}),
      ...(o.log !== undefined ? { log: o.log } : {}),
    });
  }

  get port(): number {
    return (this.#server?.address() as AddressInfo | null)?.port ?? 0;
  }

  async start(): Promise<void> {
    await this.manager.start();
    const server = createServer((req, res) => {
      this.#handle(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
    });
    server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#o.port, this.#o.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#server = server;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
    this.#agent.destroy();
    await this.manager.stop();
  }

  #healthy(e: TrafficEndpoint): boolean {
    if (!this.manager.isHealthy(e)) return false;
    const until = this.#ejected.get(e.key);
    if (until === undefined) return true;
    if (Date.now() < until) return false;
    this.#ejected.delete(e.key);
    return true;
  }

  /** The order endpoints are tried in: the strategy's choice, then other healthy clouds, then the rest. */
  attemptOrder(route: TrafficRoute, req: IncomingMessage): TrafficEndpoint[] {
    const unitKey = route.spec.units ? unitKeyOf(route.spec.units.key, req) : undefined;
    const s = select(
      route,
      (e) => this.#healthy(e),
      {
        ...(req.socket.remoteAddress !== undefined ? { address: req.socket.remoteAddress } : {}),
        ...(unitKey !== undefined ? { unitKey } : {}),
      },
      this.#state,
      builtinGeoLocator,
    );
    const first = s.endpoints;
    const rest = route.endpoints.filter((e) => !first.includes(e));
    const healthyRest = rest.filter((e) => this.#healthy(e));
    const others = rest.filter((e) => !healthyRest.includes(e));
    return s.allDown && route.spec.whenAllDown === 'failClosed'
      ? []
      : [...first, ...healthyRest, ...others];
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (
      req.url?.startsWith(BACKEND_STATS_PATH) === true &&
      isLoopbackAddress(req.socket.remoteAddress)
    ) {
      const since = Number(new URL(req.url, 'http://x').searchParams.get('since') ?? 0);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ clusters: this.backends.since(Number.isFinite(since) ? since : 0) }),
      );
      return;
    }
    this.stats.requests++;
    const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    const route = this.manager.table.routes.get(host);
    if (route === undefined) {
      this.stats.failed++;
      return sendError(
        res,
        404,
        'UnknownHost',
        `no application serves host ${JSON.stringify(host)}`,
      );
    }
    const body = await readBody(req);
    if (body === undefined) {
      this.stats.failed++;
      return sendError(res, 413, 'BodyTooLarge', `request bodies are limited to ${MAX_BODY} bytes`);
    }
    const method = req.method ?? 'GET';
    const retryable = IDEMPOTENT.has(method) || req.headers['idempotency-key'] !== undefined;
    const order = this.attemptOrder(route, req);
    const maxAttempts = retryable ? Math.min(order.length, this.#o.maxAttempts ?? 3) : 1;
    const triedClouds = new Set<string>();
    let lastError = 'no healthy endpoint';
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      // Prefer a cloud not tried yet: a failure often takes the whole cloud.
      const e = order.find((x) => !triedClouds.has(x.cloud)) ?? order[attempt - 1];
      if (e === undefined) break;
      triedClouds.add(e.cloud);
      order.splice(order.indexOf(e), 1);
      const last = attempt === maxAttempts;
      const outcome = await this.#attempt(e, req, res, body, attempt, last);
      if (outcome === undefined) {
        this.stats.byEndpoint.set(e.cluster, (this.stats.byEndpoint.get(e.cluster) ?? 0) + 1);
        return;
      }
      this.#ejected.set(e.key, Date.now() + (this.#o.ejectMs ?? 5000));
      lastError = `${e.cluster} (${e.address}:${e.port}): ${outcome}`;
      if (!last) this.stats.retries++;
    }
    this.stats.failed++;
    if (!res.headersSent)
      sendError(res, 502, 'UpstreamFailed', `every attempt failed; last: ${lastError}`);
    else res.destroy();
  }

  /** Undefined once a response went to the client; otherwise why the attempt failed. */
  #attempt(
    e: TrafficEndpoint,
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer,
    attempt: number,
    last: boolean,
  ): Promise<string | undefined> {
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers))
      if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
    headers.host = req.headers.host ?? e.address;
    headers['x-forwarded-for'] = req.socket.remoteAddress ?? '';
    headers['x-forwarded-host'] = req.headers.host ?? '';
    headers['content-length'] = String(body.length);
    const started = Date.now();
    return new Promise((resolve) => {
      let settled = false;
      const fail = (why: string) => {
        if (settled) return;
        settled = true;
        this.backends.record(e.cluster, true, Date.now() - started, Date.now());
        up.destroy();
        resolve(why);
      };
      const up = httpRequest({
        host: e.address,
        port: e.port,
        method: req.method,
        path: req.url,
        headers,
        agent: this.#agent,
      });
      up.setTimeout(this.#o.attemptTimeoutMs ?? 3000, () => fail('timeout'));
      up.once('error', (err) => fail(err.message));
      up.once('response', (upRes) => {
        const code = upRes.statusCode ?? 502;
        if (code >= 500 && !last) {
          upRes.resume();
          fail(`HTTP ${code}`);
          return;
        }
        this.backends.record(e.cluster, code >= 500, Date.now() - started, Date.now());
        settled = true;
        const out: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(upRes.headers))
          if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
        out['x-yunjian-endpoint'] = e.cluster;
        out['x-yunjian-attempts'] = String(attempt);
        res.writeHead(code, out);
        upRes.pipe(res);
        upRes.once('end', () => resolve(undefined));
        upRes.once('error', () => {
          res.destroy();
          resolve(undefined);
        });
      });
      up.end(body);
    });
  }
}

function unitKeyOf(source: string, req: IncomingMessage): string | undefined {
  const [kind, name = ''] = [
    source.slice(0, source.indexOf(':')),
    source.slice(source.indexOf(':') + 1),
  ];
  if (kind === 'header') {
    const v = req.headers[name.toLowerCase()];
    return Array.isArray(v) ? v[0] : v;
  }
  if (kind === 'cookie') {
    for (const part of (req.headers.cookie ?? '').split(';')) {
      const [k, ...v] = part.trim().split('=');
      if (k === name) return decodeURIComponent(v.join('='));
    }
    return undefined;
  }
  return new URL(req.url ?? '/', 'http://x').searchParams.get(name) ?? undefined;
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        req.destroy();
        resolve(undefined);
        return;
      }
      chunks.push(c);
    });
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

function sendError(res: ServerResponse, status: number, reason: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ kind: 'Status', status: 'Failure', reason, message, code: status }));
}
