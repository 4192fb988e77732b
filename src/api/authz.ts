// Authorization: one decision for every route, deny by default.
//
// Every route the API registers is recorded through Fastify's onRoute hook and
// given a rule (verb, resource, namespaced?) by `ruleFor`; a route without a
// rule is refused for everyone, so nothing can be added without deciding who
// may call it (test/authz.matrix.test.ts asserts every route has one). Roles are
// data (`ROLE_GRANTS`, api/roles.ts); a principal's roles come from RoleBindings (one
// namespace, or every namespace of its tenant for tenant-admin) and
// ClusterRoleBindings, read from the store on each request so a binding or
// revocation takes effect on the next request.
//
// Order per request: onRequest authenticates and checks the route rule (a 401
// or 403 before the body is read); preHandler, with the body parsed, checks
// each document of an apply, objects of kinds a principal sees only in part
// (events, clusters), and tenant admission (quota, allowed clusters); lists and
// watches are filtered to what the principal may see.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ForbiddenError, NotFoundError } from '../model/errors.ts';
import { DEFAULT_NAMESPACE, KINDS, lookupKind } from '../model/kinds.ts';
import type { Application } from '../model/schema.ts';
import { validateResource } from '../model/validate.ts';
import type { Store, StoredObject } from '../store/types.ts';
import { parseDocuments } from '../admission/apply.ts';
import { admitApplications } from '../admission/tenants.ts';
import { CSRF_HEADER, type TokenAuthenticator } from './auth.ts';
import type { RouteDoc } from './openapi.ts';
import {
  NAMESPACED,
  authorizeRoute,
  forbidden,
  loadAccessData,
  resolveAccess,
  type Access,
  type RouteRule,
  type Verb,
  type Visibility,
} from './roles.ts';

const BASE = '/api/v1alpha1';

/** One route as registered: the same table authorizes requests and generates /openapi.json. */
export interface RecordedRoute {
  method: string;
  url: string;
  rule: RouteRule | undefined;
  doc: RouteDoc | undefined;
}

const CLUSTER_SCOPED = new Set(KINDS.filter((k) => !k.namespaced).map((k) => k.plural));

/** Routes that are no kind's collection or item, by `METHOD url`. */
const SPECIAL_ROUTES: Readonly<Record<string, RouteRule>> = {
  [`POST ${BASE}/apply`]: {
    verb: 'create',
    resource: 'apply',
    namespaced: false,
    special: 'apply',
  },
  [`GET ${BASE}/chaos`]: { verb: 'get', resource: 'chaos', namespaced: false },
  [`POST ${BASE}/chaos`]: { verb: 'create', resource: 'chaos', namespaced: false },
  'GET /metrics': { verb: 'get', resource: 'metrics', namespaced: false },
  [`GET ${BASE}/traffic`]: { verb: 'get', resource: 'traffic', namespaced: false },
  [`POST ${BASE}/namespaces/:namespace/applications/:name/rebalance`]: {
    verb: 'update',
    resource: 'applications',
    namespaced: true,
  },
  [`GET ${BASE}/namespaces/:namespace/applications/:name/explain`]: {
    verb: 'get',
    resource: 'applications',
    namespaced: true,
  },
  [`GET ${BASE}/namespaces/:namespace/applications/:name/logs`]: {
    verb: 'get',
    resource: 'applications',
    namespaced: true,
  },
  [`POST ${BASE}/agent/tokens`]: { verb: 'create', resource: 'agenttokens', namespaced: false },
  [`GET ${BASE}/agent/tokens`]: { verb: 'list', resource: 'agenttokens', namespaced: false },
  [`DELETE ${BASE}/agent/tokens/:name`]: {
    verb: 'delete',
    resource: 'agenttokens',
    namespaced: false,
  },
  [`POST ${BASE}/secrets/rotate-key`]: { verb: 'update', resource: 'secrets', namespaced: false },
  [`GET ${BASE}/clusters/:name/nodes`]: { verb: 'get', resource: 'clusters', namespaced: false },
  [`POST ${BASE}/kubernetes/join`]: { verb: 'create', resource: 'clusters', namespaced: false },
  [`POST ${BASE}/tokens`]: { verb: 'create', resource: 'usertokens', namespaced: false },
  [`GET ${BASE}/audit`]: { verb: 'list', resource: 'audit', namespaced: false },
  // Delivery metrics: computed over the records of the namespaces whose applications the principal may list.
  [`GET ${BASE}/metrics/delivery`]: { verb: 'list', resource: 'applications', namespaced: false },
  [`GET ${BASE}/cost`]: { verb: 'get', resource: 'cost', namespaced: false },
  [`GET ${BASE}/cost/export`]: { verb: 'get', resource: 'cost', namespaced: false },
  [`GET ${BASE}/cost/savings`]: { verb: 'get', resource: 'cost', namespaced: false },
  // A one-time console sign-in code for the caller (`yunjian console`): cluster-admin only.
  [`POST ${BASE}/console/codes`]: { verb: 'create', resource: 'consolecodes', namespaced: false },
  'GET /console/watch': {
    verb: 'watch',
    resource: 'console',
    namespaced: false,
    special: 'console-watch',
  },
};

