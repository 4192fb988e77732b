// The Kubernetes-shaped REST endpoints of every registered kind: list (or
// watch), create, read, replace, replace status and delete, namespaced kinds
// also listed across namespaces. Bodies are admitted (parsed, validated, named
// as the URL names them) before the store sees them; write-only fields leave
// through `redact` only.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BadRequestError, ValidationError, toStatusBody } from '../../model/errors.ts';
import { KINDS, type KindInfo } from '../../model/kinds.ts';
import { API_VERSION } from '../../model/schema.ts';
import type { Store, StoredObject } from '../../store/types.ts';
import { admit, parseDocuments } from '../../admission/apply.ts';
import { visibleTo } from '../authz.ts';
import { schemaRef, type QueryParam, type RouteDoc } from '../openapi.ts';
import type { ApiContext, ApiPlugin } from '../server.ts';
import type { WatchStreams } from '../watchstream.ts';

export const BASE = '/api/v1alpha1';

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

/** A boolean query parameter: `true` or `1`. */
export function isTrue(raw: string | undefined): boolean {
  return raw === 'true' || raw === '1';
}

function parseLimit(raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (!/^[0-9]+$/.test(raw))
    throw new BadRequestError(`limit: expected a non-negative integer, got "${raw}"`);
  return Number(raw);
}

const LIST_QUERY: readonly QueryParam[] = [
  { name: 'labelSelector', type: 'string', description: 'e.g. tier=prod,region in (eu,us)' },
  { name: 'limit', type: 'integer', description: 'At most this many items; 0: all' },
  { name: 'continue', type: 'string', description: 'The continue token of the previous page' },
  {
    name: 'watch',
    type: 'boolean',
    description: 'Stream changes as newline-delimited JSON events',
  },
  {
    name: 'resourceVersion',
    type: 'string',
    description: 'With watch: deliver changes after this revision',
  },
];

/** The docs of one kind's routes, by what each route does. */
function kindDocs(k: KindInfo) {
  const tags = [k.kind];
  const one = schemaRef(k.kind);
  const list = schemaRef(`${k.kind}List`);
  return {
    list: {
      tags,
      summary: `List or watch ${k.plural}`,
      query: LIST_QUERY,
      response: { status: 200, description: `${k.kind}List`, schema: list },
      errors: { '410': 'Expired: the watch resourceVersion is compacted away; list again' },
    },
    listAll: {
      tags,
      summary: `List or watch ${k.plural} in every namespace`,
      query: LIST_QUERY,
      response: { status: 200, description: `${k.kind}List`, schema: list },
    },
    create: {
      tags,
      summary: `Create a ${k.singular}`,
      body: one,
      yaml: true,
      response: { status: 201, description: 'Created', schema: one },
      errors: { '409': 'AlreadyExists', '422': 'Invalid: every field error with its path' },
    },
    read: {
      tags,
      summary: `Read a ${k.singular}`,
      response: { status: 200, description: k.kind, schema: one },
      errors: { '404': 'NotFound' },
    },
    replace: {
      tags,
      summary: `Replace a ${k.singular} (compare-and-set on metadata.resourceVersion when given)`,
      body: one,
      yaml: true,
      response: { status: 200, description: 'Replaced', schema: one },
      errors: { '404': 'NotFound', '409': 'Conflict: stale resourceVersion', '422': 'Invalid' },
    },
    replaceStatus: {
      tags,
      summary: `Replace the status of a ${k.singular}`,
      body: one,
      yaml: true,
      response: { status: 200, description: 'Replaced', schema: one },
      errors: { '404': 'NotFound', '409': 'Conflict: stale resourceVersion', '422': 'Invalid' },
    },
    remove: {
      tags,
      summary: `Delete a ${k.singular}`,
      query: [{ name: 'resourceVersion', type: 'string', description: 'Delete only this version' }],
      response: { status: 200, description: 'The deleted object', schema: one },
      errors: { '404': 'NotFound', '409': 'Conflict: stale resourceVersion' },
    },
  } satisfies Record<string, RouteDoc>;
}

/** Every kind's routes; `watchBookmarkSeconds` between BOOKMARK events on idle watches. */
export function resourceRoutes(store: Store, watchBookmarkSeconds: number): ApiPlugin {
  return {
    name: 'resources',
    register(app: FastifyInstance, api: ApiContext) {
      for (const k of KINDS) registerKind(app, k, store, api.watchStreams, watchBookmarkSeconds);
    },
  };
}

function registerKind(
  app: FastifyInstance,
  k: KindInfo,
  store: Store,
  streams: WatchStreams,
  bookmarkSeconds: number,
): void {
  const collection = k.namespaced
    ? `${BASE}/namespaces/:namespace/${k.plural}`
    : `${BASE}/${k.plural}`;
  const item = `${collection}/:name`;
  const doc = kindDocs(k);

  const list = async (
    request: FastifyRequest<{ Params: Params; Querystring: ListQuery }>,
    reply: FastifyReply,
  ) => {
    const q = request.query;
    if (isTrue(q.watch)) return streamWatch(request, reply, k, store, streams, bookmarkSeconds);
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
  app.get(collection, { config: { doc: doc.list } }, list);
  if (k.namespaced) app.get(`${BASE}/${k.plural}`, { config: { doc: doc.listAll } }, list);

  app.get<{ Params: Params }>(item, { config: { doc: doc.read } }, async (request) =>
    store.get({
      kind: k.kind,
      namespace: request.params.namespace,
      name: request.params.name ?? '',
    }),
  );

  app.post<{ Params: Params }>(
    collection,
    { config: { doc: doc.create } },
    async (request, reply) => {
      const resource = admitFor(k, request.body, request.params);
      const created = await store.create(toStored(resource));
      return reply.code(201).send(created);
    },
  );

  app.put<{ Params: Params }>(item, { config: { doc: doc.replace } }, async (request) => {
    const resource = admitFor(k, request.body, request.params);
    return store.update(toStored(resource), {
      expectedResourceVersion: resource.metadata.resourceVersion ?? null,
    });
  });

  app.put<{ Params: Params }>(
    `${item}/status`,
    { config: { doc: doc.replaceStatus } },
    async (request) => {
      const resource = admitFor(k, request.body, request.params);
      return store.updateStatus(resource, {
        expectedResourceVersion: resource.metadata.resourceVersion ?? null,
      });
    },
  );

  app.delete<{ Params: Params; Querystring: { resourceVersion?: string } }>(
    item,
    { config: { doc: doc.remove } },
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
  store: Store,
  streams: WatchStreams,
  bookmarkSeconds: number,
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
    idleEveryMs: bookmarkSeconds * 1000,
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

/** A response (an object or a list of them) without write-only fields; watch events are redacted as they stream. */
export function redactPayload(payload: unknown): unknown {
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
