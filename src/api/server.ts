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
  type YunjianError,
} from '../model/errors.ts';
import { KINDS, type KindInfo } from '../model/kinds.ts';
import {
  API_VERSION,
  type Application,
  type Cloud,
  type Cluster,
  type Site,
} from '../model/schema.ts';
import { REBALANCE_ANNOTATION } from '../controllers/application.ts';
import { explainApplication } from '../controllers/snapshot.ts';
import type { ReportedNode } from '../scheduler/index.ts';
import type { Store, StoredObject } from '../store/types.ts';
import { admit, applyDocuments, parseDocuments } from './apply.ts';
import type { TokenAuthenticator } from './auth.ts';
import { installAudit, type AuditLog } from './audit.ts';
import { installAccessControl, visibleTo } from './authz.ts';
import { routeNotFound, sendError, toYunjianError } from './errors.ts';
import { buildOpenApi } from './openapi.ts';

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
  register(app: FastifyInstance): void;
  publicPrefixes?: readonly string[];
  /** Exact paths that skip admin-token authentication (e.g. the console's `/`). */
  publicPaths?: readonly string[];
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
  logger?: boolean;
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
  const watches = new Gauge({
    name: 'yunjian_api_watches',
    help: 'Open watch streams',
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

  const app = Fastify({ logger: options.logger ?? false, bodyLimit: 16 * 1024 * 1024 });
  app.addContentTypeParser(YAML_TYPES, { parseAs: 'string' }, (_req, body, done) =>
    done(null, body),
  );
  app.setErrorHandler((err, request, reply) => sendError(err, request, reply));
  app.setNotFoundHandler(routeNotFound);

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
  for (const plugin of options.plugins ?? []) plugin.register(app);

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
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'application/x-ndjson',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    res.flushHeaders();
    watches.inc();
    let lastRevision = q.resourceVersion ?? '';
    const write = (line: string) =>
      res.write(`${line}\n`)
        ? Promise.resolve()
        : new Promise<void>((resolve) => res.once('drain', resolve));
    const bookmarkEvery = (options.watchBookmarkSeconds ?? 15) * 1000;
    const bookmark = setInterval(() => {
      void (async () => {
        const rv = lastRevision || (await store.revision());
        await write(
          JSON.stringify({
            type: 'BOOKMARK',
            object: { apiVersion: API_VERSION, kind: k.kind, metadata: { resourceVersion: rv } },
          }),
        );
      })().catch(() => watch.close());
    }, bookmarkEvery);
    const stop = () => watch.close();
    request.raw.on('close', stop);
    res.on('close', stop);
    try {
      for await (const event of watch) {
        lastRevision = event.object.metadata.resourceVersion ?? lastRevision;
        if (!visible(event.object)) continue;
        await write(JSON.stringify({ ...event, object: redact(event.object) }));
      }
    } catch (err) {
      const y: YunjianError = toYunjianError(err);
      if (!res.destroyed) await write(JSON.stringify({ type: 'ERROR', object: toStatusBody(y) }));
    } finally {
      clearInterval(bookmark);
      watches.dec();
      request.raw.off('close', stop);
      res.end();
    }
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