const PUBLIC_RULE: RouteRule = { verb: 'get', resource: 'public', namespaced: false, public: true };

/** The rule for a registered route, or undefined: no rule, nobody may call it. */
export function ruleFor(
  method: string,
  url: string,
  isPublic: (url: string) => boolean,
): RouteRule | undefined {
  if (isPublic(url)) return PUBLIC_RULE;
  const m = method === 'HEAD' ? 'GET' : method;
  const special = SPECIAL_ROUTES[`${m} ${url}`];
  if (special) return special;
  const ns = /^\/api\/v1alpha1\/namespaces\/:namespace\/([a-z]+)(\/:name(\/status)?)?$/.exec(url);
  const cl = /^\/api\/v1alpha1\/([a-z]+)(\/:name(\/status)?)?$/.exec(url);
  const match = ns ?? cl;
  const plural = match?.[1];
  if (match === null || plural === undefined) return undefined;
  const namespaced = ns !== null;
  if (namespaced ? !NAMESPACED.has(plural) : !CLUSTER_SCOPED.has(plural) && !NAMESPACED.has(plural))
    return undefined;
  const item = match[2] !== undefined;
  const status = match[3] !== undefined;
  const verb: Verb | undefined =
    m === 'GET'
      ? item
        ? status
          ? undefined
          : 'get'
        : 'list'
      : m === 'POST'
        ? item
          ? undefined
          : 'create'
        : m === 'PUT'
          ? item
            ? 'update'
            : undefined
          : m === 'DELETE' && item && !status
            ? 'delete'
            : undefined;
  if (verb === undefined) return undefined;
  // `GET /applications` lists a namespaced kind across namespaces: namespaced
  // resource, no namespace, filtered to the namespaces the principal may see.
  // Status is the controllers' to write: its own resource, granted by no role but cluster-admin.
  return { verb, resource: status ? `${plural}/status` : plural, namespaced };
}

// ---------------------------------------------------------------- the hooks

interface RequestAccess {
  access: Access;
  rule: RouteRule | undefined;
  namespace: string | undefined;
  visible: Visibility;
}

const decisions = new WeakMap<FastifyRequest, RequestAccess>();
const routeTables = new WeakMap<FastifyInstance, RecordedRoute[]>();

/** What was decided for a request (after authentication), for audit and filtering. */
export function accessOf(request: FastifyRequest): RequestAccess | undefined {
  return decisions.get(request);
}

/** Whether a list or watch item may go to this request's principal. */
export function visibleTo(request: FastifyRequest): (obj: StoredObject) => boolean {
  const v = decisions.get(request)?.visible;
  return v ?? (() => true);
}

/** Every route registered on this server with its rule (none: refused to everyone). */
export function routeTable(app: FastifyInstance): readonly RecordedRoute[] {
  return routeTables.get(app) ?? [];
}

export interface AccessControlOptions {
  auth: TokenAuthenticator;
  store: Store;
  /** Paths that skip authentication: the route authenticates itself or is open. */
  isPublic: (path: string) => boolean;
}

interface Params {
  namespace?: string;
  name?: string;
}

