// The REST API: Kubernetes-shaped resource endpoints for every registered kind,
// watch streams, server-side apply, chaos, health and metrics. Handlers are thin:
// admission (validation) lives in apply.ts/model, persistence in the store, and
// every error leaves through api/errors.ts.
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import {
  BadRequestError,
  ConflictError,
  ValidationError,
  toStatusBody,
  type FieldCause,
} from '../model/errors.ts';
import { KINDS, type KindInfo } from '../model/kinds.ts';
import {
  API_VERSION,
  MAX_NAME_LENGTH,
  MAX_NAMESPACE_LENGTH,
  Name,
  Namespace,
  type Application,
  type Cloud,
  type Cluster,
  type Site,
} from '../model/schema.ts';
import { REBALANCE_ANNOTATION } from '../model/wellknown.ts';
import { explainApplication } from '../controllers/snapshot.ts';
import type { ReportedNode } from '../scheduler/index.ts';
import type { Store, StoredObject } from '../store/types.ts';
import { admit, applyDocuments, checkDepth, parseDocuments } from '../admission/apply.ts';
import type { TokenAuthenticator } from './auth.ts';
import { installAudit, type AuditLog } from './audit.ts';
import { installAccessControl, visibleTo } from './authz.ts';
import { reportError, routeNotFound, sendError, type ApiLog } from './errors.ts';
import { buildOpenApi } from './openapi.ts';
import { WatchStreams } from './watchstream.ts';

export type ChaosScope = 'cloud' | 'site' | 'cluster' | 'node';

/** What the API needs from whatever can inject faults (the sim fleet today). */
export interface ChaosTarget {
  fail(scope: ChaosScope, name: string): unknown;
  recover(scope: ChaosScope, name: string): unknown;
  faults(): unknown[];
}

/**
 * Routes a subsystem adds to the API (agent hub, console, traffic, cluster
 * join). Registered after the core routes; paths under `publicPrefixes` skip
 * admin-token authentication because the plugin authenticates them itself
 * (join tokens, console sessions) or serves public files.
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
   * The nodes of a cluster with their allocations as its driver lists them
   * (controllers/snapshot.ts driverNodes), for placement explanations;
   * without it nodes are derived from cluster status.
   */
  nodes?: (cluster: Cluster) => Promise<readonly ReportedNode[] | undefined>;
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

const BASE = '/api/v1alpha1';
const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'];
const UNAUTHENTICATED = new Set(['/healthz', '/readyz', '/openapi.json']);

interface Params {
  namespace?: string;
  name?: string;
}
interface ListQuery {
  labelSelector?: string;
  limit?: string;
  continue?: string;
  watch?: string;
  resourceVersion?: string;
}

function parseLimit(raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (!/^[0-9]+$/.test(raw))
    throw new BadRequestError(`limit: expected a non-negative integer, got "${raw}"`);
  return Number(raw);
}

