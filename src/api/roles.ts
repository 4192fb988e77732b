// Roles and what they grant: who may do what to which resource, in which
// namespaces, and which part of a cluster-scoped resource a namespace-bound
// role sees. Data (`ROLE_GRANTS`) and pure decisions over it; api/authz.ts
// applies them to requests.
import { ForbiddenError } from '../model/errors.ts';
import { DEFAULT_NAMESPACE, KINDS } from '../model/kinds.ts';
import type { ClusterRoleBinding, RoleBinding, RoleName, Tenant } from '../model/access.ts';
import type { Cluster, Event } from '../model/schema.ts';
import type { Store, StoredObject } from '../store/types.ts';
import { tenantOf } from '../admission/tenants.ts';
import type { Principal } from './auth.ts';

export const VERBS = ['get', 'list', 'watch', 'create', 'update', 'delete'] as const;
export type Verb = (typeof VERBS)[number];

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

const READ: readonly Verb[] = ['get', 'list', 'watch'];
const ALL: readonly Verb[] = VERBS;

/** Plurals of the namespaced kinds. */
export const NAMESPACED = new Set(KINDS.filter((k) => k.namespaced).map((k) => k.plural));
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

/** Catalog items are read by every principal with a role (the marketplace is public to them). */
const NAMESPACE_READ = ['events', 'catalogitems'];
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
    namespaced: [
      {
        resources: ['applications', 'migrations', 'migrationplans', 'instances', 'bindings'],
        verbs: ALL,
      },
    ],
    cluster: [],
    seen: [{ resources: NAMESPACE_READ, verbs: READ }],
  },
  viewer: {
    namespaced: [
      {
        resources: ['applications', 'migrations', 'migrationplans', 'instances', 'bindings'],
        verbs: READ,
      },
    ],
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
    case 'catalogitems':
      return true;
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

export function forbidden(
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