/** Installs authentication and authorization on every route registered after it. */
export function installAccessControl(app: FastifyInstance, options: AccessControlOptions): void {
  const { auth, store, isPublic } = options;
  const routes: RecordedRoute[] = [];
  const rules = new Map<string, RouteRule | undefined>();
  routeTables.set(app, routes);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      const rule = ruleFor(method, route.url, isPublic);
      routes.push({ method, url: route.url, rule, doc: route.config?.doc });
      rules.set(`${method} ${route.url}`, rule);
    }
  });

  app.addHook('onRequest', async (request) => {
    const path = request.url.split('?')[0] ?? '';
    const url = request.routeOptions.url;
    if (isPublic(path)) return;
    const principal = await auth.authenticateRequest({
      method: request.method,
      authorization: request.headers.authorization,
      cookie: request.headers.cookie,
      origin: request.headers.origin,
      host: request.headers.host,
      csrf: request.headers[CSRF_HEADER],
    });
    // Unmatched paths reach the not-found handler once authenticated.
    if (url === undefined) return;
    const access = principal.superuser
      ? resolveAccess(principal, { tenants: [], roleBindings: [], clusterRoleBindings: [] })
      : resolveAccess(principal, await loadAccessData(store));
    const rule = rules.get(`${request.method} ${url}`);
    const namespace = (request.params as Params | undefined)?.namespace;
    const decision: RequestAccess = { access, rule, namespace, visible: undefined };
    decisions.set(request, decision);
    if (rule === undefined)
      throw new ForbiddenError(`forbidden: no authorization rule for ${request.method} ${url}`);
    if (rule.special !== undefined) return;
    const watching = (request.query as { watch?: string } | undefined)?.watch;
    const verb =
      rule.verb === 'list' && (watching === 'true' || watching === '1') ? 'watch' : rule.verb;
    decision.visible = authorizeRoute(access, rule, verb, namespace);
  });

  app.addHook('preHandler', async (request) => {
    const decision = decisions.get(request);
    if (decision?.rule === undefined) return;
    const { access, rule } = decision;
    if (rule.special === 'apply') return checkApply(request, decision);
    if (rule.special === 'console-watch') {
      decision.visible = checkConsoleWatch(access, request.query as Record<string, string>);
      return;
    }
    const name = (request.params as Params | undefined)?.name;
    // A single object of a kind seen only in part: visible, or refused as if absent.
    if (decision.visible !== undefined && name !== undefined && !rule.namespaced) {
      const kind = KINDS.find((k) => k.plural === rule.resource);
      const obj = kind
        ? await store.get({ kind: kind.kind, name }).catch((err: unknown) => {
            if (err instanceof NotFoundError) return undefined;
            throw err;
          })
        : undefined;
      if (obj === undefined || !decision.visible(obj))
        throw forbidden(access, rule.verb, rule.resource);
    }
    if (rule.resource === 'applications' && (rule.verb === 'create' || rule.verb === 'update')) {
      const app = applicationIn(request.body, decision.namespace);
      if (app)
        await admitApplications(store, (await loadAccessData(store)).tenants, [
          { app, prefix: '' },
        ]);
    }
  });

  // Lists of kinds a principal sees in part; watches filter in their stream.
  app.addHook('preSerialization', async (request, _reply, payload: unknown) => {
    const visible = decisions.get(request)?.visible;
    const items = (payload as { items?: unknown } | null)?.items;
    if (visible === undefined || !Array.isArray(items)) return payload;
    return { ...(payload as object), items: (items as StoredObject[]).filter(visible) };
  });

  async function checkApply(request: FastifyRequest, decision: RequestAccess): Promise<void> {
    const query = request.query as { namespace?: string } | undefined;
    const docs = parseDocuments(request.body);
    const apps: { app: Application; prefix: string }[] = [];
    docs.forEach((doc, i) => {
      const d = doc as { kind?: unknown; metadata?: { namespace?: unknown } } | null;
      const kind = typeof d?.kind === 'string' ? lookupKind(d.kind) : undefined;
      // Documents of no known kind fail validation in the handler.
      if (kind === undefined || kind.kind !== d?.kind) return;
      const ns = kind.namespaced
        ? ((typeof d.metadata?.namespace === 'string' ? d.metadata.namespace : undefined) ??
          query?.namespace ??
          DEFAULT_NAMESPACE)
        : undefined;
      // Apply creates or updates: both must be allowed.
      for (const verb of ['create', 'update'] as const) {
        const visible = authorizeRoute(
          decision.access,
          { verb, resource: kind.plural, namespaced: kind.namespaced },
          verb,
          ns,
        );
        if (visible !== undefined) throw forbidden(decision.access, verb, kind.plural, ns);
      }
      if (kind.kind === 'Application') {
        const app = applicationIn(doc, ns);
        if (app) apps.push({ app, prefix: docs.length > 1 ? `[${i}].` : '' });
      }
    });
    if (apps.length > 0)
      await admitApplications(store, (await loadAccessData(store)).tenants, apps);
  }
}

/** The Application a body holds when it is a valid one (invalid ones fail in the handler). */
function applicationIn(body: unknown, namespace: string | undefined): Application | undefined {
  const docs = (() => {
    try {
      return parseDocuments(body);
    } catch {
      return [];
    }
  })();
  if (docs.length !== 1) return undefined;
  try {
    const r = validateResource(structuredClone(docs[0]));
    if (r.kind !== 'Application') return undefined;
    r.metadata.namespace ??= namespace ?? DEFAULT_NAMESPACE;
    return r;
  } catch {
    return undefined;
  }
}

/** The console's merged watch: each requested kind must be watchable; events are filtered. */
function checkConsoleWatch(access: Access, query: Record<string, string>): Visibility {
  const filters = new Map<string, (obj: StoredObject) => boolean>();
  for (const plural of Object.keys(query)) {
    const kind = KINDS.find((k) => k.plural === plural);
    if (kind === undefined) continue; // the handler names the kinds it takes
    const visible = authorizeRoute(
      access,
      { verb: 'watch', resource: plural, namespaced: kind.namespaced },
      'watch',
      undefined,
    );
    if (visible !== undefined) filters.set(kind.kind, visible);
  }
  if (filters.size === 0) return undefined;
  return (obj) => filters.get(obj.kind)?.(obj) ?? true;
}