function isTrue(raw: string | undefined): boolean {
  return raw === 'true' || raw === '1';
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
  const bookmarkMs = (options.watchBookmarkSeconds ?? 15) * 1000;
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

  const publicPrefixes = (options.plugins ?? []).flatMap((p) => p.publicPrefixes ?? []);
  const publicPaths = new Set([
    ...UNAUTHENTICATED,
    ...(options.plugins ?? []).flatMap((p) => p.publicPaths ?? []),
  ]);
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

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async () => {
    await store.revision();
    await options.ready?.();
    return { status: 'ok' };
  });
  const openapi = buildOpenApi(options.version);
  app.get('/openapi.json', async () => openapi);
  app.get('/metrics', async (_req, reply) =>
    reply.type(registry.contentType).send(await registry.metrics()),
  );

  // Write-only fields (secrets) leave no response: objects and lists of their
  // kind are stripped here, watch events in streamWatch.
  app.addHook('preSerialization', async (_request, _reply, payload: unknown) =>
    redactPayload(payload),
  );
  for (const k of KINDS) registerKind(app, k);
  for (const plugin of options.plugins ?? []) plugin.register(app, { watchStreams: streams });

  app.post<{ Querystring: { namespace?: string; dryRun?: string } }>(
    `${BASE}/apply`,
    async (request) => {
      const docs = parseDocuments(request.body);
      const ns = request.query.namespace;
      const items = await applyDocuments(store, docs, {
        ...(ns ? { namespace: ns } : {}),
        dryRun: isTrue(request.query.dryRun),
      });
      return { kind: 'ApplyResult', apiVersion: API_VERSION, items };
    },
  );

  app.get(`${BASE}/chaos`, async () => ({ items: options.chaos?.faults() ?? [] }));
  app.post<{ Body: unknown }>(`${BASE}/chaos`, async (request) => {
    const chaos = options.chaos;
    if (!chaos)
      throw new BadRequestError('this server has no simulated fleet to inject faults into');
    const body = request.body as Record<string, unknown> | null;
    const causes = [];
    const action = body?.['action'];
    const scope = body?.['scope'];
    const name = body?.['name'];
    if (action !== 'fail' && action !== 'recover')
      causes.push({
        field: 'action',
        message: `expected fail or recover, got ${JSON.stringify(action)}`,
      });
    if (scope !== 'cloud' && scope !== 'site' && scope !== 'cluster' && scope !== 'node') {
      causes.push({
        field: 'scope',
        message: `expected one of cloud, site, cluster, node, got ${JSON.stringify(scope)}`,
      });
    }
    if (typeof name !== 'string' || name === '')
      causes.push({ field: 'name', message: 'expected a non-empty name' });
    if (causes.length > 0) throw new ValidationError('chaos request', causes);
    return action === 'fail'
      ? chaos.fail(scope as ChaosScope, name as string)
      : chaos.recover(scope as ChaosScope, name as string);
  });

  // Rebalance: asks the application controller for a fresh placement by
  // stamping an annotation; the controller moves replicas make-before-break.
  app.post<{ Params: { namespace: string; name: string } }>(
    `${BASE}/namespaces/:namespace/applications/:name/rebalance`,
    async (request) => {
      const { namespace, name } = request.params;
      for (let attempt = 0; ; attempt++) {
        const current = await store.get({ kind: 'Application', namespace, name });
        try {
          return await store.update({
            ...current,
            metadata: {
              ...current.metadata,
              annotations: {
                ...current.metadata.annotations,
                [REBALANCE_ANNOTATION]: new Date().toISOString(),
              },
            },
          });
        } catch (err) {
          if (!(err instanceof ConflictError) || attempt >= 4) throw err;
        }
      }
    },
  );

  // Why an application is placed where it is: the scheduler's verdict on
  // every cloud and cluster, per component, on the snapshot the application
  // controller places it on (controllers/snapshot.ts).
  app.get<{ Params: { namespace: string; name: string } }>(
    `${BASE}/namespaces/:namespace/applications/:name/explain`,
    async (request) => {
      const { namespace, name } = request.params;
      const application = (await store.get({
        kind: 'Application',
        namespace,
        name,
      })) as unknown as Application;
      const [clusters, sites, clouds] = await Promise.all(
        ['Cluster', 'Site', 'Cloud'].map(async (kind) => (await store.list(kind)).items),
      );
      return explainApplication(
        application,
        {
          clusters: clusters as unknown as Cluster[],
          sites: sites as unknown as Site[],
          clouds: clouds as unknown as Cloud[],
          ...(options.nodes ? { nodes: options.nodes } : {}),
        },
        Date.now(),
      );
    },
  );

  function registerKind(server: FastifyInstance, k: KindInfo): void {
    const collection = k.namespaced
      ? `${BASE}/namespaces/:namespace/${k.plural}`
      : `${BASE}/${k.plural}`;
    const item = `${collection}/:name`;

    const list = async (
      request: FastifyRequest<{ Params: Params; Querystring: ListQuery }>,
      reply: FastifyReply,
    ) => {
      const q = request.query;
      if (isTrue(q.watch)) return streamWatch(request, reply, k);
      const result = await store.list(k.kind, {
        namespace: request.params.namespace,
        labelSelector: q.labelSelector,
        limit: parseLimit(q.limit),
        continue: q.continue,
      });
      return {
        apiVersion: API_VERSION,
        kind: `${k.kind}List`,
        metadata: {
          resourceVersion: result.resourceVersion,
          ...(result.continue ? { continue: result.continue } : {}),
        },
        items: result.items,
      };
    };
    server.get(collection, list);
    if (k.namespaced) server.get(`${BASE}/${k.plural}`, list);

    server.get<{ Params: Params }>(item, async (request) =>
      store.get({
        kind: k.kind,
        namespace: request.params.namespace,
        name: request.params.name ?? '',
      }),
    );

    server.post<{ Params: Params }>(collection, async (request, reply) => {
      const resource = admitFor(k, request.body, request.params);
      const created = await store.create(toStored(resource));
      return reply.code(201).send(created);
    });

    server.put<{ Params: Params }>(item, async (request) => {
      const resource = admitFor(k, request.body, request.params);
      return store.update(toStored(resource), {
        expectedResourceVersion: resource.metadata.resourceVersion ?? null,
      });
    });

    server.put<{ Params: Params }>(`${item}/status`, async (request) => {
      const resource = admitFor(k, request.body, request.params);
      return store.updateStatus(resource, {
        expectedResourceVersion: resource.metadata.resourceVersion ?? null,
      });
    });

    server.delete<{ Params: Params; Querystring: { resourceVersion?: string } }>(
      item,
      async (request) =>
        store.delete(
          { kind: k.kind, namespace: request.params.namespace, name: request.params.name ?? '' },
          { expectedResourceVersion: request.query.resourceVersion ?? null },
        ),
    );
  }

  /** Validates a single-object body and checks it names the object the URL names. */
  function admitFor(k: KindInfo, body: unknown, params: Params) {
    const docs = parseDocuments(body);
    if (docs.length !== 1)
      throw new BadRequestError(`expected exactly one ${k.kind} document, got ${docs.length}`);
    const resource = admit(docs[0], 'document', params.namespace);
    if (resource.kind !== k.kind) {
      throw new ValidationError('document', [
        { field: 'kind', message: `expected "${k.kind}" for ${k.plural}, got "${resource.kind}"` },
      ]);
    }
    if (params.name !== undefined && resource.metadata.name !== params.name) {
      throw new ValidationError('document', [
        {
          field: 'metadata.name',
          message: `expected "${params.name}" (the name in the URL), got "${resource.metadata.name}"`,
        },
      ]);
    }
    return resource;
  }

  /**
   * Streams newline-delimited JSON events. Errors after the stream started
   * (an expired revision, a watcher that fell too far behind) are sent as an
   * ERROR event carrying a Status, as Kubernetes does, because the HTTP status
   * has already been sent.
   */
  async function streamWatch(
    request: FastifyRequest<{ Params: Params; Querystring: ListQuery }>,
    reply: FastifyReply,
    k: KindInfo,
  ) {
    const q = request.query;
    // A principal that sees only part of the kind gets only its part.
    const visible = visibleTo(request);
    const watch = store.watch({
      kind: k.kind,
      namespace: request.params.namespace,
      labelSelector: q.labelSelector,
      fromRevision:
        q.resourceVersion === '' || q.resourceVersion === '0' ? undefined : q.resourceVersion,
    });
    let lastRevision = q.resourceVersion ?? '';
    return streams.serve(request, reply, {
      what: `watch of ${k.plural}`,
      sources: [
        {
          watch,
          line: (event) => {
            lastRevision = event.object.metadata.resourceVersion ?? lastRevision;
            if (!visible(event.object)) return undefined;
            return JSON.stringify({ ...event, object: redact(event.object) });
          },
          errorLine: (err) => JSON.stringify({ type: 'ERROR', object: toStatusBody(err) }),
        },
      ],
      idleEveryMs: bookmarkMs,
      idleLine: async () =>
        JSON.stringify({
          type: 'BOOKMARK',
          object: {
            apiVersion: API_VERSION,
            kind: k.kind,
            metadata: { resourceVersion: lastRevision || (await store.revision()) },
          },
        }),
    });
  }

  return app;
}

