// Authorization: one decision for every route, deny by default.
//
// Every route the API registers is recorded through Fastify's onRoute hook and
// given a rule (verb, resource, namespaced?) by `ruleFor`; a route without a
// rule is refused for everyone, so nothing can be added without deciding who
// may call it (test/authz.matrix.test.ts asserts every route has one). Roles are
// data (`ROLE_GRANTS`); a principal's roles come from RoleBindings (one
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
import {
  ForbiddenError,
  NotFoundError,
  QuotaExceededError,
  ValidationError,
  type FieldCause,
} from '../model/errors.ts';
import { DEFAULT_NAMESPACE, KINDS, lookupKind } from '../model/kinds.ts';
import { parseCpuMillis, parseMemoryBytes } from '../model/quantity.ts';
import type {
  ClusterRoleBinding,
  RoleBinding,
  RoleName,
  Tenant,
  TenantQuota,
} from '../model/access.ts';
import type { Application, Cluster, Event } from '../model/schema.ts';
import { validateResource } from '../model/validate.ts';
import type { Store, StoredObject } from '../store/types.ts';
import { parseDocuments } from '../admission/apply.ts';
import { CSRF_HEADER, type Principal, type TokenAuthenticator } from './auth.ts';

export const VERBS = ['get', 'list', 'watch', 'create', 'update', 'delete'] as const;
export type Verb = (typeof VERBS)[number];

const BASE = '/api/v1alpha1';

/**
 * What a route does, for authorization. `resource` is a kind's plural or a
 * resource that is no kind (chaos, metrics, traffic, agenttokens, audit);
 * `namespaced` routes take the namespace from `:namespace`. `apply` and
 * `console-watch` name their objects in the body or query and are checked per
 * object; `public` routes authenticate themselves (agent join, console
 * sign-in) or are open (health).
 */
export interface RouteRule {
  verb: Verb;
  resource: string;
  namespaced: boolean;
  special?: 'apply' | 'console-watch';
  public?: true;
}

export interface RecordedRoute {
  method: string;
  url: string;
  rule: RouteRule | undefined;
}

const READ: readonly Verb[] = ['get', 'list', 'watch'];
const ALL: readonly Verb[] = VERBS;

const NAMESPACED = new Set(KINDS.filter((k) => k.namespaced).map((k) => k.plural));
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
  [`POST ${BASE}/kubernetes/join`]: { verb: 'create', resource: 'clusters', namespaced: false },
  [`POST ${BASE}/tokens`]: { verb: 'create', resource: 'usertokens', namespaced: false },
  [`GET ${BASE}/audit`]: { verb: 'list', resource: 'audit', namespaced: false },
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

// ---------------------------------------------------------------- roles

/**
 * What a role grants. `namespaced`: verbs on namespaced resources in the
 * namespaces the binding covers. `cluster`: verbs on cluster-scoped resources;
 * with `seen` the principal sees only part of them (events of its namespaces,
 * clouds/sites/clusters its tenant may use, its own tenant, audit entries of its
 * namespaces).
 */
interface Grant {
  resources: readonly string[] | '*';
  verbs: readonly Verb[];
}
interface RoleGrants {
  namespaced: readonly Grant[];
  cluster: readonly Grant[];
  /** Cluster-scoped grants that a namespace-bound role holds only over its own part. */
  seen: readonly Grant[];
}

const NAMESPACE_READ = ['events'];
const FLEET = ['clouds', 'sites', 'clusters'];

export const ROLE_GRANTS: Readonly<Record<RoleName, RoleGrants>> = {
  'cluster-admin': {
    namespaced: [{ resources: '*', verbs: ALL }],
    cluster: [{ resources: '*', verbs: ALL }],
    seen: [],
  },
  'tenant-admin': {
    namespaced: [{ resources: '*', verbs: ALL }],
    cluster: [],
    seen: [
      { resources: [...FLEET, ...NAMESPACE_READ, 'tenants'], verbs: READ },
      { resources: ['audit'], verbs: ['list'] },
    ],
  },
  editor: {
    namespaced: [{ resources: ['applications'], verbs: ALL }],
    cluster: [],
    seen: [{ resources: NAMESPACE_READ, verbs: READ }],
  },
  viewer: {
    namespaced: [{ resources: ['applications'], verbs: READ }],
    cluster: [],
    seen: [{ resources: NAMESPACE_READ, verbs: READ }],
  },
  // The agent's own endpoints (join, heartbeat) authenticate join tokens and
  // agent credentials themselves; the role grants nothing else.
  agent: { namespaced: [], cluster: [], seen: [] },
};

