// The API server: assembly only. It builds the Fastify instance, installs the
// hooks every route goes through in their order (authentication and
// authorization, audit, path names, body depth, metrics, redaction) and
// registers the routes, each group in its own file under api/routes/, then the
// plugins of subsystems. Handlers are thin: admission lives in admission/,
// persistence in the store, and every error leaves through api/errors.ts.
import Fastify, { type FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { BadRequestError, type FieldCause } from '../model/errors.ts';
import {
  MAX_NAME_LENGTH,
  MAX_NAMESPACE_LENGTH,
  Name,
  Namespace,
  type Cluster,
} from '../model/schema.ts';
import type { NodeStatus } from '../drivers/types.ts';
import type { Store } from '../store/types.ts';
import { checkDepth } from '../admission/apply.ts';
import type { TokenAuthenticator } from './auth.ts';
import { installAudit, type AuditLog } from './audit.ts';
import { installAccessControl } from './authz.ts';
import { reportError, routeNotFound, sendError, type ApiLog } from './errors.ts';
import { applyRoutes } from './routes/apply.ts';
import { catalogRoutes } from './routes/catalog.ts';
import { chaosRoutes, type ChaosTarget } from './routes/chaos.ts';
import { explainRoutes } from './routes/explain.ts';
import { healthRoutes } from './routes/health.ts';
import { nodeRoutes } from './routes/nodes.ts';
import { rebalanceRoutes } from './routes/rebalance.ts';
import { redactPayload, resourceRoutes } from './routes/resources.ts';
import { WatchStreams } from './watchstream.ts';

export type { ChaosScope, ChaosTarget } from './routes/chaos.ts';

/** A cluster's nodes as its driver lists them now (controllers/snapshot.ts driverNodes); undefined when it cannot. */
export type ClusterNodes = (cluster: Cluster) => Promise<readonly NodeStatus[] | undefined>;

/**
 * Routes a subsystem (or one file of api/routes/) adds to the API. Paths under
 * `publicPrefixes` skip admin-token authentication because the plugin
 * authenticates them itself (join tokens, console sessions) or serves public
 * files. Every route is registered with a `config.doc` (api/openapi.ts), its
 * entry in /openapi.json.
 */
export interface ApiPlugin {
  name: string;
  register(app: FastifyInstance, api: ApiContext): void;
  publicPrefixes?: readonly string[];
  /** Exact paths that skip admin-token authentication (e.g. the console's `/`). */
  publicPaths?: readonly string[];
}

/** What the API server shares with its plugins. */
export interface ApiContext {
  /** Long-lived streams go through this, so they end with their client and with the server. */
  watchStreams: WatchStreams;
}

export interface ApiServerOptions {
  store: Store;
  auth: TokenAuthenticator;
  version: string;
  chaos?: ChaosTarget;
  /**
   * The nodes of a cluster with their allocations as its driver lists them,
   * for placement explanations and `GET clusters/{name}/nodes`; without it
   * explanations derive nodes from cluster status and node lists are 503.
   */
  nodes?: ClusterNodes;
  /** Extra readiness checks (controllers started, leader elected, ...). */
  ready?: () => Promise<void>;
  registry?: Registry;
  plugins?: readonly ApiPlugin[];
  /** Where mutating and refused requests are recorded (api/audit.ts). */
  audit?: AuditLog;
  /** Seconds between BOOKMARK events on idle watch streams. */
  watchBookmarkSeconds?: number;
  /** Connection timeouts; each one absent takes its default (DEFAULT_API_TIMEOUTS). */
  timeouts?: Partial<ApiTimeouts>;
  /** Where every 5xx is logged with its error id, the Fastify logger on or off; default stderr. */
  log?: ApiLog;
  logger?: boolean;
}

/**
 * How long the server keeps a connection, in seconds. An open watch stream
 * writes a BOOKMARK at least every `watchBookmarkSeconds`, so it is dropped
 * only when its client has read nothing for `watchBookmarkSeconds + idle`.
 */
export interface ApiTimeouts {
  /** A connection with no traffic either way is closed (also one that never sends a request). */
  idle: number;
  /** A keep-alive connection waits this long for its next request. */
  keepAlive: number;
  /** A request's headers must arrive within this. */
  headers: number;
  /** A whole request (headers and body) must arrive within this; at least `headers`. */
  request: number;
}

export const DEFAULT_API_TIMEOUTS: ApiTimeouts = {
  idle: 60,
  keepAlive: 5,
  headers: 30,
  request: 60,
};

/** The largest request body, in bytes; larger ones get 413 RequestEntityTooLarge. */
export const BODY_LIMIT_BYTES = 16 * 1024 * 1024;

/**
 * The longest name a path carries: a Workload's `cluster.namespace.app.component`
 * (drivers/agent). The router takes parameters this long, so every name that
 * validation accepts can be fetched; a longer one is 400, not 414.
 */
const MAX_PATH_NAME_LENGTH = 3 * MAX_NAME_LENGTH + MAX_NAMESPACE_LENGTH + 3;
/** A keyword of a schema in schema.ts (its pattern, its words for what it expects). */
const keyword = (schema: object, key: 'pattern' | 'x-expected') =>
  String((schema as Record<string, unknown>)[key]);
const NAMESPACE_PATTERN = new RegExp(keyword(Namespace, 'pattern'));
/** Name's characters at any length up to MAX_PATH_NAME_LENGTH. */
const PATH_NAME_PATTERN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** `:namespace` and `:name` of any route, before anything reads or stores them. */
function checkPathNames(params: unknown): void {
  const { namespace, name } = (params ?? {}) as Params;
  const causes: FieldCause[] = [];
  if (namespace !== undefined && !NAMESPACE_PATTERN.test(namespace))
    causes.push({
      field: 'namespace',
      message: `expected ${keyword(Namespace, 'x-expected')} in the path, got ${JSON.stringify(namespace)}`,
    });
  if (name !== undefined && !PATH_NAME_PATTERN.test(name))
    causes.push({
      field: 'name',
      message: `expected ${keyword(Name, 'x-expected')} in the path, got ${JSON.stringify(name)}`,
    });
  if (causes.length > 0)
    throw new BadRequestError(
      `invalid path: ${causes.map((c) => `${c.field}: ${c.message}`).join('; ')}`,
      { causes },
    );
}

function resolveTimeouts(overrides: Partial<ApiTimeouts> | undefined): ApiTimeouts {
  const t = { ...DEFAULT_API_TIMEOUTS, ...overrides };
  for (const [key, seconds] of Object.entries(t))
    if (!(seconds > 0))
      throw new RangeError(`timeouts.${key}: expected seconds above 0, got ${seconds}`);
  if (t.headers > t.request)
    throw new RangeError(
      `timeouts.headers (${t.headers} s) must not be above timeouts.request (${t.request} s)`,
    );
  return t;
}

const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'];

interface Params {
  namespace?: string;
  name?: string;
}

export function createApiServer(options: ApiServerOptions): FastifyInstance {
  const { store, auth } = options;
  const registry = options.registry ?? new Registry();
  if (!options.registry) collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'yunjian_api_requests_total',
    help: 'API requests by method, route and status code',
    labelNames: ['method', 'route', 'code'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'yunjian_api_request_duration_seconds',
    help: 'API request latency',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  new Gauge({
    name: 'yunjian_store_revision',
    help: 'Latest store revision',
    registers: [registry],
    async collect() {
      this.set(Number(await store.revision()));
    },
  });

  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const errors = { log, bodyLimitBytes: BODY_LIMIT_BYTES };
  const timeouts = resolveTimeouts(options.timeouts);
  const streams = new WatchStreams({
    gauge: new Gauge({
      name: 'yunjian_api_watches',
      help: 'Open watch streams (REST and console)',
      registers: [registry],
    }),
    idleTimeoutMs: timeouts.idle * 1000,
    reportError: (err, what) => reportError(err, what, log),
  });
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: BODY_LIMIT_BYTES,
    routerOptions: { maxParamLength: MAX_PATH_NAME_LENGTH },
    connectionTimeout: timeouts.idle * 1000,
    keepAliveTimeout: timeouts.keepAlive * 1000,
    requestTimeout: timeouts.request * 1000,
    frameworkErrors: (err, request, reply) => {
      void sendError(err, request, reply, errors);
    },
  });
  app.server.headersTimeout = timeouts.headers * 1000;
  app.addContentTypeParser(YAML_TYPES, { parseAs: 'string' }, (_req, body, done) =>
    done(null, body),
  );
  app.setErrorHandler((err, request, reply) => sendError(err, request, reply, errors));
  app.setNotFoundHandler(routeNotFound);
  // Before the HTTP server waits for its connections to end: watch streams never would.
  app.addHook('preClose', async () => streams.closeAll());

  // The core routes, then the subsystems' plugins; each route's rule and doc
  // are recorded as it is registered (installAccessControl's onRoute hook).
  const plugins: readonly ApiPlugin[] = [
    healthRoutes({
      store,
      registry,
      version: options.version,
      ...(options.ready ? { ready: options.ready } : {}),
    }),
    resourceRoutes(store, options.watchBookmarkSeconds ?? 15),
    applyRoutes(store),
    chaosRoutes(options.chaos),
    rebalanceRoutes(store),
    explainRoutes(store, options.nodes),
    nodeRoutes(store, options.nodes),
    catalogRoutes(store),
    ...(options.plugins ?? []),
  ];
  const publicPrefixes = plugins.flatMap((p) => p.publicPrefixes ?? []);
  const publicPaths = new Set(plugins.flatMap((p) => p.publicPaths ?? []));
  // Hooks, in the order a request meets them. First authentication and the
  // route's authorization rule (onRequest: a 401 or 403 before the body is
  // read), then the audit record of what was decided.
  installAccessControl(app, {
    auth,
    store,
    isPublic: (path) =>
      publicPaths.has(path) || publicPrefixes.some((prefix) => path.startsWith(prefix)),
  });
  if (options.audit) installAudit(app, options.audit);
  // After authentication, before a body is read: names in the path are checked first.
  app.addHook('preParsing', async (request) => checkPathNames(request.params));
  // YAML bodies are checked as they are parsed (parseDocuments), JSON ones here.
  app.addHook('preValidation', async (request) => checkDepth(request.body, 'the request body'));
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    requests.inc({ method: request.method, route, code: String(reply.statusCode) });
    latency.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });
  // Write-only fields (secrets) leave no response: objects and lists of their
  // kind are stripped here, watch events as they stream (routes/resources.ts).
  app.addHook('preSerialization', async (_request, _reply, payload: unknown) =>
    redactPayload(payload),
  );

  for (const plugin of plugins) plugin.register(app, { watchStreams: streams });
  return app;
}