const WRITE_ONLY = new Map<string, readonly string[]>(
  KINDS.filter((k) => k.writeOnly !== undefined).map((k) => [k.kind, k.writeOnly ?? []]),
);

/** The object without its kind's write-only spec fields. */
function redact<T>(obj: T): T {
  const o = obj as { kind?: unknown; spec?: unknown } | null;
  const fields = typeof o?.kind === 'string' ? WRITE_ONLY.get(o.kind) : undefined;
  if (fields === undefined || typeof o?.spec !== 'object' || o.spec === null) return obj;
  const spec = { ...(o.spec as Record<string, unknown>) };
  for (const f of fields) delete spec[f];
  return { ...o, spec } as T;
}

function redactPayload(payload: unknown): unknown {
  const items = (payload as { items?: unknown } | null)?.items;
  if (Array.isArray(items) && WRITE_ONLY.size > 0)
    return { ...(payload as object), items: items.map((i: unknown) => redact(i)) };
  return redact(payload);
}

function toStored(resource: {
  apiVersion: string;
  kind: string;
  metadata: StoredObject['metadata'];
  spec: unknown;
}): StoredObject {
  // Status is server-owned: it changes only through the /status subresource.
  return {
    apiVersion: resource.apiVersion,
    kind: resource.kind,
    metadata: resource.metadata,
    spec: resource.spec,
  };
}