/** A cluster-wide viewer or editor also reads the fleet and its events. */
const CLUSTER_WIDE_READ: Grant = {
  resources: [...FLEET, ...NAMESPACE_READ, 'tenants', 'traffic', 'workloads', 'leases'],
  verbs: READ,
};

const grants = (list: readonly Grant[], verb: Verb, resource: string) =>
  list.some(
    (g) => (g.resources === '*' || g.resources.includes(resource)) && g.verbs.includes(verb),
  );

/** What one principal may do, resolved from the bindings for one request. */
export interface Access {
  principal: Principal;
  /** cluster-admin: everything, nothing filtered. */
  all: boolean;
  /** Roles held in every namespace (ClusterRoleBindings). */
  clusterRoles: ReadonlySet<RoleName>;
  /** Roles held per namespace (RoleBindings; tenant-admin spread over its tenant). */
  namespaceRoles: ReadonlyMap<string, ReadonlySet<RoleName>>;
  /** Tenants of the namespaces the principal holds a role in. */
  tenants: readonly Tenant[];
}

export interface AccessData {
  tenants: readonly Tenant[];
  roleBindings: readonly RoleBinding[];
  clusterRoleBindings: readonly ClusterRoleBinding[];
}

export async function loadAccessData(store: Store): Promise<AccessData> {
  const [tenants, roleBindings, clusterRoleBindings] = await Promise.all(
    ['Tenant', 'RoleBinding', 'ClusterRoleBinding'].map(async (k) => (await store.list(k)).items),
  );
  return {
    tenants: tenants as unknown as Tenant[],
    roleBindings: roleBindings as unknown as RoleBinding[],
    clusterRoleBindings: clusterRoleBindings as unknown as ClusterRoleBinding[],
  };
}

export function tenantOf(tenants: readonly Tenant[], namespace: string): Tenant | undefined {
  return tenants.find((t) => t.spec.namespaces.includes(namespace));
}

export function resolveAccess(principal: Principal, data: AccessData): Access {
  const subjectIs = (s: { kind: string; name: string }) =>
    s.kind === principal.kind && s.name === principal.name;
  const clusterRoles = new Set<RoleName>(
    data.clusterRoleBindings.filter((b) => subjectIs(b.spec.subject)).map((b) => b.spec.role),
  );
  const namespaceRoles = new Map<string, Set<RoleName>>();
  const add = (ns: string, role: RoleName) => {
    const roles = namespaceRoles.get(ns) ?? new Set<RoleName>();
    roles.add(role);
    namespaceRoles.set(ns, roles);
  };
  for (const b of data.roleBindings) {
    if (!subjectIs(b.spec.subject)) continue;
    const ns = b.metadata.namespace ?? DEFAULT_NAMESPACE;
    const tenant = tenantOf(data.tenants, ns);
    // A tenant-admin administers its whole tenant; any role in a namespace no
    // tenant owns covers that namespace only.
    if (b.spec.role === 'tenant-admin' && tenant)
      for (const n of tenant.spec.namespaces) add(n, b.spec.role);
    else add(ns, b.spec.role);
  }
  const tenants = data.tenants.filter((t) => t.spec.namespaces.some((n) => namespaceRoles.has(n)));
  return {
    principal,
    all: principal.superuser === true || clusterRoles.has('cluster-admin'),
    clusterRoles,
    namespaceRoles,
    tenants,
  };
}

/** Namespaces where the principal may `verb` the namespaced `resource`; undefined: every one. */
export function namespacesFor(
  access: Access,
  verb: Verb,
  resource: string,
): ReadonlySet<string> | undefined {
  if (access.all) return undefined;
  for (const role of access.clusterRoles)
    if (grants(ROLE_GRANTS[role].namespaced, verb, resource)) return undefined;
  const out = new Set<string>();
  for (const [ns, roles] of access.namespaceRoles)
    for (const role of roles) if (grants(ROLE_GRANTS[role].namespaced, verb, resource)) out.add(ns);
  return out;
}

/**
 * Whether the principal may `verb` a cluster-scoped `resource`: 'all', 'some'
 * (only the part it sees, see `visibleObject`) or 'none'.
 */
export function clusterScope(
  access: Access,
  verb: Verb,
  resource: string,
): 'all' | 'some' | 'none' {
  if (access.all) return 'all';
  for (const role of access.clusterRoles) {
    const g = ROLE_GRANTS[role];
    if (grants(g.cluster, verb, resource)) return 'all';
    if ((role === 'viewer' || role === 'editor') && grants([CLUSTER_WIDE_READ], verb, resource))
      return 'all';
  }
  for (const roles of access.namespaceRoles.values())
    for (const role of roles) if (grants(ROLE_GRANTS[role].seen, verb, resource)) return 'some';
  return 'none';
}

/** Namespaces whose roles let the principal `verb` its own part of a cluster-scoped `resource`. */
export function seenNamespaces(access: Access, verb: Verb, resource: string): Set<string> {
  const out = new Set<string>();
  for (const [ns, roles] of access.namespaceRoles)
    for (const role of roles) if (grants(ROLE_GRANTS[role].seen, verb, resource)) out.add(ns);
  return out;
}

/** Whether a namespaced-role principal sees this cluster-scoped object. */
export function visibleObject(access: Access, resource: string, obj: StoredObject): boolean {
  const readable = (ns: string | undefined) =>
    ns !== undefined && (namespacesFor(access, 'get', 'applications')?.has(ns) ?? true);
  switch (resource) {
    case 'events':
      return readable((obj as unknown as Event).spec.involvedObject.namespace);
    case 'audit': {
      const ns = (obj as unknown as { namespace?: string }).namespace;
      return ns !== undefined && seenNamespaces(access, 'list', 'audit').has(ns);
    }
    case 'tenants':
      return access.tenants.some((t) => t.metadata.name === obj.metadata.name);
    case 'clusters':
    case 'sites':
    case 'clouds':
      return access.tenants.some((t) => mayUse(t, resource, obj));
    default:
      return false;
  }
}

/** Whether a tenant may use a cluster (or a site or cloud some usable cluster could be in). */
function mayUse(tenant: Tenant, resource: string, obj: StoredObject): boolean {
  const allowed = tenant.spec.allowed;
  if (allowed === undefined) return true;
  const name = obj.metadata.name;
  if (resource === 'clouds') return allowed.clouds?.includes(name) ?? true;
  if (resource === 'sites') {
    const cloud = (obj.spec as { cloud?: string } | undefined)?.cloud;
    return (
      (allowed.sites?.includes(name) ?? true) &&
      (cloud === undefined || (allowed.clouds?.includes(cloud) ?? true))
    );
  }
  const c = obj as unknown as Cluster;
  return (
    (allowed.clusters?.includes(name) ?? true) &&
    (allowed.sites?.includes(c.spec.site) ?? true) &&
    (allowed.clouds?.includes(c.spec.cloud) ?? true)
  );
}

function describePrincipal(p: Principal): string {
  return `${p.kind === 'ServiceAccount' ? 'service account' : 'user'} "${p.name}"`;
}

function forbidden(
  access: Access,
  verb: Verb,
  resource: string,
  namespace?: string,
): ForbiddenError {
  return new ForbiddenError(
    `forbidden: ${describePrincipal(access.principal)} may not ${verb} ${resource}${
      namespace !== undefined ? ` in namespace "${namespace}"` : ''
    }`,
    { kind: resource },
  );
}

/** A visibility filter for objects of one resource, or undefined when everything is visible. */
export type Visibility = ((obj: StoredObject) => boolean) | undefined;

/**
 * The route-level decision. Returns the filter lists and watches apply (the
 * principal may see only part), or throws ForbiddenError.
 */
export function authorizeRoute(
  access: Access,
  rule: RouteRule,
  verb: Verb,
  namespace: string | undefined,
): Visibility {
  if (rule.public === true || access.all) return undefined;
  if (rule.namespaced || (namespace === undefined && NAMESPACED.has(rule.resource))) {
    const namespaces = namespacesFor(access, verb, rule.resource);
    if (namespaces === undefined) return undefined;
    if (namespace !== undefined) {
      if (!namespaces.has(namespace)) throw forbidden(access, verb, rule.resource, namespace);
      return undefined;
    }
    // Across namespaces: only lists and watches, filtered.
    if (namespaces.size === 0 || (verb !== 'list' && verb !== 'watch'))
      throw forbidden(access, verb, rule.resource);
    return (obj) => obj.metadata.namespace !== undefined && namespaces.has(obj.metadata.namespace);
  }
  const scope = clusterScope(access, verb, rule.resource);
  if (scope === 'none') throw forbidden(access, verb, rule.resource);
  if (scope === 'all') return undefined;
  return (obj) => visibleObject(access, rule.resource, obj);
}

// ---------------------------------------------------------------- admission

interface Usage {
  cpuMillis: number;
  memoryBytes: number;
  gpu: number;
  applications: number;
  replicas: number;
}

function usageOf(app: Application): Usage {
  const u: Usage = { cpuMillis: 0, memoryBytes: 0, gpu: 0, applications: 1, replicas: 0 };
  for (const c of app.spec.components) {
    u.replicas += c.replicas;
    u.cpuMillis += c.replicas * parseCpuMillis(c.resources?.cpu ?? 0);
    u.memoryBytes += c.replicas * parseMemoryBytes(c.resources?.memory ?? 0);
    u.gpu += c.replicas * (c.resources?.gpu ?? 0);
  }
  return u;
}

/** Quotas as (name, limit in usage units, usage, shown). */
function quotaChecks(
  quota: TenantQuota,
  u: Usage,
): { name: string; over: boolean; text: string }[] {
  const out: { name: string; over: boolean; text: string }[] = [];
  if (quota.cpu !== undefined) {
    const limit = parseCpuMillis(quota.cpu);
    out.push({ name: 'cpu', over: u.cpuMillis > limit, text: `${u.cpuMillis}m of ${limit}m` });
  }
  if (quota.memory !== undefined) {
    const limit = parseMemoryBytes(quota.memory);
    out.push({
      name: 'memory',
      over: u.memoryBytes > limit,
      text: `${u.memoryBytes} of ${limit} bytes`,
    });
  }
  if (quota.gpu !== undefined)
    out.push({ name: 'gpu', over: u.gpu > quota.gpu, text: `${u.gpu} of ${quota.gpu}` });
  if (quota.applications !== undefined)
    out.push({
      name: 'applications',
      over: u.applications > quota.applications,
      text: `${u.applications} of ${quota.applications}`,
    });
  if (quota.replicas !== undefined)
    out.push({
      name: 'replicas',
      over: u.replicas > quota.replicas,
      text: `${u.replicas} of ${quota.replicas}`,
    });
  return out;
}

/**
 * A tenant's app must not be able to land outside the tenant's allowed
 * clusters. clusterAffinity lists are intersected by the scheduler, so an app
 * whose list for every dimension the tenant restricts is a non-empty subset of
 * the tenant's can only be placed where the tenant may run.
 */
function placementCauses(tenant: Tenant, app: Application, prefix: string): FieldCause[] {
  const allowed = tenant.spec.allowed;
  if (allowed === undefined) return [];
  const affinity = app.spec.placement?.clusterAffinity;
  const causes: FieldCause[] = [];
  for (const dim of ['clouds', 'sites', 'clusters'] as const) {
    const may = allowed[dim];
    if (may === undefined) continue;
    const asked = affinity?.[dim];
    if (asked === undefined || asked.length === 0 || asked.some((n) => !may.includes(n)))
      causes.push({
        field: `${prefix}spec.placement.clusterAffinity.${dim}`,
        message: `expected a non-empty subset of tenant "${tenant.metadata.name}"'s allowed ${dim} (${may.join(', ')}), got ${asked?.length ? asked.join(', ') : 'none'}`,
      });
  }
  return causes;
}

/** Quota and allowed clusters for Applications about to be written into tenants' namespaces. */
export async function admitApplications(
  store: Store,
  tenants: readonly Tenant[],
  apps: readonly { app: Application; prefix: string }[],
): Promise<void> {
  const causes: FieldCause[] = [];
  const byTenant = new Map<Tenant, Application[]>();
  for (const { app, prefix } of apps) {
    const tenant = tenantOf(tenants, app.metadata.namespace ?? DEFAULT_NAMESPACE);
    if (!tenant) continue;
    causes.push(...placementCauses(tenant, app, prefix));
    byTenant.set(tenant, [...(byTenant.get(tenant) ?? []), app]);
  }
  if (causes.length > 0) throw new ValidationError('placement', causes);
  for (const [tenant, incoming] of byTenant) {
    const quota = tenant.spec.quota;
    if (quota === undefined) continue;
    const key = (a: { metadata: { namespace?: string; name: string } }) =>
      `${a.metadata.namespace ?? ''}/${a.metadata.name}`;
    const replaced = new Set(incoming.map(key));
    const existing: Application[] = [];
    for (const ns of tenant.spec.namespaces)
      existing.push(
        ...((await store.list('Application', { namespace: ns })).items as unknown as Application[]),
      );
    const total: Usage = { cpuMillis: 0, memoryBytes: 0, gpu: 0, applications: 0, replicas: 0 };
    for (const app of [...existing.filter((a) => !replaced.has(key(a))), ...incoming]) {
      const u = usageOf(app);
      total.cpuMillis += u.cpuMillis;
      total.memoryBytes += u.memoryBytes;
      total.gpu += u.gpu;
      total.applications += u.applications;
      total.replicas += u.replicas;
    }
    const over = quotaChecks(quota, total).filter((q) => q.over);
    if (over.length > 0)
      throw new QuotaExceededError(
        `tenant "${tenant.metadata.name}" quota exceeded: ${over.map((q) => `${q.name} ${q.text}`).join(', ')}`,
        {
          kind: 'Tenant',
          name: tenant.metadata.name,
          causes: over.map((q) => ({
            field: `spec.quota.${q.name}`,
            message: `would use ${q.text}`,
          })),
        },
      );
  }
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
      routes.push({ method, url: route.url, rule });
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
